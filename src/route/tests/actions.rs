//! The actions that carry a plan out: owner checks only where the cache does not show a name as
//! the Route's own, the main route applied last, deletions of what the Route owns and no longer
//! needs, the generated host and a failed shift's rollback, and the plan a refusal leaves.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::*;
use crate::api::route::ShiftStatus;
use crate::route::shift::ShiftDecision;

fn owned(kind: &str, name: &str, owner: &str) -> Owned {
    Owned {
        kind: kind.into(),
        name: name.into(),
        owners: vec![owner.into()],
    }
}

fn owner(kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        ..Default::default()
    }
}

#[test]
fn names_not_cached_as_the_routes_own_are_checked_first_and_the_main_route_is_applied_last() {
    let a = service("a", json!([{"port": 80}]));
    let mut spec = RouteSpec {
        to: target("a", None),
        tls: tls("edge", Some("Redirect")),
        ..Default::default()
    };
    let (_, certificate, key) = signed();
    if let Some(t) = spec.tls.as_mut() {
        t.certificate = Some(certificate);
        t.key = Some(key);
    }
    let r = hosted(spec);
    // Its ListenerSet is cached as its own; a Secret of that name is someone else's.
    let cached = [
        owned("ListenerSet", "shop", "uid-r"),
        owned("Secret", "shop-tls", "uid-other"),
    ];
    let p = plan(&Inputs {
        gateway: Some(gateway("All")),
        owned: &cached,
        ..inputs(&r, vec![&a])
    });
    assert_eq!(
        said(&p),
        [
            "check Secret shop-tls for uid-r",
            "check HTTPRoute shop-redirect for uid-r",
            "check HTTPRoute shop for uid-r",
            "apply Secret shop-tls",
            "apply ListenerSet shop",
            "apply HTTPRoute shop-redirect",
            "apply HTTPRoute shop (main)",
        ]
    );
}

#[test]
fn what_the_route_owns_and_no_longer_needs_is_deleted_and_nothing_else() {
    let a = service("a", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    // Once an edge Route with its own certificate; another Route's objects beside it.
    let cached = [
        owned("HTTPRoute", "shop", "uid-r"),
        owned("ListenerSet", "shop", "uid-r"),
        owned("Secret", "shop-tls", "uid-r"),
        owned("HTTPRoute", "cart", "uid-cart"),
        owned("Secret", "cart-tls", "uid-cart"),
    ];
    let p = plan(&Inputs {
        owned: &cached,
        ..inputs(&r, vec![&a])
    });
    assert_eq!(
        said(&p),
        [
            "apply HTTPRoute shop (main)",
            "delete ListenerSet shop",
            "delete Secret shop-tls",
        ]
    );
    // Refused by a rung: everything of its own goes, nothing of anyone else's.
    let p = plan(&Inputs {
        gateway: None,
        owned: &cached,
        ..inputs(&r, vec![&a])
    });
    assert_eq!(
        said(&p),
        [
            "delete HTTPRoute shop",
            "delete ListenerSet shop",
            "delete Secret shop-tls",
        ]
    );
}

/// A failed shift at 10 % that asks for its DeploymentConfig's rollback.
fn failed_shift() -> ShiftDecision {
    ShiftDecision {
        status: ShiftStatus {
            phase: "Progressing".into(),
            to: "b".into(),
            step: 1,
            weight: 10,
            ..Default::default()
        },
        rollback: Some(("web".into(), "traffic-shift-1".into())),
        requeue_after: Some(Duration::from_secs(7)),
        ..Default::default()
    }
}

/// Services a and b, and a Route sending all to a, none to b (what a shift moves).
pub(super) fn a_to_b(path: Option<&str>) -> (Service, Service, Route) {
    let r = hosted(RouteSpec {
        to: target("a", Some(100)),
        alternate_backends: Some(vec![target("b", Some(0))]),
        path: path.map(Into::into),
        ..Default::default()
    });
    let port = json!([{"port": 80}]);
    (service("a", port.clone()), service("b", port), r)
}

#[test]
fn a_shift_gives_its_weights_state_rollback_and_wakeup_to_the_plan() {
    let (a, b, r) = a_to_b(None);
    let shift = failed_shift();
    let cached = [owned("HTTPRoute", "shop", "uid-r")];
    let p = plan(&Inputs {
        owned: &cached,
        shift: Some(&shift),
        ..inputs(&r, vec![&a, &b])
    });
    let refs = &p.main().expect("main route")["spec"]["rules"][0]["backendRefs"];
    assert_eq!(
        (refs[0]["weight"].clone(), refs[1]["weight"].clone()),
        (json!(90), json!(10))
    );
    assert_eq!(p.status.shift.as_ref(), Some(&shift.status));
    assert_eq!(
        said(&p),
        [
            "apply HTTPRoute shop (main)",
            "rollback web with traffic-shift-1"
        ]
    );
    assert_eq!(p.requeue_after, Duration::from_secs(7));
    let p = plan(&inputs(&r, vec![&a, &b]));
    assert_eq!(
        p.requeue_after,
        Duration::from_secs(300),
        "no shift: the resync"
    );
    assert_eq!(p.status.shift, None);
}

#[test]
fn a_refusal_met_carrying_out_leaves_the_host_and_the_rollback_and_deletes_what_the_route_owns() {
    let a = service("a", json!([{"port": 80}]));
    let mut r = route(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    r.metadata.resource_version = Some("41".into());
    let shift = failed_shift();
    let cached = [
        owned("HTTPRoute", "shop", "uid-r"),
        owned("HTTPRoute", "cart", "uid-cart"),
    ];
    let inputs = Inputs {
        domain: Some("example.com"),
        owned: &cached,
        shift: Some(&shift),
        ..inputs(&r, vec![&a])
    };
    let p = plan(&inputs);
    assert_eq!(
        said(&p),
        [
            "apply HTTPRoute shop (main)",
            "host shop-ns.example.com at 41",
            "rollback web with traffic-shift-1",
        ]
    );

    let taken = Refusal::taken(
        "HTTPRoute",
        "shop",
        "uid-r",
        &[owner("Route", "cart", "uid-cart")],
    )
    .expect("another owner's");
    let refused = super::refused(&inputs, p.clone(), &taken);
    assert_eq!(
        said(&refused),
        [
            "delete HTTPRoute shop",
            "host shop-ns.example.com at 41",
            "rollback web with traffic-shift-1",
        ]
    );
    let c = &refused.status.ingress[0].conditions;
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].status.as_str(), c[0].reason.as_str()),
        ("False", reason::ROUTE_CONFLICT)
    );
    assert_eq!(
        c[0].message,
        "HTTPRoute \"shop\" exists and belongs to Route cart: cutover does not change it"
    );
    assert_eq!(
        refused.status.shift.as_ref(),
        Some(&shift.status),
        "the shift's state stays"
    );

    let rejected = Refusal::rejected("HTTPRoute", "shop", 422, "spec.hostnames: Invalid value")
        .expect("a refusal");
    let refused = super::refused(&inputs, p, &rejected);
    let c = &refused.status.ingress[0].conditions[0];
    assert_eq!(c.reason, reason::ROUTE_APPLY_FAILED);
    assert_eq!(
        c.message,
        "HTTPRoute \"shop\" was refused: spec.hostnames: Invalid value"
    );
}

#[test]
fn only_another_owner_or_an_invalid_object_is_a_refusal() {
    let ours = [owner("Route", "shop", "uid-r")];
    assert_eq!(Refusal::taken("HTTPRoute", "shop", "uid-r", &ours), None);
    assert_eq!(
        Refusal::taken("HTTPRoute", "shop", "uid-r", &[]),
        Some(Refusal::Conflict {
            kind: "HTTPRoute".into(),
            name: "shop".into(),
            owner: None
        }),
        "an object no one owns is not the Route's either"
    );
    for code in [400, 403, 422] {
        assert!(Refusal::rejected("Secret", "shop-tls", code, "no").is_some());
    }
    for code in [409, 429, 500, 503] {
        assert_eq!(
            Refusal::rejected("Secret", "shop-tls", code, "no"),
            None,
            "{code}: retried"
        );
    }
}

#[test]
fn an_unreadable_gateway_refuses_the_route_and_says_why() {
    let a = service("a", json!([{"port": 80}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    let p = plan(&Inputs {
        gateway: None,
        gateway_unreadable: Some("the operator may not read Gateway infra/public".into()),
        ..inputs(&r, vec![&a])
    });
    assert!(p.actions.is_empty());
    assert_eq!(admitted(&p), ("False", reason::GATEWAY_NOT_READABLE));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "the operator may not read Gateway infra/public"
    );
}

/// A shift's header pin is a rule of its own on the HTTPRoute, first: requests with the header
/// reach `to` alone, whatever its weight (here 0: the shift is pending).
#[test]
fn a_header_pin_is_a_rule_to_the_new_backend_alone() {
    let (a, b, r) = a_to_b(Some("/shop"));
    let shift = ShiftDecision {
        status: crate::api::route::ShiftStatus {
            phase: "Pending".into(),
            to: "b".into(),
            ..Default::default()
        },
        pinned: Some(crate::route::shift::HeaderPin {
            name: "X-Canary".into(),
            value: "always".into(),
        }),
        ..Default::default()
    };
    let p = plan(&Inputs {
        shift: Some(&shift),
        ..inputs(&r, vec![&a, &b])
    });
    let rules = &p.main().expect("main route")["spec"]["rules"];
    assert_eq!(
        rules[0]["matches"],
        json!([{"path": {"type": "PathPrefix", "value": "/shop"},
                "headers": [{"type": "Exact", "name": "X-Canary", "value": "always"}]}])
    );
    let pinned: Vec<_> = rules[0]["backendRefs"]
        .as_array()
        .expect("refs")
        .iter()
        .map(|r| (r["name"].clone(), r["weight"].clone()))
        .collect();
    assert_eq!(pinned, [(json!("b"), json!(1))]);
    assert_eq!(
        rules[1]["matches"],
        json!([{"path": {"type": "PathPrefix", "value": "/shop"}}])
    );
    assert_eq!(rules.as_array().map(Vec::len), Some(2));
    let unpinned = plan(&inputs(&r, vec![&a, &b]));
    let rules = &unpinned.main().expect("main route")["spec"]["rules"];
    assert_eq!(
        rules.as_array().map(Vec::len),
        Some(1),
        "no shift, one rule"
    );
}
