//! The ladder: each rung refuses the Route (`Err` with OpenShift's reason) or hands on; past the
//! last, the Route is admitted and realised. `plan` turns the outcome into actions and the whole
//! status; `refused` does the same for a refusal the shell met carrying a plan out.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use serde_json::Value;

use crate::api::conditions::route as reason;
use crate::api::route::{Route, RouteIngress, RouteStatus};

use super::actions::{self, Owned, Refusal, RouteAction, Wanted};
use super::admission::{self, keep_transition_times};
use super::attach::attach;
use super::backends::{self, Resolved, shares};
use super::gateway::{Gateway, GatewayRef};
use super::host::{self, Host, HostError};
use super::options::{self, Options};
use super::realise::Admitted;
use super::sessions;
use super::shift::{self, ShiftDecision};
use super::validation;
use super::{Apis, GATEWAY_ANNOTATION, ROUTER_NAME, Refused, RouteKind, Termination, termination};

/// How long a Route waits, at most, without an event (a safety net: what changes wakes it).
const RESYNC: Duration = Duration::from_secs(300);

/// What the shell observed for one Route.
pub struct Inputs<'a> {
    /// The Route as read (a traffic shift's weights are put on by the plan).
    pub route: &'a Route,
    /// The Services of the Route's namespace it names (missing ones absent).
    pub services: Vec<&'a Service>,
    /// Those of them with no ready endpoint.
    pub without_endpoints: Vec<&'a str>,
    /// The parent Gateway: the Route's annotation, else the operator's default.
    pub gateway_ref: Option<GatewayRef>,
    /// That Gateway as read (`None`: it does not exist, or may not be read).
    pub gateway: Option<Gateway>,
    /// Why the operator may not read that Gateway (a namespace-scoped install), when it may not.
    pub gateway_unreadable: Option<String>,
    /// The other Routes the operator serves (host claims are decided among them).
    pub routes: Vec<&'a Route>,
    /// The ingress domain of generated hosts (`--route-domain`).
    pub domain: Option<&'a str>,
    pub apis: Apis,
    /// The objects of the kinds a Route may own in its namespace, as cached: the Route's own
    /// that the plan no longer needs are deleted; a planned name not among its own is checked.
    pub owned: &'a [Owned],
    /// The Gateways `(namespace, name)` that hold a listener of this Route's (cutover's name for
    /// it): each that should not is told to drop it.
    pub listeners_held: Vec<(String, String)>,
    /// The Route's traffic shift this pass (`shift::advance`): the weights it serves, the state
    /// the status records, a rollback it requests.
    pub shift: Option<&'a ShiftDecision>,
    /// The Route's main Gateway API route as it stands after applying: its `status.parents` is
    /// what the Gateway made of it.
    pub applied: Option<&'a Value>,
    /// Now: when a condition that changes status transitions.
    pub now: Timestamp,
}

/// The outcome: what to do, in order, and the Route's whole status.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: RouteKind,
    pub actions: Vec<RouteAction>,
    pub status: RouteStatus,
    /// When to look again: a shift's next step or check, else the resync.
    pub requeue_after: Duration,
}

impl Plan {
    /// The objects applied, in order (the main route last).
    pub fn objects(&self) -> Vec<&Value> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                RouteAction::Apply { object, .. } => Some(object),
                _ => None,
            })
            .collect()
    }

    /// The main route object (HTTPRoute or TLSRoute), when the Route is served.
    pub fn main(&self) -> Option<&Value> {
        self.actions.iter().find_map(|a| match a {
            RouteAction::Apply { object, main: true } => Some(object),
            _ => None,
        })
    }

    /// The host generated for the Route, written into its `spec.host`.
    pub fn generated_host(&self) -> Option<&str> {
        self.actions.iter().find_map(|a| match a {
            RouteAction::WriteHost { host, .. } => Some(host.as_str()),
            _ => None,
        })
    }
}

/// Plans one Route.
pub fn plan(inputs: &Inputs<'_>) -> Plan {
    let promotion = shift::promotion(inputs.route, inputs.shift);
    let route = shift::serving(
        inputs.route,
        promotion.as_ref(),
        inputs.shift.map(|d| &d.status),
    );
    let resolved = backends::resolve(&route, &inputs.services, &inputs.without_endpoints);
    let host = host::effective_host(&route, inputs.domain);
    let mut status = status(inputs, &route, &resolved, host.as_ref().ok());
    status.promotion = promotion;
    let previous = inputs.route.status.as_ref();
    let mut generated_host = None;
    let wanted = match ladder(inputs, &route, &resolved, &host, &mut generated_host) {
        Ok(admitted) => {
            let conditions = admitted.conditions(inputs.applied);
            for ingress in &mut status.ingress {
                ingress.conditions = conditions.clone();
            }
            keep_transition_times(&mut status, previous, inputs.now);
            status.session_affinity = admitted.sessions.as_ref().map(|s| s.status());
            admitted.objects()
        }
        Err((why, message)) => {
            admission::refuse(&mut status, why, message, previous, inputs.now);
            Wanted::default()
        }
    };
    Plan {
        kind: kind(&route),
        actions: actions::actions(
            inputs.route,
            inputs.owned,
            &inputs.listeners_held,
            inputs.shift,
            wanted,
            generated_host,
        ),
        status,
        requeue_after: inputs
            .shift
            .and_then(|d| d.requeue_after)
            .map_or(RESYNC, |r| r.min(RESYNC)),
    }
}

/// The plan once the shell met `refusal` carrying `plan` out: the Route refused, nothing of it
/// applied any more, what it owns deleted; its generated host and a shift's rollback stand.
pub fn refused(inputs: &Inputs<'_>, mut plan: Plan, refusal: &Refusal) -> Plan {
    let (why, message) = refusal.condition();
    let previous = inputs.route.status.as_ref();
    admission::refuse(&mut plan.status, why, message, previous, inputs.now);
    plan.status.session_affinity = None;
    let host = plan.generated_host().map(str::to_string);
    plan.actions = actions::actions(
        inputs.route,
        inputs.owned,
        &inputs.listeners_held,
        inputs.shift,
        Wanted::default(),
        host,
    );
    plan
}

/// A Route being deleted: its listeners taken off the Gateways, then its finalizer (what it owns
/// goes with it by garbage collection).
pub fn departing(route: &Route, listeners_held: &[(String, String)]) -> Vec<RouteAction> {
    actions::actions(route, &[], listeners_held, None, Wanted::default(), None)
}

/// The rungs, in order: the first that fails refuses the Route. The host rung records a
/// generated host, which is written whatever a later rung says.
fn ladder<'r>(
    inputs: &'r Inputs<'_>,
    route: &'r Route,
    resolved: &'r Resolved,
    host: &'r Result<Host, HostError>,
    generated_host: &mut Option<String>,
) -> Result<Admitted<'r>, Refused> {
    served(inputs)?;
    let gateway = parent(inputs, route)?;
    let host = host.as_ref().map_err(Clone::clone)?;
    if host.generated {
        *generated_host = Some(host.name.clone());
    }
    let key = claimed(inputs, route, host)?;
    // After the claim, as the router validates after its host index: a Route refused here
    // still holds its host, as one refused for its access controls does.
    let key_pair = validation::validate(route, inputs.now)?;
    let options = access_controls(route)?;
    let attachment = attach(route, gateway, &host.name, inputs.apis)?;
    Ok(Admitted {
        route,
        kind: kind(route),
        gateway,
        host: &host.name,
        key,
        key_pair,
        options,
        attachment,
        resolved,
        pin: inputs
            .shift
            .and_then(|d| Some((d.pinned.as_ref()?, d.status.to.as_str()))),
        sessions: sessions::sessions(inputs.route, gateway, inputs.apis),
        mirror: inputs
            .shift
            .and_then(|d| Some((d.mirrored?, d.status.to.as_str()))),
        apis: inputs.apis,
    })
}

/// The Gateway API must be served.
fn served(inputs: &Inputs<'_>) -> Result<(), Refused> {
    if inputs.apis.routes {
        return Ok(());
    }
    Err((
        reason::GATEWAY_API_NOT_INSTALLED,
        "the cluster does not serve the Gateway API (gateway.networking.k8s.io/v1): install its standard CRDs and a Gateway implementation".into(),
    ))
}

/// The parent Gateway must be named, readable and found.
fn parent<'i>(inputs: &'i Inputs<'_>, route: &Route) -> Result<&'i Gateway, Refused> {
    let Some(gateway_ref) = &inputs.gateway_ref else {
        return Err((
            reason::NO_PARENT_GATEWAY,
            format!(
                "no parent Gateway: annotate the route with {GATEWAY_ANNOTATION}: <namespace>/<name>, or start the operator with --default-gateway"
            ),
        ));
    };
    match (&inputs.gateway, &inputs.gateway_unreadable) {
        (Some(gateway), _) => Ok(gateway),
        (None, Some(why)) => Err((reason::GATEWAY_NOT_READABLE, why.clone())),
        (None, None) => Err((
            reason::GATEWAY_NOT_FOUND,
            format!(
                "Gateway {} not found",
                gateway_ref.display(&route.namespace().unwrap_or_default())
            ),
        )),
    }
}

/// The oldest Route of a host holds it (among those claiming the same key). The key claimed is
/// the main route's hostname.
fn claimed(inputs: &Inputs<'_>, route: &Route, host: &Host) -> Result<String, Refused> {
    let key = host::claim_key(route, &host.name);
    let claimants: Vec<&Route> = inputs
        .routes
        .iter()
        .copied()
        .filter(|r| {
            host::effective_host(r, inputs.domain).is_ok_and(|h| host::claim_key(r, &h.name) == key)
        })
        .collect();
    host::claim(route, &host.name, &claimants)
        .map_err(|message| (reason::HOST_ALREADY_CLAIMED, message))?;
    Ok(key)
}

/// Access controls a Gateway API data plane cannot enforce refuse the Route.
fn access_controls(route: &Route) -> Result<Options, Refused> {
    let options = options::options(route, termination(route).0 != Termination::Plain);
    if options.refused.is_empty() {
        return Ok(options);
    }
    Err((
        reason::UNSUPPORTED_ACCESS_CONTROL,
        format!(
            "{} cannot be enforced by a Gateway API data plane: serving the route without it would expose it to clients it excludes on OpenShift",
            options.refused.join(", ")
        ),
    ))
}

/// The kind that realises the Route: a TLSRoute for passthrough, else an HTTPRoute.
fn kind(route: &Route) -> RouteKind {
    match termination(route).0 {
        Termination::Passthrough => RouteKind::Tls,
        _ => RouteKind::Http,
    }
}

/// The status every pass starts from: the host, the backends' shares, the shift's state; the
/// conditions are the outcome's.
fn status(
    inputs: &Inputs<'_>,
    route: &Route,
    resolved: &Resolved,
    host: Option<&Host>,
) -> RouteStatus {
    let backends = shares(&resolved.weights);
    let services = backends
        .iter()
        .map(|b| format!("{}({}%)", b.name, b.percent))
        .collect::<Vec<_>>()
        .join(",");
    RouteStatus {
        ingress: vec![RouteIngress {
            host: host.map(|h| h.name.clone()),
            router_name: ROUTER_NAME.into(),
            conditions: Vec::new(),
            wildcard_policy: Some(
                route
                    .spec
                    .wildcard_policy
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
        shift: inputs.shift.map(|d| d.status.clone()),
        promotion: None,
        session_affinity: None,
    }
}
