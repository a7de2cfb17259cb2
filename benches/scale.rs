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

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, ResourceExt};
use serde_json::json;

use cutover::api::DeploymentConfig;

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

// --- process accounting ------------------------------------------------------------------------

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory (VmHWM) of a process, MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn deployment_controller_pid() -> u32 {
    let path = root().join(".cluster").join("deployment-controller.pid");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{}: the cluster runs no separate deployment controller",
                path.display()
            )
        })
}

fn cluster_sh(args: &[&str]) {
    let status = std::process::Command::new(root().join("hack").join("cluster.sh"))
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("hack/cluster.sh");
    assert!(status.success(), "hack/cluster.sh {args:?} failed");
}

// --- API requests, counted by the API server -------------------------------------------------------

const CUTOVER_FLOW: &str = "bench-cutover";
const DEPLOYMENT_FLOW: &str = "bench-deployment-controller";

/// One FlowSchema per controller, both at workload-high (the Deployment controller's level), so
/// neither is throttled differently and the API server counts each one's requests.
async fn install_flow_schemas(admin: &Client) {
    use k8s_openapi::api::flowcontrol::v1::FlowSchema;
    let api: Api<FlowSchema> = Api::all(admin.clone());
    for (name, ns, sa) in [
        (CUTOVER_FLOW, "cutover-system", "cutover"),
        (DEPLOYMENT_FLOW, "kube-system", "deployment-controller"),
    ] {
        let fs: FlowSchema = serde_json::from_value(json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {
                "matchingPrecedence": 850,
                "priorityLevelConfiguration": {"name": "workload-high"},
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{
                    "subjects": [{"kind": "ServiceAccount", "serviceAccount": {"namespace": ns, "name": sa}}],
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"], "clusterScope": true}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
                }]
            }
        }))
        .expect("flow schema");
        api.patch(
            name,
            &PatchParams::apply("cutover-bench").force(),
            &Patch::Apply(&fs),
        )
        .await
        .expect("apply FlowSchema");
    }
}

/// Requests dispatched so far, per bench FlowSchema.
async fn dispatched(admin: &Client) -> HashMap<String, f64> {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = admin.request_text(req).await.expect("API server /metrics");
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_flowcontrol_dispatched_requests_total{")
        else {
            continue;
        };
        for flow in [CUTOVER_FLOW, DEPLOYMENT_FLOW] {
            if rest.contains(&format!("flow_schema=\"{flow}\"")) {
                let v: f64 = rest
                    .rsplit(' ')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0);
                *out.entry(flow.to_string()).or_default() += v;
            }
        }
    }
    out
}

// --- the objects ----------------------------------------------------------------------------------

fn template(image: &str) -> serde_json::Value {
    json!({"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "app", "image": image}]}})
}

/// The pod replacement policy the DeploymentConfigs ask for (`None`: cutover's default).
fn pod_replacement() -> Option<String> {
    std::env::var("CUTOVER_BENCH_POD_REPLACEMENT")
        .ok()
        .filter(|p| !p.is_empty())
}

fn dc(name: &str, replicas: i32) -> DeploymentConfig {
    let annotations = match pod_replacement() {
        Some(policy) => json!({"cutover.io/pod-replacement-policy": policy}),
        None => json!({}),
    };
    serde_json::from_value(json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"replicas": replicas, "selector": {"app": "bench", "bench": name},
                 "template": {"metadata": {"labels": {"app": "bench", "bench": name}}, "spec": template("app:1")["spec"]},
                 "strategy": {"type": "Rolling", "rollingParams": {"maxSurge": "25%", "maxUnavailable": "25%"}}}
    }))
    .expect("dc")
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench", "bench": name}},
                 "template": {"metadata": {"labels": {"app": "bench", "bench": name}}, "spec": template("app:1")["spec"]},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}
    }))
    .expect("deployment")
}

/// Which rollout of an object is done: the first (created) or the second (template change).
fn dc_done(dc: &DeploymentConfig, replicas: i32, round: i64) -> bool {
    dc.status.as_ref().is_some_and(|s| {
        s.latest_version == round
            && s.updated_replicas == replicas
            && s.replicas == replicas
            && s.available_replicas == replicas
            && s.conditions.iter().any(|c| {
                c.type_ == "Progressing" && c.reason == "NewReplicationControllerAvailable"
            })
    })
}

fn deployment_done(d: &Deployment, replicas: i32, round: i64) -> bool {
    let (Some(s), Some(g)) = (&d.status, d.metadata.generation) else {
        return false;
    };
    g >= round
        && s.observed_generation.unwrap_or(0) >= g
        && s.updated_replicas == Some(replicas)
        && s.available_replicas == Some(replicas)
        && s.replicas == Some(replicas)
}

/// What the watches saw: when each object finished each round, when each ReplicaSet appeared.
#[derive(Default)]
struct Seen {
    done: HashMap<(Kind, String, i64), Instant>,
    replica_sets: HashMap<(Kind, String), Vec<Instant>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Dc,
    Deployment,
}

fn watch_all(
    admin: &Client,
    ns_dc: &str,
    ns_d: &str,
    replicas: i32,
    seen: Arc<Mutex<Seen>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (s, api) = (
        seen.clone(),
        Api::<DeploymentConfig>::namespaced(admin.clone(), ns_dc),
    );
    tasks.push(tokio::spawn(async move {
        let mut w = std::pin::pin!(
            watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
        );
        while let Some(Ok(dc)) = w.next().await {
            for round in [1, 2] {
                if dc_done(&dc, replicas, round) {
                    let mut s = s.lock().expect("seen");
                    s.done
                        .entry((Kind::Dc, dc.name_any(), round))
                        .or_insert_with(Instant::now);
                }
            }
        }
    }));
    let (s, api) = (
        seen.clone(),
        Api::<Deployment>::namespaced(admin.clone(), ns_d),
    );
    tasks.push(tokio::spawn(async move {
        let mut w = std::pin::pin!(
            watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
        );
        while let Some(Ok(d)) = w.next().await {
            for round in [1, 2] {
                if deployment_done(&d, replicas, round) {
                    let mut s = s.lock().expect("seen");
                    s.done
                        .entry((Kind::Deployment, d.name_any(), round))
                        .or_insert_with(Instant::now);
                }
            }
        }
    }));
    for (kind, ns) in [
        (Kind::Dc, ns_dc.to_string()),
        (Kind::Deployment, ns_d.to_string()),
    ] {
        let (s, api) = (
            seen.clone(),
            Api::<ReplicaSet>::namespaced(admin.clone(), &ns),
        );
        tasks.push(tokio::spawn(async move {
            let mut known = std::collections::HashSet::new();
            let mut w = std::pin::pin!(
                watcher(api, watcher::Config::default())
                    .default_backoff()
                    .applied_objects()
            );
            while let Some(Ok(rs)) = w.next().await {
                if !known.insert(rs.name_any()) {
                    continue;
                }
                let Some(owner) = rs.owner_references().first().map(|o| o.name.clone()) else {
                    continue;
                };
                s.lock()
                    .expect("seen")
                    .replica_sets
                    .entry((kind, owner))
                    .or_default()
                    .push(Instant::now());
            }
        }));
    }
    tasks
}

/// Runs `op` on every DeploymentConfig and Deployment, interleaved, `PARALLEL` at a time; returns
/// when each request was sent (a controller may act before the response arrives).
async fn on_every_object<F, Fut>(names: &[String], op: F) -> HashMap<(Kind, String), Instant>
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

/// Waits until `want` objects finished `round`, printing progress; false when `timeout` ran out
/// first.
async fn wait_round(
    seen: &Mutex<Seen>,
    what: &str,
    round: i64,
    want: usize,
    timeout: Duration,
) -> bool {
    let start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let (dcs, ds) = {
            let s = seen.lock().expect("seen");
            let count = |k| {
                s.done
                    .keys()
                    .filter(|(kind, _, r)| *kind == k && *r == round)
                    .count()
            };
            (count(Kind::Dc), count(Kind::Deployment))
        };
        if dcs >= want && ds >= want {
            eprintln!(
                "  {what}: {dcs}/{want} DeploymentConfigs, {ds}/{want} Deployments done in {:.1}s",
                start.elapsed().as_secs_f64()
            );
            return true;
        }
        if start.elapsed() >= timeout {
            eprintln!(
                "  {what}: only {dcs} DeploymentConfigs and {ds} Deployments of {want} done after {timeout:?}: stopping here"
            );
            return false;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  {what}: {dcs}/{want} DeploymentConfigs, {ds}/{want} Deployments done ({:.0}s)",
                start.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[derive(Debug, Default)]
struct Figures {
    /// First rollouts: creation requests → the last one Complete.
    created: f64,
    /// Template changes done, of the workload's objects.
    done: usize,
    rollout_p50: f64,
    rollout_p95: f64,
    rollout_max: f64,
    total: f64,
    new_rs_p50: f64,
    new_rs_p95: f64,
    cpu_seconds: f64,
    peak_rss_mib: f64,
    /// Peak RSS once the first rollouts were done.
    peak_rss_created_mib: f64,
    requests: f64,
}

/// OpenShift's deployer for the same rollout (spec §8): a fixed 1 s update period between scaling
/// steps and a 1 s polling interval for readiness; each step moves at most maxSurge + maxUnavailable
/// pods, so a rollout takes at least steps × 2 s more than the pods need (deployer pod start-up
/// not counted).
fn openshift_deployer_floor(replicas: i32) -> f64 {
    let surge = (replicas as f64 * 0.25).ceil();
    let unavailable = (replicas as f64 * 0.25)
        .floor()
        .max(if surge == 0.0 { 1.0 } else { 0.0 });
    let steps = (replicas as f64 / (surge + unavailable).max(1.0)).ceil();
    steps * 2.0
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
    for ns in [&ns_dc, &ns_d] {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
            )
            .await
            .expect("create namespace");
    }
    // Fresh processes, so peak memory and CPU are this workload's.
    cluster_sh(&["restart", "deployment-controller"]);
    let d_pid = deployment_controller_pid();
    let log = std::env::var("CUTOVER_BENCH_LOG").ok();
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["run", "--namespace", &ns_dc, "--leader-elect=false"])
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
        .expect("start the operator");
    let c_pid = operator.id().expect("operator pid");
    // Both controllers start from a warm, empty namespace: give cutover its cache sync.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let watches = watch_all(admin, &ns_dc, &ns_d, w.replicas, seen.clone());
    let requests_before = dispatched(admin).await;
    let (cpu_c0, cpu_d0) = (cpu_seconds(c_pid), cpu_seconds(d_pid));

    let dcs: Api<DeploymentConfig> = Api::namespaced(admin.clone(), &ns_dc);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns_d);
    let names: Vec<String> = (0..w.objects).map(|i| format!("app{i}")).collect();
    eprintln!(
        "[{}x{}] creating {} DeploymentConfigs and {} Deployments",
        w.objects, w.replicas, w.objects, w.objects
    );
    let created_at = on_every_object(&names, |kind, name| {
        let (dcs, deployments) = (dcs.clone(), deployments.clone());
        async move {
            let pp = PostParams::default();
            match kind {
                Kind::Dc => dcs.create(&pp, &dc(&name, w.replicas)).await.map(|_| ()),
                Kind::Deployment => deployments
                    .create(&pp, &deployment(&name, w.replicas))
                    .await
                    .map(|_| ()),
            }
        }
    })
    .await;
    // Past the bound, the figures so far are reported rather than lost (a 1,000-object run can
    // outgrow a small machine).
    let mut whole = wait_round(&seen, "first rollout", 1, w.objects, timeout).await;
    let rss_created = (peak_rss_mib(c_pid), peak_rss_mib(d_pid));

    eprintln!("[{}x{}] changing every template", w.objects, w.replicas);
    let patch = Patch::Merge(json!({"spec": {"template": {"spec": template("app:2")["spec"]}}}));
    let changed = on_every_object(&names, |kind, name| {
        let (dcs, deployments, patch) = (dcs.clone(), deployments.clone(), patch.clone());
        async move {
            let pp = PatchParams::default();
            match kind {
                Kind::Dc => dcs.patch(&name, &pp, &patch).await.map(|_| ()),
                Kind::Deployment => deployments.patch(&name, &pp, &patch).await.map(|_| ()),
            }
        }
    })
    .await;
    whole &= wait_round(&seen, "template change", 2, w.objects, timeout).await;

    let requests_after = dispatched(admin).await;
    let figures = |kind: Kind, pid: u32, cpu0: f64, flow: &str, rss_created: f64| {
        let s = seen.lock().expect("seen");
        let last_done = |round: i64| {
            s.done
                .iter()
                .filter(|((k, _, r), _)| *k == kind && *r == round)
                .map(|(_, t)| *t)
                .max()
        };
        let mut rollouts = Vec::new();
        let mut new_rs = Vec::new();
        for name in &names {
            let t0 = changed[&(kind, name.clone())];
            if let Some(t1) = s.done.get(&(kind, name.clone(), 2)) {
                rollouts.push(t1.duration_since(t0).as_secs_f64());
            }
            // The ReplicaSet the change brought: the first to appear after it.
            if let Some(t) = s
                .replica_sets
                .get(&(kind, name.clone()))
                .and_then(|ts| ts.iter().find(|t| **t >= t0))
            {
                new_rs.push(t.duration_since(t0).as_secs_f64());
            }
        }
        rollouts.sort_by(f64::total_cmp);
        new_rs.sort_by(f64::total_cmp);
        let first_sent = |sent: &HashMap<(Kind, String), Instant>| {
            sent.iter()
                .filter(|((k, _), _)| *k == kind)
                .map(|(_, t)| *t)
                .min()
                .expect("requests sent")
        };
        let (created, first) = (first_sent(&created_at), first_sent(&changed));
        let since = |t0: Instant, t1: Option<Instant>| {
            t1.map_or(f64::NAN, |t1| t1.duration_since(t0).as_secs_f64())
        };
        Figures {
            created: since(created, last_done(1)),
            done: rollouts.len(),
            rollout_p50: percentile(&rollouts, 0.5),
            rollout_p95: percentile(&rollouts, 0.95),
            rollout_max: percentile(&rollouts, 1.0),
            total: since(first, last_done(2)),
            new_rs_p50: percentile(&new_rs, 0.5),
            new_rs_p95: percentile(&new_rs, 0.95),
            cpu_seconds: cpu_seconds(pid) - cpu0,
            peak_rss_mib: peak_rss_mib(pid),
            peak_rss_created_mib: rss_created,
            requests: requests_after.get(flow).copied().unwrap_or(0.0)
                - requests_before.get(flow).copied().unwrap_or(0.0),
        }
    };
    let ours = figures(Kind::Dc, c_pid, cpu_c0, CUTOVER_FLOW, rss_created.0);
    let theirs = figures(
        Kind::Deployment,
        d_pid,
        cpu_d0,
        DEPLOYMENT_FLOW,
        rss_created.1,
    );

    for t in watches {
        t.abort();
    }
    let _ = operator.kill().await;
    eprintln!("[{}x{}] cleaning up", w.objects, w.replicas);
    for ns in [&ns_dc, &ns_d] {
        let _ = namespaces.delete(ns, &DeleteParams::background()).await;
    }
    // The next workload starts on a quiet cluster.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(600) {
        let left =
            futures::future::join_all([&ns_dc, &ns_d].map(|ns| namespaces.get_opt(ns))).await;
        if left.iter().all(|r| matches!(r, Ok(None))) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    (ours, theirs, whole)
}

fn report(w: Workload, ours: &Figures, theirs: &Figures, whole: bool) {
    println!(
        "\n## {} × {} replicas ({} pods per controller){}\n",
        w.objects,
        w.replicas,
        w.objects * w.replicas as usize,
        if whole {
            ""
        } else {
            " — partial: the bound ran out"
        }
    );
    if !whole {
        println!(
            "Template changes done: {} of {} DeploymentConfigs, {} of {} Deployments; rollout figures cover those done, process figures the run until the bound.\n",
            ours.done, w.objects, theirs.done, w.objects
        );
    }
    println!("| figure | cutover | Deployment controller | ratio |");
    println!("|---|---:|---:|---:|");
    let rows: [(&str, f64, f64, &str); 11] = [
        (
            "first rollouts (create → last Complete)",
            ours.created,
            theirs.created,
            "s",
        ),
        (
            "rollout p50 (template change → Complete)",
            ours.rollout_p50,
            theirs.rollout_p50,
            "s",
        ),
        ("rollout p95", ours.rollout_p95, theirs.rollout_p95, "s"),
        ("rollout max", ours.rollout_max, theirs.rollout_max, "s"),
        (
            "all rollouts (first change → last Complete)",
            ours.total,
            theirs.total,
            "s",
        ),
        (
            "new ReplicaSet p50 (change → created)",
            ours.new_rs_p50,
            theirs.new_rs_p50,
            "s",
        ),
        (
            "new ReplicaSet p95",
            ours.new_rs_p95,
            theirs.new_rs_p95,
            "s",
        ),
        (
            "CPU (create + rollout)",
            ours.cpu_seconds,
            theirs.cpu_seconds,
            "s",
        ),
        (
            "peak RSS after the first rollouts",
            ours.peak_rss_created_mib,
            theirs.peak_rss_created_mib,
            "MiB",
        ),
        ("peak RSS", ours.peak_rss_mib, theirs.peak_rss_mib, "MiB"),
        ("API requests", ours.requests, theirs.requests, ""),
    ];
    for (what, a, b, unit) in rows {
        println!("| {what} | {a:.2} {unit} | {b:.2} {unit} | {:.2} |", a / b);
    }
    println!(
        "\nOpenShift's deployer would add at least {:.0} s to each rollout (1 s update period + 1 s polling per step).",
        openshift_deployer_floor(w.replicas)
    );
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
