//! The shell's cases: what is applied, checked, deleted and written, in which order, and what a
//! refusal on the way makes of the status.

use super::*;
use crate::api::conditions::route as reason;

const HTTPROUTES: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes";
const LISTENERSETS: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/ns/listenersets";
const SECRETS: &str = "/api/v1/namespaces/ns/secrets";
const CONFIGMAPS: &str = "/api/v1/namespaces/ns/configmaps";
const ROUTE: &str = "/apis/route.openshift.io/v1/namespaces/ns/routes/shop";

fn path(method: &str, collection: &str, name: &str) -> &'static str {
    Box::leak(format!("{method} {collection}/{name}").into_boxed_str())
}

/// The main route as a Gateway that accepted it on `infra/public` listener `section` leaves it.
fn accepted(section: &str) -> Value {
    let mut applied = object("HTTPRoute", "shop", "shop", "uid-shop");
    applied["metadata"]["generation"] = json!(1);
    let ok = |t: &str| json!({"type": t, "status": "True", "reason": t, "observedGeneration": 1});
    applied["status"] = json!({"parents": [{
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                      "namespace": "infra", "name": "public", "sectionName": section},
        "conditions": [ok("Accepted"), ok("ResolvedRefs")]
    }]});
    applied
}

/// A deletion the API server carries out.
fn deleted(collection: &str, name: &str) -> Exchange {
    (
        path("DELETE", collection, name),
        200,
        status(200, "deleted"),
    )
}

/// A deletion of what is already gone.
fn already_gone(collection: &str, name: &str) -> Exchange {
    (path("DELETE", collection, name), 404, not_found())
}

/// A write of the Route itself (its finalizers), answered with the Route.
fn route_write() -> Exchange {
    (
        Box::leak(format!("PATCH {ROUTE}").into_boxed_str()),
        200,
        serde_json::to_value(plain()).expect("route"),
    )
}

fn status_write() -> (&'static str, u16, Value) {
    (
        path("PATCH", ROUTE, "status"),
        200,
        serde_json::to_value(plain()).expect("route"),
    )
}

#[tokio::test]
async fn a_new_name_is_checked_then_applied_and_admitted_from_the_gateways_answer() {
    let (result, seen) = run(
        plain(),
        Cluster::default(),
        vec![
            (path("GET", HTTPROUTES, "shop"), 404, not_found()),
            (path("PATCH", HTTPROUTES, "shop"), 200, accepted("web")),
            status_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    let apply = &seen[1];
    assert_eq!(apply.content_type, "application/apply-patch+yaml");
    assert!(
        apply.query.contains("fieldManager=cutover"),
        "{}",
        apply.query
    );
    assert!(apply.query.contains("force=true"), "{}", apply.query);
    assert_eq!(
        apply.body["spec"]["rules"][0]["backendRefs"][0]["name"],
        "a"
    );
    let write = &seen[2];
    assert_eq!(write.content_type, "application/apply-patch+yaml");
    assert_eq!(admitted(&write.body).0, "True", "what the Gateway reported");
}

#[tokio::test]
async fn a_name_another_owner_holds_is_not_applied_and_the_route_is_refused() {
    let (result, seen) = run(
        plain(),
        Cluster {
            // The Route's own, from an earlier pass: it goes with the refusal.
            owned: vec![("ConfigMap", "shop-destination-ca", "uid-shop")],
            ..Cluster::default()
        },
        vec![
            (
                path("GET", HTTPROUTES, "shop"),
                200,
                object("HTTPRoute", "shop", "cart", "uid-cart"),
            ),
            deleted(CONFIGMAPS, "shop-destination-ca"),
            status_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    assert_eq!(seen[1].body["propagationPolicy"], "Background");
    assert_eq!(
        admitted(&seen[2].body),
        (
            "False".into(),
            reason::ROUTE_CONFLICT.into(),
            "HTTPRoute \"shop\" exists and belongs to Route cart: cutover does not change it"
                .into()
        )
    );
}

#[tokio::test]
async fn an_apply_the_api_server_refuses_stops_there_and_the_route_is_refused() {
    let message = "ListenerSet.gateway.networking.k8s.io \"shop\" is invalid: spec.listeners[0].hostname: Invalid value";
    let (result, seen) = run(
        with_certificate(None),
        Cluster {
            owned: vec![
                ("HTTPRoute", "shop", "uid-shop"),
                ("ListenerSet", "shop", "uid-shop"),
                ("Secret", "shop-tls", "uid-shop"),
            ],
            ..Cluster::default()
        },
        vec![
            (
                path("PATCH", SECRETS, "shop-tls"),
                200,
                object("Secret", "shop-tls", "shop", "uid-shop"),
            ),
            (
                path("PATCH", LISTENERSETS, "shop"),
                422,
                status(422, message),
            ),
            // The main route is never applied on a half-made ListenerSet; what the Route owned
            // goes, kind by kind.
            deleted(HTTPROUTES, "shop"),
            already_gone(LISTENERSETS, "shop"),
            deleted(SECRETS, "shop-tls"),
            status_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    let (status, why, said) = admitted(&seen[5].body);
    assert_eq!(
        (status.as_str(), why.as_str()),
        ("False", reason::ROUTE_APPLY_FAILED)
    );
    assert_eq!(said, format!("ListenerSet \"shop\" was refused: {message}"));
}

#[tokio::test]
async fn an_error_retrying_may_cure_is_an_error_not_a_refusal() {
    let (result, _) = run(
        plain(),
        Cluster {
            owned: vec![("HTTPRoute", "shop", "uid-shop")],
            ..Cluster::default()
        },
        vec![(
            path("PATCH", HTTPROUTES, "shop"),
            500,
            status(500, "etcd is away"),
        )],
    )
    .await;
    let Err(e) = result else {
        panic!("expected an error");
    };
    assert!(e.is_transient(), "{e}");
}

#[tokio::test]
async fn what_the_route_owns_and_no_longer_needs_is_deleted_and_gone_is_fine() {
    let (result, seen) = run(
        plain(),
        Cluster {
            owned: vec![
                ("HTTPRoute", "shop", "uid-shop"),
                ("ListenerSet", "shop", "uid-shop"),
                ("Secret", "shop-tls", "uid-shop"),
                // Another Route's: never touched.
                ("ConfigMap", "cart-destination-ca", "uid-cart"),
            ],
            ..Cluster::default()
        },
        vec![
            (path("PATCH", HTTPROUTES, "shop"), 200, accepted("web")),
            already_gone(LISTENERSETS, "shop"),
            deleted(SECRETS, "shop-tls"),
            status_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    assert_eq!(admitted(&seen[3].body).0, "True");
}

#[tokio::test]
async fn a_generated_host_is_written_guarded_by_the_resource_version_read() {
    let route = route(json!({"to": {"kind": "Service", "name": "a"}}));
    let (result, seen) = run(
        route,
        Cluster {
            owned: vec![("HTTPRoute", "shop", "uid-shop")],
            domain: Some("example.com"),
            ..Cluster::default()
        },
        vec![
            (path("PATCH", HTTPROUTES, "shop"), 200, accepted("web")),
            (
                ROUTE_PATCH,
                200,
                serde_json::to_value(plain()).expect("route"),
            ),
            status_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    assert_eq!(
        seen[0].body["spec"]["hostnames"],
        json!(["shop-ns.example.com"])
    );
    let host = &seen[1];
    assert_eq!(host.content_type, "application/merge-patch+json");
    assert!(
        host.query.contains("fieldManager=cutover-route-host"),
        "{}",
        host.query
    );
    assert_eq!(
        host.body,
        json!({"metadata": {"resourceVersion": "41",
                            "annotations": {"openshift.io/host.generated": "true"}},
               "spec": {"host": "shop-ns.example.com"}})
    );
}

const ROUTE_PATCH: &str = "PATCH /apis/route.openshift.io/v1/namespaces/ns/routes/shop";

#[tokio::test]
async fn names_are_checked_before_anything_is_applied_and_the_main_route_is_applied_last() {
    let (result, seen) = run(
        with_certificate(Some("Redirect")),
        Cluster::default(),
        vec![
            (path("GET", SECRETS, "shop-tls"), 404, not_found()),
            (path("GET", LISTENERSETS, "shop"), 404, not_found()),
            (path("GET", HTTPROUTES, "shop-redirect"), 404, not_found()),
            (path("GET", HTTPROUTES, "shop"), 404, not_found()),
            (
                path("PATCH", SECRETS, "shop-tls"),
                200,
                object("Secret", "shop-tls", "shop", "uid-shop"),
            ),
            (
                path("PATCH", LISTENERSETS, "shop"),
                200,
                object("ListenerSet", "shop", "shop", "uid-shop"),
            ),
            (
                path("PATCH", HTTPROUTES, "shop-redirect"),
                200,
                object("HTTPRoute", "shop-redirect", "shop", "uid-shop"),
            ),
            (path("PATCH", HTTPROUTES, "shop"), 200, accepted("https")),
            status_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    assert_eq!(
        seen[7].body["spec"]["parentRefs"][0]["kind"], "ListenerSet",
        "the main route attaches to the ListenerSet applied before it"
    );
}

const GATEWAYS: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/infra/gateways";
const GRANTS: &str = "/apis/gateway.networking.k8s.io/v1beta1/namespaces/ns/referencegrants";

/// `infra/public` taking no ListenerSet but letting cutover add listeners, with `extra` ones.
fn managed_gateway(extra: &[Value]) -> Value {
    let mut listeners = vec![
        json!({"name": "web", "protocol": "HTTP", "port": 80}),
        json!({"name": "websecure", "protocol": "HTTPS", "port": 443, "hostname": "*.example.com"}),
    ];
    listeners.extend(extra.iter().cloned());
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "public", "namespace": "infra", "resourceVersion": "7",
                     "annotations": {"cutover.io/manage-listeners": "true"}},
        "spec": {"listeners": listeners}
    })
}

/// The finalizer is written (guarded by the resourceVersion read) before the listener is applied
/// under the Route's own field manager, and the main route after both.
#[tokio::test]
async fn a_routes_listener_is_applied_under_its_own_field_manager_after_its_finalizer() {
    let (result, seen) = run(
        with_certificate(None),
        Cluster {
            gateway: Some(managed_gateway(&[])),
            ..Cluster::default()
        },
        vec![
            (path("GET", SECRETS, "shop-tls"), 404, not_found()),
            (path("GET", GRANTS, "shop-tls"), 404, not_found()),
            (path("GET", HTTPROUTES, "shop"), 404, not_found()),
            (
                path("PATCH", SECRETS, "shop-tls"),
                200,
                object("Secret", "shop-tls", "shop", "uid-shop"),
            ),
            (
                path("PATCH", GRANTS, "shop-tls"),
                200,
                object("ReferenceGrant", "shop-tls", "shop", "uid-shop"),
            ),
            route_write(),
            (path("PATCH", GATEWAYS, "public"), 200, managed_gateway(&[])),
            (
                path("PATCH", HTTPROUTES, "shop"),
                200,
                accepted("cutover.ns.shop"),
            ),
            status_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    let finalizer = &seen[5];
    assert_eq!(finalizer.content_type, "application/merge-patch+json");
    assert_eq!(
        finalizer.body["metadata"],
        json!({"resourceVersion": "41", "finalizers": ["route.cutover.io/gateway-listener"]})
    );
    let listener = &seen[6];
    assert_eq!(listener.content_type, "application/apply-patch+yaml");
    assert!(
        listener
            .query
            .contains("fieldManager=cutover-listener-uid-shop")
            && listener.query.contains("force=true"),
        "{}",
        listener.query
    );
    assert_eq!(
        listener.body["spec"]["listeners"][0]["name"],
        "cutover.ns.shop"
    );
    assert_eq!(
        seen[7].body["spec"]["parentRefs"][0]["sectionName"],
        "cutover.ns.shop"
    );
}

/// A Route being deleted: its listener taken off by a JSON patch that tests the entry's name at
/// the index read, then its finalizer; no status write.
#[tokio::test]
async fn a_deleted_route_takes_its_listener_off_then_lets_go() {
    let mut route = with_certificate(None);
    route.metadata.finalizers = Some(vec![
        "example.com/keep".into(),
        "route.cutover.io/gateway-listener".into(),
    ]);
    route.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::UNIX_EPOCH,
    ));
    let mine = json!({"name": "cutover.ns.shop", "protocol": "HTTPS", "port": 443, "hostname": "shop.example.com"});
    let (result, seen) = run(
        route,
        Cluster {
            gateway: Some(managed_gateway(std::slice::from_ref(&mine))),
            ..Cluster::default()
        },
        vec![
            (
                path("GET", GATEWAYS, "public"),
                200,
                managed_gateway(&[mine]),
            ),
            (path("PATCH", GATEWAYS, "public"), 200, managed_gateway(&[])),
            route_write(),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    let removal = &seen[1];
    assert_eq!(removal.content_type, "application/json-patch+json");
    assert_eq!(
        removal.body,
        json!([
            {"op": "test", "path": "/spec/listeners/2/name", "value": "cutover.ns.shop"},
            {"op": "remove", "path": "/spec/listeners/2"}
        ])
    );
    assert_eq!(
        seen[2].body["metadata"]["finalizers"],
        json!(["example.com/keep"]),
        "only cutover's finalizer goes"
    );
}
