//! The figures of one workload, per controller, and their report (Markdown, as in BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::Workload;
use crate::harness::Sent;
use crate::measure::{control_plane_cpu, cpu_seconds, peak_rss_mib};
use crate::watch::{Counts, Kind, Seen, Track};

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
    /// First rollouts: each creation request → its ReplicaSet, p50 and the last.
    pub first_rs_p50: f64,
    pub first_rs_max: f64,
    /// Template changes done, of the workload's objects.
    pub done: usize,
    pub rollout_p50: f64,
    pub rollout_p95: f64,
    pub rollout_max: f64,
    pub total: f64,
    pub new_rs_p50: f64,
    pub new_rs_p95: f64,
    pub cpu_seconds: f64,
    /// The control plane's CPU-seconds over the workload: API server, etcd, the rest.
    pub plane_cpu: [f64; 3],
    pub peak_rss_mib: f64,
    /// Peak RSS once the first rollouts were done.
    pub peak_rss_created_mib: f64,
    pub requests: f64,
    /// The template changes' latency breakdown (medians over the rollouts).
    pub breakdown: Breakdown,
}

/// Where each template change's rollout spent its time, from the watches (medians over the
/// workload's rollouts; (a) is `new_rs_p50`).
#[derive(Debug, Default)]
pub struct Breakdown {
    /// (b) Each scale step: from what it waited on (the last change of the rollout's ReplicaSets'
    /// status — pods available, old pods gone — since the previous step, or the previous step
    /// itself when nothing changed in between) to the ReplicaSet's spec change. Median over
    /// every step of every rollout.
    pub step_p50: f64,
    /// Scale steps per rollout (spec changes after the new ReplicaSet's creation).
    pub steps_p50: f64,
    /// (b) summed over one rollout's steps.
    pub steps_sum_p50: f64,
    /// (c) The ReplicaSets' last status change (the last pod available, the last old pod gone)
    /// → the object seen Complete.
    pub settle_p50: f64,
    /// The rest of the rollout: waiting on the ReplicaSet controller, scheduler and kwok for pods
    /// (rollout − (a) − Σ(b) − (c)).
    pub pods_p50: f64,
    /// Of that, waiting (between steps) for an old ReplicaSet's pods to go away, per rollout.
    pub old_gone_p50: f64,
    /// Of that, waiting (between steps) for the new ReplicaSet's pods, per rollout.
    pub new_available_p50: f64,
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
    /// The control plane's CPU-seconds before the workload (`measure::control_plane_cpu`).
    pub plane_cpu0: [f64; 3],
    pub flow: &'static str,
    pub rss_created: f64,
}

impl Record<'_> {
    /// The figures of one controller; its process is read now.
    pub fn figures(&self, c: &Controller) -> Figures {
        let s = self.seen.lock().expect("seen");
        let (rollouts, new_rs) = self.rollout_times(&s, c.kind);
        let first_rs = replica_set_times(&s, c.kind, self.names, self.created);
        let (created, first) = (
            first_sent(self.created, c.kind),
            first_sent(self.changed, c.kind),
        );
        let since = |t0: Instant, t1: Option<Instant>| {
            t1.map_or(f64::NAN, |t1| t1.duration_since(t0).as_secs_f64())
        };
        let requests = |counts: &HashMap<String, f64>| counts.get(c.flow).copied().unwrap_or(0.0);
        if let Ok(name) = std::env::var("CUTOVER_BENCH_TRACE") {
            self.trace(&s, c.kind, &name);
        }
        Figures {
            created: since(created, s.last_done(c.kind, 1)),
            first_rs_p50: percentile(&first_rs, 0.5),
            first_rs_max: percentile(&first_rs, 1.0),
            done: rollouts.len(),
            rollout_p50: percentile(&rollouts, 0.5),
            rollout_p95: percentile(&rollouts, 0.95),
            rollout_max: percentile(&rollouts, 1.0),
            total: since(first, s.last_done(c.kind, 2)),
            new_rs_p50: percentile(&new_rs, 0.5),
            new_rs_p95: percentile(&new_rs, 0.95),
            cpu_seconds: cpu_seconds(c.pid) - c.cpu0,
            plane_cpu: {
                let now = control_plane_cpu();
                std::array::from_fn(|i| now[i] - c.plane_cpu0[i])
            },
            peak_rss_mib: peak_rss_mib(c.pid),
            peak_rss_created_mib: c.rss_created,
            requests: requests(self.requests_after) - requests(self.requests_before),
            breakdown: self.breakdown(&s, c.kind),
        }
    }

    /// Seconds from each template change to its rollout done, and to its new ReplicaSet, sorted.
    fn rollout_times(&self, s: &Seen, kind: Kind) -> (Vec<f64>, Vec<f64>) {
        let mut rollouts = Vec::new();
        for name in self.names {
            let t0 = self.changed[&(kind, name.clone())];
            if let Some(t1) = s.done.get(&(kind, name.clone(), 2)) {
                rollouts.push(t1.duration_since(t0).as_secs_f64());
            }
        }
        rollouts.sort_by(f64::total_cmp);
        (
            rollouts,
            replica_set_times(s, kind, self.names, self.changed),
        )
    }
}

impl Record<'_> {
    /// `CUTOVER_BENCH_TRACE=<object>`: that object's template change as its ReplicaSets' watch
    /// events showed it (time since the change, spec / replicas / available), on stderr.
    fn trace(&self, s: &Seen, kind: Kind, name: &str) {
        let Some(&t0) = self.changed.get(&(kind, name.to_string())) else {
            return;
        };
        let mut events: Vec<(Instant, &str, Counts)> = s
            .tracks
            .iter()
            .filter(|((k, _), t)| *k == kind && t.owner == name)
            .flat_map(|((_, rs), t)| t.changes.iter().map(move |c| (c.at, rs.as_str(), c.counts)))
            .filter(|(at, _, _)| *at >= t0)
            .collect();
        events.sort_by_key(|e| e.0);
        eprintln!("trace of {} {name}'s template change:", kind.plural());
        for (at, rs, c) in events {
            let dt = at.duration_since(t0).as_secs_f64();
            eprintln!(
                "  +{dt:6.3}s {rs:<12} spec {:>3} replicas {:>3} available {:>3}",
                c.spec, c.replicas, c.available
            );
        }
        if let Some(done) = s.done.get(&(kind, name.to_string(), 2)) {
            eprintln!("  +{:6.3}s done", done.duration_since(t0).as_secs_f64());
        }
    }

    /// The template changes' latency breakdown of `kind`'s objects (those done).
    fn breakdown(&self, s: &Seen, kind: Kind) -> Breakdown {
        let (mut steps, mut counts, mut sums, mut settles, mut pods) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut olds, mut news) = (Vec::new(), Vec::new());
        for name in self.names {
            let t0 = self.changed[&(kind, name.clone())];
            let Some(&done) = s.done.get(&(kind, name.clone(), 2)) else {
                continue;
            };
            let tracks: Vec<&Track> = s
                .tracks
                .iter()
                .filter(|((k, _), t)| *k == kind && t.owner == *name)
                .map(|(_, t)| t)
                .collect();
            let Some(one) = rollout_breakdown(&tracks, t0, done) else {
                continue;
            };
            counts.push(one.steps.len() as f64);
            sums.push(one.steps.iter().sum());
            settles.push(one.settle);
            pods.push(
                done.duration_since(t0).as_secs_f64()
                    - one.new_rs
                    - one.steps.iter().sum::<f64>()
                    - one.settle,
            );
            olds.push(one.old_gone);
            news.push(one.new_available);
            steps.extend(one.steps);
        }
        for v in [
            &mut steps,
            &mut counts,
            &mut sums,
            &mut settles,
            &mut pods,
            &mut olds,
            &mut news,
        ] {
            v.sort_by(f64::total_cmp);
        }
        Breakdown {
            step_p50: percentile(&steps, 0.5),
            steps_p50: percentile(&counts, 0.5),
            steps_sum_p50: percentile(&sums, 0.5),
            settle_p50: percentile(&settles, 0.5),
            pods_p50: percentile(&pods, 0.5),
            old_gone_p50: percentile(&olds, 0.5),
            new_available_p50: percentile(&news, 0.5),
        }
    }
}

/// One rollout's breakdown, seconds.
struct OneRollout {
    /// (a) change → new ReplicaSet.
    new_rs: f64,
    /// (b) each scale step's delay.
    steps: Vec<f64>,
    /// (c) last status change → Complete.
    settle: f64,
    /// Waiting on an old ReplicaSet's pods to go away, summed over the steps.
    old_gone: f64,
    /// Waiting on the new ReplicaSet's pods (and anything else), summed over the steps.
    new_available: f64,
}

/// The breakdown of the rollout from the template change at `t0` to `done`, from the object's
/// ReplicaSets; `None` when no ReplicaSet appeared in between.
fn rollout_breakdown(tracks: &[&Track], t0: Instant, done: Instant) -> Option<OneRollout> {
    let new = tracks
        .iter()
        .filter(|t| t.created >= t0 && t.created <= done)
        .min_by_key(|t| t.created)?;
    let created = new.created;
    let within = |at: Instant| at > created && at <= done;
    // Spec changes (scale steps) and status changes of every ReplicaSet of the object, within
    // the rollout; the new ReplicaSet's creation is (a), not a step.
    let mut spec_changes = Vec::new();
    let mut status_changes = Vec::new();
    for t in tracks {
        for (i, c) in t.changes.iter().enumerate() {
            let prev = i.checked_sub(1).map(|p| t.changes[p].counts);
            if !within(c.at) {
                continue;
            }
            match prev {
                Some(p) => {
                    if p.spec != c.counts.spec {
                        spec_changes.push(c.at);
                    }
                    if (p.replicas, p.available) != (c.counts.replicas, c.counts.available) {
                        let old_gone = !std::ptr::eq(*t, *new) && c.counts.replicas < p.replicas;
                        status_changes.push((c.at, old_gone));
                    }
                }
                None => status_changes.push((c.at, false)),
            }
        }
    }
    spec_changes.sort();
    status_changes.sort_by_key(|(at, _)| *at);
    let mut prev = created;
    let mut steps = Vec::new();
    let (mut old_gone, mut new_available) = (0.0, 0.0);
    // The time from the previous step to what a step waited on, by what that was: an old
    // ReplicaSet's pods going away, or else the new ReplicaSet's pods (created, available).
    let mut waited = |prev: Instant, gate: Option<(Instant, bool)>| {
        if let Some((at, old)) = gate {
            let d = at.duration_since(prev).as_secs_f64();
            if old {
                old_gone += d;
            } else {
                new_available += d;
            }
        }
    };
    let last_gate = |from: Instant, to: Instant| {
        status_changes
            .iter()
            .copied()
            .filter(|(s, _)| *s >= from && *s <= to)
            .max_by_key(|(s, _)| *s)
    };
    for &at in &spec_changes {
        let gate = last_gate(prev, at);
        waited(prev, gate);
        steps.push(at.duration_since(gate.map_or(prev, |g| g.0)).as_secs_f64());
        prev = at;
    }
    waited(prev, last_gate(prev, done));
    let last_status = status_changes.last().map_or(created, |(at, _)| *at);
    Some(OneRollout {
        new_rs: created.duration_since(t0).as_secs_f64(),
        steps,
        settle: done.duration_since(last_status).as_secs_f64(),
        old_gone,
        new_available,
    })
}

/// When the last object of `kind` finished `round`.
/// Seconds from each object's request in `sent` to the ReplicaSet it brought (the first to
/// appear after it), sorted.
fn replica_set_times(s: &Seen, kind: Kind, names: &[String], sent: &Sent) -> Vec<f64> {
    let mut times: Vec<f64> = names
        .iter()
        .filter_map(|name| {
            let t0 = *sent.get(&(kind, name.clone()))?;
            let t = s
                .replica_sets
                .get(&(kind, name.clone()))?
                .iter()
                .find(|t| **t >= t0)?;
            Some(t.duration_since(t0).as_secs_f64())
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
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

const ROWS: [Row; 23] = [
    (
        "first rollouts (create → last Complete)",
        |f| f.created,
        "s",
    ),
    (
        "first rollouts: create → ReplicaSet p50",
        |f| f.first_rs_p50,
        "s",
    ),
    (
        "first rollouts: create → last ReplicaSet",
        |f| f.first_rs_max,
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
        "(a) new ReplicaSet p50 (change → created)",
        |f| f.new_rs_p50,
        "s",
    ),
    ("new ReplicaSet p95", |f| f.new_rs_p95, "s"),
    (
        "(b) scale step p50 (what it waited on → spec change)",
        |f| f.breakdown.step_p50,
        "s",
    ),
    (
        "(b) scale steps per rollout p50",
        |f| f.breakdown.steps_p50,
        "",
    ),
    (
        "(b) Σ scale steps per rollout p50",
        |f| f.breakdown.steps_sum_p50,
        "s",
    ),
    (
        "(c) last ReplicaSet status change → Complete p50",
        |f| f.breakdown.settle_p50,
        "s",
    ),
    (
        "waiting on pods p50 (rollout − a − Σb − c)",
        |f| f.breakdown.pods_p50,
        "s",
    ),
    (
        "… of which for old pods to go p50",
        |f| f.breakdown.old_gone_p50,
        "s",
    ),
    (
        "… of which for new pods p50",
        |f| f.breakdown.new_available_p50,
        "s",
    ),
    ("CPU (create + rollout)", |f| f.cpu_seconds, "s"),
    ("control plane CPU: API server", |f| f.plane_cpu[0], "s"),
    ("control plane CPU: etcd", |f| f.plane_cpu[1], "s"),
    (
        "control plane CPU: controller-manager, scheduler, kwok",
        |f| f.plane_cpu[2],
        "s",
    ),
    (
        "peak RSS after the first rollouts",
        |f| f.peak_rss_created_mib,
        "MiB",
    ),
    ("peak RSS", |f| f.peak_rss_mib, "MiB"),
    ("API requests", |f| f.requests, ""),
];

/// The table of one workload; `mode` says how the two sides shared the cluster.
pub fn report(w: Workload, mode: &str, ours: &Figures, theirs: &Figures, whole: bool) {
    println!(
        "\n## {} × {} replicas ({} pods per controller, {mode}){}\n",
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
