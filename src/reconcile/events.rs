//! Events, recorded off the reconcile path.
//!
//! A reconcile used to await each event's write between its scaling writes, so under a busy API
//! server every scale step waited a round trip longer (`make bench`). Events are best effort (as
//! in client-go, whose broadcaster also records them on a goroutine of its own), so reconciles
//! hand them to a few tasks that record them, each object's in order (all of one object's events
//! go to the same task; one task alone fell minutes behind with a thousand rollouts at once).

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// Tasks recording events at once.
const WORKERS: usize = 8;

type Queue = mpsc::UnboundedSender<(ObjectReference, Event)>;

/// The sending side, held by the reconciler's context.
#[derive(Clone)]
pub struct Events {
    queues: Vec<Queue>,
}

impl Events {
    /// Starts the tasks that record events as `reporter` (needs a Tokio runtime).
    pub fn start(client: Client, reporter: Reporter) -> Self {
        let queues = (0..WORKERS)
            .map(|_| {
                let (queue, mut received) = mpsc::unbounded::<(ObjectReference, Event)>();
                // A recorder per task: it folds repeats of an object's event into a series, and
                // sweeps its whole cache of recent events on every publish (kube-runtime 5), so
                // smaller caches cost less.
                let recorder = Recorder::new(client.clone(), reporter.clone());
                tokio::spawn(async move {
                    while let Some((on, event)) = received.next().await {
                        if let Err(e) = recorder.publish(&event, &on).await {
                            tracing::warn!(error = %e, reason = event.reason, "could not record event");
                        }
                    }
                });
                queue
            })
            .collect();
        Events { queues }
    }

    /// Queues one of the planner's events on the object `on`; never waits.
    pub fn publish_event(&self, on: ObjectReference, event: &crate::strategy::Event) {
        let ev = Event {
            type_: if event.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: event.reason.into(),
            note: Some(event.message.chars().take(1000).collect()),
            // kube's recorder folds events with the same reason and action into one series and
            // keeps the first note; keying the action on the note keeps distinct messages
            // distinct, while a repeated identical one still folds (a series count instead of a
            // new event).
            action: event.message.chars().take(128).collect(),
            secondary: None,
        };
        self.publish(on, ev);
    }

    /// Queues `event` on the object `on`; never waits.
    pub fn publish(&self, on: ObjectReference, event: Event) {
        let worker = shard(&on, self.queues.len());
        // The tasks end only with the process.
        let _ = self.queues[worker].unbounded_send((on, event));
    }
}

/// The task of an object: always the same one, so its events stay in order.
fn shard(on: &ObjectReference, workers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&on.namespace, &on.name).hash(&mut hasher);
    (hasher.finish() % workers.max(1) as u64) as usize
}
