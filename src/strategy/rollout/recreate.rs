//! The Recreate strategy: old revisions down, wait for their pods to be gone, then the new
//! revision up — first to one pod that must become available when an older Complete revision
//! exists (every pod on a first rollout), then to the target, done once those pods exist.
//!
//! `cutover deploy --until` stops at `0%` (old pods gone), `mid` (after the mid hook), and
//! `1%`–`99%` after the one-pod acceptance check.
//!
//! Every step is derived from what is observed (spec counts, pods that still exist), so a
//! restart resumes at the same step. Hook slots (pre, mid, post) sit where the spec puts them.

use crate::api::events;
use crate::api::hooks::HookPoint;

use super::hook_step;
use super::state::{OnTimeout, Rollout, Step};
use super::until::Until;

pub(super) fn step(r: &mut Rollout<'_>) -> Step {
    let desired = r.to.desired;
    // The pods the acceptance check waits for: one after an older Complete revision (OpenShift's
    // `from`), every pod of a first rollout.
    let accepted = if r.has_complete_old() {
        desired.min(1)
    } else {
        desired
    };
    if r.to.spec_replicas == 0 {
        // Old revisions down, and their pods gone, before any new pod exists.
        let old_spec = r.old_spec();
        if old_spec > 0 {
            r.scale_down_old(old_spec);
            return Step::Wait(None);
        }
        if r.old_pods() > 0 {
            let deadline = r.deadline();
            if r.now < deadline {
                return Step::Wait(Some(deadline.duration_since(r.now).unsigned_abs()));
            }
            // OpenShift logs and continues: the rollout must not hang on a stuck pod.
            let message = format!(
                "Failed to wait for old pods to be terminated: {} pods still exist after {}s. New pods may be scaled up before old pods get terminated!",
                r.old_pods(),
                r.strategy.timeout_seconds
            );
            r.warn(events::OLD_PODS_NOT_TERMINATED, message);
        }
        if let Some(stop) = r.stop_at(Until::Percent(0), "Reached 0% (no running pods)") {
            return stop;
        }
        // Old pods are gone and no new one exists: the moment for a data migration.
        match hook_step::step(r, HookPoint::Mid) {
            Step::Complete => {}
            other => return other,
        }
        if let Some(stop) = r.stop_at(Until::Mid, "mid hook succeeded") {
            return stop;
        }
        if desired == 0 {
            return r.accept_or_wait(0);
        }
    }
    if r.to.spec_replicas < accepted {
        // Up to the pods of the acceptance check.
        r.scale_to(accepted);
        return Step::Wait(None);
    }
    if r.to.spec_replicas == accepted {
        match r.accept_or_wait(r.to.spec_replicas) {
            Step::Complete if accepted < desired => {
                match r.until_percent().filter(|n| (1..100).contains(n)) {
                    // After the acceptance check, `--until=1%..99%` stops.
                    Some(n) => Step::Stop(format!("Reached {n}%")),
                    None => {
                        r.scale_to(desired);
                        Step::Wait(None)
                    }
                }
            }
            other => other,
        }
    } else {
        // Accepted already: the rest need only be created, not ready (and if they are not
        // created in time the rollout still completes, as OpenShift's does).
        r.replicas_created(desired, OnTimeout::Complete)
    }
}
