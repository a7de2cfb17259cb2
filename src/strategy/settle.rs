//! Rung: with the latest revision's rollout over, the newest Complete revision runs
//! spec.replicas and every other one runs 0 — this is also the automatic rollback after a failed
//! rollout. In test mode every revision runs 0.

use crate::api::conditions::reason;
use crate::api::{events, keys};

use super::pass::Pass;
use super::status::{condition, remove_condition, set_condition};
use super::{Action, Event, Observed, RevisionUpdate};

pub(super) fn scale_to_active(obs: &Observed, pass: &mut Pass) {
    let mut active = obs.active();
    // Past an irreversible hook there is no going back: the revision that ran it keeps what it
    // reached (it fails forward) and no older revision runs again.
    let mut forward = None;
    match super::forward::fence(obs) {
        Some((fence, point)) if active.is_none_or(|a| a < fence.version) => {
            active = Some(fence.version);
            forward = Some((fence, point));
        }
        _ => {}
    }
    let conditions = &mut pass.status.conditions;
    match forward {
        Some((fence, point)) => {
            let message = format!(
                "revision {} failed after its irreversible {} hook succeeded: it keeps its {} replicas and no older revision runs again; fix forward with a new revision (kubectl dc rollout latest), or roll back past the migration with kubectl dc rollout undo --force-past-migration",
                fence.version,
                point.as_str(),
                fence.spec_replicas
            );
            let new = !conditions
                .iter()
                .any(|c| c.type_ == keys::ROLL_FORWARD_ONLY_CONDITION && c.status == "True");
            if new {
                pass.actions.push(Action::Event(Event::warning(
                    events::ROLL_FORWARD_ONLY,
                    message.clone(),
                )));
            }
            let c = condition(
                keys::ROLL_FORWARD_ONLY_CONDITION,
                "True",
                reason::IRREVERSIBLE_HOOK_SUCCEEDED,
                message,
            );
            set_condition(&mut pass.status.conditions, c, pass.now);
        }
        None => remove_condition(conditions, keys::ROLL_FORWARD_ONLY_CONDITION),
    }
    for rev in &obs.revisions {
        let target = match forward {
            Some((fence, _)) if rev.version == fence.version => fence.spec_replicas,
            _ if !obs.dc.spec.test && Some(rev.version) == active => obs.dc.spec.replicas,
            _ => 0,
        };
        if rev.spec_replicas != target {
            pass.actions
                .push(Action::Update(RevisionUpdate::scale(rev, target)));
        }
    }
}
