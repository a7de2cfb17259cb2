//! Golden output of `kubectl dc rollout history`, `rollout status` and `describe`: stable,
//! readable text (what users paste into tickets and CI logs).

use cutover::api::DeploymentConfig;
use cutover::api::conditions::{RolloutState, rollout_state};
use cutover::cli::{format_describe, format_history};
use cutover::strategy::Revision;
use k8s_openapi::api::apps::v1::ReplicaSet;
use serde_json::json;

fn revision(
    version: i64,
    phase: &str,
    reason: &str,
    replicas: i32,
    extra: serde_json::Value,
) -> Revision {
    let mut annotations = json!({
        "openshift.io/deployment-config.latest-version": version.to_string(),
        "openshift.io/deployment.phase": phase,
        "openshift.io/deployment.status-reason": reason,
    });
    if let (Some(a), Some(e)) = (annotations.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": format!("web-{version}"), "annotations": annotations},
        "spec": {"replicas": replicas, "selector": {}},
        "status": {"replicas": replicas, "availableReplicas": replicas}
    }))
    .expect("rs");
    Revision::from_replica_set(&rs, replicas).expect("a revision")
}

fn dc(status: serde_json::Value) -> DeploymentConfig {
    serde_json::from_value(json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": "web", "namespace": "shop", "generation": 4},
        "spec": {"replicas": 3, "selector": {"app": "web"},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "app:2"}]}}},
        "status": status
    }))
    .expect("dc")
}

#[test]
fn history() {
    let revs = [
        revision(1, "Complete", "config change", 0, json!({})),
        revision(
            2,
            "Failed",
            "config change",
            0,
            json!({"kubernetes.io/change-cause": "bump to app:2"}),
        ),
        revision(3, "Complete", "rollback to revision 1", 3, json!({})),
    ];
    assert_eq!(
        format_history("web", &revs),
        "deploymentconfigs \"web\"\n\
         REVISION  STATUS    CAUSE\n\
         1         Complete  config change\n\
         2         Failed    bump to app:2\n\
         3         Complete  rollback to revision 1\n"
    );
    assert_eq!(
        format_history("web", &[]),
        "No rollout history found for deploymentconfig \"web\"\n"
    );
}

#[test]
fn status_lines() {
    let waiting = dc(
        json!({"latestVersion": 2, "observedGeneration": 4, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3}),
    );
    assert_eq!(
        rollout_state(&waiting),
        RolloutState::Waiting(
            "Waiting for rollout to finish: 1 out of 3 new replicas have been updated...".into()
        )
    );
    let failed = dc(
        json!({"latestVersion": 2, "observedGeneration": 4, "conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "replication controller \"web-2\" has failed progressing"}]}),
    );
    assert_eq!(
        rollout_state(&failed),
        RolloutState::Failed("replication controller \"web-2\" has failed progressing".into())
    );
    let done = dc(
        json!({"latestVersion": 2, "observedGeneration": 4, "conditions": [
        {"type": "Progressing", "status": "True", "reason": "NewReplicationControllerAvailable", "message": "x"}]}),
    );
    assert_eq!(
        rollout_state(&done),
        RolloutState::Done("replication controller \"web-2\" successfully rolled out".into())
    );
    let unobserved = dc(json!({"latestVersion": 2, "observedGeneration": 3}));
    assert_eq!(
        rollout_state(&unobserved),
        RolloutState::Waiting(
            "Waiting for latest deployment config spec to be observed by the controller loop..."
                .into()
        )
    );
}

#[test]
fn describe() {
    let d = dc(json!({
        "latestVersion": 2, "observedGeneration": 4, "replicas": 3, "availableReplicas": 3,
        "selector": "app=web,deploymentconfig=web", "triggeredBy": "config",
        "conditions": [
            {"type": "Available", "status": "True", "message": "Deployment config has minimum availability."},
            {"type": "Progressing", "status": "True", "reason": "NewReplicationControllerAvailable"}
        ]
    }));
    let revs = [
        revision(1, "Complete", "config change", 0, json!({})),
        revision(
            2,
            "Complete",
            "config change",
            3,
            json!({"cutover.io/hook-pre": "Succeeded", "cutover.io/hook-mid": "Succeeded"}),
        ),
    ];
    let events = [(
        "Normal".to_string(),
        "DeploymentCreated".to_string(),
        "Created new replication controller \"web-2\" for version 2".to_string(),
    )];
    assert_eq!(
        format_describe(&d, &revs, &events),
        "Name:\t\tweb\n\
         Namespace:\tshop\n\
         Latest Version:\t2\n\
         Selector:\tapp=web,deploymentconfig=web\n\
         Replicas:\t3 desired, 3 current, 3 available\n\
         Triggers:\tconfig\n\
         Strategy:\tRolling\n\
         Images:\t\tapp=app:2\n\
         \n\
         Revisions:\n\
         \x20 REVISION  PHASE     REPLICAS  HOOKS                          CAUSE\n\
         \x20 1         Complete    0/0     -                              config change\n\
         \x20 2         Complete    3/3     pre=Succeeded,mid=Succeeded    config change\n\
         \n\
         Conditions:\n\
         \x20 TYPE                        STATUS   REASON\n\
         \x20 Available                   True     -\n\
         \x20 Progressing                 True     NewReplicationControllerAvailable\n\
         \n\
         Events:\n\
         \x20 Normal   DeploymentCreated            Created new replication controller \"web-2\" for version 2\n"
    );
}

#[test]
fn progress_bar_for_terminals() {
    assert_eq!(cutover::cli::progress_bar(0, 5), "[--------------------]");
    assert_eq!(cutover::cli::progress_bar(2, 5), "[########------------]");
    assert_eq!(cutover::cli::progress_bar(5, 5), "[####################]");
    assert_eq!(cutover::cli::progress_bar(7, 5), "[####################]");
    assert_eq!(cutover::cli::progress_bar(0, 0), "[####################]");
}
