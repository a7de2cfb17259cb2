//! cutover next to the Kubernetes Deployment controller, on the same local cluster, from one to a
//! thousand objects. `make bench` runs it; results go in BENCHMARKS.md.
//!
//! For each workload (`OBJECTSxREPLICAS`, default `1x10,20x10,1x100,100x10`; 1,000 × 10 only
//! when asked for in `CUTOVER_BENCH_SIZES`) the same number of DeploymentConfigs and Deployments,
//! with identical templates, replicas and 25%/25% surge and unavailability, are created and then
//! rolled out by a template change. By default each side has the cluster to itself: the
//! DeploymentConfigs' two rounds run (in a namespace of their own, with a fresh cutover process)
//! while no Deployment is being rolled out, the namespace is deleted, then the Deployments' two
//! rounds run (with a freshly restarted Deployment controller) while cutover is stopped; a size
//! listed more than once alternates which side goes first (`CUTOVER_BENCH_DEPLOYMENTS_FIRST=1`:
//! Deployments first for the first run of each size). `CUTOVER_BENCH_INTERLEAVED=1` runs
//! both sides' rounds at the same time instead, interleaved, as the benchmark used to: then
//! whichever controller acts first takes the shared ReplicaSet controller's queue and kwok.
//!
//! The local cluster runs the Deployment controller in a process of its own (hack/cluster.sh), so
//! its CPU and memory are read from /proc next to those of a fresh cutover process; API requests
//! are counted by the API server (one APF FlowSchema per controller, both at the same priority).
//! kwok makes pods Ready at once, so what is measured is the controllers.
//!
//! Each template change's rollout is broken down from the watches of the objects and their
//! ReplicaSets (spec.replicas, status.replicas and status.availableReplicas over time): (a) the
//! change → the new ReplicaSet, (b) each scale step: what it waited on (the last change of the
//! ReplicaSets' status since the previous step, or that step) → the spec change, (c) the last
//! status change → the object seen Complete, and the rest, waiting on pods.
//!
//! `CUTOVER_BENCH_POD_REPLACEMENT=TerminationComplete` (or `TerminationStarted`) annotates the
//! DeploymentConfigs with that pod replacement policy; by default they carry no annotation and get
//! the operator's default (`TerminationStarted` since 1401c73: terminating pods not counted toward
//! maxSurge, as the Deployment controller does).
//!
//! Each round (creation, template change) may take `CUTOVER_BENCH_TIMEOUT` seconds (default
//! 1800); past that the workload reports what it measured so far, marked partial.
//!
//! `--smoke` runs one DeploymentConfig and one Deployment of 10 replicas, each side alone (make
//! test runs it to keep this working).

#[path = "scale/figures.rs"]
mod figures;
#[path = "scale/harness.rs"]
mod harness;
#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/objects.rs"]
mod objects;
#[path = "scale/watch.rs"]
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::Api;

use figures::{Controller, Figures, Record, report};
use harness::{Objects, client, create_namespaces, delete_namespaces, start_operator};
use measure::{
    CUTOVER_FLOW, DEPLOYMENT_FLOW, apiserver_profile, cluster_sh, control_plane_cpu, cpu_seconds,
    deployment_controller_pid, dispatched, install_flow_schemas, peak_rss_mib,
};
use objects::pod_replacement;
use watch::{Kind, Seen, wait_round, watch_all};

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

/// How the two sides share the cluster.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Each side's rounds with the cluster to itself, one side after the other.
    Alone,
    /// Both sides' rounds at the same time, interleaved (`CUTOVER_BENCH_INTERLEAVED=1`).
    Interleaved,
}

/// The namespace of one side of a workload.
fn namespace(kind: Kind, tag: &str) -> String {
    match kind {
        Kind::Dc => format!("bench-dc-{tag}"),
        Kind::Deployment => format!("bench-deploy-{tag}"),
    }
}

/// Runs one workload; `order` is the sides in the order they run (alone) and the order the
/// figures come back in. Returns the figures of each side and whether every round finished.
async fn run_workload(
    admin: &Client,
    w: Workload,
    tag: &str,
    mode: Mode,
    order: [Kind; 2],
    timeout: Duration,
) -> (Vec<Figures>, bool) {
    match mode {
        Mode::Interleaved => run_sides(admin, w, tag, &order, timeout).await,
        Mode::Alone => {
            let mut figures = Vec::new();
            let mut whole = true;
            for kind in order {
                let (f, done) = run_sides(admin, w, tag, &[kind], timeout).await;
                figures.extend(f);
                whole &= done;
            }
            (figures, whole)
        }
    }
}

/// Creates `kinds`' objects, then changes their templates, all kinds at the same time, each in a
/// namespace of its own with a fresh controller process; deletes the namespaces (and waits until
/// they are gone) before returning. The figures come in the order of `kinds`.
async fn run_sides(
    admin: &Client,
    w: Workload,
    tag: &str,
    kinds: &[Kind],
    timeout: Duration,
) -> (Vec<Figures>, bool) {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let ns: Vec<String> = kinds.iter().map(|k| namespace(*k, tag)).collect();
    let ns_refs: Vec<&str> = ns.iter().map(String::as_str).collect();
    create_namespaces(&namespaces, &ns_refs).await;
    // Fresh processes, so peak memory and CPU are this side's (this workload's).
    let mut operator = None;
    let mut pids = Vec::new();
    if kinds == [Kind::Dc] {
        // Alone means alone: an idle Deployment controller would still watch (and cost the API
        // server) every pod and ReplicaSet of this side.
        cluster_sh(&["stop", "deployment-controller"]);
    }
    for (kind, ns) in kinds.iter().zip(&ns) {
        pids.push(match kind {
            Kind::Dc => {
                let child = start_operator(ns, None);
                let pid = child.id().expect("operator pid");
                operator = Some(child);
                pid
            }
            Kind::Deployment => {
                cluster_sh(&["restart", "deployment-controller"]);
                deployment_controller_pid()
            }
        });
    }
    // Both controllers start from a warm, empty namespace: give them their cache sync.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let sides: Vec<(Kind, &str)> = kinds.iter().copied().zip(ns_refs.iter().copied()).collect();
    let watches = watch_all(admin, &sides, w.replicas, seen.clone());
    let dc_ns = sides
        .iter()
        .find(|(k, _)| *k == Kind::Dc)
        .map_or("default", |s| s.1);
    let d_ns = sides
        .iter()
        .find(|(k, _)| *k == Kind::Deployment)
        .map_or("default", |s| s.1);
    let objects = Objects {
        dcs: Api::namespaced(admin.clone(), dc_ns),
        deployments: Api::namespaced(admin.clone(), d_ns),
        names: (0..w.objects).map(|i| format!("app{i}")).collect(),
        replicas: w.replicas,
        kinds: kinds.to_vec(),
    };
    let procs: Vec<(Kind, u32)> = kinds.iter().copied().zip(pids).collect();
    let measured = roll_out_twice(admin, &objects, &seen, &procs, w, timeout).await;

    for t in watches {
        t.abort();
    }
    if let Some(mut op) = operator {
        let _ = op.kill().await;
    }
    eprintln!("[{}x{}] cleaning up", w.objects, w.replicas);
    delete_namespaces(&namespaces, &ns_refs).await;
    measured
}

/// Creates the objects, then changes their templates, each round bounded by `timeout`; returns
/// the figures of each controller (`procs`: the kind of its objects and its process), in order,
/// and whether both rounds finished.
async fn roll_out_twice(
    admin: &Client,
    objects: &Objects,
    seen: &Mutex<Seen>,
    procs: &[(Kind, u32)],
    w: Workload,
    timeout: Duration,
) -> (Vec<Figures>, bool) {
    let kinds = &objects.kinds;
    let requests_before = dispatched(admin).await;
    // CUTOVER_BENCH_APISERVER=1: where the API server's work went (one more /metrics scrape).
    let profile = std::env::var("CUTOVER_BENCH_APISERVER").is_ok_and(|v| v == "1");
    let profile_before = if profile {
        apiserver_profile(admin).await
    } else {
        HashMap::new()
    };
    let cpu0: Vec<f64> = procs.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
    let plane_cpu0 = control_plane_cpu();
    eprintln!(
        "[{}x{}] creating {} {}",
        w.objects,
        w.replicas,
        w.objects,
        kinds
            .iter()
            .map(|k| k.plural())
            .collect::<Vec<_>>()
            .join(" and ")
    );
    let created = objects.create().await;
    // Past the bound, the figures so far are reported rather than lost (a 1,000-object run can
    // outgrow a small machine).
    let mut whole = wait_round(seen, "first rollout", 1, kinds, w.objects, timeout).await;
    let rss_created: Vec<f64> = procs.iter().map(|(_, pid)| peak_rss_mib(*pid)).collect();

    eprintln!("[{}x{}] changing every template", w.objects, w.replicas);
    let changed = objects.change_templates().await;
    whole &= wait_round(seen, "template change", 2, kinds, w.objects, timeout).await;

    let requests_after = dispatched(admin).await;
    if profile {
        let after = apiserver_profile(admin).await;
        let mut deltas: Vec<(String, f64)> = after
            .iter()
            .map(|(k, v)| (k.clone(), v - profile_before.get(k).copied().unwrap_or(0.0)))
            .filter(|(_, d)| *d > 0.0)
            .collect();
        deltas.sort_by(|a, b| b.1.total_cmp(&a.1));
        let sides: Vec<&str> = kinds.iter().map(|k| k.plural()).collect();
        eprintln!(
            "[{}x{}] the API server's work for {}:",
            w.objects,
            w.replicas,
            sides.join(" and ")
        );
        for (key, d) in deltas
            .iter()
            .filter(|(k, _)| k.starts_with("watch"))
            .take(8)
        {
            eprintln!("  {key}: {:.1} MiB", d / 1048576.0);
        }
        for (key, d) in deltas
            .iter()
            .filter(|(k, _)| k.starts_with("request"))
            .take(10)
        {
            eprintln!("  {key}: {d:.2} s");
        }
    }
    let record = Record {
        seen,
        names: &objects.names,
        created: &created,
        changed: &changed,
        requests_before: &requests_before,
        requests_after: &requests_after,
    };
    let figures = procs
        .iter()
        .zip(cpu0)
        .zip(rss_created)
        .map(|((&(kind, pid), cpu0), rss_created)| {
            record.figures(&Controller {
                kind,
                pid,
                cpu0,
                plane_cpu0,
                flow: match kind {
                    Kind::Dc => CUTOVER_FLOW,
                    Kind::Deployment => DEPLOYMENT_FLOW,
                },
                rss_created,
            })
        })
        .collect();
    (figures, whole)
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
            &std::env::var("CUTOVER_BENCH_SIZES")
                .unwrap_or_else(|_| "1x10,20x10,1x100,100x10".into()),
        )
    };
    let mode = if std::env::var("CUTOVER_BENCH_INTERLEAVED").is_ok_and(|v| v == "1") {
        Mode::Interleaved
    } else {
        Mode::Alone
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
        "# cutover vs the Deployment controller ({}, {}; DeploymentConfigs' pod replacement policy: {})",
        if smoke { "smoke run" } else { "benchmark" },
        match mode {
            Mode::Alone => "each side with the cluster to itself",
            Mode::Interleaved => "both sides interleaved",
        },
        pod_replacement()
            .as_deref()
            .unwrap_or("none set, the operator's default (TerminationStarted since 1401c73)")
    );
    // How many times each size ran so far: repeated runs of a size alternate which side goes
    // first, DeploymentConfigs first unless CUTOVER_BENCH_DEPLOYMENTS_FIRST=1 (to alternate
    // between invocations too).
    let deployments_first =
        std::env::var("CUTOVER_BENCH_DEPLOYMENTS_FIRST").is_ok_and(|v| v == "1");
    let mut runs: HashMap<(usize, i32), usize> = HashMap::new();
    for (i, w) in sizes.into_iter().enumerate() {
        let n = runs.entry((w.objects, w.replicas)).or_default();
        let dc_first = (*n).is_multiple_of(2) != deployments_first;
        *n += 1;
        let order = if dc_first {
            [Kind::Dc, Kind::Deployment]
        } else {
            [Kind::Deployment, Kind::Dc]
        };
        let tag = format!("{}-{i}", std::process::id());
        let started = chrono_now();
        let (figures, whole) = run_workload(&admin, w, &tag, mode, order, timeout).await;
        let (ours, theirs) = if dc_first {
            (&figures[0], &figures[1])
        } else {
            (&figures[1], &figures[0])
        };
        let label = match mode {
            Mode::Alone => format!(
                "each side alone, {} first, started {started}",
                if dc_first {
                    "DeploymentConfigs"
                } else {
                    "Deployments"
                }
            ),
            Mode::Interleaved => format!("interleaved, started {started}"),
        };
        report(w, &label, ours, theirs, whole);
        // Leave the cluster as it was found.
        cluster_sh(&["restart", "deployment-controller"]);
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
            assert!(
                ours.breakdown.steps_p50 > 0.0 && theirs.breakdown.steps_p50 > 0.0,
                "scale steps seen: {ours:?} {theirs:?}"
            );
        }
    }
}

/// The time of day (UTC), to tell runs apart from other work on the machine.
fn chrono_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        (day % 3600) / 60,
        day % 60
    )
}
