//! A shift's checks: when one is due, and what it found (the shell runs the query between).

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::api::route::ShiftStatus;
use crate::api::shift::{paused_by, phase};

use super::declaration::{Analysis, Shift};
use super::follow::{Followed, seen};

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckResult {
    Value(f64),
    /// No answer (unreachable, an error, no data): counted apart, never a pass.
    Inconclusive(String),
}

/// The check to run now (its query naming the release's backend), if one is due. Never while
/// the Route is `refused` (no traffic of it flows to be judged) or while a newer rollout of the
/// release's DeploymentConfig is in flight (the traffic would be judged against a mix of
/// revisions).
pub fn check_due(
    shift: &Shift,
    status: Option<&ShiftStatus>,
    refused: bool,
    followed: &BTreeMap<String, Followed>,
    now: Timestamp,
) -> Option<Analysis> {
    let analysis = shift.analysis.as_ref()?;
    let s = status.filter(|s| s.declaration == shift.digest && checking(s))?;
    let in_flight = shift
        .deployment_config_of(&s.to)
        .and_then(|name| Some(followed.get(name)?.in_flight(seen(Some(s), name))));
    let held = refused || in_flight == Some(true);
    (!held && next_check(analysis, s)? <= now).then(|| Analysis {
        query: analysis.query_for(&s.to),
        ..analysis.clone()
    })
}

/// Whether the shift's checks run: from its first step while it progresses and is not held,
/// and while an inconclusive check paused it (the next conclusive one goes on with it).
pub(super) fn checking(s: &ShiftStatus) -> bool {
    let running = s.phase == phase::PROGRESSING || paused_by_inconclusive(s);
    s.step > 0 && s.held_since.is_none() && running
}

/// Paused by an inconclusive check (not by a request).
pub(super) fn paused_by_inconclusive(s: &ShiftStatus) -> bool {
    s.phase == phase::PAUSED && s.paused_by.as_deref() == Some(paused_by::INCONCLUSIVE)
}

/// When the current step's next check is due: an interval after the step started, or after the
/// last check (a whole window of traffic at the step's weights).
pub(super) fn next_check(analysis: &Analysis, s: &ShiftStatus) -> Option<Timestamp> {
    let since = [&s.step_started_at, &s.last_check_at]
        .into_iter()
        .flatten()
        .map(|t| t.0)
        .max()?;
    Some(since + analysis.interval)
}
