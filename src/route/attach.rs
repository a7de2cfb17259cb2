//! Where a Route attaches: the listeners its termination may use (never a plain HTTP listener
//! for TLS, unless `insecureEdgeTerminationPolicy: Allow`), the redirect route's, and its own
//! certificate's ListenerSet or Gateway listener — or why there are none.

use kube::ResourceExt;

use crate::api::conditions::route as reason;
use crate::api::keys::MANAGE_LISTENERS_ANNOTATION;
use crate::api::route::Route;

use super::Refused;
use super::gateway::{Gateway, Listener, Protocol};
use super::manifest::{self, Parent};
use super::{Apis, Insecure, Termination, termination};

/// Where the Route attaches, and what else it needs.
#[derive(Default)]
pub(super) struct Attachment {
    pub parents: Vec<Parent>,
    pub redirect: Vec<Parent>,
    /// The Route's certificate (its Secret) served through its own ListenerSet.
    pub listener_set: Option<String>,
    /// The Route's certificate (its Secret) served on a listener of its own that cutover adds to
    /// the Gateway.
    pub gateway_listener: Option<String>,
    /// Said in the Admitted message (whose certificate is served).
    pub note: Option<String>,
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

/// No listener of `protocol` for the host.
fn no_listener(gateway: &Gateway, host: &str, protocol: &str, why: &str) -> Refused {
    (
        reason::NO_MATCHING_LISTENER,
        format!(
            "Gateway {}/{} has no {protocol} listener for host {host}{why}",
            gateway.namespace, gateway.name
        ),
    )
}

/// The listeners a Route of this termination may use, or why there are none.
pub(super) fn attach(
    route: &Route,
    gateway: &Gateway,
    host: &str,
    apis: Apis,
) -> Result<Attachment, Refused> {
    let (termination, insecure) = termination(route);
    let http = gateway.listeners_for(Protocol::Http, host);
    let mut attachment = match termination {
        Termination::Plain if http.is_empty() => {
            return Err(no_listener(gateway, host, "HTTP", ""));
        }
        Termination::Plain => {
            return Ok(Attachment {
                parents: parents(gateway, &http),
                ..Attachment::default()
            });
        }
        Termination::Passthrough => passthrough(gateway, host, apis)?,
        Termination::Edge | Termination::Reencrypt => terminated(route, gateway, host, apis)?,
    };
    match insecure {
        Insecure::Allow => attachment.parents.extend(parents(gateway, &http)),
        Insecure::Redirect => attachment.redirect = parents(gateway, &http),
        Insecure::None => {}
    }
    Ok(attachment)
}

/// Passthrough: a TLSRoute on a TLS passthrough listener.
fn passthrough(gateway: &Gateway, host: &str, apis: Apis) -> Result<Attachment, Refused> {
    if !apis.tls_routes {
        return Err((
            reason::TLS_ROUTE_NOT_SERVED,
            "passthrough needs the Gateway API's TLSRoute (gateway.networking.k8s.io/v1, standard since v1.5), which the cluster does not serve".into(),
        ));
    }
    let tls = gateway.listeners_for(Protocol::TlsPassthrough, host);
    if tls.is_empty() {
        return Err(no_listener(gateway, host, "TLS passthrough", ""));
    }
    Ok(Attachment {
        parents: parents(gateway, &tls),
        ..Attachment::default()
    })
}

/// Edge and re-encrypt: the Route's own certificate on its ListenerSet where the Gateway accepts
/// one from its namespace, else on a listener of its own where the Gateway lets cutover add them,
/// else the Gateway's HTTPS listeners (and their certificate).
fn terminated(
    route: &Route,
    gateway: &Gateway,
    host: &str,
    apis: Apis,
) -> Result<Attachment, Refused> {
    let ns = route.namespace().unwrap_or_default();
    let gw = format!("Gateway {}/{}", gateway.namespace, gateway.name);
    let tls = route.spec.tls.as_ref();
    let own = tls
        .and_then(|t| t.external_certificate.as_ref().map(|c| c.name.clone()))
        .or_else(|| {
            tls.and_then(|t| t.certificate.as_ref())
                .filter(|c| !c.trim().is_empty())
                .map(|_| manifest::certificate_name(&route.name_any()))
        });
    let https = gateway.listeners_for(Protocol::Https, host);
    let attachment = match own {
        Some(secret) if apis.listener_sets && gateway.accepts_listener_sets_from(&ns) => {
            Attachment {
                parents: vec![Parent {
                    kind: "ListenerSet",
                    namespace: ns.clone(),
                    name: route.name_any(),
                    section: manifest::LISTENER_SET_SECTION.into(),
                }],
                note: Some(format!(
                    "served with the route's own certificate (Secret {secret}) on ListenerSet {ns}/{} of {gw}",
                    route.name_any()
                )),
                listener_set: Some(secret),
                ..Attachment::default()
            }
        }
        Some(secret) if gateway.manages_listeners => {
            let listener = manifest::route_listener_name(&ns, &route.name_any());
            Attachment {
                note: Some(format!(
                    "served with the route's own certificate (Secret {secret}) on {gw} listener {listener}"
                )),
                parents: vec![Parent {
                    kind: "Gateway",
                    namespace: gateway.namespace.clone(),
                    name: gateway.name.clone(),
                    section: listener,
                }],
                gateway_listener: Some(secret),
                ..Attachment::default()
            }
        }
        _ if https.is_empty() => {
            return Err(no_listener(
                gateway,
                host,
                "HTTPS",
                ": a TLS route is never served over plain HTTP",
            ));
        }
        own => {
            let names: Vec<&str> = https.iter().map(|l| l.name.as_str()).collect();
            let note = match own {
                Some(_) => format!(
                    "served with the certificate of {gw} listener {}: the Gateway takes no ListenerSet from namespace {ns} and is not annotated {MANAGE_LISTENERS_ANNOTATION}: \"true\", so the route's own certificate is not used",
                    names.join(", ")
                ),
                None => format!(
                    "served with the certificate of {gw} listener {}",
                    names.join(", ")
                ),
            };
            Attachment {
                parents: parents(gateway, &https),
                note: Some(note),
                ..Attachment::default()
            }
        }
    };
    if termination(route).0 == Termination::Reencrypt && !apis.backend_tls_policies {
        return Err((
            reason::BACKEND_TLS_NOT_SUPPORTED,
            "re-encrypt needs the Gateway API's BackendTLSPolicy (gateway.networking.k8s.io/v1), which the cluster does not serve: without it the backend would get plain HTTP".into(),
        ));
    }
    Ok(attachment)
}
