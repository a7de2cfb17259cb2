//! Rung: revision history. The oldest revisions beyond revisionHistoryLimit that run nothing are
//! deleted (their pods and hook Jobs go with them); the active one and newer ones are kept.

use super::pass::Pass;
use super::{Action, Observed, Revision};

pub(super) fn prune(obs: &Observed, pass: &mut Pass) {
    let Some(limit) = obs.dc.spec.revision_history_limit else {
        return;
    };
    let limit = usize::try_from(limit).unwrap_or(0);
    let active = obs.active();
    let latest = pass.status.latest_version;
    let candidates: Vec<&Revision> = obs
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
        pass.actions.push(Action::DeleteRevision {
            name: rev.name.clone(),
        });
    }
}
