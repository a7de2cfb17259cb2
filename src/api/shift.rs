//! A traffic shift's vocabulary, spelled once: the planner (`route::shift`) writes it into
//! `status.shift` and events; the metrics, the plugin and the tests read it.

/// The phases of a shift (`status.shift.phase`).
pub mod phase {
    pub const PENDING: &str = "Pending";
    pub const PROGRESSING: &str = "Progressing";
    pub const PAUSED: &str = "Paused";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
    pub const ABORTED: &str = "Aborted";
    pub const INVALID: &str = "Invalid";
}

/// Why a shift is Paused (`status.shift.pausedBy`).
pub mod paused_by {
    /// A `pause` request: nothing moves and no check runs until `resume`.
    pub const REQUEST: &str = "Requested";
    /// A check that gave no answer (Argo Rollouts pauses on an inconclusive analysis): the checks
    /// go on, and the next conclusive one, or `resume`, goes on with the shift.
    pub const INCONCLUSIVE: &str = "InconclusiveCheck";
}

/// The reasons of a shift's events.
pub mod reason {
    pub const STEP: &str = "TrafficShiftStep";
    pub const CHECK: &str = "TrafficShiftCheck";
    pub const SUCCEEDED: &str = "TrafficShiftSucceeded";
    pub const FAILED: &str = "TrafficShiftFailed";
    pub const ABORTED: &str = "TrafficShiftAborted";
    pub const INVALID: &str = "InvalidTrafficShift";
    pub const REQUEST_REFUSED: &str = "TrafficShiftRequestRefused";
    pub const HELD: &str = "TrafficShiftHeld";
    /// A newer rollout of the followed DeploymentConfig is in flight: no step, no check.
    pub const HALTED: &str = "TrafficShiftHalted";
    /// The next step waits for ready pods behind its backend.
    pub const CAPACITY: &str = "TrafficShiftWaitingForCapacity";
}

/// The results of a check (`status.shift.checks[].result`).
pub mod result {
    pub const PASSED: &str = "Passed";
    pub const FAILED: &str = "Failed";
    pub const INCONCLUSIVE: &str = "Inconclusive";
}
