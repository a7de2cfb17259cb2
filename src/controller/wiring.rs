//! What every controller is wired with: an API in the operator's scope, watches reflected into
//! caches, the wakeups ("which of my objects does this change concern?"), and the run loop that
//! times each reconcile and retries by the one error policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Whether this replica leads. Caches fill on a standby too, so a new leader starts warm; the
/// wakes their changes send go out only while leading: on a standby nothing would read them and
/// they would pile up, and a new leader reconciles every object once anyway ([`resync`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Leading(Arc<AtomicBool>);

impl Leading {
    /// From now on, wakes are sent. Before any controller's first list or [`resync`], so no
    /// change falls between the two.
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn now(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Reconciles finished, as credits a [`resync`] spends: one object more per finished reconcile.
#[derive(Clone, Debug)]
pub(super) struct Credits(Arc<tokio::sync::Semaphore>);

impl Credits {
    /// `initial` objects may go at once (as many as reconciles run at once).
    pub fn new(initial: usize) -> Self {
        Credits(Arc::new(tokio::sync::Semaphore::new(initial)))
    }

    fn finished(&self) {
        self.0.add_permits(1);
    }

    async fn spend(&self) {
        if let Ok(permit) = self.0.acquire().await {
            permit.forget();
        }
    }
}

/// Every object of `store` once, as a new leader must (what the old one was doing is not
/// known): first, at once, those `urgent` picks (work in flight); then the rest, one per
/// finished reconcile. The controller's queue takes what it is given in no order, so without
/// the credits thousands of settled objects would stand between a new leader and the rollouts
/// it took over.
pub(super) fn resync<K>(
    store: &Store<K>,
    urgent: impl Fn(&K) -> bool,
    credits: Credits,
) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (first, rest): (Vec<_>, Vec<_>) = store.state().into_iter().partition(|o| urgent(o));
    let reference = |o: Arc<K>| ObjectRef::from(o.as_ref());
    let first = first.into_iter().map(reference).collect::<Vec<_>>();
    let rest = rest.into_iter().map(reference).collect::<Vec<_>>();
    futures::stream::iter(first).chain(futures::stream::iter(rest).then(move |o| {
        let credits = credits.clone();
        async move {
            credits.spend().await;
            o
        }
    }))
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
    leading: &Leading,
) -> (cache::Cache<K>, mpsc::UnboundedReceiver<cache::Owner>)
where
    K: Watchable,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (cache, mut writer) = cache::cache(owner, state);
    let (tx, rx) = mpsc::unbounded();
    let leading = leading.clone();
    tokio::spawn(events.for_each(move |event| {
        if let Ok(event) = event {
            let wakes = writer.apply(event);
            if leading.now() {
                for dc in wakes {
                    // The controller is gone only when the process stops.
                    let _ = tx.unbounded_send(dc);
                }
            }
        }
        async {}
    }));
    (cache, rx)
}

/// Runs `controller` until `shutdown`: each reconcile counted and timed in the metrics as
/// `name`, failures retried by the one error policy (`reconcile::error_policy`), and each
/// finished one handed to `credits` (a [`resync`]'s). An object whose namespace this operator
/// does not serve (another shard's) is left alone.
#[allow(clippy::too_many_arguments)]
pub(super) async fn drive<K, C, F>(
    controller: Controller<K>,
    name: &'static str,
    reconcile: fn(Arc<K>, Arc<C>) -> F,
    ctx: Arc<C>,
    served: Served,
    credits: Option<Credits>,
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
        .for_each(|result| {
            if let Some(credits) = &credits {
                credits.finished();
            }
            log_result(result)
        })
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

#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector;

    use super::*;

    fn store(names: &[&str]) -> Store<ConfigMap> {
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&watcher::Event::Init);
        for name in names {
            writer.apply_watcher_event(&watcher::Event::InitApply(ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some("ns".into()),
                    ..Default::default()
                },
                ..Default::default()
            }));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        store
    }

    /// What the stream gives without waiting.
    fn ready(stream: &mut (impl Stream<Item = ObjectRef<ConfigMap>> + Unpin)) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(Some(o)) = stream.next().now_or_never() {
            names.push(o.name);
        }
        names
    }

    #[tokio::test]
    async fn a_resync_sends_the_urgent_at_once_and_the_rest_one_per_finished_reconcile() {
        let store = store(&["calm-1", "busy-1", "calm-2", "busy-2", "calm-3"]);
        let credits = Credits::new(1);
        let mut stream = Box::pin(resync(
            &store,
            |cm: &ConfigMap| cm.name_any().starts_with("busy"),
            credits.clone(),
        ));
        let mut first = ready(&mut stream);
        assert_eq!(first.len(), 3, "{first:?}");
        let calm = first.pop().unwrap_or_default();
        first.sort();
        assert_eq!(first, ["busy-1", "busy-2"]);
        assert!(calm.starts_with("calm"), "{calm}");

        credits.finished();
        let mut calm = vec![calm];
        calm.extend(ready(&mut stream));
        assert_eq!(calm.len(), 2);
        assert!(ready(&mut stream).is_empty(), "no credit left");
        credits.finished();
        calm.extend(ready(&mut stream));
        calm.sort();
        assert_eq!(calm, ["calm-1", "calm-2", "calm-3"]);
        assert!(stream.next().now_or_never().is_some_and(|o| o.is_none()));
    }
}
