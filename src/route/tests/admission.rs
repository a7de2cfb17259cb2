//! Admitted: options that shape the rule or refuse the Route, the Gateway's answer, refusals
//! and their transition times.

use super::*;

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
    let rule = &p.objects()[0]["spec"]["rules"][0];
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
    assert!(p.objects().is_empty());
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
    assert!(p.objects().is_empty());
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
