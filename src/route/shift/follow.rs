//! What a shift reads of the DeploymentConfig it follows, written once for the reconcile and for
//! the wakeup that a change of that DeploymentConfig brings.

use crate::api::route::ShiftStatus;

/// The DeploymentConfig a shift follows, as the shell read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Followed {
    pub latest_version: i64,
    /// Its latest rollout is Complete.
    pub complete: bool,
    /// Its latest revision is a rollback (a shift's own, or `rollout undo`): old code, which
    /// starts no shift toward it.
    pub rollback: bool,
}

impl Followed {
    /// What a shift reads of the DeploymentConfig it follows.
    pub fn of(dc: &crate::api::DeploymentConfig) -> Followed {
        use crate::api::conditions::{RolloutState, rollout_state};
        let status = dc.status.as_ref();
        Followed {
            latest_version: status.map_or(0, |s| s.latest_version),
            complete: matches!(rollout_state(dc), RolloutState::Done(_)),
            rollback: status.is_some_and(crate::api::requests::latest_is_rollback),
        }
    }

    /// Whether it is rolling out a revision newer than `seen` (the one the shift ran for): the
    /// pods a check would judge are a mix of revisions, so the shift halts until it completes
    /// (Flagger's rule), then starts over for it.
    pub fn in_flight(&self, seen: i64) -> bool {
        self.latest_version > seen && !self.complete && !self.rollback
    }

    /// Whether it may move a shift that has seen revision `seen`: a newer completed rollout
    /// starts a shift, a newer rollback ends one.
    pub fn moves(&self, seen: i64) -> bool {
        self.latest_version > seen && (self.complete || self.rollback)
    }
}

/// The newest revision of DeploymentConfig `name` the shift at `status` has seen.
pub fn seen(status: Option<&ShiftStatus>, name: &str) -> i64 {
    status
        .and_then(|s| {
            // An earlier cutover's one followed DeploymentConfig.
            let legacy = s.deployment_config_version;
            s.deployment_config_versions.get(name).copied().or(legacy)
        })
        .unwrap_or(0)
}
