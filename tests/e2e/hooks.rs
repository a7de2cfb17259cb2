//! Lifecycle hooks as Jobs on the real cluster: the mid hook between the old pods' end and the
//! new pods' start, each failure policy, and exactly one Job across an operator restart.
//! kwok completes Job pods; a hook is made to fail with kwok's chaos label and slowed with
//! cutover's own stage (hack/kwok/), both put on the hook pods through strategy.labels.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::ListParams;
use kube::runtime::watcher;
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);
const FAIL_LABEL: &str = "pod-container-running-failed.stage.kwok.x-k8s.io";

fn dc(name: &str, replicas: i32) -> String {
    format!(
        r#"apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    app: {name}
  strategy:
    type: Recreate
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: app
          image: registry.example/app:1
          env:
            - name: DB_URL
              value: postgres://db
"#
    )
}

fn exec(policy: &str, command: &str) -> serde_json::Value {
    json!({"failurePolicy": policy, "execNewPod": {"containerName": "app", "command": ["/bin/sh", "-c", command]}})
}

/// A new revision (image v2) with the given strategy: the hooks apply to that rollout only.
async fn roll_with(ns: &TestNamespace, name: &str, strategy: serde_json::Value) {
    patch_spec(
        ns,
        name,
        // A merge patch replaces the whole containers list: give the container whole.
        json!({"strategy": strategy, "template": {"spec": {"containers": [{
            "name": "app", "image": "registry.example/app:2", "env": [{"name": "DB_URL", "value": "postgres://db"}]
        }]}}}),
    )
    .await;
}

/// The first container of a Job's pod template.
fn container_of(job: &Job) -> &k8s_openapi::api::core::v1::Container {
    &job.spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers[0]
}

async fn jobs(ns: &TestNamespace) -> Vec<Job> {
    ns.api::<Job>()
        .list(&ListParams::default())
        .await
        .expect("jobs")
        .items
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn recreate_runs_mid_between_the_old_pods_end_and_the_new_pods_start() {
    let ns = TestNamespace::new("hooks-order").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("db", 3), "db-1").await;

    // Watches on pods and Jobs record when each thing happened as the resourceVersion of its
    // event: one etcd revision counter orders all of them, whatever order two watch streams
    // deliver them in.
    let pods = watcher(
        ns.api::<Pod>(),
        watcher::Config::default().labels("deploymentconfig=db"),
    );
    let jobs_w = watcher(ns.api::<Job>(), watcher::Config::default());
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let rv = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| -> u64 {
            m.resource_version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let (mut pods, mut jobs_w) = (Box::pin(pods), Box::pin(jobs_w));
        let mut seen: std::collections::BTreeMap<String, u64> = Default::default();
        let mut old_gone = 0u64;
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(Ok(ev)) = pods.next() => match ev {
                    watcher::Event::Apply(p) if p.labels().get("deployment").is_some_and(|r| r == "db-2") => {
                        seen.entry("first db-2 pod".into()).or_insert(rv(&p.metadata));
                    }
                    watcher::Event::Delete(p) if p.labels().get("deployment").is_some_and(|r| r == "db-1") => {
                        old_gone = old_gone.max(rv(&p.metadata));
                    }
                    _ => {}
                },
                Some(Ok(ev)) = jobs_w.next() => if let watcher::Event::Apply(j) = ev {
                    seen.entry(format!("job {}", j.name_any())).or_insert(rv(&j.metadata));
                },
            }
        }
        seen.insert("last db-1 pod gone".into(), old_gone);
        seen
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    roll_with(
        &ns,
        "db",
        json!({"type": "Recreate", "recreateParams": {
            "pre": exec("Abort", "echo pre"), "mid": exec("Abort", "migrate"), "post": exec("Abort", "echo post")}}),
    )
    .await;
    wait_phase(&ns, "db-2", "Complete", 2 * MINUTE).await;
    let _ = stop.send(());
    let log = task.await.expect("watch task");
    let at = |s: &str| -> u64 {
        log.get(s)
            .copied()
            .filter(|v| *v > 0)
            .unwrap_or_else(|| panic!("{s} not seen in {log:?}"))
    };
    assert!(
        at("job db-2-hook-pre") < at("last db-1 pod gone"),
        "{log:?}"
    );
    assert!(
        at("last db-1 pod gone") < at("job db-2-hook-mid"),
        "mid after the last old pod: {log:?}"
    );
    assert!(
        at("job db-2-hook-mid") < at("first db-2 pod"),
        "mid before the first new pod: {log:?}"
    );
    assert!(at("first db-2 pod") < at("job db-2-hook-post"), "{log:?}");

    // The hook Jobs: names, labels, owner, the container built from the template's.
    let all = jobs(&ns).await;
    assert_eq!(all.len(), 3);
    let mid = all
        .iter()
        .find(|j| j.name_any() == "db-2-hook-mid")
        .expect("mid job");
    assert_eq!(
        mid.labels()
            .get("openshift.io/deployer-pod-for.name")
            .map(String::as_str),
        Some("db-2")
    );
    assert_eq!(
        mid.labels()
            .get("openshift.io/deployer-pod.type")
            .map(String::as_str),
        Some("hook-mid")
    );
    assert_eq!(mid.owner_references()[0].name, "db-2");
    let container = container_of(mid);
    assert_eq!(container.name, "lifecycle");
    assert_eq!(container.image.as_deref(), Some("registry.example/app:2"));
    let env: Vec<&str> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert!(
        env.contains(&"DB_URL") && env.contains(&"OPENSHIFT_DEPLOYMENT_NAME"),
        "{env:?}"
    );
    // (Events are recorded off the reconcile path: the post hook's may land after Complete.)
    eventually("a Completed event per hook", MINUTE, || async {
        (dc_events(&ns, "Completed").await.len() == 3).then_some(())
    })
    .await;

    // `kubectl dc logs`: each hook's pod (kwok runs no containers, so no log text) and the
    // revision's event timeline.
    let (ok, text, err) = dc_plugin(&ns.name, &["logs", "db", "--version", "2"]).await;
    assert!(ok, "{text}{err}");
    for hook in ["pre", "mid", "post"] {
        assert!(
            text.contains(&format!("--> hook-{hook}: pod/db-2-hook-{hook}-")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "The {hook}-hook for rc {}/db-2 completed successfully",
                ns.name
            )),
            "{text}"
        );
    }
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn undo_past_an_irreversible_migration_is_refused_unless_forced() {
    let ns = TestNamespace::new("hooks-forward").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("orders", 2), "orders-1").await;
    let (ok, _, err) = kubectl(&[
        "annotate",
        "dc",
        "orders",
        "-n",
        &ns.name,
        "cutover.io/irreversible-hooks=mid",
    ])
    .await;
    assert!(ok, "{err}");
    roll_with(
        &ns,
        "orders",
        json!({"type": "Recreate", "recreateParams": {"mid": exec("Abort", "./migrate up")}}),
    )
    .await;
    wait_phase(&ns, "orders-2", "Complete", MINUTE).await;

    let (ok, _, err) = dc_plugin(&ns.name, &["rollout", "undo", "orders"]).await;
    assert!(!ok, "refused");
    assert!(
        err.contains(
            "revision 2 ran the irreversible mid hook: revision 1 is older and may not run again"
        ),
        "{err}"
    );
    let (ok, out, err) = dc_plugin(
        &ns.name,
        &["rollout", "undo", "orders", "--force-past-migration"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains(
            "rolled back to revision 1: rollout #3 started (forced past an irreversible hook)"
        ),
        "{out}"
    );
    wait_phase(&ns, "orders-3", "Complete", MINUTE).await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn what_a_failed_hook_said_is_on_the_revision_the_event_and_rollout_status() {
    let ns = TestNamespace::new("hooks-output").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("orders", 1), "orders-1").await;
    // The hook pod ends with this termination message (cutover's kwok stage, hack/kwok/).
    let said = "ERROR: relation \"orders\" already exists";
    roll_with(
        &ns,
        "orders",
        json!({"type": "Recreate", "annotations": {"cutover.io/fail-with-message": said},
               "recreateParams": {"pre": exec("Abort", "./migrate up")}}),
    )
    .await;
    wait_phase(&ns, "orders-2", "Failed", MINUTE).await;
    let job = jobs(&ns)
        .await
        .into_iter()
        .find(|j| j.name_any() == "orders-2-hook-pre")
        .expect("the hook's Job");
    assert_eq!(
        job.annotations()
            .get("cutover.io/output")
            .map(String::as_str),
        Some(said),
        "recorded on the Job"
    );
    let container = container_of(&job);
    assert_eq!(
        container.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError"),
        "a hook that writes no termination message is heard through its log's tail"
    );
    // On the revision, in the Failed event, in the Progressing condition and rollout status.
    let rs = ns
        .api::<k8s_openapi::api::apps::v1::ReplicaSet>()
        .get("orders-2")
        .await
        .expect("revision");
    let recorded = rs
        .annotations()
        .get("openshift.io/deployment.status-reason")
        .cloned()
        .unwrap_or_default();
    assert!(
        recorded.contains(said),
        "the revision's status reason: {recorded}"
    );
    eventually("the Failed event with the hook's words", MINUTE, || async {
        dc_events(&ns, "Failed")
            .await
            .iter()
            .any(|e| {
                e.note
                    .as_deref()
                    .is_some_and(|n| n.contains("the pre hook failed") && n.contains(said))
            })
            .then_some(())
    })
    .await;
    let (ok, _, err) = dc_plugin(&ns.name, &["rollout", "status", "orders", "--timeout=60"]).await;
    assert!(!ok);
    assert!(
        err.starts_with("error: replication controller \"orders-2\" has failed progressing: ")
            && err.contains(said),
        "{err}"
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn an_abort_pre_hook_that_fails_scales_nothing_and_the_old_revision_keeps_serving() {
    let ns = TestNamespace::new("hooks-abort").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("web", 2), "web-1").await;
    roll_with(
        &ns,
        "web",
        json!({"type": "Recreate", "labels": {FAIL_LABEL: "true"}, "recreateParams": {"pre": exec("Abort", "exit 1")}}),
    )
    .await;
    wait_phase(&ns, "web-2", "Failed", MINUTE).await;
    assert_eq!(
        rs_replicas(&ns, "web-1").await,
        Some(2),
        "the old revision still serves"
    );
    assert_eq!(
        rs_replicas(&ns, "web-2").await,
        Some(0),
        "the new revision was never scaled"
    );
    // The status is written right after the revision's phase, in the same pass.
    eventually("Progressing=ProgressDeadlineExceeded", MINUTE, || async {
        let dc = ns.dcs().get("web").await.ok()?;
        (condition(&dc, "Progressing")?.1 == "ProgressDeadlineExceeded").then_some(())
    })
    .await;
    eventually("a Failed event for the aborted hook", MINUTE, || async {
        let failed = dc_events(&ns, "Failed").await;
        failed
            .iter()
            .any(|e| {
                e.note.as_deref().is_some_and(|n| {
                    n.contains("the pre hook failed") && n.contains("aborting rollout")
                })
            })
            .then_some(())
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn an_ignore_post_hook_that_fails_warns_and_the_rollout_completes() {
    let ns = TestNamespace::new("hooks-ignore").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("web", 2), "web-1").await;
    roll_with(
        &ns,
        "web",
        json!({"type": "Recreate", "labels": {FAIL_LABEL: "true"}, "recreateParams": {"post": exec("Ignore", "notify")}}),
    )
    .await;
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    // Events are recorded off the reconcile path: the Warning may land just after Complete.
    eventually(
        "a Warning event for the ignored failure",
        MINUTE,
        || async {
            let warnings = dc_events(&ns, "Failed").await;
            warnings
                .iter()
                .any(|e| {
                    e.type_.as_deref() == Some("Warning")
                        && e.note.as_deref().is_some_and(|n| {
                            n.contains("(ignore), rollout of") && n.contains("will continue")
                        })
                })
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        (
            rs_replicas(&ns, "web-1").await,
            rs_replicas(&ns, "web-2").await
        ),
        (Some(0), Some(2))
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_retry_hook_retries_until_its_deadline_then_aborts() {
    let ns = TestNamespace::new("hooks-retry").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("web", 1), "web-1").await;
    roll_with(
        &ns,
        "web",
        json!({"type": "Recreate", "activeDeadlineSeconds": 20, "labels": {FAIL_LABEL: "true"},
               "recreateParams": {"timeoutSeconds": 10, "pre": exec("Retry", "exit 1")}}),
    )
    .await;
    let job = eventually("the retry hook's Job", MINUTE, || async {
        jobs(&ns)
            .await
            .into_iter()
            .find(|j| j.name_any() == "web-2-hook-pre")
    })
    .await;
    let spec = job.spec.as_ref().expect("spec");
    assert_eq!(
        spec.template
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.as_deref()),
        Some("OnFailure")
    );
    assert_eq!(spec.backoff_limit, Some(i32::MAX), "the Job keeps retrying");
    let deadline = spec.active_deadline_seconds.expect("deadline");
    assert!(
        (1..=20).contains(&deadline),
        "bounded by the strategy's deadline: {deadline}"
    );
    // It does retry: more than one pod, before the deadline ends the Job and the rollout.
    eventually("a second attempt", MINUTE, || async {
        let pods = ns
            .api::<Pod>()
            .list(&ListParams::default().labels("job-name=web-2-hook-pre"))
            .await
            .ok()?;
        (pods.items.len() >= 2).then_some(())
    })
    .await;
    wait_phase(&ns, "web-2", "Failed", MINUTE).await;
    assert_eq!(
        rs_replicas(&ns, "web-1").await,
        Some(1),
        "rolled back to the old revision"
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn an_operator_killed_while_the_mid_hook_runs_reattaches_to_its_job() {
    let ns = TestNamespace::new("hooks-restart").await;
    let op = Operator::start(&ns.name);
    roll_out(&ns, &dc("db", 2), "db-1").await;
    roll_with(
        &ns,
        "db",
        json!({"type": "Recreate",
               "labels": {"cutover.io/complete-after": "yes"}, "annotations": {"cutover.io/complete-after": "6s"},
               "recreateParams": {"mid": exec("Abort", "migrate")}}),
    )
    .await;
    eventually("the mid hook's Job", MINUTE, || async {
        jobs(&ns)
            .await
            .into_iter()
            .find(|j| j.name_any() == "db-2-hook-mid")
    })
    .await;
    op.kill().await;
    let restarted = Instant::now();
    let _op = Operator::start(&ns.name);
    wait_phase(&ns, "db-2", "Complete", MINUTE).await;
    let mids: Vec<Job> = jobs(&ns)
        .await
        .into_iter()
        .filter(|j| j.name_any().ends_with("hook-mid"))
        .collect();
    assert_eq!(mids.len(), 1, "exactly one mid Job");
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("job-name=db-2-hook-mid"))
        .await
        .expect("pods");
    assert_eq!(pods.items.len(), 1, "the hook ran once");
    assert!(
        restarted.elapsed() >= Duration::from_secs(2),
        "the restarted operator waited for the running hook"
    );
    // Events are best effort: the kill may land between the Job's creation and its Started
    // event, so there may be none; a second run would make a second one.
    let started = dc_events(&ns, "Started").await.len();
    assert!(started <= 1, "{started} Started events: the hook ran again");
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn the_migration_example_rolls_out_with_its_three_hooks() {
    let ns = TestNamespace::new("hooks-example").await;
    let _op = Operator::start(&ns.name);
    let yaml =
        std::fs::read_to_string(root().join("examples/recreate-migration.yaml")).expect("example");
    roll_out(&ns, &yaml, "orders-1").await;
    let mut names: Vec<String> = jobs(&ns).await.iter().map(|j| j.name_any()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "orders-1-hook-mid",
            "orders-1-hook-post",
            "orders-1-hook-pre"
        ]
    );
    let rs = ns
        .api::<k8s_openapi::api::apps::v1::ReplicaSet>()
        .get("orders-1")
        .await
        .expect("rs");
    for point in ["pre", "mid", "post"] {
        assert_eq!(
            rs.annotations()
                .get(&format!("cutover.io/hook-{point}"))
                .map(String::as_str),
            Some("Succeeded")
        );
    }
    ns.cleanup().await;
}
