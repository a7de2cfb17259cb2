//! Following a rollout run by a deployer Job: the Custom strategy, and Rolling or Recreate with
//! `customParams`.
//!
//! The operator does what OpenShift's deployer controller did: it creates the revision's
//! deployer Job `<rc>-deploy` and maps the Job to the revision's phase (New → Pending when the
//! Job is created, Running once its pod runs, Complete when it succeeds, Failed when it fails).
//! It never scales the revisions while the Job runs: the deployer does (`cutover deploy`, or the
//! user's own image). A revision that stays New past its timeout — its Job could not be created —
//! fails with OpenShift's reason. Cancel deletes the running Job; retry deletes it and runs a new
//! one for the next attempt, exactly as for hook Jobs.

use std::time::Duration;

use jiff::SignedDuration;

use crate::api::defaults::EffectiveStrategy;
use crate::api::events;
use crate::api::keys;

use jiff::Timestamp;

use super::super::rollout::Step;
use super::super::rollout::hooks::JobState;
use super::super::{Action, Event, Observed, Phase, Revision, RevisionUpdate};
use super::job::{self, DeployerContext};

/// OpenShift's reason for a revision whose deployer never started.
pub const CREATE_TIMEOUT_REASON: &str = "unable to create deployer pod";
/// OpenShift's reason for a running revision whose deployer disappeared.
pub const DEPLOYER_GONE_REASON: &str = "deployer pod no longer exists";

/// Where the latest revision's deployer-run rollout stands: its phase after this pass, the step,
/// and the actions that move it on.
pub fn follow(
    obs: &Observed,
    latest: &Revision,
    strategy: &EffectiveStrategy,
    now: Timestamp,
) -> (Phase, Step, Vec<Action>) {
    let job = obs.deployer_jobs.iter().find(|j| j.revision == latest.name);
    if let Some(stale) = job.filter(|j| j.attempt != latest.attempt) {
        // The Job of an earlier attempt (before a retry) goes before the next one starts.
        let delete = Action::DeleteJob {
            name: stale.name.clone(),
        };
        return (
            latest.phase,
            Step::Wait(Some(Duration::from_secs(1))),
            vec![delete],
        );
    }
    let mut actions = Vec::new();
    let (phase, step) = match (latest.phase, job) {
        (_, Some(job)) => match &job.state {
            JobState::Running => {
                // Pending until the Job's pod runs (never back from Running).
                let seen = if job.started {
                    Phase::Running
                } else {
                    Phase::Pending
                };
                let phase = seen.max(latest.phase);
                if phase != latest.phase {
                    actions.push(Action::Update(moved_to(latest, phase, now)));
                }
                (phase, Step::Wait(None))
            }
            JobState::Succeeded => (Phase::Complete, Step::Complete),
            JobState::Failed(why) => {
                let why = latest
                    .annotations
                    .get(keys::DEPLOYER_MESSAGE_ANNOTATION)
                    .cloned()
                    .unwrap_or_else(|| format!("deployer Job {} failed: {why}", job.name));
                (Phase::Failed, Step::Fail(why))
            }
        },
        (Phase::New, None) => {
            // Stuck in New (its Job could not be created) past the timeout: failed, as
            // OpenShift's deployer controller did, but at the deadline itself.
            let since = latest.last_progress.or(latest.created).unwrap_or(now);
            let deadline = since + SignedDuration::from_secs(strategy.timeout_seconds);
            if strategy.timeout_seconds > 0 && now >= deadline {
                actions.push(Action::Event(Event::warning(
                    events::ROLLOUT_TIMEOUT,
                    format!(
                        "Rollout for \"{}/{}\" failed to create its deployer within {}s",
                        obs.namespace(),
                        latest.name,
                        strategy.timeout_seconds
                    ),
                )));
                (Phase::Failed, Step::Fail(CREATE_TIMEOUT_REASON.into()))
            } else {
                actions.push(create_deployer(obs, latest, strategy));
                actions.push(Action::Update(moved_to(latest, Phase::Pending, now)));
                let left = (strategy.timeout_seconds > 0)
                    .then(|| deadline.duration_since(now).unsigned_abs());
                (Phase::Pending, Step::Wait(left))
            }
        }
        // Created, not yet in the cache (or deleted before it ran): create it again; the name
        // makes a second creation a no-op.
        (Phase::Pending, None) => {
            actions.push(create_deployer(obs, latest, strategy));
            (Phase::Pending, Step::Wait(None))
        }
        (_, None) => (Phase::Failed, Step::Fail(DEPLOYER_GONE_REASON.into())),
    };
    (phase, step, actions)
}

/// The update that moves `latest` on to `phase`, starting its clocks if they have not started.
fn moved_to(latest: &Revision, phase: Phase, now: Timestamp) -> RevisionUpdate {
    let mut update = RevisionUpdate::new(&latest.name)
        .annotate(keys::PHASE_ANNOTATION, Some(phase.as_str().into()))
        .annotate(
            keys::DEPLOYER_POD_NAME_ANNOTATION,
            Some(job::job_name(&latest.name)),
        );
    if latest.started_at.is_none() {
        update = update
            .annotate(keys::STARTED_AT_ANNOTATION, Some(now.to_string()))
            .annotate(keys::LAST_PROGRESS_ANNOTATION, Some(now.to_string()));
    }
    update
}

fn create_deployer(obs: &Observed, latest: &Revision, effective: &EffectiveStrategy) -> Action {
    let ns = obs.namespace();
    let dc_name = obs.name();
    // The strategy recorded on the revision, not a later edit of the DeploymentConfig.
    let strategy = latest
        .config
        .as_ref()
        .map_or(&obs.dc.spec.strategy, |c| &c.spec.strategy);
    let manifest = job::job_manifest(&DeployerContext {
        dc_name: &dc_name,
        namespace: &ns,
        revision: latest,
        strategy,
        effective,
        default_image: &obs.deployer_image,
    });
    Action::CreateDeployerJob {
        name: job::job_name(&latest.name),
        manifest,
        access: job::access_manifests(&ns),
    }
}
