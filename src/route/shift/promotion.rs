//! A shift's lasting result: the backend it promoted serves all traffic until the next release
//! shifts from it, or until the spec's backends change (weights set by hand, or the promoted
//! backend named primary). What a shift steps from, fails back to and is aborted back to.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::route::{Promotion, Route, ShiftStatus};
use crate::api::shift::phase;

use super::ShiftDecision;
use super::declaration::{Shift, digest};
use super::follow::seen;

/// The promotion of the shift at `status`, which has just succeeded.
pub(super) fn promoted(
    route: &Route,
    shift: &Shift,
    status: &ShiftStatus,
    now: Timestamp,
) -> Promotion {
    let release = match shift.deployment_config_of(&status.to) {
        Some(name) => format!("deploymentconfig {name:?} #{}", seen(Some(status), name)),
        None => format!("the shift to {}", status.to),
    };
    Promotion {
        backend: status.to.clone(),
        spec_backends: spec_backends(route),
        promoted_at: Time(now),
        release,
    }
}

/// The promotion recorded after this pass: the one a shift made now, else the one on record
/// (kept when it no longer stands, so that it is not adopted again).
pub fn promotion(route: &Route, decision: Option<&ShiftDecision>) -> Option<Promotion> {
    decision
        .and_then(|d| d.promoted.clone())
        .or_else(|| recorded(route))
}

/// The promotion on record: the status's, else that of a shift which succeeded under an
/// operator that recorded none (it served `to` all traffic while the shift stood Succeeded: an
/// upgrade must not move it).
fn recorded(route: &Route) -> Option<Promotion> {
    let status = route.status.as_ref()?;
    if let Some(p) = &status.promotion {
        return Some(p.clone());
    }
    let s = (status.shift.as_ref()).filter(|s| s.phase == phase::SUCCEEDED && !s.to.is_empty())?;
    Some(Promotion {
        backend: s.to.clone(),
        spec_backends: spec_backends(route),
        promoted_at: s.step_started_at.clone()?,
        release: format!("the shift to {}, recorded by an earlier cutover", s.to),
    })
}

/// Whether `p` stands: its backend is still one of the Route's, and the spec's backends are
/// those it was made under.
fn stands(route: &Route, p: &Promotion) -> bool {
    let present = crate::route::backends(route)
        .iter()
        .any(|b| b.name == p.backend);
    present && p.spec_backends == spec_backends(route)
}

/// The Route with its stable weights: a standing promotion's backend all of them, else the
/// spec's.
pub fn stable(route: &Route, promotion: Option<&Promotion>) -> Route {
    let mut route = route.clone();
    if let Some(p) = promotion.filter(|p| stands(&route, p)) {
        let backend = p.backend.clone();
        let spec = &mut route.spec;
        for b in std::iter::once(&mut spec.to).chain(spec.alternate_backends.iter_mut().flatten()) {
            b.weight = Some(if b.name == backend { 100 } else { 0 });
        }
    }
    route
}

/// The backends that receive traffic at the stable weights.
pub(super) fn stable_backends(route: &Route) -> Vec<String> {
    let stable = stable(route, recorded(route).as_ref());
    crate::route::backends(&stable)
        .iter()
        .filter(|b| b.effective_weight() > 0)
        .map(|b| b.name.clone())
        .collect()
}

/// Whether `to` already receives all traffic at the stable weights: a shift to it has nothing
/// to move.
pub(super) fn serves_all(route: &Route, to: &str) -> bool {
    stable_backends(route) == [to]
}

/// A digest of the spec's backends and weights.
fn spec_backends(route: &Route) -> String {
    let backends: Vec<_> = crate::route::backends(route)
        .iter()
        .map(|b| (&b.kind, &b.name, b.weight))
        .collect();
    digest(&serde_json::to_string(&backends).unwrap_or_default())
}
