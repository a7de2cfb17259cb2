//! PURE: a Route → the Gateway API route that realises it, and the Route's status.
//!
//! An HTTPRoute (a TLSRoute for passthrough TLS) with the Route's host, a path-prefix match and
//! weighted backendRefs in the Route's proportions, the Service port resolved from
//! `port.targetPort`. Backends that cannot be resolved get no traffic (OpenShift treats a Service
//! without endpoints as weight 0) and make the Route not Admitted, with the reason.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use serde_json::{Value, json};

use backends::service_port;
pub use backends::{backends, shares};
use manifest::manifest;

mod backends;
mod manifest;

use crate::api::conditions::route as route_reason;
use crate::api::route::{Route, RouteIngress, RouteIngressCondition, RouteStatus};

/// The router name recorded in `status.ingress`.
pub const ROUTER_NAME: &str = "cutover";
pub use crate::api::keys::{GATEWAY_ANNOTATION, ROUTE_LABEL};

/// Which Gateway API kind realises a Route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Http,
    Tls,
}

impl RouteKind {
    pub fn kind(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Tls => "TLSRoute",
        }
    }
}

/// A parent Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRef {
    pub namespace: Option<String>,
    pub name: String,
}

impl GatewayRef {
    /// Parses `namespace/name` or `name`.
    pub fn parse(s: &str) -> Option<GatewayRef> {
        let s = s.trim();
        match s.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() => Some(GatewayRef {
                namespace: Some(ns.into()),
                name: name.into(),
            }),
            None if !s.is_empty() => Some(GatewayRef {
                namespace: None,
                name: s.into(),
            }),
            _ => None,
        }
    }
}

/// What the shell observed for one Route.
pub struct Inputs<'a> {
    pub route: &'a Route,
    /// The Services of the Route's namespace it names (missing ones absent).
    pub services: Vec<&'a Service>,
    /// The parent Gateway: the Route's annotation, else the operator's default.
    pub gateway: Option<GatewayRef>,
    /// A route of that name exists and another owner controls it.
    pub name_taken_by: Option<String>,
    /// Whether the cluster serves the Gateway API (HTTPRoute, TLSRoute).
    pub gateway_api: bool,
    /// Now: when a condition that changes status transitions.
    pub now: Timestamp,
}

/// The outcome: the route object to apply (if any) and the Route's status.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: RouteKind,
    pub object: Option<Value>,
    pub status: RouteStatus,
}

fn admitted(status: bool, reason: &str, message: String) -> RouteIngressCondition {
    RouteIngressCondition {
        type_: route_reason::ADMITTED.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        last_transition_time: None,
    }
}

/// Plans one Route.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let route = inputs.route;
    let spec = &route.spec;
    let passthrough = spec
        .tls
        .as_ref()
        .is_some_and(|t| t.termination.eq_ignore_ascii_case("passthrough"));
    let kind = if passthrough {
        RouteKind::Tls
    } else {
        RouteKind::Http
    };
    let target = spec.port.as_ref().map(|p| &p.target_port);

    // Resolve each backend to a Service port.
    let mut refs = Vec::new();
    let mut weights = Vec::new();
    let mut problems = Vec::new();
    for b in backends(route) {
        let service = inputs.services.iter().find(|s| s.name_any() == b.name);
        let port = service.and_then(|s| service_port(s, target));
        match (service, port) {
            (None, _) => problems.push(format!("service {:?} not found", b.name)),
            (Some(_), None) => problems.push(format!("service {:?} has no port matching the route's targetPort", b.name)),
            (Some(_), Some(port)) => refs.push(json!({
                "group": "", "kind": "Service", "name": b.name, "port": port, "weight": b.effective_weight()
            })),
        }
        weights.push((b.name.clone(), b.effective_weight(), port.is_some()));
    }

    let host = spec.host.clone().filter(|h| !h.is_empty());
    let hostnames: Vec<String> = match (&host, spec.wildcard_policy.as_deref()) {
        (Some(h), Some("Subdomain")) => vec![format!(
            "*.{}",
            h.split_once('.').map_or(h.as_str(), |(_, d)| d)
        )],
        (Some(h), _) => vec![h.clone()],
        (None, _) => vec![],
    };

    let blocked = if !inputs.gateway_api {
        Some(admitted(
            false,
            route_reason::GATEWAY_API_NOT_INSTALLED,
            "the cluster does not serve the Gateway API (gateway.networking.k8s.io/v1): install its standard CRDs and a Gateway implementation".into(),
        ))
    } else if let Some(owner) = &inputs.name_taken_by {
        Some(admitted(
            false,
            route_reason::ROUTE_CONFLICT,
            format!(
                "{} {:?} exists and belongs to {owner}: cutover does not change it",
                kind.kind(),
                route.name_any()
            ),
        ))
    } else if inputs.gateway.is_none() {
        Some(admitted(
            false,
            route_reason::NO_PARENT_GATEWAY,
            format!(
                "no parent Gateway: annotate the route with {GATEWAY_ANNOTATION}: <namespace>/<name>, or start the operator with --default-gateway"
            ),
        ))
    } else if passthrough && hostnames.is_empty() {
        Some(admitted(
            false,
            route_reason::HOST_REQUIRED,
            "passthrough routes need spec.host (a TLSRoute matches by SNI host name)".into(),
        ))
    } else {
        None
    };

    let object = match (&blocked, &inputs.gateway) {
        (None, Some(gw)) => Some(manifest(route, kind, gw, &hostnames, refs)),
        _ => None,
    };
    let condition = blocked.unwrap_or_else(|| {
        if problems.is_empty() {
            admitted(true, "", String::new())
        } else {
            admitted(
                false,
                route_reason::BACKEND_NOT_FOUND,
                format!("{}; those backends receive no traffic", problems.join("; ")),
            )
        }
    });
    let backends = shares(&weights);
    let services = backends
        .iter()
        .map(|b| format!("{}({}%)", b.name, b.percent))
        .collect::<Vec<_>>()
        .join(",");
    let mut status = RouteStatus {
        ingress: vec![RouteIngress {
            host,
            router_name: ROUTER_NAME.into(),
            conditions: vec![condition],
            wildcard_policy: Some(
                spec.wildcard_policy
                    .clone()
                    .unwrap_or_else(|| "None".into()),
            ),
        }],
        backends,
        services: Some(services),
        observed_generation: route.metadata.generation.unwrap_or(0),
    };
    keep_transition_times(&mut status, route.status.as_ref(), inputs.now);
    Plan {
        kind,
        object,
        status,
    }
}

/// A condition keeps its transition time while its status stays; a changed one transitions now.
fn keep_transition_times(status: &mut RouteStatus, previous: Option<&RouteStatus>, now: Timestamp) {
    for ingress in &mut status.ingress {
        for c in &mut ingress.conditions {
            let old = previous
                .and_then(|p| {
                    p.ingress
                        .iter()
                        .find(|i| i.router_name == ingress.router_name)
                })
                .and_then(|i| {
                    i.conditions
                        .iter()
                        .find(|o| o.type_ == c.type_ && o.status == c.status)
                });
            c.last_transition_time = Some(
                old.and_then(|o| o.last_transition_time.clone())
                    .unwrap_or(Time(now)),
            );
        }
    }
}

#[cfg(test)]
mod tests;
