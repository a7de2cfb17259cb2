//! One reconcile of a Route: resolve its Services, plan the Gateway API route, apply it (only
//! if it is ours), write the status once.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::{instrument, warn};

use crate::api::keys;
use crate::api::route::Route;
use crate::error::{Error, Result};
use crate::route::{self, GatewayRef, Inputs, RouteKind};

/// What every Route reconcile shares.
pub struct RouteContext {
    pub client: Client,
    pub services: Store<Service>,
    /// The parent Gateway of Routes without a `cutover.io/gateway` annotation.
    pub default_gateway: Option<GatewayRef>,
    /// Whether the cluster serves the Gateway API (HTTPRoute, TLSRoute).
    pub gateway_api: bool,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub backoff: super::Backoff<Route>,
}

pub fn resource(kind: RouteKind) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        kind.kind(),
    ))
}

fn kind_of(route: &Route) -> RouteKind {
    let passthrough = route
        .spec
        .tls
        .as_ref()
        .is_some_and(|t| t.termination.eq_ignore_ascii_case("passthrough"));
    if passthrough {
        RouteKind::Tls
    } else {
        RouteKind::Http
    }
}

#[instrument(skip_all, fields(namespace = route.namespace().unwrap_or_default(), route = route.name_any()))]
pub async fn reconcile(route: Arc<Route>, ctx: Arc<RouteContext>) -> Result<Requeue> {
    let ns = route.namespace().unwrap_or_default();
    let name = route.name_any();
    let wanted: Vec<String> = route::backends(&route)
        .iter()
        .map(|b| b.name.clone())
        .collect();
    let services: Vec<Arc<Service>> = ctx
        .services
        .state()
        .into_iter()
        .filter(|s| s.namespace().as_deref() == Some(ns.as_str()) && wanted.contains(&s.name_any()))
        .collect();
    let gateway = route
        .annotations()
        .get(route::GATEWAY_ANNOTATION)
        .and_then(|g| GatewayRef::parse(g))
        .or_else(|| ctx.default_gateway.clone());

    let kind = kind_of(&route);
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &resource(kind));
    let ours = |o: &DynamicObject| {
        o.owner_references()
            .iter()
            .any(|r| Some(&r.uid) == route.metadata.uid.as_ref())
    };
    let existing = match ctx.gateway_api {
        true => api.get_opt(&name).await?,
        false => None,
    };
    let name_taken_by = existing.filter(|o| !ours(o)).map(|o| {
        o.owner_references()
            .first()
            .map_or("another owner".into(), |r| format!("{} {}", r.kind, r.name))
    });
    let plan = route::plan(&Inputs {
        route: &route,
        services: services.iter().map(AsRef::as_ref).collect(),
        gateway,
        name_taken_by,
        gateway_api: ctx.gateway_api,
        now: Timestamp::now(),
    });
    if let Some(object) = &plan.object {
        let params = PatchParams::apply(keys::FIELD_MANAGER).force();
        api.patch(&name, &params, &Patch::Apply(object)).await?;
    }
    if ctx.gateway_api {
        // A Route that changed kind (passthrough on or off) leaves no route of the other kind.
        let other = if kind == RouteKind::Http {
            RouteKind::Tls
        } else {
            RouteKind::Http
        };
        let other_api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &ns, &resource(other));
        if let Some(o) = other_api.get_opt(&name).await?
            && ours(&o)
        {
            other_api.delete(&name, &DeleteParams::background()).await?;
        }
    }
    let status = plan.status;
    if route.status.as_ref() != Some(&status) {
        let api: Api<Route> = Api::namespaced(ctx.client.clone(), &ns);
        let patch =
            json!({"apiVersion": "route.openshift.io/v1", "kind": "Route", "status": status});
        api.patch_status(
            &name,
            &PatchParams::apply(keys::FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    }
    ctx.backoff.reset(&ObjectRef::from(route.as_ref()));
    Ok(Requeue::requeue(Duration::from_secs(300)))
}

/// Transient errors back off per Route; others wait for the next change.
pub fn error_policy(route: Arc<Route>, error: &Error, ctx: Arc<RouteContext>) -> Requeue {
    if error.is_transient() {
        let after = ctx.backoff.next(ObjectRef::from(route.as_ref()));
        warn!(namespace = route.namespace().unwrap_or_default(), route = route.name_any(), %error, retry_in = ?after, "route reconcile failed");
        Requeue::requeue(after)
    } else {
        warn!(namespace = route.namespace().unwrap_or_default(), route = route.name_any(), %error, "route reconcile failed permanently");
        Requeue::await_change()
    }
}
