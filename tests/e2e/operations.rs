//! Rollout operations as a user runs them: `kubectl dc …` (the plugin on PATH, found by the
//! cluster's kubectl) and request annotations applied from a GitOps-style manifest.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::ListParams;
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

/// Runs `kubectl dc <args>` with the built plugin on PATH; returns (success, stdout, stderr).
async fn kubectl_dc(ns: &str, args: &[&str]) -> (bool, String, String) {
    let plugin_dir = root().join("target").join("e2e-plugin");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    let link = plugin_dir.join("kubectl-dc");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubectl-dc"), &link)
            .expect("link the plugin");
    }
    let path = format!(
        "{}:{}",
        plugin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut all = vec!["dc", "-n", ns];
    all.extend_from_slice(args);
    let out = tokio::process::Command::new(root().join("hack").join("kubectl"))
        .args(&all)
        .env("PATH", path)
        .env("KUBECONFIG", root().join(".cluster").join("kubeconfig"))
        .output()
        .await
        .expect("run kubectl dc");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn manifest(name: &str, image: &str, annotations: &str) -> String {
    format!(
        r#"apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: {name}
  annotations:
{annotations}
spec:
  replicas: 2
  selector:
    app: {name}
  strategy:
    type: Rolling
    rollingParams:
      timeoutSeconds: 8
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: app
          image: {image}
"#
    )
}

async fn revisions(ns: &TestNamespace) -> usize {
    ns.api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .len()
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_request_token_applied_twice_starts_one_rollout() {
    let ns = TestNamespace::new("gitops").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &manifest("web", "app:1", "    team: web"), "web-1").await;

    let with_token = manifest(
        "web",
        "app:1",
        "    cutover.io/request-latest: \"2026-11-23T10:00\"",
    );
    for _ in 0..2 {
        let (ok, out) = apply(&ns.name, &with_token).await;
        assert!(ok, "{out}");
        wait_phase(&ns, "web-2", "Complete", MINUTE).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert_eq!(
        revisions(&ns).await,
        2,
        "the same token twice: one new revision"
    );
    let dc = ns.dcs().get("web").await.expect("dc");
    let request = dc
        .status
        .expect("status")
        .requests
        .into_iter()
        .find(|r| r.kind == "latest")
        .expect("recorded");
    assert_eq!(
        (request.token.as_str(), request.outcome.as_str()),
        ("2026-11-23T10:00", "Accepted")
    );

    // A request on a paused config is refused with the reason, and a Warning says so.
    patch_spec(&ns, "web", json!({"paused": true})).await;
    let paused = manifest("web", "app:1", "    cutover.io/request-latest: \"second\"")
        .replace("  replicas: 2", "  replicas: 2\n  paused: true");
    let (ok, out) = apply(&ns.name, &paused).await;
    assert!(ok, "{out}");
    let refused = eventually("the refusal", MINUTE, || async {
        let dc = ns.dcs().get("web").await.ok()?;
        dc.status?
            .requests
            .into_iter()
            .find(|r| r.kind == "latest" && r.token == "second")
    })
    .await;
    assert_eq!(
        (refused.outcome.as_str(), refused.message.as_str()),
        ("Refused", "cannot deploy a paused deployment config")
    );
    assert_eq!(revisions(&ns).await, 2);
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn the_plugin_runs_the_rollout_verbs_with_ocs_semantics() {
    let ns = TestNamespace::new("plugin").await;
    let _op = Operator::start(&ns.name);
    let (ok, out) = apply(
        &ns.name,
        &manifest(
            "web",
            "app:1",
            "    kubernetes.io/change-cause: first release",
        ),
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out, err) = kubectl_dc(&ns.name, &["rollout", "status", "web", "--timeout=60"]).await;
    assert!(ok, "status: {out} {err}");
    assert!(
        out.ends_with("replication controller \"web-1\" successfully rolled out\n"),
        "{out}"
    );

    // latest: a new revision with cause "manual change".
    let (ok, out, err) = kubectl_dc(&ns.name, &["rollout", "latest", "web"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "started rollout #2\n");
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;

    // pause / resume, with oc's refusals.
    let (ok, out, _) = kubectl_dc(&ns.name, &["rollout", "pause", "web"]).await;
    assert!(ok);
    assert_eq!(out, "deploymentconfig.apps.openshift.io/web paused\n");
    let (ok, _, err) = kubectl_dc(&ns.name, &["rollout", "pause", "web"]).await;
    assert!(!ok);
    assert_eq!(
        err,
        "error: deploymentconfigs.apps.openshift.io \"web\" is already paused\n"
    );
    let (ok, _, err) = kubectl_dc(&ns.name, &["rollout", "latest", "web"]).await;
    assert!(!ok);
    assert_eq!(err, "error: cannot deploy a paused deployment config\n");
    let (ok, _, err) = kubectl_dc(&ns.name, &["rollout", "undo", "web"]).await;
    assert!(!ok);
    assert!(
        err.contains("cannot rollback a paused config; resume it first"),
        "{err}"
    );
    let (ok, _, _) = kubectl_dc(&ns.name, &["rollout", "resume", "web"]).await;
    assert!(ok);
    let (ok, _, err) = kubectl_dc(&ns.name, &["rollout", "resume", "web"]).await;
    assert!(!ok);
    assert!(err.contains("is not paused"), "{err}");

    // cancel and retry when there is nothing to cancel or retry.
    let (ok, _, err) = kubectl_dc(&ns.name, &["rollout", "cancel", "web"]).await;
    assert!(!ok);
    assert_eq!(
        err,
        "error: No rollout is in progress (latest rollout #2 Complete)\n"
    );
    let (ok, _, err) = kubectl_dc(&ns.name, &["rollout", "retry", "web"]).await;
    assert!(!ok);
    assert!(
        err.contains("rollout #2 is Complete; only failed deployments can be retried."),
        "{err}"
    );

    // A rollout that fails: status exits non-zero (a CI gate); retry runs it again; cancel.
    patch_spec(
        &ns,
        "web",
        json!({"template": {"spec": {"nodeSelector": {"cutover.io/no-such-node": "true"}}}}),
    )
    .await;
    let (ok, out, err) = kubectl_dc(&ns.name, &["rollout", "status", "web", "--timeout=60"]).await;
    assert!(!ok, "status of a failed rollout exits non-zero: {out}");
    assert!(
        err.starts_with("error: replication controller \"web-3\" has failed progressing"),
        "OpenShift's message (then why, when the pass that failed it knew): {err}"
    );
    let (ok, out, err) = kubectl_dc(&ns.name, &["rollout", "retry", "web"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "retrying rollout #3\n");
    eventually("web-3 running again", MINUTE, || async {
        (phase(&ns, "web-3").await? == "Running").then_some(())
    })
    .await;
    let (ok, out, err) = kubectl_dc(&ns.name, &["rollout", "cancel", "web"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "cancelled rollout #3\n");
    let (ok, _, err) = kubectl_dc(&ns.name, &["rollout", "status", "web", "--timeout=60"]).await;
    assert!(!ok);
    assert_eq!(
        err,
        "error: rollout of replication controller \"web-3\" was cancelled\n"
    );
    eventually("web-2 restored", MINUTE, || async {
        (rs_replicas(&ns, "web-2").await? == 2).then_some(())
    })
    .await;

    // undo: the newest Complete revision before the latest, as a new revision.
    let (ok, out, _) = kubectl_dc(&ns.name, &["rollout", "undo", "web", "--dry-run"]).await;
    assert!(ok);
    assert!(
        out.starts_with("deploymentconfigs with revision #2\nPod Template:\n"),
        "{out}"
    );
    assert!(
        !out.contains("nodeSelector"),
        "the dry run shows revision 2's template: {out}"
    );
    let (ok, out, err) = kubectl_dc(&ns.name, &["rollout", "undo", "web"]).await;
    assert!(ok, "{err}");
    assert_eq!(out, "rolled back to revision 2: rollout #4 started\n");
    wait_phase(&ns, "web-4", "Complete", MINUTE).await;
    let dc = ns.dcs().get("web").await.expect("dc");
    assert!(
        dc.spec.template.0["spec"].get("nodeSelector").is_none(),
        "the spec holds revision 2's template"
    );
    assert_eq!(
        (
            rs_replicas(&ns, "web-2").await,
            rs_replicas(&ns, "web-4").await
        ),
        (Some(0), Some(2))
    );

    // history: REVISION STATUS CAUSE IMAGES; the change-cause is the cause.
    let (ok, out, _) = kubectl_dc(&ns.name, &["rollout", "history", "web"]).await;
    assert!(ok);
    assert_eq!(
        out,
        "deploymentconfigs \"web\"\nREVISION  STATUS    CAUSE          IMAGES\n\
         1         Complete  first release  app:1\n\
         2         Complete  first release  app:1\n\
         3         Failed    first release  app:1\n\
         4         Complete  first release  app:1\n"
    );
    let (ok, out, _) = kubectl_dc(&ns.name, &["describe", "web"]).await;
    assert!(ok);
    assert!(
        out.contains("Latest Version:\t4") && out.contains("RolloutCancelled"),
        "{out}"
    );
    let (ok, out, _) = kubectl_dc(&ns.name, &["--help"]).await;
    assert!(ok && out.contains("rollout"), "{out}");
    ns.cleanup().await;
}
