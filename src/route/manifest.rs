//! The Gateway API object that realises a Route: an HTTPRoute (a TLSRoute for passthrough)
//! owned by the Route, attached to its parent Gateway.

use kube::ResourceExt;
use serde_json::{Value, json};

use crate::api::route::Route;

use super::{GatewayRef, ROUTE_LABEL, RouteKind};

/// The route object for `route`, with `refs` as its weighted backends.
pub(super) fn manifest(
    route: &Route,
    kind: RouteKind,
    gw: &GatewayRef,
    hostnames: &[String],
    refs: Vec<Value>,
) -> Value {
    let mut parent =
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw.name});
    if let Some(ns) = &gw.namespace {
        parent["namespace"] = json!(ns);
    }
    let rule = match kind {
        RouteKind::Http => {
            let path = route
                .spec
                .path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into());
            json!({"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": refs})
        }
        RouteKind::Tls => json!({"backendRefs": refs}),
    };
    let mut spec = json!({"parentRefs": [parent], "rules": [rule]});
    if !hostnames.is_empty() {
        spec["hostnames"] = json!(hostnames);
    }
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": kind.kind(),
        "metadata": {
            "name": route.name_any(),
            "namespace": route.namespace(),
            "labels": {ROUTE_LABEL: route.name_any()},
            "ownerReferences": [{
                "apiVersion": "route.openshift.io/v1", "kind": "Route", "name": route.name_any(),
                "uid": route.metadata.uid.clone().unwrap_or_default(), "controller": true, "blockOwnerDeletion": true
            }]
        },
        "spec": spec
    })
}
