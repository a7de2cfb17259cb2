//! The DeploymentConfig controller's wiring. A DeploymentConfig is woken by its own changes; by
//! its revisions (ReplicaSets), its pods and its hook and deployer Jobs, found by label; by an
//! ImageStream its ImageChange triggers follow; and by a ConfigMap or Secret its config
//! triggers follow.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::api::conditions::{RolloutState, rollout_state};
use crate::api::{DeploymentConfig, keys};
use crate::metrics::Metrics;
use crate::reconcile::cache;
use crate::reconcile::deployment_config::config_hashes::Memo;
use crate::reconcile::deployment_config::{self, Context, Stores};
use crate::strategy::config_triggers::{self, ConfigKind};

use super::Scope;
use super::wiring::{
    Credits, Leading, Watchable, api, drive, key_of, owner_indexed_cache, reflected, resync, woken,
};

/// The caches of what DeploymentConfigs own, and the DeploymentConfigs their changes concern.
pub(super) struct OwnedCaches {
    pub stores: Stores,
    pub changes: futures::stream::BoxStream<'static, cache::Owner>,
}

/// Starts the watches of revisions, pods and Jobs. Only objects carrying our labels are
/// cached, by label and not by owner: an orphaned revision must wake its DeploymentConfig to be
/// adopted. They run on their own tasks so the caches are complete before the first decision:
/// a revision missing from a half-filled cache would look like one to create.
pub(super) fn owned_caches(client: &Client, scope: &Scope, leading: &Leading) -> OwnedCaches {
    let (replica_sets, rs_changes) = owner_indexed_cache(
        scope.served.watch(
            api::<ReplicaSet>(client, scope),
            watcher::Config::default().labels(keys::CONFIG_LABEL),
        ),
        revision_owner,
        any_change,
        leading,
    );
    let (pods, pod_changes) = owner_indexed_cache(
        scope.served.watch(
            api::<PartialObjectMeta<Pod>>(client, scope),
            watcher::Config::default().labels(keys::POD_CONFIG_LABEL),
        ),
        pod_owner,
        pod_presence,
        leading,
    );
    let (jobs, job_changes) = owner_indexed_cache(
        scope.served.watch(
            api::<Job>(client, scope),
            watcher::Config::default().labels(keys::DEPLOYER_POD_FOR_LABEL),
        ),
        job_owner,
        any_change,
        leading,
    );
    OwnedCaches {
        stores: Stores {
            replica_sets,
            pods,
            jobs,
        },
        changes: futures::stream::select_all([rs_changes, pod_changes, job_changes]).boxed(),
    }
}

/// The DeploymentConfig of a revision.
fn revision_owner(rs: &ReplicaSet) -> Option<cache::Owner> {
    cache::owner_by_controller_or_label(rs, keys::CONFIG_LABEL)
}

/// The DeploymentConfig of a hook or deployer Job.
fn job_owner(job: &Job) -> Option<cache::Owner> {
    cache::owner_by_label(job, keys::CONFIG_LABEL)
}

/// The DeploymentConfig of a pod.
fn pod_owner(pod: &PartialObjectMeta<Pod>) -> Option<cache::Owner> {
    cache::owner_by_label(pod, keys::POD_CONFIG_LABEL)
}

/// Every change of a ReplicaSet or Job matters (scale, status, annotations).
fn any_change<K: kube::Resource>(obj: &K) -> String {
    obj.resource_version().unwrap_or_default()
}

/// Of a pod, only its existence matters (a terminating pod counts until it is gone): readiness
/// reaches the planner through its ReplicaSet's status. (A pod changes four or five times on its
/// way to Ready and again on its way out; each change would otherwise wake its DeploymentConfig.)
fn pod_presence(pod: &PartialObjectMeta<Pod>) -> String {
    pod.uid().unwrap_or_default()
}

/// The DeploymentConfigs, watched once (on a standby too: a new leader starts with them cached):
/// the cache, shared with the Route controller (traffic shifts follow DeploymentConfigs), and
/// each one that changes while leading.
pub(super) struct Watched {
    pub store: Store<DeploymentConfig>,
    changed: mpsc::UnboundedReceiver<ObjectRef<DeploymentConfig>>,
}

/// Starts the watch; with it, `(namespace, name)` of each DeploymentConfig that changes while
/// leading, for the Route controller, on an unbounded channel (see `owner_indexed_cache` for
/// why not kube-runtime's shared reflector).
pub(super) fn watch(
    client: &Client,
    scope: &Scope,
    leading: &Leading,
) -> (Watched, mpsc::UnboundedReceiver<(String, String)>) {
    let (store, events) = reflected(
        scope.served.watch(
            api::<DeploymentConfig>(client, scope),
            watcher::Config::default(),
        ),
        (),
    );
    let (to_controller, changed) = mpsc::unbounded();
    let (to_routes, route_changes) = mpsc::unbounded();
    let leading = leading.clone();
    tokio::spawn(events.applied_objects().for_each(move |dc| {
        if let Ok(dc) = dc
            && leading.now()
        {
            let _ = to_controller.unbounded_send(ObjectRef::from(&dc));
            let _ = to_routes.unbounded_send(key_of(&dc));
        }
        async {}
    }));
    (Watched { store, changed }, route_changes)
}

/// Whether a DeploymentConfig has work in flight: a spec not yet acted on or a rollout under
/// way, as `rollout status` says. A new leader reconciles these first.
fn in_flight(dc: &DeploymentConfig) -> bool {
    matches!(rollout_state(dc), RolloutState::Waiting(_))
}

/// Runs the DeploymentConfig controller until `shutdown`.
pub(super) async fn run(
    client: Client,
    scope: Scope,
    watched: Watched,
    owned_changes: futures::stream::BoxStream<'static, cache::Owner>,
    stream_changes: mpsc::UnboundedReceiver<(String, String)>,
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let Watched { store, changed } = watched;
    // Woken through `reconcile_on` only: changes as they come, and every DeploymentConfig once
    // as this replica starts leading, work in flight first.
    let controller = Controller::for_stream(
        futures::stream::pending::<Result<_, watcher::Error>>(),
        store.clone(),
    )
    .with_config(kube::runtime::controller::Config::default().concurrency(scope.concurrency));
    let credits = Credits::new(usize::from(scope.concurrency.max(1)));
    let everyone = resync(&store, in_flight, credits.clone());
    // An ImageStream that changes wakes the DeploymentConfigs whose triggers follow it.
    let streams_store = store.clone();
    let image_wakes = stream_changes.flat_map(move |stream| {
        woken(&streams_store, |dc| {
            crate::image::trigger::followed_streams(dc).contains(&stream)
        })
    });
    // A ConfigMap or Secret that changes wakes the DeploymentConfigs that follow it (config
    // triggers, opt-in): watched by metadata, read by name when a followed one changed.
    let config_wakes = futures::stream::select(
        config_changes::<ConfigMap>(
            &client,
            &scope,
            ConfigKind::ConfigMap,
            store.clone(),
            ctx.config_hashes.clone(),
        ),
        config_changes::<Secret>(
            &client,
            &scope,
            ConfigKind::Secret,
            store,
            ctx.config_hashes.clone(),
        ),
    );
    let metrics: Arc<Metrics> = ctx.metrics.clone();
    let controller = controller.reconcile_on(futures::stream::select_all([
        changed.boxed(),
        everyone.boxed(),
        owned_changes,
        image_wakes.boxed(),
        config_wakes.boxed(),
    ]));
    drive(
        controller,
        "deploymentconfig",
        deployment_config::reconcile,
        ctx,
        scope.served.clone(),
        Some(credits),
        metrics,
        shutdown,
    )
    .await;
}

/// The DeploymentConfigs to wake when a ConfigMap or Secret changes or goes: those in its
/// namespace that follow it. Each version seen is told to `memo` first, so the pass it wakes
/// reads the object again while the passes of a rollout reuse its hash.
fn config_changes<K>(
    client: &Client,
    scope: &Scope,
    kind: ConfigKind,
    dcs: Store<DeploymentConfig>,
    memo: Arc<Memo>,
) -> impl Stream<Item = ObjectRef<DeploymentConfig>> + Send + 'static
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope> + Watchable,
    K::DynamicType: Default,
{
    let served = scope.served.clone();
    served
        .watch(
            api::<PartialObjectMeta<K>>(client, scope),
            watcher::Config::default(),
        )
        .filter_map(|e| async move { e.ok() })
        .flat_map(move |event| {
            let object = match event {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                    let (ns, name) = key_of(&o);
                    memo.saw(kind, &ns, &name, o.resource_version());
                    o
                }
                watcher::Event::Delete(o) => {
                    let (ns, name) = key_of(&o);
                    memo.saw(kind, &ns, &name, None);
                    o
                }
                watcher::Event::Init => {
                    memo.forget_seen();
                    return futures::stream::iter(Vec::new());
                }
                watcher::Event::InitDone => return futures::stream::iter(Vec::new()),
            };
            let (ns, name) = (object.namespace(), object.name_any());
            // Another shard's (its every change arrives as a deletion): none of ours follows
            // it, and a look through every DeploymentConfig would find none.
            if !served.serves(ns.as_deref()) {
                return futures::stream::iter(Vec::new());
            }
            woken(&dcs, |dc| {
                dc.namespace() == ns
                    && config_triggers::followed(dc)
                        .iter()
                        .any(|r| r.kind == kind && r.name == name)
            })
        })
}
