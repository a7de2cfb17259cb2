//! One reconcile of a Route: observe (its Services and their endpoints, the parent Gateway, the
//! objects it owns, a traffic shift's check), plan (`route::plan`, pure), carry the plan's
//! actions out in order (`apply`), plan once more with the applied main route so that Admitted
//! is what the Gateway reported, and write the status once. A Route being deleted only has its
//! listeners taken off the Gateways (`route::departing`) and its finalizer removed.
//!
//! - `observe`: what a pass reads, and the traffic shift's pass (a due check runs there).
//! - `apply`: the actions carried out; a refusal met there goes back to the planner.
//! - `analysis`: a shift's Prometheus check.

mod analysis;
mod apply;
mod observe;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind, PartialObjectMeta};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::instrument;

use crate::api::route::{Route, RouteStatus};
use crate::api::shift::phase;
use crate::api::{DeploymentConfig, keys};
use crate::error::Result;
use crate::route::gateway::GatewayClass;
use crate::route::shift::ShiftDecision;
use crate::route::{self, Apis, GatewayRef};

/// The kinds a Route may own: (group, version, kind), each watched by the Route label and
/// cached by metadata only (so no certificate key sits in the operator's memory).
pub const OWNED_KINDS: [(&str, &str, &str); 8] = [
    ("gateway.networking.k8s.io", "v1", "HTTPRoute"),
    ("gateway.networking.k8s.io", "v1", "TLSRoute"),
    ("gateway.networking.k8s.io", "v1", "ListenerSet"),
    ("gateway.networking.k8s.io", "v1", "BackendTLSPolicy"),
    ("gateway.networking.k8s.io", "v1beta1", "ReferenceGrant"),
    ("", "v1", "Secret"),
    ("", "v1", "ConfigMap"),
    ("traefik.io", "v1alpha1", "TraefikService"),
];

pub fn resource(group: &str, version: &str, kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

/// Whether the cluster serves an owned kind (the Gateway API's ones depend on its version).
pub fn served(apis: Apis, kind: &str) -> bool {
    match kind {
        "HTTPRoute" => apis.routes,
        "TLSRoute" => apis.tls_routes,
        "ListenerSet" => apis.listener_sets,
        "BackendTLSPolicy" => apis.backend_tls_policies,
        "TraefikService" => apis.traefik_services,
        _ => apis.routes,
    }
}

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// What every Route reconcile shares.
pub struct RouteContext {
    pub client: Client,
    pub services: Store<Service>,
    pub endpoints: Store<EndpointSlice>,
    /// Every Route in scope: host claims are decided among them.
    pub routes: Store<Route>,
    /// The objects Routes own, by kind (label-selected caches of their metadata).
    pub owned: Vec<(&'static str, Store<PartialObjectMeta<DynamicObject>>)>,
    /// The parent Gateway of Routes without a `cutover.io/gateway` annotation.
    pub default_gateway: Option<GatewayRef>,
    /// The Gateways in the operator's scope (none without the Gateway API).
    pub gateways: Option<GatewayCache>,
    /// The ingress domain of generated hosts.
    pub domain: Option<String>,
    pub apis: Apis,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub backoff: super::Backoff,
    /// The DeploymentConfig controller's cache, shared: the DeploymentConfigs traffic shifts follow.
    pub deployment_configs: Store<DeploymentConfig>,
    pub events: super::events::Events,
    /// Our last status write of each Route, read instead of an older cached Route (a traffic
    /// shift must never take a step twice on a stale status).
    pub written: super::freshness::Written<Route>,
    /// Each GatewayClass read once its implementation accepted it (its controller is immutable,
    /// its supported features settled then).
    pub gateway_classes: std::sync::Mutex<std::collections::HashMap<String, GatewayClass>>,
}

impl RouteContext {
    /// Whether every cache has listed once.
    fn synced(&self) -> bool {
        fn ready<K: kube::Resource + Clone>(store: &Store<K>) -> bool
        where
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            matches!(store.wait_until_ready().now_or_never(), Some(Ok(())))
        }
        ready(&self.services)
            && ready(&self.endpoints)
            && ready(&self.routes)
            && ready(&self.deployment_configs)
            && self.owned.iter().all(|(_, s)| ready(s))
            && self.gateways.as_ref().is_none_or(|g| ready(&g.store))
    }

    /// Gateway `ns/name`: from the cache when it covers that namespace (`Ok(None)`: it does not
    /// exist), else read from the API server.
    async fn gateway(&self, ns: &str, name: &str) -> kube::Result<Option<DynamicObject>> {
        let ar = resource("gateway.networking.k8s.io", "v1", "Gateway");
        match &self.gateways {
            Some(cache) if cache.namespace.as_deref().is_none_or(|n| n == ns) => Ok(cache
                .store
                .get(&ObjectRef::new_with(name, ar).within(ns))
                .map(|g| (*g).clone())),
            _ => {
                Api::<DynamicObject>::namespaced_with(self.client.clone(), ns, &ar)
                    .get_opt(name)
                    .await
            }
        }
    }

    /// GatewayClass `class`: its implementation and supported features, read again until its
    /// implementation has accepted it, then kept (`None`: not there yet).
    async fn gateway_class(&self, class: &str) -> kube::Result<Option<GatewayClass>> {
        if let Some(known) = self.classes().get(class) {
            return Ok(Some(known.clone()));
        }
        let ar = resource("gateway.networking.k8s.io", "v1", "GatewayClass");
        let read = match Api::<DynamicObject>::all_with(self.client.clone(), &ar)
            .get_opt(class)
            .await
        {
            Ok(Some(c)) => GatewayClass::from_json(&c.data),
            Ok(None) => return Ok(None),
            // A namespace-scoped install may not read GatewayClasses: unknown for good.
            Err(kube::Error::Api(s)) if s.code == 403 => GatewayClass {
                accepted: true,
                ..GatewayClass::default()
            },
            Err(e) => return Err(e),
        };
        if read.accepted {
            self.classes().insert(class.to_string(), read.clone());
        }
        Ok(Some(read))
    }

    fn classes(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, GatewayClass>> {
        self.gateway_classes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The API of an owned kind in `ns` (`None`: not a kind a Route owns).
    fn api_for(&self, ns: &str, kind: &str) -> Option<Api<DynamicObject>> {
        let (group, version, kind) = OWNED_KINDS.into_iter().find(|k| k.2 == kind)?;
        Some(Api::namespaced_with(
            self.client.clone(),
            ns,
            &resource(group, version, kind),
        ))
    }
}

/// The Gateways of one namespace (of all when `None`), watched.
pub struct GatewayCache {
    pub namespace: Option<String>,
    pub store: Store<DynamicObject>,
}

#[instrument(skip_all, fields(namespace = route.namespace().unwrap_or_default(), route = route.name_any()))]
pub async fn reconcile(route: Arc<Route>, ctx: Arc<RouteContext>) -> Result<Requeue> {
    // Until the caches have listed once, a Service or endpoint not seen yet would look missing
    // and its traffic would be taken away (an operator restart must change nothing): wait.
    if !ctx.synced() {
        return Ok(Requeue::requeue(Duration::from_secs(1)));
    }
    let route = ctx.written.newest(route);
    let observed = observe::observe(&route, &ctx).await?;
    if route.metadata.deletion_timestamp.is_some() {
        let actions = route::departing(&route, observed.listeners_held());
        apply::execute(&ctx, &route, &actions).await?;
        return Ok(Requeue::await_change());
    }
    // A traffic shift decides the weights the Route serves (its own, when none runs).
    let now = Timestamp::now();
    let shift = observe::traffic_shift(&route, &observed, &ctx, now).await;
    let mut inputs = observed.inputs(&route, shift.as_ref(), &ctx, now);
    let (plan, applied) = apply::carry_out(&ctx, &inputs, route::plan(&inputs)).await?;
    // Admitted from what the Gateway reported on the applied route.
    let status = match &applied {
        Some(applied) => {
            inputs.applied = Some(applied);
            route::plan(&inputs).status
        }
        None => plan.status,
    };
    write_status(&ctx, &route, &status).await?;
    // Once the status is written: a pass that failed before it says nothing twice.
    report_shift(&ctx, &route, shift.as_ref());
    ctx.backoff.reset(route.as_ref());
    Ok(Requeue::requeue(plan.requeue_after))
}

/// The one status write of a pass (server-side apply of `status`), skipped when unchanged.
async fn write_status(ctx: &RouteContext, route: &Route, status: &RouteStatus) -> Result<()> {
    if route.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<Route> =
        Api::namespaced(ctx.client.clone(), &route.namespace().unwrap_or_default());
    let patch = json!({"apiVersion": "route.openshift.io/v1", "kind": "Route", "status": status});
    let written = api
        .patch_status(
            &route.name_any(),
            &PatchParams::apply(keys::FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    ctx.written.record(written);
    Ok(())
}

/// The shift's events and metrics (its state is the one the status recorded).
fn report_shift(ctx: &RouteContext, route: &Route, decision: Option<&ShiftDecision>) {
    let (ns, name) = (route.namespace().unwrap_or_default(), route.name_any());
    // Only a Route that has or had a shift has series to set or remove: most Routes cost nothing.
    let had = route.status.as_ref().is_some_and(|s| s.shift.is_some());
    if decision.is_some() || had {
        let position = decision
            .map(|d| &d.status)
            .filter(|s| s.phase != phase::INVALID)
            .map(|s| (s.step, s.weight));
        ctx.metrics.shift_position(&ns, &name, position);
    }
    let Some(d) = decision else {
        return;
    };
    for e in &d.events {
        ctx.events.publish_event(route.object_ref(&()), e);
    }
    if let Some(outcome) = d.finished {
        ctx.metrics.shift_finished(outcome);
    }
}

impl super::Retrying for RouteContext {
    fn subject(&self) -> &str {
        "Route"
    }
    fn backoff(&self) -> &super::Backoff {
        &self.backoff
    }
}
