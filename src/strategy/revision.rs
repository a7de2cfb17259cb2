//! Revisions: one ReplicaSet per DeploymentConfig version, read from and written to the cluster.
//!
//! A revision's whole rollout state lives on its ReplicaSet (phase, frozen target, encoded config,
//! progress timestamps), so reading one back is enough to resume a rollout after a restart.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

use crate::api::keys::{self, phase};
use crate::api::{DeploymentConfig, DeploymentConfigStatus};

/// Phase of a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    New,
    Pending,
    Running,
    Complete,
    Failed,
}

impl Phase {
    pub fn parse(s: Option<&str>) -> Phase {
        match s {
            Some(phase::PENDING) => Phase::Pending,
            Some(phase::RUNNING) => Phase::Running,
            Some(phase::COMPLETE) => Phase::Complete,
            Some(phase::FAILED) => Phase::Failed,
            _ => Phase::New,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::New => phase::NEW,
            Phase::Pending => phase::PENDING,
            Phase::Running => phase::RUNNING,
            Phase::Complete => phase::COMPLETE,
            Phase::Failed => phase::FAILED,
        }
    }

    /// Complete and Failed are terminal (only a retry reopens them).
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Complete | Phase::Failed)
    }
}

/// One revision as observed.
#[derive(Debug, Clone)]
pub struct Revision {
    pub name: String,
    pub uid: Option<String>,
    pub version: i64,
    /// Which attempt of this revision's rollout runs (a retry starts the next).
    pub attempt: i64,
    pub phase: Phase,
    pub cancelled: bool,
    pub status_reason: Option<String>,
    /// The replica target of this revision's rollout, frozen at creation.
    pub desired: i32,
    pub spec_replicas: i32,
    /// The ReplicaSet controller has seen the latest spec, so the counts below are current.
    pub settled: bool,
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    /// With none, a ready pod is an available one, so the ReplicaSet controller (which deletes
    /// not-ready pods first) keeps the available pods when it scales down.
    pub min_ready_seconds: i32,
    /// Pod objects of this revision that exist, terminating ones included.
    pub pods: i32,
    /// The DeploymentConfig as it was when this revision was created.
    pub config: Option<Box<DeploymentConfig>>,
    pub created: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub last_progress: Option<Timestamp>,
    /// Other annotations the strategies keep on the revision.
    pub annotations: BTreeMap<String, String>,
}

fn parse_time(s: Option<&String>) -> Option<Timestamp> {
    s.and_then(|s| s.parse().ok())
}

impl Revision {
    /// Reads a revision from its ReplicaSet. `None` when it is not a revision (no version).
    pub fn from_replica_set(rs: &ReplicaSet, pods: i32) -> Option<Revision> {
        let ann = rs.annotations();
        let version: i64 = ann.get(keys::LATEST_VERSION_ANNOTATION)?.parse().ok()?;
        let spec_replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let status = rs.status.clone().unwrap_or_default();
        let int_ann = |k: &str| ann.get(k).and_then(|v| v.parse::<i32>().ok());
        let desired = int_ann(keys::DESIRED_REPLICAS_ANNOTATION)
            .or_else(|| int_ann(keys::REPLICAS_ANNOTATION))
            .unwrap_or(spec_replicas);
        let config = ann
            .get(keys::ENCODED_CONFIG_ANNOTATION)
            .and_then(|s| serde_json::from_str::<DeploymentConfig>(s).ok())
            .map(Box::new);
        // Its controller has seen its latest spec; or it wants no pods and has none, which is
        // all its status could say (a new revision need not wait for its first status).
        let settled = status.observed_generation.unwrap_or(0)
            >= rs.metadata.generation.unwrap_or(0)
            || (spec_replicas == 0 && status.replicas == 0 && pods == 0);
        Some(Revision {
            name: rs.name_any(),
            uid: rs.metadata.uid.clone(),
            version,
            attempt: ann
                .get(keys::ATTEMPT_ANNOTATION)
                .and_then(|a| a.parse().ok())
                .unwrap_or(1),
            phase: Phase::parse(ann.get(keys::PHASE_ANNOTATION).map(String::as_str)),
            cancelled: ann
                .get(keys::CANCELLED_ANNOTATION)
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            status_reason: ann.get(keys::STATUS_REASON_ANNOTATION).cloned(),
            desired,
            spec_replicas,
            settled,
            replicas: status.replicas,
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            min_ready_seconds: rs
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0),
            pods,
            config,
            created: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
            started_at: parse_time(ann.get(keys::STARTED_AT_ANNOTATION)),
            last_progress: parse_time(ann.get(keys::LAST_PROGRESS_ANNOTATION)),
            annotations: ann.clone(),
        })
    }

    /// Available pods that count toward the availability bound (never more than wanted).
    pub fn counted_available(&self) -> i32 {
        self.available.min(self.spec_replicas).max(0)
    }

    /// The pod template this revision runs, as recorded at creation.
    pub fn template(&self) -> Option<&Value> {
        self.config.as_ref().map(|c| &c.spec.template.0)
    }
}

/// The ReplicaSet for revision `version` of `dc`, as a JSON manifest so the pod
/// template reaches the cluster exactly as written. `status` is the DeploymentConfig status
/// that records this version; it is encoded with the config.
pub fn replica_set_manifest(
    dc: &DeploymentConfig,
    version: i64,
    status: &DeploymentConfigStatus,
) -> Result<Value, serde_json::Error> {
    let name = dc.name_any();
    let rs_name = keys::revision_name(&name, version);

    let mut labels = dc.labels().clone();
    labels.insert(keys::CONFIG_LABEL.into(), name.clone());

    let mut selector = dc.spec.effective_selector();
    selector.insert(keys::POD_CONFIG_LABEL.into(), name.clone());
    selector.insert(keys::POD_REVISION_LABEL.into(), rs_name.clone());

    let mut annotations = BTreeMap::from([
        (keys::CONFIG_ANNOTATION.to_string(), name.clone()),
        (
            keys::LATEST_VERSION_ANNOTATION.to_string(),
            version.to_string(),
        ),
        (keys::PHASE_ANNOTATION.to_string(), phase::NEW.to_string()),
        (
            keys::ENCODED_CONFIG_ANNOTATION.to_string(),
            encode_config(dc, status)?,
        ),
        (
            keys::DESIRED_REPLICAS_ANNOTATION.to_string(),
            dc.spec.replicas.to_string(),
        ),
        (keys::REPLICAS_ANNOTATION.to_string(), "0".to_string()),
    ]);
    if let Some(message) = status
        .details
        .as_ref()
        .map(|d| &d.message)
        .filter(|m| !m.is_empty())
    {
        annotations.insert(keys::STATUS_REASON_ANNOTATION.into(), message.clone());
    }
    if let Some(cause) = dc.annotations().get(keys::CHANGE_CAUSE_ANNOTATION) {
        annotations.insert(keys::CHANGE_CAUSE_ANNOTATION.into(), cause.clone());
    }

    let mut template = dc.spec.template.0.clone();
    let root = as_object(&mut template);
    let metadata = object_at(root, "metadata");
    let pod_labels = object_at(metadata, "labels");
    for (k, v) in &selector {
        pod_labels.insert(k.clone(), Value::String(v.clone()));
    }
    let pod_annotations = object_at(metadata, "annotations");
    for (k, v) in [
        (keys::DEPLOYMENT_NAME_ANNOTATION, rs_name.clone()),
        (keys::CONFIG_ANNOTATION, name.clone()),
        (keys::LATEST_VERSION_ANNOTATION, version.to_string()),
    ] {
        pod_annotations.insert(k.to_string(), Value::String(v));
    }
    trim_images(&mut template);

    let uid = dc.metadata.uid.clone().unwrap_or_default();
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": rs_name,
            "namespace": dc.namespace(),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "apps.openshift.io/v1",
                "kind": "DeploymentConfig",
                "name": name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true
            }]
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": dc.spec.min_ready_seconds.unwrap_or(0),
            "selector": {"matchLabels": selector},
            "template": template
        }
    }))
}

/// The DeploymentConfig as recorded on a revision: spec and status at creation, without the
/// server's bookkeeping (managed fields, resource version), which would only bloat it.
fn encode_config(
    dc: &DeploymentConfig,
    status: &DeploymentConfigStatus,
) -> Result<String, serde_json::Error> {
    let mut copy = dc.clone();
    copy.metadata.managed_fields = None;
    copy.metadata.resource_version = None;
    copy.metadata.annotations = copy
        .metadata
        .annotations
        .map(|mut a| {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a
        })
        .filter(|a| !a.is_empty());
    copy.status = Some(status.clone());
    let mut value = serde_json::to_value(&copy)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("apiVersion".into(), "apps.openshift.io/v1".into());
        obj.insert("kind".into(), "DeploymentConfig".into());
    }
    serde_json::to_string(&value)
}

/// `value` as a JSON object, replacing anything else with an empty one.
fn as_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("replaced by an object above"),
    }
}

/// `map[key]` as a JSON object, created when absent or not an object.
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    as_object(
        map.entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new())),
    )
}

/// OpenShift trims whitespace around container images when it builds a revision.
fn trim_images(template: &mut Value) {
    for key in ["containers", "initContainers"] {
        if let Some(list) = template
            .pointer_mut(&format!("/spec/{key}"))
            .and_then(Value::as_array_mut)
        {
            for c in list {
                if let Some(Value::String(image)) = c.get_mut("image") {
                    let trimmed = image.trim();
                    if trimmed.len() != image.len() {
                        *image = trimmed.to_string();
                    }
                }
            }
        }
    }
}

/// Whether the template `candidate` differs from the one a revision recorded. Compared as JSON
/// values, so a field the operator does not know still counts.
pub fn template_changed(current: &Value, recorded: Option<&Value>) -> bool {
    recorded != Some(current)
}
