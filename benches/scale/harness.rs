//! What both benchmarks do on the local cluster: clients, namespaces, a fresh operator, and
//! requests over many objects at once.
#![allow(dead_code)] // shared by benches/scale.rs, fleet.rs and shards.rs, each uses a part

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use cutover::api::DeploymentConfig;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

use crate::objects::{dc, deployment, template};
use crate::watch::Kind;

/// Requests the benchmark itself has in flight (creates, patches).
const PARALLEL: usize = 32;

/// A number from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub async fn client(file: &str) -> Client {
    let path = root().join(".cluster").join(file);
    let kc = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make cluster`", path.display()));
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    config.read_timeout = Some(Duration::from_secs(120));
    Client::try_from(config).expect("client")
}

/// When the request for each object was sent.
pub type Sent = HashMap<(Kind, String), Instant>;

/// Runs `op` on every object of each of `kinds`, interleaved, `PARALLEL` at a time; returns when
/// each request was sent (a controller may act before the response arrives).
pub async fn on_every_object<F, Fut>(names: &[String], kinds: &[Kind], op: F) -> Sent
where
    F: Fn(Kind, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), kube::Error>>,
{
    stream::iter(
        names
            .iter()
            .flat_map(|n| kinds.iter().map(move |k| (*k, n.clone()))),
    )
    .map(|(kind, name)| {
        let sent = Instant::now();
        let request = op(kind, name.clone());
        async move { request.await.map(|()| ((kind, name), sent)) }
    })
    .buffer_unordered(PARALLEL)
    .try_collect()
    .await
    .expect("every request succeeds")
}

pub async fn create_namespaces(namespaces: &Api<Namespace>, names: &[&str]) {
    for ns in names {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
            )
            .await
            .expect("create namespace");
    }
}

/// Deletes the namespaces and waits (up to 10 minutes) until they are gone, so the next workload
/// starts on a quiet cluster.
pub async fn delete_namespaces(namespaces: &Api<Namespace>, names: &[&str]) {
    for ns in names {
        let _ = namespaces.delete(ns, &DeleteParams::background()).await;
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(600) {
        let left = futures::future::join_all(names.iter().map(|ns| namespaces.get_opt(ns))).await;
        if left.iter().all(|r| matches!(r, Ok(None))) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A fresh cutover process watching `namespace`, with the operator's own credentials.
pub fn start_operator(namespace: &str, http_addr: Option<&str>) -> tokio::process::Child {
    operator_process(
        &["--namespace", namespace, "--leader-elect=false"],
        http_addr,
    )
}

/// `cutover run` with `args`, the operator's own credentials, serving `/metrics` on `http_addr`.
pub fn operator_process(args: &[&str], http_addr: Option<&str>) -> tokio::process::Child {
    operator_process_from(Path::new(env!("CARGO_BIN_EXE_cutover")), args, http_addr)
}

/// [`operator_process`] of another build of cutover (`binary`: a past release's).
pub fn operator_process_from(
    binary: &Path,
    args: &[&str],
    http_addr: Option<&str>,
) -> tokio::process::Child {
    let log = std::env::var("CUTOVER_BENCH_LOG").ok();
    tokio::process::Command::new(binary)
        .arg("run")
        .args(args)
        .args(http_addr.map(|a| format!("--http-addr={a}")))
        .env("KUBECONFIG", root().join(".cluster/operator.kubeconfig"))
        // CUTOVER_BENCH_LOG=<file>: the operator's log (info) goes there.
        .env(
            "RUST_LOG",
            if log.is_some() {
                "info,cutover=debug"
            } else {
                "warn"
            },
        )
        .stdout(match &log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("log file"),
            ),
            None => Stdio::null(),
        })
        .kill_on_drop(true)
        .spawn()
        .expect("start the operator")
}

/// The objects of one workload: a DeploymentConfig and/or a Deployment of each name.
pub struct Objects {
    pub dcs: Api<DeploymentConfig>,
    pub deployments: Api<Deployment>,
    pub names: Vec<String>,
    pub replicas: i32,
    /// The sides rolled out together.
    pub kinds: Vec<Kind>,
}

impl Objects {
    /// Creates them all (the first rollouts).
    pub async fn create(&self) -> Sent {
        on_every_object(&self.names, &self.kinds, |kind, name| {
            let (dcs, deployments) = (self.dcs.clone(), self.deployments.clone());
            let replicas = self.replicas;
            async move {
                let pp = PostParams::default();
                match kind {
                    Kind::Dc => dcs.create(&pp, &dc(&name, replicas)).await.map(|_| ()),
                    Kind::Deployment => deployments
                        .create(&pp, &deployment(&name, replicas))
                        .await
                        .map(|_| ()),
                }
            }
        })
        .await
    }

    /// Changes every template (the second rollouts).
    pub async fn change_templates(&self) -> Sent {
        let patch =
            Patch::Merge(json!({"spec": {"template": {"spec": template("app:2")["spec"]}}}));
        on_every_object(&self.names, &self.kinds, |kind, name| {
            let (dcs, deployments) = (self.dcs.clone(), self.deployments.clone());
            let patch = patch.clone();
            async move {
                let pp = PatchParams::default();
                match kind {
                    Kind::Dc => dcs.patch(&name, &pp, &patch).await.map(|_| ()),
                    Kind::Deployment => deployments.patch(&name, &pp, &patch).await.map(|_| ()),
                }
            }
        })
        .await
    }
}
