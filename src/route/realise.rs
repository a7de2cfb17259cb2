//! Past the rungs: the objects that realise an admitted Route and its conditions. The main route
//! comes last: it refers to the others (its ListenerSet, the policies of its backends).

use kube::ResourceExt;
use serde_json::{Value, json};

use crate::api::conditions::route as reason;
use crate::api::route::{Route, RouteIngressCondition};

use super::actions::{GatewayListener, Wanted};
use super::admission::admission;
use super::attach::Attachment;
use super::backends::Resolved;
use super::gateway::Gateway;
use super::options::Options;
use super::sessions::{Mechanism, Sessions};
use super::shift::HeaderPin;
use super::validation::KeyPair;
use super::{Apis, RouteKind, Termination, manifest, mirror, termination};

/// An admitted Route and what the rungs found for it.
pub(super) struct Admitted<'a> {
    pub route: &'a Route,
    pub kind: RouteKind,
    pub gateway: &'a Gateway,
    /// The host served, and the key the Route claims (its hostnames).
    pub host: &'a str,
    pub key: String,
    /// The Route's own certificate and key as validated (`None` without one of its own).
    pub key_pair: Option<KeyPair>,
    pub options: Options,
    pub attachment: Attachment,
    pub resolved: &'a Resolved,
    /// A traffic shift's header pin, and the backend it pins to.
    pub pin: Option<(&'a HeaderPin, &'a str)>,
    /// Sticky sessions, when the Route asks for them.
    pub sessions: Option<Sessions>,
    /// A traffic shift's mirror: the percentage of requests, and the backend they are copied to.
    pub mirror: Option<(i32, &'a str)>,
    pub apis: Apis,
}

impl Admitted<'_> {
    /// What realises the Route: the objects the main route needs, its own Gateway listener,
    /// then the main route.
    pub fn objects(&self) -> Wanted {
        let mut objects = self.certificate();
        objects.extend(self.reencrypt());
        if let Some(cookie) = self.sticky_service() {
            objects.push(manifest::traefik_service(
                self.route,
                cookie,
                &self.resolved.refs,
            ));
        }
        let hostnames = vec![self.key.clone()];
        if !self.attachment.redirect.is_empty() {
            objects.push(manifest::redirect_route(
                self.route,
                &self.attachment.redirect,
                &hostnames,
            ));
        }
        let main = manifest::route_object(
            self.route,
            self.kind.kind(),
            &self.attachment.parents,
            &hostnames,
            self.rules(),
        );
        Wanted {
            objects,
            listener: self.gateway_listener(),
            main: Some(main),
        }
    }

    /// The Route's own certificate: its Secret (unless it names an external one), and the
    /// ListenerSet serving it or, for a Gateway listener of its own in another namespace, the
    /// ReferenceGrant that lets the Gateway read it. The Secret holds the certificate and key as
    /// the router serves them: the certificate blocks alone, the key wherever it was given.
    fn certificate(&self) -> Vec<Value> {
        let attachment = &self.attachment;
        let (Some(secret), Some(tls)) = (
            (attachment.listener_set.as_ref()).or(attachment.gateway_listener.as_ref()),
            &self.route.spec.tls,
        ) else {
            return Vec::new();
        };
        let mut objects = Vec::new();
        if let (Some(pair), None) = (&self.key_pair, &tls.external_certificate) {
            objects.push(manifest::certificate_secret(
                self.route,
                &pair.certificate,
                tls.ca_certificate.as_deref(),
                &pair.key,
            ));
        }
        if attachment.listener_set.is_some() {
            objects.push(manifest::listener_set(
                self.route,
                self.gateway,
                self.host,
                secret,
            ));
        } else if self.route.namespace().as_deref() != Some(self.gateway.namespace.as_str()) {
            objects.push(manifest::reference_grant(self.route, self.gateway, secret));
        }
        objects
    }

    /// The Route's own listener on its Gateway, as its field manager applies it.
    fn gateway_listener(&self) -> Option<GatewayListener> {
        let secret = self.attachment.gateway_listener.as_ref()?;
        let listener = manifest::route_listener(self.route, self.gateway, self.host, secret);
        Some(GatewayListener {
            namespace: self.gateway.namespace.clone(),
            gateway: self.gateway.name.clone(),
            apply: manifest::gateway_listener_apply(self.gateway, &listener),
        })
    }

    /// Re-encrypt: the destination CA and a BackendTLSPolicy per backend.
    fn reencrypt(&self) -> Vec<Value> {
        if termination(self.route).0 != Termination::Reencrypt {
            return Vec::new();
        }
        let ca = self
            .route
            .spec
            .tls
            .as_ref()
            .and_then(|t| t.destination_ca_certificate.as_deref())
            .filter(|c| !c.trim().is_empty());
        let mut objects = Vec::new();
        if let Some(pem) = ca {
            objects.push(manifest::destination_ca(self.route, pem));
        }
        for r in &self.resolved.refs {
            let service = r["name"].as_str().unwrap_or_default();
            objects.push(manifest::backend_tls_policy(
                self.route,
                service,
                self.resolved.port_names.get(service).map(String::as_str),
                ca.is_some(),
            ));
        }
        objects
    }

    /// The main route's rules: a shift's header pin first (requests with the header to `to`
    /// alone; Gateway API's precedence prefers a rule with more header matches anyway), then
    /// the Route's own, with a shift's mirror.
    fn rules(&self) -> Vec<Value> {
        let mut main = self.rule();
        let pinned = self
            .pin
            .filter(|_| self.kind != RouteKind::Tls)
            .and_then(|(pin, to)| {
                let to: Vec<Value> = (self.resolved.refs.iter())
                    .filter(|r| r["name"] == to)
                    .map(|r| {
                        let mut r = r.clone();
                        r["weight"] = json!(1);
                        r
                    })
                    .collect();
                let mut rule = main.clone();
                rule["matches"][0]["headers"] =
                    json!([{"type": "Exact", "name": pin.name, "value": pin.value}]);
                rule["backendRefs"] = json!(to);
                (!to.is_empty()).then_some(rule)
            });
        if let Some(Ok(mirror)) = self.mirror_filter() {
            let filters = main["filters"].as_array().cloned().unwrap_or_default();
            main["filters"] = json!(filters.into_iter().chain([mirror]).collect::<Vec<_>>());
        }
        pinned.into_iter().chain([main]).collect()
    }

    /// The shift's mirror filter, or why it is not realised (`None`: no mirror, or its backend
    /// is missing, which the Admitted condition says).
    fn mirror_filter(&self) -> Option<Result<Value, String>> {
        let (percent, to) = self.mirror?;
        let backend = self.resolved.refs.iter().find(|r| r["name"] == to)?;
        Some(
            mirror::filter(self.kind, self.gateway, self.apis, percent, backend).map_err(|why| {
                format!("traffic-shift mirror of {percent}% of requests to {to} ({why})")
            }),
        )
    }

    /// The cookie of the Route's TraefikService, when its rule goes through one (it has
    /// backends to split among).
    fn sticky_service(&self) -> Option<&str> {
        let sessions = self.sessions.as_ref()?;
        (sessions.mechanism == Mechanism::TraefikService && !self.resolved.refs.is_empty())
            .then_some(sessions.cookie.as_str())
    }

    /// The Route's own rule: its path, backends (through its TraefikService for sticky
    /// sessions on Traefik), filters, timeout and session persistence (a TLSRoute has only
    /// backends).
    fn rule(&self) -> Value {
        let refs = &self.resolved.refs;
        if self.kind == RouteKind::Tls {
            return json!({"backendRefs": refs});
        }
        let refs = match self.sticky_service() {
            Some(_) => vec![manifest::traefik_service_ref(self.route)],
            None => refs.clone(),
        };
        let path = self
            .route
            .spec
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let mut rule = json!({"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": refs});
        if !self.options.filters.is_empty() {
            rule["filters"] = json!(self.options.filters);
        }
        if let Some(timeout) = &self.options.request_timeout {
            rule["timeouts"] = json!({"request": timeout});
        }
        if let Some(s) =
            (self.sessions.as_ref()).filter(|s| s.mechanism == Mechanism::SessionPersistence)
        {
            rule["sessionPersistence"] = json!({"sessionName": s.cookie, "type": "Cookie"});
        }
        rule
    }

    /// Admitted (what the Gateway reported on `applied`), backends not found, and what is not
    /// realised. As OpenShift's router, a missing Service does not refuse the Route: its share
    /// goes to the backends there, and with none left the route answers 503.
    pub fn conditions(&self, applied: Option<&Value>) -> Vec<RouteIngressCondition> {
        let admitted = admission(
            &self.attachment.parents,
            applied,
            &self.route.namespace().unwrap_or_default(),
            self.attachment.note.clone(),
        );
        let mut conditions = vec![admitted];
        let problems = &self.resolved.problems;
        if !problems.is_empty() {
            conditions.push(RouteIngressCondition {
                type_: reason::RESOLVED_REFS.into(),
                status: "False".into(),
                reason: reason::BACKEND_NOT_FOUND.into(),
                message: format!("{}; those backends receive no traffic", problems.join("; ")),
                last_transition_time: None,
            });
        }
        let ignored = self.ignored();
        if !ignored.is_empty() {
            conditions.push(RouteIngressCondition {
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
        conditions
    }

    /// What the Route asks for that the data plane does not realise, sorted.
    fn ignored(&self) -> Vec<String> {
        let options = &self.options;
        let mut ignored = options.ignored.clone();
        ignored.extend(self.sessions.iter().filter_map(|s| s.ignored.clone()));
        ignored.extend(self.mirror_filter().and_then(Result::err));
        if self.kind == RouteKind::Tls
            && (!options.filters.is_empty() || options.request_timeout.is_some())
        {
            ignored.push("header actions, timeout and rewrite (a passthrough route's HTTP is encrypted end to end)".into());
        }
        ignored.sort();
        ignored
    }
}
