//! What every controller is wired with: an API in the operator's scope, watches reflected into
//! caches, the wakeups ("which of my objects does this change concern?"), and the run loop that
//! times each reconcile and retries by the one error policy.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::warn;

use crate::error::Result;
use crate::metrics::Metrics;
pub(super) use crate::reconcile::key_of;
use crate::reconcile::{Retrying, cache, error_policy};

use super::Scope;
use super::shard::Served;

/// What a kind must be to be watched, cached and reconciled here.
pub(super) trait Watchable:
    Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static
{
}

impl<K> Watchable for K where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static
{
}

/// The namespaced objects of kind `K` in the operator's scope.
pub(super) fn api<K>(client: &Client, scope: &Scope) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match &scope.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// [`api`] for kinds known at run time (Gateway API kinds, their metadata).
pub(super) fn api_with<K>(client: &Client, scope: &Scope, dyntype: &K::DynamicType) -> Api<K>
where
    K: Resource<Scope = kube::core::DynamicResourceScope>,
{
    match &scope.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, dyntype),
        None => Api::all_with(client.clone(), dyntype),
    }
}

/// A watch of every object of `api` (across shards: what is read beyond a shard's namespaces).
/// A shard's own kinds are watched through `scope.served.watch`.
pub(super) fn every<K: Watchable>(
    api: Api<K>,
    config: watcher::Config,
) -> BoxStream<'static, std::result::Result<watcher::Event<K>, watcher::Error>> {
    watcher(api, config).default_backoff().boxed()
}

/// A watch's `events` reflected into a new cache (managedFields dropped: nothing here reads
/// them, and with many objects they are a good part of the memory); the events, for the caller
/// to pick touched or applied objects from.
pub(super) fn reflected<K>(
    events: impl Stream<Item = std::result::Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    dyntype: K::DynamicType,
) -> (
    Store<K>,
    impl Stream<Item = std::result::Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
)
where
    K: Watchable,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    let writer = reflector::store::Writer::<K>::new(dyntype);
    let store = writer.as_reader();
    let events = events
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer);
    (store, events)
}

/// The references to the objects of `store` that `concerned` picks: what a change of some other
/// object wakes (the streams of `Controller::reconcile_on` and `watches_stream`).
pub(super) fn concerned<K>(store: &Store<K>, concerned: impl Fn(&K) -> bool) -> Vec<ObjectRef<K>>
where
    K: Resource + Clone,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    store
        .state()
        .into_iter()
        .filter(|o| concerned(o))
        .map(|o| ObjectRef::from(o.as_ref()))
        .collect()
}

/// [`concerned`] as a stream, for `flat_map` over a stream of changes.
pub(super) fn woken<K>(
    store: &Store<K>,
    concerned_by: impl Fn(&K) -> bool,
) -> futures::stream::Iter<std::vec::IntoIter<ObjectRef<K>>>
where
    K: Resource + Clone,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    futures::stream::iter(concerned(store, concerned_by))
}

/// A cache of the objects a watch's `events` bring, indexed by the DeploymentConfig their
/// `owner` names, filled on a task of its own; and the DeploymentConfigs its changes concern.
///
/// Not kube-runtime's shared reflector: its subscription stream returns `Pending` without a
/// waker when an object is deleted before the subscriber reads the event, and from then on is
/// never polled again; the broadcast fills and the cache freezes (found by `make bench`: pods
/// deleted mid-rollout froze a hundred rollouts). An unbounded channel of references never
/// blocks the cache, and the controller's scheduler deduplicates what it receives.
pub(super) fn owner_indexed_cache<K>(
    events: impl Stream<Item = std::result::Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    owner: fn(&K) -> Option<cache::Owner>,
    state: fn(&K) -> String,
) -> (cache::Cache<K>, mpsc::UnboundedReceiver<cache::Owner>)
where
    K: Watchable,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (cache, mut writer) = cache::cache(owner, state);
    let (tx, rx) = mpsc::unbounded();
    tokio::spawn(events.for_each(move |event| {
        if let Ok(event) = event {
            for dc in writer.apply(event) {
                // The controller is gone only when the process stops.
                let _ = tx.unbounded_send(dc);
            }
        }
        async {}
    }));
    (cache, rx)
}

/// Runs `controller` until `shutdown`: each reconcile counted and timed in the metrics as
/// `name`, failures retried by the one error policy (`reconcile::error_policy`). An object
/// whose namespace this operator does not serve (another shard's) is left alone.
pub(super) async fn drive<K, C, F>(
    controller: Controller<K>,
    name: &'static str,
    reconcile: fn(Arc<K>, Arc<C>) -> F,
    ctx: Arc<C>,
    served: Served,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: Watchable,
    K::DynamicType: std::fmt::Debug + Unpin + Eq + std::hash::Hash + Clone + Send + Sync,
    C: Retrying + Send + Sync + 'static,
    F: std::future::Future<Output = Result<kube::runtime::controller::Action>> + Send + 'static,
{
    controller
        .graceful_shutdown_on(shutdown)
        .run(
            move |object, ctx| {
                let metrics = metrics.clone();
                let served = served.serves(object.meta().namespace.as_deref());
                async move {
                    if !served {
                        return Ok(kube::runtime::controller::Action::await_change());
                    }
                    timed(&metrics, name, reconcile(object, ctx)).await
                }
            },
            error_policy::<K, C>,
            ctx,
        )
        .for_each(log_result)
        .await;
}

/// A reconcile of `controller`, counted and timed in the metrics.
async fn timed<T>(
    metrics: &Metrics,
    controller: &'static str,
    reconcile: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let timer = metrics.reconcile_started(controller);
    let result = reconcile.await;
    timer.finish(match &result {
        Ok(_) => "success",
        Err(e) if e.is_transient() => "transient_error",
        Err(_) => "permanent_error",
    });
    result
}

async fn log_result<T, E, Q>(res: std::result::Result<T, kube::runtime::controller::Error<E, Q>>)
where
    E: std::error::Error + 'static,
    Q: std::error::Error + 'static,
{
    match res {
        // Deleted while queued: nothing to do.
        Err(kube::runtime::controller::Error::ObjectNotFound(obj)) => {
            tracing::debug!(object = %obj, "gone before its reconcile")
        }
        // The error policy has logged it, with the object and the retry.
        Err(kube::runtime::controller::Error::ReconcilerFailed(..)) => {}
        Err(e) => warn!(error = %e, "controller"),
        Ok(_) => {}
    }
}
