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
    // Each revision records the config it ran (OpenShift's encoded-deployment-config).
    let ran = |images: &[&str]| {
        let containers: Vec<_> = images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect();
        let config = json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
            "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "template": {"spec": {"containers": containers, "initContainers": [{"name": "init", "image": "init:1"}]}}}});
        json!({"openshift.io/encoded-deployment-config": config.to_string()})
    };
    let with = |mut extra: serde_json::Value, more: serde_json::Value| {
        if let (Some(a), Some(b)) = (extra.as_object_mut(), more.as_object()) {
            a.extend(b.clone());
        }
        extra
    };
    let revs = [
        revision(1, "Complete", "config change", 0, ran(&["app:1"])),
        revision(
            2,
            "Failed",
            "config change",
            0,
            with(
                ran(&["app:2", "proxy:1"]),
                json!({"kubernetes.io/change-cause": "bump to app:2"}),
            ),
        ),
        revision(3, "Complete", "rollback to revision 1", 3, json!({})),
    ];
    assert_eq!(
        format_history("web", &revs),
        "deploymentconfigs \"web\"\n\
         REVISION  STATUS    CAUSE                   IMAGES\n\
         1         Complete  config change           app:1\n\
         2         Failed    bump to app:2           app:2,proxy:1\n\
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

#[test]
fn status_updates_redraw_a_bar_on_terminals_and_print_lines_elsewhere() {
    use cutover::cli::status_update;
    let d = dc(json!({"latestVersion": 2, "updatedReplicas": 2, "availableReplicas": 1}));
    let m = "Waiting for rollout to finish: 2 out of 3 new replicas have been updated...";
    assert_eq!(status_update(&d, m, false), format!("{m}\n"));
    assert_eq!(
        status_update(&d, m, true),
        format!("\r[######--------------] {m}\x1b[K")
    );
}

#[test]
fn kubectls_names_and_refusals() {
    use cutover::api::DeploymentConfig;
    use cutover::api::route::Route;
    use cutover::cli::format::{not_found, pause_done, pause_refusal};
    assert_eq!(
        not_found::<DeploymentConfig>("web"),
        "deploymentconfigs.apps.openshift.io \"web\" not found"
    );
    assert_eq!(
        not_found::<Route>("web"),
        "routes.route.openshift.io \"web\" not found"
    );
    assert_eq!(
        pause_refusal("web", true),
        "deploymentconfigs.apps.openshift.io \"web\" is already paused"
    );
    assert_eq!(
        pause_refusal("web", false),
        "deploymentconfigs.apps.openshift.io \"web\" is not paused"
    );
    assert_eq!(
        pause_done("web", true),
        "deploymentconfig.apps.openshift.io/web paused\n"
    );
    assert_eq!(
        pause_done("web", false),
        "deploymentconfig.apps.openshift.io/web resumed\n"
    );
}

#[test]
fn route_show() {
    let route: cutover::api::route::Route = serde_json::from_value(json!({
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"host": "web.example.com", "to": {"kind": "Service", "name": "web-blue", "weight": 90},
                 "alternateBackends": [{"kind": "Service", "name": "web-green", "weight": 10}]},
        "status": {"ingress": [{"host": "web.example.com", "routerName": "cutover", "conditions": [
            {"type": "Admitted", "status": "True"},
            {"type": "UnsupportedConfiguration", "status": "True", "reason": "NotRealised",
             "message": "not realised on a Gateway API data plane: router.openshift.io/cookie_name"}]}]}
    }))
    .expect("route");
    assert_eq!(
        cutover::cli::format_route(&route),
        "route \"web\" (web.example.com)\n\
         SERVICE                 WEIGHT  SHARE\n\
         web-blue                    90   90.0%\n\
         web-green                   10   10.0%\n\
         Admitted: True\n\
         UnsupportedConfiguration: True (NotRealised): not realised on a Gateway API data plane: router.openshift.io/cookie_name\n"
    );
    // A generated host is shown from the status until it is in the spec.
    let mut generated = route.clone();
    generated.spec.host = None;
    assert!(cutover::cli::format_route(&generated).starts_with("route \"web\" (web.example.com)"));
}

#[test]
fn logs_of_a_revision() {
    use cutover::cli::format::{log_heading, no_logs, revision_events};
    let pod = |labels: serde_json::Value| -> k8s_openapi::api::core::v1::Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-2-hook-pre", "labels": labels}}))
            .expect("pod")
    };
    assert_eq!(
        log_heading(&pod(json!({"openshift.io/deployer-pod.type": "hook-pre"}))),
        "--> hook-pre: pod/web-2-hook-pre\n"
    );
    assert_eq!(
        log_heading(&pod(json!({}))),
        "--> deployer: pod/web-2-hook-pre\n"
    );
    assert_eq!(no_logs(&"gone"), "    (no logs: gone)\n");
    let event =
        |reason: &str, note: &str| ("Normal".to_string(), reason.to_string(), note.to_string());
    let events = [
        event(
            "DeploymentCreated",
            "Created new replication controller \"web-1\" for version 1",
        ),
        event(
            "DeploymentCreated",
            "Created new replication controller \"web-2\" for version 2",
        ),
    ];
    assert_eq!(
        revision_events("web-2", &events),
        "--> events of web-2:\n    \
         Normal   DeploymentCreated            Created new replication controller \"web-2\" for version 2\n"
    );
}

fn triggered(triggers: serde_json::Value) -> DeploymentConfig {
    let mut d = dc(json!({}));
    d.spec.triggers = Some(serde_json::from_value(triggers).expect("triggers"));
    d
}

#[test]
fn set_triggers_table_reset_and_the_undo_warning() {
    use cutover::cli::{disabled_triggers_warning, format_triggers, reset_triggers};
    let d = triggered(json!([
        {"type": "ImageChange", "imageChangeParams": {"automatic": false, "containerNames": ["app", "sidecar"],
            "from": {"kind": "ImageStreamTag", "name": "app:prod"}}},
        {"type": "ImageChange", "imageChangeParams": {"automatic": true, "containerNames": ["app"],
            "from": {"kind": "ImageStreamTag", "name": "base:1", "namespace": "images"}}},
    ]));
    assert_eq!(
        format_triggers(&d),
        "\
NAME                   TYPE    VALUE                    AUTO
deploymentconfigs/web  config                           false
deploymentconfigs/web  image   app:prod (app, sidecar)  false
deploymentconfigs/web  image   images/base:1 (app)      true
"
    );
    assert_eq!(
        disabled_triggers_warning(&d),
        "\nWarning: the following images triggers were disabled: app:prod\n  You can re-enable them with: kubectl dc set triggers web --auto\n"
    );

    // --auto: ConfigChange first, every image trigger automatic; --manual: the opposite.
    let auto = reset_triggers(&d, true);
    let types: Vec<(&str, Option<bool>)> = auto
        .iter()
        .map(|t| {
            (
                t.type_.as_str(),
                t.image_change_params.as_ref().map(|p| p.automatic),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("ConfigChange", None),
            ("ImageChange", Some(true)),
            ("ImageChange", Some(true))
        ]
    );
    let manual = reset_triggers(&triggered(json!([{"type": "ConfigChange"}])), false);
    assert!(manual.is_empty(), "manual only: triggers: []");
    let d = dc(json!({}));
    assert_eq!(
        reset_triggers(&d, false),
        vec![],
        "absent triggers mean [ConfigChange]"
    );
    assert_eq!(disabled_triggers_warning(&d), "");
}

/// `route shift status` and `route show` while a traffic shift runs, and when it has ended.
#[test]
fn traffic_shift_progress() {
    use cutover::api::route::Route;
    use cutover::cli::format::{format_route, shift_progress};
    let route = |shift: serde_json::Value| -> Route {
        serde_json::from_value(json!({
            "apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"name": "shop", "namespace": "ns",
                         "annotations": {"cutover.io/traffic-shift": "to: green"}},
            "spec": {"host": "shop.example.com",
                     "to": {"kind": "Service", "name": "blue", "weight": 100},
                     "alternateBackends": [{"kind": "Service", "name": "green", "weight": 0}]},
            "status": {"ingress": [], "shift": shift}
        }))
        .expect("route")
    };
    let running = route(json!({
        "phase": "Progressing", "to": "green", "step": 2, "weight": 25, "passedChecks": 1,
        "failedChecks": 0, "inconclusiveChecks": 1, "message": "step 2 of 4: 25% of traffic to green"
    }));
    assert_eq!(
        shift_progress(&running),
        (
            "Progressing [#####---------------]  25% to green, checks: 1 passed this step, 0 failed, 1 inconclusive: step 2 of 4: 25% of traffic to green".to_string(),
            None
        )
    );
    assert_eq!(
        format_route(&running),
        "route \"shop\" (shop.example.com)\nSERVICE                 WEIGHT  SHARE\n\
         blue                        75   75.0%\ngreen                       25   25.0%\n\
         TrafficShift: Progressing to green: step 2 of 4: 25% of traffic to green\n"
    );
    let failed = route(json!({
        "phase": "Failed", "to": "green", "step": 2, "weight": 0, "failedChecks": 1,
        "message": "the check failed at step 2 (25%): q = 0.5, wanted at least 0.99"
    }));
    assert_eq!(
        shift_progress(&failed).1,
        Some(Err("traffic shift of route \"shop\" failed: the check failed at step 2 (25%): q = 0.5, wanted at least 0.99".to_string()))
    );
    assert!(
        format_route(&failed).contains("blue                       100  100.0%"),
        "a failed shift serves the Route's own weights:\n{}",
        format_route(&failed)
    );
}
