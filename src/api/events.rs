//! Reasons of the Kubernetes events recorded on a DeploymentConfig, each spelled once
//! (OpenShift's where it has one, so existing alerts on events keep matching).

pub const DEPLOYMENT_CREATED: &str = "DeploymentCreated";
pub const DEPLOYMENT_CREATION_FAILED: &str = "DeploymentCreationFailed";
pub const DEPLOYMENT_CANCELLED: &str = "DeploymentCancelled";
pub const DEPLOYMENT_CLEANUP_FAILED: &str = "DeploymentCleanupFailed";
pub const ROLLOUT_CANCELLED: &str = "RolloutCancelled";
pub const ROLLOUT_TIMEOUT: &str = "RolloutTimeout";
pub const RC_SCALED: &str = "ReplicationControllerScaled";
/// A hook's Job started, completed or failed; a rollout failed.
pub const STARTED: &str = "Started";
pub const COMPLETED: &str = "Completed";
pub const FAILED: &str = "Failed";
/// The deployer Job could not be created.
pub const FAILED_CREATE: &str = "FailedCreate";
/// cutover's own: a request annotation was acted on or refused.
pub const REQUEST_ACCEPTED: &str = "RequestAccepted";
pub const REQUEST_REFUSED: &str = "RequestRefused";
/// Recreate went on although old pods had not stopped within timeoutSeconds.
pub const OLD_PODS_NOT_TERMINATED: &str = "OldPodsNotTerminated";
/// Recreate completed although not every pod was created within timeoutSeconds.
pub const REPLICAS_NOT_CREATED: &str = "ReplicasNotCreated";
/// cutover's own: a failed rollout fails forward, past an irreversible hook.
pub const ROLL_FORWARD_ONLY: &str = "RollForwardOnly";
