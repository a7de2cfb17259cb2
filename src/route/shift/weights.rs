//! The weights a shift serves: its percentage to `to`, the rest shared as the Route shares it.

use std::collections::BTreeMap;

use crate::api::route::{Route, ShiftStatus};
use crate::api::shift::phase;

/// The weights a Route serves at `percent` of a shift to `to`: `to` gets `percent`, the other
/// backends share the rest as their own weights share it (the largest remainders rounded up).
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

/// A Route whose backends carry the weights the shift serves now (the Route itself when no
/// shift moves its traffic): what the Route planner realises.
pub fn serving(route: &Route, status: Option<&ShiftStatus>) -> Route {
    let mut route = route.clone();
    let Some(s) = status else {
        return route;
    };
    let percent = match s.phase.as_str() {
        phase::PROGRESSING | phase::PAUSED => s.weight,
        phase::SUCCEEDED => 100,
        _ => return route,
    };
    let weights: BTreeMap<String, i32> = weights(&route, &s.to, percent).into_iter().collect();
    let spec = &mut route.spec;
    for b in std::iter::once(&mut spec.to).chain(spec.alternate_backends.iter_mut().flatten()) {
        if let Some(w) = weights.get(&b.name) {
            b.weight = Some(*w);
        }
    }
    route
}
