//! Shards (issue 32): DeploymentConfigs over three shards against one operator for the same
//! DeploymentConfigs. `make bench-fleet` runs it after the fleet; results go in BENCHMARKS.md.
//!
//! `CUTOVER_SHARDS_SIZE` (default 30,000) DeploymentConfigs with 0 replicas (no pods: what is
//! measured is the operators and the API server), a third in each of three namespaces, and for
//! each layout in a fresh set of namespaces:
//! - sharded: the namespaces labelled `cutover.io/shard=s0`, `s1`, `s2`, one operator per shard
//!   (`--shard`), and for `s0` a standby beside its leader;
//! - single: the same namespaces unlabelled, one operator without `--shard`.
//!
//! Each layout: every object created until all are Complete (time; each operator's peak memory,
//! CPU-seconds and reconcile p50/p99 from its /metrics); a template change over
//! `CUTOVER_SHARDS_CHANGE` of them (default 3,000, a third per namespace): first request → last
//! Complete and the p50. Sharded only, the takeover: `s0`'s leader is SIGKILLed and at that
//! moment `CUTOVER_SHARDS_TAKEOVER` (default 100) of `s0`'s DeploymentConfigs get a template
//! change: the time until the last is Complete, against the lease duration (15 s), and how many
//! revisions they have (one each: nothing rolled out twice).

#[path = "scale/harness.rs"]
mod harness;
#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/objects.rs"]
mod objects;
#[path = "scale/watch.rs"]
mod watch;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{Objects, client, delete_namespaces, env_number, operator_process};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use measure::{
    cpu_seconds, http_get, install_flow_schemas, peak_rss_mib, ratio, reconcile_quantiles,
};
use serde_json::json;
use watch::{Kind, Seen, wait_round, watch_all};

const SHARDS: [&str; 3] = ["s0", "s1", "s2"];
/// The lease duration of the operators here (the default).
const LEASE_SECONDS: f64 = 15.0;

/// One operator process and what it cost.
struct Process {
    name: String,
    shard: Option<String>,
    port: u16,
    child: tokio::process::Child,
    pid: u32,
    metrics: String,
}

impl Process {
    fn start(name: &str, shard: Option<&str>, port: u16) -> Process {
        let metrics = format!("127.0.0.1:{port}");
        let mut args = vec!["--lease-namespace", "cutover-system"];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        } else {
            args.extend(["--lease-name", "cutover-bench-single"]);
        }
        let child = operator_process(&args, Some(&metrics));
        let pid = child.id().expect("operator pid");
        Process {
            name: name.to_string(),
            shard: shard.map(str::to_string),
            port,
            child,
            pid,
            metrics,
        }
    }

    /// An operator that lost its Lease exits, for Kubernetes to start it again as a standby:
    /// the same here. Whether it had exited; the new process is ready (caches synced) on return.
    async fn restart_if_exited(&mut self) -> bool {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            return false;
        }
        *self = Process::start(&self.name.clone(), self.shard.clone().as_deref(), self.port);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(300) {
            if http_get(&self.metrics, "/readyz")
                .await
                .is_some_and(|r| r.starts_with("ok"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        true
    }

    /// Its identity in a Lease (host name and pid, as `cutover run` makes it).
    fn identity(&self) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), self.pid)
    }
}

/// What one operator process cost over a layout's creation and template change.
struct Cost {
    name: String,
    peak_rss_mib: f64,
    cpu_s: f64,
    reconcile_p50_ms: Option<f64>,
    reconcile_p99_ms: Option<f64>,
    reconciles: f64,
}

/// What one layout measured.
#[derive(Default)]
struct Layout {
    created_s: f64,
    operators: Vec<Cost>,
    change_s: f64,
    change_p50_s: f64,
    /// Sharded only: SIGKILL → the last of the takeover's DeploymentConfigs Complete, and the
    /// most revisions any of them has.
    takeover_s: Option<f64>,
    takeover_max_revisions: Option<usize>,
    /// Operators that exited on a lost Lease before the takeover (and were started again).
    restarts: usize,
    whole: bool,
}

#[tokio::main]
async fn main() {
    let size = env_number("CUTOVER_SHARDS_SIZE", 30_000) as usize;
    let change = env_number("CUTOVER_SHARDS_CHANGE", 3_000) as usize;
    let takeover = env_number("CUTOVER_SHARDS_TAKEOVER", 100) as usize;
    let timeout = Duration::from_secs(env_number("CUTOVER_BENCH_TIMEOUT", 1800));
    let admin = client("kubeconfig").await;
    install_flow_schemas(&admin).await;
    let per = size / SHARDS.len();
    // CUTOVER_SHARDS_SINGLE=0: the three shards only (the takeover, measured again).
    let single_too = env_number("CUTOVER_SHARDS_SINGLE", 1) != 0;
    let sharded = run_layout(&admin, true, per, change, takeover, timeout).await;
    let single = match single_too {
        true => Some(run_layout(&admin, false, per, change, 0, timeout).await),
        false => None,
    };
    report(
        per * SHARDS.len(),
        change,
        takeover,
        &sharded,
        single.as_ref(),
    );
}

async fn run_layout(
    admin: &Client,
    sharded: bool,
    per: usize,
    change: usize,
    takeover: usize,
    timeout: Duration,
) -> Layout {
    let layout = if sharded { "sharded" } else { "single" };
    let tag = std::process::id();
    let namespaces: Vec<String> = SHARDS
        .iter()
        .map(|s| format!("shards-{layout}-{s}-{tag}"))
        .collect();
    let ns_api: Api<Namespace> = Api::all(admin.clone());
    for (ns, shard) in namespaces.iter().zip(SHARDS) {
        let labels = if sharded {
            json!({"cutover.io/shard": shard})
        } else {
            json!({})
        };
        let object = json!({"metadata": {"name": ns, "labels": labels}});
        ns_api
            .create(
                &PostParams::default(),
                &serde_json::from_value(object).expect("namespace"),
            )
            .await
            .expect("create namespace");
    }
    let mut processes: Vec<Process> = if sharded {
        SHARDS
            .iter()
            .enumerate()
            .map(|(i, s)| Process::start(s, Some(s), 18090 + i as u16))
            .collect()
    } else {
        vec![Process::start("single", None, 18090)]
    };
    if sharded {
        // A second replica of s0: whichever of the two takes the Lease leads, the other stands by.
        processes.push(Process::start("s0", Some("s0"), 18095));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let sides: Vec<(Kind, &str)> = namespaces.iter().map(|n| (Kind::Dc, n.as_str())).collect();
    let watches = watch_all(admin, &sides, 0, seen.clone());
    let fleets: Vec<Objects> = namespaces
        .iter()
        .zip(SHARDS)
        .map(|(ns, s)| Objects {
            dcs: Api::namespaced(admin.clone(), ns),
            deployments: Api::namespaced(admin.clone(), ns),
            names: (0..per).map(|i| format!("{s}-app{i}")).collect(),
            replicas: 0,
            kinds: vec![Kind::Dc],
        })
        .collect();
    let mut out = Layout::default();

    eprintln!(
        "[{layout}] creating {} DeploymentConfigs",
        per * SHARDS.len()
    );
    let cpu0: Vec<f64> = processes.iter().map(|p| cpu_seconds(p.pid)).collect();
    let start = Instant::now();
    futures::future::join_all(fleets.iter().map(|f| f.create())).await;
    out.whole = wait_round(&seen, "first rollout", 1, &[Kind::Dc], per * 3, timeout).await;
    out.created_s = seen
        .lock()
        .expect("seen")
        .last_done(Kind::Dc, 1)
        .map_or(f64::NAN, |t| (t - start).as_secs_f64());

    eprintln!("[{layout}] changing {change} templates");
    let changed: Vec<Objects> = fleets
        .iter()
        .map(|f| Objects {
            dcs: f.dcs.clone(),
            deployments: f.deployments.clone(),
            names: f.names[..(change / SHARDS.len()).min(per)].to_vec(),
            replicas: 0,
            kinds: vec![Kind::Dc],
        })
        .collect();
    let sent: Vec<_> = futures::future::join_all(changed.iter().map(|f| f.change_templates()))
        .await
        .into_iter()
        .flatten()
        .collect();
    let want = changed.iter().map(|f| f.names.len()).sum();
    out.whole &= wait_round(&seen, "template change", 2, &[Kind::Dc], want, timeout).await;
    {
        let s = seen.lock().expect("seen");
        let mut times: Vec<f64> = sent
            .iter()
            .filter_map(|((k, name), at)| {
                Some((*s.done.get(&(*k, name.clone(), 2))? - *at).as_secs_f64())
            })
            .collect();
        times.sort_by(f64::total_cmp);
        out.change_p50_s = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
        let first = sent.iter().map(|(_, at)| *at).min();
        out.change_s = match (first, s.last_done(Kind::Dc, 2)) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => f64::NAN,
        };
    }
    let s0_leader = lease_holder(admin, "cutover-s0").await;
    for p in processes.iter_mut().filter(|p| p.name == "s0") {
        let role = if s0_leader.as_deref() == Some(p.identity().as_str()) {
            "leader"
        } else {
            "standby"
        };
        p.name = format!("s0 {role}");
    }
    for (p, cpu0) in processes.iter().zip(&cpu0) {
        let (p50, p99, count) = reconcile_quantiles(&p.metrics).await;
        out.operators.push(Cost {
            name: p.name.clone(),
            peak_rss_mib: peak_rss_mib(p.pid),
            cpu_s: cpu_seconds(p.pid) - cpu0,
            reconcile_p50_ms: p50,
            reconcile_p99_ms: p99,
            reconciles: count,
        });
    }

    for p in processes.iter_mut() {
        if p.restart_if_exited().await {
            eprintln!(
                "[{layout}] {} had exited (its Lease lost): started again",
                p.name
            );
            out.restarts += 1;
        }
    }
    // The leader now (a restart above may have moved the Lease).
    let s0_leader = lease_holder(admin, "cutover-s0").await;
    let leads = |p: &Process| s0_leader.as_deref() == Some(p.identity().as_str());
    let victim = (processes.iter()).position(|p| p.shard.as_deref() == Some("s0") && leads(p));
    if let Some(at) = victim {
        let mut victim = processes.remove(at);
        // The last of s0's DeploymentConfigs, none of them among those changed above.
        let free = per - (change / SHARDS.len()).min(per);
        let names: Vec<String> = fleets[0].names[per - takeover.min(free)..].to_vec();
        eprintln!(
            "[{layout}] SIGKILL of s0's leader ({}), {} templates changed at once",
            victim.name,
            names.len()
        );
        let killed = Instant::now();
        let _ = victim.child.kill().await;
        let moved = Objects {
            dcs: fleets[0].dcs.clone(),
            deployments: fleets[0].deployments.clone(),
            names: names.clone(),
            replicas: 0,
            kinds: vec![Kind::Dc],
        };
        moved.change_templates().await;
        let deadline = Instant::now() + timeout;
        let done_at = loop {
            let last = {
                let s = seen.lock().expect("seen");
                names
                    .iter()
                    .map(|n| s.done.get(&(Kind::Dc, n.clone(), 2)).copied())
                    .collect::<Option<Vec<Instant>>>()
                    .and_then(|t| t.into_iter().max())
            };
            if let Some(t) = last {
                break Some(t);
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        out.takeover_s = done_at.map(|t| (t - killed).as_secs_f64());
        out.takeover_max_revisions = Some(max_revisions(admin, &namespaces[0], &names).await);
    }

    for t in watches {
        t.abort();
    }
    for p in &mut processes {
        let _ = p.child.kill().await;
    }
    eprintln!("[{layout}] cleaning up");
    let names: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    delete_namespaces(&ns_api, &names).await;
    let leases: Api<Lease> = Api::namespaced(admin.clone(), "cutover-system");
    for lease in [
        "cutover-s0",
        "cutover-s1",
        "cutover-s2",
        "cutover-bench-single",
    ] {
        let _ = leases.delete(lease, &Default::default()).await;
    }
    out
}

async fn lease_holder(admin: &Client, lease: &str) -> Option<String> {
    Api::<Lease>::namespaced(admin.clone(), "cutover-system")
        .get_opt(lease)
        .await
        .ok()??
        .spec?
        .holder_identity
}

/// The most revisions (ReplicaSets) any of `names` has.
async fn max_revisions(admin: &Client, ns: &str, names: &[String]) -> usize {
    let list = Api::<ReplicaSet>::namespaced(admin.clone(), ns)
        .list(&ListParams::default().labels("openshift.io/deployment-config.name"))
        .await
        .expect("list revisions");
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for rs in list.items {
        if let Some(dc) = rs
            .metadata
            .labels
            .and_then(|l| l.get("openshift.io/deployment-config.name").cloned())
            .filter(|dc| names.contains(dc))
        {
            *per.entry(dc).or_default() += 1;
        }
    }
    per.values().copied().max().unwrap_or(0)
}

fn ms(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.0}"))
}

fn report(size: usize, change: usize, takeover: usize, sharded: &Layout, single: Option<&Layout>) {
    // Not run: its figures print as NaN, its ratios as —.
    let skipped = Layout {
        whole: true,
        created_s: f64::NAN,
        change_s: f64::NAN,
        change_p50_s: f64::NAN,
        ..Layout::default()
    };
    let single = single.unwrap_or(&skipped);
    println!(
        "\n### {size} DeploymentConfigs × 0 replicas: three shards against one operator{}\n",
        if sharded.whole && single.whole {
            ""
        } else {
            " (partial: a round ran out of time)"
        }
    );
    println!("| figure | three shards | one operator | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| create → all Complete (s) | {:.1} | {:.1} | {} |",
        sharded.created_s,
        single.created_s,
        ratio(sharded.created_s, single.created_s)
    );
    println!(
        "| template change over {change}: first request → last Complete (s) | {:.1} | {:.1} | {} |",
        sharded.change_s,
        single.change_s,
        ratio(sharded.change_s, single.change_s)
    );
    println!(
        "| template change over {change}: rollout p50 (s) | {:.2} | {:.2} | {} |",
        sharded.change_p50_s,
        single.change_p50_s,
        ratio(sharded.change_p50_s, single.change_p50_s)
    );
    println!(
        "\n| operator | peak RSS (MiB) | CPU-seconds | reconcile p50 (ms) | p99 (ms) | reconciles |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for c in sharded.operators.iter().chain(&single.operators) {
        println!(
            "| {} | {:.0} | {:.1} | {} | {} | {:.0} |",
            c.name,
            c.peak_rss_mib,
            c.cpu_s,
            ms(c.reconcile_p50_ms),
            ms(c.reconcile_p99_ms),
            c.reconciles
        );
    }
    for (layout, l) in [("three shards", sharded), ("one operator", single)] {
        if l.restarts > 0 {
            println!(
                "\n{layout}: {} operator(s) lost their Lease and exited before the takeover (started again).",
                l.restarts
            );
        }
    }
    if let Some(t) = sharded.takeover_s {
        println!(
            "\nTakeover: SIGKILL of s0's leader with {takeover} of its templates changed at that \
             moment → the last Complete after {t:.1} s (lease duration {LEASE_SECONDS:.0} s, \
             target ≤ {:.0} s); at most {} revision(s) each (2 expected: the first and this one).",
            LEASE_SECONDS + 5.0,
            sharded.takeover_max_revisions.unwrap_or(0)
        );
    } else if sharded.takeover_max_revisions.is_some() {
        println!("\nTakeover: not Complete within the timeout.");
    }
}
