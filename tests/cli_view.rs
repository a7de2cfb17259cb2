//! What `kubectl dc` commands act on: the revisions the operator observes (owned by the
//! DeploymentConfig, not merely labelled for it), the rollback target the operator would choose,
//! the weights a `route switch` leaves.

use cutover::api::DeploymentConfig;
use cutover::api::route::Route;
use cutover::cli::{CliError, format_template, observed_revisions, switch_weights, undo_target};
use k8s_openapi::api::apps::v1::ReplicaSet;
use serde_json::json;

fn dc() -> DeploymentConfig {
    serde_json::from_value(json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-web"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "app:3"}]}}},
        "status": {"latestVersion": 3}
    }))
    .expect("dc")
}

/// Revision `version` of `web`, labelled for it, controlled by `owner`, recording `image`.
fn rs(version: i64, phase: &str, owner: Option<&str>, image: &str) -> ReplicaSet {
    let mut config = dc();
    config.spec.template.0["spec"]["containers"][0]["image"] = json!(image);
    let owners: Vec<_> = owner
        .map(|uid| {
            json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
                   "name": "web", "uid": uid, "controller": true})
        })
        .into_iter()
        .collect();
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("web-{version}"), "namespace": "shop",
            "labels": {"openshift.io/deployment-config.name": "web"},
            "annotations": {
                "openshift.io/deployment-config.latest-version": version.to_string(),
                "openshift.io/deployment.phase": phase,
                "openshift.io/encoded-deployment-config": serde_json::to_string(&config).expect("json"),
            },
            "ownerReferences": owners
        },
        "spec": {"replicas": 0, "selector": {}}
    }))
    .expect("rs")
}

#[test]
fn undo_goes_back_to_a_revision_the_deployment_config_controls() {
    let replica_sets = [
        rs(1, "Complete", Some("uid-web"), "app:1"),
        // Labelled for web, but another controller's (or no one's): not a revision of web.
        rs(2, "Complete", Some("uid-other"), "app:2"),
        rs(3, "Failed", Some("uid-web"), "app:3"),
    ];
    let d = dc();
    let revisions = observed_revisions(&d, &replica_sets);
    let versions: Vec<i64> = revisions.iter().map(|r| r.version).collect();
    assert_eq!(versions, [1, 3]);
    let target = undo_target(&d, &revisions, 0).expect("a target");
    assert_eq!(target.version, 1);
    let text = format_template(target).expect("template");
    assert!(
        text.starts_with("deploymentconfigs with revision #1\nPod Template:\n"),
        "{text}"
    );
    assert!(text.contains("image: app:1"), "{text}");
    let refused = |to| match undo_target(&d, &revisions, to) {
        Err(CliError::User(m)) => m,
        other => panic!("{:?}", other.map(|r| r.version)),
    };
    assert_eq!(
        refused(2),
        "unable to find revision 2 of deploymentconfig shop/web"
    );
    assert_eq!(refused(3), "version 3 is already the latest");
}

#[test]
fn switch_sends_all_traffic_to_one_backend() {
    let route: Route = serde_json::from_value(json!({
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"to": {"kind": "Service", "name": "blue", "weight": 90},
                 "alternateBackends": [{"kind": "Service", "name": "green", "weight": 0}]}
    }))
    .expect("route");
    let weights = |service| switch_weights(&route, service).map_err(|e| e.to_string());
    assert_eq!(
        weights("green"),
        Ok(vec![("blue".into(), 0), ("green".into(), 100)])
    );
    assert_eq!(
        weights("blue"),
        Ok(vec![("blue".into(), 90), ("green".into(), 0)])
    );
    assert_eq!(
        weights("red"),
        Err("service \"red\" is not a backend of route \"web\" (backends: blue, green)".into())
    );
}
