//! One rollout of 100 replicas on the local cluster, timed from the template change to Complete,
//! next to the same rollout of a plain Kubernetes Deployment (same maxSurge/maxUnavailable, same
//! cluster, same template change). Run with `make bench` (it starts the cluster if needed).
//!
//! kwok makes pods Ready at once, so what is measured is the controllers, not containers.

use std::process::Stdio;
use std::time::{Duration, Instant};

use cutover::api::DeploymentConfig;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

const REPLICAS: i32 = 100;
const ROUNDS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(300);

async fn client(file: &str) -> Client {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".cluster")
        .join(file);
    let kc = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make cluster`", path.display()));
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    Client::try_from(config).expect("client")
}

fn template(image: &str) -> serde_json::Value {
    json!({"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "app", "image": image}]}})
}

async fn wait<F, Fut>(what: &str, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < TIMEOUT,
            "{what} did not finish in {TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

async fn dc_complete(api: &Api<DeploymentConfig>, version: i64) -> bool {
    let Ok(dc) = api.get("bench").await else {
        return false;
    };
    let Some(s) = dc.status else { return false };
    s.latest_version == version
        && s.conditions
            .iter()
            .any(|c| c.type_ == "Progressing" && c.reason == "NewReplicationControllerAvailable")
        && s.updated_replicas == REPLICAS
        && s.replicas == REPLICAS
}

async fn deployment_complete(api: &Api<Deployment>) -> bool {
    let Ok(d) = api.get("bench").await else {
        return false;
    };
    let (Some(s), Some(g)) = (d.status, d.metadata.generation) else {
        return false;
    };
    s.observed_generation.unwrap_or(0) >= g
        && s.updated_replicas == Some(REPLICAS)
        && s.available_replicas == Some(REPLICAS)
        && s.replicas == Some(REPLICAS)
}

#[tokio::main]
async fn main() {
    let admin = client("kubeconfig").await;
    let ns = format!("bench-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
        )
        .await
        .expect("create namespace");
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["run", "--namespace", &ns])
        .env(
            "KUBECONFIG",
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cluster/operator.kubeconfig"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the operator");

    let dcs: Api<DeploymentConfig> = Api::namespaced(admin.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns);
    let strategy = json!({"maxSurge": "25%", "maxUnavailable": "25%"});
    let dc = json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig", "metadata": {"name": "bench"},
        "spec": {"replicas": REPLICAS, "selector": {"app": "bench"}, "template": template("app:0"),
                 "strategy": {"type": "Rolling", "rollingParams": strategy}}
    });
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "bench"}}, "template": template("app:0"),
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": strategy}}
    });
    let pp = PostParams::default();
    dcs.create(&pp, &serde_json::from_value(dc).expect("dc"))
        .await
        .expect("create dc");
    deployments
        .create(
            &pp,
            &serde_json::from_value(deployment).expect("deployment"),
        )
        .await
        .expect("create deployment");
    wait("initial DeploymentConfig", || dc_complete(&dcs, 1)).await;
    wait("initial Deployment", || deployment_complete(&deployments)).await;

    println!(
        "rollout of {REPLICAS} replicas, maxSurge 25%, maxUnavailable 25% (template change -> Complete)"
    );
    println!(
        "{:>5}  {:>18}  {:>18}  {:>6}",
        "round", "DeploymentConfig", "Deployment", "ratio"
    );
    let (mut dc_times, mut d_times) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let image = format!("app:{round}");
        let patch = Patch::Merge(json!({"spec": {"template": template(&image)}}));
        // Alternate which goes first, so neither always runs on a quieter cluster.
        let (t_dc, t_d) = if round % 2 == 1 {
            dcs.patch("bench", &PatchParams::default(), &patch)
                .await
                .expect("patch dc");
            let t_dc = wait("DeploymentConfig rollout", || {
                dc_complete(&dcs, 1 + round as i64)
            })
            .await;
            deployments
                .patch("bench", &PatchParams::default(), &patch)
                .await
                .expect("patch deployment");
            (
                t_dc,
                wait("Deployment rollout", || deployment_complete(&deployments)).await,
            )
        } else {
            deployments
                .patch("bench", &PatchParams::default(), &patch)
                .await
                .expect("patch deployment");
            let t_d = wait("Deployment rollout", || deployment_complete(&deployments)).await;
            dcs.patch("bench", &PatchParams::default(), &patch)
                .await
                .expect("patch dc");
            (
                wait("DeploymentConfig rollout", || {
                    dc_complete(&dcs, 1 + round as i64)
                })
                .await,
                t_d,
            )
        };
        println!(
            "{round:>5}  {:>17.2}s  {:>17.2}s  {:>6.2}",
            t_dc.as_secs_f64(),
            t_d.as_secs_f64(),
            t_dc.as_secs_f64() / t_d.as_secs_f64()
        );
        dc_times.push(t_dc);
        d_times.push(t_d);
    }
    dc_times.sort();
    d_times.sort();
    let (m_dc, m_d) = (dc_times[ROUNDS / 2], d_times[ROUNDS / 2]);
    println!(
        "median {:>17.2}s  {:>17.2}s  {:>6.2}",
        m_dc.as_secs_f64(),
        m_d.as_secs_f64(),
        m_dc.as_secs_f64() / m_d.as_secs_f64()
    );

    let _ = operator.kill().await;
    let _ = namespaces.delete(&ns, &DeleteParams::background()).await;
}
