//! Route planning, case by case: each rung that refuses, the listeners each termination may use,
//! the objects of certificates and re-encrypt, Admitted from what the Gateway reported, and the
//! actions that carry a plan out. The helpers are here; the cases in one module per subject.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::backends::target_port;
use super::*;
use crate::api::conditions::route as reason;
use crate::api::route::{
    LocalObjectReference, Route, RoutePort, RouteSpec, RouteTargetReference, TlsConfig,
};

mod actions;
mod admission;
mod backends;
mod hosts;
mod listeners;
mod mirror;
mod sessions;
mod tls;
mod validation;

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

fn hosted(spec: RouteSpec) -> Route {
    route(RouteSpec {
        host: Some("shop.example.com".into()),
        ..spec
    })
}

fn tls(termination: &str, insecure: Option<&str>) -> Option<TlsConfig> {
    Some(TlsConfig {
        termination: termination.into(),
        insecure_edge_termination_policy: insecure.map(Into::into),
        ..Default::default()
    })
}

/// A certificate authority, and a certificate for `shop.example.com` it signs with its key, in
/// PEM: (CA, certificate, key). The planner checks them as OpenShift's router does.
fn signed() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Shop CA");
    let ca = params.self_signed(&ca_key).expect("CA").pem();
    let issuer = rcgen::Issuer::new(params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = rcgen::CertificateParams::new(vec!["shop.example.com".to_string()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("sign")
        .pem();
    (ca, certificate, key.serialize_pem())
}

/// infra/public: HTTP on 80, HTTPS on 443 for *.example.com, TLS passthrough on 8443.
fn gateway(allowed_listeners: &str) -> Gateway {
    Gateway::from_json(
        "infra",
        "public",
        &json!({
            "spec": {
                "allowedListeners": {"namespaces": {"from": allowed_listeners}},
                "listeners": [
                    {"name": "web", "protocol": "HTTP", "port": 80},
                    {"name": "websecure", "protocol": "HTTPS", "port": 443, "hostname": "*.example.com"},
                    {"name": "passthrough", "protocol": "TLS", "port": 8443, "tls": {"mode": "Passthrough"}}
                ]
            },
            "status": {"addresses": [{"value": "203.0.113.7"}]}
        }),
    )
}

fn inputs<'a>(r: &'a Route, services: Vec<&'a Service>) -> Inputs<'a> {
    Inputs {
        route: r,
        services,
        without_endpoints: vec![],
        gateway_ref: GatewayRef::parse("infra/public"),
        gateway: Some(gateway("None")),
        routes: vec![r],
        domain: None,
        apis: Apis::ALL,
        gateway_unreadable: None,
        owned: &[],
        listeners_held: vec![],
        shift: None,
        applied: None,
        now: Timestamp::UNIX_EPOCH,
    }
}

fn admitted(p: &Plan) -> (&str, &str) {
    let c = &p.status.ingress[0].conditions[0];
    (c.status.as_str(), c.reason.as_str())
}

fn sections(object: &Value) -> Vec<String> {
    object["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}/{}",
                p["kind"].as_str().unwrap_or(""),
                p["sectionName"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Each action in words: `check`, `apply` (`main`), `delete`, the finalizer and listener, `host`,
/// `rollback`.
fn said(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .map(|a| match a {
            RouteAction::CheckOwner { kind, name, uid } => format!("check {kind} {name} for {uid}"),
            RouteAction::Apply { object, main } => format!(
                "apply {} {}{}",
                object["kind"].as_str().unwrap_or(""),
                object["metadata"]["name"].as_str().unwrap_or(""),
                if *main { " (main)" } else { "" }
            ),
            RouteAction::Delete { kind, name } => format!("delete {kind} {name}"),
            RouteAction::AddFinalizer => "finalizer".into(),
            RouteAction::RemoveFinalizer => "no finalizer".into(),
            RouteAction::ApplyListener {
                namespace, gateway, ..
            } => format!("listener on {namespace}/{gateway}"),
            RouteAction::RemoveListener {
                namespace,
                gateway,
                name,
            } => format!("remove listener {name} from {namespace}/{gateway}"),
            RouteAction::WriteHost {
                host,
                resource_version,
            } => format!(
                "host {host} at {}",
                resource_version.as_deref().unwrap_or("-")
            ),
            RouteAction::RequestRollback {
                deployment_config,
                token,
            } => format!("rollback {deployment_config} with {token}"),
        })
        .collect()
}

fn kinds(p: &Plan) -> Vec<String> {
    p.objects()
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The main route as a Gateway that accepted it would leave it.
fn accepted(p: &Plan) -> Value {
    let mut applied = p.main().expect("main route").clone();
    applied["metadata"]["generation"] = json!(2);
    let parents: Vec<Value> = applied["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| json!({"parentRef": r, "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 2},
            {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs", "observedGeneration": 2}]}))
        .collect();
    applied["status"] = json!({"parents": parents});
    applied
}
