//! What the Route controller watches of the Gateway API: which kinds the cluster serves, the
//! Gateways in scope, and the objects Routes own (by metadata only).

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::reconcile::route::{self as route_reconcile, GatewayCache, OWNED_KINDS};
use crate::route::manifest::TRAEFIK_GROUP;
use crate::route::{Apis, ROUTE_LABEL};

use super::Scope;
use super::wiring::{api_with, every, key_of, reflected};

/// Which Gateway API kinds the cluster serves at v1 (HTTPRoute; TLSRoute and ListenerSet are
/// standard since Gateway API v1.5, BackendTLSPolicy since v1.4), whether its HTTPRoute has
/// `sessionPersistence` and a mirror's `percent`, and whether Traefik's TraefikService is served.
pub(super) async fn served_apis(client: &Client) -> Apis {
    let Ok(group) = kube::discovery::oneshot::group(client, "gateway.networking.k8s.io").await
    else {
        return Apis::default();
    };
    let traefik_services = kube::discovery::oneshot::group(client, TRAEFIK_GROUP)
        .await
        .is_ok_and(|g| {
            g.versioned_resources("v1alpha1")
                .iter()
                .any(|(r, _)| r.kind == "TraefikService")
        });
    let rule = httproute_rule_schema(client).await;
    let serves = |kind: &str| {
        group
            .versioned_resources("v1")
            .iter()
            .any(|(r, _)| r.kind == kind)
    };
    Apis {
        routes: serves("HTTPRoute"),
        tls_routes: serves("TLSRoute"),
        listener_sets: serves("ListenerSet"),
        backend_tls_policies: serves("BackendTLSPolicy"),
        traefik_services,
        session_persistence: rule.pointer("/properties/sessionPersistence").is_some(),
        mirror_percent: rule
            .pointer("/properties/filters/items/properties/requestMirror/properties/percent")
            .is_some(),
    }
}

/// The schema of a rule of the installed HTTPRoute CRD's v1 (`Null`: not there, or the operator
/// may not read it). The standard channel lacks some fields the experimental one has, and the
/// API server prunes what its schema lacks: a field cutover writes must be in it.
async fn httproute_rule_schema(client: &Client) -> serde_json::Value {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(client.clone());
    let Ok(Some(crd)) = api.get_opt("httproutes.gateway.networking.k8s.io").await else {
        return serde_json::Value::Null;
    };
    crd.spec
        .versions
        .iter()
        .filter(|v| v.name == "v1")
        .filter_map(|v| v.schema.as_ref()?.open_api_v3_schema.as_ref())
        .filter_map(|s| serde_json::to_value(s).ok())
        .map(|s| s["properties"]["spec"]["properties"]["rules"]["items"].clone())
        .next()
        .unwrap_or_default()
}

/// The Gateways in the operator's scope, cached, and `(namespace, name)` of each that comes, goes
/// or changes. Only in scope: a namespace-scoped install has rights in its namespace alone (a
/// refused watch would hold every Route back), so a Gateway elsewhere, the default one too, is
/// read by GET and again at its Routes' resync.
pub(super) fn gateways(
    client: &Client,
    scope: &Scope,
    apis: Apis,
) -> (
    Option<GatewayCache>,
    futures::stream::BoxStream<'static, (String, String)>,
) {
    if !apis.routes {
        return (None, futures::stream::empty().boxed());
    }
    let ar = route_reconcile::resource("gateway.networking.k8s.io", "v1", "Gateway");
    let (store, events) = reflected(
        every(
            api_with::<DynamicObject>(client, scope, &ar),
            watcher::Config::default(),
        ),
        ar,
    );
    let cache = GatewayCache {
        namespace: scope.namespace.clone(),
        store,
    };
    let changes = events
        .touched_objects()
        .filter_map(|g| async move { g.ok().map(|g| key_of(&g)) })
        .boxed();
    (Some(cache), changes)
}

/// A Route's owned object, as cached: its metadata.
type Meta = PartialObjectMeta<DynamicObject>;

/// One kind of object Routes own, watched: its cache and its changes (for
/// `Controller::owns_stream_with`).
pub(super) struct OwnedKind {
    pub kind: &'static str,
    pub resource: kube::api::ApiResource,
    pub store: Store<Meta>,
    pub changes: futures::stream::BoxStream<'static, Result<Meta, watcher::Error>>,
}

/// The objects Routes own, each served kind watched by the Route label, by metadata: who owns
/// it is all that matters here (the applied route's status comes from the apply), and a Route's
/// certificate key never reaches the operator this way.
pub(super) fn owned(client: &Client, scope: &Scope, apis: Apis) -> Vec<OwnedKind> {
    OWNED_KINDS
        .into_iter()
        .filter(|(_, _, kind)| route_reconcile::served(apis, kind))
        .map(|(group, version, kind)| {
            let resource = route_reconcile::resource(group, version, kind);
            let (store, events) = reflected(
                scope.served.watch(
                    api_with::<Meta>(client, scope, &resource),
                    watcher::Config::default().labels(ROUTE_LABEL),
                ),
                resource.clone(),
            );
            OwnedKind {
                kind,
                resource,
                store,
                changes: events.touched_objects().boxed(),
            }
        })
        .collect()
}

/// Whether `gateway` (in namespace `gateway_ns`) parents `route`.
pub(super) fn parents(
    route: &crate::api::route::Route,
    default_gateway: Option<&crate::route::GatewayRef>,
    gateway_ns: &str,
    gateway: &str,
) -> bool {
    let own = route.namespace().unwrap_or_default();
    crate::route::GatewayRef::of_route(route, default_gateway)
        .is_some_and(|g| g.names(&own, gateway_ns, gateway))
}
