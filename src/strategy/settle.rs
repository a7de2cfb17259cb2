//! Rung: with the latest revision's rollout over, the newest Complete revision runs
//! spec.replicas and every other one runs 0 — this is also the automatic rollback after a failed
//! rollout. In test mode every revision runs 0.

use super::pass::Pass;
use super::{Action, Observed, RevisionUpdate};

pub(super) fn scale_to_active(obs: &Observed, pass: &mut Pass) {
    let active = obs.active();
    for rev in &obs.revisions {
        let target = if !obs.dc.spec.test && Some(rev.version) == active {
            obs.dc.spec.replicas
        } else {
            0
        };
        if rev.spec_replicas != target {
            pass.actions
                .push(Action::Update(RevisionUpdate::scale(rev, target)));
        }
    }
}
