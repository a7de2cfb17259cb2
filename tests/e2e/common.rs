//! The e2e harness: the local cluster (`make cluster`), a namespace per test, and the operator
//! run as a real process under its own ServiceAccount (the RBAC from deploy/).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cutover::api::DeploymentConfig;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::process::{Child, Command};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cluster_file(name: &str) -> PathBuf {
    root().join(".cluster").join(name)
}

/// A client for a kubeconfig in .cluster/ (`kubeconfig`: admin; `operator.kubeconfig`: the
/// operator's ServiceAccount).
pub async fn client_from(file: &str) -> Client {
    let path = cluster_file(file);
    let kubeconfig = Kubeconfig::read_from(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (start the local cluster with `make cluster`)",
            path.display()
        )
    });
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("valid kubeconfig");
    Client::try_from(config).expect("client")
}

pub async fn admin() -> Client {
    client_from("kubeconfig").await
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace of its own for one test, deleted by `cleanup`.
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
}

impl TestNamespace {
    pub async fn new(prefix: &str) -> Self {
        let client = admin().await;
        let name = format!(
            "e2e-{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("ns");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        TestNamespace { name, client }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    pub fn dcs(&self) -> Api<DeploymentConfig> {
        self.api()
    }

    pub async fn cleanup(self) {
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::background())
            .await;
    }
}

/// The operator, as a process watching one namespace with the operator's own credentials.
pub struct Operator {
    child: Child,
}

impl Operator {
    pub fn start(namespace: &str) -> Self {
        let logs = root().join("target").join("e2e-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log_path = logs.join(format!("{namespace}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .args(["run", "--namespace", namespace])
            .env("KUBECONFIG", cluster_file("operator.kubeconfig"))
            .env("RUST_LOG", "info,cutover=debug,kube=warn")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("start the operator");
        Operator { child }
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Runs the local cluster's kubectl with the admin kubeconfig; returns (success, stdout, stderr).
pub async fn kubectl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(root().join("hack").join("kubectl"))
        .args(args)
        .env("KUBECONFIG", cluster_file("kubeconfig"))
        .output()
        .await
        .expect("run kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Applies YAML (from a string) into `namespace` with kubectl, as a user would.
pub async fn apply(namespace: &str, yaml: &str) -> (bool, String) {
    let dir = root().join("target").join("e2e-manifests");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join(format!(
        "{namespace}-{}.yaml",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, yaml).expect("write manifest");
    let path = file.to_string_lossy().into_owned();
    let (ok, out, err) = kubectl(&["apply", "--server-side", "-n", namespace, "-f", &path]).await;
    (ok, if ok { out } else { err })
}

/// Polls `probe` until it returns `Some`, failing the test with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A condition of a DeploymentConfig as (status, reason).
pub fn condition(dc: &DeploymentConfig, type_: &str) -> Option<(String, String)> {
    dc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}
