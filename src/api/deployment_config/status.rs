//! What the operator reports of a DeploymentConfig (`status`, OpenShift's fields plus the
//! requests it answered): the spec's counterpart, a module of its own.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::TRIGGER_IMAGE_CHANGE;

/// Observed state of a DeploymentConfig.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfigStatus {
    /// The newest revision; never decreases.
    #[serde(default)]
    pub latest_version: i64,
    #[serde(default)]
    pub observed_generation: i64,
    /// Pods of all revisions.
    #[serde(default)]
    pub replicas: i32,
    /// Pods of the latest revision.
    #[serde(default)]
    pub updated_replicas: i32,
    #[serde(default)]
    pub available_replicas: i32,
    #[serde(default)]
    pub unavailable_replicas: i32,
    #[serde(default)]
    pub ready_replicas: i32,
    /// Why the latest revision was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<DeploymentDetails>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<DeploymentCondition>,
    /// Label selector of the pods, as a string, for the scale subresource (HPA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The cause types of the latest revision, for the TRIGGERED BY column (like `oc get dc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    /// The last request of each kind handled (latest, cancel, retry, rollback), so a request
    /// annotation applied again is not acted on twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestStatus>,
}

/// A request (annotation `cutover.io/request-<kind>: <token>`) and what became of it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestStatus {
    /// latest, cancel, retry or rollback.
    pub kind: String,
    /// The token of the request handled.
    pub token: String,
    /// Accepted or Refused.
    pub outcome: String,
    pub message: String,
}

/// The message and causes of the trigger that created the latest revision.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentDetails {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub causes: Vec<DeploymentCause>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCause {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_trigger: Option<DeploymentCauseImageTrigger>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCauseImageTrigger {
    pub from: ObjectReference,
}

impl DeploymentCause {
    /// A cause without an image: `ConfigChange` or `Manual`.
    pub fn of(type_: &str) -> Self {
        DeploymentCause {
            type_: type_.into(),
            image_trigger: None,
        }
    }

    /// An `ImageChange` cause naming the new image.
    pub fn image_change(image: String) -> Self {
        DeploymentCause {
            type_: TRIGGER_IMAGE_CHANGE.into(),
            image_trigger: Some(DeploymentCauseImageTrigger {
                from: ObjectReference {
                    kind: Some("DockerImage".into()),
                    name: Some(image),
                    ..Default::default()
                },
            }),
        }
    }
}

/// A DeploymentConfig condition (OpenShift's shape: it has `lastUpdateTime`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
