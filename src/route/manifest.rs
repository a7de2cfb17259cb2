//! The objects that realise a Route, each owned by it (garbage-collected with it) and labelled
//! with its name: the HTTPRoute (a TLSRoute for passthrough), the HTTP→HTTPS redirect route, the
//! Secret and ListenerSet of its own certificate, the BackendTLSPolicy and CA of re-encrypt, the
//! TraefikService of sticky sessions on Traefik, the ReferenceGrant letting a Gateway elsewhere
//! read its certificate. And one that is not an object: the listener of its own that cutover
//! adds to a Gateway that lets it (`cutover.io/manage-listeners`).

use base64::Engine;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::api::route::Route;

use super::ROUTE_LABEL;
use super::gateway::Gateway;
use crate::api::keys::ROUTE_LISTENER_PREFIX;

pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// Names of the objects a Route owns besides its main route (named like the Route).
pub fn redirect_name(route: &str) -> String {
    format!("{route}-redirect")
}
pub fn certificate_name(route: &str) -> String {
    format!("{route}-tls")
}
pub fn destination_ca_name(route: &str) -> String {
    format!("{route}-destination-ca")
}
pub fn backend_tls_name(route: &str, service: &str) -> String {
    format!("{route}-{service}")
}
pub fn sticky_name(route: &str) -> String {
    format!("{route}-sticky")
}

/// A parent of the Route's Gateway API route: a Gateway's listener, or a ListenerSet's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub section: String,
}

impl Parent {
    pub fn to_json(&self) -> Value {
        json!({"group": GATEWAY_GROUP, "kind": self.kind, "namespace": self.namespace,
               "name": self.name, "sectionName": self.section})
    }

    /// Whether an entry of a route's `status.parents` is about this parent.
    pub fn is(&self, reference: &Value, route_namespace: &str) -> bool {
        reference["kind"].as_str().unwrap_or("Gateway") == self.kind
            && reference["name"].as_str() == Some(self.name.as_str())
            && reference["namespace"].as_str().unwrap_or(route_namespace) == self.namespace
            && reference["sectionName"]
                .as_str()
                .is_none_or(|s| s == self.section)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {}/{} listener {}",
            self.kind, self.namespace, self.name, self.section
        )
    }
}

fn metadata(route: &Route, api_version: &str, kind: &str, name: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": route.namespace(),
            "labels": {ROUTE_LABEL: route.name_any()},
            "ownerReferences": [{
                "apiVersion": "route.openshift.io/v1", "kind": "Route", "name": route.name_any(),
                "uid": route.metadata.uid.clone().unwrap_or_default(), "controller": true, "blockOwnerDeletion": true
            }]
        }
    })
}

/// The HTTPRoute (or TLSRoute) serving the Route.
pub fn route_object(
    route: &Route,
    kind: &str,
    parents: &[Parent],
    hostnames: &[String],
    rules: Vec<Value>,
) -> Value {
    let mut object = metadata(
        route,
        &format!("{GATEWAY_GROUP}/v1"),
        kind,
        &route.name_any(),
    );
    object["spec"] = json!({
        "parentRefs": parents.iter().map(Parent::to_json).collect::<Vec<_>>(),
        "hostnames": hostnames,
        "rules": rules,
    });
    object
}

/// The HTTPRoute on the HTTP listeners that answers 302 to https (OpenShift's `Redirect`).
pub fn redirect_route(route: &Route, parents: &[Parent], hostnames: &[String]) -> Value {
    let mut object = metadata(
        route,
        &format!("{GATEWAY_GROUP}/v1"),
        "HTTPRoute",
        &redirect_name(&route.name_any()),
    );
    let mut rule = json!({"filters": [{"type": "RequestRedirect",
        "requestRedirect": {"scheme": "https", "statusCode": 302}}]});
    if let Some(path) = route.spec.path.as_ref().filter(|p| !p.is_empty()) {
        rule["matches"] = json!([{"path": {"type": "PathPrefix", "value": path}}]);
    }
    object["spec"] = json!({
        "parentRefs": parents.iter().map(Parent::to_json).collect::<Vec<_>>(),
        "hostnames": hostnames,
        "rules": [rule],
    });
    object
}

/// The Secret holding the Route's certificate (with its CA chain) and key.
pub fn certificate_secret(route: &Route, certificate: &str, ca: Option<&str>, key: &str) -> Value {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut chain = certificate.trim_end().to_string();
    if let Some(ca) = ca.filter(|c| !c.trim().is_empty()) {
        chain = format!("{chain}\n{}", ca.trim_end());
    }
    chain.push('\n');
    let mut object = metadata(route, "v1", "Secret", &certificate_name(&route.name_any()));
    object["type"] = json!("kubernetes.io/tls");
    object["data"] = json!({"tls.crt": b64(&chain), "tls.key": b64(key)});
    object
}

/// A ListenerSet on the parent Gateway with one HTTPS listener for `host`, serving the
/// certificate in Secret `secret` (of the Route's namespace).
pub fn listener_set(route: &Route, gateway: &Gateway, host: &str, secret: &str) -> Value {
    let mut object = metadata(
        route,
        &format!("{GATEWAY_GROUP}/v1"),
        "ListenerSet",
        &route.name_any(),
    );
    object["spec"] = json!({
        "parentRef": {"group": GATEWAY_GROUP, "kind": "Gateway", "namespace": gateway.namespace, "name": gateway.name},
        "listeners": [{
            "name": LISTENER_SET_SECTION,
            "hostname": host,
            "port": gateway.https_port(),
            "protocol": "HTTPS",
            "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": secret}]},
            "allowedRoutes": {"namespaces": {"from": "Same"}}
        }]
    });
    object
}

/// The name of a Route's listener on a Gateway that lets cutover add them: the Route's namespace
/// and name (a SectionName may hold dots; a namespace holds none, so it reads back), hashed only
/// past the 253 characters a SectionName may have.
pub fn route_listener_name(namespace: &str, route: &str) -> String {
    use sha2::Digest;
    let name = format!("{ROUTE_LISTENER_PREFIX}{namespace}.{route}");
    if name.len() <= 253 {
        return name;
    }
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", name[..236].trim_end_matches(['.', '-']))
}

/// A Route's own HTTPS listener on its parent Gateway: `host` only, serving the certificate in
/// Secret `secret` of the Route's namespace, taking HTTPRoutes from that namespace alone.
pub fn route_listener(route: &Route, gateway: &Gateway, host: &str, secret: &str) -> Value {
    let ns = route.namespace().unwrap_or_default();
    json!({
        "name": route_listener_name(&ns, &route.name_any()),
        "hostname": host,
        "port": gateway.https_port(),
        "protocol": "HTTPS",
        "tls": {"mode": "Terminate", "certificateRefs": [
            {"group": "", "kind": "Secret", "namespace": ns, "name": secret}
        ]},
        "allowedRoutes": {
            "namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}},
            "kinds": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]
        }
    })
}

/// What a Route's field manager applies to its Gateway: its listener alone (`spec.listeners` is
/// a map keyed by name, so the Gateway's own listeners are left as they are).
pub fn gateway_listener_apply(gateway: &Gateway, listener: &Value) -> Value {
    json!({
        "apiVersion": format!("{GATEWAY_GROUP}/v1"),
        "kind": "Gateway",
        "metadata": {"name": gateway.name, "namespace": gateway.namespace},
        "spec": {"listeners": [listener]}
    })
}

/// The ReferenceGrant that lets Gateway `gateway` (of another namespace) read the Route's
/// certificate Secret `secret`.
pub fn reference_grant(route: &Route, gateway: &Gateway, secret: &str) -> Value {
    let mut object = metadata(
        route,
        &format!("{GATEWAY_GROUP}/v1beta1"),
        "ReferenceGrant",
        &certificate_name(&route.name_any()),
    );
    object["spec"] = json!({
        "from": [{"group": GATEWAY_GROUP, "kind": "Gateway", "namespace": gateway.namespace}],
        "to": [{"group": "", "kind": "Secret", "name": secret}]
    });
    object
}

/// The listener name in a Route's ListenerSet.
pub const LISTENER_SET_SECTION: &str = "https";

/// The ConfigMap holding a re-encrypt Route's `destinationCACertificate`.
pub fn destination_ca(route: &Route, pem: &str) -> Value {
    let mut object = metadata(
        route,
        "v1",
        "ConfigMap",
        &destination_ca_name(&route.name_any()),
    );
    object["data"] = json!({"ca.crt": pem});
    object
}

/// The BackendTLSPolicy making the data plane speak TLS to `service`, verifying
/// `<service>.<namespace>.svc` (as OpenShift's router does for re-encrypt) against the Route's
/// destination CA, or the system's trust store without one.
pub fn backend_tls_policy(
    route: &Route,
    service: &str,
    port_name: Option<&str>,
    with_ca: bool,
) -> Value {
    let ns = route.namespace().unwrap_or_default();
    let mut object = metadata(
        route,
        &format!("{GATEWAY_GROUP}/v1"),
        "BackendTLSPolicy",
        &backend_tls_name(&route.name_any(), service),
    );
    let mut validation = json!({"hostname": format!("{service}.{ns}.svc")});
    if with_ca {
        validation["caCertificateRefs"] = json!([{"group": "", "kind": "ConfigMap",
            "name": destination_ca_name(&route.name_any())}]);
    } else {
        validation["wellKnownCACertificates"] = json!("System");
    }
    // The port the Route targets, not every port of the Service (an unnamed port is its only one).
    let mut target = json!({"group": "", "kind": "Service", "name": service});
    if let Some(section) = port_name {
        target["sectionName"] = json!(section);
    }
    object["spec"] = json!({"targetRefs": [target], "validation": validation});
    object
}

pub const TRAEFIK_GROUP: &str = "traefik.io";

/// The TraefikService that splits a Route's traffic by the weights of `refs` (its rule's
/// Service backendRefs) and keeps each client on one of them with cookie `cookie`. Traefik's
/// cookie value names the Service, not the weights: a client stays where it is as weights move,
/// until its Service gets weight 0.
pub fn traefik_service(route: &Route, cookie: &str, refs: &[Value]) -> Value {
    let mut object = metadata(
        route,
        &format!("{TRAEFIK_GROUP}/v1alpha1"),
        "TraefikService",
        &sticky_name(&route.name_any()),
    );
    let services: Vec<Value> = refs
        .iter()
        .map(|r| json!({"name": r["name"], "port": r["port"], "weight": r["weight"]}))
        .collect();
    object["spec"] = json!({"weighted": {
        "sticky": {"cookie": {"name": cookie, "httpOnly": true}},
        "services": services,
    }});
    object
}

/// The backendRef of a rule to the Route's TraefikService.
pub fn traefik_service_ref(route: &Route) -> Value {
    json!({"group": TRAEFIK_GROUP, "kind": "TraefikService", "name": sticky_name(&route.name_any())})
}
