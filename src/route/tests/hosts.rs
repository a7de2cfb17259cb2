//! Hosts: generated from the domain, claimed by the oldest Route, wildcards.

use super::*;

#[test]
fn hosts_are_generated_from_the_domain_or_the_route_is_refused() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert!(
        p.objects().is_empty(),
        "a route without a host never matches every host"
    );
    assert_eq!(admitted(&p), ("False", "NoHostValue"));
    let p = plan(&Inputs {
        domain: Some("example.com"),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(p.generated_host(), Some("shop-ns.example.com"));
    assert_eq!(
        p.objects()[0]["spec"]["hostnames"],
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
    assert!(p.objects().is_empty());
    assert_eq!(admitted(&p), ("False", "HostAlreadyClaimed"));
    let p = plan(&Inputs {
        routes: vec![&old, &new],
        ..inputs(&old, vec![&a])
    });
    assert_eq!(p.objects().len(), 1);
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
    assert_eq!(
        p.objects()[0]["spec"]["hostnames"],
        json!(["*.example.com"])
    );
}
