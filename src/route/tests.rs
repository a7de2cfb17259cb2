//! Route planning, case by case: each rung that refuses, the listeners each termination may use,
//! the objects of certificates and re-encrypt, and Admitted from what the Gateway reported.

use super::*;
use crate::api::route::{
    LocalObjectReference, RoutePort, RouteSpec, RouteTargetReference, TlsConfig,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn service(name: &str, ports: Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"ports": ports}}))
        .expect("service")
}

fn target(name: &str, weight: Option<i32>) -> RouteTargetReference {
    RouteTargetReference {
        kind: "Service".into(),
        name: name.into(),
        weight,
    }
}

fn route(spec: RouteSpec) -> Route {
    let mut r = Route::new("shop", spec);
    r.metadata.namespace = Some("ns".into());
    r.metadata.uid = Some("uid-r".into());
    r
}

fn hosted(spec: RouteSpec) -> Route {
    route(RouteSpec {
        host: Some("shop.example.com".into()),
        ..spec
    })
}

fn tls(termination: &str, insecure: Option<&str>) -> Option<TlsConfig> {
    Some(TlsConfig {
        termination: termination.into(),
        insecure_edge_termination_policy: insecure.map(Into::into),
        ..Default::default()
    })
}

/// infra/public: HTTP on 80, HTTPS on 443 for *.example.com, TLS passthrough on 8443.
fn gateway(allowed_listeners: &str) -> Gateway {
    Gateway::from_json(
        "infra",
        "public",
        &json!({
            "spec": {
                "allowedListeners": {"namespaces": {"from": allowed_listeners}},
                "listeners": [
                    {"name": "web", "protocol": "HTTP", "port": 80},
                    {"name": "websecure", "protocol": "HTTPS", "port": 443, "hostname": "*.example.com"},
                    {"name": "passthrough", "protocol": "TLS", "port": 8443, "tls": {"mode": "Passthrough"}}
                ]
            },
            "status": {"addresses": [{"value": "203.0.113.7"}]}
        }),
    )
}

fn inputs<'a>(r: &'a Route, services: Vec<&'a Service>) -> Inputs<'a> {
    Inputs {
        route: r,
        services,
        without_endpoints: vec![],
        gateway_ref: GatewayRef::parse("infra/public"),
        gateway: Some(gateway("None")),
        routes: vec![r],
        domain: None,
        apis: Apis::ALL,
        applied: None,
        now: Timestamp::UNIX_EPOCH,
    }
}

fn admitted(p: &Plan) -> (&str, &str) {
    let c = &p.status.ingress[0].conditions[0];
    (c.status.as_str(), c.reason.as_str())
}

fn sections(object: &Value) -> Vec<String> {
    object["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}/{}",
                p["kind"].as_str().unwrap_or(""),
                p["sectionName"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn kinds(p: &Plan) -> Vec<String> {
    p.objects
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The main route as a Gateway that accepted it would leave it.
fn accepted(p: &Plan) -> Value {
    let mut applied = p.main().expect("main route").clone();
    applied["metadata"]["generation"] = json!(2);
    let parents: Vec<Value> = applied["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| json!({"parentRef": r, "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 2},
            {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs", "observedGeneration": 2}]}))
        .collect();
    applied["status"] = json!({"parents": parents});
    applied
}

#[test]
fn weighted_backends_in_the_routes_proportions_on_the_http_listener() {
    let a = service(
        "a",
        json!([{"name": "http", "port": 80, "targetPort": 8080}]),
    );
    let b = service(
        "b",
        json!([{"name": "http", "port": 80, "targetPort": 8080}]),
    );
    let r = hosted(RouteSpec {
        path: Some("/api".into()),
        to: target("a", Some(90)),
        alternate_backends: Some(vec![target("b", Some(10))]),
        port: Some(RoutePort {
            target_port: IntOrString::Int(8080),
        }),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a, &b]));
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    let obj = p.main().expect("an HTTPRoute");
    assert_eq!(obj["spec"]["hostnames"], json!(["shop.example.com"]));
    assert_eq!(
        obj["spec"]["parentRefs"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "public", "sectionName": "web"}])
    );
    assert_eq!(
        obj["spec"]["rules"][0]["matches"][0]["path"],
        json!({"type": "PathPrefix", "value": "/api"})
    );
    let refs = &obj["spec"]["rules"][0]["backendRefs"];
    assert_eq!(
        refs[0],
        json!({"group": "", "kind": "Service", "name": "a", "port": 80, "weight": 90})
    );
    assert_eq!(refs[1]["weight"], 10);
    assert_eq!(obj["metadata"]["ownerReferences"][0]["kind"], "Route");
    assert_eq!(p.status.services.as_deref(), Some("a(90.0%),b(10.0%)"));
    assert_eq!(admitted(&p), ("Unknown", "Pending"));
    assert_eq!(
        p.status.ingress[0].router_canonical_hostname.as_deref(),
        Some("203.0.113.7")
    );
    // Admitted once the Gateway accepted the route.
    let applied = accepted(&p);
    let p = plan(&Inputs {
        applied: Some(&applied),
        ..inputs(&r, vec![&a, &b])
    });
    assert_eq!(admitted(&p), ("True", ""));
}

#[test]
fn ports_resolve_by_number_name_or_first() {
    let s = service(
        "a",
        json!([{"name": "metrics", "port": 9090}, {"name": "web", "port": 80, "targetPort": "http"}]),
    );
    assert_eq!(service_port(&s, None), Some(9090));
    assert_eq!(
        service_port(&s, Some(&IntOrString::String("web".into()))),
        Some(80)
    );
    assert_eq!(
        service_port(&s, Some(&IntOrString::String("http".into()))),
        Some(80)
    );
    assert_eq!(service_port(&s, Some(&IntOrString::Int(9090))), Some(9090));
    assert_eq!(service_port(&s, Some(&IntOrString::Int(1234))), None);
}

#[test]
fn a_missing_service_gets_no_traffic_and_says_why_unless_its_weight_is_zero() {
    let a = service("a", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        alternate_backends: Some(vec![target("gone", Some(50))]),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    let refs = &p.main().expect("route")["spec"]["rules"][0]["backendRefs"];
    assert_eq!(refs.as_array().map(Vec::len), Some(1));
    assert_eq!(admitted(&p), ("False", "BackendNotFound"));
    assert!(
        p.status.ingress[0].conditions[0]
            .message
            .contains("service \"gone\" not found")
    );
    assert_eq!(p.status.services.as_deref(), Some("a(100.0%),gone(0.0%)"));

    // OpenShift routes around a missing Service that gets no traffic anyway.
    let r = hosted(RouteSpec {
        to: target("a", None),
        alternate_backends: Some(vec![target("gone", Some(0))]),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    let applied = accepted(&p);
    let p = plan(&Inputs {
        applied: Some(&applied),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("True", ""));
}

#[test]
fn a_backend_without_ready_endpoints_gets_no_share() {
    let a = service("a", json!([{"port": 80}]));
    let b = service("b", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", Some(50)),
        alternate_backends: Some(vec![target("b", Some(50))]),
        ..Default::default()
    });
    let p = plan(&Inputs {
        without_endpoints: vec!["b"],
        ..inputs(&r, vec![&a, &b])
    });
    let refs = &p.main().expect("route")["spec"]["rules"][0]["backendRefs"];
    assert_eq!(
        (refs[0]["weight"].clone(), refs[1]["weight"].clone()),
        (json!(50), json!(0))
    );
    assert_eq!(p.status.services.as_deref(), Some("a(100.0%),b(0.0%)"));
    assert_eq!(
        p.status.backends[1].weight, 50,
        "the Route's weight is still shown"
    );
}

#[test]
fn all_weights_zero_is_valid_and_sends_nothing() {
    let a = service("a", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", Some(0)),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(p.objects.len(), 1);
    assert_eq!(p.status.backends[0].percent, "0.0");
}

#[test]
fn edge_routes_attach_to_https_only_unless_allowed_and_redirect_with_a_302() {
    let a = service("a", json!([{"port": 80}]));
    let with = |insecure| {
        hosted(RouteSpec {
            to: target("a", None),
            tls: tls("edge", insecure),
            ..Default::default()
        })
    };
    let r = with(None);
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    assert_eq!(
        sections(&p.objects[0]),
        ["Gateway/websecure"],
        "never plain HTTP"
    );

    let r = with(Some("Allow"));
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(
        sections(&p.objects[0]),
        ["Gateway/websecure", "Gateway/web"]
    );

    let r = with(Some("Redirect"));
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(kinds(&p), ["HTTPRoute shop", "HTTPRoute shop-redirect"]);
    assert_eq!(sections(&p.objects[0]), ["Gateway/websecure"]);
    let redirect = &p.objects[1];
    assert_eq!(sections(redirect), ["Gateway/web"]);
    assert_eq!(
        redirect["spec"]["rules"][0]["filters"],
        json!([{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 302}}])
    );
    assert!(redirect["spec"]["rules"][0]["backendRefs"].is_null());
}

#[test]
fn a_tls_route_without_an_https_listener_for_its_host_is_refused_not_downgraded() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        host: Some("shop.other.test".into()),
        to: target("a", None),
        tls: tls("edge", Some("Allow")),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert!(p.objects.is_empty());
    assert_eq!(admitted(&p), ("False", "NoMatchingListener"));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "Gateway infra/public has no HTTPS listener for host shop.other.test: a TLS route is never served over plain HTTP"
    );
}

#[test]
fn a_routes_own_certificate_is_served_through_a_listener_set_when_the_gateway_allows() {
    let a = service("a", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        tls: Some(TlsConfig {
            termination: "edge".into(),
            certificate: Some(
                "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n".into(),
            ),
            key: Some("KEY".into()),
            ca_certificate: Some(
                "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----".into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    });
    let p = plan(&Inputs {
        gateway: Some(gateway("All")),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(
        kinds(&p),
        ["Secret shop-tls", "ListenerSet shop", "HTTPRoute shop"]
    );
    let secret = &p.objects[0];
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let chain = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        secret["data"]["tls.crt"].as_str().expect("crt"),
    )
    .expect("base64");
    assert_eq!(
        String::from_utf8_lossy(&chain),
        "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
        "the certificate, then its CA chain"
    );
    let set = &p.objects[1];
    assert_eq!(
        set["spec"]["parentRef"],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "public"})
    );
    assert_eq!(
        set["spec"]["listeners"][0],
        json!({"name": "https", "hostname": "shop.example.com", "port": 443, "protocol": "HTTPS",
               "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": "shop-tls"}]},
               "allowedRoutes": {"namespaces": {"from": "Same"}}})
    );
    assert_eq!(sections(&p.objects[2]), ["ListenerSet/https"]);

    // An externalCertificate is referenced where it is, not copied.
    let mut external = r.clone();
    if let Some(t) = external.spec.tls.as_mut() {
        t.certificate = None;
        t.key = None;
        t.external_certificate = Some(LocalObjectReference {
            name: "shop-cert".into(),
        });
    }
    let p = plan(&Inputs {
        gateway: Some(gateway("All")),
        ..inputs(&external, vec![&a])
    });
    assert_eq!(kinds(&p), ["ListenerSet shop", "HTTPRoute shop"]);
    assert_eq!(
        p.objects[0]["spec"]["listeners"][0]["tls"]["certificateRefs"][0]["name"],
        "shop-cert"
    );

    // A Gateway that accepts no ListenerSets: its own HTTPS listener, and the status says whose
    // certificate is served.
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    assert_eq!(sections(&p.objects[0]), ["Gateway/websecure"]);
    let applied = accepted(&p);
    let p = plan(&Inputs {
        applied: Some(&applied),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("True", ""));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "served with the certificate of Gateway infra/public listener websecure: the Gateway does not accept ListenerSets from namespace ns, so the route's own certificate is not used"
    );
}

#[test]
fn reencrypt_verifies_each_backend_against_the_destination_ca_or_the_system_trust() {
    let a = service("a", json!([{"port": 8443}]));
    let b = service("b", json!([{"port": 8443}]));
    let mut r = hosted(RouteSpec {
        to: target("a", Some(50)),
        alternate_backends: Some(vec![target("b", Some(50))]),
        tls: Some(TlsConfig {
            termination: "reencrypt".into(),
            destination_ca_certificate: Some("PEM".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a, &b]));
    assert_eq!(
        kinds(&p),
        [
            "ConfigMap shop-destination-ca",
            "BackendTLSPolicy shop-a",
            "BackendTLSPolicy shop-b",
            "HTTPRoute shop"
        ]
    );
    assert_eq!(p.objects[0]["data"], json!({"ca.crt": "PEM"}));
    assert_eq!(
        p.objects[1]["spec"],
        json!({"targetRefs": [{"group": "", "kind": "Service", "name": "a"}],
               "validation": {"hostname": "a.ns.svc",
                              "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "shop-destination-ca"}]}})
    );
    assert_eq!(sections(&p.objects[3]), ["Gateway/websecure"]);

    if let Some(t) = r.spec.tls.as_mut() {
        t.destination_ca_certificate = None;
    }
    let p = plan(&inputs(&r, vec![&a, &b]));
    assert_eq!(
        p.objects[0]["spec"]["validation"],
        json!({"hostname": "a.ns.svc", "wellKnownCACertificates": "System"})
    );

    let p = plan(&Inputs {
        apis: Apis {
            backend_tls_policies: false,
            ..Apis::ALL
        },
        ..inputs(&r, vec![&a, &b])
    });
    assert!(p.objects.is_empty());
    assert_eq!(admitted(&p), ("False", "BackendTLSPolicyNotServed"));
}

#[test]
fn passthrough_becomes_a_tls_route_on_the_passthrough_listener() {
    let a = service("a", json!([{"port": 443}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        tls: tls("passthrough", Some("Redirect")),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(p.kind, RouteKind::Tls);
    assert_eq!(kinds(&p), ["TLSRoute shop", "HTTPRoute shop-redirect"]);
    assert_eq!(sections(&p.objects[0]), ["Gateway/passthrough"]);
    assert_eq!(
        p.objects[0]["spec"]["hostnames"],
        json!(["shop.example.com"])
    );
}

#[test]
fn hosts_are_generated_from_the_domain_or_the_route_is_refused() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert!(
        p.objects.is_empty(),
        "a route without a host never matches every host"
    );
    assert_eq!(admitted(&p), ("False", "NoHostValue"));
    let p = plan(&Inputs {
        domain: Some("example.com"),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(p.generated_host.as_deref(), Some("shop-ns.example.com"));
    assert_eq!(
        p.objects[0]["spec"]["hostnames"],
        json!(["shop-ns.example.com"])
    );
    assert_eq!(
        p.status.ingress[0].host.as_deref(),
        Some("shop-ns.example.com")
    );
}

#[test]
fn a_newer_route_in_another_namespace_cannot_take_a_host() {
    let a = service("a", json!([{"port": 80}]));
    let mut old = hosted(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    old.metadata.namespace = Some("first".into());
    old.metadata.uid = Some("uid-old".into());
    old.metadata.creation_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    let mut new = old.clone();
    new.metadata.namespace = Some("second".into());
    new.metadata.uid = Some("uid-new".into());
    new.metadata.creation_timestamp = Some(Time(Timestamp::from_second(60).expect("time")));
    let p = plan(&Inputs {
        routes: vec![&old, &new],
        ..inputs(&new, vec![&a])
    });
    assert!(p.objects.is_empty());
    assert_eq!(admitted(&p), ("False", "HostAlreadyClaimed"));
    let p = plan(&Inputs {
        routes: vec![&old, &new],
        ..inputs(&old, vec![&a])
    });
    assert_eq!(p.objects.len(), 1);
}

#[test]
fn options_shape_the_rule_and_access_controls_refuse() {
    let a = service("a", json!([{"port": 80}]));
    let mut r = hosted(RouteSpec {
        to: target("a", None),
        http_headers: Some(json!({"actions": {"request": [
            {"name": "X-Env", "action": {"type": "Set", "set": {"value": "prod"}}}]}})),
        ..Default::default()
    });
    r.metadata.annotations = Some(
        [
            (options::TIMEOUT_ANNOTATION.to_string(), "90s".to_string()),
            (
                "haproxy.router.openshift.io/balance".into(),
                "source".into(),
            ),
        ]
        .into(),
    );
    let p = plan(&inputs(&r, vec![&a]));
    let rule = &p.objects[0]["spec"]["rules"][0];
    assert_eq!(rule["timeouts"], json!({"request": "1m30s"}));
    assert_eq!(rule["filters"][0]["type"], "RequestHeaderModifier");
    let unsupported = &p.status.ingress[0].conditions[1];
    assert_eq!(
        (unsupported.type_.as_str(), unsupported.status.as_str()),
        ("UnsupportedConfiguration", "True")
    );
    assert_eq!(
        unsupported.message,
        "not realised on a Gateway API data plane: haproxy.router.openshift.io/balance"
    );

    r.metadata.annotations.get_or_insert_default().insert(
        "haproxy.router.openshift.io/ip_allowlist".into(),
        "10.0.0.0/8".into(),
    );
    let p = plan(&inputs(&r, vec![&a]));
    assert!(p.objects.is_empty());
    assert_eq!(admitted(&p), ("False", "UnsupportedAccessControl"));
}

#[test]
fn admitted_follows_the_gateways_answer_for_the_current_generation() {
    let a = service("a", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    let mut applied = accepted(&p);
    applied["status"]["parents"][0]["conditions"][0] = json!({"type": "Accepted", "status": "False",
        "reason": "NotAllowedByListeners", "message": "namespace not allowed", "observedGeneration": 2});
    let p = plan(&Inputs {
        applied: Some(&applied),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("False", "GatewayNotAccepted"));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "Gateway infra/public listener web: NotAllowedByListeners: namespace not allowed"
    );
    // An answer about an older generation is no answer yet.
    applied["metadata"]["generation"] = json!(3);
    let p = plan(&Inputs {
        applied: Some(&applied),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("Unknown", "Pending"));
}

#[test]
fn refusals_say_why_and_keep_their_transition_time() {
    let a = service("a", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let at = |secs| Timestamp::from_second(secs).expect("valid");
    let p = plan(&Inputs {
        apis: Apis::default(),
        now: at(10),
        ..inputs(&r, vec![&a])
    });
    assert!(p.objects.is_empty());
    assert_eq!(admitted(&p), ("False", "GatewayAPINotInstalled"));
    assert_eq!(
        p.status.ingress[0].conditions[0].last_transition_time,
        Some(Time(at(10)))
    );
    let mut again = r.clone();
    again.status = Some(p.status.clone());
    let p2 = plan(&Inputs {
        apis: Apis::default(),
        now: at(20),
        ..inputs(&again, vec![&a])
    });
    assert_eq!(
        p2.status.ingress[0].conditions[0].last_transition_time,
        Some(Time(at(10)))
    );

    let p = plan(&Inputs {
        gateway_ref: None,
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("False", "NoParentGateway"));
    let p = plan(&Inputs {
        gateway: None,
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("False", "GatewayNotFound"));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "Gateway infra/public not found"
    );
}

#[test]
fn subdomain_wildcards_match_the_domain() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        host: Some("www.example.com".into()),
        wildcard_policy: Some("Subdomain".into()),
        to: target("a", None),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(p.objects[0]["spec"]["hostnames"], json!(["*.example.com"]));
}
