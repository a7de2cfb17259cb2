//! What a `kubectl dc` command shows or acts on, chosen from what was read: pure, no client.
//! Revisions are the operator's own observation, so every command sees the revisions the
//! operator sees and `rollout undo --dry-run` names the target the operator would roll back to.

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;

use super::CliError;
use crate::api::route::Route;
use crate::api::{DeploymentConfig, DeploymentTriggerPolicy, TRIGGER_CONFIG_CHANGE};
use crate::strategy::Revision;
use crate::strategy::observe;
use crate::strategy::requests::rollback_target;

/// The revisions of `dc` among `replica_sets`, oldest first: those it controls (by owner
/// reference) and labels, as the operator observes them.
pub fn observed_revisions(dc: &DeploymentConfig, replica_sets: &[ReplicaSet]) -> Vec<Revision> {
    observe::build(dc, replica_sets, std::iter::empty(), std::iter::empty(), "").revisions
}

/// The revision a rollback to `to` (0: the newest Complete one before the latest) goes back to,
/// as the operator chooses it.
pub fn undo_target<'r>(
    dc: &DeploymentConfig,
    revisions: &'r [Revision],
    to: i64,
) -> Result<&'r Revision, CliError> {
    let latest = dc.status.as_ref().map_or(0, |s| s.latest_version);
    let (name, ns) = (dc.name_any(), dc.namespace().unwrap_or_default());
    rollback_target(&name, &ns, latest, revisions, to).map_err(CliError::User)
}

/// The weights a `route set-weights` or `route switch` leaves: (service, weight) for each of the
/// Route's backends, in order; an unknown service is an error (a Route's backends are not
/// added or removed here).
pub fn new_weights(route: &Route, set: &[(String, i32)]) -> Result<Vec<(String, i32)>, CliError> {
    let names: Vec<String> = crate::route::backends(route)
        .iter()
        .map(|b| b.name.clone())
        .collect();
    for (name, weight) in set {
        if !names.contains(name) {
            return Err(CliError::User(format!(
                "service {name:?} is not a backend of route {:?} (backends: {})",
                route.name_any(),
                names.join(", ")
            )));
        }
        if !(0..=256).contains(weight) {
            return Err(CliError::User(format!(
                "weight {weight} for {name:?} is not between 0 and 256"
            )));
        }
    }
    Ok(crate::route::backends(route)
        .iter()
        .map(|b| {
            let w = set
                .iter()
                .find(|(n, _)| n == &b.name)
                .map_or(b.effective_weight(), |(_, w)| *w);
            (b.name.clone(), w)
        })
        .collect())
}

/// `route switch` (blue-green): all traffic to `service`, at its current weight (100 when it
/// had none), every other backend at 0.
pub fn switch_weights(route: &Route, service: &str) -> Result<Vec<(String, i32)>, CliError> {
    let backends = crate::route::backends(route);
    let current = backends
        .iter()
        .find(|b| b.name == service)
        .map(|b| b.effective_weight());
    let weight = match current {
        Some(w) if w > 0 => w,
        _ => 100,
    };
    if current.is_none() {
        // Let new_weights name the backends in its error.
        new_weights(route, &[(service.to_string(), weight)])?;
    }
    let set: Vec<(String, i32)> = backends
        .iter()
        .map(|b| (b.name.clone(), if b.name == service { weight } else { 0 }))
        .collect();
    new_weights(route, &set)
}

/// `set triggers --auto` / `--manual`, as `oc set triggers` resets them: with `--auto` the
/// ConfigChange trigger is there (first, added if missing) and every ImageChange trigger is
/// automatic; with `--manual` the ConfigChange trigger is gone and none is automatic.
pub fn reset_triggers(dc: &DeploymentConfig, auto: bool) -> Vec<DeploymentTriggerPolicy> {
    let triggers = dc.spec.triggers.clone().unwrap_or_else(|| {
        vec![DeploymentTriggerPolicy {
            type_: TRIGGER_CONFIG_CHANGE.into(),
            image_change_params: None,
        }]
    });
    let mut out: Vec<_> = triggers
        .into_iter()
        .filter(|t| t.type_ != TRIGGER_CONFIG_CHANGE)
        .map(|mut t| {
            if let Some(p) = t.image_change_params.as_mut() {
                p.automatic = auto;
            }
            t
        })
        .collect();
    if auto {
        out.insert(
            0,
            DeploymentTriggerPolicy {
                type_: TRIGGER_CONFIG_CHANGE.into(),
                image_change_params: None,
            },
        );
    }
    out
}
