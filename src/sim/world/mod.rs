//! The simulated cluster (the analogue of quinn-proto's test `Pair`): ReplicaSets that create
//! and delete pods, pods that become ready after a delay (or never), hook Jobs that succeed or
//! fail after a delay, and the operator's real `strategy::plan` driven over them second by
//! second on a virtual clock. Only the cluster is simulated; nothing of the planner is.
//!
//! Here the world's state and how it is driven; `cluster` the objects and the ReplicaSet
//! controller; `shell` what the operator's shell and the API server make of the actions.

mod cluster;
mod shell;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::api::{DeploymentConfig, DeploymentConfigSpec, PodTemplate, keys};
use crate::strategy::Until;
use crate::strategy::deployer::plan::{self as until, DeployDecision};
use crate::strategy::{self, Decision, DeployerJob, HookJob, Observed, Revision};

pub use cluster::{HookRun, Pod, Readiness, Rs, SimJob};

/// The simulated cluster around one DeploymentConfig, and how it behaves.
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
    /// The most pods (terminating included) and the most pods not terminating at any instant of
    /// the last second the cluster moved (`tick_cluster`).
    pub peak_pods: i32,
    pub peak_running: i32,
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
            peak_pods: 0,
            peak_running: 0,
        }
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

    pub fn observed(&self) -> Observed {
        let mut revisions: Vec<Revision> = self
            .rss
            .iter()
            .filter_map(|rs| {
                Revision::from_replica_set(&rs.replica_set(self.now)?, rs.pods.len() as i32)
            })
            .collect();
        revisions.sort_by_key(|r| r.version);
        let hook_jobs = self
            .jobs
            .iter()
            .filter_map(|j| HookJob::from_job(&j.job(self.now)?))
            .collect();
        let deployer_jobs = self
            .jobs
            .iter()
            .filter_map(|j| DeployerJob::from_job(&j.job(self.now)?))
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
