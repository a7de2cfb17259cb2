//! `/metrics`: what the operator did (reconciles, rollouts, hooks) and what the cluster holds
//! (active and finished rollouts, under OpenShift's metric names so its dashboards keep working).
//!
//! Counters are bumped by the shell when it carries out a decision; the revision figures are
//! computed at scrape time from the ReplicaSet cache, as OpenShift's controller manager does, so
//! they are the same whichever replica is leader.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::reconcile::cache::Cache;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::keys;
use crate::strategy::rollout::hooks::{HookPoint, outcome as hook_outcome};
use crate::strategy::{Action, Observed, Phase, Revision};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub controller: &'static str,
    /// `success`, `transient_error` or `permanent_error`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    pub controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RolloutLabels {
    /// `Rolling`, `Recreate` or `Custom`.
    pub strategy: String,
    /// `complete`, `failed` or `cancelled`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookLabels {
    /// `pre`, `mid` or `post`.
    pub hook: &'static str,
    /// `succeeded`, `failed` or `failed_ignored`.
    pub outcome: &'static str,
}

/// Every metric of the process, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: Family<ControllerLabel, Histogram>,
    reconciles_in_flight: Family<ControllerLabel, Gauge>,
    rollouts: Family<RolloutLabels, Counter>,
    rollout_duration: Family<RolloutLabels, Histogram>,
    hooks: Family<HookLabels, Counter>,
    leader: Gauge,
    revisions: Arc<OnceLock<Cache<ReplicaSet>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "cutover_reconciles",
            "Reconciles by controller and result",
            reconciles.clone(),
        );
        let reconcile_duration = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            // 1 ms to ~16 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "cutover_reconcile_duration_seconds",
            "Time one reconcile took, from observe to the status write",
            reconcile_duration.clone(),
        );
        let reconciles_in_flight = Family::<ControllerLabel, Gauge>::default();
        registry.register(
            "cutover_reconciles_in_flight",
            "Reconciles running now (kube-runtime keeps its queue internal: this and \
             cutover_reconcile_duration_seconds are what can be seen of it)",
            reconciles_in_flight.clone(),
        );
        let rollouts = Family::<RolloutLabels, Counter>::default();
        registry.register(
            "cutover_rollouts",
            "Rollouts this process finished, by strategy and outcome",
            rollouts.clone(),
        );
        let rollout_duration = Family::<RolloutLabels, Histogram>::new_with_constructor(|| {
            // 1 s to ~9 h.
            Histogram::new(exponential_buckets(1.0, 2.0, 16))
        });
        registry.register(
            "cutover_rollout_duration_seconds",
            "Time from a rollout's start to its end, by strategy and outcome",
            rollout_duration.clone(),
        );
        let hooks = Family::<HookLabels, Counter>::default();
        registry.register(
            "cutover_hooks",
            "Lifecycle hooks finished, by hook and outcome",
            hooks.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "cutover_leader",
            "1 while this process holds the leader lease and acts, 0 while it stands by",
            leader.clone(),
        );
        let revisions = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(RevisionCollector {
            store: revisions.clone(),
        }));
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            reconciles_in_flight,
            rollouts,
            rollout_duration,
            hooks,
            leader,
            revisions,
        }
    }

    /// The Prometheus text exposition (OpenMetrics) of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// From now on, the revision figures are computed from this cache.
    pub fn watch_revisions(&self, store: Cache<ReplicaSet>) {
        let _ = self.revisions.set(store);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Counts a reconcile that is starting; the guard records its result and duration.
    pub fn reconcile_started(&self, controller: &'static str) -> ReconcileTimer<'_> {
        self.reconciles_in_flight
            .get_or_create(&ControllerLabel { controller })
            .inc();
        ReconcileTimer {
            metrics: self,
            controller,
            started: std::time::Instant::now(),
        }
    }

    /// Counts the rollouts and hooks that a carried-out decision finished.
    pub fn record(&self, observed: &Observed, actions: &[Action], now: Timestamp) {
        for finished in finished(observed, actions, now) {
            match finished {
                Finished::Rollout {
                    strategy,
                    outcome,
                    took,
                } => {
                    let labels = RolloutLabels { strategy, outcome };
                    self.rollouts.get_or_create(&labels).inc();
                    if let Some(took) = took {
                        self.rollout_duration
                            .get_or_create(&labels)
                            .observe(took.as_secs_f64());
                    }
                }
                Finished::Hook { hook, outcome } => {
                    self.hooks
                        .get_or_create(&HookLabels { hook, outcome })
                        .inc();
                }
            }
        }
    }
}

/// Records one reconcile when dropped with its result set.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    controller: &'static str,
    started: std::time::Instant,
}

impl ReconcileTimer<'_> {
    /// `result`: `success`, `transient_error` or `permanent_error`.
    pub fn finish(self, result: &'static str) {
        let controller = self.controller;
        self.metrics
            .reconciles
            .get_or_create(&ReconcileLabels { controller, result })
            .inc();
        self.metrics
            .reconcile_duration
            .get_or_create(&ControllerLabel { controller })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .reconciles_in_flight
            .get_or_create(&ControllerLabel {
                controller: self.controller,
            })
            .dec();
    }
}

/// Something a decision brought to its end.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Rollout {
        strategy: String,
        outcome: &'static str,
        took: Option<Duration>,
    },
    Hook {
        hook: &'static str,
        outcome: &'static str,
    },
}

/// The rollouts and hooks that `actions` finish: a revision's phase annotation moving to Complete
/// or Failed, a hook outcome written for the first time. Pure, so the counting is tested.
pub fn finished(observed: &Observed, actions: &[Action], now: Timestamp) -> Vec<Finished> {
    let mut out = Vec::new();
    for action in actions {
        let Action::Update(update) = action else {
            continue;
        };
        let Some(rev) = observed.revisions.iter().find(|r| r.name == update.name) else {
            continue;
        };
        if let Some(Some(phase)) = update.annotations.get(keys::PHASE_ANNOTATION) {
            let new = Phase::parse(Some(phase));
            if new.is_terminal() && new != rev.phase {
                out.push(rollout_finished(rev, new, update, now));
            }
        }
        for point in [HookPoint::Pre, HookPoint::Mid, HookPoint::Post] {
            let key = point.outcome_annotation();
            let Some(Some(outcome)) = update.annotations.get(&key) else {
                continue;
            };
            if rev.annotations.contains_key(&key) {
                continue;
            }
            let outcome = match outcome.as_str() {
                hook_outcome::SUCCEEDED => "succeeded",
                hook_outcome::IGNORED => "failed_ignored",
                _ => "failed",
            };
            out.push(Finished::Hook {
                hook: point.as_str(),
                outcome,
            });
        }
    }
    out
}

fn rollout_finished(
    rev: &Revision,
    phase: Phase,
    update: &crate::strategy::RevisionUpdate,
    now: Timestamp,
) -> Finished {
    let cancelled = rev.cancelled
        || matches!(
            update.annotations.get(keys::CANCELLED_ANNOTATION),
            Some(Some(_))
        );
    let outcome = match phase {
        Phase::Complete => "complete",
        _ if cancelled => "cancelled",
        _ => "failed",
    };
    let strategy = rev
        .config
        .as_ref()
        .and_then(|c| c.spec.strategy.type_.clone())
        .unwrap_or_else(|| "Rolling".to_string());
    let took = rev
        .started_at
        .or(rev.created)
        .and_then(|start| Duration::try_from(now.duration_since(start)).ok());
    Finished::Rollout {
        strategy,
        outcome,
        took,
    }
}

/// OpenShift's `openshift_apps_deploymentconfigs_*` figures over the revisions in the cache.
#[derive(Debug, Default, PartialEq)]
pub struct OpenShiftFigures {
    /// Finished revisions still in history: available (Complete), failed, cancelled.
    pub complete: [(&'static str, i64); 3],
    /// Per revision not finished yet: namespace, DeploymentConfig, phase, version, seconds since
    /// it was created.
    pub active: Vec<(String, String, String, i64, i64)>,
    /// Per DeploymentConfig whose newest finished revision failed: namespace, name, version,
    /// creation time (Unix seconds).
    pub last_failed: Vec<(String, String, i64, i64)>,
}

pub fn openshift_figures<'a>(
    replica_sets: impl Iterator<Item = &'a ReplicaSet>,
    now: Timestamp,
) -> OpenShiftFigures {
    use std::collections::BTreeMap;
    let (mut available, mut failed, mut cancelled) = (0, 0, 0);
    let mut active = Vec::new();
    // Per DeploymentConfig: the newest finished revision (version, failed?, created).
    let mut newest: BTreeMap<(String, String), (i64, bool, i64)> = BTreeMap::new();
    for rs in replica_sets {
        // Three annotations, read directly: a scrape need not decode each revision's config.
        let ann = rs.annotations();
        let (Some(dc), Some(version)) = (
            ann.get(keys::CONFIG_ANNOTATION).cloned(),
            ann.get(keys::LATEST_VERSION_ANNOTATION)
                .and_then(|v| v.parse::<i64>().ok()),
        ) else {
            continue;
        };
        let phase = Phase::parse(ann.get(keys::PHASE_ANNOTATION).map(String::as_str));
        let was_cancelled = ann
            .get(keys::CANCELLED_ANNOTATION)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let ns = rs.namespace().unwrap_or_default();
        let created = rs
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| t.0.as_second());
        if phase.is_terminal() {
            let is_failed = phase == Phase::Failed;
            match (phase, was_cancelled) {
                (Phase::Complete, _) => available += 1,
                (_, true) => cancelled += 1,
                _ => failed += 1,
            }
            // Cancelled revisions neither set nor clear "last failed", as in OpenShift.
            if was_cancelled && is_failed {
                continue;
            }
            let entry = newest.entry((ns, dc)).or_insert((0, false, 0));
            if version > entry.0 {
                *entry = (version, is_failed, created);
            }
        } else {
            active.push((
                ns,
                dc,
                phase.as_str().to_lowercase(),
                version,
                now.as_second() - created,
            ));
        }
    }
    let last_failed = newest
        .into_iter()
        .filter(|(_, (_, is_failed, _))| *is_failed)
        .map(|((ns, dc), (version, _, created))| (ns, dc, version, created))
        .collect();
    OpenShiftFigures {
        complete: [
            ("available", available),
            ("failed", failed),
            ("cancelled", cancelled),
        ],
        active,
        last_failed,
    }
}

/// Renders the scrape-time figures from the ReplicaSet cache.
#[derive(Debug)]
struct RevisionCollector {
    store: Arc<OnceLock<Cache<ReplicaSet>>>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActiveLabels {
    namespace: String,
    name: String,
    phase: String,
    latest_version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailedLabels {
    namespace: String,
    name: String,
    latest_version: String,
}

impl Collector for RevisionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(store) = self.store.get() else {
            return Ok(());
        };
        let state = store.state();
        let figures = openshift_figures(state.iter().map(|rs| rs.as_ref()), Timestamp::now());

        let in_flight = figures.active.len() as i64;
        let family = encoder.encode_descriptor(
            "cutover_revisions_in_flight",
            "Revisions whose rollout has not finished (New, Pending or Running)",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(in_flight).encode(family)?;

        let mut family = encoder.encode_descriptor(
            "openshift_apps_deploymentconfigs_complete_rollouts_total",
            "Counts total complete rollouts",
            None,
            MetricType::Gauge,
        )?;
        for (phase, n) in figures.complete {
            ConstGauge::new(n).encode(family.encode_family(&PhaseLabel { phase })?)?;
        }

        // OpenShift typed this one a counter; it is a gauge (it falls when a rollout ends), and
        // as a gauge its name stays exactly OpenShift's (OpenMetrics would suffix a counter).
        let mut family = encoder.encode_descriptor(
            "openshift_apps_deploymentconfigs_active_rollouts_duration_seconds",
            "Tracks the active rollout duration in seconds",
            None,
            MetricType::Gauge,
        )?;
        for (namespace, name, phase, version, secs) in figures.active {
            let labels = ActiveLabels {
                namespace,
                name,
                phase,
                latest_version: version.to_string(),
            };
            ConstGauge::new(secs).encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "openshift_apps_deploymentconfigs_last_failed_rollout_time",
            "Tracks the time of last failure rollout per deployment config",
            None,
            MetricType::Gauge,
        )?;
        for (namespace, name, version, created) in figures.last_failed {
            let labels = FailedLabels {
                namespace,
                name,
                latest_version: version.to_string(),
            };
            ConstGauge::new(created).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::RevisionUpdate;

    fn rs(dc: &str, version: i64, phase: &str, cancelled: bool, created: i64) -> ReplicaSet {
        let mut annotations = serde_json::json!({
            keys::CONFIG_ANNOTATION: dc,
            keys::LATEST_VERSION_ANNOTATION: version.to_string(),
            keys::PHASE_ANNOTATION: phase,
        });
        if cancelled {
            annotations[keys::CANCELLED_ANNOTATION] = "true".into();
        }
        let created = Timestamp::from_second(created).expect("time");
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("{dc}-{version}"), "namespace": "shop",
                         "annotations": annotations, "creationTimestamp": created.to_string()}
        }))
        .expect("rs")
    }

    #[test]
    fn openshift_figures_count_history_and_age_active_rollouts() {
        let now = Timestamp::from_second(1_000).expect("time");
        let replica_sets = [
            rs("web", 1, "Complete", false, 100),
            rs("web", 2, "Failed", false, 200),
            rs("web", 3, "Running", false, 900),
            rs("api", 1, "Failed", false, 100),
            rs("api", 2, "Complete", false, 300),
            rs("db", 1, "Complete", false, 100),
            rs("db", 2, "Failed", true, 400),
        ];
        let f = openshift_figures(replica_sets.iter(), now);
        assert_eq!(
            f.complete,
            [("available", 3), ("failed", 2), ("cancelled", 1)]
        );
        assert_eq!(
            f.active,
            [("shop".into(), "web".into(), "running".into(), 3, 100)]
        );
        // web's newest finished rollout failed; api recovered; db's was cancelled, not failed.
        assert_eq!(f.last_failed, [("shop".into(), "web".into(), 2, 200)]);
    }

    #[test]
    fn a_rollout_and_a_hook_are_counted_once_when_they_finish() {
        let rev =
            Revision::from_replica_set(&rs("web", 2, "Running", false, 100), 0).expect("revision");
        let observed = Observed {
            dc: crate::api::DeploymentConfig::new("web", Default::default()),
            revisions: vec![rev.clone()],
            orphans: vec![],
            released: vec![],
            hook_jobs: vec![],
            deployer_jobs: vec![],
            deployer_image: String::new(),
        };
        let finish = vec![Action::Update(
            RevisionUpdate::new("web-2")
                .annotate(keys::PHASE_ANNOTATION, Some("Complete".into()))
                .annotate(
                    &HookPoint::Post.outcome_annotation(),
                    Some(hook_outcome::IGNORED.into()),
                ),
        )];
        let now = Timestamp::from_second(160).expect("time");
        assert_eq!(
            finished(&observed, &finish, now),
            [
                Finished::Rollout {
                    strategy: "Rolling".into(),
                    outcome: "complete",
                    took: Some(Duration::from_secs(60)),
                },
                Finished::Hook {
                    hook: "post",
                    outcome: "failed_ignored",
                },
            ]
        );
        // Already Complete with its hook recorded: the same write again counts nothing.
        let mut done = rev;
        done.phase = Phase::Complete;
        done.annotations.insert(
            HookPoint::Post.outcome_annotation(),
            hook_outcome::IGNORED.into(),
        );
        let observed = Observed {
            revisions: vec![done],
            ..observed
        };
        assert!(finished(&observed, &finish, now).is_empty());
    }
}
