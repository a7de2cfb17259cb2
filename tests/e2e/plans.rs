//! Rollout plans against the rollouts that then run: `kubectl dc rollout plan` is asked first,
//! the change is made, and a watch on the ReplicaSets records every replica count each revision
//! is given. The plan must name the same steps, revision by revision, and end the same way.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

/// Each revision's replica counts in the order they were given, repeats dropped.
type Steps = BTreeMap<String, Vec<i64>>;

fn push(steps: &mut Steps, revision: &str, replicas: i64) {
    let seen = steps.entry(revision.to_string()).or_default();
    if seen.last() != Some(&replicas) {
        seen.push(replicas);
    }
}

/// The steps a plan (`-o json`) names, starting from the revisions as they stand.
fn planned(plan: &Value, before: &Steps) -> Steps {
    let mut steps = before.clone();
    for step in plan["steps"].as_array().into_iter().flatten() {
        for (revision, replicas) in step["replicas"].as_object().into_iter().flatten() {
            push(&mut steps, revision, replicas.as_i64().unwrap_or(-1));
        }
    }
    steps
}

/// Watches the DeploymentConfig's ReplicaSets until stopped: every spec.replicas each was given.
struct ReplicaSetWatcher {
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<Steps>,
}

impl ReplicaSetWatcher {
    async fn start(ns: &TestNamespace, dc: &str) -> Self {
        let config =
            watcher::Config::default().labels(&format!("openshift.io/deployment-config.name={dc}"));
        let mut stream = Box::pin(watcher(ns.api::<ReplicaSet>(), config).default_backoff());
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let (listed, is_listed) = tokio::sync::oneshot::channel();
        let handle = tokio::spawn(async move {
            let mut steps = Steps::new();
            let mut listed = Some(listed);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    ev = stream.next() => match ev {
                        Some(Ok(watcher::Event::Apply(rs) | watcher::Event::InitApply(rs))) => {
                            let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                            push(&mut steps, &rs.name_any(), i64::from(replicas));
                        }
                        Some(Ok(watcher::Event::InitDone)) => {
                            if let Some(l) = listed.take() {
                                let _ = l.send(());
                            }
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            steps
        });
        is_listed.await.expect("the ReplicaSets listed");
        ReplicaSetWatcher { stop, handle }
    }

    async fn finish(self) -> Steps {
        let _ = self.stop.send(());
        self.handle.await.expect("the watch task")
    }
}

/// Plans a new image for `name`, rolls it out, and compares what ran with the plan.
async fn plan_then_roll_out(ns: &TestNamespace, name: &str) -> Value {
    let watch = ReplicaSetWatcher::start(ns, name).await;
    // Asked twice, as JSON and as the table a person reads.
    let ask = |output: &'static [&'static str]| async move {
        let mut args = vec![
            "rollout",
            "plan",
            name,
            "--image",
            "app=registry.example/app:2",
        ];
        args.extend_from_slice(output);
        let (ok, out, err) = dc_plugin(&ns.name, &args).await;
        assert!(ok, "rollout plan: {err}");
        out
    };
    let plan: Value = serde_json::from_str(&ask(&["-o", "json"]).await).expect("the plan is JSON");
    let table = ask(&[]).await;
    assert!(table.contains(&format!("{name}-1 → {name}-2")), "{table}");
    assert_eq!(plan["ending"]["result"], "Complete", "{plan:#}");
    assert!(
        ns.api::<ReplicaSet>()
            .get_opt(&format!("{name}-2"))
            .await
            .expect("get")
            .is_none(),
        "planning changes nothing"
    );

    let before = Steps::from([(format!("{name}-1"), vec![3])]);
    change_image(ns, name, "registry.example/app:2").await;
    wait_phase(ns, &format!("{name}-2"), "Complete", 2 * MINUTE).await;
    // The old revision's last scale-down is written in the pass that completes the rollout.
    eventually("the old revision scaled to zero", MINUTE, || async {
        (rs_replicas(ns, &format!("{name}-1")).await == Some(0)).then_some(())
    })
    .await;
    let seen = watch.finish().await;
    assert_eq!(
        planned(&plan, &before),
        seen,
        "the plan's steps are the rollout's, revision by revision\n{table}"
    );
    plan
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_rolling_plan_names_the_steps_that_run() {
    let ns = TestNamespace::new("plan-rolling").await;
    let _op = Operator::start(&ns.name);
    let rolling =
        "    type: Rolling\n    rollingParams:\n      maxSurge: 1\n      maxUnavailable: 0";
    roll_out(&ns, &dc_manifest("web", 3, rolling, ""), "web-1").await;
    let plan = plan_then_roll_out(&ns, "web").await;
    assert_eq!(plan["bounds"]["minAvailable"], 3, "{plan:#}");
    assert_eq!(plan["bounds"]["maxPods"], 4, "{plan:#}");
    assert_eq!(plan["extremes"]["mostPods"], 4, "{plan:#}");
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_recreate_plan_with_hooks_names_the_steps_that_run() {
    let ns = TestNamespace::new("plan-recreate").await;
    let _op = Operator::start(&ns.name);
    let hook = |point: &str| {
        format!(
            "      {point}:\n        failurePolicy: Abort\n        execNewPod:\n          containerName: app\n          command: [\"/bin/true\"]\n"
        )
    };
    let recreate = format!(
        "    type: Recreate\n    recreateParams:\n{}{}",
        hook("pre"),
        hook("mid")
    );
    roll_out(&ns, &dc_manifest("db", 3, recreate.trim_end(), ""), "db-1").await;
    let plan = plan_then_roll_out(&ns, "db").await;
    let actions: Vec<String> = plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["actions"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let at = |what: &str| {
        actions
            .iter()
            .position(|a| a == what)
            .unwrap_or_else(|| panic!("{what:?} planned: {actions:#?}"))
    };
    assert!(at("run the pre hook (Job db-2-hook-pre)") < at("scale db-1 3 → 0"));
    assert!(at("scale db-1 3 → 0") < at("run the mid hook (Job db-2-hook-mid)"));
    assert!(at("run the mid hook (Job db-2-hook-mid)") < at("scale db-2 0 → 1"));
    for point in ["pre", "mid"] {
        let job = ns
            .api::<k8s_openapi::api::batch::v1::Job>()
            .get_opt(&format!("db-2-hook-{point}"))
            .await
            .expect("get");
        assert!(job.is_some(), "the planned {point} hook ran");
    }
    ns.cleanup().await;
}
