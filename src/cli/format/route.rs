//! What `kubectl dc route …` prints: a Route's backends and shares, and its traffic shift's
//! progress.

use std::fmt::Write;

use kube::ResourceExt;

use super::progress_bar;
use crate::api::keys;
use crate::api::route::Route;

/// `route show`: each backend, its weight and its share of requests.
pub fn format_route(route: &Route) -> String {
    // While a traffic shift moves the traffic, the weights it serves, not the spec's.
    let status = route.status.as_ref();
    let shift = status.and_then(|s| s.shift.as_ref());
    let promotion = status.and_then(|s| s.promotion.as_ref());
    let serving = crate::route::shift::serving(route, promotion, shift);
    let weights: Vec<(String, i32, bool)> = crate::route::backends(&serving)
        .iter()
        .map(|b| (b.name.clone(), b.effective_weight(), true))
        .collect();
    let ingress = route.status.as_ref().and_then(|s| s.ingress.first());
    let host = route
        .spec
        .host
        .as_deref()
        .filter(|h| !h.is_empty())
        .or_else(|| ingress.and_then(|i| i.host.as_deref()))
        .unwrap_or("no host");
    let mut out = format!(
        "route {:?} ({host})\nSERVICE                 WEIGHT  SHARE\n",
        route.name_any()
    );
    for s in crate::route::shares(&weights) {
        let _ = writeln!(out, "{:<22}  {:>6}  {:>5}%", s.name, s.weight, s.percent);
    }
    for c in ingress.iter().flat_map(|i| &i.conditions) {
        let reason = if c.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.reason)
        };
        let why = if c.message.is_empty() {
            String::new()
        } else {
            format!(": {}", c.message)
        };
        let _ = writeln!(out, "{}: {}{reason}{why}", c.type_, c.status);
    }
    if let Some(s) = shift {
        let _ = writeln!(out, "TrafficShift: {} to {}: {}", s.phase, s.to, s.message);
    }
    out
}

/// `route shift status`: a line of progress, and once the shift has ended, how (`Err` when it
/// failed or was aborted). No shift is an error too: there is nothing to wait for.
pub fn shift_progress(route: &Route) -> (String, Option<Result<String, String>>) {
    use crate::api::shift::phase;
    let name = route.name_any();
    let Some(s) = route.status.as_ref().and_then(|s| s.shift.as_ref()) else {
        let declared = route
            .annotations()
            .contains_key(keys::TRAFFIC_SHIFT_ANNOTATION);
        let why = if declared {
            format!("route {name:?}: the operator has not taken up its traffic shift yet")
        } else {
            format!(
                "route {name:?} declares no traffic shift ({})",
                keys::TRAFFIC_SHIFT_ANNOTATION
            )
        };
        return (String::new(), Some(Err(why)));
    };
    let checks = if s.passed_checks + s.failed_checks + s.inconclusive_checks > 0 {
        format!(
            ", checks: {} passed this step, {} failed, {} inconclusive",
            s.passed_checks, s.failed_checks, s.inconclusive_checks
        )
    } else {
        String::new()
    };
    let line = format!(
        "{} {} {:>3}% to {}{checks}: {}",
        s.phase,
        progress_bar(s.weight, 100),
        s.weight,
        s.to,
        s.message
    );
    let end = match s.phase.as_str() {
        phase::SUCCEEDED => Some(Ok(format!(
            "traffic shift of route {name:?} succeeded: {}",
            s.message
        ))),
        phase::FAILED | phase::ABORTED | phase::INVALID => Some(Err(format!(
            "traffic shift of route {name:?} {}: {}",
            s.phase.to_lowercase(),
            s.message
        ))),
        _ => None,
    };
    (line, end)
}
