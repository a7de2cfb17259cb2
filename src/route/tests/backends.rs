//! Backends: weights in the Route's proportions, Service ports, and what a missing Service or
//! one without ready endpoints gets.

use super::*;

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
    assert_eq!(port_of(&s, None), Some(9090));
    assert_eq!(
        port_of(&s, Some(&IntOrString::String("web".into()))),
        Some(80)
    );
    assert_eq!(
        port_of(&s, Some(&IntOrString::String("http".into()))),
        Some(80)
    );
    assert_eq!(port_of(&s, Some(&IntOrString::Int(9090))), Some(9090));
    assert_eq!(port_of(&s, Some(&IntOrString::Int(1234))), None);
}

/// As OpenShift's router: a Route whose Service is missing is admitted (the data plane's word),
/// the missing backend gets no traffic, and a condition of its own says why.
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
    let applied = accepted(&p);
    let p = plan(&Inputs {
        applied: Some(&applied),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("True", ""));
    let resolved = &p.status.ingress[0].conditions[1];
    assert_eq!(
        (
            resolved.type_.as_str(),
            resolved.status.as_str(),
            resolved.reason.as_str(),
            resolved.message.as_str()
        ),
        (
            "ResolvedRefs",
            "False",
            "BackendNotFound",
            "service \"gone\" not found; those backends receive no traffic"
        )
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
    assert_eq!(p.status.ingress[0].conditions.len(), 1);
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
    assert_eq!(p.objects().len(), 1);
    assert_eq!(p.status.backends[0].percent, "0.0");
}

fn port_of(s: &Service, target: Option<&IntOrString>) -> Option<i32> {
    target_port(s, target).map(|p| p.port)
}
