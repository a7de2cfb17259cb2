//! The Rolling strategy, watch-driven.
//!
//! Each pass takes at most one scale-up and one scale-down step from what is observed; the watch
//! on the ReplicaSets and pods brings the next pass. Unlike OpenShift's deployer (which trusted
//! the old revision's spec count), the availability of every revision's pods counts toward
//! `maxUnavailable`, so that bound holds as a guarantee (docs/architecture.md). `maxSurge` bounds
//! the replicas the revisions ask for and their pods that are not terminating: as OpenShift's
//! deployer waits for an old controller's status to show a scale-down before it scales up, the
//! replicas an old revision lets go are room only once its status says so. The annotation
//! `cutover.io/pod-replacement-policy: TerminationComplete` counts existing pods (terminating
//! ones included) too, for quotas that count terminating pods, at the price of waiting for old
//! pods to stop.
//!
//! `cutover deploy --until` stops at `0%` before any scaling, and at `N%` once N% of the new
//! pods are available; the scale-up never goes beyond that point in such a run.

use crate::api::int_or_percent::{IntOrPercent, InvalidIntOrPercent, Rounding};

use super::state::{OnTimeout, Rollout, Step};
use super::until::Until;

/// The resolved surge and availability bounds of one rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fenceposts {
    pub surge: i32,
    pub unavailable: i32,
    pub min_available: i32,
    pub max_total: i32,
}

/// Resolves maxSurge and maxUnavailable against `desired` (the revision's frozen target):
/// surge rounds up, unavailable rounds down, both zero makes unavailable 1, and a target of 0
/// lets every old pod go (`old_replicas`).
pub fn fenceposts(
    desired: i32,
    max_surge: &IntOrPercent,
    max_unavailable: &IntOrPercent,
    old_replicas: i32,
) -> Result<Fenceposts, InvalidIntOrPercent> {
    let surge = max_surge.scaled(desired, Rounding::Up)?;
    let mut unavailable = max_unavailable.scaled(desired, Rounding::Down)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let min_available = if desired == 0 {
        unavailable = old_replicas;
        0
    } else {
        (desired - unavailable).max(0)
    };
    Ok(Fenceposts {
        surge,
        unavailable,
        min_available,
        max_total: desired + surge,
    })
}

/// One pass of a rolling update from the old revisions to `to`.
pub(super) fn step(r: &mut Rollout<'_>) -> Step {
    let desired = r.to.desired;
    // What this run scales the new revision to: `desired`, unless `--until=N%` stops short.
    let target = r.target();
    if r.old_spec() == 0 && r.old_pods() == 0 {
        // Nothing to replace (the initial rollout, or old revisions already gone): straight to
        // the target, then acceptance. (For a first rollout OpenShift ran its Recreate logic,
        // so `--until` stops as Recreate's does before scaling.)
        let first = !r.has_complete_old();
        let recreate_stop = || {
            r.stop_at(Until::Percent(0), "Reached 0% (no running pods)")
                .or_else(|| r.stop_at(Until::Mid, "mid hook succeeded"))
        };
        if let Some(stop) = first
            .then(recreate_stop)
            .flatten()
            .or_else(|| r.reached_percent())
        {
            return stop;
        }
        // A first rollout accepts every pod (OpenShift's initial Recreate with the acceptor);
        // after an earlier Complete revision, the pods need only be created, as below.
        if first {
            return r.scale_and_accept(target);
        }
        r.scale_to(target);
        if r.progressed() {
            return Step::Wait(None);
        }
        return r.replicas_created(target, OnTimeout::Fail);
    }
    if let Some(stop) = r.stop_at(Until::Percent(0), "Reached 0% (before rollout)") {
        return stop;
    }
    if let Some(stop) = r.reached_percent() {
        return stop;
    }
    let fp = match fenceposts(
        desired,
        &r.strategy.max_surge,
        &r.strategy.max_unavailable,
        r.old_spec(),
    ) {
        Ok(fp) => fp,
        Err(e) => return Step::Fail(e.to_string()),
    };

    // Scale up within the surge bound, before this pass scales anything down: what a scale-down
    // lets go is room only once the old revision's status shows it (`surge_count`), since until
    // its controller marks the pods deleted they may run next to new ones. So the room is what
    // the old revisions' status already gave back, never the spec this pass writes.
    let old_spec = r.old_spec();
    let mut to_spec = r.to.spec_replicas;
    let room = fp.max_total - r.surge_count();
    if to_spec < target && room > 0 && r.old_counts_known() {
        to_spec = target.min(to_spec + room);
    }
    r.scale_to(to_spec);

    // Scale down within the availability bound: unavailable old pods may go as long as the
    // total stays above minAvailable; available ones only as far as availability allows. Only on
    // counts that say what will be available (`availability_known`): with minReadySeconds, a
    // ReplicaSet whose controller has not yet seen its latest spec may delete available pods
    // and keep ready ones.
    if old_spec > 0 && !r.waiting_update_period() && r.availability_known() {
        let all_spec = old_spec + to_spec;
        let new_unavailable = (to_spec - r.to.counted_available()).max(0);
        let old_unhealthy: i32 = r
            .old
            .iter()
            .map(|o| o.spec_replicas - o.counted_available())
            .sum();
        let unhealthy_down =
            old_unhealthy.min((all_spec - fp.min_available - new_unavailable).max(0));
        let available: i32 =
            r.to.counted_available() + r.old.iter().map(|o| o.counted_available()).sum::<i32>();
        r.scale_down_unavailable(unhealthy_down);
        r.scale_down_old((available - fp.min_available).max(0));
    }

    if r.progressed() {
        return Step::Wait(r.update_period_requeue());
    }
    // Done when the new revision asks for its replicas and the old ones for none (and the new
    // pods exist): OpenShift's rule. A new pod that never becomes ready does not fail a rollout
    // that got here, since the old pods could only go while availability held.
    if to_spec == desired && old_spec == 0 {
        return r.replicas_created(desired, OnTimeout::Fail);
    }
    r.no_progress_deadline()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::keys;
    use crate::api::{DeploymentStrategy, RollingDeploymentStrategyParams};
    use crate::strategy::{Action, Revision};
    use jiff::Timestamp;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use serde_json::json;

    fn fp(desired: i32, surge: &str, unavailable: &str, old: i32) -> (i32, i32, i32) {
        let parse = |s: &str| match s.parse::<i32>() {
            Ok(n) => IntOrPercent::Int(n),
            Err(_) => IntOrPercent::Str(s.into()),
        };
        let f = fenceposts(desired, &parse(surge), &parse(unavailable), old).expect("valid");
        (f.surge, f.unavailable, f.min_available)
    }

    /// The worked examples of OpenShift's documentation (default 25%/25%).
    #[test]
    fn documented_examples() {
        assert_eq!(fp(1, "25%", "25%", 1), (1, 0, 1));
        assert_eq!(fp(3, "25%", "25%", 3), (1, 0, 3));
        assert_eq!(fp(4, "25%", "25%", 4), (1, 1, 3));
        assert_eq!(fp(10, "25%", "25%", 10), (3, 2, 8));
    }

    #[test]
    fn both_zero_allows_one_unavailable() {
        assert_eq!(fp(10, "0", "0%", 10), (0, 1, 9));
    }

    #[test]
    fn desired_zero_lets_every_old_pod_go() {
        assert_eq!(fp(0, "25%", "25%", 7), (0, 7, 0));
    }

    #[test]
    fn integers_are_taken_as_is() {
        assert_eq!(fp(10, "2", "3", 10), (2, 3, 7));
        assert_eq!(fp(2, "5", "5", 2), (5, 5, 0));
    }

    /// Revision `version` of `web` as its ReplicaSet reads: asking for `spec` replicas (at
    /// `generation`), its controller's status (`replicas`, all available, of `observed`).
    fn revision(
        version: i64,
        spec: i32,
        replicas: i32,
        generation: i64,
        observed: i64,
    ) -> Revision {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {
                "name": format!("web-{version}"),
                "generation": generation,
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "annotations": {
                    keys::LATEST_VERSION_ANNOTATION: version.to_string(),
                    keys::DESIRED_REPLICAS_ANNOTATION: "4",
                    keys::PHASE_ANNOTATION: if version == 1 { "Complete" } else { "Running" },
                },
            },
            "spec": {"replicas": spec},
            "status": {
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "observedGeneration": observed,
            },
        }))
        .expect("a ReplicaSet");
        Revision::from_replica_set(&rs, replicas).expect("a revision")
    }

    /// One Rolling pass (4 replicas, maxSurge 0, maxUnavailable 10%: issue 29's) from web-1 to
    /// web-2; the replicas it scales each to.
    fn pass(old: &Revision, new: &Revision) -> Vec<(String, i32)> {
        let strategy = DeploymentStrategy {
            rolling_params: Some(RollingDeploymentStrategyParams {
                max_surge: Some(IntOrPercent::Int(0)),
                max_unavailable: Some(IntOrPercent::percent(10)),
                ..Default::default()
            }),
            ..Default::default()
        }
        .effective()
        .expect("valid");
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().expect("a time");
        let mut r = Rollout::new(new, vec![old], &strategy, "ns", now);
        step(&mut r);
        r.into_actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Update(u) => Some((u.name, u.scale?.to)),
                _ => None,
            })
            .collect()
    }

    /// Issue 29: the pass that scales the old revision down does not scale the new one up into
    /// the room it makes: the old pod may run until its controller marks it deleted.
    #[test]
    fn a_scale_down_is_no_room_in_its_own_pass() {
        let scales = pass(&revision(1, 4, 4, 1, 1), &revision(2, 0, 0, 1, 1));
        assert_eq!(scales, [("web-1".to_string(), 3)]);
    }

    /// Nor in the passes after it, while the old revision's status still counts the pod (its
    /// controller reports the pods it had before it deleted one), or its controller has not seen
    /// the scale-down yet (its status may be of a larger spec).
    #[test]
    fn a_scale_down_is_room_once_the_status_shows_it() {
        let new = revision(2, 0, 0, 1, 1);
        assert_eq!(pass(&revision(1, 3, 4, 2, 2), &new), []);
        assert_eq!(pass(&revision(1, 3, 3, 2, 1), &new), []);
        assert_eq!(
            pass(&revision(1, 3, 3, 2, 2), &new),
            [("web-2".to_string(), 1)]
        );
    }
}
