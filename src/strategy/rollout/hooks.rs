//! Lifecycle hooks' Jobs as observed (`<rc>-hook-<pre|mid|post>`, built by `hook_job`), the
//! events of a hook run, and tagImages hooks, which run no Job. The deployer's Job is read with
//! the same helpers (`job_state`, `job_attempt`, `job_name_with`).
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
use crate::api::{FAILURE_POLICY_IGNORE, LifecycleHook};

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

/// A Job working for a revision, as a hook and the deployer run: owned by the revision's
/// ReplicaSet (the garbage collector removes it with the revision), with the same labels and
/// annotations on the Job and its pod.
pub struct RevisionJob<'a> {
    pub name: String,
    pub namespace: &'a str,
    pub revision: &'a Revision,
    /// Put by `system_first`: the operator's keys, then the strategy's.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub backoff_limit: i32,
    pub deadline_seconds: i64,
    pub pod_spec: Map<String, Value>,
}

impl RevisionJob<'_> {
    pub fn manifest(&self) -> Value {
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": self.labels,
                "annotations": self.annotations,
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": self.revision.name,
                    "uid": self.revision.uid.as_deref().unwrap_or_default(),
                    "blockOwnerDeletion": true
                }]
            },
            "spec": {
                "backoffLimit": self.backoff_limit,
                "activeDeadlineSeconds": self.deadline_seconds,
                "template": {
                    "metadata": {"labels": self.labels, "annotations": self.annotations},
                    "spec": self.pod_spec
                }
            }
        })
    }
}

/// The operator's keys, then the strategy's labels or annotations, which never override them.
pub fn system_first<const N: usize>(
    system: [(&str, String); N],
    strategy: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut all: BTreeMap<String, String> = system
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for (k, v) in strategy.into_iter().flatten() {
        all.entry(k.clone()).or_insert_with(|| v.clone());
    }
    all
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
