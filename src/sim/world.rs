//! The simulated cluster (the analogue of quinn-proto's test `Pair`): ReplicaSets that create
//! and delete pods, pods that become ready after a delay (or never), hook Jobs that succeed or
//! fail after a delay, and the operator's real `strategy::plan` driven over them second by
//! second on a virtual clock. Only the cluster is simulated; nothing of the planner is.

use std::collections::BTreeMap;

use crate::api::{DeploymentConfig, DeploymentConfigSpec, PodTemplate, keys};
use crate::strategy::Until;
use crate::strategy::deployer::plan::{self as until, DeployDecision};
use crate::strategy::{self, Action, Decision, DeployerJob, HookJob, Observed, Revision};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Pod {
    pub ready_at: Option<Timestamp>,
    /// Set once deleted: it still exists until then.
    pub gone_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct Rs {
    pub manifest: Value,
    pub spec: i32,
    pub generation: i64,
    pub observed_generation: i64,
    pub pods: Vec<Pod>,
    pub created: Timestamp,
    /// When its spec last changed (the ReplicaSet controller acts on it `replica_set_lag` later).
    pub changed_at: Timestamp,
}

impl Rs {
    pub fn name(&self) -> String {
        self.manifest["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn annotation(&self, key: &str) -> Option<String> {
        self.manifest["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_string)
    }
    pub fn live(&self) -> impl Iterator<Item = &Pod> {
        self.pods.iter().filter(|p| p.gone_at.is_none())
    }
    /// Its minReadySeconds, as the revision records it (each revision its own).
    pub fn min_ready(&self) -> SignedDuration {
        SignedDuration::from_secs(
            self.manifest["spec"]["minReadySeconds"]
                .as_i64()
                .unwrap_or(0),
        )
    }
    /// Its pods that are not terminating and have been ready for its minReadySeconds at `now`.
    pub fn available(&self, now: Timestamp) -> i32 {
        let min_ready = self.min_ready();
        self.live()
            .filter(|p| p.ready_at.is_some_and(|t| t + min_ready <= now))
            .count() as i32
    }
}

/// How a hook's (or deployer's) Job behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRun {
    SucceedAfter(i64),
    FailAfter(i64),
    /// Runs until the test ends it (`World::exit_job`): a deployer whose process the test runs.
    Manual,
}

#[derive(Debug, Clone)]
pub struct SimJob {
    pub manifest: Value,
    pub created: Timestamp,
    pub run: HookRun,
}

impl SimJob {
    pub fn name(&self) -> String {
        self.manifest["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn point(&self) -> String {
        self.manifest["metadata"]["labels"][keys::DEPLOYER_POD_TYPE_LABEL]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn revision(&self) -> String {
        self.manifest["metadata"]["labels"][keys::DEPLOYER_POD_FOR_LABEL]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// How the pods of a revision behave.
#[derive(Debug, Clone, Copy)]
pub enum Readiness {
    After(i64),
    Never,
    /// At most `pods` of the revision's pods become ready (after `after` seconds); the others
    /// never do, as when only that many fit on the nodes.
    AtMost {
        pods: usize,
        after: i64,
    },
}

pub struct World {
    pub now: Timestamp,
    pub dc: DeploymentConfig,
    pub rss: Vec<Rs>,
    /// Readiness of the pods of each revision (default: after `ready_after`).
    pub readiness: BTreeMap<i64, Readiness>,
    pub decisions: Vec<Decision>,
    pub generation: i64,
    /// Hook Jobs that exist, and every creation ever made (to prove "exactly once").
    pub jobs: Vec<SimJob>,
    pub job_creations: Vec<String>,
    /// How each hook Job behaves, by its name (default: succeeds after 2 s).
    pub hook_runs: BTreeMap<String, HookRun>,
    /// Times (virtual) at which each hook Job was created, by name.
    pub job_created_at: BTreeMap<String, Timestamp>,
    /// The API server refuses deployer Jobs (as for a forbidden or invalid Job): the operator's
    /// shell then applies nothing more of that pass.
    pub refuse_deployer_jobs: bool,
    /// How long a deleted pod takes to go (default: 1 s).
    pub termination_seconds: i64,
    /// Images tagged by tagImages hooks, in order; and the refusal the API server answers
    /// them with (None: it accepts them).
    pub tagged: Vec<strategy::ImageTag>,
    pub refuse_tags: Option<String>,
    /// How long the ReplicaSet controller takes to act on a changed spec (default: 0, at the next
    /// tick). Meanwhile the ReplicaSet reports an older observedGeneration and its pods do not
    /// follow, as when the controller is busy.
    pub replica_set_lag: i64,
    /// The hashes of the ConfigMaps and Secrets the DeploymentConfig follows, as the shell reads
    /// them (`Kind/name` → hash; `None`: it does not exist).
    pub configs: strategy::config_triggers::ConfigHashes,
    /// What the planner asked for that the cluster could not do (a revision created twice, a
    /// scale from a count it does not have): planner bugs. A strict world (the tests') panics
    /// on the first; the rollout plan reports them.
    pub anomalies: Vec<String>,
    pub strict: bool,
    /// The events the planner recorded, with when.
    pub events: Vec<(Timestamp, strategy::Event)>,
    /// How long a hook Job without an entry in `hook_runs` runs before it succeeds (default 2 s).
    pub hook_seconds: i64,
    /// How long a pod of a revision without an entry in `readiness` takes to become ready
    /// (default 2 s).
    pub ready_after: i64,
    /// The operator's `--deployer-image`.
    pub deployer_image: String,
}

pub fn template(image: &str) -> PodTemplate {
    PodTemplate(json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": image}]}
    }))
}

pub fn dc(spec: DeploymentConfigSpec) -> DeploymentConfig {
    let mut dc = DeploymentConfig::new("web", spec);
    dc.metadata.namespace = Some("ns".into());
    dc.metadata.uid = Some("uid-web".into());
    dc.metadata.generation = Some(1);
    dc
}

impl World {
    pub fn new(dc: DeploymentConfig) -> Self {
        World {
            now: Timestamp::from_second(1_700_000_000).expect("valid"),
            dc,
            rss: Vec::new(),
            readiness: BTreeMap::new(),
            decisions: Vec::new(),
            generation: 1,
            jobs: Vec::new(),
            job_creations: Vec::new(),
            hook_runs: BTreeMap::new(),
            job_created_at: BTreeMap::new(),
            refuse_deployer_jobs: false,
            tagged: Vec::new(),
            refuse_tags: None,
            termination_seconds: 1,
            replica_set_lag: 0,
            configs: Default::default(),
            anomalies: Vec::new(),
            strict: true,
            events: Vec::new(),
            hook_seconds: 2,
            ready_after: 2,
            deployer_image: "registry.example/cutover:test".into(),
        }
    }

    /// Records what the planner asked for that the cluster could not do.
    fn anomaly(&mut self, what: String) {
        assert!(!self.strict, "{what}");
        self.anomalies.push(what);
    }

    /// Sets a request annotation, as `kubectl dc` or a GitOps repository would.
    pub fn annotate(&mut self, key: &str, value: &str) {
        self.dc
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
    }

    /// The recorded outcome of the last request of `kind`: (token, outcome, message).
    pub fn request(&self, kind: &str) -> Option<(String, String, String)> {
        let r = self
            .dc
            .status
            .as_ref()?
            .requests
            .iter()
            .find(|r| r.kind == kind)?;
        Some((r.token.clone(), r.outcome.clone(), r.message.clone()))
    }

    /// Edits the spec as a user would (the generation moves).
    pub fn edit(&mut self, f: impl FnOnce(&mut DeploymentConfigSpec)) {
        f(&mut self.dc.spec);
        self.generation += 1;
        self.dc.metadata.generation = Some(self.generation);
    }

    pub fn version_of(rs: &Rs) -> i64 {
        rs.annotation(keys::LATEST_VERSION_ANNOTATION)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn replica_set(&self, rs: &Rs) -> Option<ReplicaSet> {
        let mut obj: ReplicaSet = serde_json::from_value(rs.manifest.clone()).ok()?;
        obj.metadata.generation = Some(rs.generation);
        obj.metadata.creation_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(rs.created),
        );
        if let Some(spec) = obj.spec.as_mut() {
            spec.replicas = Some(rs.spec);
        }
        let ready = rs
            .live()
            .filter(|p| p.ready_at.is_some_and(|t| t <= self.now))
            .count() as i32;
        let available = rs.available(self.now);
        obj.status = Some(k8s_openapi::api::apps::v1::ReplicaSetStatus {
            replicas: rs.live().count() as i32,
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            observed_generation: Some(rs.observed_generation),
            ..Default::default()
        });
        Some(obj)
    }

    fn job(&self, j: &SimJob) -> Option<Job> {
        let mut job: Job = serde_json::from_value(j.manifest.clone()).ok()?;
        let (done, failed) = match j.run {
            HookRun::SucceedAfter(s) => {
                (j.created + SignedDuration::from_secs(s) <= self.now, false)
            }
            HookRun::FailAfter(s) => (j.created + SignedDuration::from_secs(s) <= self.now, true),
            HookRun::Manual => (false, false),
        };
        // Its pod runs (is ready) a second after the Job is created.
        if !done && j.created + SignedDuration::from_secs(1) <= self.now {
            job.status = serde_json::from_value(json!({"active": 1, "ready": 1})).ok();
        }
        if done {
            let condition = if failed {
                json!({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"})
            } else {
                json!({"type": "Complete", "status": "True"})
            };
            job.status = serde_json::from_value(json!({"conditions": [condition]})).ok();
        }
        Some(job)
    }

    pub fn observed(&self) -> Observed {
        let mut revisions: Vec<Revision> = self
            .rss
            .iter()
            .filter_map(|rs| {
                Revision::from_replica_set(&self.replica_set(rs)?, rs.pods.len() as i32)
            })
            .collect();
        revisions.sort_by_key(|r| r.version);
        let hook_jobs = self
            .jobs
            .iter()
            .filter_map(|j| HookJob::from_job(&self.job(j)?))
            .collect();
        let deployer_jobs = self
            .jobs
            .iter()
            .filter_map(|j| DeployerJob::from_job(&self.job(j)?))
            .collect();
        Observed {
            dc: self.dc.clone(),
            revisions,
            orphans: vec![],
            released: vec![],
            hook_jobs,
            deployer_jobs,
            deployer_image: self.deployer_image.clone(),
            configs: self.configs.clone(),
        }
    }

    /// The ReplicaSet controller and the pods: one second of the world.
    fn tick_cluster(&mut self) {
        let now = self.now;
        let termination = SignedDuration::from_secs(self.termination_seconds);
        let lag = SignedDuration::from_secs(self.replica_set_lag);
        for rs in &mut self.rss {
            rs.pods.retain(|p| p.gone_at.is_none_or(|t| t > now));
            if now < rs.changed_at + lag {
                continue;
            }
            let version = World::version_of(rs);
            let live = rs.live().count() as i32;
            if live < rs.spec {
                let readiness = self
                    .readiness
                    .get(&version)
                    .copied()
                    .unwrap_or(Readiness::After(self.ready_after));
                let mut schedulable = rs.live().filter(|p| p.ready_at.is_some()).count();
                for _ in live..rs.spec {
                    let ready_at = match readiness {
                        Readiness::After(s) => Some(now + SignedDuration::from_secs(s)),
                        Readiness::Never => None,
                        Readiness::AtMost { pods, after } if schedulable < pods => {
                            schedulable += 1;
                            Some(now + SignedDuration::from_secs(after))
                        }
                        Readiness::AtMost { .. } => None,
                    };
                    rs.pods.push(Pod {
                        ready_at,
                        gone_at: None,
                    });
                }
            } else if live > rs.spec {
                // Like the ReplicaSet controller: not-ready pods go first, then those ready for
                // the shortest time; deletion takes `termination_seconds`.
                let mut excess = live - rs.spec;
                let mut order: Vec<usize> = (0..rs.pods.len())
                    .filter(|&i| rs.pods[i].gone_at.is_none())
                    .collect();
                order.sort_by_key(|&i| match rs.pods[i].ready_at {
                    Some(t) if t <= now => (1, std::cmp::Reverse(t)),
                    _ => (0, std::cmp::Reverse(now)),
                });
                for i in order {
                    if excess == 0 {
                        break;
                    }
                    rs.pods[i].gone_at = Some(now + termination);
                    excess -= 1;
                }
            }
            rs.observed_generation = rs.generation;
        }
    }

    fn apply(&mut self, decision: &Decision) {
        self.apply_actions(&decision.actions);
        self.dc.status = Some(decision.status.clone());
    }

    fn apply_actions(&mut self, actions: &[Action]) {
        for action in actions {
            // The API server refuses it: the shell applies nothing more of that pass.
            if self.refuse_deployer_jobs && matches!(action, Action::CreateDeployerJob { .. }) {
                break;
            }
            if let Err(what) = self.apply_action(action) {
                self.anomaly(what);
            }
        }
    }

    /// Carries out one action as the API server and the shell would; `Err` says what the
    /// cluster could not do.
    fn apply_action(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::CreateRevision { name, manifest } => {
                if self.rss.iter().any(|r| &r.name() == name) {
                    return Err(format!("{name} created twice"));
                }
                self.rss.push(Rs {
                    manifest: manifest.clone(),
                    spec: manifest["spec"]["replicas"].as_i64().unwrap_or(0) as i32,
                    generation: 1,
                    observed_generation: 0,
                    pods: vec![],
                    created: self.now,
                    changed_at: self.now,
                });
            }
            Action::Update(u) => {
                let now = self.now;
                let rs = self.rs_mut(&u.name)?;
                if let Some(scale) = u.scale {
                    if scale.from != rs.spec {
                        return Err(format!(
                            "scale of {} from {} while it asks for {}",
                            u.name, scale.from, rs.spec
                        ));
                    }
                    if scale.to != rs.spec {
                        rs.spec = scale.to;
                        rs.generation += 1;
                        rs.changed_at = now;
                    }
                }
                let ann = &mut rs.manifest["metadata"]["annotations"];
                if !ann.is_object() {
                    *ann = json!({});
                }
                for (k, v) in &u.annotations {
                    match v {
                        Some(v) => ann[k] = Value::String(v.clone()),
                        None => {
                            if let Some(map) = ann.as_object_mut() {
                                map.remove(k);
                            }
                        }
                    }
                }
            }
            Action::DeleteRevision { name } => {
                // Background deletion: the revision's hook Jobs go with it.
                self.rss.retain(|r| &r.name() != name);
                self.jobs.retain(|j| &j.revision() != name);
            }
            Action::CreateJob { name, manifest } => {
                if self.jobs.iter().any(|j| &j.name() == name) {
                    return Err(format!("{name}: created while it exists"));
                }
                let run = self
                    .hook_runs
                    .get(name)
                    .copied()
                    .unwrap_or(HookRun::SucceedAfter(self.hook_seconds));
                self.create_job(name, manifest, run);
            }
            Action::CreateDeployerJob { name, manifest, .. } => {
                // Created again while it exists: the API server's AlreadyExists, re-attached.
                if self.jobs.iter().all(|j| &j.name() != name) {
                    let run = self.hook_runs.get(name).copied().unwrap_or(HookRun::Manual);
                    self.create_job(name, manifest, run);
                }
            }
            Action::DeleteJob { name } => self.jobs.retain(|j| &j.name() != name),
            // As the shell: the tags are written (or refused), then the result recorded.
            Action::TagImages {
                revision,
                point,
                tags,
            } => {
                let result = match &self.refuse_tags {
                    Some(why) => why.clone(),
                    None => {
                        self.tagged.extend(tags.iter().cloned());
                        "Succeeded".to_string()
                    }
                };
                let rs = self.rs_mut(revision)?;
                rs.manifest["metadata"]["annotations"][point.tag_result_annotation()] =
                    Value::String(result);
            }
            Action::RollBackConfig { template, triggers } => {
                self.dc.spec.template = PodTemplate(template.clone());
                if let Some(t) = triggers {
                    self.dc.spec.triggers = serde_json::from_value(t.clone())
                        .map_err(|e| format!("the rollback's triggers do not parse: {e}"))?;
                }
                self.generation += 1;
                self.dc.metadata.generation = Some(self.generation);
            }
            Action::Event(event) => self.events.push((self.now, event.clone())),
            Action::Adopt { .. } | Action::Release { .. } => {}
        }
        Ok(())
    }

    fn rs_mut(&mut self, name: &str) -> Result<&mut Rs, String> {
        self.rss
            .iter_mut()
            .find(|r| r.name() == name)
            .ok_or_else(|| format!("{name} does not exist"))
    }

    fn create_job(&mut self, name: &str, manifest: &Value, run: HookRun) {
        self.job_creations.push(name.to_string());
        self.job_created_at.insert(name.to_string(), self.now);
        self.jobs.push(SimJob {
            manifest: manifest.clone(),
            created: self.now,
            run,
        });
    }

    /// Ends a Job whose process exited (with success or not), now; false if there is none.
    pub fn end_job(&mut self, name: &str, success: bool) -> bool {
        let now = self.now;
        let Some(job) = self.jobs.iter_mut().find(|j| j.name() == name) else {
            return false;
        };
        job.created = now;
        job.run = if success {
            HookRun::SucceedAfter(0)
        } else {
            HookRun::FailAfter(0)
        };
        true
    }

    /// One pass of `cutover deploy` for revision `rc` (the deployer's planner), applied.
    pub fn deploy_pass(&mut self, rc: &str, until: Option<Until>) -> DeployDecision {
        let decision = until::plan(&self.observed(), rc, until, self.now);
        self.apply_actions(&decision.actions);
        decision
    }

    /// A condition of the DeploymentConfig as (status, reason, message).
    pub fn condition(&self, type_: &str) -> Option<(String, String, String)> {
        self.dc
            .status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    }

    /// Why the latest rollout started (`status.details`).
    pub fn details(&self) -> Option<crate::api::DeploymentDetails> {
        self.dc.status.as_ref()?.details.clone()
    }

    /// The ReplicaSet of revision `version`.
    pub fn revision(&self, version: i64) -> Option<&Rs> {
        self.rss.iter().find(|r| World::version_of(r) == version)
    }

    /// The annotation `key` of revision `version`.
    pub fn annotation_of(&self, version: i64, key: &str) -> Option<String> {
        self.revision(version).and_then(|r| r.annotation(key))
    }

    pub fn sim_job(&self, name: &str) -> Option<&SimJob> {
        self.jobs.iter().find(|j| j.name() == name)
    }

    /// One reconcile at the current time: plan and apply.
    pub fn reconcile(&mut self) -> Decision {
        let decision = strategy::plan(&self.observed(), self.now);
        self.apply(&decision);
        self.decisions.push(decision.clone());
        decision
    }

    /// One second in which the operator is down: only the cluster moves.
    pub fn tick_only(&mut self) {
        self.now += SignedDuration::from_secs(1);
        self.tick_cluster();
    }

    /// One second: the cluster moves, then the operator reconciles (twice, as watch events
    /// would wake it more than once).
    pub fn step(&mut self) -> Decision {
        self.now += SignedDuration::from_secs(1);
        self.tick_cluster();
        self.reconcile();
        self.reconcile()
    }

    pub fn phase(&self, version: i64) -> Option<String> {
        self.annotation_of(version, keys::PHASE_ANNOTATION)
    }

    pub fn spec_of(&self, version: i64) -> Option<i32> {
        self.revision(version).map(|r| r.spec)
    }

    pub fn latest_version(&self) -> i64 {
        self.dc.status.as_ref().map_or(0, |s| s.latest_version)
    }

    /// Pods of every revision that exist (terminating included).
    pub fn total_pods(&self) -> i32 {
        self.rss.iter().map(|r| r.pods.len() as i32).sum()
    }

    /// Pods of every revision that exist and are not terminating.
    pub fn running_pods(&self) -> i32 {
        self.rss.iter().map(|r| r.live().count() as i32).sum()
    }

    /// Replicas the revisions ask for.
    pub fn spec_total(&self) -> i32 {
        self.rss.iter().map(|r| r.spec).sum()
    }

    pub fn available_pods(&self) -> i32 {
        self.rss.iter().map(|r| r.available(self.now)).sum()
    }

    /// Per revision the larger of the replicas asked for and the pods it has (all of them, or
    /// those not terminating): what a rollout starts with, committed by earlier decisions.
    pub fn committed_pods(&self, terminating_included: bool) -> i32 {
        self.rss
            .iter()
            .map(|r| {
                let pods = if terminating_included {
                    r.pods.len()
                } else {
                    r.live().count()
                };
                r.spec.max(pods as i32)
            })
            .sum()
    }

    /// Available pods that their ReplicaSet still wants (per revision, at most its spec).
    pub fn available_pods_wanted(&self) -> i32 {
        self.rss
            .iter()
            .map(|r| r.available(self.now).min(r.spec))
            .sum()
    }

    /// Steps until `done` holds, at most `limit` seconds; checks `invariant` after every step.
    pub fn run_until(
        &mut self,
        limit: i64,
        mut done: impl FnMut(&World) -> bool,
        mut invariant: impl FnMut(&World),
    ) -> bool {
        for _ in 0..limit {
            self.step();
            invariant(self);
            if done(self) {
                return true;
            }
        }
        false
    }
}
