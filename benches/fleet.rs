//! A fleet: 10,000 DeploymentConfigs next to 10,000 Deployments, each side with the cluster to
//! itself. `make bench-fleet` runs it; results go in BENCHMARKS.md.
//!
//! For each workload (`CUTOVER_FLEET_SIZES=OBJECTSxREPLICAS,…`, default `10000x0,10000x1`: 0
//! replicas leaves pods out, so what is measured is the controllers and the API server alone)
//! each side, in a namespace of its own with a fresh controller process:
//! 1. creates every object (32 requests in flight) and waits until all are Complete (their first
//!    rollouts);
//! 2. sits idle for `CUTOVER_FLEET_IDLE` seconds (default 300): the controller's CPU, its API
//!    requests and its memory at the end are its steady state;
//! 3. changes the template of `CUTOVER_FLEET_CHANGE` of them (default 1,000) and waits until they
//!    are Complete again.
//!
//! CPU-seconds and memory come from /proc, API requests from the API server (as in
//! `benches/scale.rs`); cutover's reconcile times from its own histogram
//! (`cutover_reconcile_duration_seconds`, the bucket bound the quantile falls in).

#[path = "scale/harness.rs"]
mod harness;
#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/objects.rs"]
mod objects;
#[path = "scale/watch.rs"]
mod watch;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Objects, client, create_namespaces, delete_namespaces, env_number, start_operator};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::Api;
use measure::{
    CUTOVER_FLOW, DEPLOYMENT_FLOW, cluster_sh, cpu_seconds, deployment_controller_pid, dispatched,
    install_flow_schemas, peak_rss_mib, ratio, reconcile_quantiles, rss_mib,
};
use watch::{Kind, Seen, wait_round, watch_all};

/// Where the fleet's operator serves its metrics.
const METRICS_ADDR: &str = "127.0.0.1:18081";

/// What one side of a fleet cost.
#[derive(Debug, Default)]
struct Side {
    /// First request → last object Complete.
    first_complete_s: f64,
    /// The fresh controller's memory before any object exists.
    baseline_rss_mib: f64,
    created_cpu_s: f64,
    created_requests: f64,
    created_peak_rss_mib: f64,
    idle_cpu_s: f64,
    idle_requests: f64,
    idle_rss_mib: f64,
    /// The template change over `change` objects: first request → last Complete.
    change_s: f64,
    change_p50_s: f64,
    change_cpu_s: f64,
    change_requests: f64,
    peak_rss_mib: f64,
    /// cutover only: its reconcile times over the whole run (bucket bounds).
    reconcile_p50_ms: Option<f64>,
    reconcile_p99_ms: Option<f64>,
    reconciles: Option<f64>,
    whole: bool,
}

#[tokio::main]
async fn main() {
    let sizes = std::env::var("CUTOVER_FLEET_SIZES").unwrap_or_else(|_| "10000x0,10000x1".into());
    let idle = Duration::from_secs(env_number("CUTOVER_FLEET_IDLE", 300));
    let change = env_number("CUTOVER_FLEET_CHANGE", 1000) as usize;
    let timeout = Duration::from_secs(env_number("CUTOVER_BENCH_TIMEOUT", 1800));
    let admin = client("kubeconfig").await;
    install_flow_schemas(&admin).await;
    println!("# A fleet: cutover vs the Deployment controller, each side alone");
    for (i, size) in sizes.split(',').enumerate() {
        let (objects, replicas) = size
            .trim()
            .split_once('x')
            .and_then(|(o, r)| Some((o.parse::<usize>().ok()?, r.parse::<i32>().ok()?)))
            .unwrap_or_else(|| panic!("size {size:?}: OBJECTSxREPLICAS"));
        let tag = format!("{}-{i}", std::process::id());
        let change = change.min(objects);
        let mut sides = Vec::new();
        for kind in [Kind::Dc, Kind::Deployment] {
            let side = run_side(&admin, kind, objects, replicas, change, idle, timeout, &tag).await;
            eprintln!("[{size}] {}: {side:?}", kind.plural());
            sides.push(side);
        }
        report(objects, replicas, change, idle, &sides[0], &sides[1]);
        cluster_sh(&["restart", "deployment-controller"]);
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_side(
    admin: &Client,
    kind: Kind,
    objects: usize,
    replicas: i32,
    change: usize,
    idle: Duration,
    timeout: Duration,
    tag: &str,
) -> Side {
    let label = format!("{objects}x{replicas} {}", kind.plural());
    let ns = match kind {
        Kind::Dc => format!("fleet-dc-{tag}"),
        Kind::Deployment => format!("fleet-deploy-{tag}"),
    };
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    create_namespaces(&namespaces, &[&ns]).await;
    let (mut operator, pid, flow) = match kind {
        Kind::Dc => {
            // Alone means alone: an idle Deployment controller would still watch every
            // ReplicaSet and pod of this side.
            cluster_sh(&["stop", "deployment-controller"]);
            let child = start_operator(&ns, Some(METRICS_ADDR));
            let pid = child.id().expect("operator pid");
            (Some(child), pid, CUTOVER_FLOW)
        }
        Kind::Deployment => {
            cluster_sh(&["restart", "deployment-controller"]);
            (None, deployment_controller_pid(), DEPLOYMENT_FLOW)
        }
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watches = watch_all(admin, &[(kind, &ns)], replicas, seen.clone());
    let names: Vec<String> = (0..objects).map(|i| format!("app{i}")).collect();
    let requests = || async { dispatched(admin).await.get(flow).copied().unwrap_or(0.0) };
    let mut side = Side::default();

    // 1. Every object created and Complete.
    eprintln!("[{label}] creating");
    side.baseline_rss_mib = rss_mib(pid);
    let (cpu0, req0) = (cpu_seconds(pid), requests().await);
    let start = Instant::now();
    let mut fleet = Objects {
        dcs: Api::namespaced(admin.clone(), &ns),
        deployments: Api::namespaced(admin.clone(), &ns),
        names,
        replicas,
        kinds: vec![kind],
    };
    fleet.create().await;
    side.whole = wait_round(&seen, "first rollout", 1, &[kind], objects, timeout).await;
    side.first_complete_s = seen
        .lock()
        .expect("seen")
        .last_done(kind, 1)
        .map_or(f64::NAN, |t| (t - start).as_secs_f64());
    side.created_cpu_s = cpu_seconds(pid) - cpu0;
    side.created_requests = requests().await - req0;
    side.created_peak_rss_mib = peak_rss_mib(pid);

    // 2. Idle.
    eprintln!("[{label}] idle for {idle:?}");
    let (cpu1, req1) = (cpu_seconds(pid), requests().await);
    tokio::time::sleep(idle).await;
    side.idle_cpu_s = cpu_seconds(pid) - cpu1;
    side.idle_requests = requests().await - req1;
    side.idle_rss_mib = rss_mib(pid);

    // 3. A template change over `change` of them.
    eprintln!("[{label}] changing {change} templates");
    let (cpu2, req2) = (cpu_seconds(pid), requests().await);
    fleet.names.truncate(change);
    let sent = fleet.change_templates().await;
    side.whole &= wait_round(&seen, "template change", 2, &[kind], change, timeout).await;
    let mut rollouts: Vec<f64> = {
        let s = seen.lock().expect("seen");
        sent.iter()
            .filter_map(|((k, name), at)| {
                let done = s.done.get(&(*k, name.clone(), 2))?;
                Some((*done - *at).as_secs_f64())
            })
            .collect()
    };
    rollouts.sort_by(f64::total_cmp);
    side.change_p50_s = rollouts
        .get(rollouts.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    let first_sent = sent.values().min().copied();
    side.change_s = match (first_sent, seen.lock().expect("seen").last_done(kind, 2)) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => f64::NAN,
    };
    side.change_cpu_s = cpu_seconds(pid) - cpu2;
    side.change_requests = requests().await - req2;
    side.peak_rss_mib = peak_rss_mib(pid);
    if kind == Kind::Dc {
        let (p50, p99, count) = reconcile_quantiles(METRICS_ADDR).await;
        side.reconcile_p50_ms = p50;
        side.reconcile_p99_ms = p99;
        side.reconciles = Some(count);
    }

    for t in watches {
        t.abort();
    }
    if let Some(op) = operator.as_mut() {
        let _ = op.kill().await;
    }
    eprintln!("[{label}] cleaning up");
    delete_namespaces(&namespaces, &[&ns]).await;
    side
}

fn report(
    objects: usize,
    replicas: i32,
    change: usize,
    idle: Duration,
    ours: &Side,
    theirs: &Side,
) {
    println!(
        "\n### {objects} × {replicas} replica(s){}\n",
        if ours.whole && theirs.whole {
            ""
        } else {
            " (partial: a round ran out of time)"
        }
    );
    println!("| figure | cutover | Deployment controller | ratio |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, a: f64, b: f64, unit: &str| {
        println!("| {name} ({unit}) | {a:.2} | {b:.2} | {} |", ratio(a, b));
    };
    row(
        "first rollouts: create → all Complete",
        ours.first_complete_s,
        theirs.first_complete_s,
        "s",
    );
    row(
        "CPU-seconds, creation",
        ours.created_cpu_s,
        theirs.created_cpu_s,
        "s",
    );
    row(
        "API requests, creation",
        ours.created_requests,
        theirs.created_requests,
        "requests",
    );
    row(
        "peak RSS after creation",
        ours.created_peak_rss_mib,
        theirs.created_peak_rss_mib,
        "MiB",
    );
    let idle_s = idle.as_secs_f64();
    row(
        &format!("CPU-seconds idle over {idle_s:.0} s"),
        ours.idle_cpu_s,
        theirs.idle_cpu_s,
        "s",
    );
    row(
        &format!("API requests idle over {idle_s:.0} s"),
        ours.idle_requests,
        theirs.idle_requests,
        "requests",
    );
    row(
        "RSS at the end of the idle time",
        ours.idle_rss_mib,
        theirs.idle_rss_mib,
        "MiB",
    );
    row(
        &format!("template change over {change}: first change → last Complete"),
        ours.change_s,
        theirs.change_s,
        "s",
    );
    row(
        &format!("template change over {change}: rollout p50"),
        ours.change_p50_s,
        theirs.change_p50_s,
        "s",
    );
    row(
        &format!("CPU-seconds, change over {change}"),
        ours.change_cpu_s,
        theirs.change_cpu_s,
        "s",
    );
    row(
        &format!("API requests, change over {change}"),
        ours.change_requests,
        theirs.change_requests,
        "requests",
    );
    row(
        "peak RSS, whole run",
        ours.peak_rss_mib,
        theirs.peak_rss_mib,
        "MiB",
    );
    let per_object = |s: &Side| (s.idle_rss_mib - s.baseline_rss_mib) * 1024.0 / objects as f64;
    println!(
        "\ncutover's reconciles over the whole run: {} (p50 ≤ {} ms, p99 ≤ {} ms). Memory per object at rest (RSS at the end of the idle time less the fresh process's): cutover {:.1} KiB, Deployment controller {:.1} KiB.",
        ours.reconciles.unwrap_or(0.0),
        ours.reconcile_p50_ms
            .map_or("?".into(), |v| format!("{v:.0}")),
        ours.reconcile_p99_ms
            .map_or("?".into(), |v| format!("{v:.0}")),
        per_object(ours),
        per_object(theirs),
    );
}
