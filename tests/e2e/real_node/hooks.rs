//! Lifecycle hooks as real processes in the DeploymentConfig's own image: a pre hook hands a
//! file to the mid hook and the app through a shared volume, a hook's exit code and its own
//! words (the kubelet's termination message) fail the rollout and reach status, events and
//! `kubectl dc logs`, and a Retry hook is restarted by the kubelet until it passes.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::ListParams;

use super::*;

const ROLLOUT: Duration = Duration::from_secs(180);

/// A hook running `script` with the volume `shared`, under `policy`.
fn hook(policy: &str, script: &str) -> String {
    format!(
        r#"        failurePolicy: {policy}
        execNewPod:
          containerName: app
          volumes: [shared]
          command: ["/bin/sh", "-c", {script:?}]
"#
    )
}

async fn job_succeeded(ns: &TestNamespace, name: &str) -> bool {
    ns.api::<Job>()
        .get(name)
        .await
        .ok()
        .and_then(|j| j.status?.succeeded)
        == Some(1)
}

#[tokio::test]
#[ignore = "needs the local cluster (make cluster)"]
async fn a_pre_hook_writes_what_the_mid_hook_and_the_app_read() {
    let Some(node) = node_or_skip() else { return };
    let ns = TestNamespace::new("real-hooks").await;
    let shared = HostDir::new(&ns);
    let _op = Operator::start(&ns.name);
    let strategy = format!(
        "    type: Recreate\n    recreateParams:\n      pre:\n{}      mid:\n{}",
        hook(
            "Abort",
            "echo \"schema of $OPENSHIFT_DEPLOYMENT_NAME\" >/shared/schema && echo pre: wrote /shared/schema"
        ),
        hook(
            "Abort",
            "test -s /shared/schema && echo \"mid: read $(cat /shared/schema)\""
        ),
    );
    // The app serves the file the pre hook wrote at /schema.
    let container = r#"          command: ["/bin/sh", "-c", "mkdir -p /tmp/www && cp /shared/schema /tmp/www/schema && exec /app/serve"]
"#;
    let dc = app_dc(&node, "shop", 1, "v1", &strategy, container, Some(&shared));
    let (ok, out) = apply(&ns.name, &dc).await;
    assert!(ok, "{out}");
    wait_phase(&ns, "shop-1", "Complete", ROLLOUT).await;

    for job in ["shop-1-hook-pre", "shop-1-hook-mid"] {
        assert!(job_succeeded(&ns, job).await, "{job} succeeded");
        let pod = pod_of_job(&ns, job).await.expect("hook pod");
        assert_eq!(
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(node.node.as_str()),
            "{job} ran on the real node"
        );
        assert_eq!(terminated(&pod).map(|t| t.0), Some(0), "{job} exit code");
    }
    assert_eq!(
        std::fs::read_to_string(shared.path().join("schema")).expect("the pre hook's file"),
        "schema of shop-1\n"
    );
    // The mid hook ran after the pre hook's file existed, and finished before the app started.
    let (ok, logs, err) = dc_plugin(&ns.name, &["logs", "shop"]).await;
    assert!(ok, "kubectl dc logs: {err}");
    assert!(logs.contains("pre: wrote /shared/schema"), "{logs}");
    assert!(logs.contains("mid: read schema of shop-1"), "{logs}");
    let mid_done = ns
        .api::<Job>()
        .get("shop-1-hook-mid")
        .await
        .ok()
        .and_then(|j| j.status?.completion_time)
        .expect("mid hook completion time");
    let app = pods_of(&ns, "shop-1").await;
    assert_eq!(app.len(), 1, "one app pod");
    let started = app[0]
        .status
        .as_ref()
        .and_then(|s| {
            s.container_statuses
                .as_ref()?
                .first()?
                .state
                .as_ref()?
                .running
                .as_ref()?
                .started_at
                .clone()
        })
        .expect("the app's start time");
    assert!(
        mid_done.0 <= started.0,
        "the app started ({started:?}) before the mid hook finished ({mid_done:?})"
    );
    // The app reads it too.
    let ip = app[0]
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .expect("pod IP");
    let answer = http_get(&ip, "/schema").await.unwrap_or_default();
    assert!(
        answer.contains(" 200 ") && answer.ends_with("\r\n\r\nschema of shop-1\n"),
        "GET /schema: {answer:?}"
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster (make cluster)"]
async fn a_hook_that_exits_3_fails_the_rollout_in_its_own_words() {
    let Some(node) = node_or_skip() else { return };
    let ns = TestNamespace::new("real-hook-fails").await;
    let shared = HostDir::new(&ns);
    let _op = Operator::start(&ns.name);
    let recreate = "    type: Recreate\n";
    let dc = app_dc(&node, "orders", 1, "v1", recreate, "", Some(&shared));
    let (ok, out) = apply(&ns.name, &dc).await;
    assert!(ok, "{out}");
    wait_phase(&ns, "orders-1", "Complete", ROLLOUT).await;

    // v2 with a migration that fails: a message on stderr, exit code 3, no termination log of
    // its own (the kubelet falls back to the log's tail).
    const WORDS: &str = "ERROR: relation \"orders\" already exists";
    let strategy = format!(
        "{recreate}    recreateParams:\n      pre:\n{}",
        hook(
            "Abort",
            &format!("echo migrating; echo '{WORDS}' >&2; exit 3")
        )
    );
    let dc = app_dc(&node, "orders", 1, "v2", &strategy, "", Some(&shared));
    let (ok, out) = apply(&ns.name, &dc).await;
    assert!(ok, "{out}");
    wait_phase(&ns, "orders-2", "Failed", ROLLOUT).await;

    let pod = pod_of_job(&ns, "orders-2-hook-pre")
        .await
        .expect("hook pod");
    let (code, message) = terminated(&pod).expect("the hook's container ended");
    assert_eq!(code, 3, "the hook's exit code");
    assert!(
        message.contains(WORDS),
        "the kubelet's termination message: {message:?}"
    );
    // Everywhere a user looks: rollout status, the condition, the log.
    let (ok, out, err) = dc_plugin(&ns.name, &["rollout", "status", "orders"]).await;
    assert!(!ok, "rollout status of a failed rollout fails: {out}");
    assert!(
        err.contains("the pre hook failed") && err.contains(WORDS),
        "rollout status: {err}"
    );
    let dc = ns.dcs().get("orders").await.expect("dc");
    let progressing = dc
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Progressing"))
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(progressing.contains(WORDS), "Progressing: {progressing}");
    let (ok, logs, err) = dc_plugin(&ns.name, &["logs", "orders"]).await;
    assert!(ok, "kubectl dc logs: {err}");
    assert!(
        logs.contains("migrating") && logs.contains(WORDS),
        "kubectl dc logs: {logs}"
    );
    // The pre hook ran before anything was scaled: v1 serves on.
    assert_eq!(rs_replicas(&ns, "orders-1").await, Some(1));
    assert_eq!(rs_replicas(&ns, "orders-2").await, Some(0));
    let v1 = pods_of(&ns, "orders-1").await;
    assert!(v1.len() == 1 && is_ready(&v1[0]), "v1's pod serves on");
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster (make cluster)"]
async fn a_retry_hook_that_fails_twice_is_restarted_until_it_passes() {
    let Some(node) = node_or_skip() else { return };
    let ns = TestNamespace::new("real-hook-retry").await;
    let shared = HostDir::new(&ns);
    let _op = Operator::start(&ns.name);
    // Each attempt counts itself in the shared directory; the third passes.
    let strategy = format!(
        "    type: Recreate\n    recreateParams:\n      pre:\n{}",
        hook(
            "Retry",
            "n=$(( $(cat /shared/attempts 2>/dev/null || echo 0) + 1 )); echo $n >/shared/attempts; \
             echo attempt $n; [ $n -ge 3 ] || { echo not yet >&2; exit 1; }"
        )
    );
    let dc = app_dc(&node, "retry", 1, "v1", &strategy, "", Some(&shared));
    let (ok, out) = apply(&ns.name, &dc).await;
    assert!(ok, "{out}");
    // The kubelet's restart backoff (10 s, then 20 s) is part of it.
    wait_phase(&ns, "retry-1", "Complete", ROLLOUT).await;

    let jobs = ns
        .api::<Job>()
        .list(&ListParams::default())
        .await
        .expect("jobs")
        .items;
    let names: Vec<_> = jobs
        .iter()
        .filter_map(|j| j.metadata.name.clone())
        .collect();
    assert_eq!(names, ["retry-1-hook-pre"], "one Job, retried in place");
    assert_eq!(
        std::fs::read_to_string(shared.path().join("attempts")).expect("attempts"),
        "3\n"
    );
    let pod = pod_of_job(&ns, "retry-1-hook-pre").await.expect("hook pod");
    let restarts = pod.status.as_ref().and_then(|s| {
        s.container_statuses
            .as_ref()?
            .first()
            .map(|c| c.restart_count)
    });
    assert_eq!(restarts, Some(2), "the kubelet restarted the hook twice");
    let (ok, logs, err) = dc_plugin(&ns.name, &["logs", "retry"]).await;
    assert!(ok, "kubectl dc logs: {err}");
    assert!(logs.contains("attempt 3"), "kubectl dc logs: {logs}");
    ns.cleanup().await;
}
