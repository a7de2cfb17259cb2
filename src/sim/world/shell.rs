//! What the operator's shell and the API server make of the planner's actions in the simulated
//! cluster: each carried out as they would, or, when the cluster cannot (a revision created
//! twice, a scale from a count it does not have), an anomaly: a planner bug.

use serde_json::{Value, json};

use super::{HookRun, Rs, SimJob, World};
use crate::api::PodTemplate;
use crate::strategy::{Action, Decision, RevisionUpdate};

impl World {
    /// Records what the planner asked for that the cluster could not do.
    fn anomaly(&mut self, what: String) {
        assert!(!self.strict, "{what}");
        self.anomalies.push(what);
    }

    pub(super) fn apply(&mut self, decision: &Decision) {
        self.apply_actions(&decision.actions);
        self.dc.status = Some(decision.status.clone());
    }

    pub(super) fn apply_actions(&mut self, actions: &[Action]) {
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
            Action::Update(u) => self.update(u)?,
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

    /// A revision's ReplicaSet patched: its replicas (from what it asks for: anything else is a
    /// planner bug), its annotations.
    fn update(&mut self, u: &RevisionUpdate) -> Result<(), String> {
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
}
