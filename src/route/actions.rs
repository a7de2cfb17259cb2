//! What the shell does to carry a Route's plan out, in order — the owner checks among it, as
//! data — and what may stop it (`Refusal`), which `plan::refused` turns into the plan that
//! stands.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use serde_json::Value;

use crate::api::conditions::route as reason;
use crate::api::keys::ROUTE_LISTENER_FINALIZER;

use super::manifest::route_listener_name;

use super::shift::ShiftDecision;
use crate::api::route::Route;

/// An object of a kind a Route may own, as the shell's cache shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub kind: String,
    pub name: String,
    /// The uids of its owners.
    pub owners: Vec<String>,
}

/// One step of carrying a plan out. Each is idempotent.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteAction {
    /// Look the name up before anything is applied: held by another owner than `uid`, it
    /// refuses the Route (`Refusal::taken`). Planned for each name the cache does not show as
    /// the Route's own.
    CheckOwner {
        kind: String,
        name: String,
        uid: String,
    },
    /// Server-side apply, forced, under cutover's field manager. `main`: the Route's main route,
    /// whose answer (its `status.parents`) Admitted reads.
    Apply { object: Value, main: bool },
    /// Delete an object the Route owns and no longer needs (one already gone is fine).
    Delete { kind: String, name: String },
    /// Add the Route's finalizer (`ROUTE_LISTENER_FINALIZER`), before its listener is added: the
    /// listener is taken off the Gateway before the Route goes.
    AddFinalizer,
    /// Server-side apply of the Route's own listener onto Gateway `namespace/gateway`, forced,
    /// under the Route's own field manager (so only that list entry is its).
    ApplyListener {
        namespace: String,
        gateway: String,
        apply: Value,
    },
    /// Take the Route's listener `name` off Gateway `namespace/gateway` (gone already is fine).
    RemoveListener {
        namespace: String,
        gateway: String,
        name: String,
    },
    /// Remove the Route's finalizer, once no Gateway holds a listener of its.
    RemoveFinalizer,
    /// Write a generated host into `spec.host`, guarded by the resourceVersion read.
    WriteHost {
        host: String,
        resource_version: Option<String>,
    },
    /// Roll the DeploymentConfig behind a failed shift back: a rollback request whose token
    /// makes it once. Before the status that says Failed.
    RequestRollback {
        deployment_config: String,
        token: String,
    },
}

/// What realises an admitted Route: the objects its main route refers to (in order), its own
/// listener on the Gateway, and the main route (nothing, for a Route that is refused).
#[derive(Debug, Default)]
pub(super) struct Wanted {
    pub objects: Vec<Value>,
    pub listener: Option<GatewayListener>,
    pub main: Option<Value>,
}

/// A Route's own listener, on the Gateway `namespace/gateway`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GatewayListener {
    pub namespace: String,
    pub gateway: String,
    /// What the Route's field manager applies (`manifest::gateway_listener_apply`).
    pub apply: Value,
}

/// What stopped the shell carrying a plan out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A planned name is held by another owner (`owner`: its first, as "Kind name").
    Conflict {
        kind: String,
        name: String,
        owner: Option<String>,
    },
    /// The API server refused to apply an object (an invalid host for a listener, a malformed
    /// certificate).
    Rejected {
        kind: String,
        name: String,
        message: String,
    },
}

impl Refusal {
    /// What a `CheckOwner` found at a name: a conflict unless its owners include `uid`.
    pub fn taken(kind: &str, name: &str, uid: &str, owners: &[OwnerReference]) -> Option<Refusal> {
        if owners.iter().any(|r| r.uid == uid) {
            return None;
        }
        Some(Refusal::Conflict {
            kind: kind.into(),
            name: name.into(),
            owner: owners.first().map(|r| format!("{} {}", r.kind, r.name)),
        })
    }

    /// An apply the API server answered with `code`: a refusal of what the Route asks for (400,
    /// 403, 422), or `None` for an error retrying may cure.
    pub fn rejected(kind: &str, name: &str, code: u16, message: &str) -> Option<Refusal> {
        matches!(code, 400 | 403 | 422).then(|| Refusal::Rejected {
            kind: kind.into(),
            name: name.into(),
            message: message.into(),
        })
    }

    /// The Admitted reason and message that say so.
    pub(super) fn condition(&self) -> (&'static str, String) {
        match self {
            Refusal::Conflict { kind, name, owner } => (
                reason::ROUTE_CONFLICT,
                format!(
                    "{kind} {name:?} exists and belongs to {}: cutover does not change it",
                    owner.as_deref().unwrap_or("another owner")
                ),
            ),
            Refusal::Rejected {
                kind,
                name,
                message,
            } => (
                reason::ROUTE_APPLY_FAILED,
                format!("{kind} {name:?} was refused: {message}"),
            ),
        }
    }
}

/// The actions that realise what is `wanted`: the owner checks of names not known as the
/// Route's, the applies (its finalizer before its own Gateway listener, that listener before the
/// main route), the deletions of what the Route owns and no longer needs, its listeners taken off
/// the Gateways that should no longer hold them (`held`: those that do) and then its finalizer,
/// the generated host, a failed shift's rollback request.
pub(super) fn actions(
    route: &Route,
    owned: &[Owned],
    held: &[(String, String)],
    shift: Option<&ShiftDecision>,
    wanted: Wanted,
    generated_host: Option<String>,
) -> Vec<RouteAction> {
    let uid = route.metadata.uid.clone().unwrap_or_default();
    let ours: Vec<&Owned> = owned.iter().filter(|o| o.owners.contains(&uid)).collect();
    let Wanted {
        objects,
        listener,
        main,
    } = wanted;
    let planned: Vec<(Value, bool)> = objects
        .into_iter()
        .map(|o| (o, false))
        .chain(main.map(|m| (m, true)))
        .collect();
    let names: Vec<(&str, &str)> = planned.iter().map(|(o, _)| kind_and_name(o)).collect();
    let is_ours =
        |(kind, name): &(&str, &str)| ours.iter().any(|o| o.kind == *kind && o.name == *name);
    let mut actions: Vec<RouteAction> = names
        .iter()
        .filter(|n| !is_ours(n))
        .map(|(kind, name)| RouteAction::CheckOwner {
            kind: kind.to_string(),
            name: name.to_string(),
            uid: uid.clone(),
        })
        .collect();
    let stale: Vec<RouteAction> = ours
        .iter()
        .filter(|o| !names.contains(&(o.kind.as_str(), o.name.as_str())))
        .map(|o| RouteAction::Delete {
            kind: o.kind.clone(),
            name: o.name.clone(),
        })
        .collect();
    let finalized = route
        .finalizers()
        .iter()
        .any(|f| f == ROUTE_LISTENER_FINALIZER);
    let kept_on = listener
        .as_ref()
        .map(|l| (l.namespace.clone(), l.gateway.clone()));
    for (object, main) in planned {
        if main && let Some(l) = &listener {
            if !finalized {
                actions.push(RouteAction::AddFinalizer);
            }
            actions.push(RouteAction::ApplyListener {
                namespace: l.namespace.clone(),
                gateway: l.gateway.clone(),
                apply: l.apply.clone(),
            });
        }
        actions.push(RouteAction::Apply { object, main });
    }
    actions.extend(stale);
    let name = route_listener_name(&route.namespace().unwrap_or_default(), &route.name_any());
    actions.extend(held.iter().filter(|g| Some(*g) != kept_on.as_ref()).map(
        |(namespace, gateway)| RouteAction::RemoveListener {
            namespace: namespace.clone(),
            gateway: gateway.clone(),
            name: name.clone(),
        },
    ));
    if finalized && listener.is_none() {
        actions.push(RouteAction::RemoveFinalizer);
    }
    if let Some(host) = generated_host {
        actions.push(RouteAction::WriteHost {
            host,
            resource_version: route.resource_version(),
        });
    }
    if let Some((deployment_config, token)) = shift.and_then(|d| d.rollback.clone()) {
        actions.push(RouteAction::RequestRollback {
            deployment_config,
            token,
        });
    }
    actions
}

/// An object's kind and name.
pub(super) fn kind_and_name(object: &Value) -> (&str, &str) {
    (
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default(),
    )
}
