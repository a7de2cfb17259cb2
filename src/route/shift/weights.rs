//! The weights a shift serves: its percentage to `to`, the rest shared as the stable weights
//! share it.

use std::collections::BTreeMap;

use crate::api::route::{Promotion, Route, ShiftStatus};
use crate::api::shift::phase;

use super::promotion::stable;

/// The weights a Route serves at `percent` of a shift to `to`: `to` gets `percent`, the other
/// backends share the rest as their weights in `route` share it (the largest remainders rounded up).
pub fn weights(route: &Route, to: &str, percent: i32) -> Vec<(String, i32)> {
    let others: Vec<(String, i32)> = crate::route::backends(route)
        .iter()
        .filter(|b| b.name != to)
        .map(|b| (b.name.clone(), b.effective_weight().max(0)))
        .collect();
    let total: i32 = others.iter().map(|o| o.1).sum();
    let rest = 100 - percent;
    let mut out = vec![(to.to_string(), if total == 0 { 100 } else { percent })];
    if total == 0 {
        out.extend(others.into_iter().map(|(name, _)| (name, 0)));
        return out;
    }
    let exact: Vec<f64> = others
        .iter()
        .map(|o| f64::from(o.1) * f64::from(rest) / f64::from(total))
        .collect();
    let mut shares: Vec<i32> = exact.iter().map(|e| e.floor() as i32).collect();
    let mut short = rest - shares.iter().sum::<i32>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    for i in order {
        if short <= 0 {
            break;
        }
        shares[i] += 1;
        short -= 1;
    }
    out.extend(
        others
            .into_iter()
            .zip(shares)
            .map(|((name, _), w)| (name, w)),
    );
    out
}

/// A Route whose backends carry the weights it serves now: while a shift runs, its step over
/// the stable weights (the `promotion`'s, else the spec's); else the stable weights.
pub fn serving(
    route: &Route,
    promotion: Option<&Promotion>,
    status: Option<&ShiftStatus>,
) -> Route {
    let mut route = stable(route, promotion);
    let Some(s) = status.filter(|s| s.phase == phase::PROGRESSING || s.phase == phase::PAUSED)
    else {
        return route;
    };
    let weights: BTreeMap<String, i32> = weights(&route, &s.to, s.weight).into_iter().collect();
    let spec = &mut route.spec;
    for b in std::iter::once(&mut spec.to).chain(spec.alternate_backends.iter_mut().flatten()) {
        if let Some(w) = weights.get(&b.name) {
            b.weight = Some(*w);
        }
    }
    route
}
