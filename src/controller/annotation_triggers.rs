//! The `image.openshift.io/triggers` annotation on Deployments, StatefulSets, DaemonSets and
//! CronJobs: one controller per kind, watching metadata only (a spec is read when an annotated
//! object needs a look), woken when the annotation or the generation changes and when a stream
//! an annotation follows changes.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::api::image_stream::ImageStream;
use crate::api::keys::IMAGE_TRIGGERS_ANNOTATION;
use crate::image::annotation::{Workload, followed_streams};
use crate::metrics::Metrics;
use crate::reconcile::annotation_trigger::{self, AnnotationContext};
use crate::reconcile::events::Events;

use super::Scope;
use super::wiring::{Watchable, api, drive, reflected, woken};

/// Runs one controller per workload kind, each fed by its own channel of stream changes (in
/// the order of `Workload::ALL`), until `shutdown`.
pub(super) async fn run_all(
    client: Client,
    scope: Scope,
    stream_changes: Vec<mpsc::UnboundedReceiver<(String, String)>>,
    image_streams: Store<ImageStream>,
    events: Events,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Clone + Send + Sync + 'static,
) {
    let kinds = stream_changes
        .into_iter()
        .zip(Workload::ALL)
        .map(|(changes, workload)| {
            let ctx = AnnotationContext::new(
                client.clone(),
                workload,
                image_streams.clone(),
                events.clone(),
            );
            let (client, scope, metrics, shutdown) = (
                client.clone(),
                scope.clone(),
                metrics.clone(),
                shutdown.clone(),
            );
            async move {
                match workload {
                    Workload::Deployment => {
                        run::<Deployment>(client, scope, ctx, changes, metrics, shutdown).await
                    }
                    Workload::StatefulSet => {
                        run::<StatefulSet>(client, scope, ctx, changes, metrics, shutdown).await
                    }
                    Workload::DaemonSet => {
                        run::<DaemonSet>(client, scope, ctx, changes, metrics, shutdown).await
                    }
                    Workload::CronJob => {
                        run::<CronJob>(client, scope, ctx, changes, metrics, shutdown).await
                    }
                }
            }
        });
    futures::future::join_all(kinds).await;
}

async fn run<K>(
    client: Client,
    scope: Scope,
    ctx: AnnotationContext,
    stream_changes: mpsc::UnboundedReceiver<(String, String)>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope> + Watchable,
{
    let relevant = |o: &PartialObjectMeta<K>| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        o.metadata.generation.hash(&mut hasher);
        o.annotations()
            .get(IMAGE_TRIGGERS_ANNOTATION)
            .hash(&mut hasher);
        Some(hasher.finish())
    };
    let (store, events) = reflected(
        scope.served.watch(
            api::<PartialObjectMeta<K>>(&client, &scope),
            watcher::Config::default(),
        ),
        (),
    );
    let objects = events
        .applied_objects()
        .predicate_filter(relevant, Default::default());
    let controller = Controller::for_stream(objects, store.clone());
    let followers = stream_changes.flat_map(move |stream| {
        woken(&store, |o| {
            let value = o
                .annotations()
                .get(IMAGE_TRIGGERS_ANNOTATION)
                .map(String::as_str);
            followed_streams(&o.namespace().unwrap_or_default(), value).contains(&stream)
        })
    });
    drive(
        controller.reconcile_on(followers),
        "imagetrigger",
        annotation_trigger::reconcile::<K>,
        Arc::new(ctx),
        scope.served.clone(),
        None,
        metrics,
        shutdown,
    )
    .await;
}
