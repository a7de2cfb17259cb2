//! Route planning, case by case.

use super::*;
use crate::api::route::{RoutePort, RouteSpec, RouteTargetReference, TlsConfig};
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

fn gw() -> Option<GatewayRef> {
    GatewayRef::parse("infra/public")
}

#[test]
fn weighted_backends_in_the_routes_proportions() {
    let a = service(
        "a",
        json!([{"name": "http", "port": 80, "targetPort": 8080}]),
    );
    let b = service(
        "b",
        json!([{"name": "http", "port": 80, "targetPort": 8080}]),
    );
    let r = route(RouteSpec {
        host: Some("shop.example.com".into()),
        path: Some("/api".into()),
        to: target("a", Some(90)),
        alternate_backends: Some(vec![target("b", Some(10))]),
        port: Some(RoutePort {
            target_port: IntOrString::Int(8080),
        }),
        ..Default::default()
    });
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a, &b],
        gateway: gw(),
        name_taken_by: None,
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    let obj = p.object.expect("an HTTPRoute");
    assert_eq!(obj["kind"], "HTTPRoute");
    assert_eq!(obj["spec"]["hostnames"], json!(["shop.example.com"]));
    assert_eq!(obj["spec"]["parentRefs"][0]["namespace"], "infra");
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
    assert_eq!(p.status.ingress[0].conditions[0].status, "True");
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
fn a_missing_service_gets_no_traffic_and_says_why() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        to: target("a", None),
        alternate_backends: Some(vec![target("gone", Some(50))]),
        ..Default::default()
    });
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a],
        gateway: gw(),
        name_taken_by: None,
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    let refs = &p.object.expect("route")["spec"]["rules"][0]["backendRefs"];
    assert_eq!(refs.as_array().map(Vec::len), Some(1));
    let c = &p.status.ingress[0].conditions[0];
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "BackendNotFound")
    );
    assert!(c.message.contains("service \"gone\" not found"));
    assert_eq!(p.status.services.as_deref(), Some("a(100.0%),gone(0.0%)"));
}

#[test]
fn all_weights_zero_is_valid_and_sends_nothing() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        to: target("a", Some(0)),
        ..Default::default()
    });
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a],
        gateway: gw(),
        name_taken_by: None,
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    assert_eq!(p.status.ingress[0].conditions[0].status, "True");
    assert_eq!(p.status.backends[0].percent, "0.0");
}

#[test]
fn passthrough_becomes_a_tls_route_and_needs_a_host() {
    let a = service("a", json!([{"port": 443}]));
    let tls = Some(TlsConfig {
        termination: "passthrough".into(),
        ..Default::default()
    });
    let r = route(RouteSpec {
        host: Some("db.example.com".into()),
        to: target("a", None),
        tls: tls.clone(),
        ..Default::default()
    });
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a],
        gateway: gw(),
        name_taken_by: None,
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    assert_eq!(p.kind, RouteKind::Tls);
    assert_eq!(
        p.object.expect("tls route")["spec"]["hostnames"],
        json!(["db.example.com"])
    );
    let r = route(RouteSpec {
        to: target("a", None),
        tls,
        ..Default::default()
    });
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a],
        gateway: gw(),
        name_taken_by: None,
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    assert!(p.object.is_none());
    assert_eq!(p.status.ingress[0].conditions[0].reason, "HostRequired");
}

#[test]
fn without_the_gateway_api_nothing_is_applied_and_the_route_says_why() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let at = |secs| Timestamp::from_second(secs).expect("valid");
    let inputs = |now| Inputs {
        route: &r,
        services: vec![&a],
        gateway: gw(),
        name_taken_by: None,
        gateway_api: false,
        now,
    };
    let p = plan(&inputs(at(10)));
    assert!(p.object.is_none());
    let c = &p.status.ingress[0].conditions[0];
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "GatewayAPINotInstalled")
    );
    assert_eq!(c.last_transition_time, Some(Time(at(10))));
    // Planned again later over that status: the condition has not transitioned.
    let mut again = r.clone();
    again.status = Some(p.status.clone());
    let p2 = plan(&Inputs {
        route: &again,
        ..inputs(at(20))
    });
    assert_eq!(
        p2.status.ingress[0].conditions[0].last_transition_time,
        Some(Time(at(10)))
    );
}

#[test]
fn no_gateway_or_a_foreign_route_blocks_with_a_reason() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a],
        gateway: None,
        name_taken_by: None,
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    assert_eq!(
        (
            p.object.is_none(),
            p.status.ingress[0].conditions[0].reason.as_str()
        ),
        (true, "NoParentGateway")
    );
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a],
        gateway: gw(),
        name_taken_by: Some("someone".into()),
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    assert_eq!(
        (
            p.object.is_none(),
            p.status.ingress[0].conditions[0].reason.as_str()
        ),
        (true, "RouteConflict")
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
    let p = plan(&Inputs {
        route: &r,
        services: vec![&a],
        gateway: gw(),
        name_taken_by: None,
        gateway_api: true,
        now: Timestamp::UNIX_EPOCH,
    });
    assert_eq!(
        p.object.expect("route")["spec"]["hostnames"],
        json!(["*.example.com"])
    );
}
