//! Lifecycle hooks in the planner, against the simulated cluster: order, failure policies, and
//! exactly one Job per hook.

mod irreversible;
mod tag_images;

use crate::sim::{HookRun, World, dc, template};
use cutover::api::*;
use cutover::strategy::Action;

fn hook(policy: &str) -> Option<LifecycleHook> {
    Some(LifecycleHook {
        failure_policy: policy.into(),
        exec_new_pod: Some(ExecNewPodHook {
            command: vec!["/bin/migrate".into()],
            container_name: "app".into(),
            ..Default::default()
        }),
        tag_images: None,
    })
}

fn recreate(pre: &str, mid: &str, post: &str) -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Recreate".into()),
        recreate_params: Some(RecreateDeploymentStrategyParams {
            timeout_seconds: Some(60),
            pre: hook(pre),
            mid: hook(mid),
            post: hook(post),
        }),
        ..Default::default()
    }
}

fn rolling(pre: Option<&str>, post: Option<&str>) -> DeploymentStrategy {
    DeploymentStrategy {
        rolling_params: Some(RollingDeploymentStrategyParams {
            timeout_seconds: Some(60),
            pre: pre.and_then(hook),
            post: post.and_then(hook),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn world(strategy: DeploymentStrategy, replicas: i32) -> World {
    World::new(dc(DeploymentConfigSpec {
        replicas,
        template: template("app:1"),
        strategy,
        ..Default::default()
    }))
}

fn phase_is(version: i64, phase: &'static str) -> impl Fn(&World) -> bool {
    move |w| w.phase(version).as_deref() == Some(phase)
}

fn pods_of(w: &World, version: i64) -> usize {
    w.rss
        .iter()
        .find(|r| World::version_of(r) == version)
        .map_or(0, |r| r.pods.len())
}

#[test]
fn recreate_runs_mid_after_old_pods_are_gone_and_before_new_ones() {
    let mut w = world(recreate("Abort", "Abort", "Abort"), 3);
    assert!(w.run_until(60, phase_is(1, "Complete"), |_| {}));
    w.edit(|s| s.template = template("app:2"));
    let mut mid_seen = false;
    let done = w.run_until(120, phase_is(2, "Complete"), |w| {
        if !mid_seen && w.jobs.iter().any(|j| j.name() == "web-2-hook-mid") {
            mid_seen = true;
            assert_eq!(pods_of(w, 1), 0, "mid hook created while old pods exist");
            assert_eq!(pods_of(w, 2), 0, "mid hook created after a new pod exists");
        }
        if w.jobs.iter().any(|j| j.name() == "web-2-hook-post") {
            assert!(
                w.rss
                    .iter()
                    .any(|r| World::version_of(r) == 2 && r.pods.len() == 3),
                "post before the new pods"
            );
        }
    });
    assert!(done && mid_seen);
    let order: Vec<&str> = w.job_creations.iter().map(String::as_str).collect();
    assert_eq!(
        order,
        [
            "web-1-hook-pre",
            "web-1-hook-mid",
            "web-1-hook-post",
            "web-2-hook-pre",
            "web-2-hook-mid",
            "web-2-hook-post"
        ]
    );
    let at = |n: &str| w.job_created_at[n];
    assert!(
        at("web-2-hook-pre") < at("web-2-hook-mid") && at("web-2-hook-mid") < at("web-2-hook-post")
    );
}

#[test]
fn rolling_runs_pre_before_any_scaling_and_post_after_availability() {
    let mut w = world(rolling(Some("Abort"), Some("Abort")), 4);
    w.reconcile();
    // The revision exists, its pre hook runs, and nothing is scaled until it succeeds.
    for _ in 0..1 {
        w.step();
        assert_eq!(w.spec_of(1), Some(0), "scaled before the pre hook finished");
    }
    assert!(w.jobs.iter().any(|j| j.name() == "web-1-hook-pre"));
    assert!(w.run_until(60, phase_is(1, "Complete"), |w| {
        if w.jobs.iter().any(|j| j.name() == "web-1-hook-post") {
            assert!(
                w.available_pods() >= 4,
                "post hook before the pods were available"
            );
        }
    }));
    assert_eq!(w.job_creations, ["web-1-hook-pre", "web-1-hook-post"]);
}

#[test]
fn a_failing_abort_pre_hook_scales_nothing_and_fails_the_rollout() {
    let mut w = world(recreate("Abort", "Abort", "Abort"), 3);
    assert!(w.run_until(60, phase_is(1, "Complete"), |_| {}));
    w.hook_runs
        .insert("web-2-hook-pre".into(), HookRun::FailAfter(2));
    w.edit(|s| s.template = template("app:2"));
    assert!(w.run_until(60, phase_is(2, "Failed"), |w| {
        assert_eq!(w.spec_of(1), Some(3), "the old revision was touched");
        assert_eq!(w.spec_of(2).unwrap_or(0), 0, "the new revision was scaled");
    }));
    let rs2 = w
        .rss
        .iter()
        .find(|r| World::version_of(r) == 2)
        .expect("rev 2");
    let reason = rs2
        .annotation("openshift.io/deployment.status-reason")
        .unwrap_or_default();
    assert!(reason.starts_with("the pre hook failed: Job has reached the specified backoff limit, aborting rollout of ns/web-2"), "{reason}");
    assert_eq!(
        rs2.annotation("cutover.io/hook-pre").as_deref(),
        Some("Failed")
    );
    assert!(
        !w.job_creations.iter().any(|n| n == "web-2-hook-mid"),
        "no hook after a failed one"
    );
}

#[test]
fn an_abort_post_hook_failing_rolls_back_after_full_scale() {
    let mut w = world(recreate("Abort", "Abort", "Abort"), 3);
    assert!(w.run_until(60, phase_is(1, "Complete"), |_| {}));
    w.hook_runs
        .insert("web-2-hook-post".into(), HookRun::FailAfter(1));
    w.edit(|s| s.template = template("app:2"));
    assert!(w.run_until(60, phase_is(2, "Failed"), |_| {}));
    for _ in 0..3 {
        w.step();
    }
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(3), Some(0)),
        "automatic rollback"
    );
}

#[test]
fn an_ignored_hook_failure_warns_and_the_rollout_completes() {
    let mut w = world(rolling(None, Some("Ignore")), 2);
    w.hook_runs
        .insert("web-1-hook-post".into(), HookRun::FailAfter(1));
    assert!(w.run_until(60, phase_is(1, "Complete"), |_| {}));
    let warned = w.decisions.iter().flat_map(|d| &d.actions).any(|a| {
        matches!(a, Action::Event(e) if e.warning && e.reason == "Failed" && e.message.contains("(ignore), rollout of ns/web-1 will continue"))
    });
    assert!(warned, "a Warning event for the ignored failure");
    let rs = &w.rss[0];
    assert_eq!(
        rs.annotation("cutover.io/hook-post").as_deref(),
        Some("FailedIgnored")
    );
}

#[test]
fn retry_hooks_retry_in_their_job_and_a_final_failure_aborts() {
    let mut w = world(recreate("Retry", "Abort", "Abort"), 1);
    w.reconcile();
    w.step();
    let job = w
        .jobs
        .iter()
        .find(|j| j.name() == "web-1-hook-pre")
        .expect("pre job");
    assert_eq!(
        job.manifest["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    assert_eq!(job.manifest["spec"]["backoffLimit"], i32::MAX);
    let deadline = job.manifest["spec"]["activeDeadlineSeconds"]
        .as_i64()
        .expect("deadline");
    assert!(deadline > 21590 && deadline <= 21600, "{deadline}");

    let mut w = world(recreate("Retry", "Abort", "Abort"), 1);
    w.hook_runs
        .insert("web-1-hook-pre".into(), HookRun::FailAfter(3));
    assert!(w.run_until(30, phase_is(1, "Failed"), |_| {}));
}

#[test]
fn the_hook_job_is_built_from_the_named_container() {
    let mut spec = DeploymentConfigSpec {
        replicas: 1,
        strategy: rolling(Some("Abort"), None),
        ..Default::default()
    };
    spec.template = PodTemplate(serde_json::json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"podAntiAffinity": {}},
            "imagePullSecrets": [{"name": "pull"}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "other", "emptyDir": {}}],
            "containers": [{
                "name": "app", "image": "app:1", "workingDir": "/srv",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "from-container"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "other", "mountPath": "/o"}]
            }]
        }
    }));
    if let Some(h) = spec
        .strategy
        .rolling_params
        .as_mut()
        .and_then(|r| r.pre.as_mut())
        .and_then(|p| p.exec_new_pod.as_mut())
    {
        h.env = Some(vec![k8s_openapi::api::core::v1::EnvVar {
            name: "B".into(),
            value: Some("from-hook".into()),
            ..Default::default()
        }]);
        h.volumes = Some(vec!["data".into()]);
    }
    spec.strategy.labels = Some(
        [
            ("team".to_string(), "db".to_string()),
            (
                "openshift.io/deployer-pod.type".to_string(),
                "spoof".to_string(),
            ),
        ]
        .into(),
    );
    let mut w = World::new(dc(spec));
    w.reconcile();
    w.step();
    let job = &w
        .jobs
        .iter()
        .find(|j| j.name() == "web-1-hook-pre")
        .expect("job")
        .manifest;
    let pod = &job["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["name"], "lifecycle");
    assert_eq!(c["image"], "app:1");
    assert_eq!(c["workingDir"], "/srv");
    assert_eq!(c["command"], serde_json::json!(["/bin/migrate"]));
    let env: Vec<(String, String)> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or("").into(),
                e["value"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert!(env.contains(&("A".into(), "1".into())));
    assert!(
        env.contains(&("B".into(), "from-hook".into())),
        "the hook's env wins: {env:?}"
    );
    assert!(env.contains(&("OPENSHIFT_DEPLOYMENT_NAME".into(), "web-1".into())));
    assert!(env.contains(&("OPENSHIFT_DEPLOYMENT_NAMESPACE".into(), "ns".into())));
    assert_eq!(
        pod["volumes"],
        serde_json::json!([{"name": "data", "emptyDir": {}}])
    );
    assert_eq!(
        c["volumeMounts"],
        serde_json::json!([{"name": "data", "mountPath": "/data"}])
    );
    assert_eq!(pod["nodeSelector"], serde_json::json!({"disk": "ssd"}));
    assert_eq!(
        pod["tolerations"],
        serde_json::json!([{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]),
        "the hook tolerates the taints the app's pods tolerate"
    );
    assert!(
        pod.get("affinity").is_none(),
        "the app's affinity stays its own"
    );
    assert_eq!(
        pod["imagePullSecrets"],
        serde_json::json!([{"name": "pull"}])
    );
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    let labels = &job["metadata"]["labels"];
    assert_eq!(labels["team"], "db");
    assert_eq!(
        labels["openshift.io/deployer-pod.type"], "hook-pre",
        "system keys are never overridden"
    );
    assert_eq!(labels["openshift.io/deployer-pod-for.name"], "web-1");
    assert_eq!(job["spec"]["template"]["metadata"]["labels"]["team"], "db");
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    assert_eq!(job["metadata"]["ownerReferences"][0]["name"], "web-1");
}

/// A Rolling strategy whose pre hook, under `policy`, names a container the template lacks.
fn pre_hook_in_missing_container(policy: &str) -> World {
    let mut strategy = rolling(Some(policy), None);
    if let Some(h) = strategy
        .rolling_params
        .as_mut()
        .and_then(|r| r.pre.as_mut())
        .and_then(|p| p.exec_new_pod.as_mut())
    {
        h.container_name = "nope".into();
    }
    world(strategy, 1)
}

fn failed_events(w: &World) -> Vec<String> {
    w.decisions
        .iter()
        .flat_map(|d| &d.actions)
        .filter_map(|a| match a {
            Action::Event(e) if e.warning && e.reason == "Failed" => Some(e.message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_hook_naming_a_missing_container_fails_an_abort_rollout_clearly() {
    let mut w = pre_hook_in_missing_container("Abort");
    assert!(w.run_until(10, phase_is(1, "Failed"), |_| {}));
    let reason = w.rss[0]
        .annotation("openshift.io/deployment.status-reason")
        .unwrap_or_default();
    assert!(
        reason.contains("no container named 'nope' found in rc template")
            && reason.contains("aborting rollout of ns/web-1")
            && !reason.contains("will continue"),
        "{reason}"
    );
    assert_eq!(failed_events(&w).len(), 2, "the hook's and the rollout's");
    assert!(w.job_creations.is_empty());
}

#[test]
fn a_hook_naming_a_missing_container_is_ignored_under_ignore() {
    let mut w = pre_hook_in_missing_container("Ignore");
    assert!(w.run_until(20, phase_is(1, "Complete"), |_| {}));
    assert_eq!(
        w.annotation_of(1, "cutover.io/hook-pre").as_deref(),
        Some("FailedIgnored")
    );
    let events = failed_events(&w);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("no container named 'nope' found in rc template")
            && events[0].ends_with("(ignore), rollout of ns/web-1 will continue"),
        "{events:?}"
    );
    assert!(w.job_creations.is_empty());
}

/// What the metrics count comes from the planner: each rollout and each hook is reported
/// finished once, in the pass that ends it, however many passes follow.
#[test]
fn a_rollout_and_its_hooks_are_reported_finished_once() {
    use cutover::strategy::{Finished, RolloutOutcome};
    let mut w = world(recreate("Abort", "Ignore", "Abort"), 2);
    w.hook_runs
        .insert("web-1-hook-mid".into(), HookRun::FailAfter(2));
    assert!(w.run_until(60, phase_is(1, "Complete"), |_| {}));
    for _ in 0..5 {
        w.step();
    }
    let finished: Vec<&Finished> = w.decisions.iter().flat_map(|d| &d.finished).collect();
    let hooks: Vec<(&str, &str)> = finished
        .iter()
        .filter_map(|f| match f {
            Finished::Hook { point, outcome } => Some((point.as_str(), *outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        hooks,
        [
            ("pre", "Succeeded"),
            ("mid", "FailedIgnored"),
            ("post", "Succeeded")
        ]
    );
    let rollouts: Vec<(&str, RolloutOutcome, bool)> = finished
        .iter()
        .filter_map(|f| match f {
            Finished::Rollout {
                strategy,
                outcome,
                took,
            } => Some((strategy.as_str(), *outcome, took.is_some())),
            _ => None,
        })
        .collect();
    assert_eq!(rollouts, [("Recreate", RolloutOutcome::Complete, true)]);
}
