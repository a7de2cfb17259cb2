//! GitOps health on live objects: deploy/argocd's Lua check (run as Argo CD runs it) and
//! `kubectl wait` on the kstatus conditions, through a rollout and a failed one.

use std::time::Duration;

use serde_json::json;

use crate::argocd;
use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

const DC: &str = r#"apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web
spec:
  replicas: 3
  minReadySeconds: 2
  selector:
    app: web
  strategy:
    type: Rolling
    rollingParams:
      timeoutSeconds: 10
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: registry.example/app:1
"#;

async fn health(ns: &TestNamespace) -> (String, String) {
    let (ok, out, err) = kubectl(&["-n", &ns.name, "get", "dc", "web", "-o", "json"]).await;
    assert!(ok, "{err}");
    let obj: serde_json::Value = serde_json::from_str(&out).expect("json");
    argocd::health("deploymentconfig-health.lua", &obj)
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn argo_cd_health_and_kubectl_wait_follow_a_rollout_and_a_failed_one() {
    let ns = TestNamespace::new("gitops").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, DC, "web-1").await;
    eventually("Healthy at rest", MINUTE, || async {
        (health(&ns).await.0 == "Healthy").then_some(())
    })
    .await;

    // The moment the spec changes, the check says Progressing: either the operator has not seen
    // the new generation yet, or it has and says Reconciling.
    patch_spec(
        &ns,
        "web",
        json!({"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/app:2"}]}}}),
    )
    .await;
    let (status, message) = health(&ns).await;
    assert_eq!(status, "Progressing", "{message}");
    let (ok, _, err) = kubectl(&[
        "-n",
        &ns.name,
        "wait",
        "dc/web",
        "--for=condition=Reconciling",
        "--timeout=60s",
    ])
    .await;
    assert!(ok, "kubectl wait for Reconciling: {err}");
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    eventually("Healthy after the rollout", MINUTE, || async {
        (health(&ns).await.0 == "Healthy").then_some(())
    })
    .await;

    // A rollout that cannot progress: Stalled, Degraded.
    patch_spec(
        &ns,
        "web",
        json!({"template": {"spec": {"nodeSelector": {"cutover.io/no-such-node": "true"}}}}),
    )
    .await;
    let (ok, _, err) = kubectl(&[
        "-n",
        &ns.name,
        "wait",
        "dc/web",
        "--for=condition=Stalled",
        "--timeout=90s",
    ])
    .await;
    assert!(ok, "kubectl wait for Stalled: {err}");
    let (status, message) = health(&ns).await;
    assert_eq!(status, "Degraded", "{message}");
    assert!(message.starts_with("ProgressDeadlineExceeded"), "{message}");
    ns.cleanup().await;
}
