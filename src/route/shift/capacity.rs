//! Capacity follows traffic: a step never sends a share of traffic to a side with fewer ready
//! pods than that share of the pods that served before the shift (ceil(share × before)). The
//! shift waits at the step it stands on, its checks going on, until the side has them (an
//! autoscaler's or a person's doing).

use std::collections::BTreeMap;

use crate::api::route::{Route, ShiftStatus};

/// Ready pods `percent` of the traffic needs, of `before` that served all of it.
pub(crate) fn needed(percent: i32, before: i32) -> i32 {
    ((i64::from(percent.max(0)) * i64::from(before.max(0)) + 99) / 100) as i32
}

/// The ready pods of the backends that serve traffic at the stable weights, `to` aside: what
/// served before the shift.
pub(super) fn serving_before(route: &Route, to: &str, ready: &BTreeMap<String, i32>) -> i32 {
    super::promotion::stable_backends(route)
        .iter()
        .filter(|name| name.as_str() != to)
        .map(|name| ready.get(name).copied().unwrap_or(0))
        .sum()
}

/// Why the step to `percent` must wait for pods behind `s.to` (`None`: it has them).
pub(super) fn short(
    s: &ShiftStatus,
    step: i32,
    percent: i32,
    ready: &BTreeMap<String, i32>,
) -> Option<String> {
    let before = s.pods_before.unwrap_or(0);
    let need = needed(percent, before);
    let have = ready.get(&s.to).copied().unwrap_or(0);
    (have < need).then(|| {
        format!(
            "waiting for capacity before step {step} ({percent}%): {} has {have} ready pods, {percent}% of the {before} that served before the shift needs {need}",
            s.to
        )
    })
}
