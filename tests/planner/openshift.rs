//! OpenShift's rules where a migrating team's rollouts depend on them, against the simulated
//! cluster: when a rollout is done, the Available and Progressing conditions, the rollout's
//! deadline, pause, and the names a revision cannot have.

use crate::sim::{Readiness, World, dc, template};
use cutover::api::*;
use cutover::strategy::Action;

fn rolling(surge: IntOrPercent, unavailable: IntOrPercent) -> DeploymentStrategy {
    DeploymentStrategy {
        rolling_params: Some(RollingDeploymentStrategyParams {
            timeout_seconds: Some(30),
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn recreate() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Recreate".into()),
        recreate_params: Some(RecreateDeploymentStrategyParams {
            timeout_seconds: Some(30),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn world(strategy: DeploymentStrategy, replicas: i32) -> World {
    World::new(dc(DeploymentConfigSpec {
        replicas,
        template: template("app:1"),
        revision_history_limit: Some(10),
        strategy,
        ..Default::default()
    }))
}

fn ended(version: i64) -> impl Fn(&World) -> bool {
    move |w| matches!(w.phase(version).as_deref(), Some("Complete" | "Failed"))
}

fn status_of(w: &World, type_: &str) -> String {
    w.condition(type_).map(|c| c.0).unwrap_or_default()
}

/// Rolls out revision 1, then changes the template so that revision 2's pods behave as
/// `readiness` says; returns once revision 2 has ended.
fn second_rollout(w: &mut World, readiness: Readiness) {
    assert!(w.run_until(60, ended(1), |_| {}));
    assert_eq!(w.phase(1).as_deref(), Some("Complete"));
    w.readiness.insert(2, readiness);
    w.edit(|s| s.template = template("app:2"));
    assert!(w.run_until(120, ended(2), |_| {}), "revision 2 never ended");
    w.step();
}

#[test]
fn rolling_completes_with_a_never_ready_pod_when_availability_held() {
    let mut w = world(rolling(IntOrPercent::Int(1), IntOrPercent::Int(1)), 3);
    second_rollout(&mut w, Readiness::AtMost { pods: 2, after: 2 });
    assert_eq!(w.phase(2).as_deref(), Some("Complete"));
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(0), Some(3)));
    let status = w.dc.status.clone().expect("status");
    assert_eq!(status.available_replicas, 2);
    assert_eq!(status_of(&w, "Available"), "True");
    assert_eq!(
        w.condition("Progressing").map(|c| c.1),
        Some("NewReplicationControllerAvailable".into())
    );
}

#[test]
fn rolling_fails_when_too_few_new_pods_become_ready_to_let_the_old_ones_go() {
    let mut w = world(rolling(IntOrPercent::Int(1), IntOrPercent::Int(1)), 3);
    second_rollout(&mut w, Readiness::AtMost { pods: 1, after: 2 });
    assert_eq!(w.phase(2).as_deref(), Some("Failed"));
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(3), Some(0)),
        "rolled back"
    );
}

#[test]
fn a_first_rollout_accepts_every_pod() {
    // OpenShift's first rollout is its Recreate logic with the acceptor: every pod available.
    let mut w = world(rolling(IntOrPercent::Int(1), IntOrPercent::Int(1)), 3);
    w.readiness
        .insert(1, Readiness::AtMost { pods: 2, after: 2 });
    assert!(w.run_until(60, ended(1), |_| {}));
    assert_eq!(w.phase(1).as_deref(), Some("Failed"));
    let reason = w
        .annotation_of(1, "openshift.io/deployment.status-reason")
        .unwrap_or_default();
    assert!(
        reason.contains("took longer than 30 seconds to become available"),
        "{reason}"
    );
}

#[test]
fn recreate_accepts_one_pod_then_completes_once_the_pods_exist() {
    let mut w = world(recreate(), 3);
    second_rollout(&mut w, Readiness::AtMost { pods: 2, after: 2 });
    assert_eq!(
        w.phase(2).as_deref(),
        Some("Complete"),
        "no second acceptance"
    );
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(0), Some(3)));
    // Complete as soon as the pods exist: the second one becomes ready after that.
    for _ in 0..3 {
        w.step();
    }
    assert_eq!(w.dc.status.as_ref().map(|s| s.available_replicas), Some(2));
    // Recreate tolerates no unavailable pod (library-go's MaxUnavailable is 0 for it).
    assert_eq!(status_of(&w, "Available"), "False");
}

#[test]
fn recreate_whose_first_pod_is_never_ready_fails_and_rolls_back() {
    let mut w = world(recreate(), 3);
    second_rollout(&mut w, Readiness::Never);
    assert_eq!(w.phase(2).as_deref(), Some("Failed"));
    let reason = w
        .annotation_of(2, "openshift.io/deployment.status-reason")
        .unwrap_or_default();
    assert!(
        reason.starts_with("update acceptor rejected web-2"),
        "{reason}"
    );
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(3), Some(0)),
        "rolled back"
    );
}

#[test]
fn available_resolves_the_bounds_as_a_rollout_does_and_never_flaps() {
    // maxSurge 0 and maxUnavailable 10% of 3 both round to 0: one pod may be unavailable.
    let mut w = world(rolling(IntOrPercent::Int(0), IntOrPercent::percent(10)), 3);
    assert!(w.run_until(60, ended(1), |_| {}));
    w.step();
    assert_eq!(status_of(&w, "Available"), "True");
    w.edit(|s| s.template = template("app:2"));
    let done = w.run_until(120, ended(2), |w| {
        assert_eq!(
            status_of(w, "Available"),
            "True",
            "Available flapped at {} available pods",
            w.available_pods()
        );
    });
    assert!(done);
    assert_eq!(w.phase(2).as_deref(), Some("Complete"));
}

#[test]
fn progressing_keeps_new_replication_controller_created_until_progress_is_seen() {
    let mut strategy = rolling(IntOrPercent::percent(25), IntOrPercent::percent(25));
    if let Some(params) = strategy.rolling_params.as_mut() {
        params.pre = Some(LifecycleHook {
            failure_policy: "Abort".into(),
            exec_new_pod: Some(ExecNewPodHook {
                command: vec!["/bin/migrate".into()],
                container_name: "app".into(),
                ..Default::default()
            }),
            tag_images: None,
        });
    }
    let mut w = world(strategy, 2);
    assert!(w.run_until(60, ended(1), |_| {}));
    w.hook_runs.insert(
        "web-2-hook-pre".into(),
        crate::sim::HookRun::SucceedAfter(10),
    );
    w.edit(|s| s.template = template("app:2"));
    w.step();
    // The pre hook runs for 10 s: the revision is Running, nothing has been scaled yet.
    for _ in 0..8 {
        assert_eq!(w.phase(2).as_deref(), Some("Running"));
        assert_eq!(
            w.condition("Progressing").map(|c| c.1),
            Some("NewReplicationControllerCreated".into())
        );
        w.step();
    }
    assert!(w.run_until(30, |w| w.spec_of(2) > Some(0), |_| {}));
    w.run_until(
        10,
        |w| w.dc.status.as_ref().is_some_and(|s| s.updated_replicas > 0),
        |_| {},
    );
    assert_eq!(
        w.condition("Progressing").map(|c| c.1),
        Some("ReplicationControllerUpdated".into())
    );
}

#[test]
fn active_deadline_seconds_bounds_the_whole_rollout() {
    // Every step makes progress (no timeoutSeconds failure), but ten slow steps take longer
    // than the rollout may.
    let mut strategy = rolling(IntOrPercent::Int(1), IntOrPercent::Int(0));
    strategy.active_deadline_seconds = Some(40);
    let mut w = world(strategy, 10);
    second_rollout(&mut w, Readiness::After(5));
    assert_eq!(w.phase(2).as_deref(), Some("Failed"));
    let reason = w
        .annotation_of(2, "openshift.io/deployment.status-reason")
        .unwrap_or_default();
    assert!(
        reason.contains("exceeded its deadline")
            && reason.contains("strategy.activeDeadlineSeconds (40s)"),
        "{reason}"
    );
    // Failed at the deadline, not a pass later: the planner asked to be woken for it.
    let started: jiff::Timestamp = w
        .annotation_of(2, "cutover.io/started-at")
        .and_then(|t| t.parse().ok())
        .expect("started");
    let failed_at = w
        .decisions
        .iter()
        .position(|d| {
            d.actions.iter().any(|a| {
                matches!(a, Action::Update(u) if u.annotations.get("openshift.io/deployment.phase") == Some(&Some("Failed".into())))
            })
        })
        .expect("a pass failed it");
    assert!(failed_at > 0);
    assert!(w.now.duration_since(started).as_secs() >= 40);
    for _ in 0..10 {
        w.step();
    }
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(10), Some(0)),
        "rolled back"
    );
}

#[test]
fn the_wait_is_bounded_by_the_active_deadline() {
    // The no-progress wait (timeoutSeconds 600) is longer than what is left of the rollout's
    // 40 s: the planner asks to be woken at the latter.
    let mut strategy = rolling(IntOrPercent::Int(1), IntOrPercent::Int(0));
    strategy.active_deadline_seconds = Some(40);
    if let Some(params) = strategy.rolling_params.as_mut() {
        params.timeout_seconds = Some(600);
    }
    let mut w = world(strategy, 1);
    assert!(w.run_until(60, ended(1), |_| {}));
    w.readiness.insert(2, Readiness::Never);
    w.edit(|s| s.template = template("app:2"));
    let d = w.step();
    let after = d.requeue_after.expect("a deadline to wake for");
    assert!(after.as_secs() <= 40, "{after:?}");
}

#[test]
fn a_running_rollout_finishes_while_paused_and_nothing_new_starts() {
    let mut w = world(recreate(), 3);
    assert!(w.run_until(60, ended(1), |_| {}));
    w.edit(|s| s.template = template("app:2"));
    // Paused right after Recreate scaled the old revision down: the rollout goes on.
    assert!(w.run_until(20, |w| w.spec_of(1) == Some(0), |_| {}));
    w.edit(|s| s.paused = true);
    assert!(w.run_until(60, ended(2), |_| {}));
    assert_eq!(w.phase(2).as_deref(), Some("Complete"));
    assert_eq!(w.spec_of(2), Some(3));
    // While paused, an edit starts nothing and replicas are left as they are.
    w.edit(|s| {
        s.template = template("app:3");
        s.replicas = 5;
    });
    for _ in 0..10 {
        w.step();
    }
    assert_eq!(w.latest_version(), 2);
    assert_eq!(w.spec_of(2), Some(3));
    w.edit(|s| s.paused = false);
    assert!(w.run_until(60, ended(3), |_| {}));
    assert_eq!(w.spec_of(3), Some(5));
}

#[test]
fn a_rollout_running_while_paused_can_be_cancelled() {
    let mut w = world(rolling(IntOrPercent::Int(1), IntOrPercent::Int(0)), 3);
    assert!(w.run_until(60, ended(1), |_| {}));
    w.readiness.insert(2, Readiness::Never);
    w.edit(|s| s.template = template("app:2"));
    w.step();
    w.edit(|s| s.paused = true);
    w.annotate("cutover.io/request-cancel", "c1");
    w.step();
    assert_eq!(w.request("cancel").map(|r| r.1), Some("Accepted".into()));
    assert_eq!(w.phase(2).as_deref(), Some("Failed"));
    assert_eq!(
        w.condition("Progressing").map(|c| c.1),
        Some("RolloutCancelled".into())
    );
}

#[test]
fn a_name_too_long_for_a_revision_is_a_condition_not_a_refused_create() {
    let name = "a".repeat(62);
    let mut config = dc(DeploymentConfigSpec {
        replicas: 1,
        template: template("app:1"),
        ..Default::default()
    });
    config.metadata.name = Some(name.clone());
    let mut w = World::new(config);
    for _ in 0..3 {
        w.step();
    }
    assert!(w.rss.is_empty());
    let (status, reason, message) = w.condition("Progressing").expect("Progressing");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ReplicationControllerCreateError")
    );
    assert!(
        message.contains(&format!("{name}-1")) && message.contains("at most 63"),
        "{message}"
    );
    assert!(
        w.decisions
            .iter()
            .flat_map(|d| &d.actions)
            .all(|a| !matches!(a, Action::CreateRevision { .. })),
        "no create is tried"
    );
}

#[test]
fn an_init_container_image_is_not_an_image_change() {
    let mut w = world(rolling(IntOrPercent::Int(1), IntOrPercent::Int(0)), 1);
    w.edit(|s| {
        s.triggers = Some(vec![DeploymentTriggerPolicy {
            type_: TRIGGER_IMAGE_CHANGE.into(),
            image_change_params: Some(DeploymentTriggerImageChangeParams {
                automatic: true,
                container_names: vec!["app".into()],
                from: k8s_openapi::api::core::v1::ObjectReference {
                    kind: Some("ImageStreamTag".into()),
                    name: Some("app:v1".into()),
                    ..Default::default()
                },
                // Resolved once: the first rollout waits for that.
                last_triggered_image: Some("app:1".into()),
            }),
        }]);
        s.template = PodTemplate(serde_json::json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "initContainers": [{"name": "init", "image": "init:1"}],
                "containers": [{"name": "app", "image": "app:1"}]
            }
        }));
    });
    assert!(w.run_until(60, ended(1), |_| {}));
    w.edit(|s| {
        s.template.0["spec"]["initContainers"][0]["image"] = "init:2".into();
    });
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(
        w.latest_version(),
        1,
        "an init container's image is not watched"
    );
    w.edit(|s| {
        s.template.0["spec"]["containers"][0]["image"] = "app:2".into();
    });
    w.step();
    assert_eq!(w.latest_version(), 2, "a container's image is");
}
