//! The ImageStream importer's wiring, and the cache of ImageStreams every image trigger
//! resolves through.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc;
use kube::Client;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, WatchStreamExt, watcher};

use crate::api::image_stream::ImageStream;
use crate::metrics::Metrics;
use crate::reconcile::events::Events;
use crate::reconcile::image_stream::{self, ImportContext, Registries};

use super::Scope;
use super::wiring::{Leading, api, drive, every, key_of, reflected};

/// The ImageStreams, cached, and `subscribers` channels that each get the `(namespace, name)` of
/// every stream that changes (or goes) while leading: one for the DeploymentConfigs, one per
/// workload kind with annotation triggers.
pub(super) fn watch(
    client: &Client,
    scope: &Scope,
    subscribers: usize,
    leading: &Leading,
) -> (
    Store<ImageStream>,
    Vec<mpsc::UnboundedReceiver<(String, String)>>,
) {
    // Every namespace's: a trigger may follow another namespace's tag, whichever shard serves it.
    let (store, events) = reflected(
        every(
            api::<ImageStream>(client, scope),
            watcher::Config::default(),
        ),
        (),
    );
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..subscribers).map(|_| mpsc::unbounded()).unzip();
    let leading = leading.clone();
    tokio::spawn(events.touched_objects().for_each(move |stream| {
        if let Ok(s) = stream
            && leading.now()
        {
            let key = key_of(&s);
            for tx in &senders {
                let _ = tx.unbounded_send(key.clone());
            }
        }
        async {}
    }));
    (store, receivers)
}

/// The importer: ImageStreams whose tags follow registry images get their digests recorded.
/// It keeps a watch of its own (the stream's every change is its business; the cache above
/// serves the triggers).
pub(super) async fn run(
    client: Client,
    scope: Scope,
    registries: Registries,
    events: Events,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = Controller::new(
        api::<ImageStream>(&client, &scope),
        watcher::Config::default(),
    )
    .with_config(kube::runtime::controller::Config::default().concurrency(4));
    let ctx = Arc::new(ImportContext::new(
        client,
        controller.store(),
        registries,
        events,
        scope.image_import_interval,
    ));
    drive(
        controller,
        "imagestream",
        image_stream::reconcile,
        ctx,
        scope.served.clone(),
        None,
        metrics,
        shutdown,
    )
    .await;
}
