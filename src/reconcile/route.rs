//! One reconcile of a Route: read its Services and parent Gateway, plan, apply the objects that
//! realise it (only names that are free or already its own), delete those it no longer needs,
//! write a generated host into `spec.host`, and write the status once, with what the Gateway
//! reported on the applied route.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind, PartialObjectMeta};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tracing::instrument;

use crate::api::conditions::route as reason;
use crate::api::route::{Route, ShiftStatus};
use crate::api::{DeploymentConfig, keys};
use crate::error::Result;
use crate::route::shift::{self, Followed, ShiftDecision, ShiftInputs};
use crate::route::{self, Apis, Gateway, GatewayRef, Inputs};

/// The kinds a Route may own: (group, version, kind), each watched by the Route label and
/// cached by metadata only (so no certificate key sits in the operator's memory).
pub const OWNED_KINDS: [(&str, &str, &str); 6] = [
    ("gateway.networking.k8s.io", "v1", "HTTPRoute"),
    ("gateway.networking.k8s.io", "v1", "TLSRoute"),
    ("gateway.networking.k8s.io", "v1", "ListenerSet"),
    ("gateway.networking.k8s.io", "v1", "BackendTLSPolicy"),
    ("", "v1", "Secret"),
    ("", "v1", "ConfigMap"),
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
}

/// The Gateways of one namespace (of all when `None`), watched.
pub struct GatewayCache {
    pub namespace: Option<String>,
    pub store: Store<DynamicObject>,
}

fn api_for(ctx: &RouteContext, ns: &str, kind: &str) -> Option<Api<DynamicObject>> {
    let (group, version, kind) = OWNED_KINDS.into_iter().find(|k| k.2 == kind)?;
    Some(Api::namespaced_with(
        ctx.client.clone(),
        ns,
        &resource(group, version, kind),
    ))
}

#[instrument(skip_all, fields(namespace = route.namespace().unwrap_or_default(), route = route.name_any()))]
pub async fn reconcile(route: Arc<Route>, ctx: Arc<RouteContext>) -> Result<Requeue> {
    // Until the caches have listed once, a Service or endpoint not seen yet would look missing
    // and its traffic would be taken away (an operator restart must change nothing): wait.
    if !ctx.synced() {
        return Ok(Requeue::requeue(Duration::from_secs(1)));
    }
    let route = ctx.written.newest(route);
    let ns = route.namespace().unwrap_or_default();
    let name = route.name_any();
    let uid = route.metadata.uid.clone().unwrap_or_default();
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
    // Services with no ready endpoint (an ExternalName Service has none to have).
    let slices = ctx.endpoints.state();
    let without_endpoints: Vec<&str> = services
        .iter()
        .filter(|s| {
            s.spec.as_ref().and_then(|s| s.type_.as_deref()) != Some("ExternalName")
                && !slices.iter().any(|e| {
                    e.namespace().as_deref() == Some(ns.as_str())
                        && e.labels().get(SERVICE_NAME_LABEL) == Some(&s.name_any())
                        && e.endpoints
                            .iter()
                            .any(|p| p.conditions.as_ref().and_then(|c| c.ready) != Some(false))
                })
        })
        .map(|s| s.metadata.name.as_deref().unwrap_or_default())
        .collect();
    let gateway_ref = GatewayRef::of_route(&route, ctx.default_gateway.as_ref());
    let mut gateway_forbidden = None;
    let gateway = match (&gateway_ref, ctx.apis.routes) {
        (Some(r), true) => {
            let gw_ns = r.namespace.clone().unwrap_or_else(|| ns.clone());
            match ctx.gateway(&gw_ns, &r.name).await {
                Ok(Some(g)) => Some(Gateway::from_json(
                    &gw_ns,
                    &r.name,
                    &serde_json::to_value(&g)?,
                )),
                Ok(None) => None,
                // A namespace-scoped install may not read Gateways elsewhere: say so.
                Err(kube::Error::Api(s)) if s.code == 403 => {
                    gateway_forbidden = Some(format!(
                        "the operator may not read Gateway {gw_ns}/{}: grant it get on gateways in {gw_ns} ({})",
                        r.name, s.message
                    ));
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => None,
    };
    // A traffic shift decides the weights the Route serves (its own, when none runs).
    let now = Timestamp::now();
    let decision = traffic_shift(&route, &ctx, now).await;
    let shift_status = decision.as_ref().map(|d| d.status.clone());
    let serving = shift::serving(&route, shift_status.as_ref());
    let routes = ctx.routes.state();
    let mut inputs = Inputs {
        route: &serving,
        services: services.iter().map(AsRef::as_ref).collect(),
        without_endpoints,
        gateway_ref,
        gateway,
        routes: routes.iter().map(AsRef::as_ref).collect(),
        domain: ctx.domain.as_deref(),
        apis: ctx.apis,
        applied: None,
        now,
    };
    let mut plan = route::plan(&inputs);
    let previous = route.status.as_ref();
    let ours = |owners: &[OwnerReference]| owners.iter().any(|r| r.uid == uid);

    // Every name the plan uses must be free or the Route's own.
    let mut conflict = None;
    for object in &plan.objects {
        let (kind, object_name) = (object["kind"].as_str(), object["metadata"]["name"].as_str());
        let (Some(kind), Some(object_name)) = (kind, object_name) else {
            continue;
        };
        let cached = ctx
            .owned
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, s)| {
                s.get(&ObjectRef::new_with(object_name, resource_of(kind)).within(&ns))
            });
        if cached.is_some_and(|o| ours(o.owner_references())) {
            continue;
        }
        let Some(api) = api_for(&ctx, &ns, kind) else {
            continue;
        };
        if let Some(existing) = api.get_opt(object_name).await?
            && !ours(existing.owner_references())
        {
            let owner = existing
                .owner_references()
                .first()
                .map_or("another owner".into(), |r| format!("{} {}", r.kind, r.name));
            conflict = Some(format!(
                "{kind} {object_name:?} exists and belongs to {owner}: cutover does not change it"
            ));
            break;
        }
    }
    if let Some(message) = conflict {
        plan = plan.refuse(reason::ROUTE_CONFLICT, message, previous, inputs.now);
    }
    if let Some(message) = gateway_forbidden {
        plan = plan.refuse(reason::GATEWAY_NOT_READABLE, message, previous, inputs.now);
    }

    // Apply, main route last (it references the others); keep what the server returned of it.
    let params = PatchParams::apply(keys::FIELD_MANAGER).force();
    let mut applied: Option<Value> = None;
    let objects = plan.objects.clone();
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let object_name = object["metadata"]["name"].as_str().unwrap_or_default();
        let Some(api) = api_for(&ctx, &ns, kind) else {
            continue;
        };
        match api.patch(object_name, &params, &Patch::Apply(object)).await {
            Ok(result) => {
                if Some(object) == plan.main() {
                    applied = Some(serde_json::to_value(&result)?);
                }
            }
            // The API server refused what the Route asks for (an invalid host for a listener,
            // a malformed certificate): the Route says so, nothing half-made stays.
            Err(kube::Error::Api(s)) if matches!(s.code, 400 | 403 | 422) => {
                plan = plan.refuse(
                    reason::ROUTE_APPLY_FAILED,
                    format!("{kind} {object_name:?} was refused: {}", s.message),
                    previous,
                    inputs.now,
                );
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }

    // Delete what the Route owns and no longer needs (a changed termination, a removed
    // certificate, a refusal).
    let keep: HashSet<(String, String)> = plan
        .objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or_default().to_string(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let mut stale: Vec<(&str, String)> = Vec::new();
    for (kind, store) in &ctx.owned {
        stale.extend(
            store
                .state()
                .iter()
                .filter(|o| {
                    o.namespace().as_deref() == Some(ns.as_str()) && ours(o.owner_references())
                })
                .map(|o| (*kind, o.name_any()))
                .filter(|(kind, n)| !keep.contains(&(kind.to_string(), n.clone()))),
        );
    }
    for (kind, stale_name) in stale {
        if let Some(api) = api_for(&ctx, &ns, kind) {
            match api.delete(&stale_name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    // A generated host is written into the spec, guarded by the resourceVersion read.
    if let Some(host) = &plan.generated_host
        && route.spec.host.as_deref().is_none_or(str::is_empty)
    {
        let api: Api<Route> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = json!({"metadata": {"resourceVersion": route.resource_version()}, "spec": {"host": host}});
        api.patch(
            &name,
            &PatchParams {
                field_manager: Some(keys::ROUTE_HOST_FIELD_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(&patch),
        )
        .await?;
    }

    // Admitted from what the Gateway reported on the applied route.
    let mut status = if applied.is_some() {
        inputs.applied = applied.as_ref();
        route::plan(&inputs).status
    } else {
        plan.status
    };
    status.shift = shift_status;
    let mut requeue = Duration::from_secs(300);
    if let Some(d) = &decision {
        // The rollback before the status that says Failed (the request's token makes it once).
        if let Some((dc, token)) = &d.rollback {
            request_rollback(&ctx, &ns, dc, token).await?;
        }
        requeue = d.requeue_after.map_or(requeue, |r| r.min(requeue));
    }
    let changed_shift =
        route.status.as_ref().and_then(|s| s.shift.as_ref()) != status.shift.as_ref();
    if route.status.as_ref() != Some(&status) {
        let api: Api<Route> = Api::namespaced(ctx.client.clone(), &ns);
        let patch =
            json!({"apiVersion": "route.openshift.io/v1", "kind": "Route", "status": status});
        let written = api
            .patch_status(
                &name,
                &PatchParams::apply(keys::FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await?;
        ctx.written.record(written);
    }
    // Once the status is written: a pass that failed before it says nothing twice.
    report_shift(
        &ctx,
        &route,
        status.shift.as_ref(),
        decision.as_ref(),
        changed_shift,
    );
    ctx.backoff.reset(route.as_ref());
    Ok(Requeue::requeue(requeue))
}

/// The Route's traffic shift this pass: its new state, and what else the pass must do. A check
/// that is due runs here, before the pure step takes its result.
async fn traffic_shift(route: &Route, ctx: &RouteContext, now: Timestamp) -> Option<ShiftDecision> {
    let shift = match shift::declared(route)? {
        Ok(shift) => shift,
        Err(why) => {
            return Some(ShiftDecision {
                status: shift::invalid(&why, route.status.as_ref().and_then(|s| s.shift.as_ref())),
                ..Default::default()
            });
        }
    };
    let ns = route.namespace().unwrap_or_default();
    let followed = shift.deployment_config.as_ref().and_then(|name| {
        let dc = ctx
            .deployment_configs
            .get(&ObjectRef::new(name).within(&ns))?;
        Some(Followed::of(&dc))
    });
    let current = route.status.as_ref().and_then(|s| s.shift.as_ref());
    let refused = shift::refusal(route);
    let check = match shift::check_due(&shift, current, refused.is_some(), now) {
        Some(analysis) => Some(super::analysis::check(analysis).await),
        None => None,
    };
    Some(shift::advance(&ShiftInputs {
        route,
        shift: &shift,
        followed,
        check,
        refused,
        now,
    }))
}

/// Rolls the DeploymentConfig behind a failed shift back through its rollback request.
async fn request_rollback(ctx: &RouteContext, ns: &str, dc: &str, token: &str) -> Result<()> {
    let api: Api<DeploymentConfig> = Api::namespaced(ctx.client.clone(), ns);
    use crate::api::requests::{RequestKind, rollback_parameters};
    // To the newest Complete revision before the latest, never forced past a migration,
    // whatever an earlier `rollout undo` left on the DeploymentConfig.
    let mut annotations = serde_json::Map::new();
    annotations.insert(RequestKind::Rollback.annotation(), token.into());
    for (key, value) in rollback_parameters(0, false) {
        annotations.insert(key.into(), value.into());
    }
    let patch = json!({"metadata": {"annotations": annotations}});
    match api
        .patch(dc, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        // Gone: nothing to roll back.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The shift's events and metrics (an invalid declaration is said once, when it becomes so).
fn report_shift(
    ctx: &RouteContext,
    route: &Route,
    status: Option<&ShiftStatus>,
    decision: Option<&ShiftDecision>,
    changed: bool,
) {
    let (ns, name) = (route.namespace().unwrap_or_default(), route.name_any());
    // Only a Route that has or had a shift has series to set or remove: most Routes cost nothing.
    let had = route.status.as_ref().is_some_and(|s| s.shift.is_some());
    if status.is_some() || had {
        let position = status
            .filter(|s| s.phase != shift::phase::INVALID)
            .map(|s| (s.step, s.weight));
        ctx.metrics.shift_position(&ns, &name, position);
    }
    let Some(d) = decision else {
        return;
    };
    let mut events = d.events.clone();
    if changed && d.status.phase == shift::phase::INVALID {
        events.push(crate::strategy::Event::warning(
            shift::reason::INVALID,
            d.status.message.clone(),
        ));
    }
    for e in &events {
        ctx.events.publish_event(route.object_ref(&()), e);
    }
    if let Some(outcome) = d.finished {
        ctx.metrics.shift_finished(outcome);
    }
}

fn resource_of(kind: &str) -> ApiResource {
    OWNED_KINDS
        .into_iter()
        .find(|k| k.2 == kind)
        .map_or_else(|| resource("", "v1", kind), |(g, v, k)| resource(g, v, k))
}

/// Transient errors back off per Route; others wait for the next change.
impl super::Retrying for RouteContext {
    fn subject(&self) -> &str {
        "Route"
    }
    fn backoff(&self) -> &super::Backoff {
        &self.backoff
    }
}
