//! Config triggers on the real cluster: a DeploymentConfig that follows its ConfigMaps rolls out
//! when one changes (woken by the operator's own watch, no polling), records the hashes on each
//! revision, and says so when a followed object is gone instead of rolling out.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

const OBJECTS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {GREETING: hello}
---
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web
  annotations: {cutover.io/config-triggers: "true"}
spec:
  replicas: 1
  selector: {app: web}
  triggers: [{type: ConfigChange}]
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: registry.example/app:1
          envFrom: [{configMapRef: {name: settings}}]
"#;

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_changed_config_map_rolls_out_once_and_a_missing_one_is_a_condition() {
    let ns = TestNamespace::new("config-triggers").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, OBJECTS, "web-1").await;
    let hashes = |rs: ReplicaSet| {
        rs.annotations()
            .get("cutover.io/config-hashes")
            .cloned()
            .unwrap_or_default()
    };
    let first = hashes(ns.api::<ReplicaSet>().get("web-1").await.expect("web-1"));
    assert!(first.starts_with(r#"{"ConfigMap/settings":""#), "{first}");

    let (ok, _, err) = kubectl(&[
        "patch",
        "configmap",
        "settings",
        "-n",
        &ns.name,
        "--type=merge",
        "-p",
        r#"{"data":{"GREETING":"bonjour"}}"#,
    ])
    .await;
    assert!(ok, "{err}");
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    let dc = ns.dcs().get("web").await.expect("dc");
    let details = dc
        .status
        .as_ref()
        .and_then(|s| s.details.clone())
        .expect("details");
    assert_eq!(details.message, "config change: ConfigMap settings changed");
    assert_eq!(details.causes[0].type_, "ConfigChange");
    let second = hashes(ns.api::<ReplicaSet>().get("web-2").await.expect("web-2"));
    assert_ne!(first, second, "each revision records the data it ran with");

    // Gone: a condition says so, and nothing rolls out.
    let (ok, _, err) = kubectl(&["delete", "configmap", "settings", "-n", &ns.name]).await;
    assert!(ok, "{err}");
    let (_, reason) = eventually("ConfigTriggers=False", MINUTE, || async {
        let dc = ns.dcs().get("web").await.ok()?;
        condition(&dc, "ConfigTriggers").filter(|c| c.0 == "False")
    })
    .await;
    assert_eq!(reason, "ConfigNotFound");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dc = ns.dcs().get("web").await.expect("dc");
    assert_eq!(
        dc.status.map(|s| s.latest_version),
        Some(2),
        "exactly one config rollout"
    );
    ns.cleanup().await;
}
