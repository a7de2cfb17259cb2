//! PURE: progressive traffic shifting on a Route, as a persisted state machine.
//!
//! A Route declares a shift in the annotation `cutover.io/traffic-shift` (YAML or JSON): the
//! backend to move traffic to, the percentages to pass through, the pause at each, optionally a
//! Prometheus check that must pass before each step, and optionally the DeploymentConfig whose
//! completed rollouts start the shift (or `releases`: one such pair per backend, blue-green
//! release after release). A succeeded shift promotes its backend: the next release shifts from
//! it. The state lives in `status.shift`, so a restarted
//! operator resumes a shift where it stood, never from the start.
//!
//! Each pass: `check_due` says whether a check is due (the shell then runs the query, with a
//! timeout, and hands the result in), and `advance` takes the state one step on — requests
//! first (promote, pause, resume, abort), then the start, then the check, then the step — and
//! returns the new state, the weights to serve, events, and whether to roll the
//! DeploymentConfig back.
//!
//! - `declaration`: the annotation parsed and checked (`declared`, `Shift`, `Analysis`).
//! - `weights`: the weights a step serves (`weights`, `serving`).
//! - `check`: when a check is due and what it found (`check_due`, `CheckResult`).
//! - `machine`: the state machine (`advance` and its steps; `machine/requests`: the verbs).
//! - `follow`: what a shift reads of the DeploymentConfigs it follows (`Followed`).
//! - `promotion`: the backend a succeeded shift promoted, the stable side of the next release.
//! - `capacity`: the ready pods a step's share needs before it is taken.

pub(crate) mod capacity;
mod check;
mod declaration;
mod follow;
mod machine;
mod promotion;
mod weights;

pub use check::{CheckResult, check_due};
pub use declaration::{Analysis, HeaderPin, Release, Shift, SuccessCondition, declared};
pub use follow::{Followed, seen};
pub use machine::{ShiftDecision, ShiftInputs, advance, invalid, refusal};
pub use promotion::{promotion, stable};
pub use weights::{serving, weights};

#[cfg(test)]
mod tests;
