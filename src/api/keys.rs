//! Names, labels and annotations shared with OpenShift, and cutover's own.
//!
//! Keeping OpenShift's keys means revisions look the same to existing tooling (`oc`-style
//! scripts, dashboards) and an orphaned revision from a migrated cluster can be adopted.

/// Label on a revision: the DeploymentConfig it belongs to.
pub const CONFIG_LABEL: &str = "openshift.io/deployment-config.name";
/// Selector and pod label: the DeploymentConfig.
pub const POD_CONFIG_LABEL: &str = "deploymentconfig";
/// Selector and pod label: the revision (`<dc>-<N>`).
pub const POD_REVISION_LABEL: &str = "deployment";
/// Label on hook and deployer pods: the revision they work for.
pub const DEPLOYER_POD_FOR_LABEL: &str = "openshift.io/deployer-pod-for.name";
/// Label on hook pods: `hook-pre`, `hook-mid` or `hook-post`.
pub const DEPLOYER_POD_TYPE_LABEL: &str = "openshift.io/deployer-pod.type";

/// Revision annotation: the DeploymentConfig's name.
pub const CONFIG_ANNOTATION: &str = "openshift.io/deployment-config.name";
/// Revision annotation: the revision number N.
pub const LATEST_VERSION_ANNOTATION: &str = "openshift.io/deployment-config.latest-version";
/// Revision annotation: New, Pending, Running, Complete or Failed.
pub const PHASE_ANNOTATION: &str = "openshift.io/deployment.phase";
/// Revision annotation: the whole DeploymentConfig as JSON at the revision's creation.
pub const ENCODED_CONFIG_ANNOTATION: &str = "openshift.io/encoded-deployment-config";
/// Revision annotation: the replica target of this rollout, frozen at creation.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "kubectl.kubernetes.io/desired-replicas";
/// Revision annotation: the replica count it ended with.
pub const REPLICAS_ANNOTATION: &str = "openshift.io/deployment.replicas";
/// Revision annotation: why it was created, failed or was cancelled.
pub const STATUS_REASON_ANNOTATION: &str = "openshift.io/deployment.status-reason";
/// Revision annotation: `"true"` when cancelled.
pub const CANCELLED_ANNOTATION: &str = "openshift.io/deployment.cancelled";
/// Pod template annotation: the revision's name.
pub const DEPLOYMENT_NAME_ANNOTATION: &str = "openshift.io/deployment.name";
/// Revision annotation: the name of its deployer (here a Job, `<rc>-deploy`).
pub const DEPLOYER_POD_NAME_ANNOTATION: &str = "openshift.io/deployer-pod.name";

/// cutover's own revision annotations (state OpenShift kept in its deployer process).
pub const PREFIX: &str = "cutover.io";
/// Revision annotation: when the rollout last made progress (RFC 3339); its no-progress deadline
/// counts from here.
pub const LAST_PROGRESS_ANNOTATION: &str = "cutover.io/last-progress";
/// Revision annotation: when the rollout started running (RFC 3339).
pub const STARTED_AT_ANNOTATION: &str = "cutover.io/started-at";
/// Revision (and hook Job) annotation: which attempt of the revision's rollout this is; a retry
/// starts the next one.
pub const ATTEMPT_ANNOTATION: &str = "cutover.io/attempt";
/// Revision annotation: why `cutover deploy` failed, written by the deployer before it exits, so
/// the operator can record the reason rather than only "the Job failed".
pub const DEPLOYER_MESSAGE_ANNOTATION: &str = "cutover.io/deployer-message";
/// DeploymentConfig annotation (opt-in): `"true"`, or a comma-separated list of names: roll out
/// when a ConfigMap or Secret the template references (of those names) changes.
pub const CONFIG_TRIGGERS_ANNOTATION: &str = "cutover.io/config-triggers";
/// Revision annotation: JSON of `Kind/name` → SHA-256 of the data of each followed ConfigMap and
/// Secret it was created with.
pub const CONFIG_HASHES_ANNOTATION: &str = "cutover.io/config-hashes";
/// DeploymentConfig condition of opted-in config triggers: False when a followed object is missing.
pub const CONFIG_TRIGGERS_CONDITION: &str = "ConfigTriggers";
/// DeploymentConfig annotation (opt-in): hooks (pre, mid, post, comma-separated) whose success
/// makes every older revision unfit to run again (a forward-only migration).
pub const IRREVERSIBLE_HOOKS_ANNOTATION: &str = "cutover.io/irreversible-hooks";
/// With a rollback request, `"true"`: go back past an irreversible hook all the same.
pub const FORCE_PAST_MIGRATION_ANNOTATION: &str = "cutover.io/force-past-migration";
/// DeploymentConfig condition: True while a failed rollout fails forward instead of rolling back.
pub const ROLL_FORWARD_ONLY_CONDITION: &str = "RollForwardOnly";
/// Hook and deployer Job annotation: what its pod said when it ended (the container's
/// termination message, or its log's tail), at most `JOB_OUTPUT_LIMIT` bytes; written by the
/// operator once the Job has finished, before the outcome is recorded ("" when it said nothing).
pub const JOB_OUTPUT_ANNOTATION: &str = "cutover.io/output";
pub const JOB_OUTPUT_LIMIT: usize = 1024;
/// The per-namespace ServiceAccount (and Role and RoleBinding) deployer Jobs run as.
pub const DEPLOYER_SERVICE_ACCOUNT: &str = "cutover-deployer";
/// The environment of a deployer (OpenShift's names, then cutover's).
pub const ENV_DEPLOYMENT_NAME: [&str; 2] = ["OPENSHIFT_DEPLOYMENT_NAME", "CUTOVER_DEPLOYMENT_NAME"];
pub const ENV_DEPLOYMENT_NAMESPACE: [&str; 2] = [
    "OPENSHIFT_DEPLOYMENT_NAMESPACE",
    "CUTOVER_DEPLOYMENT_NAMESPACE",
];
/// Revision annotation: the `kubernetes.io/change-cause` of the DeploymentConfig at creation.
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";

/// DeploymentConfig annotation: when a pod stops counting toward maxSurge
/// (`TerminationStarted`, the default, or `TerminationComplete`).
pub const POD_REPLACEMENT_POLICY_ANNOTATION: &str = "cutover.io/pod-replacement-policy";
/// CRD annotation: a hash of its schema, compared by the operator at start.
pub const SCHEMA_HASH_ANNOTATION: &str = "cutover.io/schema-hash";
/// On a CRD: the hashes (comma-separated) of earlier schemas it still serves unchanged (it only
/// adds to them), so an operator built for one of those runs against it too.
pub const SERVES_SCHEMAS_ANNOTATION: &str = "cutover.io/serves-schemas";
/// Annotation on a Deployment, StatefulSet, DaemonSet or CronJob: its image triggers, a JSON list
/// (`image::annotation`), as OpenShift's trigger controller reads it.
pub const IMAGE_TRIGGERS_ANNOTATION: &str = "image.openshift.io/triggers";
/// Secret annotation: `"true"` keeps a pull Secret out of image imports.
pub const EXCLUDE_SECRET_ANNOTATION: &str = "openshift.io/image.excludeSecret";

/// Route annotation naming the parent Gateway: `namespace/name` or `name` (same namespace).
pub const GATEWAY_ANNOTATION: &str = "cutover.io/gateway";
/// A Route's progressive traffic shift (YAML or JSON; `route::shift`).
pub const TRAFFIC_SHIFT_ANNOTATION: &str = "cutover.io/traffic-shift";
/// Requests on a Route's shift: `cutover.io/request-shift-<verb>: <token>`, each token once.
pub const SHIFT_REQUEST_PREFIX: &str = "cutover.io/request-shift-";
pub const SHIFT_REQUESTS: [&str; 5] = ["promote", "promote-full", "pause", "resume", "abort"];

/// Gateway annotation: `"true"` lets cutover add a listener of a Route's own per host, serving
/// that Route's certificate, where the Gateway takes no ListenerSets (Traefik 3.6).
pub const MANAGE_LISTENERS_ANNOTATION: &str = "cutover.io/manage-listeners";
/// Prefix of the listeners cutover adds to such a Gateway: `cutover.<namespace>.<route>`.
pub const ROUTE_LISTENER_PREFIX: &str = "cutover.";
/// Finalizer of a Route with such a listener: the listener goes before the Route does.
pub const ROUTE_LISTENER_FINALIZER: &str = "route.cutover.io/gateway-listener";

/// Label on the Gateway API routes the operator generates: the Route they realise.
pub const ROUTE_LABEL: &str = "cutover.io/route";

/// Namespace label: the shard (`cutover run --shard <name>`) that serves the namespace; a
/// namespace without it is served by the operator started without `--shard`.
pub const SHARD_LABEL: &str = "cutover.io/shard";

/// Field manager for every write the operator makes.
pub const FIELD_MANAGER: &str = "cutover";

/// The field manager of the images (and `lastTriggeredImage`) ImageChange triggers write, so GitOps
/// tools can be told to leave exactly those fields alone (Argo CD's
/// `ignoreDifferences.managedFieldsManagers`).
pub const IMAGE_TRIGGER_FIELD_MANAGER: &str = "cutover-image-trigger";
/// The field manager of tagImages hooks' writes into ImageStreams: it owns the tags they set.
pub const TAG_IMAGES_FIELD_MANAGER: &str = "cutover-tag-images";
/// The field manager of a generated `spec.host` on a Route (GitOps tools can leave it alone).
pub const ROUTE_HOST_FIELD_MANAGER: &str = "cutover-route-host";
/// The field manager of a Route's listener on its Gateway: `cutover-listener-<route uid>`, one per
/// Route, so that each owns its own list entry of `spec.listeners`.
pub const ROUTE_LISTENER_FIELD_MANAGER: &str = "cutover-listener-";
/// Set on every ImageStream by the `cutover-tag-generations` MutatingAdmissionPolicy
/// (`deploy/31-tag-generations.yaml`): its spec tags' generations are the server's, as on
/// OpenShift, so each tag is imported by its own.
pub const TAG_GENERATIONS_ANNOTATION: &str = "cutover.io/tag-generations";
/// OpenShift's mark of a Route whose `spec.host` was generated (migration tools drop such a
/// host so that the next cluster generates its own).
pub const HOST_GENERATED_ANNOTATION: &str = "openshift.io/host.generated";

/// Phases of a revision.
pub mod phase {
    pub const NEW: &str = "New";
    pub const PENDING: &str = "Pending";
    pub const RUNNING: &str = "Running";
    pub const COMPLETE: &str = "Complete";
    pub const FAILED: &str = "Failed";
}

/// The longest label value Kubernetes accepts (a revision's name is one: its pods' `deployment`).
pub const MAX_LABEL_VALUE: usize = 63;

/// The name of revision `version` of DeploymentConfig `dc`.
pub fn revision_name(dc: &str, version: i64) -> String {
    format!("{dc}-{version}")
}

/// Whether `name` is the name of a revision of DeploymentConfig `dc` (`<dc>-<N>`): revisions of
/// `web` are `web-3`, never `web-canary-3`.
pub fn is_revision_name_of(name: &str, dc: &str) -> bool {
    name.strip_prefix(dc)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_names_belong_to_exactly_one_deployment_config() {
        assert!(is_revision_name_of("web-3", "web"));
        assert!(is_revision_name_of("web-canary-12", "web-canary"));
        assert!(!is_revision_name_of("web-canary-12", "web"));
        assert!(!is_revision_name_of("web-", "web"));
        assert!(!is_revision_name_of("web3", "web"));
        assert!(!is_revision_name_of("web-3-hook-pre", "web"));
    }
}
