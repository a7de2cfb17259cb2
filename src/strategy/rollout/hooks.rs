//! Lifecycle hooks as Jobs: `<rc>-hook-<pre|mid|post>`, built from one of the
//! revision's containers.
//!
//! The Job's deterministic name is the idempotency key: a pass that finds it re-attaches instead
//! of creating a second one. The outcome is recorded on the revision, so a hook that succeeded is
//! never run again, even if its Job is later deleted.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

use crate::api::hooks::HookPoint;
use crate::api::keys;
use crate::api::{FAILURE_POLICY_IGNORE, FAILURE_POLICY_RETRY, LifecycleHook};

use super::super::revision::Revision;

/// An image a tagImages hook tags into `namespace/stream:tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTag {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
    pub image: String,
}

/// The images a tagImages hook tags: each named container's image in the revision's template
/// (containers only, as OpenShift's deployer looks), into its `to` ImageStreamTag (namespace
/// defaults to the revision's).
pub fn image_tags(
    hook: &LifecycleHook,
    template: Option<&Value>,
    namespace: &str,
) -> Result<Vec<ImageTag>, String> {
    let template = crate::api::PodTemplate(template.cloned().unwrap_or(Value::Null));
    let containers = template.containers();
    let mut tags = Vec::new();
    for t in hook.tag_images.iter().flatten() {
        let image = containers
            .iter()
            .find(|c| !c.init && c.name == t.container_name)
            .map(|c| c.image.to_string())
            .ok_or_else(|| {
                format!(
                    "unable to find image for container {:?}, container could not be found",
                    t.container_name
                )
            })?;
        let to = t.to.name.as_deref().unwrap_or_default();
        let (stream, tag) = crate::image::split_stream_tag(to)
            .ok_or_else(|| format!("{to:?} is not an ImageStreamTag name (<stream>:<tag>)"))?;
        tags.push(ImageTag {
            namespace: t
                .to
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| namespace.to_string()),
            stream: stream.to_string(),
            tag: tag.to_string(),
            image,
        });
    }
    Ok(tags)
}

/// The Started event of a tagImages hook, as OpenShift's deployer words it.
pub fn tagging_message(point: HookPoint, tags: &[ImageTag], ns: &str, rc: &str) -> String {
    let images: Vec<String> = tags
        .iter()
        .map(|t| {
            format!(
                "image {:?} as {:?}",
                t.image,
                format!("{}:{}", t.stream, t.tag)
            )
        })
        .collect();
    format!(
        "Running {}-hook (TagImages) {} for rc {ns}/{rc}",
        point.as_str(),
        images.join(",")
    )
}

/// Where a hook Job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running,
    Succeeded,
    Failed(String),
}

/// A hook Job as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookJob {
    pub name: String,
    /// The revision it works for.
    pub revision: String,
    pub point: HookPoint,
    /// The attempt of the revision's rollout it belongs to.
    pub attempt: i64,
    pub state: JobState,
}

impl HookJob {
    pub fn from_job(job: &Job) -> Option<HookJob> {
        let labels = job.labels();
        let revision = labels.get(keys::DEPLOYER_POD_FOR_LABEL)?.clone();
        let point = HookPoint::from_job_type(labels.get(keys::DEPLOYER_POD_TYPE_LABEL)?)?;
        Some(HookJob {
            name: job.name_any(),
            revision,
            point,
            attempt: job_attempt(job),
            state: job_state(job, "the hook's Job failed"),
        })
    }
}

/// Where a Job stands, from its conditions; `failed` is the message when a failed Job gives none.
pub fn job_state(job: &Job, failed: &str) -> JobState {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let is = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if is("Complete").is_some() {
        JobState::Succeeded
    } else if let Some(c) = is("Failed") {
        let message = c
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .or_else(|| c.reason.clone())
            .unwrap_or_else(|| failed.into());
        JobState::Failed(match job_output(job) {
            Some(output) => format!("{message}; its output: {output}"),
            None => message,
        })
    } else {
        JobState::Running
    }
}

/// What a finished Job's pod said (its termination message, or its log's tail), as the operator
/// recorded it on the Job; `None` when it said nothing or has not been read yet.
pub fn job_output(job: &Job) -> Option<String> {
    job.annotations()
        .get(keys::JOB_OUTPUT_ANNOTATION)
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
}

/// The attempt of the revision's rollout a Job belongs to (1 when not recorded).
pub fn job_attempt(job: &Job) -> i64 {
    job.annotations()
        .get(keys::ATTEMPT_ANNOTATION)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1)
}

/// The name of a hook's Job: `<rc>-hook-<point>` (see `job_name_with`).
pub fn job_name(revision: &str, point: HookPoint) -> String {
    job_name_with(revision, &format!("-hook-{}", point.as_str()))
}

/// `<rc><suffix>`, shortened with a hash when it would not fit in a label value (the Job
/// controller labels its pods with the Job's name).
pub fn job_name_with(revision: &str, suffix: &str) -> String {
    let full = format!("{revision}{suffix}");
    if full.len() <= 63 {
        return full;
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()));
    let keep = 63 - suffix.len() - hash.len() - 1;
    let prefix: String = revision.chars().take(keep).collect();
    format!("{}-{hash}{suffix}", prefix.trim_end_matches('-'))
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The events of a hook run.
pub fn started_message(point: HookPoint, hook: &LifecycleHook, ns: &str, rc: &str) -> String {
    let command = hook
        .exec_new_pod
        .as_ref()
        .map(|e| e.command.join(" "))
        .unwrap_or_default();
    format!(
        "Running {}-hook ({command:?}) for rc {ns}/{rc}",
        point.as_str()
    )
}

pub fn completed_message(point: HookPoint, ns: &str, rc: &str) -> String {
    format!(
        "The {}-hook for rc {ns}/{rc} completed successfully",
        point.as_str()
    )
}

pub fn failed_message(
    point: HookPoint,
    hook: &LifecycleHook,
    why: &str,
    ns: &str,
    rc: &str,
) -> String {
    if hook.failure_policy == FAILURE_POLICY_IGNORE {
        format!(
            "The {}-hook failed: {why} (ignore), rollout of {ns}/{rc} will continue",
            point.as_str()
        )
    } else {
        format!(
            "the {} hook failed: {why}, aborting rollout of {ns}/{rc}",
            point.as_str()
        )
    }
}

/// What a hook Job needs besides the hook itself.
pub struct JobContext<'a> {
    pub dc_name: &'a str,
    pub namespace: &'a str,
    pub revision: &'a Revision,
    pub revision_uid: Option<&'a str>,
    /// Seconds left of the strategy's activeDeadlineSeconds.
    pub deadline_seconds: i64,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
}

/// The hook's Job: the container named `containerName` of the revision's template
/// (image, pull policy, working dir, resources, security context), the hook's command, env =
/// the container's env overlaid by the hook's plus the deployment variables, only the listed
/// volumes and their mounts, and the pod-level pull secrets, node selector and security context.
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
    let base = containers
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container_name.as_str()))
        .ok_or_else(|| format!("no container named '{container_name}' found in rc template"))?;

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

    let wanted: Vec<&str> = exec.volumes.iter().flatten().map(String::as_str).collect();
    let volumes: Vec<Value> = pod_spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| {
            v.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| wanted.contains(&n))
        })
        .cloned()
        .collect();
    let mounts: Vec<Value> = base
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| {
            m.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| wanted.contains(&n))
        })
        .cloned()
        .collect();
    if !mounts.is_empty() {
        container.insert("volumeMounts".into(), Value::Array(mounts));
    }

    let retry = hook.failure_policy == FAILURE_POLICY_RETRY;
    let mut spec = Map::new();
    spec.insert("containers".into(), json!([container]));
    spec.insert(
        "restartPolicy".into(),
        json!(if retry { "OnFailure" } else { "Never" }),
    );
    spec.insert("terminationGracePeriodSeconds".into(), json!(10));
    spec.insert(
        "activeDeadlineSeconds".into(),
        json!(ctx.deadline_seconds.max(1)),
    );
    if !volumes.is_empty() {
        spec.insert("volumes".into(), Value::Array(volumes));
    }
    for key in ["imagePullSecrets", "nodeSelector", "securityContext"] {
        if let Some(v) = pod_spec.get(key) {
            spec.insert(key.into(), v.clone());
        }
    }

    let rc = &ctx.revision.name;
    let name = job_name(rc, point);
    // System keys first; the strategy's labels and annotations never override them.
    let mut labels = BTreeMap::from([
        (keys::DEPLOYER_POD_FOR_LABEL.to_string(), rc.clone()),
        (
            keys::DEPLOYER_POD_TYPE_LABEL.to_string(),
            format!("hook-{}", point.as_str()),
        ),
        (keys::CONFIG_LABEL.to_string(), ctx.dc_name.to_string()),
    ]);
    for (k, v) in ctx.labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut annotations = BTreeMap::from([
        (keys::DEPLOYMENT_NAME_ANNOTATION.to_string(), rc.clone()),
        (
            keys::ATTEMPT_ANNOTATION.to_string(),
            ctx.revision.attempt.to_string(),
        ),
    ]);
    for (k, v) in ctx.annotations {
        annotations.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": ctx.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rc,
                "uid": ctx.revision_uid.unwrap_or_default(),
                "blockOwnerDeletion": true
            }]
        },
        "spec": {
            // Retry: the pod is restarted until it succeeds or the deadline ends the Job.
            // Abort and Ignore: one attempt.
            "backoffLimit": if retry { i32::MAX } else { 0 },
            "activeDeadlineSeconds": ctx.deadline_seconds.max(1),
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": spec
            }
        }
    }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_a_label_value() {
        assert_eq!(job_name("web-3", HookPoint::Mid), "web-3-hook-mid");
        let long = format!("{}-12", "a".repeat(62));
        let name = job_name(&long, HookPoint::Post);
        assert!(name.len() <= 63, "{name}");
        assert!(name.ends_with("-hook-post"));
        assert_ne!(
            name,
            job_name(&format!("{}-13", "a".repeat(62)), HookPoint::Post)
        );
    }
}
