//! A Route's backends: who gets what share of the traffic, and which Service port serves it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use serde_json::{Value, json};

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

/// A Route's backends resolved against the Services of its namespace.
pub(super) struct Resolved {
    /// The rule's `backendRefs`: each backend with a Service port.
    pub refs: Vec<Value>,
    /// Each backend's (name, weight, serving), whose shares the status reports.
    pub weights: Vec<(String, i32, bool)>,
    /// Why backends with a weight get no traffic (said in ResolvedRefs).
    pub problems: Vec<String>,
    /// The name of the Service port each backend is reached on, when it has one: the section of
    /// the Service a re-encrypt BackendTLSPolicy applies to.
    pub port_names: BTreeMap<String, String>,
}

/// Resolves each backend to a Service port. A missing Service with weight 0 is no problem: it
/// would get nothing anyway (OpenShift routes around it). A Service without ready endpoints
/// keeps its place with weight 0: HAProxy has no server for it, so its share goes to the others
/// instead of answering 503.
pub(super) fn resolve(
    route: &Route,
    services: &[&Service],
    without_endpoints: &[&str],
) -> Resolved {
    let target = route.spec.port.as_ref().map(|p| &p.target_port);
    let mut resolved = Resolved {
        refs: Vec::new(),
        weights: Vec::new(),
        problems: Vec::new(),
        port_names: BTreeMap::new(),
    };
    for b in backends(route) {
        let service = services.iter().find(|s| s.name_any() == b.name);
        let service_port = service.and_then(|s| target_port(s, target));
        if let Some(name) = service_port.and_then(|p| p.name.clone()) {
            resolved.port_names.insert(b.name.clone(), name);
        }
        let port = service_port.map(|p| p.port);
        let serving = port.is_some() && !without_endpoints.contains(&b.name.as_str());
        match (service, port) {
            (_, Some(port)) => resolved.refs.push(json!({
                "group": "", "kind": "Service", "name": b.name, "port": port,
                "weight": if serving { b.effective_weight() } else { 0 }
            })),
            _ if b.effective_weight() == 0 => {}
            (None, _) => resolved
                .problems
                .push(format!("service {:?} not found", b.name)),
            (Some(_), None) => resolved.problems.push(format!(
                "service {:?} has no port matching the route's targetPort",
                b.name
            )),
        }
        resolved
            .weights
            .push((b.name.clone(), b.effective_weight(), serving));
    }
    resolved
}

/// The Service port for the Route's `port.targetPort`: a port whose targetPort or port matches
/// a number, or whose name (or named targetPort) matches a name; without one, the first port.
pub(super) fn target_port<'s>(
    service: &'s Service,
    target: Option<&IntOrString>,
) -> Option<&'s ServicePort> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    match target {
        None => ports.first(),
        Some(IntOrString::Int(n)) => ports
            .iter()
            .find(|p| p.target_port.as_ref() == Some(&IntOrString::Int(*n)))
            .or_else(|| ports.iter().find(|p| p.port == *n)),
        Some(IntOrString::String(name)) => ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .or_else(|| {
                ports
                    .iter()
                    .find(|p| p.target_port.as_ref() == Some(&IntOrString::String(name.clone())))
            }),
    }
}
