//! Sticky sessions: a weighted Route (or one with a traffic shift) keeps each client on one
//! backend through what the Gateway's implementation serves, and says how in its status.

use super::*;
use crate::api::route::affinity;

fn services() -> (Service, Service) {
    let port = json!([{"name": "http", "port": 80, "targetPort": 8080}]);
    (service("a", port.clone()), service("b", port))
}

fn weighted(annotations: &[(&str, &str)]) -> Route {
    let mut r = hosted(RouteSpec {
        to: target("a", Some(90)),
        alternate_backends: Some(vec![target("b", Some(10))]),
        ..Default::default()
    });
    r.metadata.annotations = Some(
        annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    r
}

fn traefik() -> Gateway {
    Gateway {
        controller: Some(crate::route::sessions::TRAEFIK_CONTROLLER.into()),
        ..gateway("None")
    }
}

fn planned(r: &Route, gateway: Gateway, apis: Apis) -> Plan {
    let (a, b) = services();
    plan(&Inputs {
        gateway: Some(gateway),
        apis,
        ..inputs(r, vec![&a, &b])
    })
}

fn object<'p>(p: &'p Plan, kind: &str) -> Option<&'p Value> {
    p.objects().into_iter().find(|o| o["kind"] == kind)
}

#[test]
fn on_traefik_a_weighted_route_goes_through_its_sticky_traefik_service() {
    let r = weighted(&[]);
    let p = planned(&r, traefik(), Apis::ALL);
    assert_eq!(kinds(&p), ["TraefikService shop-sticky", "HTTPRoute shop"]);
    let service = object(&p, "TraefikService").expect("TraefikService");
    assert_eq!(service["apiVersion"], "traefik.io/v1alpha1");
    assert_eq!(service["metadata"]["ownerReferences"][0]["uid"], "uid-r");
    let cookie = p
        .status
        .session_affinity
        .as_ref()
        .expect("status")
        .cookie
        .clone();
    assert_eq!(
        service["spec"]["weighted"],
        json!({"sticky": {"cookie": {"name": cookie, "httpOnly": true}},
               "services": [{"name": "a", "port": 80, "weight": 90}, {"name": "b", "port": 80, "weight": 10}]})
    );
    assert_eq!(
        p.main().expect("HTTPRoute")["spec"]["rules"][0]["backendRefs"],
        json!([{"group": "traefik.io", "kind": "TraefikService", "name": "shop-sticky"}])
    );
    let status = p.status.session_affinity.expect("status");
    assert_eq!(status.mechanism, affinity::TRAEFIK_SERVICE);
    assert_eq!(status.message, "");
    // Derived from the Route alone: the same every pass, and another Route's differs.
    assert_eq!(cookie.len(), 32);
    assert_eq!(
        planned(&r, traefik(), Apis::ALL)
            .status
            .session_affinity
            .expect("status")
            .cookie,
        cookie
    );
    let mut other = weighted(&[]);
    other.metadata.name = Some("cart".into());
    let theirs = planned(&other, traefik(), Apis::ALL)
        .status
        .session_affinity
        .expect("status");
    assert_ne!(theirs.cookie, cookie);
}

#[test]
fn cookie_name_names_the_cookie_and_an_invalid_one_is_reported() {
    let r = weighted(&[("router.openshift.io/cookie_name", "shop_session")]);
    let p = planned(&r, traefik(), Apis::ALL);
    let service = object(&p, "TraefikService").expect("TraefikService");
    assert_eq!(
        service["spec"]["weighted"]["sticky"]["cookie"]["name"],
        "shop_session"
    );
    assert_eq!(
        p.status.session_affinity.expect("status").cookie,
        "shop_session"
    );
    assert_eq!(
        p.status.ingress[0].conditions.len(),
        1,
        "nothing unrealised"
    );

    let r = weighted(&[("router.openshift.io/cookie_name", "a b")]);
    let p = planned(&r, traefik(), Apis::ALL);
    assert_eq!(p.status.session_affinity.expect("status").cookie.len(), 32);
    let unsupported = &p.status.ingress[0].conditions[1];
    assert_eq!(unsupported.reason, reason::NOT_REALISED);
    assert!(
        unsupported
            .message
            .contains("cookie_name (not a cookie name"),
        "{}",
        unsupported.message
    );
}

#[test]
fn disable_cookies_serves_the_services_directly_and_deletes_the_traefik_service() {
    let r = weighted(&[("haproxy.router.openshift.io/disable_cookies", "true")]);
    let owned = [Owned {
        kind: "TraefikService".into(),
        name: "shop-sticky".into(),
        owners: vec!["uid-r".into()],
    }];
    let (a, b) = services();
    let p = plan(&Inputs {
        gateway: Some(traefik()),
        owned: &owned,
        ..inputs(&r, vec![&a, &b])
    });
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    assert_eq!(
        p.main().expect("HTTPRoute")["spec"]["rules"][0]["backendRefs"][1]["name"],
        "b"
    );
    assert!(p.actions.contains(&RouteAction::Delete {
        kind: "TraefikService".into(),
        name: "shop-sticky".into()
    }));
    let status = p.status.session_affinity.expect("status");
    assert_eq!(status.mechanism, affinity::NONE);
    assert_eq!(status.cookie, "");
    assert!(
        status.message.contains("disable_cookies"),
        "{}",
        status.message
    );
    assert_eq!(
        p.status.ingress[0].conditions.len(),
        1,
        "not reported as unrealised"
    );
}

#[test]
fn elsewhere_session_persistence_where_served_else_not_sticky_and_why() {
    let r = weighted(&[]);
    let other = Gateway {
        controller: Some("example.com/gateway".into()),
        ..gateway("None")
    };
    let p = planned(&r, other.clone(), Apis::ALL);
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    let status = p.status.session_affinity.clone().expect("status");
    assert_eq!(status.mechanism, affinity::SESSION_PERSISTENCE);
    assert_eq!(
        p.main().expect("HTTPRoute")["spec"]["rules"][0]["sessionPersistence"],
        json!({"sessionName": status.cookie, "type": "Cookie"})
    );

    let standard = Apis {
        session_persistence: false,
        ..Apis::ALL
    };
    let p = planned(&r, other, standard);
    let rule = &p.main().expect("HTTPRoute")["spec"]["rules"][0];
    assert!(rule.get("sessionPersistence").is_none());
    let status = p.status.session_affinity.expect("status");
    assert_eq!(status.mechanism, affinity::NONE);
    assert!(
        status
            .message
            .contains("example.com/gateway serves neither")
            || status
                .message
                .contains("(example.com/gateway) serves neither"),
        "{}",
        status.message
    );

    // Traefik without its CRDs: not sticky, and what to install.
    let bare = Apis {
        traefik_services: false,
        ..Apis::ALL
    };
    let status = planned(&r, traefik(), bare)
        .status
        .session_affinity
        .expect("status");
    assert_eq!(status.mechanism, affinity::NONE);
    assert!(
        status.message.contains("TraefikService"),
        "{}",
        status.message
    );
}

#[test]
fn a_route_with_alternate_backends_or_a_shift_asks_for_sticky_sessions() {
    let single = hosted(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let p = planned(&single, traefik(), Apis::ALL);
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    assert_eq!(p.status.session_affinity, None);

    // Sticky before any split: the rule never moves to the TraefikService mid-release.
    let standby = hosted(RouteSpec {
        to: target("a", None),
        alternate_backends: Some(vec![target("b", Some(0))]),
        ..Default::default()
    });
    let p = planned(&standby, traefik(), Apis::ALL);
    assert_eq!(kinds(&p), ["TraefikService shop-sticky", "HTTPRoute shop"]);
    assert_eq!(
        object(&p, "TraefikService").expect("TraefikService")["spec"]["weighted"]["services"],
        json!([{"name": "a", "port": 80, "weight": 100}, {"name": "b", "port": 80, "weight": 0}])
    );
}

#[test]
fn re_encrypt_and_passthrough_are_not_sticky_on_traefik() {
    for termination in ["reencrypt", "passthrough"] {
        let mut r = weighted(&[]);
        r.spec.tls = tls(termination, None);
        let p = planned(&r, traefik(), Apis::ALL);
        assert!(object(&p, "TraefikService").is_none(), "{termination}");
        let status = p.status.session_affinity.expect("status");
        assert_eq!(status.mechanism, affinity::NONE, "{termination}");
        assert!(!status.message.is_empty());
    }
}
