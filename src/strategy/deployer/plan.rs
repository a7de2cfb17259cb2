//! `cutover deploy`: one revision's rollout driven from inside its deployer Job.
//!
//! This is the same rollout the operator runs for Rolling and Recreate (`rollout::run`: the
//! hooks, `rolling::step`, `recreate::step`), planned from the same `Observed`; only the caller
//! differs. The process plans, applies, waits for a change and plans again until the rollout is
//! done, failed, or at its `--until` stop point. All its state is on the revision (hook outcomes,
//! progress times), so a later run resumes where an earlier one stopped and never runs a hook
//! twice.

use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;

use crate::api::defaults::StrategyKind;
use crate::api::keys;

use super::super::rollout::{self, Rollout, Step, Until};
use super::super::{Action, HookJob, Observed, Phase, Revision, RevisionUpdate, merge_update};

/// Where the run stands after one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not done: wait for a change, or at most this long.
    Continue(Option<Duration>),
    /// The rollout is done (the deployer prints `--> Success`).
    Done,
    /// The `--until` stop point is reached: exit 0 with this message.
    Stopped(String),
    /// The rollout failed, or cannot run: exit non-zero with this message.
    Failed(String),
}

/// One pass of the deployer: what to do, and where the run stands.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployDecision {
    pub actions: Vec<Action>,
    pub outcome: Outcome,
}

impl DeployDecision {
    fn failed(message: String) -> Self {
        DeployDecision {
            actions: Vec::new(),
            outcome: Outcome::Failed(message),
        }
    }
}

/// Plans one pass of the rollout of revision `rc` from inside its deployer.
pub fn plan(obs: &Observed, rc: &str, until: Option<Until>, now: Timestamp) -> DeployDecision {
    let ns = obs.dc.namespace().unwrap_or_default();
    let Some(to) = obs.revisions.iter().find(|r| r.name == rc) else {
        return DeployDecision::failed(format!(
            "couldn't get deployment {rc}: it is not a revision of deploymentconfig {ns}/{}",
            obs.dc.name_any()
        ));
    };
    if to.cancelled {
        return DeployDecision::failed(format!("rollout of {ns}/{rc} was cancelled"));
    }
    match to.phase {
        Phase::Complete => {
            return DeployDecision::failed(format!(
                "deployment {rc} has already run to completion"
            ));
        }
        Phase::Failed => {
            let why = to.status_reason.clone().unwrap_or_default();
            return DeployDecision::failed(format!("deployment {rc} has failed: {why}"));
        }
        Phase::New | Phase::Pending | Phase::Running => {}
    }
    if obs.revisions.last().is_some_and(|l| l.version > to.version) {
        return DeployDecision::failed(format!(
            "deployment {rc} is not the latest revision of {}: a newer one supersedes it",
            obs.dc.name_any()
        ));
    }
    let Some(strategy) = to.config.as_ref().and_then(|c| c.effective_strategy().ok()) else {
        return DeployDecision::failed(format!(
            "couldn't decode deployment config from deployment {rc}"
        ));
    };
    if strategy.kind == StrategyKind::Custom {
        return DeployDecision::failed("unsupported strategy type: Custom".into());
    }
    let old: Vec<&Revision> = obs.revisions.iter().filter(|r| r.name != rc).collect();
    let jobs: Vec<&HookJob> = obs.hook_jobs.iter().filter(|j| j.revision == rc).collect();
    let dc_name = obs.dc.name_any();
    let mut r = Rollout::new(to, old, &strategy, &ns, now)
        .with_hooks(&dc_name, jobs)
        .until(until);
    let step = rollout::run(&mut r);
    let mut actions = r.into_actions();
    let outcome = match step {
        Step::Wait(after) => Outcome::Continue(after),
        Step::Complete => Outcome::Done,
        Step::Stop(message) => Outcome::Stopped(message),
        Step::Fail(why) => {
            // The reason, for the operator to record when it sees the Job fail.
            merge_update(
                &mut actions,
                RevisionUpdate::new(rc)
                    .annotate(keys::DEPLOYER_MESSAGE_ANNOTATION, Some(why.clone())),
            );
            Outcome::Failed(why)
        }
    };
    DeployDecision { actions, outcome }
}
