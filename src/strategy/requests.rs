//! Rung: rollout requests — latest, cancel, retry and rollback, each handled once per token
//! (`api::requests`). A request that changes what the rest of the ladder would decide on ends
//! the pass.

use std::ops::ControlFlow;

use kube::ResourceExt;
use serde_json::Value;

use crate::api::events;
use crate::api::hooks::HookPoint;
use crate::api::keys;
use crate::api::requests::{
    self, ACCEPTED, REFUSED, ROLLBACK_DETAILS, ROLLBACK_TO_ANNOTATION, RequestKind,
};
use crate::api::{CAUSE_MANUAL, DeploymentCause};

use super::pass::{Moved, Pass};
use super::revision::{Phase, Revision};
use super::{Action, Event, Observed, RevisionUpdate};

/// The revision a rollback goes back to: `to` when given (it must exist and not be the latest),
/// otherwise the newest Complete revision before the latest (not latest−1
/// blindly, as OpenShift: docs/architecture.md).
pub fn rollback_target<'a>(
    name: &str,
    namespace: &str,
    latest_version: i64,
    revisions: &'a [Revision],
    to: i64,
) -> Result<&'a Revision, String> {
    if latest_version == 0 {
        return Err("cannot rollback an undeployed config".into());
    }
    if to > 0 {
        if to == latest_version {
            return Err(format!("version {to} is already the latest"));
        }
        return revisions.iter().find(|r| r.version == to).ok_or_else(|| {
            format!("unable to find revision {to} of deploymentconfig {namespace}/{name}")
        });
    }
    revisions
        .iter()
        .rev()
        .find(|r| r.version < latest_version && r.phase == Phase::Complete)
        .ok_or_else(|| format!("no previous deployment exists for \"{namespace}/{name}\""))
}

/// Handles new request annotations, one accepted change per pass.
pub(super) fn handle(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    for (kind, token) in requests::pending(&obs.dc) {
        let result = match paused_refusal(obs, kind) {
            Some(refusal) => Err(refusal),
            None => match kind {
                RequestKind::Cancel => cancel(obs, pass),
                RequestKind::Retry => retry(obs, pass),
                RequestKind::Latest => latest(obs, pass),
                RequestKind::Rollback => rollback(obs, pass),
            },
        };
        let (outcome, message, event) = match result {
            Ok(m) => (
                ACCEPTED,
                m.clone(),
                Event::normal(
                    events::REQUEST_ACCEPTED,
                    format!("{} ({token}): {m}", kind.as_str()),
                ),
            ),
            Err(m) => (
                REFUSED,
                m.clone(),
                Event::warning(
                    events::REQUEST_REFUSED,
                    format!("{} ({token}): {m}", kind.as_str()),
                ),
            ),
        };
        pass.event(event);
        requests::record(
            &mut pass.status.requests,
            kind.as_str(),
            &token,
            outcome,
            message,
        );
        // One change per pass; a new revision for `latest` is created further down the ladder.
        if outcome == ACCEPTED {
            return match kind {
                RequestKind::Latest => ControlFlow::Continue(()),
                _ => ControlFlow::Break(()),
            };
        }
    }
    ControlFlow::Continue(())
}

/// Why a paused DeploymentConfig refuses a request that would start a rollout. A cancel is
/// taken: a rollout that runs while paused can still be stopped.
fn paused_refusal(obs: &Observed, kind: RequestKind) -> Option<String> {
    if !obs.dc.spec.paused {
        return None;
    }
    let name = obs.name();
    match kind {
        RequestKind::Cancel => None,
        RequestKind::Latest => Some("cannot deploy a paused deployment config".into()),
        RequestKind::Retry => Some(format!(
            "unable to retry paused deployment config \"{name}\""
        )),
        RequestKind::Rollback => Some(format!(
            "cannot rollback a paused config; resume it first with 'kubectl dc rollout resume {name}' and try again"
        )),
    }
}

/// `rollout latest`: a new revision even if nothing changed.
fn latest(obs: &Observed, pass: &mut Pass) -> Result<String, String> {
    if let Some(r) = obs.in_flight().last() {
        return Err(format!(
            "#{} is already in progress ({}).",
            r.version,
            r.phase.as_str()
        ));
    }
    // The shell has fired every trigger it could resolve (manual ones too) before this pass.
    if !crate::image::trigger::all_resolved_once(&obs.dc) {
        return Err(format!(
            "cannot trigger a deployment for \"{}\" because it contains unresolved images",
            obs.name()
        ));
    }
    pass.bump("manual change", vec![DeploymentCause::of(CAUSE_MANUAL)]);
    Ok(format!("started rollout #{}", pass.status.latest_version))
}

/// `rollout cancel`: every revision in flight ends Failed (RolloutCancelled); the previous
/// Complete revision is restored by the next pass.
fn cancel(obs: &Observed, pass: &mut Pass) -> Result<String, String> {
    let in_flight: Vec<&Revision> = obs.in_flight().collect();
    if in_flight.is_empty() {
        let latest = pass.latest(obs).map_or("none".to_string(), |r| {
            format!("#{} {}", r.version, r.phase.as_str())
        });
        return Err(format!(
            "No rollout is in progress (latest rollout {latest})"
        ));
    }
    for rev in &in_flight {
        pass.cancel(obs, rev, Some("cancelled by the user".into()));
    }
    let versions: Vec<String> = in_flight
        .iter()
        .map(|r| format!("#{}", r.version))
        .collect();
    Ok(format!("cancelled rollout {}", versions.join(", ")))
}

/// `rollout retry`: the latest Failed revision runs again, hooks included.
fn retry(obs: &Observed, pass: &mut Pass) -> Result<String, String> {
    let (name, latest) = (obs.name(), pass.status.latest_version);
    if latest == 0 {
        return Err(format!("no rollouts found for \"{name}\""));
    }
    let Some(rev) = pass.latest(obs) else {
        return Err(format!(
            "unable to find the latest rollout (#{latest}). You can start a new rollout with 'kubectl dc rollout latest {name}'."
        ));
    };
    if rev.phase != Phase::Failed {
        let hint = if rev.phase == Phase::Complete {
            format!("You can start a new rollout with 'kubectl dc rollout latest {name}'.")
        } else {
            format!(
                "Optionally, you can cancel this rollout with 'kubectl dc rollout cancel {name}'."
            )
        };
        return Err(format!(
            "rollout #{latest} is {}; only failed deployments can be retried. {hint}",
            rev.phase.as_str()
        ));
    }
    // Every Job of the failed attempt goes; the next attempt's are created afresh.
    pass.actions.extend(obs.job_deletions(&rev.name, |_| true));
    let mut update = RevisionUpdate::new(&rev.name)
        .annotate(keys::PHASE_ANNOTATION, Some(Phase::New.as_str().into()))
        .annotate(
            keys::ATTEMPT_ANNOTATION,
            Some((rev.attempt + 1).to_string()),
        );
    for key in [
        keys::STATUS_REASON_ANNOTATION,
        keys::CANCELLED_ANNOTATION,
        keys::STARTED_AT_ANNOTATION,
        keys::DEPLOYER_MESSAGE_ANNOTATION,
    ] {
        update = update.annotate(key, None);
    }
    // The retry is the new attempt's first progress: a deployer that cannot be created times
    // out this long after the retry, not after the revision's creation.
    update = update.annotate(keys::LAST_PROGRESS_ANNOTATION, Some(pass.now.to_string()));
    for point in HookPoint::ALL {
        update = update
            .annotate(&point.outcome_annotation(), None)
            .annotate(&point.message_annotation(), None)
            .annotate(&point.tag_result_annotation(), None);
    }
    pass.actions.push(Action::Update(update));
    pass.latest_moved = Some(Moved::to(Phase::New));
    Ok(format!("retrying rollout #{latest}"))
}

/// `rollout undo`: the target revision's template becomes the spec's, image triggers stop being
/// automatic, and a new revision is started with it (never the old one re-activated).
fn rollback(obs: &Observed, pass: &mut Pass) -> Result<String, String> {
    let to = obs
        .dc
        .annotations()
        .get(ROLLBACK_TO_ANNOTATION)
        .map(|v| match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n),
            _ => Err(format!(
                "invalid revision {v:?} in {ROLLBACK_TO_ANNOTATION}: must be a non-negative integer (0: the newest complete revision before the latest)"
            )),
        })
        .transpose()?
        .unwrap_or(0);
    let target = rollback_target(
        &obs.name(),
        &obs.namespace(),
        pass.status.latest_version,
        &obs.revisions,
        to,
    )?;
    let forced = obs
        .dc
        .annotations()
        .get(keys::FORCE_PAST_MIGRATION_ANNOTATION)
        .is_some_and(|v| v.trim() == "true");
    let past = super::forward::refusal(obs, target.version);
    if let (Some(why), false) = (&past, forced) {
        return Err(why.clone());
    }
    let template = target
        .template()
        .cloned()
        .ok_or_else(|| format!("revision {} records no template", target.version))?;
    // A failed traffic shift's rollback leaves the triggers as they are (they wait for a new
    // image: `image::trigger`); a user's, as `oc rollback`, makes them manual.
    let keep_triggers = requests::rollback_keeps_triggers(&obs.dc);
    let triggers = obs
        .dc
        .spec
        .triggers
        .as_ref()
        .filter(|_| !keep_triggers)
        .map(|ts| {
            let mut ts = ts.clone();
            for t in ts.iter_mut().filter_map(|t| t.image_change_params.as_mut()) {
                t.automatic = false;
            }
            serde_json::to_value(ts).unwrap_or(Value::Null)
        });
    pass.actions
        .push(Action::RollBackConfig { template, triggers });
    pass.bump(
        &format!("{ROLLBACK_DETAILS} {}", target.version),
        vec![DeploymentCause::of(CAUSE_MANUAL)],
    );
    let forced_note = match past {
        Some(_) => " (forced past an irreversible hook)",
        None => "",
    };
    let triggers_note = if keep_triggers {
        " (image triggers left on: the next image rolls out)"
    } else {
        ""
    };
    Ok(format!(
        "rolled back to revision {}: rollout #{} started{forced_note}{triggers_note}",
        target.version, pass.status.latest_version
    ))
}
