//! Lifecycle hooks' vocabulary: where a hook runs, and the revision annotations that record how
//! it went. The planner writes them, the metrics count them, the plugin shows them.

use super::keys;

/// Where in a rollout a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HookPoint {
    Pre,
    Mid,
    Post,
}

impl HookPoint {
    /// In the order a rollout runs them.
    pub const ALL: [HookPoint; 3] = [HookPoint::Pre, HookPoint::Mid, HookPoint::Post];

    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::Pre => "pre",
            HookPoint::Mid => "mid",
            HookPoint::Post => "post",
        }
    }

    /// The hook a Job's `openshift.io/deployer-pod.type` label names (`hook-pre`, …).
    pub fn from_job_type(s: &str) -> Option<HookPoint> {
        match s {
            "hook-pre" => Some(HookPoint::Pre),
            "hook-mid" => Some(HookPoint::Mid),
            "hook-post" => Some(HookPoint::Post),
            _ => None,
        }
    }

    /// The revision annotation recording this hook's outcome (one of `outcome`).
    pub fn outcome_annotation(self) -> String {
        format!("{}/hook-{}", keys::PREFIX, self.as_str())
    }

    /// The revision annotation recording this hook's failure message.
    pub fn message_annotation(self) -> String {
        format!("{}/hook-{}-message", keys::PREFIX, self.as_str())
    }

    /// The revision annotation where the shell records how a tagImages hook's writes went:
    /// `outcome::SUCCEEDED`, or why not.
    pub fn tag_result_annotation(self) -> String {
        format!("{}/hook-{}-tagged", keys::PREFIX, self.as_str())
    }
}

/// A hook's outcome, as recorded on its revision (`HookPoint::outcome_annotation`).
pub mod outcome {
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
    /// Failed under `failurePolicy: Ignore`: the rollout went on.
    pub const IGNORED: &str = "FailedIgnored";
}
