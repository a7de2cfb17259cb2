//! The deployer Job and the identity it runs as.
//!
//! A revision whose rollout is not run by the operator (a Custom strategy, or `customParams` on
//! Rolling or Recreate) gets one Job, `<rc>-deploy`, owned by the revision's ReplicaSet. It runs
//! as the namespace's `cutover-deployer` ServiceAccount, bound to a Role that can only read the
//! namespace's DeploymentConfigs and pods, scale and annotate its ReplicaSets, and run hook Jobs:
//! what `cutover deploy` needs, never the operator's own identity.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

use crate::api::defaults::EffectiveStrategy;
use crate::api::{DeploymentStrategy, keys};

use super::super::revision::Revision;
use super::super::rollout::hooks::{self, JobState, RevisionJob, system_first};

/// The deployer Job of revision `rc`: `<rc>-deploy`, shortened like hook Jobs' names.
pub fn job_name(rc: &str) -> String {
    hooks::job_name_with(rc, "-deploy")
}

/// A deployer Job as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployerJob {
    pub name: String,
    /// The revision it deploys.
    pub revision: String,
    /// The attempt of the revision's rollout it belongs to.
    pub attempt: i64,
    pub state: JobState,
    /// Its pod runs (is ready) or ran: the revision is Running rather than Pending.
    pub started: bool,
}

impl DeployerJob {
    /// A deployer Job: labelled for a revision, with no hook type, and named after it.
    pub fn from_job(job: &Job) -> Option<DeployerJob> {
        let labels = job.labels();
        let revision = labels.get(keys::DEPLOYER_POD_FOR_LABEL)?.clone();
        if labels.contains_key(keys::DEPLOYER_POD_TYPE_LABEL)
            || job.name_any() != job_name(&revision)
        {
            return None;
        }
        let status = job.status.clone().unwrap_or_default();
        let state = hooks::job_state(job, "the deployer's Job failed");
        let started = state != JobState::Running
            || status.ready.unwrap_or(0) > 0
            || status.succeeded.unwrap_or(0) > 0
            || status.failed.unwrap_or(0) > 0;
        Some(DeployerJob {
            name: job.name_any(),
            revision,
            attempt: hooks::job_attempt(job),
            state,
            started,
        })
    }
}

/// What the deployer Job is built from besides the revision.
pub struct DeployerContext<'a> {
    pub dc_name: &'a str,
    pub namespace: &'a str,
    pub revision: &'a Revision,
    /// The strategy as recorded on the revision (labels, annotations, resources, customParams).
    pub strategy: &'a DeploymentStrategy,
    pub effective: &'a EffectiveStrategy,
    /// The image when customParams names none: the operator's `--deployer-image`.
    pub default_image: &'a str,
}

/// The deployer Job: one container `deployment` with customParams' image (or the
/// default deployer image, the operator's own, run as `cutover deploy`), command and environment plus
/// the deployment's name and namespace; the strategy's resources, labels, annotations and
/// activeDeadlineSeconds; the template's node selector, tolerations, pull secrets and DNS
/// settings; one attempt (`restartPolicy: Never`, `backoffLimit: 0`).
pub fn job_manifest(ctx: &DeployerContext<'_>) -> Value {
    let rc = &ctx.revision.name;
    let custom = ctx.strategy.custom_params.clone().unwrap_or_default();
    let own_image = custom
        .image
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty());
    let command = custom.command.as_ref().filter(|c| !c.is_empty());

    let mut container = Map::new();
    container.insert("name".into(), "deployment".into());
    container.insert(
        "image".into(),
        own_image.unwrap_or(ctx.default_image).into(),
    );
    match (command, own_image) {
        (Some(command), _) => {
            container.insert("command".into(), json!(command));
        }
        // cutover's image: its entrypoint is `cutover`; the deployer is `cutover deploy`.
        (None, None) => {
            container.insert("args".into(), json!(["deploy"]));
        }
        // The user's image: its own entrypoint is the deployer.
        (None, Some(_)) => {}
    }
    container.insert("env".into(), Value::Array(env(&custom, rc, ctx.namespace)));
    if let Some(resources) = &ctx.strategy.resources {
        container.insert(
            "resources".into(),
            serde_json::to_value(resources).unwrap_or(Value::Null),
        );
    }
    container.insert("imagePullPolicy".into(), "IfNotPresent".into());
    container.insert(
        "terminationMessagePolicy".into(),
        "FallbackToLogsOnError".into(),
    );

    let deadline = ctx.effective.active_deadline_seconds.max(1);
    let mut spec = Map::new();
    spec.insert("containers".into(), json!([container]));
    spec.insert("restartPolicy".into(), "Never".into());
    spec.insert("activeDeadlineSeconds".into(), json!(deadline));
    spec.insert("terminationGracePeriodSeconds".into(), json!(10));
    spec.insert(
        "serviceAccountName".into(),
        keys::DEPLOYER_SERVICE_ACCOUNT.into(),
    );
    spec.insert("shareProcessNamespace".into(), false.into());
    let template_spec = ctx
        .revision
        .template()
        .and_then(|t| t.get("spec"))
        .cloned()
        .unwrap_or(Value::Null);
    for key in [
        "nodeSelector",
        "tolerations",
        "imagePullSecrets",
        "dnsPolicy",
        "dnsConfig",
        "enableServiceLinks",
    ] {
        if let Some(v) = template_spec.get(key) {
            spec.insert(key.into(), v.clone());
        }
    }

    RevisionJob {
        name: job_name(rc),
        namespace: ctx.namespace,
        revision: ctx.revision,
        labels: system_first(
            [
                (keys::DEPLOYER_POD_FOR_LABEL, rc.clone()),
                (keys::CONFIG_LABEL, ctx.dc_name.to_string()),
            ],
            ctx.strategy.labels.as_ref(),
        ),
        annotations: system_first(
            [
                (keys::DEPLOYMENT_NAME_ANNOTATION, rc.clone()),
                (keys::CONFIG_ANNOTATION, ctx.dc_name.to_string()),
                (keys::ATTEMPT_ANNOTATION, ctx.revision.attempt.to_string()),
            ],
            ctx.strategy.annotations.as_ref(),
        ),
        backoff_limit: 0,
        deadline_seconds: deadline,
        pod_spec: spec,
    }
    .manifest()
}

/// customParams' environment, then the deployment's name and namespace under OpenShift's names
/// and cutover's (these win over a user variable of the same name).
fn env(custom: &crate::api::CustomDeploymentStrategyParams, rc: &str, ns: &str) -> Vec<Value> {
    let ours: Vec<(&str, &str)> = keys::ENV_DEPLOYMENT_NAME
        .iter()
        .map(|n| (*n, rc))
        .chain(keys::ENV_DEPLOYMENT_NAMESPACE.iter().map(|n| (*n, ns)))
        .collect();
    let mut env: Vec<Value> = custom
        .environment
        .iter()
        .flatten()
        .filter(|e| !ours.iter().any(|(n, _)| *n == e.name))
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    env.extend(
        ours.into_iter()
            .map(|(name, value)| json!({"name": name, "value": value})),
    );
    env
}

/// The rules of the deployer's Role: exactly what `cutover deploy` does, and what a Custom
/// strategy's script needs to scale the revisions itself. Namespaced; no wildcard.
pub fn role_rules() -> Value {
    json!([
        // Read the DeploymentConfig (the revision records its config; the live one is read too).
        {"apiGroups": ["apps.openshift.io"], "resources": ["deploymentconfigs"],
         "verbs": ["get", "list", "watch"]},
        // Scale and annotate the revisions (progress and hook outcomes live on them).
        {"apiGroups": ["apps"], "resources": ["replicasets"],
         "verbs": ["get", "list", "watch", "update", "patch"]},
        {"apiGroups": ["apps"], "resources": ["replicasets/scale"],
         "verbs": ["get", "update", "patch"]},
        // Hook Jobs are owned by their revision with blockOwnerDeletion, which needs this where
        // the OwnerReferencesPermissionEnforcement admission plugin is on (as on OpenShift).
        {"apiGroups": ["apps"], "resources": ["replicasets/finalizers"], "verbs": ["update"]},
        // Run the lifecycle hooks, and remove a hook Job of an earlier attempt.
        {"apiGroups": ["batch"], "resources": ["jobs"],
         "verbs": ["get", "list", "watch", "create", "delete"]},
        // Count the revisions' pods (Recreate waits for the old ones to be gone).
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        // tagImages hooks tag the revision's images into ImageStreams of this namespace.
        {"apiGroups": ["image.openshift.io"], "resources": ["imagestreams"],
         "verbs": ["get", "create", "patch"]}
    ])
}

/// The deployer's ServiceAccount, Role and RoleBinding in `namespace`, in the order they are
/// created. The operator creates what is missing and puts the Role's rules back if they drifted.
pub fn access_manifests(namespace: &str) -> Vec<Value> {
    let name = keys::DEPLOYER_SERVICE_ACCOUNT;
    let metadata = json!({
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": keys::FIELD_MANAGER,
                   "app.kubernetes.io/component": "deployer"}
    });
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata,
            "rules": role_rules()
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_grants_no_wildcard_and_nothing_cluster_wide() {
        for rule in role_rules().as_array().into_iter().flatten() {
            for key in ["apiGroups", "resources", "verbs"] {
                assert!(
                    rule[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .all(|v| v.as_str().is_some_and(|s| !s.contains('*'))),
                    "{rule}"
                );
            }
        }
        let access = access_manifests("shop");
        assert_eq!(access[1]["kind"], "Role", "a Role, not a ClusterRole");
        assert_eq!(access[2]["subjects"][0]["namespace"], "shop");
    }

    #[test]
    fn names_fit_a_label_value() {
        assert_eq!(job_name("web-3"), "web-3-deploy");
        let long = format!("{}-12", "a".repeat(62));
        assert!(job_name(&long).len() <= 63);
        assert!(job_name(&long).ends_with("-deploy"));
    }
}
