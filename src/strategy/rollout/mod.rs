//! One rollout, one pass of it: the pre hook, the strategy (Rolling or Recreate, which runs the
//! mid hook inside), the post hook — the same code whether the operator runs it or
//! `cutover deploy` does inside a deployer Job.
//!
//! `state` holds what the strategies share (the rollout in flight, its steps and deadlines);
//! `rolling` and `recreate` are one file each; `hook_step` runs a hook as a step, `hook_job`
//! builds its Job and `hooks` follows it; `until`
//! is the stop point of `cutover deploy --until`. Nothing here imports back up but the
//! planner's types.

mod hook_job;
mod hook_step;
pub mod hooks;
pub mod recreate;
pub mod rolling;
mod state;
pub mod until;

use crate::api::defaults::StrategyKind;
use crate::api::hooks::HookPoint;

pub use state::{OnTimeout, Rollout, Step};
pub use until::Until;

/// The whole of a rollout, one pass of it: pre hook → the strategy (Recreate runs mid inside) →
/// post hook, with the stop points of `--until` between them. `strategy.activeDeadlineSeconds`
/// bounds it all, as it bounds OpenShift's deployer pod: a rollout still running then fails.
pub fn run(r: &mut Rollout<'_>) -> Step {
    let Some(left) = r.active_deadline_left() else {
        return Step::Fail(format!(
            "rollout of {}/{} exceeded its deadline: still running after strategy.activeDeadlineSeconds ({}s)",
            r.namespace, r.to.name, r.strategy.active_deadline_seconds
        ));
    };
    match run_to_deadline(r) {
        Step::Wait(after) => Step::Wait(Some(after.map_or(left, |a| a.min(left)))),
        other => other,
    }
}

fn run_to_deadline(r: &mut Rollout<'_>) -> Step {
    if let Some(stop) = r.stop_at(Until::Start, "Ready to start deployment") {
        return stop;
    }
    match hook_step::step(r, HookPoint::Pre) {
        Step::Complete => {}
        other => return other,
    }
    if let Some(stop) = r.stop_at(Until::Pre, "pre hook succeeded") {
        return stop;
    }
    let step = match r.strategy.kind {
        StrategyKind::Rolling => rolling::step(r),
        StrategyKind::Recreate => recreate::step(r),
        StrategyKind::Custom => Step::Fail("unsupported strategy type: Custom".into()),
    };
    match step {
        Step::Complete => {}
        other => return other,
    }
    // At full scale, before the post hook: every percentage is reached.
    if let Some(n) = r.until_percent() {
        return Step::Stop(
            if r.strategy.kind == StrategyKind::Rolling && r.has_complete_old() {
                format!("Reached {n}% (currently 100%)")
            } else {
                format!("Reached {n}%")
            },
        );
    }
    hook_step::step(r, HookPoint::Post)
}
