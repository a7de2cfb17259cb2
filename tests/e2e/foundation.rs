//! The foundation: the OpenShift example rolls out, admission refuses bad input with clear
//! messages, the pod template survives whole, a restarted operator finishes the rollout, and the
//! operator speaks HTTP/2 to the API server.

use std::time::Duration;

use cutover::api::keys;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::ListParams;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn openshift_example_rolls_out_and_becomes_available() {
    let ns = TestNamespace::new("frontend").await;
    let _operator = Operator::start(&ns.name);
    let yaml = std::fs::read_to_string(root().join("examples/frontend.yaml")).expect("example");
    let (ok, out) = apply(&ns.name, &yaml).await;
    assert!(ok, "the OpenShift example applies unchanged: {out}");
    // As on OpenShift, nothing rolls out until the trigger's tag has an image.
    let message = eventually("WaitingForImage", MINUTE, || async {
        let dc = ns.dcs().get("frontend").await.ok()?;
        let c = dc
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Progressing")?;
        (c.reason == "WaitingForImage").then_some(c.message)
    })
    .await;
    assert!(
        message.contains("ImageStreamTag hello-openshift:latest"),
        "{message}"
    );
    let stream =
        std::fs::read_to_string(root().join("examples/hello-openshift.yaml")).expect("example");
    let (ok, out) = apply(&ns.name, &stream).await;
    assert!(ok, "{out}");

    // `kubectl wait` works on the DeploymentConfig's conditions.
    let (ok, _, err) = kubectl(&[
        "wait",
        "-n",
        &ns.name,
        "--for=condition=Available",
        "dc/frontend",
        "--timeout=90s",
    ])
    .await;
    assert!(ok, "kubectl wait --for=condition=Available: {err}");

    let dc = eventually(
        "Progressing=NewReplicationControllerAvailable",
        MINUTE,
        || async {
            let dc = ns.dcs().get("frontend").await.ok()?;
            (condition(&dc, "Progressing")?
                == ("True".into(), "NewReplicationControllerAvailable".into()))
                .then_some(dc)
        },
    )
    .await;
    let status = dc.status.clone().expect("status");
    assert_eq!(status.latest_version, 1);
    assert_eq!(status.replicas, 5);
    assert_eq!(status.available_replicas, 5);
    assert_eq!(status.updated_replicas, 5);
    assert_eq!(status.unavailable_replicas, 0);
    assert_eq!(
        status.observed_generation,
        dc.metadata.generation.expect("generation")
    );
    assert_eq!(
        status.details.as_ref().map(|d| d.message.as_str()),
        Some("config change")
    );
    assert_eq!(
        condition(&dc, "Available"),
        Some(("True".into(), String::new()))
    );
    assert_eq!(
        status.selector.as_deref(),
        Some("deploymentconfig=frontend,name=frontend")
    );
    assert_eq!(
        status.triggered_by.as_deref(),
        Some("config,image(hello-openshift:latest)")
    );
    // The trigger resolved the reference tag and wrote it into the container.
    let triggered = dc.spec.triggers.as_deref().unwrap_or_default()[1]
        .image_change_params
        .as_ref()
        .and_then(|p| p.last_triggered_image.clone());
    assert_eq!(
        triggered.as_deref(),
        Some("openshift/hello-openshift:latest")
    );

    // The revision: name, labels, selector, annotations and owner exactly as OpenShift's.
    let rs = ns
        .api::<ReplicaSet>()
        .get("frontend-1")
        .await
        .expect("ReplicaSet frontend-1");
    assert_eq!(
        rs.labels().get(keys::CONFIG_LABEL).map(String::as_str),
        Some("frontend")
    );
    let ann = rs.annotations();
    assert_eq!(
        ann.get(keys::CONFIG_ANNOTATION).map(String::as_str),
        Some("frontend")
    );
    assert_eq!(
        ann.get(keys::LATEST_VERSION_ANNOTATION).map(String::as_str),
        Some("1")
    );
    assert_eq!(
        ann.get(keys::PHASE_ANNOTATION).map(String::as_str),
        Some("Complete")
    );
    assert_eq!(
        ann.get(keys::REPLICAS_ANNOTATION).map(String::as_str),
        Some("5")
    );
    assert_eq!(
        ann.get(keys::STATUS_REASON_ANNOTATION).map(String::as_str),
        Some("config change")
    );
    let encoded: serde_json::Value = serde_json::from_str(
        ann.get(keys::ENCODED_CONFIG_ANNOTATION)
            .expect("encoded config"),
    )
    .expect("JSON");
    assert_eq!(encoded["kind"], "DeploymentConfig");
    assert_eq!(encoded["metadata"]["name"], "frontend");
    assert_eq!(encoded["status"]["latestVersion"], 1);
    let owner = &rs.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("DeploymentConfig", "frontend")
    );
    assert_eq!(Some(&owner.uid), dc.metadata.uid.as_ref());
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    let spec = rs.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(5));
    let selector = spec.selector.match_labels.clone().expect("matchLabels");
    assert_eq!(selector.get("name").map(String::as_str), Some("frontend"));
    assert_eq!(
        selector.get("deploymentconfig").map(String::as_str),
        Some("frontend")
    );
    assert_eq!(
        selector.get("deployment").map(String::as_str),
        Some("frontend-1")
    );
    assert_eq!(rs.status.as_ref().and_then(|s| s.ready_replicas), Some(5));

    // Five pods of the revision, each annotated with it.
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("deployment=frontend-1"))
        .await
        .expect("pods");
    assert_eq!(pods.items.len(), 5);
    for pod in &pods.items {
        assert_eq!(
            pod.annotations()
                .get(keys::DEPLOYMENT_NAME_ANNOTATION)
                .map(String::as_str),
            Some("frontend-1")
        );
    }

    // The DeploymentCreated event is on the DeploymentConfig.
    let events = eventually("a DeploymentCreated event", MINUTE, || async {
        let list = ns.api::<Event>().list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("DeploymentCreated"))
            .then_some(list)
    })
    .await;
    let created = events
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("DeploymentCreated"))
        .expect("event");
    assert_eq!(
        created.note.as_deref(),
        Some("Created new replication controller \"frontend-1\" for version 1")
    );
    assert_eq!(
        created.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("frontend")
    );
    ns.cleanup().await;
}

fn dc_yaml(name: &str, spec_extra: &str, template_spec_extra: &str) -> String {
    format!(
        r#"apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: {name}
spec:
  replicas: 2
  selector:
    app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: app
          image: registry.example/app:1
{template_spec_extra}
{spec_extra}
"#
    )
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn invalid_deployment_configs_are_refused_with_clear_messages() {
    let ns = TestNamespace::new("admission").await;
    let cases: &[(&str, &str, &str)] = &[
        ("  replicas: -1", "", "replicas cannot be negative"),
        (
            "  strategy:\n    type: Rolling\n    rollingParams:\n      maxSurge: 0\n      maxUnavailable: \"0%\"",
            "",
            "maxUnavailable cannot be 0 when maxSurge is 0 as well",
        ),
        (
            "  strategy:\n    rollingParams:\n      maxSurge: \"25\"",
            "",
            "must be an integer >= 0 or a percentage such as",
        ),
        (
            "  strategy:\n    type: BlueGreen",
            "",
            "unsupported strategy type, use",
        ),
        (
            "  strategy:\n    type: Custom",
            "",
            "customParams is required for the Custom strategy",
        ),
        (
            "  strategy:\n    type: Recreate\n    recreateParams:\n      pre:\n        failurePolicy: Abort",
            "",
            "One of execNewPod or tagImages must be specified",
        ),
        (
            "  strategy:\n    type: Recreate\n    recreateParams:\n      mid:\n        failurePolicy: Abort\n        execNewPod:\n          command: [\"true\"]\n          containerName: app\n        tagImages:\n        - containerName: app\n          to: {kind: ImageStreamTag, name: \"app:v1\"}",
            "",
            "only one of 'execNewPod' or 'tagImages' may be specified",
        ),
        (
            "  strategy:\n    type: Recreate\n    recreateParams:\n      post:\n        failurePolicy: Ignore\n        tagImages:\n        - containerName: app\n          to: {kind: DockerImage, name: \"app:v1\"}",
            "",
            "to.kind: Must be 'ImageStreamTag'",
        ),
        (
            "  strategy:\n    type: Recreate\n    recreateParams:\n      post:\n        failurePolicy: Ignore\n        tagImages:\n        - to: {kind: ImageStreamTag, name: \"app:v1\"}",
            "",
            "a containerName is required",
        ),
        (
            "  strategy:\n    type: Rolling\n    rollingParams:\n      timeoutSeconds: 600\n    activeDeadlineSeconds: 600",
            "",
            "activeDeadlineSeconds must be greater than timeoutSeconds",
        ),
        (
            "  minReadySeconds: 700",
            "",
            "minReadySeconds must be less than the deployment timeout",
        ),
        (
            "  selector:\n    app: other",
            "",
            "selector does not match template labels",
        ),
        (
            "",
            "      restartPolicy: Never",
            "restartPolicy must be Always",
        ),
    ];
    for (i, (spec_extra, template_extra, message)) in cases.iter().enumerate() {
        let yaml = dc_yaml(&format!("bad-{i}"), spec_extra, template_extra);
        // A second `selector:` key would be a YAML error, not an admission error: replace it.
        let yaml = if spec_extra.contains("selector:") {
            yaml.replacen(&format!("  selector:\n    app: bad-{i}\n"), "", 1)
        } else {
            yaml
        };
        let (ok, out) = apply(&ns.name, &yaml).await;
        assert!(!ok, "case {i} was accepted:\n{yaml}");
        assert!(
            out.contains(message),
            "case {i}: expected {message:?} in:\n{out}"
        );
    }
    // A valid one is accepted, and `triggers: []` stays empty while an absent list is defaulted.
    let (ok, out) = apply(&ns.name, &dc_yaml("manual", "  triggers: []", "")).await;
    assert!(ok, "{out}");
    let (ok, out) = apply(&ns.name, &dc_yaml("defaulted", "", "")).await;
    assert!(ok, "{out}");
    let manual = ns.dcs().get("manual").await.expect("dc");
    assert_eq!(manual.spec.triggers.as_ref().map(Vec::len), Some(0));
    let defaulted = ns.dcs().get("defaulted").await.expect("dc");
    let triggers = defaulted.spec.triggers.expect("defaulted triggers");
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0].type_, "ConfigChange");
    assert_eq!(defaulted.spec.revision_history_limit, Some(10));
    assert_eq!(defaulted.spec.strategy.type_.as_deref(), Some("Rolling"));
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_pod_field_newer_than_the_pinned_api_reaches_the_replica_set() {
    let ns = TestNamespace::new("newfield").await;
    let _operator = Operator::start(&ns.name);
    // hostnameOverride is GA in Kubernetes 1.37 and unknown to the v1_33 API types we build with.
    let yaml = dc_yaml("newer", "", "      hostnameOverride: custom-host");
    let (ok, out) = apply(&ns.name, &yaml).await;
    assert!(ok, "{out}");
    let stored = ns.dcs().get("newer").await.expect("dc");
    assert_eq!(
        stored.spec.template.0["spec"]["hostnameOverride"], "custom-host",
        "stored without pruning"
    );
    let rs = eventually("ReplicaSet newer-1", MINUTE, || async {
        ns.api::<ReplicaSet>().get("newer-1").await.ok()
    })
    .await;
    let rs_json = serde_json::to_value(&rs).expect("json");
    // The typed ReplicaSet drops the unknown field, so read it raw.
    let (ok, raw, err) = kubectl(&[
        "get",
        "rs",
        "newer-1",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.spec.template.spec.hostnameOverride}",
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(
        raw, "custom-host",
        "the ReplicaSet's template keeps the field ({rs_json})"
    );
    let pods = eventually("pods of newer-1", MINUTE, || async {
        let (ok, out, _) = kubectl(&[
            "get",
            "pods",
            "-n",
            &ns.name,
            "-l",
            "deployment=newer-1",
            "-o",
            "jsonpath={.items[*].spec.hostnameOverride}",
        ])
        .await;
        (ok && out.split_whitespace().count() == 2).then_some(out)
    })
    .await;
    assert!(
        pods.split_whitespace().all(|h| h == "custom-host"),
        "{pods}"
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn an_operator_killed_mid_rollout_finishes_it_after_restart() {
    let ns = TestNamespace::new("restart").await;
    let operator = Operator::start(&ns.name);
    // minReadySeconds keeps the rollout running long enough to kill the operator inside it.
    let yaml = dc_yaml("restart", "  minReadySeconds: 4", "").replace("replicas: 2", "replicas: 6");
    let (ok, out) = apply(&ns.name, &yaml).await;
    assert!(ok, "{out}");
    eventually("revision restart-1 Running", MINUTE, || async {
        let rs = ns.api::<ReplicaSet>().get("restart-1").await.ok()?;
        (rs.annotations()
            .get(keys::PHASE_ANNOTATION)
            .map(String::as_str)
            == Some("Running"))
        .then_some(())
    })
    .await;
    operator.kill().await;
    let rs = ns.api::<ReplicaSet>().get("restart-1").await.expect("rs");
    assert_ne!(
        rs.annotations()
            .get(keys::PHASE_ANNOTATION)
            .map(String::as_str),
        Some("Complete"),
        "killed mid-rollout"
    );

    let _operator = Operator::start(&ns.name);
    let dc = eventually(
        "the rollout to complete after the restart",
        MINUTE,
        || async {
            let dc = ns.dcs().get("restart").await.ok()?;
            (condition(&dc, "Progressing")?.1 == "NewReplicationControllerAvailable").then_some(dc)
        },
    )
    .await;
    assert_eq!(dc.status.as_ref().map(|s| s.latest_version), Some(1));
    assert_eq!(dc.status.as_ref().map(|s| s.available_replicas), Some(6));
    let all = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .expect("list");
    assert_eq!(all.items.len(), 1, "exactly one revision after the restart");
    ns.cleanup().await;
}

/// The operator's client speaks HTTP/2 to the API server, as client-go does: one connection for
/// every watch and request instead of one per request in flight (src/transport.rs).
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn the_operators_client_speaks_http2_to_the_api_server() {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let path = root().join(".cluster").join("operator.kubeconfig");
    let kubeconfig = Kubeconfig::read_from(&path).expect("operator kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("valid kubeconfig");
    let client = cutover::transport::from_config(config).expect("client");
    let request = http::Request::get("/version")
        .body(kube::client::Body::from(Vec::new()))
        .expect("request");
    let response = client.send(request).await.expect("GET /version");
    assert!(response.status().is_success(), "{:?}", response.status());
    assert_eq!(response.version(), http::Version::HTTP_2);
}
