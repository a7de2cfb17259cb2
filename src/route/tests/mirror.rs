//! A traffic shift's request mirror: the main rule's RequestMirror filter where the Gateway's
//! class lists the feature, else not realised and said so.

use super::actions::a_to_b;
use super::*;
use crate::api::route::ShiftStatus;
use crate::route::mirror::{MIRROR_FEATURE, PERCENT_FEATURE};
use crate::route::shift::{HeaderPin, ShiftDecision};

fn mirrored(percent: i32) -> ShiftDecision {
    ShiftDecision {
        status: ShiftStatus {
            phase: "Progressing".into(),
            to: "b".into(),
            step: 1,
            weight: 10,
            ..Default::default()
        },
        pinned: Some(HeaderPin {
            name: "X-Canary".into(),
            value: "always".into(),
        }),
        mirrored: Some(percent),
        ..Default::default()
    }
}

/// A gateway whose class lists `features`, and is Traefik's.
fn listing(features: &[&str]) -> Gateway {
    Gateway {
        controller: Some("traefik.io/gateway-controller".into()),
        features: features.iter().map(|f| f.to_string()).collect(),
        ..gateway("None")
    }
}

/// The filters of each rule of the plan's main route, and its UnsupportedConfiguration message.
fn realised(gateway: Gateway, apis: Apis, percent: i32) -> (Vec<Value>, Option<String>) {
    let (a, b, r) = a_to_b(None);
    let shift = mirrored(percent);
    let p = plan(&Inputs {
        shift: Some(&shift),
        gateway: Some(gateway),
        apis,
        ..inputs(&r, vec![&a, &b])
    });
    let rules = p.main().expect("main route")["spec"]["rules"]
        .as_array()
        .cloned()
        .expect("rules");
    let filters = rules.iter().map(|r| r["filters"].clone()).collect();
    let unsupported = p.status.ingress[0]
        .conditions
        .iter()
        .find(|c| c.type_ == reason::UNSUPPORTED_CONFIGURATION)
        .map(|c| c.message.clone());
    (filters, unsupported)
}

#[test]
fn a_mirror_is_a_filter_of_the_main_rule_where_the_class_lists_it() {
    let (filters, unsupported) = realised(listing(&[PERCENT_FEATURE]), Apis::ALL, 20);
    assert_eq!(unsupported, None);
    assert_eq!(filters[0], Value::Null, "the pinned rule reaches b anyway");
    assert_eq!(
        filters[1],
        json!([{"type": "RequestMirror", "requestMirror": {
            "backendRef": {"group": "", "kind": "Service", "name": "b", "port": 80},
            "percent": 20}}])
    );
    // Every request: the plain feature, no percent.
    let (filters, unsupported) = realised(listing(&[MIRROR_FEATURE]), Apis::ALL, 100);
    assert_eq!(unsupported, None);
    assert_eq!(filters[1][0]["requestMirror"]["percent"], Value::Null);
    assert_eq!(filters[1][0]["requestMirror"]["backendRef"]["name"], "b");
}

#[test]
fn a_mirror_the_data_plane_cannot_serve_is_not_realised_and_said_so() {
    let none = |(filters, _): &(Vec<Value>, Option<String>)| {
        filters
            .iter()
            .all(|f| f.as_array().is_none_or(Vec::is_empty))
    };
    let traefik = realised(listing(&[]), Apis::ALL, 20);
    assert!(none(&traefik), "{traefik:?}");
    assert_eq!(
        traefik.1.as_deref(),
        Some(
            "not realised on a Gateway API data plane: traffic-shift mirror of 20% of requests to b (the Gateway's implementation (traefik.io/gateway-controller) does not list HTTPRouteRequestPercentageMirror in its GatewayClass's status.supportedFeatures)"
        )
    );
    // Every request mirrored is another feature than a share of them.
    let all_only = realised(listing(&[MIRROR_FEATURE]), Apis::ALL, 20);
    assert!(none(&all_only));
    assert!(all_only.1.is_some_and(|m| m.contains(PERCENT_FEATURE)));
    // The standard channel's CRD would prune the percent: mirroring all would be worse.
    let pruned = Apis {
        mirror_percent: false,
        ..Apis::ALL
    };
    let standard = realised(listing(&[PERCENT_FEATURE]), pruned, 20);
    assert!(none(&standard));
    assert!(
        standard
            .1
            .is_some_and(|m| m.contains("has no requestMirror.percent"))
    );
}
