//! OpenShift's `openshift_apps_deploymentconfigs_*` series, computed at scrape time from the
//! revisions (ReplicaSets) the operator sees, under OpenShift's names and labels so existing
//! dashboards and alerts keep working.

use std::sync::{Arc, OnceLock};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::api::keys;
use crate::strategy::Phase;

/// What a scrape reads the revisions from.
pub struct Revisions(pub Box<dyn Fn() -> Vec<Arc<ReplicaSet>> + Send + Sync>);

impl std::fmt::Debug for Revisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revisions").finish_non_exhaustive()
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

/// Renders the scrape-time figures from the revisions.
pub(super) struct RevisionCollector {
    revisions: Arc<OnceLock<Revisions>>,
}

impl RevisionCollector {
    pub fn new(revisions: Arc<OnceLock<Revisions>>) -> Self {
        RevisionCollector { revisions }
    }
}

impl std::fmt::Debug for RevisionCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevisionCollector").finish_non_exhaustive()
    }
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
        let Some(revisions) = self.revisions.get() else {
            return Ok(());
        };
        let state = (revisions.0)();
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
}
