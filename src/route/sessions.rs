//! Sticky sessions. OpenShift's router keeps a client on the backend it first reached with a
//! cookie, by default, on a Route whose traffic is split among backends; without it a user in a
//! 10/90 traffic shift would flip between versions on every request. cutover does the same
//! through what the Gateway's implementation serves: Traefik ignores HTTPRoute
//! `sessionPersistence`, so for Traefik the weighted rule refers to a TraefikService with a
//! sticky cookie; elsewhere the rule's `sessionPersistence` (Gateway API's experimental
//! channel); else sessions are not sticky, and `status.sessionAffinity` says why.

use kube::ResourceExt;
use sha2::Digest;

use crate::api::route::{Route, SessionAffinity, affinity};

use super::gateway::Gateway;
use super::{Apis, Termination, backends, termination};

/// `"true"` turns sticky sessions off, as on OpenShift.
pub const DISABLE_COOKIES_ANNOTATION: &str = "haproxy.router.openshift.io/disable_cookies";
/// The name of the session cookie, as on OpenShift.
pub const COOKIE_NAME_ANNOTATION: &str = "router.openshift.io/cookie_name";
/// The GatewayClass `controllerName` of Traefik's Gateway provider.
pub const TRAEFIK_CONTROLLER: &str = "traefik.io/gateway-controller";

/// How the Route's sessions are kept on one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// The weighted rule refers to the Route's TraefikService, which sets the cookie.
    TraefikService,
    /// The rule's `sessionPersistence`.
    SessionPersistence,
    /// Not sticky, and why.
    None(String),
}

/// The decision for one Route that asks for sticky sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sessions {
    pub mechanism: Mechanism,
    pub cookie: String,
    /// A `cookie_name` that is no cookie name (the default is used instead).
    pub ignored: Option<String>,
}

impl Sessions {
    pub fn status(&self) -> SessionAffinity {
        let (mechanism, message) = match &self.mechanism {
            Mechanism::TraefikService => (affinity::TRAEFIK_SERVICE, String::new()),
            Mechanism::SessionPersistence => (affinity::SESSION_PERSISTENCE, String::new()),
            Mechanism::None(why) => (affinity::NONE, why.clone()),
        };
        let sticky = !matches!(self.mechanism, Mechanism::None(_));
        SessionAffinity {
            mechanism: mechanism.into(),
            cookie: if sticky {
                self.cookie.clone()
            } else {
                String::new()
            },
            message,
        }
    }
}

/// Whether `route` (as declared) asks for sticky sessions: it has two or more backends, whatever
/// their weights now (weights set by hand or a traffic shift, which needs two, will split it).
/// `None`: it does not. Not by the weights: on Traefik a rule that moved to the TraefikService
/// when a split began would answer 404 until Traefik's other provider had read it.
pub fn sessions(route: &Route, gateway: &Gateway, apis: Apis) -> Option<Sessions> {
    if backends::backends(route).len() < 2 {
        return None;
    }
    let (cookie, ignored) = cookie_name(route);
    Some(Sessions {
        mechanism: mechanism(route, gateway, apis),
        cookie,
        ignored,
    })
}

fn mechanism(route: &Route, gateway: &Gateway, apis: Apis) -> Mechanism {
    let disabled = route
        .annotations()
        .get(DISABLE_COOKIES_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled {
        return Mechanism::None(format!("disabled by {DISABLE_COOKIES_ANNOTATION}"));
    }
    let traefik = gateway.controller.as_deref() == Some(TRAEFIK_CONTROLLER);
    match termination(route).0 {
        Termination::Passthrough => Mechanism::None(
            "a passthrough route's HTTP is encrypted end to end: no cookie can be set".into(),
        ),
        // A TraefikService's children are plain Services: the BackendTLSPolicy that makes
        // re-encrypt speak TLS to them would not apply.
        Termination::Reencrypt if traefik => Mechanism::None(
            "Traefik serves a re-encrypt route's TLS to its backends only without a TraefikService, which its sticky cookie needs".into(),
        ),
        _ if traefik && apis.traefik_services => Mechanism::TraefikService,
        _ if traefik => Mechanism::None(
            "the Gateway is Traefik's, and the cluster does not serve TraefikService (traefik.io/v1alpha1): install Traefik's CRDs, start Traefik with --providers.kubernetescrd, then restart the operator".into(),
        ),
        _ if apis.session_persistence => Mechanism::SessionPersistence,
        _ => Mechanism::None(format!(
            "the Gateway's implementation ({}) serves neither HTTPRoute sessionPersistence (Gateway API's experimental channel) nor TraefikService",
            gateway.controller.as_deref().unwrap_or("controller unknown")
        )),
    }
}

/// `router.openshift.io/cookie_name` when it is a cookie name, else one derived from the Route's
/// namespace and name (stable, and telling clients nothing of either).
fn cookie_name(route: &Route) -> (String, Option<String>) {
    let derived = || {
        let key = format!(
            "{}/{}",
            route.namespace().unwrap_or_default(),
            route.name_any()
        );
        let hash = sha2::Sha256::digest(key.as_bytes());
        hash[..16].iter().map(|b| format!("{b:02x}")).collect()
    };
    match route.annotations().get(COOKIE_NAME_ANNOTATION) {
        Some(name) if is_token(name) => (name.clone(), None),
        Some(name) => (
            derived(),
            Some(format!(
                "{COOKIE_NAME_ANNOTATION} (not a cookie name: {name:?})"
            )),
        ),
        None => (derived(), None),
    }
}

/// An RFC 6265 cookie name: visible ASCII but separators.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}
