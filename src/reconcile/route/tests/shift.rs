//! A traffic shift through the shell: the check runs, fails, and the DeploymentConfig's rollback
//! is requested before the status that says Failed.

use super::*;

#[tokio::test]
async fn a_failed_check_requests_the_rollback_before_the_status_says_failed() {
    let url = prometheus(
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0.5"]}}"#,
    )
    .await;
    let declaration = format!(
        "to: b\nsteps: [50, 100]\npause: 10s\ndeploymentConfig: web\nonFailure: rollback\nanalysis: {{prometheus: '{url}', query: up, interval: 5s, successCondition: {{atLeast: 0.95}}}}\n"
    );
    let mut shop = route(json!({"host": "shop.example.com",
        "to": {"kind": "Service", "name": "a", "weight": 100},
        "alternateBackends": [{"kind": "Service", "name": "b", "weight": 0}]}));
    shop.metadata.annotations = Some(
        [(
            crate::api::keys::TRAFFIC_SHIFT_ANNOTATION.to_string(),
            declaration,
        )]
        .into(),
    );
    let digest = crate::route::shift::declared(&shop)
        .expect("declared")
        .expect("valid")
        .digest;
    // At step 1 for a minute: a check is due.
    shop.status = serde_json::from_value(json!({"shift": {
        "phase": "Progressing", "to": "b", "declaration": digest, "step": 1, "weight": 50,
        "stepStartedAt": jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60),
        "deploymentConfigVersion": 0
    }}))
    .expect("status");
    let (result, seen) = run(
        shop,
        Cluster {
            owned: vec![("HTTPRoute", "shop", "uid-shop")],
            ..Cluster::default()
        },
        vec![
            (
                "PATCH /apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes/shop",
                200,
                object("HTTPRoute", "shop", "shop", "uid-shop"),
            ),
            (
                "PATCH /apis/apps.openshift.io/v1/namespaces/ns/deploymentconfigs/web",
                200,
                serde_json::to_value(crate::api::DeploymentConfig::new("web", Default::default()))
                    .expect("deploymentconfig"),
            ),
            (
                "PATCH /apis/route.openshift.io/v1/namespaces/ns/routes/shop/status",
                200,
                serde_json::to_value(plain()).expect("route"),
            ),
        ],
    )
    .await;
    assert!(result.is_ok(), "{:?}", result.err());
    // The failure gives the Route its stable weights back at once.
    let refs = &seen[0].body["spec"]["rules"][0]["backendRefs"];
    assert_eq!(
        (refs[0]["weight"].clone(), refs[1]["weight"].clone()),
        (json!(100), json!(0))
    );
    let rollback = &seen[1];
    assert_eq!(rollback.content_type, "application/merge-patch+json");
    assert_eq!(
        rollback.body["metadata"]["annotations"]["cutover.io/request-rollback"],
        json!(format!("traffic-shift-{digest}-0"))
    );
    let asked = &rollback.body["metadata"]["annotations"];
    assert_eq!(
        (
            &asked["cutover.io/rollback-to-revision"],
            &asked["cutover.io/force-past-migration"],
            &asked["cutover.io/rollback-keeps-triggers"]
        ),
        (&json!("0"), &json!("false"), &json!("true")),
        "the newest Complete revision, no migration forced, the image triggers left on"
    );
    let shift = &seen[2].body["status"]["shift"];
    assert_eq!(shift["phase"], "Failed");
    assert_eq!(shift["checks"][0]["value"], "0.5");
}
