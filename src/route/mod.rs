//! PURE: a Route → the Gateway API route that realises it, and the Route's status.
//!
//! An HTTPRoute (a TLSRoute for passthrough TLS) with the Route's host, a path-prefix match and
//! weighted backendRefs in the Route's proportions, the Service port resolved from
//! `port.targetPort`. Backends that cannot be resolved get no traffic (OpenShift treats a Service
//! without endpoints as weight 0) and make the Route not Admitted, with the reason.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::api::conditions::route as route_reason;
use crate::api::route::{
    BackendShare, Route, RouteIngress, RouteIngressCondition, RouteStatus, RouteTargetReference,
};

/// The router name recorded in `status.ingress`.
pub const ROUTER_NAME: &str = "cutover";
/// Route annotation naming the parent Gateway: `namespace/name` or `name` (same namespace).
pub const GATEWAY_ANNOTATION: &str = "cutover.io/gateway";
/// Label on the generated routes: the Route they realise.
pub const ROUTE_LABEL: &str = "cutover.io/route";

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
fn service_port(service: &Service, target: Option<&IntOrString>) -> Option<i32> {
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

fn manifest(
    route: &Route,
    kind: RouteKind,
    gw: &GatewayRef,
    hostnames: &[String],
    refs: Vec<Value>,
) -> Value {
    let mut parent =
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw.name});
    if let Some(ns) = &gw.namespace {
        parent["namespace"] = json!(ns);
    }
    let rule = match kind {
        RouteKind::Http => {
            let path = route
                .spec
                .path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into());
            json!({"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": refs})
        }
        RouteKind::Tls => json!({"backendRefs": refs}),
    };
    let mut spec = json!({"parentRefs": [parent], "rules": [rule]});
    if !hostnames.is_empty() {
        spec["hostnames"] = json!(hostnames);
    }
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": kind.kind(),
        "metadata": {
            "name": route.name_any(),
            "namespace": route.namespace(),
            "labels": {ROUTE_LABEL: route.name_any()},
            "ownerReferences": [{
                "apiVersion": "route.openshift.io/v1", "kind": "Route", "name": route.name_any(),
                "uid": route.metadata.uid.clone().unwrap_or_default(), "controller": true, "blockOwnerDeletion": true
            }]
        },
        "spec": spec
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::route::{RoutePort, RouteSpec, TlsConfig};

    fn service(name: &str, ports: Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"ports": ports}}))
            .expect("service")
    }

    fn target(name: &str, weight: Option<i32>) -> RouteTargetReference {
        RouteTargetReference {
            kind: "Service".into(),
            name: name.into(),
            weight,
        }
    }

    fn route(spec: RouteSpec) -> Route {
        let mut r = Route::new("shop", spec);
        r.metadata.namespace = Some("ns".into());
        r.metadata.uid = Some("uid-r".into());
        r
    }

    fn gw() -> Option<GatewayRef> {
        GatewayRef::parse("infra/public")
    }

    #[test]
    fn weighted_backends_in_the_routes_proportions() {
        let a = service(
            "a",
            json!([{"name": "http", "port": 80, "targetPort": 8080}]),
        );
        let b = service(
            "b",
            json!([{"name": "http", "port": 80, "targetPort": 8080}]),
        );
        let r = route(RouteSpec {
            host: Some("shop.example.com".into()),
            path: Some("/api".into()),
            to: target("a", Some(90)),
            alternate_backends: Some(vec![target("b", Some(10))]),
            port: Some(RoutePort {
                target_port: IntOrString::Int(8080),
            }),
            ..Default::default()
        });
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a, &b],
            gateway: gw(),
            name_taken_by: None,
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        let obj = p.object.expect("an HTTPRoute");
        assert_eq!(obj["kind"], "HTTPRoute");
        assert_eq!(obj["spec"]["hostnames"], json!(["shop.example.com"]));
        assert_eq!(obj["spec"]["parentRefs"][0]["namespace"], "infra");
        assert_eq!(
            obj["spec"]["rules"][0]["matches"][0]["path"],
            json!({"type": "PathPrefix", "value": "/api"})
        );
        let refs = &obj["spec"]["rules"][0]["backendRefs"];
        assert_eq!(
            refs[0],
            json!({"group": "", "kind": "Service", "name": "a", "port": 80, "weight": 90})
        );
        assert_eq!(refs[1]["weight"], 10);
        assert_eq!(obj["metadata"]["ownerReferences"][0]["kind"], "Route");
        assert_eq!(p.status.services.as_deref(), Some("a(90.0%),b(10.0%)"));
        assert_eq!(p.status.ingress[0].conditions[0].status, "True");
    }

    #[test]
    fn ports_resolve_by_number_name_or_first() {
        let s = service(
            "a",
            json!([{"name": "metrics", "port": 9090}, {"name": "web", "port": 80, "targetPort": "http"}]),
        );
        assert_eq!(service_port(&s, None), Some(9090));
        assert_eq!(
            service_port(&s, Some(&IntOrString::String("web".into()))),
            Some(80)
        );
        assert_eq!(
            service_port(&s, Some(&IntOrString::String("http".into()))),
            Some(80)
        );
        assert_eq!(service_port(&s, Some(&IntOrString::Int(9090))), Some(9090));
        assert_eq!(service_port(&s, Some(&IntOrString::Int(1234))), None);
    }

    #[test]
    fn a_missing_service_gets_no_traffic_and_says_why() {
        let a = service("a", json!([{"port": 80}]));
        let r = route(RouteSpec {
            to: target("a", None),
            alternate_backends: Some(vec![target("gone", Some(50))]),
            ..Default::default()
        });
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a],
            gateway: gw(),
            name_taken_by: None,
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        let refs = &p.object.expect("route")["spec"]["rules"][0]["backendRefs"];
        assert_eq!(refs.as_array().map(Vec::len), Some(1));
        let c = &p.status.ingress[0].conditions[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "BackendNotFound")
        );
        assert!(c.message.contains("service \"gone\" not found"));
        assert_eq!(p.status.services.as_deref(), Some("a(100.0%),gone(0.0%)"));
    }

    #[test]
    fn all_weights_zero_is_valid_and_sends_nothing() {
        let a = service("a", json!([{"port": 80}]));
        let r = route(RouteSpec {
            to: target("a", Some(0)),
            ..Default::default()
        });
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a],
            gateway: gw(),
            name_taken_by: None,
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        assert_eq!(p.status.ingress[0].conditions[0].status, "True");
        assert_eq!(p.status.backends[0].percent, "0.0");
    }

    #[test]
    fn passthrough_becomes_a_tls_route_and_needs_a_host() {
        let a = service("a", json!([{"port": 443}]));
        let tls = Some(TlsConfig {
            termination: "passthrough".into(),
            ..Default::default()
        });
        let r = route(RouteSpec {
            host: Some("db.example.com".into()),
            to: target("a", None),
            tls: tls.clone(),
            ..Default::default()
        });
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a],
            gateway: gw(),
            name_taken_by: None,
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        assert_eq!(p.kind, RouteKind::Tls);
        assert_eq!(
            p.object.expect("tls route")["spec"]["hostnames"],
            json!(["db.example.com"])
        );
        let r = route(RouteSpec {
            to: target("a", None),
            tls,
            ..Default::default()
        });
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a],
            gateway: gw(),
            name_taken_by: None,
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        assert!(p.object.is_none());
        assert_eq!(p.status.ingress[0].conditions[0].reason, "HostRequired");
    }

    #[test]
    fn without_the_gateway_api_nothing_is_applied_and_the_route_says_why() {
        let a = service("a", json!([{"port": 80}]));
        let r = route(RouteSpec {
            to: target("a", None),
            ..Default::default()
        });
        let at = |secs| Timestamp::from_second(secs).expect("valid");
        let inputs = |now| Inputs {
            route: &r,
            services: vec![&a],
            gateway: gw(),
            name_taken_by: None,
            gateway_api: false,
            now,
        };
        let p = plan(&inputs(at(10)));
        assert!(p.object.is_none());
        let c = &p.status.ingress[0].conditions[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "GatewayAPINotInstalled")
        );
        assert_eq!(c.last_transition_time, Some(Time(at(10))));
        // Planned again later over that status: the condition has not transitioned.
        let mut again = r.clone();
        again.status = Some(p.status.clone());
        let p2 = plan(&Inputs {
            route: &again,
            ..inputs(at(20))
        });
        assert_eq!(
            p2.status.ingress[0].conditions[0].last_transition_time,
            Some(Time(at(10)))
        );
    }

    #[test]
    fn no_gateway_or_a_foreign_route_blocks_with_a_reason() {
        let a = service("a", json!([{"port": 80}]));
        let r = route(RouteSpec {
            to: target("a", None),
            ..Default::default()
        });
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a],
            gateway: None,
            name_taken_by: None,
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        assert_eq!(
            (
                p.object.is_none(),
                p.status.ingress[0].conditions[0].reason.as_str()
            ),
            (true, "NoParentGateway")
        );
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a],
            gateway: gw(),
            name_taken_by: Some("someone".into()),
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        assert_eq!(
            (
                p.object.is_none(),
                p.status.ingress[0].conditions[0].reason.as_str()
            ),
            (true, "RouteConflict")
        );
    }

    #[test]
    fn subdomain_wildcards_match_the_domain() {
        let a = service("a", json!([{"port": 80}]));
        let r = route(RouteSpec {
            host: Some("www.example.com".into()),
            wildcard_policy: Some("Subdomain".into()),
            to: target("a", None),
            ..Default::default()
        });
        let p = plan(&Inputs {
            route: &r,
            services: vec![&a],
            gateway: gw(),
            name_taken_by: None,
            gateway_api: true,
            now: Timestamp::UNIX_EPOCH,
        });
        assert_eq!(
            p.object.expect("route")["spec"]["hostnames"],
            json!(["*.example.com"])
        );
    }
}
