//! Events, recorded off the reconcile path.
//!
//! A reconcile used to await each event's write between its scaling writes, so under a busy API
//! server every scale step waited a round trip longer (`make bench`). Events are best effort (as
//! in client-go, whose broadcaster also records them on a goroutine of its own), so reconciles
//! hand them to one task that records them in order.

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, Recorder, Reporter};

/// The sending side, held by the reconciler's context.
#[derive(Clone)]
pub struct Events {
    queue: mpsc::UnboundedSender<(ObjectReference, Event)>,
}

impl Events {
    /// Starts the task that records events as `reporter` (needs a Tokio runtime).
    pub fn start(client: Client, reporter: Reporter) -> Self {
        let (queue, mut received) = mpsc::unbounded::<(ObjectReference, Event)>();
        let recorder = Recorder::new(client, reporter);
        tokio::spawn(async move {
            while let Some((on, event)) = received.next().await {
                if let Err(e) = recorder.publish(&event, &on).await {
                    tracing::warn!(error = %e, reason = event.reason, "could not record event");
                }
            }
        });
        Events { queue }
    }

    /// Queues `event` on the object `on`; never waits.
    pub fn publish(&self, on: ObjectReference, event: Event) {
        // The task ends only with the process.
        let _ = self.queue.unbounded_send((on, event));
    }
}
