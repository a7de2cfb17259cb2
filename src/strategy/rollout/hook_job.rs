//! The Job a lifecycle hook runs as: built from one of the revision's containers, the way
//! OpenShift's deployer builds a hook pod, so a hook written for OpenShift runs unchanged.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api::hooks::HookPoint;
use crate::api::keys;
use crate::api::{ExecNewPodHook, FAILURE_POLICY_RETRY, LifecycleHook};

use super::super::revision::Revision;
use super::hooks::{RevisionJob, job_name, system_first};

/// What a hook Job needs besides the hook itself.
pub struct JobContext<'a> {
    pub dc_name: &'a str,
    pub namespace: &'a str,
    pub revision: &'a Revision,
    /// Seconds left of the strategy's activeDeadlineSeconds.
    pub deadline_seconds: i64,
    /// The strategy's labels and annotations (as recorded on the revision).
    pub labels: Option<&'a BTreeMap<String, String>>,
    pub annotations: Option<&'a BTreeMap<String, String>>,
}

/// The hook's Job: the container named `containerName` of the revision's template
/// (image, pull policy, working dir, resources, security context), the hook's command, env =
/// the container's env overlaid by the hook's plus the deployment variables, only the listed
/// volumes and their mounts, and the pod-level pull secrets, node selector, tolerations and
/// security context.
pub fn job_manifest(
    point: HookPoint,
    hook: &LifecycleHook,
    ctx: &JobContext<'_>,
) -> Result<Value, String> {
    let exec = hook
        .exec_new_pod
        .as_ref()
        .ok_or_else(|| format!("the {} hook has no execNewPod", point.as_str()))?;
    let template = ctx
        .revision
        .template()
        .ok_or("the revision records no pod template")?;
    let pod_spec = template.get("spec").cloned().unwrap_or(Value::Null);
    let base = base_container(&pod_spec, exec)?;
    let volumes: Vec<&str> = exec.volumes.iter().flatten().map(String::as_str).collect();
    let container = container(exec, &base, hook, ctx, &volumes);
    let retry = hook.failure_policy == FAILURE_POLICY_RETRY;
    let rc = &ctx.revision.name;
    let job = RevisionJob {
        name: job_name(rc, point),
        namespace: ctx.namespace,
        revision: ctx.revision,
        labels: system_first(
            [
                (keys::DEPLOYER_POD_FOR_LABEL, rc.clone()),
                (
                    keys::DEPLOYER_POD_TYPE_LABEL,
                    format!("hook-{}", point.as_str()),
                ),
                (keys::CONFIG_LABEL, ctx.dc_name.to_string()),
            ],
            ctx.labels,
        ),
        annotations: system_first(
            [
                (keys::DEPLOYMENT_NAME_ANNOTATION, rc.clone()),
                (keys::ATTEMPT_ANNOTATION, ctx.revision.attempt.to_string()),
            ],
            ctx.annotations,
        ),
        // Retry: the pod is restarted until it succeeds or the deadline ends the Job.
        // Abort and Ignore: one attempt.
        backoff_limit: if retry { i32::MAX } else { 0 },
        deadline_seconds: ctx.deadline_seconds.max(1),
        pod_spec: pod_spec_of(&pod_spec, container, retry, ctx.deadline_seconds, &volumes),
    };
    Ok(job.manifest())
}

/// The template container the hook is built from: the one named, or the only one.
fn base_container(pod_spec: &Value, exec: &ExecNewPodHook) -> Result<Value, String> {
    let containers = pod_spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let container_name = if exec.container_name.is_empty() && containers.len() == 1 {
        containers[0]
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    } else {
        exec.container_name.clone()
    };
    containers
        .into_iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container_name.as_str()))
        .ok_or_else(|| format!("no container named '{container_name}' found in rc template"))
}

/// The hook's container: the base container's runtime settings, the hook's command and env,
/// and the mounts of the volumes the hook lists.
fn container(
    exec: &ExecNewPodHook,
    base: &Value,
    hook: &LifecycleHook,
    ctx: &JobContext<'_>,
    volumes: &[&str],
) -> Map<String, Value> {
    let mut container = Map::new();
    container.insert("name".into(), "lifecycle".into());
    container.insert("command".into(), json!(exec.command));
    for key in [
        "image",
        "imagePullPolicy",
        "workingDir",
        "resources",
        "securityContext",
    ] {
        if let Some(v) = base.get(key) {
            container.insert(key.into(), v.clone());
        }
    }
    container.insert("env".into(), Value::Array(merged_env(base, hook, ctx)));
    // What the hook says when it fails reaches the revision, the event and the condition: its
    // termination message, or the tail of its log when it wrote none.
    container.insert(
        "terminationMessagePolicy".into(),
        base.get("terminationMessagePolicy")
            .cloned()
            .unwrap_or_else(|| "FallbackToLogsOnError".into()),
    );
    let mounts = named(base.get("volumeMounts"), volumes);
    if !mounts.is_empty() {
        container.insert("volumeMounts".into(), Value::Array(mounts));
    }
    container
}

/// The hook pod's spec: its one container, the listed volumes, and the template's pull secrets,
/// node selector, tolerations and security context. OpenShift's hook pod takes the node selector
/// alone, so on tainted nodes it stays Pending (the bug openshift/origin#17445 fixed for the
/// deployer pod); the tolerations go with it here, so a hook lands where the app's pods can.
fn pod_spec_of(
    pod_spec: &Value,
    container: Map<String, Value>,
    retry: bool,
    deadline_seconds: i64,
    volumes: &[&str],
) -> Map<String, Value> {
    let mut spec = Map::new();
    spec.insert("containers".into(), json!([container]));
    spec.insert(
        "restartPolicy".into(),
        json!(if retry { "OnFailure" } else { "Never" }),
    );
    spec.insert("terminationGracePeriodSeconds".into(), json!(10));
    spec.insert(
        "activeDeadlineSeconds".into(),
        json!(deadline_seconds.max(1)),
    );
    let volumes = named(pod_spec.get("volumes"), volumes);
    if !volumes.is_empty() {
        spec.insert("volumes".into(), Value::Array(volumes));
    }
    for key in [
        "imagePullSecrets",
        "nodeSelector",
        "tolerations",
        "securityContext",
    ] {
        if let Some(v) = pod_spec.get(key) {
            spec.insert(key.into(), v.clone());
        }
    }
    spec
}

/// The entries of a list of named objects (volumes, mounts) whose name is in `names`.
fn named(list: Option<&Value>, names: &[&str]) -> Vec<Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| {
            v.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| names.contains(&n))
        })
        .cloned()
        .collect()
}

/// The container's env overlaid by the hook's (the hook wins on equal names, `valueFrom` kept),
/// then the deployment's name and namespace under OpenShift's names and cutover's.
fn merged_env(base: &Value, hook: &LifecycleHook, ctx: &JobContext<'_>) -> Vec<Value> {
    let mut env: Vec<Value> = base
        .get("env")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let hook_env = hook
        .exec_new_pod
        .as_ref()
        .and_then(|e| e.env.clone())
        .unwrap_or_default();
    for var in hook_env {
        let value = serde_json::to_value(&var).unwrap_or(Value::Null);
        match env
            .iter_mut()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(var.name.as_str()))
        {
            Some(existing) => *existing = value,
            None => env.push(value),
        }
    }
    let rc = &ctx.revision.name;
    for (name, value) in [
        ("OPENSHIFT_DEPLOYMENT_NAME", rc.as_str()),
        ("OPENSHIFT_DEPLOYMENT_NAMESPACE", ctx.namespace),
        ("CUTOVER_DEPLOYMENT_NAME", rc.as_str()),
        ("CUTOVER_DEPLOYMENT_NAMESPACE", ctx.namespace),
    ] {
        env.retain(|e| e.get("name").and_then(Value::as_str) != Some(name));
        env.push(json!({"name": name, "value": value}));
    }
    env
}
