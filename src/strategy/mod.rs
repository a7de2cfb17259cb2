//! The pure core: `plan(&Observed, now) -> Decision`.
//!
//! No client, no clock, no async. The shell (`reconcile`) observes the cluster, calls `plan`,
//! carries out the actions and writes the status it returns. Everything that decides lives here,
//! so a restart at any instant changes nothing: the next pass reads the same facts from the
//! cluster and takes the same decision.
//!
//! `plan` walks a priority ladder (like the Kubernetes Deployment controller's sync): each rung
//! either finishes the pass or hands on to the next.

mod custom;
pub mod deployer;
pub mod hooks;
pub mod progress;
pub mod recreate;
pub mod requests;
pub mod revision;
pub mod rolling;
pub mod rollout;
mod triggers;
pub mod until;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use serde_json::Value;

use crate::api::defaults::EffectiveStrategy;
use crate::api::keys;
use crate::api::{DeploymentCause, DeploymentConfig, DeploymentConfigStatus};

pub use deployer::DeployerJob;
pub use hooks::{HookJob, HookPoint};
pub use requests::RequestKind;
pub use revision::{Phase, Revision};
use rollout::{Rollout, Step};
pub use until::Until;

use progress::{condition, reason};

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
}

/// The priority ladder.
pub fn plan(obs: &Observed, now: Timestamp) -> Decision {
    Planner::new(obs, now).run()
}

#[derive(Clone)]
struct Planner<'a> {
    obs: &'a Observed,
    dc: &'a DeploymentConfig,
    now: Timestamp,
    previous: DeploymentConfigStatus,
    status: DeploymentConfigStatus,
    actions: Vec<Action>,
    requeue_after: Option<Duration>,
    /// The latest revision's phase after this pass (the observed one unless it moves now).
    latest_phase: Option<(Phase, bool)>,
    /// Progressing was set for a reason of this pass.
    progressing_set: bool,
}

impl<'a> Planner<'a> {
    fn new(obs: &'a Observed, now: Timestamp) -> Self {
        let previous = obs.dc.status.clone().unwrap_or_default();
        let status = DeploymentConfigStatus {
            latest_version: previous.latest_version,
            details: previous.details.clone(),
            conditions: previous.conditions.clone(),
            requests: previous.requests.clone(),
            ..Default::default()
        };
        Planner {
            obs,
            dc: &obs.dc,
            now,
            previous,
            status,
            actions: Vec::new(),
            requeue_after: None,
            latest_phase: None,
            progressing_set: false,
        }
    }

    fn name(&self) -> String {
        self.dc.name_any()
    }

    fn namespace(&self) -> String {
        self.dc.namespace().unwrap_or_default()
    }

    fn event(&mut self, e: Event) {
        self.actions.push(Action::Event(e));
    }

    fn latest(&self) -> Option<&'a Revision> {
        let v = self.status.latest_version;
        self.obs.revisions.iter().find(|r| r.version == v)
    }

    fn run(mut self) -> Decision {
        self.ladder();
        self.finish()
    }

    fn ladder(&mut self) {
        // Being deleted: the garbage collector removes the revisions; only report.
        if self.dc.metadata.deletion_timestamp.is_some() {
            return;
        }
        // A spec that cannot be planned (it slipped past admission): say why, touch nothing.
        let strategy = match self.check_spec() {
            Ok(s) => s,
            Err(message) => {
                self.set_progressing(condition(
                    progress::PROGRESSING,
                    "False",
                    reason::INVALID_CONFIG,
                    message,
                ));
                return;
            }
        };
        // Which ReplicaSets are its revisions is settled before anything is decided, as the
        // ControllerRefManager does: those whose label no longer names it are released, orphans
        // that it names are adopted.
        if !self.obs.released.is_empty() || !self.obs.orphans.is_empty() {
            let released = self
                .obs
                .released
                .iter()
                .map(|name| Action::Release { name: name.clone() });
            let adopted = self
                .obs
                .orphans
                .iter()
                .map(|name| Action::Adopt { name: name.clone() });
            self.actions.extend(released.chain(adopted));
            return;
        }
        // Catch up with revisions that exist (a DeploymentConfig recreated over orphans).
        if let Some(highest) = self.obs.revisions.last().map(|r| r.version) {
            self.status.latest_version = self.status.latest_version.max(highest);
        }
        self.image_trigger_condition();
        if self.requests() {
            return;
        }
        // Paused: no trigger starts a rollout and no replicas are reconciled, but a rollout that
        // runs finishes (OpenShift's deployer never looks at `paused`).
        let paused = self.dc.spec.paused;
        if !paused {
            if !self.images_resolved() {
                return;
            }
            self.triggers();
        }
        if self.cancel_superseded() {
            return;
        }
        match self.latest() {
            Some(latest) if !latest.phase.is_terminal() => self.drive(latest, &strategy),
            _ if paused => self.prune(),
            Some(_) => {
                self.scale_to_active();
                self.prune();
            }
            None if self.status.latest_version > 0 => {
                self.create_latest(&strategy);
                self.prune();
            }
            None => {}
        }
    }

    /// What the planner needs from the spec, checked (admission enforces the same with CEL).
    fn check_spec(&self) -> Result<EffectiveStrategy, String> {
        let spec = &self.dc.spec;
        let strategy = self.dc.effective_strategy()?;
        for v in [&strategy.max_surge, &strategy.max_unavailable] {
            v.scaled(1, crate::api::Rounding::Up)
                .map_err(|e| format!("strategy.rollingParams: {e}"))?;
        }
        if spec.effective_selector().is_empty() {
            return Err("selector cannot be empty".into());
        }
        if spec.template.containers().iter().all(|c| c.init) {
            return Err("template.spec.containers: at least one container is required".into());
        }
        if spec.replicas < 0 {
            return Err("replicas cannot be negative".into());
        }
        Ok(strategy)
    }

    /// Sets Progressing for a reason of this pass (invalid spec, missing image, a new revision),
    /// which then stands instead of the one derived from the latest revision's phase.
    fn set_progressing(&mut self, c: crate::api::DeploymentCondition) {
        progress::set_condition(&mut self.status.conditions, c, self.now);
        self.progressing_set = true;
    }

    /// Revisions still in flight that are not the latest are cancelled and end Failed; the new
    /// revision starts only once none is left in flight (spec §5 step 6).
    fn cancel_superseded(&mut self) -> bool {
        let latest = self.status.latest_version;
        let ns = self.namespace();
        let mut any = false;
        for rev in self
            .obs
            .revisions
            .iter()
            .filter(|r| !r.phase.is_terminal() && r.version != latest)
        {
            any = true;
            let reason_text = if rev.cancelled {
                rev.status_reason
                    .clone()
                    .unwrap_or_else(|| "cancelled".into())
            } else {
                self.event(Event::normal(
                    "DeploymentCancelled",
                    format!(
                        "Cancelled deployment {:?} superceded by version {latest}",
                        rev.name
                    ),
                ));
                "newer deployment was found running".into()
            };
            self.delete_running_jobs(&rev.name);
            self.actions.push(Action::Update(
                RevisionUpdate::new(&rev.name)
                    .annotate(keys::CANCELLED_ANNOTATION, Some("true".into()))
                    .annotate(keys::STATUS_REASON_ANNOTATION, Some(reason_text))
                    .annotate(keys::PHASE_ANNOTATION, Some(Phase::Failed.as_str().into())),
            ));
            self.event(Event::warning(
                "RolloutCancelled",
                format!("Rollout for \"{ns}/{}\" cancelled", rev.name),
            ));
        }
        any
    }

    /// Moves the latest revision's rollout on by one pass.
    fn drive(&mut self, latest: &Revision, current: &EffectiveStrategy) {
        let ns = self.namespace();
        if latest.cancelled {
            self.delete_running_jobs(&latest.name);
            self.actions.push(Action::Update(
                RevisionUpdate::new(&latest.name)
                    .annotate(keys::PHASE_ANNOTATION, Some(Phase::Failed.as_str().into())),
            ));
            self.event(Event::warning(
                "RolloutCancelled",
                format!("Rollout for \"{ns}/{}\" cancelled", latest.name),
            ));
            self.latest_phase = Some((Phase::Failed, true));
            return;
        }
        // The rollout runs the strategy recorded on the revision, not a later edit of it.
        let strategy = latest
            .config
            .as_ref()
            .and_then(|c| c.effective_strategy().ok())
            .unwrap_or_else(|| current.clone());
        // A Custom strategy, or customParams: a deployer Job runs the rollout; the operator only
        // starts it and follows it (it must not scale anything itself meanwhile).
        if strategy.runs_in_deployer() {
            self.drive_deployer(latest, &strategy);
            return;
        }

        // A New revision starts running now; its clocks start with it.
        let mut to = latest.clone();
        let mut start = None;
        if latest.phase == Phase::New {
            to.phase = Phase::Running;
            to.started_at = Some(self.now);
            to.last_progress = Some(self.now);
            start = Some(
                RevisionUpdate::new(&latest.name)
                    .annotate(keys::PHASE_ANNOTATION, Some(Phase::Running.as_str().into()))
                    .annotate(keys::STARTED_AT_ANNOTATION, Some(self.now.to_string()))
                    .annotate(keys::LAST_PROGRESS_ANNOTATION, Some(self.now.to_string())),
            );
        }
        let old: Vec<&Revision> = self
            .obs
            .revisions
            .iter()
            .filter(|r| r.version != latest.version)
            .collect();
        let jobs: Vec<&HookJob> = self
            .obs
            .hook_jobs
            .iter()
            .filter(|j| j.revision == latest.name)
            .collect();
        let dc_name = self.name();
        let mut rollout =
            Rollout::new(&to, old, &strategy, &ns, self.now).with_hooks(&dc_name, jobs);
        let step = rollout::run(&mut rollout);
        let mut actions = rollout.into_actions();
        // Fold the start into this pass's update of the same revision, so it is one patch.
        if let Some(start) = start {
            merge_update(&mut actions, start);
        }
        self.conclude(latest, Phase::Running, step, actions);
    }

    /// Records where the latest revision's rollout stands after this pass: still `running` (in
    /// that phase), Complete, or Failed (the automatic rollback follows on the next pass).
    fn conclude(
        &mut self,
        latest: &Revision,
        running: Phase,
        step: Step,
        mut actions: Vec<Action>,
    ) {
        let ns = self.namespace();
        let test = latest.config.as_ref().is_some_and(|c| c.spec.test);
        match step {
            Step::Wait(after) => {
                self.requeue_after = after;
                self.latest_phase = Some((running, false));
            }
            // Only `cutover deploy --until` stops; the operator never sets a stop point.
            Step::Stop(_) => self.latest_phase = Some((running, false)),
            Step::Complete => {
                let mut done = RevisionUpdate::new(&latest.name)
                    .annotate(
                        keys::PHASE_ANNOTATION,
                        Some(Phase::Complete.as_str().into()),
                    )
                    .annotate(keys::REPLICAS_ANNOTATION, Some(latest.desired.to_string()))
                    .annotate(keys::DESIRED_REPLICAS_ANNOTATION, None);
                if test {
                    done.scale = Some(Scale {
                        from: latest.spec_replicas,
                        to: 0,
                    });
                }
                merge_update(&mut actions, done);
                self.latest_phase = Some((Phase::Complete, false));
            }
            Step::Fail(why) => {
                let mut failed = RevisionUpdate::new(&latest.name)
                    .annotate(keys::PHASE_ANNOTATION, Some(Phase::Failed.as_str().into()))
                    .annotate(keys::STATUS_REASON_ANNOTATION, Some(why.clone()));
                if test {
                    failed.scale = Some(Scale {
                        from: latest.spec_replicas,
                        to: 0,
                    });
                }
                merge_update(&mut actions, failed);
                actions.push(Action::Event(Event::warning(
                    "Failed",
                    format!("Rollout of \"{ns}/{}\" failed: {why}", latest.name),
                )));
                self.latest_phase = Some((Phase::Failed, false));
            }
        }
        self.actions.extend(actions);
    }

    /// A cancelled rollout stops: its running hook and deployer Jobs are deleted.
    fn delete_running_jobs(&mut self, revision: &str) {
        let obs = self.obs;
        let hooks = obs
            .hook_jobs
            .iter()
            .filter(|j| j.revision == revision && j.state == hooks::JobState::Running)
            .map(|j| &j.name);
        let deployers = obs
            .deployer_jobs
            .iter()
            .filter(|j| j.revision == revision && j.state == hooks::JobState::Running)
            .map(|j| &j.name);
        for name in hooks.chain(deployers) {
            self.actions.push(Action::DeleteJob { name: name.clone() });
        }
    }

    /// The newest Complete revision (OpenShift's "active" one), which serves when no rollout runs.
    fn active(&self) -> Option<i64> {
        self.obs
            .revisions
            .iter()
            .rev()
            .find(|r| r.phase == Phase::Complete)
            .map(|r| r.version)
    }

    /// With the latest revision terminal: the newest Complete revision runs spec.replicas and
    /// every other one runs 0 (this is also the automatic rollback, spec §15); in test mode all 0.
    fn scale_to_active(&mut self) {
        let active = self.active();
        for rev in &self.obs.revisions {
            let target = if !self.dc.spec.test && Some(rev.version) == active {
                self.dc.spec.replicas
            } else {
                0
            };
            if rev.spec_replicas != target {
                self.actions
                    .push(Action::Update(RevisionUpdate::scale(rev, target)));
            }
        }
    }

    fn create_latest(&mut self, strategy: &EffectiveStrategy) {
        let version = self.status.latest_version;
        let name = keys::revision_name(&self.name(), version);
        if name.len() > keys::MAX_LABEL_VALUE {
            // The API server would refuse it on every pass: say why once, create nothing.
            self.set_progressing(condition(
                progress::PROGRESSING,
                "False",
                reason::RC_CREATE_ERROR,
                format!(
                    "cannot create revision {name:?}: its name, the value of its pods' {:?} label, has {} characters where at most {} fit; give the DeploymentConfig a shorter name",
                    keys::DEPLOYMENT_LABEL,
                    name.len(),
                    keys::MAX_LABEL_VALUE
                ),
            ));
            return;
        }
        match revision::replica_set_manifest(self.dc, version, &self.status) {
            Ok(mut manifest) => {
                let first = self.first_pass(&manifest, strategy);
                if let Some(first) = &first {
                    first.fold_into(&mut manifest);
                }
                self.actions.push(Action::CreateRevision {
                    name: name.clone(),
                    manifest,
                });
                self.event(Event::normal(
                    "DeploymentCreated",
                    format!("Created new replication controller {name:?} for version {version}"),
                ));
                if let Some(first) = first {
                    self.actions.extend(first.others);
                    self.requeue_after = first.requeue_after;
                }
                self.set_progressing(condition(
                    progress::PROGRESSING,
                    "True",
                    reason::NEW_RC_CREATED,
                    format!("Created new replication controller {name:?} for version {version}"),
                ));
            }
            Err(e) => self.set_progressing(condition(
                progress::PROGRESSING,
                "False",
                reason::RC_CREATE_ERROR,
                e.to_string(),
            )),
        }
    }

    /// The new revision's first rollout pass, planned as if it existed already. When that pass
    /// only scales revisions (no hook or deployer Job comes first) and the rollout goes on, the
    /// revision is created at its first step, as the Deployment controller creates its
    /// ReplicaSets, rather than at 0 and scaled a round trip later: under load that round trip
    /// puts the new pods behind every other controller's in the ReplicaSet controller's queue.
    fn first_pass(&self, manifest: &Value, strategy: &EffectiveStrategy) -> Option<FirstPass> {
        if strategy.runs_in_deployer() {
            return None;
        }
        let rs = serde_json::from_value(manifest.clone()).ok()?;
        let revision = Revision::from_replica_set(&rs, 0)?;
        let mut trial = Planner {
            actions: Vec::new(),
            ..self.clone()
        };
        trial.drive(&revision, strategy);
        if trial.latest_phase != Some((Phase::Running, false)) {
            return None;
        }
        let mut update = None;
        let mut others = Vec::new();
        for action in trial.actions {
            match action {
                Action::Update(u) if u.name == revision.name => update = Some(u),
                Action::Update(_) | Action::Event(_) => others.push(action),
                _ => return None,
            }
        }
        Some(FirstPass {
            update: update?,
            others,
            requeue_after: trial.requeue_after,
        })
    }

    /// Deletes the oldest revisions beyond revisionHistoryLimit (spec §19).
    fn prune(&mut self) {
        let Some(limit) = self.dc.spec.revision_history_limit else {
            return;
        };
        let limit = usize::try_from(limit).unwrap_or(0);
        let active = self.active();
        let latest = self.status.latest_version;
        let candidates: Vec<&Revision> = self
            .obs
            .revisions
            .iter()
            .filter(|r| match active {
                Some(a) => r.version < a,
                None => r.version != latest,
            })
            .collect();
        let excess = candidates.len().saturating_sub(limit);
        for rev in candidates
            .into_iter()
            .take(excess)
            .filter(|r| r.spec_replicas == 0)
        {
            self.actions.push(Action::DeleteRevision {
                name: rev.name.clone(),
            });
        }
    }

    fn finish(mut self) -> Decision {
        let dc = self.dc;
        progress::fill_counts(&mut self.status, &self.obs.revisions);
        self.status.observed_generation = dc.metadata.generation.unwrap_or(0);
        self.status.selector = Some(progress::selector_string(dc));
        self.status.triggered_by = progress::triggered_by(dc);
        progress::set_condition(
            &mut self.status.conditions,
            progress::available_condition(dc, self.status.available_replicas),
            self.now,
        );
        if let Some(latest) = self.latest().filter(|_| !self.progressing_set) {
            let (phase, cancelled) = self
                .latest_phase
                .unwrap_or((latest.phase, latest.cancelled));
            if let Some(c) = progress::progressing_condition(latest, phase, cancelled) {
                let progressed = self.status.updated_replicas > self.previous.updated_replicas
                    || self.status.replicas - self.status.updated_replicas
                        < self.previous.replicas - self.previous.updated_replicas;
                // OpenShift moves a running rollout's condition only when it sees progress: until
                // then NewReplicationControllerCreated stands. Any other condition (a retried
                // rollout's failure, an earlier rollout's success) gives way at once.
                let standing = self.status.conditions.iter().any(|c| {
                    c.type_ == progress::PROGRESSING
                        && c.status == "True"
                        && [reason::NEW_RC_CREATED, reason::RC_UPDATED].contains(&c.reason.as_str())
                });
                match phase {
                    Phase::Running if progressed => {
                        progress::replace_condition(&mut self.status.conditions, c, self.now)
                    }
                    Phase::Running if standing => {}
                    _ => progress::set_condition(&mut self.status.conditions, c, self.now),
                }
            }
        }
        progress::set_kstatus_conditions(&mut self.status.conditions, self.now);
        Decision {
            actions: self.actions,
            status: self.status,
            requeue_after: self.requeue_after,
        }
    }
}

fn cause(type_: &str) -> DeploymentCause {
    DeploymentCause {
        type_: type_.into(),
        image_trigger: None,
    }
}

/// The images of a template's containers. Init containers do not count: OpenShift's image
/// change detection (`hasUpdatedImages`) looks at containers only.
fn images(template: &Value) -> Vec<String> {
    crate::api::PodTemplate(template.clone())
        .containers()
        .iter()
        .filter(|c| !c.init)
        .map(|c| c.image.trim().to_string())
        .collect()
}

/// A new revision's first rollout pass, taken as it is created (`Planner::first_pass`).
struct FirstPass {
    /// What the pass changes on the new revision: its phase, clocks and replicas.
    update: RevisionUpdate,
    /// The rest: scaling old revisions down, events.
    others: Vec<Action>,
    requeue_after: Option<Duration>,
}

impl FirstPass {
    fn fold_into(&self, manifest: &mut Value) {
        if let Some(scale) = self.update.scale {
            manifest["spec"]["replicas"] = scale.to.into();
        }
        if let Some(annotations) = manifest["metadata"]["annotations"].as_object_mut() {
            for (key, value) in &self.update.annotations {
                match value {
                    Some(v) => annotations.insert(key.clone(), v.clone().into()),
                    None => annotations.remove(key),
                };
            }
        }
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
