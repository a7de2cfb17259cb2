//! `cutover deploy`: one revision's rollout driven from inside its deployer Job (spec §7, §10).
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

use super::revision::Phase;
use super::rollout::{self, Rollout, Step};
use super::{Action, HookJob, Observed, Revision, RevisionUpdate};

/// Where `cutover deploy --until` stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Before anything (after nothing: cutover's strategies scale older revisions themselves).
    Start,
    /// After the pre hook (even when there is none).
    Pre,
    /// Recreate: after the mid hook (even when there is none).
    Mid,
    /// Recreate: `0%` once the old pods are gone, `N%` after the acceptance check of the first
    /// pod; Rolling: `0%` before any scaling, `N%` once N% of the new pods are available; both:
    /// `100%` at full scale, before the post hook.
    Percent(u32),
}

impl Until {
    /// `start`, `pre`, `mid` or `N%` (0 to 100); anything else is not a stop point (OpenShift
    /// ignores it and runs to completion).
    pub fn parse(s: &str) -> Option<Until> {
        match s.trim() {
            "start" => Some(Until::Start),
            "pre" => Some(Until::Pre),
            "mid" => Some(Until::Mid),
            other => other
                .strip_suffix('%')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n <= 100)
                .map(Until::Percent),
        }
    }
}

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
            super::merge_update(
                &mut actions,
                RevisionUpdate::new(rc)
                    .annotate(keys::DEPLOYER_MESSAGE_ANNOTATION, Some(why.clone())),
            );
            Outcome::Failed(why)
        }
    };
    DeployDecision { actions, outcome }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_points_parse_and_others_are_ignored() {
        assert_eq!(Until::parse("start"), Some(Until::Start));
        assert_eq!(Until::parse("pre"), Some(Until::Pre));
        assert_eq!(Until::parse("mid"), Some(Until::Mid));
        assert_eq!(Until::parse("0%"), Some(Until::Percent(0)));
        assert_eq!(Until::parse("50%"), Some(Until::Percent(50)));
        assert_eq!(Until::parse("100%"), Some(Until::Percent(100)));
        for other in ["", "post", "50", "101%", "-1%", "half"] {
            assert_eq!(Until::parse(other), None, "{other}");
        }
    }
}
