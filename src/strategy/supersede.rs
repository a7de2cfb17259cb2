//! Rung: revisions still in flight that are not the latest are cancelled and end Failed; the new
//! revision starts only once none is left in flight (at most one rollout runs at a time).

use std::ops::ControlFlow;

use crate::api::keys;

use super::pass::Pass;
use super::{Action, Event, Observed, Phase, RevisionUpdate, RolloutOutcome};

pub(super) fn cancel_superseded(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    let latest = pass.status.latest_version;
    let ns = obs.namespace();
    let mut any = false;
    for rev in obs.in_flight().filter(|r| r.version != latest) {
        any = true;
        let reason_text = if rev.cancelled {
            rev.status_reason
                .clone()
                .unwrap_or_else(|| "cancelled".into())
        } else {
            pass.event(Event::normal(
                "DeploymentCancelled",
                format!(
                    "Cancelled deployment {:?} superceded by version {latest}",
                    rev.name
                ),
            ));
            "newer deployment was found running".into()
        };
        pass.actions.extend(obs.running_jobs(&rev.name));
        pass.actions.push(Action::Update(
            RevisionUpdate::new(&rev.name)
                .annotate(keys::CANCELLED_ANNOTATION, Some("true".into()))
                .annotate(keys::STATUS_REASON_ANNOTATION, Some(reason_text))
                .annotate(keys::PHASE_ANNOTATION, Some(Phase::Failed.as_str().into())),
        ));
        pass.event(Event::warning(
            "RolloutCancelled",
            format!("Rollout for \"{ns}/{}\" cancelled", rev.name),
        ));
        pass.rollout_finished(rev, RolloutOutcome::Cancelled);
    }
    if any {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}
