//! A Route's backends: who gets what share of the traffic, and which Service port serves it.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::route::{BackendShare, Route, RouteTargetReference};

/// Each backend with its weight, the primary first.
pub fn backends(route: &Route) -> Vec<&RouteTargetReference> {
    std::iter::once(&route.spec.to)
        .chain(route.spec.alternate_backends.iter().flatten())
        .collect()
}

/// The share of each backend: weight over the sum of the weights that receive traffic.
pub fn shares(weights: &[(String, i32, bool)]) -> Vec<BackendShare> {
    let total: i64 = weights
        .iter()
        .filter(|w| w.2)
        .map(|w| i64::from(w.1.max(0)))
        .sum();
    weights
        .iter()
        .map(|(name, weight, live)| {
            let pct = if *live && total > 0 {
                f64::from((*weight).max(0)) * 100.0 / total as f64
            } else {
                0.0
            };
            BackendShare {
                name: name.clone(),
                weight: *weight,
                percent: format!("{pct:.1}"),
            }
        })
        .collect()
}

/// The Service port for the Route's `port.targetPort`: a port whose targetPort or port matches
/// a number, or whose name (or named targetPort) matches a name; without one, the first port.
pub(super) fn service_port(service: &Service, target: Option<&IntOrString>) -> Option<i32> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    match target {
        None => ports.first().map(|p| p.port),
        Some(IntOrString::Int(n)) => ports
            .iter()
            .find(|p| p.target_port.as_ref() == Some(&IntOrString::Int(*n)))
            .or_else(|| ports.iter().find(|p| p.port == *n))
            .map(|p| p.port),
        Some(IntOrString::String(name)) => ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .or_else(|| {
                ports
                    .iter()
                    .find(|p| p.target_port.as_ref() == Some(&IntOrString::String(name.clone())))
            })
            .map(|p| p.port),
    }
}
