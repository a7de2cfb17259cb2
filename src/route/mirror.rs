//! Request mirroring during a traffic shift: a copy of a share of the requests goes to the new
//! version too, its answers dropped, so it meets real traffic before it serves any. Realised as
//! the main rule's HTTPRoute `RequestMirror` filter, where the Gateway's implementation says it
//! supports one (its GatewayClass's `status.supportedFeatures`) and the installed HTTPRoute CRD
//! keeps a mirror's `percent`; elsewhere not realised, and the Route's conditions say why
//! (Traefik's Gateway provider, for one, answers a mirrored rule with 500s).

use serde_json::{Value, json};

use super::gateway::Gateway;
use super::{Apis, RouteKind};

/// The feature an implementation lists when it mirrors every request of a rule.
pub const MIRROR_FEATURE: &str = "HTTPRouteRequestMirror";
/// The feature an implementation lists when it mirrors a percentage of them.
pub const PERCENT_FEATURE: &str = "HTTPRouteRequestPercentageMirror";

/// The filter that mirrors `percent`% of a rule's requests to `to` (a backendRef), or why the
/// data plane cannot.
pub fn filter(
    kind: RouteKind,
    gateway: &Gateway,
    apis: Apis,
    percent: i32,
    to: &Value,
) -> Result<Value, String> {
    if kind == RouteKind::Tls {
        return Err("a passthrough route's HTTP is encrypted end to end".into());
    }
    let feature = if percent < 100 {
        PERCENT_FEATURE
    } else {
        MIRROR_FEATURE
    };
    if !gateway.features.iter().any(|f| f == feature) {
        return Err(format!(
            "the Gateway's implementation ({}) does not list {feature} in its GatewayClass's status.supportedFeatures",
            gateway.controller.as_deref().unwrap_or("unknown")
        ));
    }
    if percent < 100 && !apis.mirror_percent {
        return Err(
            "the installed HTTPRoute CRD has no requestMirror.percent (Gateway API's experimental channel)"
                .into(),
        );
    }
    let mut backend = json!({"name": to["name"], "port": to["port"]});
    for key in ["group", "kind"] {
        if !to[key].is_null() {
            backend[key] = to[key].clone();
        }
    }
    let mut mirror = json!({"backendRef": backend});
    if percent < 100 {
        mirror["percent"] = json!(percent);
    }
    Ok(json!({"type": "RequestMirror", "requestMirror": mirror}))
}
