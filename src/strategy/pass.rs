//! One pass of the planner as it is built up by the rungs: the status it will write, the actions
//! it takes, when to look again, and what it decided about the latest revision.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::events;
use crate::api::{DeploymentCause, DeploymentCondition, DeploymentConfigStatus, DeploymentDetails};

use crate::api::keys;

use super::{Action, Event, Finished, Observed, Phase, Revision, RevisionUpdate, RolloutOutcome};

#[derive(Clone)]
pub(super) struct Pass {
    pub now: Timestamp,
    /// The status this pass writes; the counts and derived conditions are filled in at the end.
    pub status: DeploymentConfigStatus,
    pub actions: Vec<Action>,
    pub requeue_after: Option<Duration>,
    /// Where this pass moved the latest revision, if it moved it.
    pub latest_moved: Option<Moved>,
    /// A Progressing condition a rung set for a reason of its own (an invalid spec, a missing
    /// image, a new revision), which stands instead of the one derived from the latest phase.
    pub progressing: Option<DeploymentCondition>,
    /// The rollouts and hooks this pass ends.
    pub finished: Vec<Finished>,
}

/// The phase a pass moved the latest revision to, and whether by a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Moved {
    pub phase: Phase,
    pub cancelled: bool,
}

impl Moved {
    pub fn to(phase: Phase) -> Self {
        Moved {
            phase,
            cancelled: false,
        }
    }
}

impl Pass {
    pub fn new(obs: &Observed, now: Timestamp) -> Self {
        // What carries over from the observed status; the rest is computed at the end.
        let previous = obs.dc.status.as_ref();
        let status = DeploymentConfigStatus {
            latest_version: previous.map_or(0, |s| s.latest_version),
            details: previous.and_then(|s| s.details.clone()),
            conditions: previous.map(|s| s.conditions.clone()).unwrap_or_default(),
            requests: previous.map(|s| s.requests.clone()).unwrap_or_default(),
            ..Default::default()
        };
        Pass {
            now,
            status,
            actions: Vec::new(),
            requeue_after: None,
            latest_moved: None,
            progressing: None,
            finished: Vec::new(),
        }
    }

    /// The same pass with no actions yet: to plan a step on trial.
    pub fn scratch(&self) -> Self {
        Pass {
            actions: Vec::new(),
            ..self.clone()
        }
    }

    pub fn event(&mut self, e: Event) {
        self.actions.push(Action::Event(e));
    }

    pub fn set_progressing(&mut self, c: DeploymentCondition) {
        self.progressing = Some(c);
    }

    /// The latest revision (`status.latestVersion` as this pass has it), if it exists.
    pub fn latest<'o>(&self, obs: &'o Observed) -> Option<&'o Revision> {
        obs.revision(self.status.latest_version)
    }

    /// Catches up with revisions that exist (a DeploymentConfig recreated over orphans).
    pub fn catch_up(&mut self, obs: &Observed) {
        if let Some(highest) = obs.revisions.last().map(|r| r.version) {
            self.status.latest_version = self.status.latest_version.max(highest);
        }
    }

    /// Records that this pass ends `rev`'s rollout with `outcome`.
    pub fn rollout_finished(&mut self, rev: &Revision, outcome: RolloutOutcome) {
        let strategy = rev
            .config
            .as_ref()
            .and_then(|c| c.spec.strategy.type_.clone())
            .unwrap_or_else(|| "Rolling".to_string());
        let took = rev
            .started_at
            .or(rev.created)
            .and_then(|start| Duration::try_from(self.now.duration_since(start)).ok());
        self.finished.push(Finished::Rollout {
            strategy,
            outcome,
            took,
        });
    }

    /// Ends `rev`'s rollout as cancelled: its running Jobs deleted, the revision Failed (marked
    /// cancelled, with `reason`, unless it is already), a Warning event. The previous Complete
    /// revision is restored on a later pass.
    pub fn cancel(&mut self, obs: &Observed, rev: &Revision, reason: Option<String>) {
        self.actions.extend(obs.running_jobs(&rev.name));
        let mut update = RevisionUpdate::new(&rev.name);
        if let Some(reason) = reason {
            update = update
                .annotate(keys::CANCELLED_ANNOTATION, Some("true".into()))
                .annotate(keys::STATUS_REASON_ANNOTATION, Some(reason));
        }
        let update = update.annotate(keys::PHASE_ANNOTATION, Some(Phase::Failed.as_str().into()));
        self.actions.push(Action::Update(update));
        self.event(Event::warning(
            events::ROLLOUT_CANCELLED,
            format!("Rollout for \"{}/{}\" cancelled", obs.namespace(), rev.name),
        ));
        self.rollout_finished(rev, RolloutOutcome::Cancelled);
        if rev.version == self.status.latest_version {
            self.latest_moved = Some(Moved {
                phase: Phase::Failed,
                cancelled: true,
            });
        }
    }

    /// Starts a new revision: latestVersion goes up, with why.
    pub fn bump(&mut self, message: &str, causes: Vec<DeploymentCause>) {
        self.status.latest_version += 1;
        self.status.details = Some(DeploymentDetails {
            message: message.into(),
            causes,
        });
    }
}
