//! The Route controller's wiring. A Route is woken by its own changes; by the objects it owns
//! (Gateway API routes, ListenerSets, BackendTLSPolicies, certificate Secrets, CA ConfigMaps,
//! TraefikServices); by a Service it names or that Service's EndpointSlices; by its parent
//! Gateway; by another Route that may win or lose its host; and by the DeploymentConfig its
//! traffic shift follows.

use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::warn;

use crate::api::DeploymentConfig;
use crate::api::conditions::route::HOST_ALREADY_CLAIMED;
use crate::api::keys::TRAFFIC_SHIFT_ANNOTATION;
use crate::api::route::Route;
use crate::metrics::Metrics;
use crate::reconcile::events::Events;
use crate::reconcile::route::{self as route_reconcile, RouteContext, SERVICE_NAME_LABEL};
use crate::route::{backends, host, shift};

use super::Scope;
use super::gateway;
use super::wiring::{api, concerned, drive, every, reflected, woken};

/// What the Route controller shares with the DeploymentConfig controller: its cache of
/// DeploymentConfigs and their changes, and the event recorder.
pub(super) struct Shared {
    pub deployment_configs: Store<DeploymentConfig>,
    /// `(namespace, name)` of each DeploymentConfig that changed.
    pub dc_changes: mpsc::UnboundedReceiver<(String, String)>,
    pub events: Events,
}

/// Runs the Route controller until `shutdown`.
pub(super) async fn run(
    client: Client,
    scope: Scope,
    shared: Shared,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let apis = gateway::served_apis(&client).await;
    if !apis.routes {
        warn!("the cluster does not serve the Gateway API: Routes will say so in their status");
    }
    let (services, service_events) = reflected(
        scope
            .served
            .watch(api::<Service>(&client, &scope), watcher::Config::default()),
        (),
    );
    let (endpoints, endpoint_events) = reflected(
        scope.served.watch(
            api::<EndpointSlice>(&client, &scope),
            watcher::Config::default().labels(SERVICE_NAME_LABEL),
        ),
        (),
    );
    let (routes, route_stream, route_changes) = watch_routes(&client, &scope, &metrics);
    let mut controller = Controller::for_stream(route_stream, routes.clone());
    let mut owned = Vec::new();
    for kind in gateway::owned(&client, &scope, apis) {
        controller = controller.owns_stream_with(kind.changes, kind.resource);
        owned.push((kind.kind, kind.store));
    }
    let (gateways, gateway_changes) = gateway::gateways(&client, &scope, apis);
    let ctx = Arc::new(RouteContext {
        gateways,
        deployment_configs: shared.deployment_configs.clone(),
        events: shared.events,
        written: Default::default(),
        gateway_classes: Default::default(),
        client: client.clone(),
        services,
        endpoints,
        routes: routes.clone(),
        owned,
        default_gateway: scope.default_gateway.clone(),
        domain: scope.route_domain.clone(),
        apis,
        metrics: metrics.clone(),
        backoff: Default::default(),
    });
    // A Service wakes every Route in its namespace that names it.
    let by_service = routes.clone();
    controller = controller
        .watches_stream(service_events.touched_objects(), move |svc: Service| {
            naming(&by_service, svc.namespace(), &svc.name_any())
        });
    // An EndpointSlice wakes the Routes naming its Service (a backend gained or lost ready pods:
    // admission and a shift waiting for capacity read them).
    let by_endpoints = routes.clone();
    controller = controller.watches_stream(
        endpoint_events.touched_objects(),
        move |slice: EndpointSlice| match slice.labels().get(SERVICE_NAME_LABEL) {
            Some(service) => naming(&by_endpoints, slice.namespace(), service),
            None => Vec::new(),
        },
    );
    // A DeploymentConfig wakes the Routes whose traffic shift follows it (a completed rollout
    // starts the shift, a rollback ends it).
    let (by_shift, dcs) = (routes.clone(), shared.deployment_configs);
    controller =
        controller.reconcile_on(shared.dc_changes.flat_map(move |(ns, name)| {
            futures::stream::iter(following(&by_shift, &dcs, &ns, &name))
        }));
    // A Gateway that comes, goes or changes (listeners, addresses) wakes the Routes it parents:
    // a Route applied before its Gateway is served once the Gateway arrives, not at the resync.
    let (by_gateway, default_gateway) = (routes.clone(), scope.default_gateway.clone());
    controller = controller.reconcile_on(gateway_changes.flat_map(move |(ns, name)| {
        woken(&by_gateway, |r| {
            gateway::parents(r, default_gateway.as_ref(), &ns, &name)
        })
    }));
    // A Route that comes, goes or changes host wakes the Routes that may now win or lose the
    // host: those sharing its host, and those refused because another held theirs.
    let domain = scope.route_domain.clone();
    controller = controller.reconcile_on(route_changes.flat_map(move |changed: Route| {
        let domain = domain.as_deref();
        let key = claim(&changed, domain);
        woken(&routes, |r| {
            r.metadata.uid != changed.metadata.uid
                && (refused_for_host(r) || (key.is_some() && claim(r, domain) == key))
        })
    }));
    drive(
        controller,
        "route",
        route_reconcile::reconcile,
        ctx,
        scope.served.clone(),
        None,
        metrics,
        shutdown,
    )
    .await;
}

/// The Routes, watched once: the cache, the controller's stream and each change after the
/// first list (which reconciles every Route anyway), deletions too, for the host-claim wakeups.
/// A Route that goes takes its shift's series out of the metrics.
fn watch_routes(
    client: &Client,
    scope: &Scope,
    metrics: &Arc<Metrics>,
) -> (
    Store<Route>,
    impl futures::Stream<Item = Result<Route, watcher::Error>> + Send + 'static,
    mpsc::UnboundedReceiver<Route>,
) {
    let (store, writer) = reflector::store::<Route>();
    let (changed, changes) = mpsc::unbounded::<Route>();
    let metrics = metrics.clone();
    // Every namespace's: host claims are cluster-wide (the oldest Route wins), whichever shard
    // serves each; a shard reconciles only its own.
    let stream = every(api::<Route>(client, scope), watcher::Config::default())
        .reflect(writer)
        .inspect(move |event| {
            if let Ok(watcher::Event::Delete(r)) = event {
                let ns = r.namespace().unwrap_or_default();
                metrics.shift_position(&ns, &r.name_any(), None);
            }
            if let Ok(watcher::Event::Apply(r) | watcher::Event::Delete(r)) = event {
                let _ = changed.unbounded_send(r.clone());
            }
        })
        .applied_objects();
    (store, stream, changes)
}

/// The Routes of namespace `ns` with `service` among their backends.
fn naming(routes: &Store<Route>, ns: Option<String>, service: &str) -> Vec<ObjectRef<Route>> {
    concerned(routes, |r| {
        r.namespace() == ns && backends(r).iter().any(|b| b.name == service)
    })
}

/// The key a Route's host is claimed under, when it has a host.
fn claim(route: &Route, domain: Option<&str>) -> Option<String> {
    host::effective_host(route, domain)
        .ok()
        .map(|h| host::claim_key(route, &h.name))
}

/// Whether `route` was refused because another Route held its host.
fn refused_for_host(route: &Route) -> bool {
    route.status.as_ref().is_some_and(|s| {
        s.ingress
            .iter()
            .flat_map(|i| &i.conditions)
            .any(|c| c.reason == HOST_ALREADY_CLAIMED)
    })
}

/// The Routes in `ns` whose traffic shift a change of DeploymentConfig `name` may move: it
/// follows that DeploymentConfig, which has completed a rollout newer than the shift ran for
/// (the shift starts) or been rolled back (a running shift ends).
/// Every status write of every DeploymentConfig asks, so the cheap tests come first.
fn following(
    routes: &Store<Route>,
    dcs: &Store<DeploymentConfig>,
    ns: &str,
    name: &str,
) -> Vec<ObjectRef<Route>> {
    let Some(dc) = dcs.get(&ObjectRef::new(name).within(ns)) else {
        return Vec::new();
    };
    let followed = shift::Followed::of(&dc);
    if !followed.complete && !followed.rollback {
        return Vec::new();
    }
    concerned(routes, |r| {
        r.namespace().as_deref() == Some(ns)
            && r.annotations()
                .get(TRAFFIC_SHIFT_ANNOTATION)
                .is_some_and(|text| text.contains(name))
            && followed.moves(shift::seen(
                r.status.as_ref().and_then(|s| s.shift.as_ref()),
                name,
            ))
            && shift::declared(r)
                .and_then(Result::ok)
                .is_some_and(|s| s.deployment_configs().any(|n| n == name))
    })
}
