//! Routes on the real cluster: the seed scenarios produce HTTPRoutes the API server's Gateway
//! API schema accepts, with the right weights and ports; status reports the shares; invalid
//! Routes are refused with their messages; the operator never touches a route it did not create.

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

pub(crate) fn http_routes(ns: &TestNamespace) -> Api<DynamicObject> {
    objects(ns, "gateway.networking.k8s.io", "v1", "HTTPRoute")
}

pub(crate) fn traefik_services(ns: &TestNamespace) -> Api<DynamicObject> {
    objects(ns, "traefik.io", "v1alpha1", "TraefikService")
}

fn objects(ns: &TestNamespace, group: &str, version: &str, kind: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(ns.client.clone(), &ns.name, &ar)
}

/// (name, weight, port) of each backend of the HTTPRoute's first rule: of its TraefikService
/// when it goes through one (a sticky weighted Route on Traefik).
pub(crate) async fn backend_weights(
    ns: &TestNamespace,
    name: &str,
) -> Option<Vec<(String, i64, i64)>> {
    let r = http_routes(ns).get_opt(name).await.ok()??;
    let mut refs = r.data["spec"]["rules"][0]["backendRefs"]
        .as_array()?
        .clone();
    if let [only] = refs.as_slice()
        && only["kind"] == "TraefikService"
    {
        let service = traefik_services(ns)
            .get_opt(only["name"].as_str()?)
            .await
            .ok()??;
        refs = service.data["spec"]["weighted"]["services"]
            .as_array()?
            .clone();
    }
    Some(
        refs.iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or("").to_string(),
                    b["weight"].as_i64().unwrap_or(-1),
                    b["port"].as_i64().unwrap_or(-1),
                )
            })
            .collect(),
    )
}

/// The parent Gateway of the tests' Routes (`--default-gateway <ns>/public`): one HTTP
/// listener. No implementation runs here, so it never answers: Admitted stays Unknown (the
/// data-plane tests run Traefik).
pub(crate) async fn gateway(ns: &TestNamespace) {
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public}\nspec:\n  gatewayClassName: none\n  listeners: [{name: web, protocol: HTTP, port: 80}]\n";
    let (ok, out) = apply(&ns.name, gw).await;
    assert!(ok, "{out}");
}

async fn route_status(ns: &TestNamespace, name: &str) -> Option<Value> {
    let (ok, out, _) = kubectl(&[
        "get",
        "route",
        name,
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.status}",
    ])
    .await;
    if !ok || out.is_empty() {
        return None;
    }
    serde_json::from_str(&out).ok()
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn blue_green_switches_all_traffic_to_blue() {
    let ns = TestNamespace::new("bluegreen").await;
    let _op = Operator::start(&ns.name);
    gateway(&ns).await;
    let yaml = std::fs::read_to_string(root().join("examples/bluegreen.yaml")).expect("example");
    let (ok, out) = apply(&ns.name, &yaml).await;
    assert!(ok, "the example applies unchanged: {out}");
    // Both backends (a Service that is not in the operator's cache yet has no backendRef until
    // its event wakes the Route), each with its weight once its pods are ready (until then it
    // has no servers and gets no share).
    let want: Vec<(String, i64, i64)> = vec![("green".into(), 100, 8080), ("blue".into(), 0, 8080)];
    eventually(
        "the HTTPRoute with both backends, green serving",
        MINUTE,
        || async { (backend_weights(&ns, "bluegreen-example").await? == want).then_some(()) },
    )
    .await;
    let r = http_routes(&ns)
        .get("bluegreen-example")
        .await
        .expect("route");
    assert_eq!(
        r.data["spec"]["hostnames"],
        json!(["bluegreen.example.com"])
    );
    assert_eq!(r.data["spec"]["parentRefs"][0]["name"], "public");
    assert_eq!(
        r.data["spec"]["parentRefs"][0]["sectionName"], "web",
        "a plain route attaches to the HTTP listener only"
    );
    assert_eq!(
        r.metadata
            .owner_references
            .as_ref()
            .map(|o| o[0].kind.as_str()),
        Some("Route")
    );

    let (ok, out, err) =
        dc_plugin(&ns.name, &["route", "switch", "bluegreen-example", "blue"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("blue") && out.contains("100.0%"), "{out}");
    // Blue's share waits for its pods to be ready (both weights are 0 until then, as a Route to
    // a Service without endpoints serves nothing).
    let want: Vec<(String, i64, i64)> = vec![("green".into(), 0, 8080), ("blue".into(), 100, 8080)];
    eventually("the switch in the HTTPRoute", MINUTE, || async {
        (backend_weights(&ns, "bluegreen-example").await? == want).then_some(())
    })
    .await;
    let status = eventually("the shares in status", MINUTE, || async {
        let s = route_status(&ns, "bluegreen-example").await?;
        (s["services"] == "green(0.0%),blue(100.0%)").then_some(s)
    })
    .await;
    // Admitted is the Gateway's to say, and no Gateway implementation runs here.
    let admitted = &status["ingress"][0]["conditions"][0];
    assert_eq!(admitted["type"], "Admitted");
    assert_eq!(
        (admitted["status"].as_str(), admitted["reason"].as_str()),
        (Some("Unknown"), Some("Pending"))
    );
    assert_eq!(
        admitted["message"],
        format!(
            "waiting for Gateway {}/public listener web to accept the route",
            ns.name
        )
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_b_moves_from_ninety_ten_to_all_b_and_a_missing_service_is_reported() {
    let ns = TestNamespace::new("ab").await;
    let _op = Operator::start(&ns.name);
    gateway(&ns).await;
    let yaml = std::fs::read_to_string(root().join("examples/ab.yaml")).expect("example");
    let (ok, out) = apply(&ns.name, &yaml).await;
    assert!(ok, "{out}");
    // Both backends (a Service that is not in the operator's cache yet has no backendRef until
    // its event wakes the Route), each with its weight once its pods are ready (until then it
    // has no servers and gets no share).
    let want: Vec<(String, i64, i64)> = vec![
        ("ab-example-a".into(), 90, 8080),
        ("ab-example-b".into(), 10, 8080),
    ];
    eventually("the HTTPRoute at 90/10 once both serve", MINUTE, || async {
        (backend_weights(&ns, "ab-example").await? == want).then_some(())
    })
    .await;
    let (ok, out, _) = dc_plugin(&ns.name, &["route", "show", "ab-example"]).await;
    assert!(ok);
    assert!(
        out.contains("ab-example-a                90   90.0%"),
        "{out}"
    );

    let (ok, _, err) = dc_plugin(
        &ns.name,
        &[
            "route",
            "set-weights",
            "ab-example",
            "ab-example-a=0",
            "ab-example-b=100",
        ],
    )
    .await;
    assert!(ok, "{err}");
    eventually("0/100", MINUTE, || async {
        let w = backend_weights(&ns, "ab-example").await?;
        (w[0].1 == 0 && w[1].1 == 100).then_some(())
    })
    .await;
    let (ok, _, err) = dc_plugin(&ns.name, &["route", "set-weights", "ab-example", "nope=5"]).await;
    assert!(!ok);
    assert!(
        err.contains("\"nope\" is not a backend of route \"ab-example\""),
        "{err}"
    );

    // Service A removed while its weight is 0: OpenShift routes around it, nothing to report;
    // B keeps all the traffic.
    let (ok, _, err) = kubectl(&["delete", "service", "ab-example-a", "-n", &ns.name]).await;
    assert!(ok, "{err}");
    let weights = eventually("only B in the HTTPRoute", MINUTE, || async {
        let w = backend_weights(&ns, "ab-example").await?;
        (w.len() == 1).then_some(w)
    })
    .await;
    assert_eq!(weights[0].0, "ab-example-b");
    let status = route_status(&ns, "ab-example").await.expect("status");
    assert_eq!(status["ingress"][0]["conditions"][0]["reason"], "Pending");
    // Given weight again, the missing Service is reported on a condition of its own; the Route
    // stays admitted as on OpenShift's router (the Gateway's word), and B still serves.
    let (ok, _, err) = dc_plugin(
        &ns.name,
        &[
            "route",
            "set-weights",
            "ab-example",
            "ab-example-a=50",
            "ab-example-b=50",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let status = eventually("BackendNotFound", MINUTE, || async {
        let s = route_status(&ns, "ab-example").await?;
        (s["ingress"][0]["conditions"][1]["reason"] == "BackendNotFound").then_some(s)
    })
    .await;
    let conditions = &status["ingress"][0]["conditions"];
    assert_eq!(
        (&conditions[1]["type"], &conditions[1]["status"]),
        (&json!("ResolvedRefs"), &json!("False"))
    );
    assert_eq!(
        conditions[1]["message"],
        "service \"ab-example-a\" not found; those backends receive no traffic"
    );
    assert_eq!(conditions[0]["type"], "Admitted");
    assert_ne!(conditions[0]["status"], "False", "not refused for it");
    assert_eq!(
        backend_weights(&ns, "ab-example").await.expect("route"),
        [("ab-example-b".to_string(), 50, 8080)]
    );

    // Deleting the Route deletes its HTTPRoute (owner reference, garbage collector).
    let (ok, _, err) = kubectl(&["delete", "route", "ab-example", "-n", &ns.name]).await;
    assert!(ok, "{err}");
    eventually("the HTTPRoute gone", MINUTE, || async {
        http_routes(&ns)
            .get_opt("ab-example")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn invalid_routes_are_refused_and_foreign_http_routes_untouched() {
    let ns = TestNamespace::new("route-admission").await;
    let _op = Operator::start(&ns.name);
    gateway(&ns).await;
    let route = |spec: &str| {
        format!(
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata:\n  name: r\nspec:\n{spec}\n"
        )
    };
    let cases = [
        ("  to: {kind: Deployment, name: a}", "must be Service"),
        ("  to: {name: a, weight: 300}", "weight"),
        ("  path: api\n  to: {name: a}", "path must begin with /"),
        (
            "  to: {name: a}\n  alternateBackends: [{name: b}, {name: c}, {name: d}, {name: e}]",
            "alternateBackends",
        ),
        (
            "  host: db.example.com\n  path: /x\n  tls: {termination: passthrough}\n  to: {name: a}",
            "passthrough termination does not support paths",
        ),
        (
            "  to: {name: a}\n  tls: {termination: passthrough, certificate: x}",
            "passthrough termination does not support certificates",
        ),
        (
            "  to: {name: a}\n  tls: {termination: bogus}",
            "termination must be edge, passthrough or reencrypt",
        ),
        (
            "  to: {name: a}\n  port: {targetPort: 0}",
            "targetPort must be a port number or name",
        ),
    ];
    for (spec, message) in cases {
        let (ok, out) = apply(&ns.name, &route(spec)).await;
        assert!(!ok, "accepted: {spec}");
        assert!(out.contains(message), "expected {message:?} in {out}");
    }
    // The Route of OpenShift's "alternate backends and weights" documentation, verbatim.
    let docs = "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata:\n  name: route-alternate-service\n  annotations:\n    haproxy.router.openshift.io/balance: roundrobin\nspec:\n  host: ab-example.my-project.my-domain\n  to:\n    kind: Service\n    name: ab-example-a\n    weight: 10\n  alternateBackends:\n  - kind: Service\n    name: ab-example-b\n    weight: 15\n";
    let (ok, out) = apply(&ns.name, docs).await;
    assert!(ok, "the documented Route applies unchanged: {out}");

    // An HTTPRoute someone else made, with the Route's name: left alone, and the Route says why.
    let foreign = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: taken\nspec:\n  parentRefs: [{name: other}]\n";
    let (ok, out) = apply(&ns.name, foreign).await;
    assert!(ok, "{out}");
    let (ok, out) = apply(
        &ns.name,
        &route("  to: {name: a}").replace("name: r", "name: taken"),
    )
    .await;
    assert!(ok, "{out}");
    eventually("RouteConflict", MINUTE, || async {
        let s = route_status(&ns, "taken").await?;
        (s["ingress"][0]["conditions"][0]["reason"] == "RouteConflict").then_some(())
    })
    .await;
    let (_, host, _) = kubectl(&[
        "get",
        "route",
        "taken",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.spec.host}",
    ])
    .await;
    assert_eq!(
        host,
        format!("taken-{}.apps.test", ns.name),
        "the generated host is written"
    );
    let r = http_routes(&ns).get("taken").await.expect("foreign route");
    assert_eq!(
        r.data["spec"]["parentRefs"][0]["name"], "other",
        "not patched"
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_routes_own_certificate_becomes_a_secret_and_a_listener_set_and_goes_with_it() {
    let ns = TestNamespace::new("route-cert").await;
    let _op = Operator::start(&ns.name);
    // A Gateway that accepts ListenerSets from its namespace, with HTTP and HTTPS listeners.
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public}\nspec:\n  gatewayClassName: none\n  allowedListeners: {namespaces: {from: Same}}\n  listeners:\n  - {name: web, protocol: HTTP, port: 80}\n  - {name: websecure, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: wildcard}]}}\n";
    let (ok, out) = apply(&ns.name, gw).await;
    assert!(ok, "{out}");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["store.apps.test".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let pem = |s: &str| {
        s.lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let route = format!(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {{name: store}}\nspec:\n  host: store.apps.test\n  to: {{name: web}}\n  tls:\n    termination: edge\n    insecureEdgeTerminationPolicy: Redirect\n    certificate: |\n{}\n    key: |\n{}\n",
        pem(&cert.pem()),
        pem(&key.serialize_pem())
    );
    let (ok, out) = apply(&ns.name, &route).await;
    assert!(ok, "{out}");

    let listener_sets = Api::<DynamicObject>::namespaced_with(
        ns.client.clone(),
        &ns.name,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "gateway.networking.k8s.io",
            "v1",
            "ListenerSet",
        )),
    );
    // The API server accepted the ListenerSet as cutover wrote it.
    let set = eventually("the ListenerSet", MINUTE, || async {
        listener_sets.get_opt("store").await.ok()?
    })
    .await;
    assert_eq!(set.data["spec"]["parentRef"]["name"], "public");
    assert_eq!(
        set.data["spec"]["listeners"][0]["hostname"],
        "store.apps.test"
    );
    assert_eq!(set.data["spec"]["listeners"][0]["port"], 443);
    assert_eq!(
        set.data["spec"]["listeners"][0]["tls"]["certificateRefs"][0]["name"],
        "store-tls"
    );
    let (ok, out, _) = kubectl(&[
        "get",
        "secret",
        "store-tls",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.type}",
    ])
    .await;
    assert!(ok, "the certificate's Secret");
    assert_eq!(out, "kubernetes.io/tls");
    let main = eventually("the HTTPRoute on the ListenerSet", MINUTE, || async {
        http_routes(&ns).get_opt("store").await.ok()?
    })
    .await;
    assert_eq!(
        main.data["spec"]["parentRefs"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "ListenerSet", "namespace": ns.name, "name": "store", "sectionName": "https"}])
    );
    let redirect = eventually("the redirect route", MINUTE, || async {
        http_routes(&ns).get_opt("store-redirect").await.ok()?
    })
    .await;
    assert_eq!(redirect.data["spec"]["parentRefs"][0]["sectionName"], "web");
    assert_eq!(
        redirect.data["spec"]["rules"][0]["filters"][0]["requestRedirect"],
        json!({"scheme": "https", "statusCode": 302})
    );

    // Without its own certificate and redirect, the Route uses the Gateway's HTTPS listener and
    // leaves nothing behind.
    let (ok, _, err) = kubectl(&[
        "patch", "route", "store", "-n", &ns.name, "--type=json", "-p",
        r#"[{"op":"remove","path":"/spec/tls/certificate"},{"op":"remove","path":"/spec/tls/key"},{"op":"replace","path":"/spec/tls/insecureEdgeTerminationPolicy","value":"None"}]"#,
    ])
    .await;
    assert!(ok, "{err}");
    eventually("on the Gateway's HTTPS listener", MINUTE, || async {
        let r = http_routes(&ns).get_opt("store").await.ok()??;
        (r.data["spec"]["parentRefs"][0]["sectionName"] == "websecure").then_some(())
    })
    .await;
    eventually(
        "the Secret, ListenerSet and redirect gone",
        MINUTE,
        || async {
            let set = listener_sets.get_opt("store").await.ok()?;
            let redirect = http_routes(&ns).get_opt("store-redirect").await.ok()?;
            let (secret, _, _) = kubectl(&["get", "secret", "store-tls", "-n", &ns.name]).await;
            (set.is_none() && redirect.is_none() && !secret).then_some(())
        },
    )
    .await;

    // The example applies unchanged: edge with a redirect, HSTS, a timeout and a header action.
    let yaml = std::fs::read_to_string(root().join("examples/tls-routes.yaml")).expect("example");
    let (ok, out) = apply(&ns.name, &yaml).await;
    assert!(ok, "{out}");
    let shop = eventually("the example's HTTPRoute", MINUTE, || async {
        http_routes(&ns).get_opt("shop").await.ok()?
    })
    .await;
    let rule = &shop.data["spec"]["rules"][0];
    assert_eq!(rule["timeouts"], json!({"request": "30s"}));
    assert_eq!(
        rule["filters"][0]["responseHeaderModifier"]["set"],
        json!([{"name": "Strict-Transport-Security", "value": "max-age=31536000;includeSubDomains"},
               {"name": "X-Frame-Options", "value": "DENY"}])
    );
    ns.cleanup().await;
}

/// A Route applied before its Gateway (a GitOps sync applies them in no fixed order) is refused
/// until the Gateway exists, and served as soon as it does: the Gateway's arrival wakes it,
/// well before the five-minute resync.
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_route_applied_before_its_gateway_is_served_when_the_gateway_arrives() {
    let ns = TestNamespace::new("gateway-later").await;
    let _op = Operator::start(&ns.name);
    let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 8080}]}\n---\napiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: web}\nspec:\n  host: web.example.com\n  to: {kind: Service, name: web}\n";
    let (ok, out) = apply(&ns.name, yaml).await;
    assert!(ok, "{out}");
    let refused = eventually("refused: no Gateway", MINUTE, || async {
        let status = route_status(&ns, "web").await?;
        let c = status["ingress"][0]["conditions"][0].clone();
        (c["reason"] == "GatewayNotFound").then_some(c)
    })
    .await;
    assert_eq!(refused["status"], "False");
    assert_eq!(
        refused["message"],
        format!("Gateway {}/public not found", ns.name)
    );

    gateway(&ns).await;
    eventually(
        "the HTTPRoute, once the Gateway exists",
        Duration::from_secs(30),
        || async { http_routes(&ns).get_opt("web").await.ok()?.map(|_| ()) },
    )
    .await;
    ns.cleanup().await;
}

/// A Route may name a Gateway outside the operator's scope (here, a namespace-scoped operator and
/// a Gateway in another namespace): it is read from the API server rather than the cache.
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_gateway_outside_the_operators_scope_is_read_and_parents_the_route() {
    let ns = TestNamespace::new("gateway-elsewhere").await;
    let shared = TestNamespace::new("gateway-shared").await;
    let _op = Operator::start(&ns.name);
    gateway(&shared).await;
    let yaml = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec: {{ports: [{{port: 8080}}]}}\n---\napiVersion: route.openshift.io/v1\nkind: Route\nmetadata:\n  name: web\n  annotations: {{cutover.io/gateway: {}/public}}\nspec:\n  host: web.example.com\n  to: {{kind: Service, name: web}}\n",
        shared.name
    );
    let (ok, out) = apply(&ns.name, &yaml).await;
    assert!(ok, "{out}");
    let r = eventually("the HTTPRoute under the shared Gateway", MINUTE, || async {
        http_routes(&ns).get_opt("web").await.ok()?
    })
    .await;
    assert_eq!(r.data["spec"]["parentRefs"][0]["name"], "public");
    assert_eq!(r.data["spec"]["parentRefs"][0]["namespace"], shared.name);
    ns.cleanup().await;
    shared.cleanup().await;
}

/// Extended validation, as OpenShift's router: an edge Route whose key does not match its
/// certificate is refused with the router's words, nothing is served for it (no HTTPRoute, no
/// Secret); with the matching key it is realised.
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_route_with_a_key_that_does_not_match_its_certificate_is_refused() {
    let ns = TestNamespace::new("route-extval").await;
    let _op = Operator::start(&ns.name);
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public}\nspec:\n  gatewayClassName: none\n  listeners:\n  - {name: web, protocol: HTTP, port: 80}\n  - {name: websecure, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: wildcard}]}}\n";
    let (ok, out) = apply(&ns.name, gw).await;
    assert!(ok, "{out}");
    let key = rcgen::KeyPair::generate().expect("key");
    let other = rcgen::KeyPair::generate().expect("another key");
    let cert = rcgen::CertificateParams::new(vec!["shop.apps.test".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let indent = |s: &str| {
        s.lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let route = |key: &rcgen::KeyPair| {
        format!(
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {{name: shop}}\nspec:\n  host: shop.apps.test\n  to: {{name: web}}\n  tls:\n    termination: edge\n    certificate: |\n{}\n    key: |\n{}\n",
            indent(&cert.pem()),
            indent(&key.serialize_pem())
        )
    };
    let (ok, out) = apply(&ns.name, &route(&other)).await;
    assert!(ok, "{out}");
    let status = eventually("ExtendedValidationFailed", MINUTE, || async {
        let s = route_status(&ns, "shop").await?;
        (s["ingress"][0]["conditions"][0]["reason"] == "ExtendedValidationFailed").then_some(s)
    })
    .await;
    let admitted = &status["ingress"][0]["conditions"][0];
    assert_eq!(admitted["status"], "False");
    assert_eq!(
        admitted["message"],
        "spec.tls.key: Invalid value: \"redacted key data\": tls: private key does not match public key"
    );
    assert!(
        http_routes(&ns)
            .get_opt("shop")
            .await
            .expect("get")
            .is_none()
    );

    let (ok, out) = apply(&ns.name, &route(&key)).await;
    assert!(ok, "{out}");
    eventually("realised with the matching key", MINUTE, || async {
        http_routes(&ns).get_opt("shop").await.ok()?
    })
    .await;
    ns.cleanup().await;
}
