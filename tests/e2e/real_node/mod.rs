//! The real node (hack/cluster-real-node.sh): a pod that asks for it runs as a real process in a
//! real container, from an image the project built and pushed to the node's registry; a real
//! readiness probe decides when it is Ready, `kubectl logs` reads its output through the
//! kubelet, and it answers HTTP from the host on its pod address. Skipped, with the reason
//! printed, where `make cluster` could not start a real node.
//!
//! `hooks` runs lifecycle hooks as real processes, `rollouts` lets real readiness probes and real
//! graceful termination decide a rollout, `operator` runs the operator's own image: a deployer
//! script and the operator itself, in-cluster.

mod hooks;
mod operator;
mod rollouts;

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

/// The real node, or `None` after printing why the test is skipped.
fn node_or_skip() -> Option<RealNode> {
    match real_node() {
        Ok(node) => Some(node),
        Err(reason) => {
            eprintln!("skipped: no real node in the local cluster: {reason}");
            None
        }
    }
}

/// A DeploymentConfig `name` of the test app on the real node: `replicas` pods of
/// `testapp:<version>`, Ready through the app's readiness endpoint, with `strategy` (YAML under
/// `strategy:`) and `container` (more YAML of the container `app`, indented by 8). With `shared`,
/// that host directory is the volume `shared`, mounted at /shared.
fn app_dc(
    node: &RealNode,
    name: &str,
    replicas: i32,
    version: &str,
    strategy: &str,
    container: &str,
    shared: Option<&HostDir>,
) -> String {
    let (volumes, mounts) = match shared {
        Some(dir) => (
            format!(
                "      volumes: [{{name: shared, hostPath: {{path: {}, type: Directory}}}}]\n",
                dir.0.display()
            ),
            "          volumeMounts: [{name: shared, mountPath: /shared}]\n".to_string(),
        ),
        None => Default::default(),
    };
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
{strategy}
  template:
    metadata:
      labels:
        app: {name}
    spec:
{placement}      terminationGracePeriodSeconds: 10
{volumes}      containers:
        - name: app
          image: {registry}/cutover/testapp:{version}
          ports: [{{containerPort: 8080}}]
{mounts}          readinessProbe:
            httpGet: {{path: /ready, port: 8080}}
            periodSeconds: 1
            failureThreshold: 1
{container}"#,
        placement = node.placement(6),
        registry = node.registry,
    )
}

/// A directory on the host the real node's pods share as a hostPath volume (the node is this
/// machine); removed when dropped.
struct HostDir(PathBuf);

impl HostDir {
    fn new(ns: &TestNamespace) -> HostDir {
        let dir = std::env::temp_dir().join(format!("cutover-{}", ns.name));
        std::fs::create_dir_all(&dir).expect("host dir");
        HostDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The one pod of Job `job` (hook and deployer Jobs run one pod unless retried by the kubelet).
async fn pod_of_job(ns: &TestNamespace, job: &str) -> Option<Pod> {
    ns.api::<Pod>()
        .list(&kube::api::ListParams::default().labels(&format!("job-name={job}")))
        .await
        .ok()?
        .items
        .into_iter()
        .next()
}

/// The state its (one) container ended in: (exit code, termination message).
fn terminated(pod: &Pod) -> Option<(i32, String)> {
    let status = pod.status.as_ref()?.container_statuses.as_ref()?.first()?;
    let ended = status.state.as_ref()?.terminated.as_ref()?;
    Some((ended.exit_code, ended.message.clone().unwrap_or_default()))
}

/// The pods of a DeploymentConfig's revision `rs`.
async fn pods_of(ns: &TestNamespace, rs: &str) -> Vec<Pod> {
    ns.api::<Pod>()
        .list(
            &kube::api::ListParams::default()
                .labels(&format!("{}={rs}", cutover::api::keys::POD_REVISION_LABEL)),
        )
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

fn pod_yaml(node: &RealNode, name: &str, env: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
{placement}  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: {registry}/cutover/testapp:v1
    env: [{env}]
    ports: [{{containerPort: 8080}}]
    readinessProbe:
      httpGet: {{path: /ready, port: 8080}}
      periodSeconds: 1
      failureThreshold: 1
"#,
        placement = node.placement(2),
        registry = node.registry,
    )
}

/// GET `path` from `ip`:8080 over plain HTTP/1.0; the response (status line, headers, body).
async fn http_get(ip: &str, path: &str) -> Option<String> {
    let mut tcp = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect((ip, 8080)),
    )
    .await
    .ok()?
    .ok()?;
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: testapp\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(3), tcp.read_to_string(&mut response))
        .await
        .ok()?
        .ok()?;
    Some(response)
}

#[tokio::test]
#[ignore = "needs the local cluster (make cluster)"]
async fn a_pod_runs_for_real_on_the_real_node() {
    let Some(node) = node_or_skip() else { return };
    let ns = TestNamespace::new("real-node").await;
    let (ok, out) = apply(&ns.name, &pod_yaml(&node, "app", "")).await;
    assert!(ok, "{out}");
    // Its twin whose readiness endpoint never answers: Running, never Ready.
    let (ok, out) = apply(
        &ns.name,
        &pod_yaml(&node, "unready", "{name: FAIL_READINESS, value: \"true\"}"),
    )
    .await;
    assert!(ok, "{out}");

    let pods = ns.api::<Pod>();
    // The first pull of the image and of the pause image included.
    let pod = eventually("pod app Ready", Duration::from_secs(120), || async {
        pods.get("app").await.ok().filter(is_ready)
    })
    .await;
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(spec.node_name.as_deref(), Some(node.node.as_str()));
    let status = pod.status.as_ref().expect("status");
    let container = &status
        .container_statuses
        .as_ref()
        .expect("container statuses")[0];
    let id = container.container_id.as_deref().unwrap_or_default();
    assert!(id.starts_with("containerd://"), "container id {id:?}");
    assert!(
        container.image_id.contains("@sha256:"),
        "image id {:?}",
        container.image_id
    );
    let ip = status.pod_ip.clone().expect("pod IP");
    assert!(
        node.owns(&ip),
        "pod IP {ip} is not on the node's bridge ({})",
        node.pod_cidr
    );

    // The real probe: the twin runs, and the kubelet keeps it unready.
    let unready = eventually("pod unready Running", Duration::from_secs(60), || async {
        pods.get("unready").await.ok().filter(is_running)
    })
    .await;
    let unready_ip = unready
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let unready = pods.get("unready").await.expect("get unready");
    assert!(
        !is_ready(&unready),
        "a pod whose readiness endpoint answers 404 became Ready"
    );
    let events = events_of(&ns, "Pod", "Unhealthy").await;
    assert!(
        events.iter().any(|e| {
            e.note
                .as_deref()
                .unwrap_or_default()
                .contains("Readiness probe failed")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("unready")
        }),
        "no 'Readiness probe failed' event for pod unready: {events:?}"
    );

    // kubectl logs: kube-apiserver reads the container's log from the kubelet.
    let (ok, logs, err) = kubectl(&["logs", "-n", &ns.name, "app"]).await;
    assert!(ok, "kubectl logs: {err}");
    assert!(
        logs.contains("testapp v1: serving on :8080"),
        "kubectl logs app: {logs:?}"
    );

    // HTTP from the host straight to the pod's address on the bridge.
    let response = eventually(
        "an HTTP answer from the pod",
        Duration::from_secs(20),
        || http_get(&ip, "/"),
    )
    .await;
    assert!(response.starts_with("HTTP/1."), "{response:?}");
    assert!(response.contains(" 200 "), "{response:?}");
    assert!(response.ends_with("\r\n\r\nv1"), "{response:?}");
    if node.owns(&unready_ip) {
        let response = http_get(&unready_ip, "/").await.unwrap_or_default();
        assert!(
            response.ends_with("v1"),
            "the unready twin serves /: {response:?}"
        );
    }

    ns.cleanup().await;
}
