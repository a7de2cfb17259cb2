//! The figures of one workload, per controller, and their report (Markdown, as in BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::measure::{cpu_seconds, peak_rss_mib};
use crate::watch::{Kind, Seen};
use crate::{Sent, Workload};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[derive(Debug, Default)]
pub struct Figures {
    /// First rollouts: creation requests → the last one Complete.
    pub created: f64,
    /// Template changes done, of the workload's objects.
    pub done: usize,
    pub rollout_p50: f64,
    pub rollout_p95: f64,
    pub rollout_max: f64,
    pub total: f64,
    pub new_rs_p50: f64,
    pub new_rs_p95: f64,
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
    /// Peak RSS once the first rollouts were done.
    pub peak_rss_created_mib: f64,
    pub requests: f64,
}

/// What a workload recorded of both controllers, to make each one's figures from.
pub struct Record<'a> {
    pub seen: &'a Mutex<Seen>,
    pub names: &'a [String],
    /// When each creation request was sent.
    pub created: &'a Sent,
    /// When each template change was sent.
    pub changed: &'a Sent,
    pub requests_before: &'a HashMap<String, f64>,
    pub requests_after: &'a HashMap<String, f64>,
}

/// One controller: the kind of its objects, its process (and the CPU it had used before the
/// workload, the peak RSS after the first rollouts) and its FlowSchema.
pub struct Controller {
    pub kind: Kind,
    pub pid: u32,
    pub cpu0: f64,
    pub flow: &'static str,
    pub rss_created: f64,
}

impl Record<'_> {
    /// The figures of one controller; its process is read now.
    pub fn figures(&self, c: &Controller) -> Figures {
        let s = self.seen.lock().expect("seen");
        let (rollouts, new_rs) = self.rollout_times(&s, c.kind);
        let (created, first) = (
            first_sent(self.created, c.kind),
            first_sent(self.changed, c.kind),
        );
        let since = |t0: Instant, t1: Option<Instant>| {
            t1.map_or(f64::NAN, |t1| t1.duration_since(t0).as_secs_f64())
        };
        let requests = |counts: &HashMap<String, f64>| counts.get(c.flow).copied().unwrap_or(0.0);
        Figures {
            created: since(created, last_done(&s, c.kind, 1)),
            done: rollouts.len(),
            rollout_p50: percentile(&rollouts, 0.5),
            rollout_p95: percentile(&rollouts, 0.95),
            rollout_max: percentile(&rollouts, 1.0),
            total: since(first, last_done(&s, c.kind, 2)),
            new_rs_p50: percentile(&new_rs, 0.5),
            new_rs_p95: percentile(&new_rs, 0.95),
            cpu_seconds: cpu_seconds(c.pid) - c.cpu0,
            peak_rss_mib: peak_rss_mib(c.pid),
            peak_rss_created_mib: c.rss_created,
            requests: requests(self.requests_after) - requests(self.requests_before),
        }
    }

    /// Seconds from each template change to its rollout done, and to its new ReplicaSet, sorted.
    fn rollout_times(&self, s: &Seen, kind: Kind) -> (Vec<f64>, Vec<f64>) {
        let mut rollouts = Vec::new();
        let mut new_rs = Vec::new();
        for name in self.names {
            let t0 = self.changed[&(kind, name.clone())];
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
        (rollouts, new_rs)
    }
}

/// When the last object of `kind` finished `round`.
fn last_done(s: &Seen, kind: Kind, round: i64) -> Option<Instant> {
    s.done
        .iter()
        .filter(|((k, _, r), _)| *k == kind && *r == round)
        .map(|(_, t)| *t)
        .max()
}

/// When the first request for an object of `kind` was sent.
fn first_sent(sent: &Sent, kind: Kind) -> Instant {
    sent.iter()
        .filter(|((k, _), _)| *k == kind)
        .map(|(_, t)| *t)
        .min()
        .expect("requests sent")
}

/// OpenShift's deployer for the same rollout: a fixed 1 s update period between scaling
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

/// The rows of the report's table: what, the figure, its unit.
type Row = (&'static str, fn(&Figures) -> f64, &'static str);

const ROWS: [Row; 11] = [
    (
        "first rollouts (create → last Complete)",
        |f| f.created,
        "s",
    ),
    (
        "rollout p50 (template change → Complete)",
        |f| f.rollout_p50,
        "s",
    ),
    ("rollout p95", |f| f.rollout_p95, "s"),
    ("rollout max", |f| f.rollout_max, "s"),
    (
        "all rollouts (first change → last Complete)",
        |f| f.total,
        "s",
    ),
    (
        "new ReplicaSet p50 (change → created)",
        |f| f.new_rs_p50,
        "s",
    ),
    ("new ReplicaSet p95", |f| f.new_rs_p95, "s"),
    ("CPU (create + rollout)", |f| f.cpu_seconds, "s"),
    (
        "peak RSS after the first rollouts",
        |f| f.peak_rss_created_mib,
        "MiB",
    ),
    ("peak RSS", |f| f.peak_rss_mib, "MiB"),
    ("API requests", |f| f.requests, ""),
];

pub fn report(w: Workload, ours: &Figures, theirs: &Figures, whole: bool) {
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
    for (what, figure, unit) in ROWS {
        let (a, b) = (figure(ours), figure(theirs));
        println!("| {what} | {a:.2} {unit} | {b:.2} {unit} | {:.2} |", a / b);
    }
    println!(
        "\nOpenShift's deployer would add at least {:.0} s to each rollout (1 s update period + 1 s polling per step).",
        openshift_deployer_floor(w.replicas)
    );
}
