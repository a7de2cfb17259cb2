//! Wiring: reflectors for ReplicaSets and pods shared with the reconciler, and the controller.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tracing::{info, warn};

use crate::api::DeploymentConfig;
use crate::api::image_stream::ImageStream;
use crate::api::keys;
use crate::api::route::Route;
use crate::http::Readiness;
use crate::image::annotation::Workload;
use crate::leader::{self, LeaseConfig, LeaseError};
use crate::metrics::Metrics;
use crate::reconcile::annotation_trigger::{self, AnnotationContext};
use crate::reconcile::cache::{self, Cache};
use crate::reconcile::image_import::{self, ImportContext, Registries};
use crate::reconcile::route::{self as route_reconcile, RouteContext};
use crate::reconcile::{Context, Stores, deployment_config};
use crate::strategy::config_triggers::ConfigKind;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::DynamicObject;

/// Where the operator looks.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// The parent Gateway of Routes that name none.
    pub default_gateway: Option<crate::route::GatewayRef>,
    /// The ingress domain: Routes without a host are served on `<name>-<namespace>.<domain>`.
    pub route_domain: Option<String>,
    /// The image of deployer Jobs whose customParams name none (default: the operator's own).
    pub deployer_image: Option<String>,
    /// How often scheduled image tags are imported again.
    pub image_import_interval: jiff::SignedDuration,
    /// PEM certificates trusted for registries besides the system's.
    pub registry_ca: Vec<u8>,
    /// Whether `image.openshift.io/triggers` annotations on Deployments, StatefulSets,
    /// DaemonSets and CronJobs are honoured.
    pub annotation_triggers: bool,
}

fn api<K>(client: &Client, scope: &Scope) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match &scope.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A cache of the objects of `api` that carry `label`, indexed by the DeploymentConfig their
/// `owner_label` names, filled by a watch on a task of its own; and the DeploymentConfigs its
/// changes concern.
///
/// Not kube-runtime's shared reflector: its subscription stream returns `Pending` without a
/// waker when an object is deleted before the subscriber reads the event, and from then on is
/// never polled again; the broadcast fills and the cache freezes (found by `make bench`: pods
/// deleted mid-rollout froze a hundred rollouts). An unbounded channel of references never
/// blocks the cache, and the controller's scheduler deduplicates what it receives.
fn watch_cache<K>(
    api: Api<K>,
    label: &str,
    owner: fn(&K) -> Option<cache::Owner>,
    state: fn(&K) -> String,
) -> (Cache<K>, mpsc::UnboundedReceiver<cache::Owner>)
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (cache, mut writer) = cache::cache(owner, state);
    let (tx, rx) = mpsc::unbounded();
    tokio::spawn(
        watcher(api, watcher::Config::default().labels(label))
            .default_backoff()
            .for_each(move |event| {
                if let Ok(event) = event {
                    for dc in writer.apply(event) {
                        // The controller is gone only when the process stops.
                        let _ = tx.unbounded_send(dc);
                    }
                }
                async {}
            }),
    );
    (cache, rx)
}

/// The ImageStreams, cached, and `subscribers` channels that each get the `(namespace, name)` of
/// every stream that changes (or goes).
fn watch_image_streams(
    api: Api<ImageStream>,
    subscribers: usize,
) -> (
    reflector::Store<ImageStream>,
    Vec<mpsc::UnboundedReceiver<(String, String)>>,
) {
    let (store, writer) = reflector::store();
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..subscribers).map(|_| mpsc::unbounded()).unzip();
    tokio::spawn(
        watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .touched_objects()
            .for_each(move |stream| {
                if let Ok(s) = stream {
                    let key = (s.namespace().unwrap_or_default(), s.name_any());
                    for tx in &senders {
                        let _ = tx.unbounded_send(key.clone());
                    }
                }
                async {}
            }),
    );
    (store, receivers)
}

/// The DeploymentConfigs whose ImageChange triggers follow the stream `(namespace, name)`.
fn followers(
    dcs: &reflector::Store<DeploymentConfig>,
    stream: &(String, String),
) -> Vec<ObjectRef<DeploymentConfig>> {
    dcs.state()
        .into_iter()
        .filter(|dc| crate::image::trigger::followed_streams(dc).contains(stream))
        .map(|dc| ObjectRef::from(dc.as_ref()))
        .collect()
}

/// The DeploymentConfigs to wake when a ConfigMap or Secret changes or goes: those in its
/// namespace that follow it. Each version seen is told to `memo` first, so the pass it wakes
/// reads the object again while the passes of a rollout reuse its hash.
fn config_changes<K>(
    client: &Client,
    scope: &Scope,
    kind: ConfigKind,
    dcs: reflector::Store<DeploymentConfig>,
    memo: Arc<crate::reconcile::config_hashes::Memo>,
) -> impl futures::Stream<Item = ObjectRef<DeploymentConfig>> + Send + 'static
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
{
    watcher(
        api::<PartialObjectMeta<K>>(client, scope),
        watcher::Config::default(),
    )
    .default_backoff()
    .filter_map(|e| async move { e.ok() })
    .flat_map(move |event| {
        let object = match event {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                let (ns, name) = (o.namespace().unwrap_or_default(), o.name_any());
                memo.saw(kind, &ns, &name, o.resource_version());
                o
            }
            watcher::Event::Delete(o) => {
                memo.saw(
                    kind,
                    &o.namespace().unwrap_or_default(),
                    &o.name_any(),
                    None,
                );
                o
            }
            watcher::Event::Init => {
                memo.forget_seen();
                return futures::stream::iter(Vec::new());
            }
            watcher::Event::InitDone => return futures::stream::iter(Vec::new()),
        };
        let (ns, name) = (object.namespace(), object.name_any());
        let wake: Vec<_> = dcs
            .state()
            .into_iter()
            .filter(|dc| {
                dc.namespace() == ns
                    && crate::strategy::config_triggers::followed(dc)
                        .iter()
                        .any(|r| r.kind == kind && r.name == name)
            })
            .map(|dc| ObjectRef::from(dc.as_ref()))
            .collect();
        futures::stream::iter(wake)
    })
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

/// Checks that the installed CRDs are the ones this operator was built with (see
/// `api::SCHEMA_HASH_ANNOTATION`); the error says how to fix it.
pub async fn check_crds(client: &Client) -> Result<(), String> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for expected in crate::api::crds() {
        let name = expected.metadata.name.clone().unwrap_or_default();
        let want = crate::api::schema_hash(&expected);
        let installed = api
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read CRD {name}: {e}"))?
            .ok_or_else(|| {
                format!("CRD {name} is not installed: kubectl apply --server-side -f crds/")
            })?;
        let have = installed
            .annotations()
            .get(crate::api::SCHEMA_HASH_ANNOTATION)
            .cloned()
            .unwrap_or_default();
        if have != want {
            return Err(format!(
                "CRD {name} differs from the one this operator was built with (schema {have:?}, expected {want:?}): \
                 apply the CRDs of this version with `kubectl apply --server-side -f crds/`"
            ));
        }
    }
    Ok(())
}

/// Why the controllers stopped before they were asked to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("caches never became ready")]
    Caches,
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error("{0}")]
    Registry(String),
}

/// Runs the controllers until `shutdown` resolves: caches first (a standby keeps them warm), then,
/// once this replica leads (at once without a lease), the DeploymentConfig and Route controllers.
/// Losing the lease returns at once, dropping every reconcile in flight.
pub async fn run(
    client: Client,
    scope: Scope,
    lease: Option<LeaseConfig>,
    readiness: Readiness,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), RunError> {
    let shutdown = futures::FutureExt::shared(shutdown);
    // Only objects carrying our labels are cached: revisions, the pods of DeploymentConfigs, and
    // hook Jobs. The reflectors run on their own so the caches are complete before the first
    // decision: a revision missing from a half-filled cache would look like one to create.
    // By label, not owner: orphaned revisions must wake their DeploymentConfig to be adopted.
    let (replica_sets, rs_events) = watch_cache(
        api::<ReplicaSet>(&client, &scope),
        keys::CONFIG_LABEL,
        revision_owner,
        any_change,
    );
    let (pods, pod_events) = watch_cache(
        api::<PartialObjectMeta<Pod>>(&client, &scope),
        keys::POD_CONFIG_LABEL,
        pod_owner,
        pod_presence,
    );
    let (jobs, job_events) = watch_cache(
        api::<Job>(&client, &scope),
        keys::DEPLOYER_POD_FOR_LABEL,
        job_owner,
        any_change,
    );
    // One subscriber for DeploymentConfigs, one per workload kind with annotation triggers.
    let subscribers = 1 + if scope.annotation_triggers {
        Workload::ALL.len()
    } else {
        0
    };
    let (image_streams, mut stream_subscribers) =
        watch_image_streams(api::<ImageStream>(&client, &scope), subscribers);
    let stream_events = stream_subscribers.remove(0);
    let ready = futures::try_join!(
        replica_sets.wait_until_ready(),
        pods.wait_until_ready(),
        jobs.wait_until_ready(),
    );
    if ready.is_err() || image_streams.wait_until_ready().await.is_err() {
        return Err(RunError::Caches);
    }
    info!("caches synced");
    readiness.set_ready();
    let revisions = replica_sets.clone();
    metrics.watch_revisions(move || revisions.state());

    let mut leadership = match lease {
        Some(config) => tokio::select! {
            held = leader::acquire(client.clone(), config) => Some(held?),
            _ = shutdown.clone() => return Ok(()),
        },
        None => None,
    };
    readiness.set_leading(true);
    metrics.set_leader(true);

    let stores = Stores {
        replica_sets,
        pods,
        jobs,
    };
    let ctx = Arc::new(
        Context::new(client.clone(), stores, image_streams, metrics.clone())
            .with_deployer_image(scope.deployer_image.clone()),
    );
    let registries = Registries::new(&scope.registry_ca).map_err(RunError::Registry)?;
    let imports = run_imports(
        client.clone(),
        &scope,
        registries,
        ctx.events.clone(),
        metrics.clone(),
        shutdown.clone(),
    );
    let annotated =
        futures::future::join_all(stream_subscribers.into_iter().zip(Workload::ALL).map(
            |(events, workload)| {
                let ctx = AnnotationContext {
                    client: client.clone(),
                    workload,
                    resource: workload_resource(workload),
                    image_streams: ctx.image_streams.clone(),
                    events: ctx.events.clone(),
                    backoff: Default::default(),
                };
                let (client, scope, metrics, shutdown) = (
                    client.clone(),
                    scope.clone(),
                    metrics.clone(),
                    shutdown.clone(),
                );
                async move {
                    match workload {
                        Workload::Deployment => {
                            run_annotation_triggers::<Deployment>(
                                client, scope, ctx, events, metrics, shutdown,
                            )
                            .await
                        }
                        Workload::StatefulSet => {
                            run_annotation_triggers::<StatefulSet>(
                                client, scope, ctx, events, metrics, shutdown,
                            )
                            .await
                        }
                        Workload::DaemonSet => {
                            run_annotation_triggers::<DaemonSet>(
                                client, scope, ctx, events, metrics, shutdown,
                            )
                            .await
                        }
                        Workload::CronJob => {
                            run_annotation_triggers::<CronJob>(
                                client, scope, ctx, events, metrics, shutdown,
                            )
                            .await
                        }
                    }
                }
            },
        ));
    // The DeploymentConfigs, cached without their managedFields: nothing here reads them, and
    // with many objects they are a good part of the cache (as in the other caches). One watch
    // and one cache, shared with the Route controller (traffic shifts follow DeploymentConfigs),
    // which hears of each change on an unbounded channel (see `watch_cache` for why not
    // kube-runtime's shared reflector).
    let (dc_reader, dc_writer) = reflector::store::<DeploymentConfig>();
    let (dc_changed, dc_changes) = mpsc::unbounded();
    let dc_stream = watcher(
        api::<DeploymentConfig>(&client, &scope),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(|dc| dc.managed_fields_mut().clear())
    .reflect(dc_writer)
    .applied_objects()
    .inspect(move |dc| {
        if let Ok(dc) = dc {
            let _ = dc_changed.unbounded_send((dc.namespace().unwrap_or_default(), dc.name_any()));
        }
    });
    let routes = run_routes(
        client.clone(),
        scope.clone(),
        RouteInputs {
            deployment_configs: dc_reader.clone(),
            dc_changes,
            events: ctx.events.clone(),
        },
        metrics,
        shutdown.clone(),
    );
    let controller = Controller::for_stream(dc_stream, dc_reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(scope.concurrency));
    // An ImageStream that changes wakes the DeploymentConfigs whose triggers follow it.
    let dc_store = controller.store();
    let image_events =
        stream_events.flat_map(move |s| futures::stream::iter(followers(&dc_store, &s)));
    // A ConfigMap or Secret that changes wakes the DeploymentConfigs that follow it (config
    // triggers, opt-in): watched by metadata, read by name when a followed one changed.
    let config_events = futures::stream::select(
        config_changes::<ConfigMap>(
            &client,
            &scope,
            ConfigKind::ConfigMap,
            controller.store(),
            ctx.config_hashes.clone(),
        ),
        config_changes::<Secret>(
            &client,
            &scope,
            ConfigKind::Secret,
            controller.store(),
            ctx.config_hashes.clone(),
        ),
    );
    let dcs = controller
        .reconcile_on(futures::stream::select_all([
            futures::stream::select_all([rs_events, pod_events, job_events]).boxed(),
            image_events.boxed(),
            config_events.boxed(),
        ]))
        .graceful_shutdown_on(shutdown)
        .run(
            |dc, ctx: Arc<Context>| async move {
                let metrics = ctx.metrics.clone();
                timed(
                    &metrics,
                    "deploymentconfig",
                    deployment_config::reconcile(dc, ctx),
                )
                .await
            },
            deployment_config::error_policy,
            ctx,
        )
        .for_each(log_result);
    let controllers = futures::future::join4(dcs, routes, imports, annotated);
    match &mut leadership {
        None => {
            controllers.await;
        }
        Some(held) => {
            tokio::select! {
                _ = controllers => {}
                lost = held.lost() => return Err(lost.into()),
            }
        }
    }
    if let Some(held) = leadership {
        held.release().await;
    }
    Ok(())
}

/// A reconcile of `controller`, counted and timed in the metrics.
async fn timed<T>(
    metrics: &Metrics,
    controller: &'static str,
    reconcile: impl std::future::Future<Output = crate::error::Result<T>>,
) -> crate::error::Result<T> {
    let timer = metrics.reconcile_started(controller);
    let result = reconcile.await;
    timer.finish(result_label(&result));
    result
}

fn result_label<T>(result: &crate::error::Result<T>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(e) if e.is_transient() => "transient_error",
        Err(_) => "permanent_error",
    }
}

async fn log_result<T, E, Q>(res: Result<T, kube::runtime::controller::Error<E, Q>>)
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

/// The importer: ImageStreams whose tags follow registry images get their digests recorded.
async fn run_imports(
    client: Client,
    scope: &Scope,
    registries: Registries,
    events: crate::reconcile::events::Events,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = Controller::new(
        api::<ImageStream>(&client, scope),
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
    controller
        .graceful_shutdown_on(shutdown)
        .run(
            move |stream, ctx: Arc<ImportContext>| {
                let metrics = metrics.clone();
                async move {
                    timed(
                        &metrics,
                        "imagestream",
                        image_import::reconcile(stream, ctx),
                    )
                    .await
                }
            },
            image_import::error_policy,
            ctx,
        )
        .for_each(log_result)
        .await;
}

fn workload_resource(workload: Workload) -> kube::api::ApiResource {
    match workload {
        Workload::Deployment => kube::api::ApiResource::erase::<Deployment>(&()),
        Workload::StatefulSet => kube::api::ApiResource::erase::<StatefulSet>(&()),
        Workload::DaemonSet => kube::api::ApiResource::erase::<DaemonSet>(&()),
        Workload::CronJob => kube::api::ApiResource::erase::<CronJob>(&()),
    }
}

/// The `image.openshift.io/triggers` annotation on workloads of kind `K`: watched by metadata
/// only (their specs are read when an annotated one needs a look), woken when the annotation or
/// the spec changes, and when a stream an annotation follows changes.
async fn run_annotation_triggers<K>(
    client: Client,
    scope: Scope,
    ctx: AnnotationContext,
    stream_events: mpsc::UnboundedReceiver<(String, String)>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    use crate::image::annotation::{TRIGGERS_ANNOTATION, followed_streams};
    let (reader, writer) = reflector::store::<PartialObjectMeta<K>>();
    let relevant = |o: &PartialObjectMeta<K>| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        o.metadata.generation.hash(&mut hasher);
        o.annotations().get(TRIGGERS_ANNOTATION).hash(&mut hasher);
        Some(hasher.finish())
    };
    let objects = watcher(
        api::<PartialObjectMeta<K>>(&client, &scope),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(|o| o.managed_fields_mut().clear())
    .reflect(writer)
    .applied_objects()
    .predicate_filter(relevant, Default::default());
    let controller = Controller::for_stream(objects, reader);
    let store = controller.store();
    let followers = stream_events.flat_map(move |stream| {
        let annotated: Vec<_> = store
            .state()
            .into_iter()
            .filter(|o| {
                let value = o.annotations().get(TRIGGERS_ANNOTATION).map(String::as_str);
                followed_streams(&o.namespace().unwrap_or_default(), value).contains(&stream)
            })
            .map(|o| ObjectRef::from(o.as_ref()))
            .collect();
        futures::stream::iter(annotated)
    });
    controller
        .reconcile_on(followers)
        .graceful_shutdown_on(shutdown)
        .run(
            move |object, ctx: Arc<AnnotationContext>| {
                let metrics = metrics.clone();
                async move {
                    timed(
                        &metrics,
                        "imagetrigger",
                        annotation_trigger::reconcile(object, ctx),
                    )
                    .await
                }
            },
            annotation_trigger::error_policy,
            Arc::new(ctx),
        )
        .for_each(log_result)
        .await;
}

/// Which Gateway API kinds the cluster serves at v1 (HTTPRoute; TLSRoute and ListenerSet are
/// standard since Gateway API v1.5, BackendTLSPolicy since v1.4).
async fn gateway_apis(client: &Client) -> crate::route::Apis {
    let Ok(group) = kube::discovery::oneshot::group(client, "gateway.networking.k8s.io").await
    else {
        return crate::route::Apis::default();
    };
    let serves = |kind: &str| {
        group
            .versioned_resources("v1")
            .iter()
            .any(|(r, _)| r.kind == kind)
    };
    crate::route::Apis {
        routes: serves("HTTPRoute"),
        tls_routes: serves("TLSRoute"),
        listener_sets: serves("ListenerSet"),
        backend_tls_policies: serves("BackendTLSPolicy"),
    }
}

/// The Routes of namespace `ns` with `service` among their backends.
fn routes_naming(
    routes: &Store<Route>,
    ns: Option<String>,
    service: &str,
) -> Vec<ObjectRef<Route>> {
    routes
        .state()
        .into_iter()
        .filter(|r| {
            r.namespace() == ns && crate::route::backends(r).iter().any(|b| b.name == service)
        })
        .map(|r| ObjectRef::from(r.as_ref()))
        .collect()
}

/// The Routes in `ns` whose traffic shift a change of DeploymentConfig `name` may move: it
/// follows that DeploymentConfig, which has completed a rollout newer than the shift ran for
/// (the shift starts) or been rolled back (a running shift ends).
/// Every status write of every DeploymentConfig asks, so the cheap tests come first.
fn routes_following(
    routes: &reflector::Store<Route>,
    dcs: &reflector::Store<DeploymentConfig>,
    ns: &str,
    name: &str,
) -> Vec<ObjectRef<Route>> {
    let Some(dc) = dcs.get(&ObjectRef::new(name).within(ns)) else {
        return Vec::new();
    };
    let followed = crate::route::shift::Followed::of(&dc);
    if !followed.complete && !followed.rollback {
        return Vec::new();
    }
    let mentions = |r: &Route| {
        r.annotations()
            .get(crate::api::keys::TRAFFIC_SHIFT_ANNOTATION)
            .is_some_and(|text| text.contains(name))
    };
    let behind = |r: &Route| followed.moves(r.status.as_ref().and_then(|s| s.shift.as_ref()));
    routes
        .state()
        .into_iter()
        .filter(|r| r.namespace().as_deref() == Some(ns) && mentions(r) && behind(r))
        .filter(|r| {
            crate::route::shift::declared(r)
                .and_then(Result::ok)
                .is_some_and(|s| s.deployment_config.as_deref() == Some(name))
        })
        .map(|r| ObjectRef::from(r.as_ref()))
        .collect()
}

/// What the Route controller shares with the DeploymentConfig controller: its cache of
/// DeploymentConfigs and their changes, and the event recorder.
struct RouteInputs {
    deployment_configs: reflector::Store<DeploymentConfig>,
    /// `(namespace, name)` of each DeploymentConfig that changed.
    dc_changes: mpsc::UnboundedReceiver<(String, String)>,
    events: crate::reconcile::events::Events,
}

/// The Gateways in the operator's scope, cached, and `(namespace, name)` of each that comes, goes
/// or changes. Only in scope: a namespace-scoped install has rights in its namespace alone (a
/// refused watch would hold every Route back), so a Gateway elsewhere, the default one too, is
/// read by GET and again at its Routes' resync.
fn gateway_cache(
    client: &Client,
    scope: &Scope,
    apis: crate::route::Apis,
) -> (
    Option<route_reconcile::GatewayCache>,
    futures::stream::BoxStream<'static, (String, String)>,
) {
    if !apis.routes {
        return (None, futures::stream::empty().boxed());
    }
    let ar = route_reconcile::resource("gateway.networking.k8s.io", "v1", "Gateway");
    let api = match &scope.namespace {
        Some(ns) => Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar),
        None => Api::<DynamicObject>::all_with(client.clone(), &ar),
    };
    let writer = reflector::store::Writer::<DynamicObject>::new(ar);
    let cache = route_reconcile::GatewayCache {
        namespace: scope.namespace.clone(),
        store: writer.as_reader(),
    };
    let changes = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|g| g.managed_fields_mut().clear())
        .reflect(writer)
        .touched_objects()
        .filter_map(|g| async move {
            let g = g.ok()?;
            Some((g.namespace().unwrap_or_default(), g.name_any()))
        })
        .boxed();
    (Some(cache), changes)
}

/// The Route controller: Routes, the objects they own (Gateway API routes, ListenerSets,
/// BackendTLSPolicies, certificate Secrets, CA ConfigMaps), the Services they name, and the
/// Routes they share a host with.
async fn run_routes(
    client: Client,
    scope: Scope,
    shared: RouteInputs,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let apis = gateway_apis(&client).await;
    if !apis.routes {
        warn!("the cluster does not serve the Gateway API: Routes will say so in their status");
    }
    let (service_store, service_writer) = reflector::store::<Service>();
    let service_events = watcher(api::<Service>(&client, &scope), watcher::Config::default())
        .default_backoff()
        .reflect(service_writer)
        .touched_objects();
    let (endpoint_store, endpoint_writer) = reflector::store::<EndpointSlice>();
    let endpoint_events = watcher(
        api::<EndpointSlice>(&client, &scope),
        watcher::Config::default().labels(route_reconcile::SERVICE_NAME_LABEL),
    )
    .default_backoff()
    .modify(|e| e.managed_fields_mut().clear())
    .reflect(endpoint_writer)
    .touched_objects();
    // One watch of the Routes: the controller's, whose changes (after the first list, which
    // reconciles every Route anyway) also reach the host-claim wakeups below, deletions too.
    let (route_store, route_writer) = reflector::store::<Route>();
    let (route_changed, route_changes) = mpsc::unbounded::<Route>();
    let route_stream = watcher(api::<Route>(&client, &scope), watcher::Config::default())
        .default_backoff()
        .reflect(route_writer)
        .inspect({
            let metrics = metrics.clone();
            move |event| {
                if let Ok(watcher::Event::Delete(r)) = event {
                    // A Route that goes takes its shift's series with it.
                    let ns = r.namespace().unwrap_or_default();
                    metrics.shift_position(&ns, &r.name_any(), None);
                }
                if let Ok(watcher::Event::Apply(r) | watcher::Event::Delete(r)) = event {
                    let _ = route_changed.unbounded_send(r.clone());
                }
            }
        })
        .applied_objects();
    let mut controller = Controller::for_stream(route_stream, route_store.clone());
    let mut owned = Vec::new();
    for (group, version, kind) in route_reconcile::OWNED_KINDS {
        if !route_reconcile::served(apis, kind) {
            continue;
        }
        let ar = route_reconcile::resource(group, version, kind);
        // By metadata: who owns it is all that matters here (the applied route's status comes
        // from the apply), and a Route's certificate key never reaches the operator this way.
        type Meta = PartialObjectMeta<DynamicObject>;
        let objects = match &scope.namespace {
            Some(ns) => Api::<Meta>::namespaced_with(client.clone(), ns, &ar),
            None => Api::<Meta>::all_with(client.clone(), &ar),
        };
        let writer = reflector::store::Writer::<Meta>::new(ar.clone());
        let store = writer.as_reader();
        let events = watcher(
            objects,
            watcher::Config::default().labels(crate::route::ROUTE_LABEL),
        )
        .default_backoff()
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer)
        .touched_objects();
        controller = controller.owns_stream_with(events, ar);
        owned.push((kind, store));
    }
    let (gateways, gateway_changes) = gateway_cache(&client, &scope, apis);
    let ctx = Arc::new(RouteContext {
        gateways,
        deployment_configs: shared.deployment_configs.clone(),
        events: shared.events,
        written: Default::default(),
        client: client.clone(),
        services: service_store,
        endpoints: endpoint_store,
        routes: route_store.clone(),
        owned,
        default_gateway: scope.default_gateway.clone(),
        domain: scope.route_domain.clone(),
        apis,
        metrics,
        backoff: Default::default(),
    });
    // A Service wakes every Route in its namespace that names it.
    let services_routes = route_store.clone();
    controller = controller.watches_stream(service_events, move |svc: Service| {
        routes_naming(&services_routes, svc.namespace(), &svc.name_any())
    });
    // An EndpointSlice wakes the Routes naming its Service (a backend gained or lost its last
    // ready endpoint).
    let endpoint_routes = route_store.clone();
    controller =
        controller.watches_stream(endpoint_events, move |slice: EndpointSlice| {
            match slice.labels().get(route_reconcile::SERVICE_NAME_LABEL) {
                Some(service) => routes_naming(&endpoint_routes, slice.namespace(), service),
                None => Vec::new(),
            }
        });
    // A DeploymentConfig wakes the Routes whose traffic shift follows it (a completed rollout
    // starts the shift).
    let shift_routes = route_store.clone();
    let dcs = shared.deployment_configs.clone();
    let dc_wakes = shared.dc_changes.flat_map(move |(ns, name)| {
        futures::stream::iter(routes_following(&shift_routes, &dcs, &ns, &name))
    });
    controller = controller.reconcile_on(dc_wakes);
    // A Gateway that comes, goes or changes (listeners, addresses) wakes the Routes it parents:
    // a Route applied before its Gateway is served once the Gateway arrives, not at the resync.
    let gateway_routes = route_store.clone();
    let default_gateway = scope.default_gateway.clone();
    let gateway_wakes = gateway_changes.flat_map(move |(ns, name)| {
        let woken: Vec<ObjectRef<Route>> = gateway_routes
            .state()
            .into_iter()
            .filter(|r| {
                let own = r.namespace().unwrap_or_default();
                crate::route::GatewayRef::of_route(r, default_gateway.as_ref())
                    .is_some_and(|g| g.names(&own, &ns, &name))
            })
            .map(|r| ObjectRef::from(r.as_ref()))
            .collect();
        futures::stream::iter(woken)
    });
    controller = controller.reconcile_on(gateway_wakes);
    // A Route that comes, goes or changes host wakes the Routes that may now win or lose the
    // host: those sharing its host, and those refused because another held theirs.
    let domain = scope.route_domain.clone();
    let claim_wakes = route_changes.flat_map(move |changed: Route| {
        let host_of = |r: &Route| {
            crate::route::host::effective_host(r, domain.as_deref())
                .ok()
                .map(|h| crate::route::host::claim_key(r, &h.name))
        };
        let key = host_of(&changed);
        let woken: Vec<ObjectRef<Route>> = route_store
            .state()
            .into_iter()
            .filter(|r| r.metadata.uid != changed.metadata.uid)
            .filter(|r| {
                let refused = r.status.as_ref().is_some_and(|s| {
                    s.ingress
                        .iter()
                        .flat_map(|i| &i.conditions)
                        .any(|c| c.reason == crate::api::conditions::route::HOST_ALREADY_CLAIMED)
                });
                refused || (key.is_some() && host_of(r) == key)
            })
            .map(|r| ObjectRef::from(r.as_ref()))
            .collect();
        futures::stream::iter(woken)
    });
    controller = controller.reconcile_on(claim_wakes);
    controller
        .graceful_shutdown_on(shutdown)
        .run(
            |route, ctx: Arc<RouteContext>| async move {
                let metrics = ctx.metrics.clone();
                timed(&metrics, "route", route_reconcile::reconcile(route, ctx)).await
            },
            route_reconcile::error_policy,
            ctx,
        )
        .for_each(log_result)
        .await;
}
