//! cutover next to the Kubernetes Deployment controller, on the same local cluster, from one to a
//! thousand objects. `make bench` runs it; results go in BENCHMARKS.md.
//!
//! For each workload (`OBJECTSxREPLICAS`, default `1x100,100x10,1000x10`) the same number of
//! DeploymentConfigs and Deployments, with identical templates, replicas and 25%/25% surge and
//! unavailability, are created and then rolled out by a template change, interleaved. The local
//! cluster runs the Deployment controller in a process of its own (hack/cluster.sh), so its CPU
//! and memory are read from /proc next to those of a fresh cutover process; API requests are
//! counted by the API server (one APF FlowSchema per controller, both at the same priority).
//! kwok makes pods Ready at once, so what is measured is the controllers.
//!
//! `CUTOVER_BENCH_POD_REPLACEMENT=TerminationStarted` annotates the DeploymentConfigs with that
//! pod replacement policy (terminating pods not counted toward maxSurge, as the Deployment
//! controller does); by default they use cutover's default, `TerminationComplete`.
//!
//! Each round (creation, template change) may take `CUTOVER_BENCH_TIMEOUT` seconds (default
//! 1800); past that the workload reports what it measured so far, marked partial.
//!
//! `--smoke` runs one DeploymentConfig of 10 replicas (make test runs it to keep this working).

#[path = "scale/figures.rs"]
mod figures;
#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/objects.rs"]
mod objects;
#[path = "scale/watch.rs"]
mod watch;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

use cutover::api::DeploymentConfig;
use figures::{Controller, Figures, Record, report};
use measure::{
    CUTOVER_FLOW, DEPLOYMENT_FLOW, cluster_sh, cpu_seconds, deployment_controller_pid, dispatched,
    install_flow_schemas, peak_rss_mib,
};
use objects::{dc, deployment, pod_replacement, template};
use watch::{Kind, Seen, wait_round, watch_all};

/// Requests the benchmark itself has in flight (creates, patches).
const PARALLEL: usize = 32;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

async fn client(file: &str) -> Client {
    let path = root().join(".cluster").join(file);
    let kc = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make cluster`", path.display()));
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    config.read_timeout = Some(Duration::from_secs(120));
    Client::try_from(config).expect("client")
}

#[derive(Clone, Copy, Debug)]
struct Workload {
    objects: usize,
    replicas: i32,
}

fn parse_sizes(s: &str) -> Vec<Workload> {
    s.split(',')
        .map(|w| {
            let (o, r) = w
                .trim()
                .split_once('x')
                .unwrap_or_else(|| panic!("size {w:?}: OBJECTSxREPLICAS"));
            Workload {
                objects: o.parse().expect("objects"),
                replicas: r.parse().expect("replicas"),
            }
        })
        .collect()
}

/// When the request for each object was sent.
type Sent = HashMap<(Kind, String), Instant>;

/// Runs `op` on every DeploymentConfig and Deployment, interleaved, `PARALLEL` at a time; returns
/// when each request was sent (a controller may act before the response arrives).
async fn on_every_object<F, Fut>(names: &[String], op: F) -> Sent
where
    F: Fn(Kind, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), kube::Error>>,
{
    stream::iter(
        names
            .iter()
            .flat_map(|n| [(Kind::Dc, n.clone()), (Kind::Deployment, n.clone())]),
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

/// The objects of one workload: a DeploymentConfig and a Deployment of each name.
struct Objects {
    dcs: Api<DeploymentConfig>,
    deployments: Api<Deployment>,
    names: Vec<String>,
    replicas: i32,
}

impl Objects {
    /// Creates them all (the first rollouts).
    async fn create(&self) -> Sent {
        on_every_object(&self.names, |kind, name| {
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
    async fn change_templates(&self) -> Sent {
        let patch =
            Patch::Merge(json!({"spec": {"template": {"spec": template("app:2")["spec"]}}}));
        on_every_object(&self.names, |kind, name| {
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

async fn create_namespaces(namespaces: &Api<Namespace>, names: [&str; 2]) {
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
async fn delete_namespaces(namespaces: &Api<Namespace>, names: [&str; 2]) {
    for ns in names {
        let _ = namespaces.delete(ns, &DeleteParams::background()).await;
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(600) {
        let left = futures::future::join_all(names.map(|ns| namespaces.get_opt(ns))).await;
        if left.iter().all(|r| matches!(r, Ok(None))) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A fresh cutover process watching `namespace`, with the operator's own credentials.
fn start_operator(namespace: &str) -> tokio::process::Child {
    let log = std::env::var("CUTOVER_BENCH_LOG").ok();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["run", "--namespace", namespace, "--leader-elect=false"])
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
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::null(),
        })
        .kill_on_drop(true)
        .spawn()
        .expect("start the operator")
}

async fn run_workload(
    admin: &Client,
    w: Workload,
    index: usize,
    timeout: Duration,
) -> (Figures, Figures, bool) {
    let tag = format!("{}-{index}", std::process::id());
    let (ns_dc, ns_d) = (format!("bench-dc-{tag}"), format!("bench-deploy-{tag}"));
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    create_namespaces(&namespaces, [&ns_dc, &ns_d]).await;
    // Fresh processes, so peak memory and CPU are this workload's.
    cluster_sh(&["restart", "deployment-controller"]);
    let d_pid = deployment_controller_pid();
    let mut operator = start_operator(&ns_dc);
    let c_pid = operator.id().expect("operator pid");
    // Both controllers start from a warm, empty namespace: give cutover its cache sync.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let watches = watch_all(admin, &ns_dc, &ns_d, w.replicas, seen.clone());
    let objects = Objects {
        dcs: Api::namespaced(admin.clone(), &ns_dc),
        deployments: Api::namespaced(admin.clone(), &ns_d),
        names: (0..w.objects).map(|i| format!("app{i}")).collect(),
        replicas: w.replicas,
    };
    let measured = roll_out_twice(admin, &objects, &seen, (c_pid, d_pid), w, timeout).await;

    for t in watches {
        t.abort();
    }
    let _ = operator.kill().await;
    eprintln!("[{}x{}] cleaning up", w.objects, w.replicas);
    delete_namespaces(&namespaces, [&ns_dc, &ns_d]).await;
    measured
}

/// Creates the objects, then changes their templates, each round bounded by `timeout`; returns
/// the figures of cutover (process `pids.0`) and of the Deployment controller (`pids.1`), and
/// whether both rounds finished.
async fn roll_out_twice(
    admin: &Client,
    objects: &Objects,
    seen: &Mutex<Seen>,
    (c_pid, d_pid): (u32, u32),
    w: Workload,
    timeout: Duration,
) -> (Figures, Figures, bool) {
    let requests_before = dispatched(admin).await;
    let (cpu_c0, cpu_d0) = (cpu_seconds(c_pid), cpu_seconds(d_pid));
    eprintln!(
        "[{}x{}] creating {} DeploymentConfigs and {} Deployments",
        w.objects, w.replicas, w.objects, w.objects
    );
    let created = objects.create().await;
    // Past the bound, the figures so far are reported rather than lost (a 1,000-object run can
    // outgrow a small machine).
    let mut whole = wait_round(seen, "first rollout", 1, w.objects, timeout).await;
    let rss_created = (peak_rss_mib(c_pid), peak_rss_mib(d_pid));

    eprintln!("[{}x{}] changing every template", w.objects, w.replicas);
    let changed = objects.change_templates().await;
    whole &= wait_round(seen, "template change", 2, w.objects, timeout).await;

    let requests_after = dispatched(admin).await;
    let record = Record {
        seen,
        names: &objects.names,
        created: &created,
        changed: &changed,
        requests_before: &requests_before,
        requests_after: &requests_after,
    };
    let ours = record.figures(&Controller {
        kind: Kind::Dc,
        pid: c_pid,
        cpu0: cpu_c0,
        flow: CUTOVER_FLOW,
        rss_created: rss_created.0,
    });
    let theirs = record.figures(&Controller {
        kind: Kind::Deployment,
        pid: d_pid,
        cpu0: cpu_d0,
        flow: DEPLOYMENT_FLOW,
        rss_created: rss_created.1,
    });
    (ours, theirs, whole)
}

#[tokio::main]
async fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let sizes = if smoke {
        vec![Workload {
            objects: 1,
            replicas: 10,
        }]
    } else {
        parse_sizes(
            &std::env::var("CUTOVER_BENCH_SIZES").unwrap_or_else(|_| "1x100,100x10,1000x10".into()),
        )
    };
    // CUTOVER_BENCH_TIMEOUT: seconds each round (creation, template change) may take at most.
    let timeout = Duration::from_secs(if smoke {
        120
    } else {
        std::env::var("CUTOVER_BENCH_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1800)
    });
    let admin = client("kubeconfig").await;
    install_flow_schemas(&admin).await;
    println!(
        "# cutover vs the Deployment controller ({}; DeploymentConfigs' pod replacement policy: {})",
        if smoke { "smoke run" } else { "benchmark" },
        pod_replacement()
            .as_deref()
            .unwrap_or("TerminationComplete, the default")
    );
    for (i, w) in sizes.into_iter().enumerate() {
        let (ours, theirs, whole) = run_workload(&admin, w, i, timeout).await;
        report(w, &ours, &theirs, whole);
        if smoke {
            assert!(whole, "the smoke run finished within {timeout:?}");
            assert!(
                ours.requests > 0.0 && theirs.requests > 0.0,
                "requests counted: {ours:?} {theirs:?}"
            );
            assert!(
                ours.cpu_seconds > 0.0 && theirs.peak_rss_mib > 0.0,
                "processes measured"
            );
        }
    }
}
