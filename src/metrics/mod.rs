//! `/metrics`: what the operator did (reconciles, rollouts, hooks) and what the cluster holds
//! (active and finished rollouts, under OpenShift's metric names so its dashboards keep working).
//!
//! Counters count what the planner reports a carried-out decision finished; OpenShift's revision
//! figures (`openshift`) are computed at scrape time from the revisions, as OpenShift's
//! controller manager does, so they are the same whichever replica is leader.

mod openshift;

use std::sync::{Arc, OnceLock};

use k8s_openapi::api::apps::v1::ReplicaSet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::hooks::outcome as hook_outcome;
use crate::strategy::{Finished, RolloutOutcome};

pub use openshift::{OpenShiftFigures, Revisions, openshift_figures};

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShiftLabels {
    /// `succeeded`, `failed` or `aborted`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub namespace: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShardLabel {
    /// The `--shard` name; empty for the operator of the unlabelled namespaces.
    pub shard: String,
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
    route_shifts: Family<ShiftLabels, Counter>,
    route_shift_step: Family<RouteLabels, Gauge>,
    route_shift_weight: Family<RouteLabels, Gauge>,
    leader: Gauge,
    shard_namespaces: Family<ShardLabel, Gauge>,
    revisions: Arc<OnceLock<openshift::Revisions>>,
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
        let route_shifts = Family::<ShiftLabels, Counter>::default();
        registry.register(
            "cutover_route_shifts",
            "Progressive traffic shifts on Routes that ended, by outcome",
            route_shifts.clone(),
        );
        let route_shift_step = Family::<RouteLabels, Gauge>::default();
        registry.register(
            "cutover_route_shift_step",
            "The step a Route's traffic shift is at (1-based)",
            route_shift_step.clone(),
        );
        let route_shift_weight = Family::<RouteLabels, Gauge>::default();
        registry.register(
            "cutover_route_shift_weight",
            "The percent of a Route's traffic its shift sends to the new backend",
            route_shift_weight.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "cutover_leader",
            "1 while this process holds the leader lease and acts, 0 while it stands by",
            leader.clone(),
        );
        let shard_namespaces = Family::<ShardLabel, Gauge>::default();
        registry.register(
            "cutover_shard_labelled_namespaces",
            "Namespaces labelled cutover.io/shard that this process sees: those it serves (with \
             --shard), or those it leaves to the shards (without)",
            shard_namespaces.clone(),
        );
        let revisions = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(openshift::RevisionCollector::new(
            revisions.clone(),
        )));
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            reconciles_in_flight,
            rollouts,
            rollout_duration,
            hooks,
            route_shifts,
            route_shift_step,
            route_shift_weight,
            leader,
            shard_namespaces,
            revisions,
        }
    }

    /// A Route's traffic shift ended (`Succeeded`, `Failed`, `Aborted`).
    pub fn shift_finished(&self, phase: &str) {
        use crate::api::shift::phase as shift;
        let outcome = match phase {
            shift::SUCCEEDED => "succeeded",
            shift::FAILED => "failed",
            shift::ABORTED => "aborted",
            _ => return,
        };
        self.route_shifts
            .get_or_create(&ShiftLabels { outcome })
            .inc();
    }

    /// Where a Route's shift stands: (step, percent to the new backend); `None` forgets it.
    pub fn shift_position(&self, namespace: &str, route: &str, position: Option<(i32, i32)>) {
        let labels = RouteLabels {
            namespace: namespace.to_string(),
            route: route.to_string(),
        };
        match position {
            Some((step, weight)) => {
                self.route_shift_step
                    .get_or_create(&labels)
                    .set(i64::from(step));
                self.route_shift_weight
                    .get_or_create(&labels)
                    .set(i64::from(weight));
            }
            None => {
                self.route_shift_step.remove(&labels);
                self.route_shift_weight.remove(&labels);
            }
        }
    }

    /// The Prometheus text exposition (OpenMetrics) of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// From now on, the revision figures are computed from what `revisions` returns at each
    /// scrape (the operator passes a read of its ReplicaSet cache).
    pub fn watch_revisions(
        &self,
        revisions: impl Fn() -> Vec<Arc<ReplicaSet>> + Send + Sync + 'static,
    ) {
        let _ = self
            .revisions
            .set(openshift::Revisions(Box::new(revisions)));
    }

    /// `cutover_shard_labelled_namespaces` of shard `shard` ("": the unlabelled namespaces').
    pub fn set_shard_namespaces(&self, shard: &str, namespaces: usize) {
        self.shard_namespaces
            .get_or_create(&ShardLabel {
                shard: shard.to_string(),
            })
            .set(i64::try_from(namespaces).unwrap_or(i64::MAX));
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

    /// Counts the rollouts and hooks a carried-out decision finished (the planner reports them).
    pub fn record(&self, finished: &[Finished]) {
        for f in finished {
            match f {
                Finished::Rollout {
                    strategy,
                    outcome,
                    took,
                } => {
                    let outcome = match outcome {
                        RolloutOutcome::Complete => "complete",
                        RolloutOutcome::Failed => "failed",
                        RolloutOutcome::Cancelled => "cancelled",
                    };
                    let labels = RolloutLabels {
                        strategy: strategy.clone(),
                        outcome,
                    };
                    self.rollouts.get_or_create(&labels).inc();
                    if let Some(took) = took {
                        self.rollout_duration
                            .get_or_create(&labels)
                            .observe(took.as_secs_f64());
                    }
                }
                Finished::Hook { point, outcome } => {
                    let outcome = match *outcome {
                        hook_outcome::SUCCEEDED => "succeeded",
                        hook_outcome::IGNORED => "failed_ignored",
                        _ => "failed",
                    };
                    let hook = point.as_str();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The names and labels dashboards and alerts are written against.
    #[test]
    fn traffic_shifts_are_counted_and_each_routes_position_shown() {
        let m = Metrics::new();
        m.shift_finished("Succeeded");
        m.shift_finished("Failed");
        m.shift_finished("Failed");
        m.shift_position("shop", "web", Some((2, 25)));
        m.shift_position("shop", "old", Some((1, 10)));
        m.shift_position("shop", "old", None);
        let text = m.render();
        for line in [
            "cutover_route_shifts_total{outcome=\"succeeded\"} 1",
            "cutover_route_shifts_total{outcome=\"failed\"} 2",
            "cutover_route_shift_step{namespace=\"shop\",route=\"web\"} 2",
            "cutover_route_shift_weight{namespace=\"shop\",route=\"web\"} 25",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(
            !text.contains("route=\"old\""),
            "a Route without a shift is forgotten"
        );
    }
}
