//! PURE: a Route → the actions that realise it on the Gateway API, and the Route's status.
//!
//! `plan` climbs the rungs, in order: the Gateway API must be served, the parent Gateway named
//! and found, the host known (named, or generated from `--route-domain`) and claimed (the oldest
//! Route of a host holds it), the Route's own TLS material valid (OpenShift's router's extended
//! validation), the access controls realisable, and a listener there for the Route's
//! termination; any rung that fails refuses the Route with OpenShift's reason and leaves nothing
//! serving it. Past them: an HTTPRoute (a TLSRoute for passthrough) on exactly the
//! listeners the termination allows, the redirect route, the certificate's Secret and
//! ListenerSet (or its own listener on a Gateway that lets cutover add them), re-encrypt's
//! BackendTLSPolicies. Admitted then reports what the Gateway made of
//! the route.
//!
//! The plan is a list of actions (`RouteAction`) for the shell to carry out in order: check
//! that each name is free or the Route's, apply the objects (the main route last), delete what
//! the Route owns and no longer needs, write a generated host, request a failed shift's
//! rollback. What stops the shell (a name another owner holds, an object the API server
//! refuses) comes back as a `Refusal`, which `refused` turns into the plan that stands.
//!
//! - `plan`: the ladder and its rungs; `attach`: the listeners a termination may use;
//!   `realise`: the objects and conditions of an admitted Route; `admission`: Admitted from the
//!   Gateway's answer; `actions`: the actions, owner checks and refusals.
//! - `gateway` (listeners), `host` (generated hosts, claims), `options` (headers, annotations),
//!   `manifest` (the objects' JSON), `backends` (weights, shares, Service ports), `sessions`
//!   (sticky sessions of weighted Routes), `shift` (progressive traffic shifts), `mirror` (a
//!   shift's request mirroring), `validation` (certificates, keys and CAs, as the router checks
//!   them).

mod actions;
mod admission;
mod attach;
mod backends;
pub mod gateway;
pub mod host;
pub mod manifest;
pub mod mirror;
pub mod options;
mod plan;
mod realise;
pub mod sessions;
pub mod shift;
mod validation;

use crate::api::route::Route;

pub use actions::{Owned, Refusal, RouteAction};
pub use backends::{backends, shares};
pub use gateway::{Gateway, GatewayRef};
pub use manifest::Parent;
pub use plan::{Inputs, Plan, departing, plan, refused};

/// Why a rung of the Route's ladder refuses it: (reason, message).
type Refused = (&'static str, String);

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
    /// Traefik's TraefikService (traefik.io/v1alpha1): a weighted Route's sticky cookie there.
    pub traefik_services: bool,
    /// Whether the HTTPRoute CRD has `sessionPersistence` (Gateway API's experimental channel).
    pub session_persistence: bool,
    /// Whether the HTTPRoute CRD has a RequestMirror filter's `percent`.
    pub mirror_percent: bool,
}

impl Apis {
    pub const ALL: Apis = Apis {
        routes: true,
        tls_routes: true,
        listener_sets: true,
        backend_tls_policies: true,
        traefik_services: true,
        session_persistence: true,
        mirror_percent: true,
    };
}

#[cfg(test)]
mod tests;
