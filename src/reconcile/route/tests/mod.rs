//! The Route shell against a mock API server (`reconcile::mock_api`), with caches filled as
//! after their first list. A request the scenario does not expect, or one out of order, fails
//! the test.

mod analysis;
mod cases;
mod shift;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::DynamicObject;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::watcher;
use kube::{Client, Resource};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{GatewayCache, OWNED_KINDS, RouteContext, SERVICE_NAME_LABEL, reconcile, resource};
use crate::api::route::Route;
use crate::error::Result;
use crate::reconcile::events;
use crate::reconcile::mock_api::{self, Exchange, Seen, status};
use crate::route::{Apis, GatewayRef};

/// The Route `ns/shop` (uid `uid-shop`, resourceVersion 41) with this spec.
fn route(spec: Value) -> Route {
    serde_json::from_value(json!({
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "shop", "namespace": "ns", "uid": "uid-shop",
                     "resourceVersion": "41", "generation": 1,
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": spec
    }))
    .expect("route")
}

/// A Route on `shop.example.com` sending everything to Service `a`.
fn plain() -> Route {
    route(json!({"host": "shop.example.com", "to": {"kind": "Service", "name": "a"}}))
}

/// An edge Route with its own (self-signed) certificate, served through its ListenerSet.
fn with_certificate(insecure: Option<&str>) -> Route {
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = rcgen::CertificateParams::new(vec!["shop.example.com".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let mut tls = json!({"termination": "edge", "certificate": certificate.pem(), "key": key.serialize_pem()});
    if let Some(policy) = insecure {
        tls["insecureEdgeTerminationPolicy"] = json!(policy);
    }
    route(json!({"host": "shop.example.com", "to": {"kind": "Service", "name": "a"}, "tls": tls}))
}

/// The metadata of an object of `kind` named `name`, owned by the object of uid `owner`.
fn meta(kind: &str, name: &str, owner: &str) -> PartialObjectMeta<DynamicObject> {
    serde_json::from_value(json!({
        "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "3",
                     "ownerReferences": [{"apiVersion": "route.openshift.io/v1", "kind": "Route",
                                          "name": "x", "uid": owner}]}
    }))
    .unwrap_or_else(|e| panic!("{kind} {name}: {e}"))
}

/// An object of `kind` named `name` as the API server returns it, owned by Route `owner`
/// (uid `uid`).
fn object(path_kind: &str, name: &str, owner: &str, uid: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": path_kind,
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "5",
                     "ownerReferences": [{"apiVersion": "route.openshift.io/v1", "kind": "Route",
                                          "name": owner, "uid": uid}]}
    })
}

fn not_found() -> Value {
    status(404, "not found")
}

/// A cache filled as after its first list.
fn filled<K>(mut writer: Writer<K>, objects: Vec<K>) -> Store<K>
where
    K: Resource + Clone,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let store = writer.as_reader();
    writer.apply_watcher_event(&watcher::Event::Init);
    for o in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(o));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    store
}

/// The Gateway `infra/public`: HTTP on 80, HTTPS on 443 for `*.example.com`, ListenerSets
/// accepted from every namespace.
fn gateway() -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "public", "namespace": "infra"},
        "spec": {
            "allowedListeners": {"namespaces": {"from": "All"}},
            "listeners": [
                {"name": "web", "protocol": "HTTP", "port": 80},
                {"name": "websecure", "protocol": "HTTPS", "port": 443, "hostname": "*.example.com"}
            ]
        }
    }))
    .expect("gateway")
}

/// What the caches hold besides the Route, Services `a` and `b` (ready) and the Gateway.
#[derive(Default)]
struct Cluster {
    /// (kind, name, owner uid) of objects of the kinds a Route owns, in `ns`.
    owned: Vec<(&'static str, &'static str, &'static str)>,
    /// `--route-domain`.
    domain: Option<&'static str>,
    /// The Gateway `infra/public` instead of `gateway()`.
    gateway: Option<Value>,
}

fn context(client: Client, route: &Route, cluster: &Cluster) -> RouteContext {
    let service = |name: &str| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"}, "spec": {"ports": [{"port": 8080}]}
        }))
        .expect("service")
    };
    let slice = |name: &str| -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}-1"), "namespace": "ns",
                         "labels": {SERVICE_NAME_LABEL: name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}}]
        }))
        .expect("slice")
    };
    let owned = OWNED_KINDS
        .into_iter()
        .map(|(group, version, kind)| {
            let objects = cluster
                .owned
                .iter()
                .filter(|o| o.0 == kind)
                .map(|(k, name, owner)| meta(k, name, owner))
                .collect();
            let writer = Writer::new(resource(group, version, kind));
            (kind, filled(writer, objects))
        })
        .collect();
    let gateways = filled(
        Writer::new(resource("gateway.networking.k8s.io", "v1", "Gateway")),
        vec![match &cluster.gateway {
            Some(g) => serde_json::from_value(g.clone()).expect("gateway"),
            None => gateway(),
        }],
    );
    let reporter = Reporter {
        controller: "cutover".into(),
        instance: None,
    };
    RouteContext {
        client,
        services: filled(reflector::store().1, vec![service("a"), service("b")]),
        endpoints: filled(reflector::store().1, vec![slice("a"), slice("b")]),
        routes: filled(reflector::store().1, vec![route.clone()]),
        owned,
        default_gateway: GatewayRef::parse("infra/public"),
        gateways: Some(GatewayCache {
            namespace: None,
            store: gateways,
        }),
        domain: cluster.domain.map(Into::into),
        apis: Apis::ALL,
        metrics: Arc::new(crate::metrics::Metrics::new()),
        backoff: Default::default(),
        gateway_classes: Default::default(),
        deployment_configs: filled(reflector::store().1, vec![]),
        events: events::Events::start(mock_api::gone(), reporter),
        written: Default::default(),
    }
}

/// Reconciles `route` against an API server that expects exactly `exchanges`, in order.
async fn run(
    route: Route,
    cluster: Cluster,
    exchanges: Vec<Exchange>,
) -> (Result<Requeue>, Vec<Seen>) {
    let (client, scenario) = mock_api::serve(exchanges);
    let ctx = Arc::new(context(client, &route, &cluster));
    let pass = reconcile(Arc::new(route), ctx.clone());
    let result = tokio::time::timeout(Duration::from_secs(10), pass)
        .await
        .expect("the pass ends");
    drop(ctx);
    (result, mock_api::seen(scenario).await)
}

/// The Admitted condition of a status write's body: (status, reason, message).
fn admitted(body: &Value) -> (String, String, String) {
    let c = &body["status"]["ingress"][0]["conditions"][0];
    assert_eq!(c["type"], "Admitted", "{body}");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (text(&c["status"]), text(&c["reason"]), text(&c["message"]))
}

/// A one-shot HTTP server on 127.0.0.1 answering Prometheus's query API with `body`.
async fn prometheus(body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    format!("http://127.0.0.1:{port}")
}
