//! PURE: a Route → the Gateway API objects that realise it, and the Route's status.
//!
//! The rungs, in order: the Gateway API must be served, the parent Gateway named and found, the
//! host known (named, or generated from `--route-domain`) and claimed (the oldest Route of a host
//! holds it), the access controls realisable, and a listener there for the Route's termination;
//! any rung that fails refuses the Route with OpenShift's reason and leaves nothing serving it.
//! Past them: an HTTPRoute (a TLSRoute for passthrough) on exactly the listeners the termination
//! allows, the redirect route, the certificate's Secret and ListenerSet, re-encrypt's
//! BackendTLSPolicies. Admitted then reports what the Gateway made of the route.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use serde_json::{Value, json};

use backends::service_port;
pub use backends::{backends, shares};
pub use gateway::{Gateway, GatewayRef};
use gateway::{Listener, Protocol};
pub use manifest::Parent;

mod backends;
pub mod gateway;
pub mod host;
pub mod manifest;
pub mod options;
pub mod shift;

use crate::api::conditions::route as reason;
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

/// A Route's TLS termination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Plain,
    Edge,
    Reencrypt,
    Passthrough,
}

/// What a TLS Route does with plain HTTP (`insecureEdgeTerminationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insecure {
    None,
    Allow,
    Redirect,
}

/// The termination and insecure policy a Route asks for.
pub fn termination(route: &Route) -> (Termination, Insecure) {
    let Some(tls) = &route.spec.tls else {
        return (Termination::Plain, Insecure::None);
    };
    let termination = match tls.termination.to_ascii_lowercase().as_str() {
        "passthrough" => Termination::Passthrough,
        "reencrypt" => Termination::Reencrypt,
        _ => Termination::Edge,
    };
    let insecure = match tls.insecure_edge_termination_policy.as_deref() {
        Some("Allow") => Insecure::Allow,
        Some("Redirect") => Insecure::Redirect,
        _ => Insecure::None,
    };
    (termination, insecure)
}

/// Which Gateway API kinds the cluster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Apis {
    /// HTTPRoute (gateway.networking.k8s.io/v1).
    pub routes: bool,
    /// TLSRoute v1 (standard since Gateway API v1.5).
    pub tls_routes: bool,
    pub listener_sets: bool,
    pub backend_tls_policies: bool,
}

impl Apis {
    pub const ALL: Apis = Apis {
        routes: true,
        tls_routes: true,
        listener_sets: true,
        backend_tls_policies: true,
    };
}

/// What the shell observed for one Route.
pub struct Inputs<'a> {
    pub route: &'a Route,
    /// The Services of the Route's namespace it names (missing ones absent).
    pub services: Vec<&'a Service>,
    /// Those of them with no ready endpoint.
    pub without_endpoints: Vec<&'a str>,
    /// The parent Gateway: the Route's annotation, else the operator's default.
    pub gateway_ref: Option<GatewayRef>,
    /// That Gateway as read (`None`: it does not exist).
    pub gateway: Option<Gateway>,
    /// The other Routes the operator serves (host claims are decided among them).
    pub routes: Vec<&'a Route>,
    /// The ingress domain of generated hosts (`--route-domain`).
    pub domain: Option<&'a str>,
    pub apis: Apis,
    /// The Route's main Gateway API route as it stands after applying: its `status.parents` is
    /// what the Gateway made of it.
    pub applied: Option<&'a Value>,
    /// Now: when a condition that changes status transitions.
    pub now: Timestamp,
}

/// The outcome: the objects to apply (everything of the Route's kinds not among them is
/// deleted), the host to write into `spec.host`, and the Route's status.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: RouteKind,
    pub objects: Vec<Value>,
    pub generated_host: Option<String>,
    pub status: RouteStatus,
}

impl Plan {
    /// The main route object (HTTPRoute or TLSRoute), when the Route is served.
    pub fn main(&self) -> Option<&Value> {
        self.objects.iter().find(|o| {
            o["kind"] == self.kind.kind()
                && o["metadata"]["name"] == o["metadata"]["labels"][ROUTE_LABEL]
        })
    }

    /// The Route refused with `reason`: nothing of it is served. `previous` is the Route's
    /// status as it stands (transition times are kept from it).
    pub fn refuse(
        mut self,
        reason: &str,
        message: String,
        previous: Option<&RouteStatus>,
        now: Timestamp,
    ) -> Plan {
        self.objects.clear();
        for ingress in &mut self.status.ingress {
            ingress.conditions = vec![condition("False", reason, message.clone())];
        }
        keep_transition_times(&mut self.status, previous, now);
        self
    }
}

fn condition(status: &str, reason: &str, message: String) -> RouteIngressCondition {
    RouteIngressCondition {
        type_: reason::ADMITTED.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: None,
    }
}

/// Where the Route attaches, and what else it needs.
struct Attachment {
    parents: Vec<Parent>,
    redirect: Vec<Parent>,
    /// The Route's certificate served through its own ListenerSet.
    listener_set: Option<String>,
    /// Said in the Admitted message (whose certificate is served).
    note: Option<String>,
}

fn parents(gateway: &Gateway, listeners: &[&Listener]) -> Vec<Parent> {
    listeners
        .iter()
        .map(|l| Parent {
            kind: "Gateway",
            namespace: gateway.namespace.clone(),
            name: gateway.name.clone(),
            section: l.name.clone(),
        })
        .collect()
}

/// The listeners a Route of this termination may use, or why there are none.
fn attach(
    route: &Route,
    gateway: &Gateway,
    host: &str,
    apis: Apis,
) -> Result<Attachment, (&'static str, String)> {
    let (termination, insecure) = termination(route);
    let ns = route.namespace().unwrap_or_default();
    let gw = format!("Gateway {}/{}", gateway.namespace, gateway.name);
    let http = gateway.listeners_for(Protocol::Http, host);
    let none = |what: &str, why: &str| {
        (
            reason::NO_MATCHING_LISTENER,
            format!("{gw} has no {what} listener for host {host}{why}"),
        )
    };
    let mut attachment = Attachment {
        parents: Vec::new(),
        redirect: Vec::new(),
        listener_set: None,
        note: None,
    };
    match termination {
        Termination::Plain => {
            attachment.parents = parents(gateway, &http);
            if http.is_empty() {
                return Err(none("HTTP", ""));
            }
            return Ok(attachment);
        }
        Termination::Passthrough => {
            if !apis.tls_routes {
                return Err((
                    reason::TLS_ROUTE_NOT_SERVED,
                    "passthrough needs the Gateway API's TLSRoute (gateway.networking.k8s.io/v1, standard since v1.5), which the cluster does not serve".into(),
                ));
            }
            let tls = gateway.listeners_for(Protocol::TlsPassthrough, host);
            if tls.is_empty() {
                return Err(none("TLS passthrough", ""));
            }
            attachment.parents = parents(gateway, &tls);
        }
        Termination::Edge | Termination::Reencrypt => {
            let tls = route.spec.tls.as_ref();
            let own = tls
                .and_then(|t| t.external_certificate.as_ref().map(|c| c.name.clone()))
                .or_else(|| {
                    tls.and_then(|t| t.certificate.as_ref())
                        .filter(|c| !c.trim().is_empty())
                        .map(|_| manifest::certificate_name(&route.name_any()))
                });
            let https = gateway.listeners_for(Protocol::Https, host);
            match own {
                Some(secret) if apis.listener_sets && gateway.accepts_listener_sets_from(&ns) => {
                    attachment.parents = vec![Parent {
                        kind: "ListenerSet",
                        namespace: ns.clone(),
                        name: route.name_any(),
                        section: manifest::LISTENER_SET_SECTION.into(),
                    }];
                    attachment.listener_set = Some(secret);
                }
                _ if https.is_empty() => {
                    return Err(none(
                        "HTTPS",
                        ": a TLS route is never served over plain HTTP",
                    ));
                }
                own => {
                    attachment.parents = parents(gateway, &https);
                    let names: Vec<&str> = https.iter().map(|l| l.name.as_str()).collect();
                    attachment.note = Some(match own {
                        Some(_) => format!(
                            "served with the certificate of {gw} listener {}: the Gateway does not accept ListenerSets from namespace {ns}, so the route's own certificate is not used",
                            names.join(", ")
                        ),
                        None => format!(
                            "served with the certificate of {gw} listener {}",
                            names.join(", ")
                        ),
                    });
                }
            }
            if termination == Termination::Reencrypt && !apis.backend_tls_policies {
                return Err((
                    reason::BACKEND_TLS_NOT_SUPPORTED,
                    "re-encrypt needs the Gateway API's BackendTLSPolicy (gateway.networking.k8s.io/v1), which the cluster does not serve: without it the backend would get plain HTTP".into(),
                ));
            }
        }
    }
    match insecure {
        Insecure::Allow => attachment.parents.extend(parents(gateway, &http)),
        Insecure::Redirect => attachment.redirect = parents(gateway, &http),
        Insecure::None => {}
    }
    Ok(attachment)
}

/// Plans one Route.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let route = inputs.route;
    let spec = &route.spec;
    let ns = route.namespace().unwrap_or_default();
    let (termination, _) = termination(route);
    let kind = if termination == Termination::Passthrough {
        RouteKind::Tls
    } else {
        RouteKind::Http
    };
    let target = spec.port.as_ref().map(|p| &p.target_port);

    // Resolve each backend to a Service port. A missing Service with weight 0 is no problem:
    // it would get nothing anyway (OpenShift routes around it). A Service without ready
    // endpoints keeps its place with weight 0: HAProxy has no server for it, so its share goes
    // to the others instead of answering 503.
    let mut refs = Vec::new();
    let mut weights = Vec::new();
    let mut problems = Vec::new();
    for b in backends(route) {
        let service = inputs.services.iter().find(|s| s.name_any() == b.name);
        let port = service.and_then(|s| service_port(s, target));
        let serving = port.is_some() && !inputs.without_endpoints.contains(&b.name.as_str());
        match (service, port) {
            (_, Some(port)) => refs.push(json!({
                "group": "", "kind": "Service", "name": b.name, "port": port,
                "weight": if serving { b.effective_weight() } else { 0 }
            })),
            _ if b.effective_weight() == 0 => {}
            (None, _) => problems.push(format!("service {:?} not found", b.name)),
            (Some(_), None) => problems.push(format!(
                "service {:?} has no port matching the route's targetPort",
                b.name
            )),
        }
        weights.push((b.name.clone(), b.effective_weight(), serving));
    }
    let host = host::effective_host(route, inputs.domain);
    let backends = shares(&weights);
    let services = backends
        .iter()
        .map(|b| format!("{}({}%)", b.name, b.percent))
        .collect::<Vec<_>>()
        .join(",");
    let status = RouteStatus {
        ingress: vec![RouteIngress {
            host: host.as_ref().ok().map(|h| h.name.clone()),
            router_name: ROUTER_NAME.into(),
            conditions: vec![condition(
                "Unknown",
                reason::PENDING,
                "waiting for the Gateway to accept the route".into(),
            )],
            wildcard_policy: Some(
                spec.wildcard_policy
                    .clone()
                    .unwrap_or_else(|| "None".into()),
            ),
            router_canonical_hostname: inputs
                .gateway
                .as_ref()
                .and_then(|g| g.addresses.first().cloned()),
        }],
        backends,
        services: Some(services),
        observed_generation: route.metadata.generation.unwrap_or(0),
        // The shift's own state machine (`shift::advance`) writes it.
        shift: None,
    };
    let mut plan = Plan {
        kind,
        objects: Vec::new(),
        generated_host: None,
        status,
    };
    let now = inputs.now;
    let previous = route.status.as_ref();

    // The rungs: the first that fails refuses the Route.
    if !inputs.apis.routes {
        return plan.refuse(
            reason::GATEWAY_API_NOT_INSTALLED,
            "the cluster does not serve the Gateway API (gateway.networking.k8s.io/v1): install its standard CRDs and a Gateway implementation".into(),
            previous,
            now,
        );
    }
    let Some(gateway_ref) = &inputs.gateway_ref else {
        return plan.refuse(
            reason::NO_PARENT_GATEWAY,
            format!("no parent Gateway: annotate the route with {GATEWAY_ANNOTATION}: <namespace>/<name>, or start the operator with --default-gateway"),
            previous,
            now,
        );
    };
    let Some(gateway) = &inputs.gateway else {
        return plan.refuse(
            reason::GATEWAY_NOT_FOUND,
            format!("Gateway {} not found", gateway_ref.display(&ns)),
            previous,
            now,
        );
    };
    let host = match host {
        Ok(h) => h,
        Err((why, message)) => return plan.refuse(why, message, previous, now),
    };
    if host.generated {
        plan.generated_host = Some(host.name.clone());
    }
    let key = host::claim_key(route, &host.name);
    let claimants: Vec<&Route> = inputs
        .routes
        .iter()
        .copied()
        .filter(|r| {
            host::effective_host(r, inputs.domain).is_ok_and(|h| host::claim_key(r, &h.name) == key)
        })
        .collect();
    if let Err(message) = host::claim(route, &host.name, &claimants) {
        return plan.refuse(reason::HOST_ALREADY_CLAIMED, message, previous, now);
    }
    let tls = termination != Termination::Plain;
    let options = options::options(route, tls);
    if !options.refused.is_empty() {
        return plan.refuse(
            reason::UNSUPPORTED_ACCESS_CONTROL,
            format!(
                "{} cannot be enforced by a Gateway API data plane: serving the route without it would expose it to clients it excludes on OpenShift",
                options.refused.join(", ")
            ),
            previous,
            now,
        );
    }
    let attachment = match attach(route, gateway, &host.name, inputs.apis) {
        Ok(a) => a,
        Err((why, message)) => return plan.refuse(why, message, previous, now),
    };

    // The objects.
    let hostnames = vec![key];
    let mut objects = Vec::new();
    if let (Some(secret), Some(tls)) = (&attachment.listener_set, &spec.tls) {
        if let (Some(certificate), None) = (&tls.certificate, &tls.external_certificate) {
            objects.push(manifest::certificate_secret(
                route,
                certificate,
                tls.ca_certificate.as_deref(),
                tls.key.as_deref().unwrap_or_default(),
            ));
        }
        objects.push(manifest::listener_set(route, gateway, &host.name, secret));
    }
    if termination == Termination::Reencrypt {
        let ca = spec
            .tls
            .as_ref()
            .and_then(|t| t.destination_ca_certificate.as_deref())
            .filter(|c| !c.trim().is_empty());
        if let Some(pem) = ca {
            objects.push(manifest::destination_ca(route, pem));
        }
        for r in &refs {
            let service = r["name"].as_str().unwrap_or_default();
            objects.push(manifest::backend_tls_policy(route, service, ca.is_some()));
        }
    }
    let rule = match kind {
        RouteKind::Http => {
            let path = spec
                .path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into());
            let mut rule = json!({"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": refs});
            if !options.filters.is_empty() {
                rule["filters"] = json!(options.filters);
            }
            if let Some(timeout) = &options.request_timeout {
                rule["timeouts"] = json!({"request": timeout});
            }
            rule
        }
        RouteKind::Tls => json!({"backendRefs": refs}),
    };
    let mut ignored = options.ignored;
    if kind == RouteKind::Tls && (!options.filters.is_empty() || options.request_timeout.is_some())
    {
        ignored.push("header actions, timeout and rewrite (a passthrough route's HTTP is encrypted end to end)".into());
    }
    objects.push(manifest::route_object(
        route,
        kind.kind(),
        &attachment.parents,
        &hostnames,
        rule,
    ));
    if !attachment.redirect.is_empty() {
        objects.push(manifest::redirect_route(
            route,
            &attachment.redirect,
            &hostnames,
        ));
    }
    plan.objects = objects;

    // Admitted: a missing backend, else what the Gateway reported.
    let admitted = if !problems.is_empty() {
        condition(
            "False",
            reason::BACKEND_NOT_FOUND,
            format!("{}; those backends receive no traffic", problems.join("; ")),
        )
    } else {
        admission(&attachment.parents, inputs.applied, &ns, attachment.note)
    };
    ignored.sort();
    for ingress in &mut plan.status.ingress {
        ingress.conditions = vec![admitted.clone()];
        if !ignored.is_empty() {
            ingress.conditions.push(RouteIngressCondition {
                type_: reason::UNSUPPORTED_CONFIGURATION.into(),
                status: "True".into(),
                reason: reason::NOT_REALISED.into(),
                message: format!(
                    "not realised on a Gateway API data plane: {}",
                    ignored.join(", ")
                ),
                last_transition_time: None,
            });
        }
    }
    plan.keep(previous, now)
}

/// Admitted from the route's `status.parents`: True when every parent it names accepted it and
/// resolved its references for the current generation; False with the Gateway's reason when one
/// refused; Unknown until each has answered.
fn admission(
    parents: &[Parent],
    applied: Option<&Value>,
    route_namespace: &str,
    note: Option<String>,
) -> RouteIngressCondition {
    let pending = |who: &str| {
        condition(
            "Unknown",
            reason::PENDING,
            format!("waiting for {who} to accept the route"),
        )
    };
    let Some(applied) = applied else {
        return pending("the Gateway");
    };
    let generation = applied["metadata"]["generation"].as_i64().unwrap_or(0);
    let reported = applied["status"]["parents"].as_array();
    for parent in parents {
        let Some(entry) = reported
            .into_iter()
            .flatten()
            .find(|p| parent.is(&p["parentRef"], route_namespace))
        else {
            return pending(&parent.describe());
        };
        let conditions = entry["conditions"].as_array();
        let find = |t: &str| {
            conditions
                .into_iter()
                .flatten()
                .find(|c| c["type"] == t)
                .cloned()
        };
        for (t, refused_reason) in [
            ("Accepted", reason::GATEWAY_NOT_ACCEPTED),
            ("ResolvedRefs", reason::GATEWAY_REFS_NOT_RESOLVED),
        ] {
            let Some(c) = find(t) else {
                return pending(&parent.describe());
            };
            if c["observedGeneration"]
                .as_i64()
                .is_some_and(|g| g < generation)
            {
                return pending(&parent.describe());
            }
            if c["status"] != "True" {
                return condition(
                    "False",
                    refused_reason,
                    format!(
                        "{}: {}: {}",
                        parent.describe(),
                        c["reason"].as_str().unwrap_or(""),
                        c["message"].as_str().unwrap_or("")
                    ),
                );
            }
        }
    }
    condition("True", "", note.unwrap_or_default())
}

impl Plan {
    fn keep(mut self, previous: Option<&RouteStatus>, now: Timestamp) -> Plan {
        keep_transition_times(&mut self.status, previous, now);
        self
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
