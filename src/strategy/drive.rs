//! Rung: moves the latest revision's rollout on by one pass, and records where it stands.
//!
//! Rolling and Recreate run here, in the operator (`rollout::run`); a Custom strategy, or
//! `customParams`, hands the rollout to a deployer Job that this rung only starts and follows
//! (`deployer::follow`) — the operator must not scale anything itself meanwhile.

use crate::api::defaults::EffectiveStrategy;
use crate::api::events;
use crate::api::keys;

use super::deployer;
use super::pass::{Moved, Pass};
use super::rollout::{self, Rollout, Step};
use super::{
    Action, Event, Finished, HookJob, Observed, Phase, Revision, RevisionUpdate, RolloutOutcome,
    Scale, merge_update,
};

pub(super) fn drive(
    obs: &Observed,
    pass: &mut Pass,
    latest: &Revision,
    current: &EffectiveStrategy,
) {
    let ns = obs.namespace();
    if latest.cancelled {
        pass.cancel(obs, latest, None);
        return;
    }
    // The rollout runs the strategy recorded on the revision, not a later edit of it.
    let strategy = latest
        .config
        .as_ref()
        .and_then(|c| c.effective_strategy().ok())
        .unwrap_or_else(|| current.clone());
    if strategy.runs_in_deployer() {
        let (phase, step, actions) = deployer::follow(obs, latest, &strategy, pass.now);
        conclude(obs, pass, latest, phase, step, actions);
        return;
    }

    // A New revision starts running now; its clocks start with it.
    let now = pass.now;
    let mut to = latest.clone();
    let mut start = None;
    if latest.phase == Phase::New {
        to.phase = Phase::Running;
        to.started_at = Some(now);
        to.last_progress = Some(now);
        start = Some(
            RevisionUpdate::new(&latest.name)
                .annotate(keys::PHASE_ANNOTATION, Some(Phase::Running.as_str().into()))
                .annotate(keys::STARTED_AT_ANNOTATION, Some(now.to_string()))
                .annotate(keys::LAST_PROGRESS_ANNOTATION, Some(now.to_string())),
        );
    }
    let old: Vec<&Revision> = obs
        .revisions
        .iter()
        .filter(|r| r.version != latest.version)
        .collect();
    let jobs: Vec<&HookJob> = obs
        .hook_jobs
        .iter()
        .filter(|j| j.revision == latest.name)
        .collect();
    let dc_name = obs.name();
    let mut rollout = Rollout::new(&to, old, &strategy, &ns, now).with_hooks(&dc_name, jobs);
    let step = rollout::run(&mut rollout);
    let hooks = rollout
        .hooks_finished()
        .iter()
        .map(|&(point, outcome)| Finished::Hook { point, outcome });
    pass.finished.extend(hooks);
    let mut actions = rollout.into_actions();
    // Fold the start into this pass's update of the same revision, so it is one patch.
    if let Some(start) = start {
        merge_update(&mut actions, start);
    }
    conclude(obs, pass, latest, Phase::Running, step, actions);
}

/// Records where the latest revision's rollout stands after this pass: still `running` (in
/// that phase), Complete, or Failed (the automatic rollback follows on the next pass).
fn conclude(
    obs: &Observed,
    pass: &mut Pass,
    latest: &Revision,
    running: Phase,
    step: Step,
    mut actions: Vec<Action>,
) {
    let test = latest.config.as_ref().is_some_and(|c| c.spec.test);
    // A test DeploymentConfig's revision runs nothing once its rollout is over.
    let ended = |update: RevisionUpdate| {
        if !test {
            return update;
        }
        let scale = Some(Scale {
            from: latest.spec_replicas,
            to: 0,
        });
        RevisionUpdate { scale, ..update }
    };
    let phase = match step {
        Step::Wait(after) => {
            pass.requeue_after = after;
            running
        }
        // Only `cutover deploy --until` stops; the operator never sets a stop point.
        Step::Stop(_) => running,
        Step::Complete => {
            let done = RevisionUpdate::new(&latest.name)
                .annotate(
                    keys::PHASE_ANNOTATION,
                    Some(Phase::Complete.as_str().into()),
                )
                .annotate(keys::REPLICAS_ANNOTATION, Some(latest.desired.to_string()))
                .annotate(keys::DESIRED_REPLICAS_ANNOTATION, None);
            merge_update(&mut actions, ended(done));
            pass.rollout_finished(latest, RolloutOutcome::Complete);
            Phase::Complete
        }
        Step::Fail(why) => {
            let failed = RevisionUpdate::new(&latest.name)
                .annotate(keys::PHASE_ANNOTATION, Some(Phase::Failed.as_str().into()))
                .annotate(keys::STATUS_REASON_ANNOTATION, Some(why.clone()));
            merge_update(&mut actions, ended(failed));
            actions.push(Action::Event(Event::warning(
                events::FAILED,
                format!(
                    "Rollout of \"{}/{}\" failed: {why}",
                    obs.namespace(),
                    latest.name
                ),
            )));
            pass.rollout_finished(latest, RolloutOutcome::Failed);
            pass.set_progressing(super::status::failed_progressing(&latest.name, Some(&why)));
            Phase::Failed
        }
    };
    pass.latest_moved = Some(Moved::to(phase));
    pass.actions.extend(actions);
}
