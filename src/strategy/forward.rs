//! Roll-forward-only revisions (cutover's own, opt-in): a DeploymentConfig that declares hooks
//! irreversible (`cutover.io/irreversible-hooks: "mid"`, a comma-separated list of pre, mid,
//! post) never returns, by itself or on request, to a revision older than the newest one whose
//! irreversible hook succeeded — the code before a forward-only migration cannot read the schema
//! after it (kubernetes/kubernetes#14512). A failure after the hook fails forward: that revision
//! keeps the replicas it reached. `kubectl dc rollout undo --force-past-migration` overrides it.

use crate::api::hooks::{HookPoint, outcome};
use crate::api::keys;

use super::{Observed, Revision};

/// The hook points the DeploymentConfig declares irreversible.
pub fn irreversible(obs: &Observed) -> Vec<HookPoint> {
    obs.dc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(keys::IRREVERSIBLE_HOOKS_ANNOTATION))
        .map(|list| {
            HookPoint::ALL
                .into_iter()
                .filter(|p| {
                    list.split(',')
                        .any(|s| s.trim().eq_ignore_ascii_case(p.as_str()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The newest revision whose irreversible hook succeeded, and that hook: no older revision may
/// run again.
pub fn fence(obs: &Observed) -> Option<(&Revision, HookPoint)> {
    let points = irreversible(obs);
    obs.revisions.iter().rev().find_map(|r| {
        points
            .iter()
            .find(|p| {
                r.annotations
                    .get(&p.outcome_annotation())
                    .map(String::as_str)
                    == Some(outcome::SUCCEEDED)
            })
            .map(|p| (r, *p))
    })
}

/// Why going back to `target` is refused, if it is.
pub fn refusal(obs: &Observed, target: i64) -> Option<String> {
    let (fence, point) = fence(obs)?;
    (target < fence.version).then(|| {
        format!(
            "revision {} ran the irreversible {} hook: revision {target} is older and may not run again; roll forward with a new revision, or force it with `kubectl dc rollout undo --force-past-migration` (annotation {}: \"true\")",
            fence.version,
            point.as_str(),
            keys::FORCE_PAST_MIGRATION_ANNOTATION
        )
    })
}
