//! Rung: the latest revision does not exist yet: create its ReplicaSet — at its first step when
//! nothing must run first.

use std::time::Duration;

use serde_json::Value;

use crate::api::conditions::{PROGRESSING, reason};
use crate::api::defaults::EffectiveStrategy;
use crate::api::events;
use crate::api::keys;

use super::pass::{Moved, Pass};
use super::status::condition;
use super::{Action, Event, Observed, Phase, Revision, RevisionUpdate, drive, revision};

pub(super) fn create_latest(obs: &Observed, pass: &mut Pass, strategy: &EffectiveStrategy) {
    let version = pass.status.latest_version;
    let name = keys::revision_name(&obs.name(), version);
    if name.len() > keys::MAX_LABEL_VALUE {
        // The API server would refuse it on every pass: say why once, create nothing.
        pass.set_progressing(condition(
            PROGRESSING,
            "False",
            reason::RC_CREATE_ERROR,
            format!(
                "cannot create revision {name:?}: its name, the value of its pods' {:?} label, has {} characters where at most {} fit; give the DeploymentConfig a shorter name",
                keys::POD_REVISION_LABEL,
                name.len(),
                keys::MAX_LABEL_VALUE
            ),
        ));
        return;
    }
    let mut manifest = match revision::replica_set_manifest(&obs.dc, version, &pass.status) {
        Ok(manifest) => manifest,
        Err(e) => {
            let c = condition(PROGRESSING, "False", reason::RC_CREATE_ERROR, e.to_string());
            pass.set_progressing(c);
            return;
        }
    };
    // The ConfigMaps and Secrets it runs with, for config triggers and history.
    if let Some(hashes) = super::config_triggers::revision_hashes(obs)
        && let Some(annotations) = manifest["metadata"]["annotations"].as_object_mut()
    {
        annotations.insert(keys::CONFIG_HASHES_ANNOTATION.into(), hashes.into());
    }
    let first = first_pass(obs, pass, &manifest, strategy);
    if let Some(first) = &first {
        first.fold_into(&mut manifest);
    }
    pass.actions.push(Action::CreateRevision {
        name: name.clone(),
        manifest,
    });
    let message = format!("Created new replication controller {name:?} for version {version}");
    pass.event(Event::normal(events::DEPLOYMENT_CREATED, message.clone()));
    if let Some(first) = first {
        pass.actions.extend(first.others);
        pass.requeue_after = first.requeue_after;
    }
    pass.set_progressing(condition(
        PROGRESSING,
        "True",
        reason::NEW_RC_CREATED,
        message,
    ));
}

/// A new revision's first rollout pass, taken as it is created.
struct FirstPass {
    /// What the pass changes on the new revision: its phase, clocks and replicas.
    update: RevisionUpdate,
    /// The rest: scaling old revisions down, events.
    others: Vec<Action>,
    requeue_after: Option<Duration>,
}

/// The new revision's first rollout pass, planned on a scratch pass as if it existed already.
/// When that pass only scales revisions (no hook or deployer Job comes first) and the rollout
/// goes on, the revision is created at its first step, as the Deployment controller creates its
/// ReplicaSets, rather than at 0 and scaled a round trip later: under load that round trip puts
/// the new pods behind every other controller's in the ReplicaSet controller's queue.
fn first_pass(
    obs: &Observed,
    pass: &Pass,
    manifest: &Value,
    strategy: &EffectiveStrategy,
) -> Option<FirstPass> {
    if strategy.runs_in_deployer() {
        return None;
    }
    let rs = serde_json::from_value(manifest.clone()).ok()?;
    let revision = Revision::from_replica_set(&rs, 0)?;
    let mut trial = pass.scratch();
    drive::drive(obs, &mut trial, &revision, strategy);
    if trial.latest_moved != Some(Moved::to(Phase::Running)) {
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
