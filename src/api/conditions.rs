//! Condition types and reasons, each spelled once: the planner writes them, the plugin, the
//! metrics and the Argo CD checks' tests read them. OpenShift's where OpenShift has one.

/// DeploymentConfig condition: enough pods are available.
pub const AVAILABLE: &str = "Available";
/// DeploymentConfig condition: where the latest rollout stands.
pub const PROGRESSING: &str = "Progressing";
/// kstatus's abnormal-true conditions (what Flux, `kpt` and `kubectl wait` read): present only
/// while true.
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// Reasons of the DeploymentConfig's conditions.
pub mod reason {
    pub const NEW_RC_CREATED: &str = "NewReplicationControllerCreated";
    pub const RC_CREATE_ERROR: &str = "ReplicationControllerCreateError";
    pub const RC_UPDATED: &str = "ReplicationControllerUpdated";
    pub const NEW_RC_AVAILABLE: &str = "NewReplicationControllerAvailable";
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    pub const CANCELLED: &str = "RolloutCancelled";
    /// cutover's own: the spec cannot be planned (it slipped past admission).
    pub const INVALID_CONFIG: &str = "InvalidConfig";
    /// cutover's own: a container or an ImageChange trigger has no image yet (OpenShift waits
    /// as well, saying nothing).
    pub const WAITING_FOR_IMAGE: &str = "WaitingForImage";
    /// cutover's own, on ConfigTriggers: a followed ConfigMap or Secret does not exist.
    pub const CONFIG_NOT_FOUND: &str = "ConfigNotFound";
    /// cutover's own, on RollForwardOnly: an irreversible hook succeeded, so no rollback.
    pub const IRREVERSIBLE_HOOK_SUCCEEDED: &str = "IrreversibleHookSucceeded";
    /// cutover's own, on Stalled: the operator hit an error retrying cannot fix.
    pub const RECONCILE_ERROR: &str = "ReconcileError";
}

/// A Route ingress's condition and its reasons (OpenShift's router's where it has them).
pub mod route {
    pub const ADMITTED: &str = "Admitted";
    pub const ROUTE_CONFLICT: &str = "RouteConflict";
    /// The API server refused an object that realises the Route (its message follows).
    pub const ROUTE_APPLY_FAILED: &str = "RouteApplyFailed";
    pub const NO_PARENT_GATEWAY: &str = "NoParentGateway";
    /// A condition of its own (Admitted stays the data plane's, as OpenShift's router admits a
    /// Route whose Service is missing): False while a backend with weight has no Service port.
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    pub const BACKEND_NOT_FOUND: &str = "BackendNotFound";
    pub const GATEWAY_API_NOT_INSTALLED: &str = "GatewayAPINotInstalled";
    pub const GATEWAY_NOT_FOUND: &str = "GatewayNotFound";
    /// The operator's RBAC does not let it read the parent Gateway.
    pub const GATEWAY_NOT_READABLE: &str = "GatewayNotReadable";
    /// OpenShift's router's: no host, an invalid one, one an older Route holds.
    pub const NO_HOST_VALUE: &str = "NoHostValue";
    pub const INVALID_HOST: &str = "InvalidHost";
    pub const HOST_ALREADY_CLAIMED: &str = "HostAlreadyClaimed";
    /// The Gateway has no listener the Route's termination may use.
    pub const NO_MATCHING_LISTENER: &str = "NoMatchingListener";
    pub const BACKEND_TLS_NOT_SUPPORTED: &str = "BackendTLSPolicyNotServed";
    pub const TLS_ROUTE_NOT_SERVED: &str = "TLSRouteNotServed";
    /// OpenShift's router's: the Route's own certificate, key or CA certificates do not pass
    /// its extended validation (its message, the data redacted).
    pub const EXTENDED_VALIDATION_FAILED: &str = "ExtendedValidationFailed";
    /// An access-control annotation (ip_allowlist, ...) the data plane cannot enforce.
    pub const UNSUPPORTED_ACCESS_CONTROL: &str = "UnsupportedAccessControl";
    /// Admitted Unknown: the Gateway has not answered for the current generation yet.
    pub const PENDING: &str = "Pending";
    /// The Gateway's answer on the route's `status.parents`.
    pub const GATEWAY_NOT_ACCEPTED: &str = "GatewayNotAccepted";
    pub const GATEWAY_REFS_NOT_RESOLVED: &str = "GatewayRefsNotResolved";
    /// A second condition type: annotations and header actions that are not realised.
    pub const UNSUPPORTED_CONFIGURATION: &str = "UnsupportedConfiguration";
    pub const NOT_REALISED: &str = "NotRealised";
}

use kube::ResourceExt;

use super::DeploymentConfig;

/// Where a DeploymentConfig's latest rollout stands, read from its status alone: the one answer
/// `kubectl dc rollout status` and the tests give (the Argo CD check, in Lua, is tested against
/// it).
#[derive(Debug, PartialEq, Eq)]
pub enum RolloutState {
    Done(String),
    Failed(String),
    Waiting(String),
}

pub fn rollout_state(dc: &DeploymentConfig) -> RolloutState {
    let name = dc.name_any();
    let status = dc.status.clone().unwrap_or_default();
    if status.latest_version == 0 && dc.spec.triggers.as_ref().is_some_and(Vec::is_empty) {
        return RolloutState::Failed(format!(
            "Deployment config {name:?} waiting on manual update (use 'kubectl dc rollout latest {name}')"
        ));
    }
    if dc.metadata.generation.unwrap_or(0) > status.observed_generation {
        return RolloutState::Waiting(
            "Waiting for latest deployment config spec to be observed by the controller loop..."
                .into(),
        );
    }
    // An error the operator cannot retry its way out of stops the rollout as surely.
    if let Some(stalled) = status
        .conditions
        .iter()
        .find(|c| c.type_ == STALLED && c.status == "True")
    {
        return RolloutState::Failed(stalled.message.clone());
    }
    let progressing = status.conditions.iter().find(|c| c.type_ == PROGRESSING);
    match progressing.map(|c| (c.reason.as_str(), c.message.clone())) {
        Some((reason::NEW_RC_AVAILABLE, _)) => RolloutState::Done(format!(
            "replication controller \"{name}-{}\" successfully rolled out",
            status.latest_version
        )),
        Some((
            reason::TIMED_OUT
            | reason::CANCELLED
            | reason::INVALID_CONFIG
            | reason::RC_CREATE_ERROR,
            m,
        )) => RolloutState::Failed(m),
        _ if status.updated_replicas < dc.spec.replicas => RolloutState::Waiting(format!(
            "Waiting for rollout to finish: {} out of {} new replicas have been updated...",
            status.updated_replicas, dc.spec.replicas
        )),
        _ if status.replicas > status.updated_replicas => RolloutState::Waiting(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            status.replicas - status.updated_replicas
        )),
        _ => RolloutState::Waiting(format!(
            "Waiting for rollout to finish: {} of {} updated replicas are available...",
            status.available_replicas.min(status.updated_replicas),
            status.updated_replicas
        )),
    }
}
