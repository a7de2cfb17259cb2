//! The pure core: `plan(&Observed, now) -> Decision`.
//!
//! No client, no clock, no async. The shell (`reconcile`) observes the cluster, calls `plan`,
//! carries out the actions and writes the status it returns. Everything that decides lives here,
//! so a restart at any instant changes nothing: the next pass reads the same facts from the
//! cluster and takes the same decision.
//!
//! `plan` walks a priority ladder (like the Kubernetes Deployment controller's sync): each rung is
//! a module of its own, a function over the observation and the pass being built (`Pass`) that
//! either ends the pass (`Break`) or hands on to the next rung (`Continue`).
//! docs/architecture.md draws the whole picture.

pub mod config_triggers;
mod create;
pub mod deployer;
pub mod describe;
mod drive;
pub mod forward;
pub mod observe;
mod ownership;
mod pass;
mod prune;
pub mod requests;
pub mod revision;
pub mod rollout;
mod settle;
pub mod status;
mod supersede;
mod triggers;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use serde_json::Value;

use crate::api::hooks::HookPoint;
use crate::api::{DeploymentConfig, DeploymentConfigStatus};

pub use deployer::DeployerJob;
pub use revision::{Phase, Revision};
pub use rollout::hooks::{HookJob, ImageTag};
pub use rollout::until::Until;

use pass::Pass;

/// What the shell observed for one DeploymentConfig.
#[derive(Debug, Clone)]
pub struct Observed {
    pub dc: DeploymentConfig,
    /// Its revisions (ReplicaSets it controls), in ascending version.
    pub revisions: Vec<Revision>,
    /// ReplicaSets labelled as its revisions that no controller owns: adopted first.
    pub orphans: Vec<String>,
    /// ReplicaSets it controls whose `openshift.io/deployment-config.name` label no longer
    /// names it: released first.
    pub released: Vec<String>,
    /// Hook Jobs of its revisions.
    pub hook_jobs: Vec<HookJob>,
    /// Deployer Jobs of its revisions (Custom strategies and `customParams`).
    pub deployer_jobs: Vec<DeployerJob>,
    /// Configuration, not observation: the image of deployer Jobs whose customParams name none.
    pub deployer_image: String,
    /// The hashes of the ConfigMaps and Secrets it follows (`config_triggers`), read by the shell.
    pub configs: config_triggers::ConfigHashes,
}

/// A Kubernetes event to record on the DeploymentConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Event {
    pub fn normal(reason: &'static str, message: String) -> Self {
        Event {
            warning: false,
            reason,
            message,
        }
    }
    pub fn warning(reason: &'static str, message: String) -> Self {
        Event {
            warning: true,
            reason,
            message,
        }
    }
}

/// A replica count change on a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub from: i32,
    pub to: i32,
}

/// One patch of a revision's ReplicaSet: its replicas and/or annotations (`None` removes a key).
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionUpdate {
    pub name: String,
    pub scale: Option<Scale>,
    pub annotations: BTreeMap<String, Option<String>>,
}

impl RevisionUpdate {
    pub fn new(name: &str) -> Self {
        RevisionUpdate {
            name: name.to_string(),
            scale: None,
            annotations: BTreeMap::new(),
        }
    }
    pub fn scale(rev: &Revision, to: i32) -> Self {
        RevisionUpdate {
            scale: Some(Scale {
                from: rev.spec_replicas,
                to,
            }),
            ..Self::new(&rev.name)
        }
    }
    pub fn annotate(mut self, key: &str, value: Option<String>) -> Self {
        self.annotations.insert(key.to_string(), value);
        self
    }
    pub fn grows(&self) -> bool {
        self.scale.is_some_and(|s| s.to > s.from)
    }
    pub fn shrinks(&self) -> bool {
        self.scale.is_some_and(|s| s.to < s.from)
    }
}

/// What the shell must do, in order. Each action is idempotent.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Take a controller-less revision under this DeploymentConfig.
    Adopt {
        name: String,
    },
    /// Let go of a ReplicaSet this DeploymentConfig controls but no longer selects.
    Release {
        name: String,
    },
    /// Create a revision's ReplicaSet from this manifest.
    CreateRevision {
        name: String,
        manifest: Value,
    },
    Update(RevisionUpdate),
    /// Delete an old revision (history pruning); its pods and hook Jobs go with it.
    DeleteRevision {
        name: String,
    },
    /// Create a hook Job from this manifest (an existing one of that name is re-attached to).
    CreateJob {
        name: String,
        manifest: Value,
    },
    /// Replace the DeploymentConfig's pod template (and triggers): a rollback the user asked for.
    RollBackConfig {
        template: Value,
        triggers: Option<Value>,
    },
    /// Delete a hook or deployer Job (a cancelled rollout's, or an earlier attempt's).
    DeleteJob {
        name: String,
    },
    /// A tagImages hook: tag these images into their ImageStreamTags, then record how that
    /// went on the revision (`HookPoint::tag_result_annotation`), where the next pass reads it.
    TagImages {
        revision: String,
        point: HookPoint,
        tags: Vec<ImageTag>,
    },
    /// Create a revision's deployer Job, first making sure the namespace has the identity it
    /// runs as (`access`: ServiceAccount, Role, RoleBinding). One that exists is re-attached to;
    /// one the API server refuses leaves the revision New (its timeout then fails it).
    CreateDeployerJob {
        name: String,
        manifest: Value,
        access: Vec<Value>,
    },
    Event(Event),
}

/// The outcome of one pass: actions, the whole new status, and when to look again at the latest.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub actions: Vec<Action>,
    pub status: DeploymentConfigStatus,
    pub requeue_after: Option<Duration>,
    /// The rollouts and hooks this pass brings to an end, once its actions are carried out (what
    /// the metrics count).
    pub finished: Vec<Finished>,
}

/// Something a pass brings to its end.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Rollout {
        /// The strategy type recorded on the revision (`Rolling` when it records none).
        strategy: String,
        outcome: RolloutOutcome,
        /// From the start of the rollout (or the revision's creation) to this pass.
        took: Option<Duration>,
    },
    Hook {
        point: HookPoint,
        /// The outcome recorded on the revision (`api::hooks::outcome`).
        outcome: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutOutcome {
    Complete,
    Failed,
    Cancelled,
}

/// Plans one pass for the DeploymentConfig observed, at `now`.
pub fn plan(obs: &Observed, now: Timestamp) -> Decision {
    let mut pass = Pass::new(obs, now);
    let _ = ladder(obs, &mut pass);
    status::finish(obs, pass)
}

/// The priority ladder: each rung ends the pass (`Break`) or hands on.
fn ladder(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    // Being deleted: the garbage collector removes the revisions; only report.
    if obs.dc.metadata.deletion_timestamp.is_some() {
        return ControlFlow::Break(());
    }
    // A spec that cannot be planned (it slipped past admission): say why, touch nothing.
    let strategy = triggers::checked_spec(obs, pass)?;
    ownership::claim(obs, pass)?;
    pass.catch_up(obs);
    // Written by cutover before it imported images (ImageChange triggers then could not fire).
    status::remove_condition(&mut pass.status.conditions, "ImageChangeTriggerInactive");
    requests::handle(obs, pass)?;
    // Paused: no trigger starts a rollout and no replicas are reconciled, but a rollout that
    // runs finishes (OpenShift's deployer never looks at `paused`).
    let paused = obs.dc.spec.paused;
    if !paused {
        triggers::images_resolved(obs, pass)?;
        triggers::fire(obs, pass);
    }
    supersede::cancel_superseded(obs, pass)?;
    match pass.latest(obs) {
        Some(latest) if !latest.phase.is_terminal() => drive::drive(obs, pass, latest, &strategy),
        _ if paused => prune::prune(obs, pass),
        Some(_) => {
            settle::scale_to_active(obs, pass);
            prune::prune(obs, pass);
        }
        None if pass.status.latest_version > 0 => {
            create::create_latest(obs, pass, &strategy);
            prune::prune(obs, pass);
        }
        None => {}
    }
    ControlFlow::Continue(())
}

/// What the rungs read of the observation.
impl Observed {
    fn name(&self) -> String {
        self.dc.name_any()
    }

    fn namespace(&self) -> String {
        self.dc.namespace().unwrap_or_default()
    }

    /// Revision `version`, if it exists.
    fn revision(&self, version: i64) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.version == version)
    }

    /// The newest Complete revision (OpenShift's "active" one), which serves when no rollout runs.
    pub(crate) fn active(&self) -> Option<i64> {
        self.revisions
            .iter()
            .rev()
            .find(|r| r.phase == Phase::Complete)
            .map(|r| r.version)
    }

    /// Revisions whose rollout has not ended.
    fn in_flight(&self) -> impl Iterator<Item = &Revision> {
        self.revisions.iter().filter(|r| !r.phase.is_terminal())
    }

    /// The revision's hook and deployer Jobs that still run (a cancelled rollout deletes them).
    fn running_jobs(&self, revision: &str) -> Vec<Action> {
        self.job_deletions(revision, |state| {
            *state == rollout::hooks::JobState::Running
        })
    }

    /// Deletions of the revision's hook and deployer Jobs whose state `delete` picks.
    fn job_deletions(
        &self,
        revision: &str,
        delete: impl Fn(&rollout::hooks::JobState) -> bool,
    ) -> Vec<Action> {
        let hooks = self
            .hook_jobs
            .iter()
            .map(|j| (&j.revision, &j.name, &j.state));
        let deployers = self
            .deployer_jobs
            .iter()
            .map(|j| (&j.revision, &j.name, &j.state));
        hooks
            .chain(deployers)
            .filter(|(rev, _, state)| *rev == revision && delete(state))
            .map(|(_, name, _)| Action::DeleteJob { name: name.clone() })
            .collect()
    }
}

/// Merges `update` into the existing update of the same revision in `actions`, or appends it.
fn merge_update(actions: &mut Vec<Action>, update: RevisionUpdate) {
    for action in actions.iter_mut() {
        if let Action::Update(existing) = action
            && existing.name == update.name
        {
            if update.scale.is_some() {
                existing.scale = match (existing.scale, update.scale) {
                    (Some(a), Some(b)) => Some(Scale {
                        from: a.from,
                        to: b.to,
                    }),
                    (_, b) => b,
                };
            }
            existing.annotations.extend(update.annotations);
            return;
        }
    }
    actions.push(Action::Update(update));
}
