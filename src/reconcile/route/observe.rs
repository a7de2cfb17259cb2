//! What a Route's pass reads: its Services and which have ready endpoints, its parent Gateway
//! (from the cache, else by GET), the objects of the kinds it may own, and its traffic shift's
//! pass, whose due check runs here before the pure step takes its result.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::route::Route;
use crate::error::Result;
use crate::route::shift::{self, Followed, ShiftDecision, ShiftInputs};
use crate::route::{self, Gateway, GatewayRef, Inputs, Owned};

use super::{RouteContext, SERVICE_NAME_LABEL, analysis};

/// What the caches and the API server said of one Route.
pub(super) struct Observed {
    services: Vec<Arc<Service>>,
    /// Those Services with no ready endpoint.
    without_endpoints: Vec<String>,
    /// The ready pods behind each Service, by name.
    ready: BTreeMap<String, i32>,
    gateway_ref: Option<GatewayRef>,
    gateway: Option<Gateway>,
    gateway_unreadable: Option<String>,
    routes: Vec<Arc<Route>>,
    owned: Vec<Owned>,
    listeners_held: Vec<(String, String)>,
}

impl Observed {
    /// The planner's inputs for `route`, with the shift's pass, at `now`.
    pub fn inputs<'a>(
        &'a self,
        route: &'a Route,
        shift: Option<&'a ShiftDecision>,
        ctx: &'a RouteContext,
        now: Timestamp,
    ) -> Inputs<'a> {
        Inputs {
            route,
            services: self.services.iter().map(AsRef::as_ref).collect(),
            without_endpoints: self.without_endpoints.iter().map(String::as_str).collect(),
            gateway_ref: self.gateway_ref.clone(),
            gateway: self.gateway.clone(),
            gateway_unreadable: self.gateway_unreadable.clone(),
            routes: self.routes.iter().map(AsRef::as_ref).collect(),
            domain: ctx.domain.as_deref(),
            apis: ctx.apis,
            owned: &self.owned,
            listeners_held: self.listeners_held.clone(),
            shift,
            applied: None,
            now,
        }
    }
}

pub(super) async fn observe(route: &Route, ctx: &RouteContext) -> Result<Observed> {
    let ns = route.namespace().unwrap_or_default();
    let wanted: Vec<String> = route::backends(route)
        .iter()
        .map(|b| b.name.clone())
        .collect();
    let services: Vec<Arc<Service>> = ctx
        .services
        .state()
        .into_iter()
        .filter(|s| s.namespace().as_deref() == Some(ns.as_str()) && wanted.contains(&s.name_any()))
        .collect();
    let ready = ready_pods(ctx, &ns, &services);
    let without_endpoints = services
        .iter()
        .filter(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) != Some("ExternalName"))
        .map(|s| s.name_any())
        .filter(|name| ready.get(name).is_none_or(|n| *n == 0))
        .collect();
    let gateway_ref = GatewayRef::of_route(route, ctx.default_gateway.as_ref());
    let (gateway, gateway_unreadable) = gateway(ctx, &ns, gateway_ref.as_ref()).await?;
    let listeners_held = listeners_held(ctx, route, gateway.as_ref());
    Ok(Observed {
        services,
        without_endpoints,
        ready,
        gateway_ref,
        gateway,
        gateway_unreadable,
        routes: ctx.routes.state(),
        owned: owned(ctx, &ns),
        listeners_held,
    })
}

impl Observed {
    /// The Gateways that hold a listener of the Route's.
    pub fn listeners_held(&self) -> &[(String, String)] {
        &self.listeners_held
    }
}

/// The Gateways `(namespace, name)` holding a listener named for `route`: those cached, and its
/// parent as read.
fn listeners_held(
    ctx: &RouteContext,
    route: &Route,
    parent: Option<&Gateway>,
) -> Vec<(String, String)> {
    let name = route::manifest::route_listener_name(
        &route.namespace().unwrap_or_default(),
        &route.name_any(),
    );
    let mut held = BTreeSet::new();
    for g in ctx.gateways.iter().flat_map(|c| c.store.state()) {
        let listed = g.data["spec"]["listeners"].as_array();
        if listed.is_some_and(|ls| ls.iter().any(|l| l["name"] == name.as_str())) {
            held.insert((g.namespace().unwrap_or_default(), g.name_any()));
        }
    }
    if let Some(g) = parent.filter(|g| g.has_listener(&name)) {
        held.insert((g.namespace.clone(), g.name.clone()));
    }
    held.into_iter().collect()
}

/// The ready pods behind each Service: its EndpointSlices' endpoints not known to be unready,
/// each pod once (a dual-stack Service has a slice per address family). An ExternalName
/// Service has none to have.
fn ready_pods(ctx: &RouteContext, ns: &str, services: &[Arc<Service>]) -> BTreeMap<String, i32> {
    let slices = ctx.endpoints.state();
    services
        .iter()
        .map(|s| {
            let name = s.name_any();
            let pods: BTreeSet<String> = slices
                .iter()
                .filter(|e| {
                    e.namespace().as_deref() == Some(ns)
                        && e.labels().get(SERVICE_NAME_LABEL) == Some(&name)
                })
                .flat_map(|e| &e.endpoints)
                .filter(|p| p.conditions.as_ref().and_then(|c| c.ready) != Some(false))
                .map(|p| match &p.target_ref {
                    Some(r) => r.name.clone().unwrap_or_default(),
                    None => p.addresses.join(","),
                })
                .collect();
            (name, pods.len() as i32)
        })
        .collect()
}

/// The parent Gateway (`None`: it does not exist), or why the operator may not read it.
async fn gateway(
    ctx: &RouteContext,
    ns: &str,
    gateway_ref: Option<&GatewayRef>,
) -> Result<(Option<Gateway>, Option<String>)> {
    let Some(r) = gateway_ref.filter(|_| ctx.apis.routes) else {
        return Ok((None, None));
    };
    let gw_ns = r.namespace.clone().unwrap_or_else(|| ns.to_string());
    match ctx.gateway(&gw_ns, &r.name).await {
        Ok(Some(g)) => {
            let mut gateway = Gateway::from_json(&gw_ns, &r.name, &serde_json::to_value(&g)?);
            if let Some(class) = &gateway.class
                && let Some(class) = ctx.gateway_class(class).await?
            {
                (gateway.controller, gateway.features) = (class.controller, class.features);
            }
            Ok((Some(gateway), None))
        }
        Ok(None) => Ok((None, None)),
        // A namespace-scoped install may not read Gateways elsewhere: say so.
        Err(kube::Error::Api(s)) if s.code == 403 => Ok((
            None,
            Some(format!(
                "the operator may not read Gateway {gw_ns}/{}: grant it get on gateways in {gw_ns} ({})",
                r.name, s.message
            )),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The cached objects of the kinds a Route may own in `ns`, with their owners.
fn owned(ctx: &RouteContext, ns: &str) -> Vec<Owned> {
    let mut owned = Vec::new();
    for (kind, store) in &ctx.owned {
        owned.extend(
            store
                .state()
                .iter()
                .filter(|o| o.namespace().as_deref() == Some(ns))
                .map(|o| Owned {
                    kind: kind.to_string(),
                    name: o.name_any(),
                    owners: o.owner_references().iter().map(|r| r.uid.clone()).collect(),
                }),
        );
    }
    owned
}

/// The Route's traffic shift this pass: its new state, and what else the pass must do. A check
/// that is due runs here, before the pure step takes its result.
pub(super) async fn traffic_shift(
    route: &Route,
    observed: &Observed,
    ctx: &RouteContext,
    now: Timestamp,
) -> Option<ShiftDecision> {
    let current = route.status.as_ref().and_then(|s| s.shift.as_ref());
    let shift = match shift::declared(route)? {
        Ok(shift) => shift,
        Err(why) => return Some(shift::invalid(&why, current)),
    };
    let ns = route.namespace().unwrap_or_default();
    let followed = shift
        .deployment_configs()
        .filter_map(|name| {
            let dc = ctx
                .deployment_configs
                .get(&ObjectRef::new(name).within(&ns))?;
            Some((name.to_string(), Followed::of(&dc)))
        })
        .collect();
    let refused = shift::refusal(route);
    let check = match shift::check_due(&shift, current, refused.is_some(), &followed, now) {
        Some(analysis) => Some(analysis::check(&analysis).await),
        None => None,
    };
    Some(shift::advance(&ShiftInputs {
        route,
        shift: &shift,
        followed,
        check,
        refused,
        ready: observed.ready.clone(),
        now,
    }))
}
