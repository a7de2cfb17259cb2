//! Carries a Route's plan out: each action in order, as the planner lists them. A name another
//! owner holds, or an object the API server refuses, stops it; `route::refused` (pure) says what
//! the plan becomes, and that is carried out instead.

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::api::route::Route;
use crate::api::{DeploymentConfig, keys};
use crate::error::Result;
use crate::route::{self, Inputs, Plan, Refusal, RouteAction};

use super::RouteContext;

/// How carrying out a plan ended.
pub(super) enum Executed {
    /// Every action done; what the API server returned of the main route, if it was applied.
    Done { applied: Option<Value> },
    /// Stopped before the rest.
    Refused(Refusal),
}

/// Carries `plan` out; after a refusal, the refused plan instead. Returns the plan that stood
/// and the applied main route.
pub(super) async fn carry_out(
    ctx: &RouteContext,
    inputs: &Inputs<'_>,
    plan: Plan,
) -> Result<(Plan, Option<Value>)> {
    match execute(ctx, inputs.route, &plan.actions).await? {
        Executed::Done { applied } => Ok((plan, applied)),
        Executed::Refused(refusal) => {
            let plan = route::refused(inputs, plan, &refusal);
            // Deletions, the host, a rollback: nothing in it can be refused.
            execute(ctx, inputs.route, &plan.actions).await?;
            Ok((plan, None))
        }
    }
}

/// Carries out `actions` for `route`, in order; stops at the first refusal or error.
pub(super) async fn execute(
    ctx: &RouteContext,
    route: &Route,
    actions: &[RouteAction],
) -> Result<Executed> {
    let ns = route.namespace().unwrap_or_default();
    let mut applied = None;
    for action in actions {
        match action {
            RouteAction::CheckOwner { kind, name, uid } => {
                if let Some(refusal) = check_owner(ctx, &ns, kind, name, uid).await? {
                    return Ok(Executed::Refused(refusal));
                }
            }
            RouteAction::Apply { object, main } => match apply(ctx, &ns, object).await? {
                Ok(result) if *main => applied = result,
                Ok(_) => {}
                Err(refusal) => return Ok(Executed::Refused(refusal)),
            },
            RouteAction::Delete { kind, name } => delete(ctx, &ns, kind, name).await?,
            RouteAction::AddFinalizer => finalizer(ctx, route, true).await?,
            RouteAction::RemoveFinalizer => finalizer(ctx, route, false).await?,
            RouteAction::ApplyListener {
                namespace,
                gateway,
                apply,
            } => {
                if let Err(refusal) = apply_listener(ctx, route, namespace, gateway, apply).await? {
                    return Ok(Executed::Refused(refusal));
                }
            }
            RouteAction::RemoveListener {
                namespace,
                gateway,
                name,
            } => remove_listener(ctx, namespace, gateway, name).await?,
            RouteAction::WriteHost {
                host,
                resource_version,
            } => write_host(ctx, route, host, resource_version.as_deref()).await?,
            RouteAction::RequestRollback {
                deployment_config,
                token,
            } => request_rollback(ctx, &ns, deployment_config, token).await?,
        }
    }
    Ok(Executed::Done { applied })
}

/// Whether the object at `kind`/`name` is another owner's.
async fn check_owner(
    ctx: &RouteContext,
    ns: &str,
    kind: &str,
    name: &str,
    uid: &str,
) -> Result<Option<Refusal>> {
    let Some(api) = ctx.api_for(ns, kind) else {
        return Ok(None);
    };
    Ok(match api.get_opt(name).await? {
        Some(existing) => Refusal::taken(kind, name, uid, existing.owner_references()),
        None => None,
    })
}

/// Server-side apply under cutover's field manager, forced. `Ok(Err(_))`: the API server
/// refused what the Route asks for; `Ok(Ok(answer))` holds what it returned.
async fn apply(
    ctx: &RouteContext,
    ns: &str,
    object: &Value,
) -> Result<std::result::Result<Option<Value>, Refusal>> {
    let (kind, name) = (
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default(),
    );
    let Some(api) = ctx.api_for(ns, kind) else {
        return Ok(Ok(None));
    };
    let params = PatchParams::apply(keys::FIELD_MANAGER).force();
    match api.patch(name, &params, &Patch::Apply(object)).await {
        Ok(result) => Ok(Ok(Some(serde_json::to_value(&result)?))),
        Err(kube::Error::Api(s)) => match Refusal::rejected(kind, name, s.code, &s.message) {
            Some(refusal) => Ok(Err(refusal)),
            None => Err(kube::Error::Api(s).into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Deletes an object the Route no longer needs; one already gone is fine.
async fn delete(ctx: &RouteContext, ns: &str, kind: &str, name: &str) -> Result<()> {
    let Some(api) = ctx.api_for(ns, kind) else {
        return Ok(());
    };
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn gateways(ctx: &RouteContext, ns: &str) -> Api<DynamicObject> {
    let ar = super::resource("gateway.networking.k8s.io", "v1", "Gateway");
    Api::namespaced_with(ctx.client.clone(), ns, &ar)
}

/// Applies the Route's own listener onto its Gateway under the Route's own field manager, so
/// that the list entry is the Route's alone and every other listener stays as it is.
async fn apply_listener(
    ctx: &RouteContext,
    route: &Route,
    ns: &str,
    gateway: &str,
    object: &Value,
) -> Result<std::result::Result<(), Refusal>> {
    let manager = format!(
        "{}{}",
        keys::ROUTE_LISTENER_FIELD_MANAGER,
        route.metadata.uid.as_deref().unwrap_or_default()
    );
    let params = PatchParams::apply(&manager).force();
    match gateways(ctx, ns)
        .patch(gateway, &params, &Patch::Apply(object))
        .await
    {
        Ok(_) => Ok(Ok(())),
        Err(kube::Error::Api(s)) => match Refusal::rejected("Gateway", gateway, s.code, &s.message)
        {
            Some(refusal) => Ok(Err(refusal)),
            None => Err(kube::Error::Api(s).into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Takes listener `name` off Gateway `ns/gateway`: a JSON patch that tests the entry's name at
/// the index read, so a Gateway changed meanwhile refuses it (409-like 422) and the pass is
/// retried. A Gateway or listener already gone is fine.
async fn remove_listener(ctx: &RouteContext, ns: &str, gateway: &str, name: &str) -> Result<()> {
    let api = gateways(ctx, ns);
    let Some(current) = api.get_opt(gateway).await? else {
        return Ok(());
    };
    let listeners = current.data["spec"]["listeners"].as_array();
    let Some(index) = listeners.and_then(|ls| ls.iter().position(|l| l["name"] == name)) else {
        return Ok(());
    };
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": format!("/spec/listeners/{index}/name"), "value": name},
        {"op": "remove", "path": format!("/spec/listeners/{index}")}
    ]))?;
    let params = PatchParams {
        field_manager: Some(keys::FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.patch(gateway, &params, &Patch::Json::<()>(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Adds (`true`) or removes the Route's listener finalizer, guarded by the resourceVersion read.
async fn finalizer(ctx: &RouteContext, route: &Route, add: bool) -> Result<()> {
    let mut finalizers: Vec<String> = route
        .finalizers()
        .iter()
        .filter(|f| *f != keys::ROUTE_LISTENER_FINALIZER)
        .cloned()
        .collect();
    if add {
        finalizers.push(keys::ROUTE_LISTENER_FINALIZER.into());
    }
    let api: Api<Route> =
        Api::namespaced(ctx.client.clone(), &route.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"resourceVersion": route.resource_version(), "finalizers": finalizers}});
    match api
        .patch(
            &route.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: nothing holds it.
        Err(kube::Error::Api(s)) if s.code == 404 && !add => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes a generated host into `spec.host`, guarded by the resourceVersion read: a Route
/// changed since is planned again, never overwritten.
async fn write_host(
    ctx: &RouteContext,
    route: &Route,
    host: &str,
    resource_version: Option<&str>,
) -> Result<()> {
    let api: Api<Route> =
        Api::namespaced(ctx.client.clone(), &route.namespace().unwrap_or_default());
    let patch = json!({
        "metadata": {
            "resourceVersion": resource_version,
            "annotations": {keys::HOST_GENERATED_ANNOTATION: "true"}
        },
        "spec": {"host": host}
    });
    let params = PatchParams {
        field_manager: Some(keys::ROUTE_HOST_FIELD_MANAGER.into()),
        ..Default::default()
    };
    api.patch(&route.name_any(), &params, &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Rolls the DeploymentConfig behind a failed shift back through its rollback request.
async fn request_rollback(ctx: &RouteContext, ns: &str, dc: &str, token: &str) -> Result<()> {
    use crate::api::requests::{RequestKind, rollback_parameters};
    let api: Api<DeploymentConfig> = Api::namespaced(ctx.client.clone(), ns);
    // To the newest Complete revision before the latest, never forced past a migration,
    // whatever an earlier `rollout undo` left on the DeploymentConfig; the image triggers stay
    // on, so the next pushed image rolls out (and is shifted to again).
    let mut annotations = serde_json::Map::new();
    annotations.insert(RequestKind::Rollback.annotation(), token.into());
    for (key, value) in rollback_parameters(0, false, true) {
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
