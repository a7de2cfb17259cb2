//! The parent Gateway as the operator observes it, and which of its listeners a Route may use.
//!
//! OpenShift's router serves a plain Route on port 80 and a TLS Route on 443 only (port 80 only
//! for `insecureEdgeTerminationPolicy: Allow`). On a Gateway the same promise is made by naming
//! listeners in `parentRefs[].sectionName`: a Route never attaches to a listener its termination
//! does not allow, so an HTTPS-only application is never served in clear text.

use serde_json::Value;

use crate::api::keys::{MANAGE_LISTENERS_ANNOTATION, ROUTE_LISTENER_PREFIX};

/// A parent Gateway: `cutover.io/gateway` or the operator's default.
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

    /// The parent Gateway of `route`: its `cutover.io/gateway` annotation, else `default`.
    pub fn of_route(
        route: &crate::api::route::Route,
        default: Option<&GatewayRef>,
    ) -> Option<GatewayRef> {
        use kube::ResourceExt;
        route
            .annotations()
            .get(crate::api::keys::GATEWAY_ANNOTATION)
            .and_then(|g| GatewayRef::parse(g))
            .or_else(|| default.cloned())
    }

    /// Whether this reference, made by a Route in `route_namespace`, names Gateway `ns/name`.
    pub fn names(&self, route_namespace: &str, ns: &str, name: &str) -> bool {
        self.name == name && self.namespace.as_deref().unwrap_or(route_namespace) == ns
    }

    /// `namespace/name`, the Route's namespace when the reference names none.
    pub fn display(&self, route_namespace: &str) -> String {
        format!(
            "{}/{}",
            self.namespace.as_deref().unwrap_or(route_namespace),
            self.name
        )
    }
}

/// A listener's protocol, as far as Routes care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    /// HTTPS, or TLS with `mode: Terminate`.
    Https,
    /// TLS with `mode: Passthrough`.
    TlsPassthrough,
    Other,
}

/// One listener of the Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub protocol: Protocol,
    pub port: i64,
    pub hostname: Option<String>,
}

/// Which namespaces' ListenerSets the Gateway accepts (`spec.allowedListeners`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllowedListeners {
    #[default]
    None,
    Same,
    /// `All`, or `Selector` (the selector is the Gateway's business: its status will say).
    Some,
}

/// What the Route controller reads of its parent Gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gateway {
    pub namespace: String,
    pub name: String,
    pub listeners: Vec<Listener>,
    pub allowed_listeners: AllowedListeners,
    /// `status.addresses[].value`: the first becomes `routerCanonicalHostname`.
    pub addresses: Vec<String>,
    /// `spec.gatewayClassName`.
    pub class: Option<String>,
    /// Its GatewayClass's `controllerName` (the implementation), as the shell found it.
    pub controller: Option<String>,
    /// The features its GatewayClass says the implementation supports (`status.supportedFeatures`).
    pub features: Vec<String>,
    /// `cutover.io/manage-listeners: "true"`: cutover may add a listener per Route with a
    /// certificate of its own.
    pub manages_listeners: bool,
}

/// What a Route's realisation needs of a GatewayClass: the implementation and what it supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayClass {
    /// `spec.controllerName`.
    pub controller: Option<String>,
    /// `status.supportedFeatures[].name` (Gateway API v1.2 on; plain strings before).
    pub features: Vec<String>,
    /// Its implementation accepted it: what it says is settled.
    pub accepted: bool,
}

impl GatewayClass {
    /// Reads a `gateway.networking.k8s.io/v1` GatewayClass (as JSON).
    pub fn from_json(object: &Value) -> GatewayClass {
        let features = object["status"]["supportedFeatures"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| f["name"].as_str().or(f.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let accepted = object["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Accepted" && c["status"] == "True")
        });
        GatewayClass {
            controller: object["spec"]["controllerName"]
                .as_str()
                .map(str::to_string),
            features,
            accepted,
        }
    }
}

impl Gateway {
    /// Reads a `gateway.networking.k8s.io/v1` Gateway (as JSON).
    pub fn from_json(namespace: &str, name: &str, object: &Value) -> Gateway {
        let str_of = |v: &Value| v.as_str().map(str::to_string);
        let listeners = object["spec"]["listeners"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .map(|l| {
                        let mode = l["tls"]["mode"].as_str().unwrap_or("Terminate");
                        let protocol = match (l["protocol"].as_str().unwrap_or(""), mode) {
                            ("HTTP", _) => Protocol::Http,
                            ("HTTPS", _) | ("TLS", "Terminate") => Protocol::Https,
                            ("TLS", "Passthrough") => Protocol::TlsPassthrough,
                            _ => Protocol::Other,
                        };
                        Listener {
                            name: l["name"].as_str().unwrap_or("").into(),
                            protocol,
                            port: l["port"].as_i64().unwrap_or(0),
                            hostname: str_of(&l["hostname"]).filter(|h| !h.is_empty()),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let allowed_listeners =
            match object["spec"]["allowedListeners"]["namespaces"]["from"].as_str() {
                Some("Same") => AllowedListeners::Same,
                Some("All" | "Selector") => AllowedListeners::Some,
                _ => AllowedListeners::None,
            };
        let addresses = object["status"]["addresses"]
            .as_array()
            .map(|a| a.iter().filter_map(|a| str_of(&a["value"])).collect())
            .unwrap_or_default();
        Gateway {
            namespace: namespace.into(),
            name: name.into(),
            listeners,
            allowed_listeners,
            addresses,
            class: str_of(&object["spec"]["gatewayClassName"]),
            controller: None,
            features: Vec::new(),
            manages_listeners: object["metadata"]["annotations"][MANAGE_LISTENERS_ANNOTATION]
                == "true",
        }
    }

    /// Whether a ListenerSet in `namespace` may attach to this Gateway.
    pub fn accepts_listener_sets_from(&self, namespace: &str) -> bool {
        match self.allowed_listeners {
            AllowedListeners::None => false,
            AllowedListeners::Same => namespace == self.namespace,
            AllowedListeners::Some => true,
        }
    }

    /// The listeners of `protocol` that serve `host`: the Gateway's own, never one cutover added
    /// for a Route's certificate.
    pub fn listeners_for(&self, protocol: Protocol, host: &str) -> Vec<&Listener> {
        self.listeners
            .iter()
            .filter(|l| !l.name.starts_with(ROUTE_LISTENER_PREFIX))
            .filter(|l| l.protocol == protocol && covers(l.hostname.as_deref(), host))
            .collect()
    }

    /// Whether it has a listener named `name`.
    pub fn has_listener(&self, name: &str) -> bool {
        self.listeners.iter().any(|l| l.name == name)
    }

    /// The port HTTPS is served on: the first HTTPS listener's, else 443.
    pub fn https_port(&self) -> i64 {
        self.listeners
            .iter()
            .find(|l| l.protocol == Protocol::Https)
            .map_or(443, |l| l.port)
    }
}

/// Whether a listener with `listener` as hostname serves `host` (Gateway API: no hostname serves
/// every host; `*.example.com` serves every name below example.com, not example.com itself).
pub fn covers(listener: Option<&str>, host: &str) -> bool {
    let Some(listener) = listener else {
        return true;
    };
    let (listener, host) = (listener.to_ascii_lowercase(), host.to_ascii_lowercase());
    if listener == host {
        return true;
    }
    match listener.strip_prefix('*') {
        Some(suffix) => {
            let host = host.strip_prefix('*').unwrap_or(&host);
            host.len() > suffix.len() && host.ends_with(suffix)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_wildcard_listener_covers_names_below_its_domain_only() {
        assert!(covers(None, "a.example.com"));
        assert!(covers(Some("a.example.com"), "A.example.com"));
        assert!(covers(Some("*.example.com"), "a.example.com"));
        assert!(covers(Some("*.example.com"), "a.b.example.com"));
        assert!(covers(Some("*.example.com"), "*.b.example.com"));
        assert!(!covers(Some("*.example.com"), "example.com"));
        assert!(!covers(Some("*.example.com"), "aexample.com"));
        assert!(!covers(Some("a.example.com"), "b.example.com"));
    }

    #[test]
    fn listeners_are_read_with_their_tls_mode() {
        let gw = Gateway::from_json(
            "infra",
            "public",
            &json!({
                "spec": {
                    "allowedListeners": {"namespaces": {"from": "Same"}},
                    "listeners": [
                        {"name": "web", "protocol": "HTTP", "port": 80},
                        {"name": "websecure", "protocol": "HTTPS", "port": 4443, "hostname": "*.apps.test"},
                        {"name": "tls", "protocol": "TLS", "port": 8443, "tls": {"mode": "Passthrough"}},
                        {"name": "tcp", "protocol": "TCP", "port": 9000}
                    ]
                },
                "status": {"addresses": [{"type": "Hostname", "value": "lb.apps.test"}]}
            }),
        );
        let protocols: Vec<_> = gw.listeners.iter().map(|l| l.protocol).collect();
        assert_eq!(
            protocols,
            [
                Protocol::Http,
                Protocol::Https,
                Protocol::TlsPassthrough,
                Protocol::Other
            ]
        );
        assert_eq!(gw.addresses, ["lb.apps.test"]);
        assert!(gw.accepts_listener_sets_from("infra"));
        assert!(!gw.accepts_listener_sets_from("shop"));
        assert_eq!(gw.https_port(), 4443, "the HTTPS listener's port");
        assert_eq!(
            gw.listeners_for(Protocol::Https, "a.apps.test").len(),
            1,
            "the wildcard HTTPS listener"
        );
        assert!(gw.listeners_for(Protocol::Https, "a.other.test").is_empty());
    }

    /// Gateway API v1.2 on lists features as objects, v1.1 as strings; a class its
    /// implementation has not accepted is read again.
    #[test]
    fn a_gateway_class_says_its_implementation_and_features() {
        let class = GatewayClass::from_json(&json!({
            "spec": {"controllerName": "example.com/gateway"},
            "status": {
                "conditions": [{"type": "Accepted", "status": "True"}],
                "supportedFeatures": [{"name": "HTTPRouteRequestMirror"}, "Gateway"]
            }
        }));
        assert_eq!(class.controller.as_deref(), Some("example.com/gateway"));
        assert_eq!(class.features, ["HTTPRouteRequestMirror", "Gateway"]);
        assert!(class.accepted);
        let waiting = GatewayClass::from_json(&json!({
            "spec": {"controllerName": "example.com/gateway"},
            "status": {"conditions": [{"type": "Accepted", "status": "Unknown"}]}
        }));
        assert!(!waiting.accepted && waiting.features.is_empty());
    }
}
