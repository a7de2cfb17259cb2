//! `DeploymentConfig` (apps.openshift.io/v1), schema-compatible with OpenShift.
//!
//! Field names, defaults and validation follow OpenShift's `apps/v1` types. Validation that
//! OpenShift did in Go is expressed as CEL rules so the API server refuses bad input at
//! admission with the same messages; `validate` runs the same rules client-side as a safety net.
//! Defaults that depend on other fields (rolling surge/unavailable, timeouts) cannot be schema
//! defaults; they are resolved by the `effective_*` helpers in `api::defaults`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ObjectReference, ResourceRequirements};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::int_or_percent::IntOrPercent;
use super::template::PodTemplate;

mod status;
pub use status::*;

/// Desired state of a DeploymentConfig.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "apps.openshift.io",
    version = "v1",
    kind = "DeploymentConfig",
    plural = "deploymentconfigs",
    shortname = "dc",
    namespaced,
    status = "DeploymentConfigStatus",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Revision", type_ = "integer", json_path = ".status.latestVersion"),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Current", type_ = "integer", json_path = ".status.replicas"),
    printcolumn(name = "Triggered By", type_ = "string", json_path = ".status.triggeredBy"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) <= 63")
        .message("name must be no more than 63 characters: it becomes the value of the deploymentconfig label"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.selector) && size(self.selector) > 0 || has(self.template.metadata) && has(self.template.metadata.labels) && size(self.template.metadata.labels) > 0")
        .message("selector cannot be empty"),
    validation = Rule::new("!has(self.selector) || self.selector.all(k, has(self.template.metadata) && has(self.template.metadata.labels) && k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector[k])")
        .message("template.metadata.labels: selector does not match template labels"),
    validation = Rule::new("!has(self.minReadySeconds) || self.minReadySeconds == 0 || self.minReadySeconds < (has(self.strategy.rollingParams) && has(self.strategy.rollingParams.timeoutSeconds) ? self.strategy.rollingParams.timeoutSeconds : has(self.strategy.recreateParams) && has(self.strategy.recreateParams.timeoutSeconds) ? self.strategy.recreateParams.timeoutSeconds : 600)")
        .message("minReadySeconds must be less than the deployment timeout (timeoutSeconds)"),
    validation = Rule::new("!has(self.minReadySeconds) || self.minReadySeconds == 0 || self.minReadySeconds < (has(self.strategy.activeDeadlineSeconds) ? self.strategy.activeDeadlineSeconds : 21600)")
        .message("minReadySeconds must be less than strategy.activeDeadlineSeconds"),    validation = Rule::new("!has(self.strategy.rollingParams) || !has(self.strategy.rollingParams.pre) || !has(self.strategy.rollingParams.pre.execNewPod) || has(self.strategy.rollingParams.pre.execNewPod.containerName) && size(self.strategy.rollingParams.pre.execNewPod.containerName) > 0 || size(self.template.spec.containers) == 1")
        .message(CONTAINER_NAME_REQUIRED).reason(kube::core::Reason::FieldValueRequired).field_path(".strategy.rollingParams.pre.execNewPod.containerName"),
    validation = Rule::new("!has(self.strategy.rollingParams) || !has(self.strategy.rollingParams.post) || !has(self.strategy.rollingParams.post.execNewPod) || has(self.strategy.rollingParams.post.execNewPod.containerName) && size(self.strategy.rollingParams.post.execNewPod.containerName) > 0 || size(self.template.spec.containers) == 1")
        .message(CONTAINER_NAME_REQUIRED).reason(kube::core::Reason::FieldValueRequired).field_path(".strategy.rollingParams.post.execNewPod.containerName"),
    validation = Rule::new("!has(self.strategy.recreateParams) || !has(self.strategy.recreateParams.pre) || !has(self.strategy.recreateParams.pre.execNewPod) || has(self.strategy.recreateParams.pre.execNewPod.containerName) && size(self.strategy.recreateParams.pre.execNewPod.containerName) > 0 || size(self.template.spec.containers) == 1")
        .message(CONTAINER_NAME_REQUIRED).reason(kube::core::Reason::FieldValueRequired).field_path(".strategy.recreateParams.pre.execNewPod.containerName"),
    validation = Rule::new("!has(self.strategy.recreateParams) || !has(self.strategy.recreateParams.mid) || !has(self.strategy.recreateParams.mid.execNewPod) || has(self.strategy.recreateParams.mid.execNewPod.containerName) && size(self.strategy.recreateParams.mid.execNewPod.containerName) > 0 || size(self.template.spec.containers) == 1")
        .message(CONTAINER_NAME_REQUIRED).reason(kube::core::Reason::FieldValueRequired).field_path(".strategy.recreateParams.mid.execNewPod.containerName"),
    validation = Rule::new("!has(self.strategy.recreateParams) || !has(self.strategy.recreateParams.post) || !has(self.strategy.recreateParams.post.execNewPod) || has(self.strategy.recreateParams.post.execNewPod.containerName) && size(self.strategy.recreateParams.post.execNewPod.containerName) > 0 || size(self.template.spec.containers) == 1")
        .message(CONTAINER_NAME_REQUIRED).reason(kube::core::Reason::FieldValueRequired).field_path(".strategy.recreateParams.post.execNewPod.containerName"),
)]
pub struct DeploymentConfigSpec {
    /// How a rollout is carried out.
    #[serde(default)]
    pub strategy: DeploymentStrategy,

    /// A pod counts as available only after it has been Ready this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 0").message("minReadySeconds must be greater than or equal to 0"))]
    pub min_ready_seconds: Option<i32>,

    /// What causes a new rollout. Absent means `[ConfigChange]`; an explicit `[]` means none
    /// (manual rollouts only). The schema default only fills an absent field, so the two stay
    /// distinct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_triggers", length(max = 32))]
    pub triggers: Option<Vec<DeploymentTriggerPolicy>>,

    /// Desired pods of the active revision.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self >= 0").message("replicas cannot be negative"))]
    pub replicas: i32,

    /// Old revisions kept for rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_revision_history_limit")]
    #[x_kube(validation = Rule::new("self >= 0").message("revisionHistoryLimit must be greater than or equal to 0"))]
    pub revision_history_limit: Option<i32>,

    /// Test mode: every revision is scaled to zero once its rollout ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,

    /// A paused DeploymentConfig starts no rollout and reconciles no replicas.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,

    /// Pod selector; defaults to the template's labels when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 64, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub selector: Option<BTreeMap<String, String>>,

    /// The pod template, stored without loss (see `api::template`).
    pub template: PodTemplate,
}

/// A hook's `containerName` may be left out only when the template has one container (OpenShift
/// fills it in then); it is not checked against the template's names, which OpenShift leaves to
/// the rollout (a hook that cannot be built fails under its failure policy).
const CONTAINER_NAME_REQUIRED: &str =
    "the template has more than one container: name the one the hook runs in";

// Schema defaults (what the API server fills in when the field is absent).
fn default_triggers() -> Option<Vec<DeploymentTriggerPolicy>> {
    Some(vec![DeploymentTriggerPolicy {
        type_: TRIGGER_CONFIG_CHANGE.to_string(),
        image_change_params: None,
    }])
}

/// OpenShift's default number of old revisions kept.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;

fn default_revision_history_limit() -> Option<i32> {
    Some(DEFAULT_REVISION_HISTORY_LIMIT)
}

pub const STRATEGY_ROLLING: &str = "Rolling";
pub const STRATEGY_RECREATE: &str = "Recreate";
pub const STRATEGY_CUSTOM: &str = "Custom";
pub const TRIGGER_CONFIG_CHANGE: &str = "ConfigChange";
pub const TRIGGER_IMAGE_CHANGE: &str = "ImageChange";
/// The cause of a revision a user asked for (`rollout latest`, a rollback).
pub const CAUSE_MANUAL: &str = "Manual";

/// How a rollout is carried out.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.type) || self.type in ['Rolling', 'Recreate', 'Custom']")
        .message("unsupported strategy type, use \"Custom\" instead and specify your own strategy"),
    validation = Rule::new("!has(self.type) || self.type != 'Custom' || has(self.customParams)")
        .message("customParams is required for the Custom strategy"),
    validation = Rule::new("!has(self.activeDeadlineSeconds) || !has(self.rollingParams) || !has(self.rollingParams.timeoutSeconds) || (has(self.type) && self.type != 'Rolling') || self.activeDeadlineSeconds > self.rollingParams.timeoutSeconds")
        .message("activeDeadlineSeconds must be greater than timeoutSeconds"),
    validation = Rule::new("!has(self.activeDeadlineSeconds) || !has(self.recreateParams) || !has(self.recreateParams.timeoutSeconds) || !has(self.type) || self.type == 'Rolling' || self.activeDeadlineSeconds > self.recreateParams.timeoutSeconds")
        .message("activeDeadlineSeconds must be greater than timeoutSeconds"),
    validation = Rule::new("!has(self.activeDeadlineSeconds) || has(self.rollingParams) && has(self.rollingParams.timeoutSeconds) || has(self.recreateParams) && has(self.recreateParams.timeoutSeconds) || self.activeDeadlineSeconds > 600")
        .message("activeDeadlineSeconds must be greater than timeoutSeconds (600 by default)"),
)]
pub struct DeploymentStrategy {
    /// `Rolling` (the default), `Recreate` or `Custom`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_strategy_type")]
    pub type_: Option<String>,

    /// A user-supplied deployer (required for Custom; on Rolling/Recreate it replaces the deployer
    /// image, command and environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_params: Option<CustomDeploymentStrategyParams>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreate_params: Option<RecreateDeploymentStrategyParams>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_params: Option<RollingDeploymentStrategyParams>,

    /// Resources of the deployer pod (hook pods use their base container's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Added to deployer and hook pods; never override keys the system sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,

    /// Added to deployer and hook pods; never override keys the system sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,

    /// Upper bound, in seconds, on a deployer or hook pod's run (default 21600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 0").message("activeDeadlineSeconds must be greater than or equal to 0"))]
    pub active_deadline_seconds: Option<i64>,
}

fn default_strategy_type() -> Option<String> {
    Some(STRATEGY_ROLLING.to_string())
}

/// A user-supplied deployer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomDeploymentStrategyParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub environment: Option<Vec<EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// Recreate: scale the old revision down, then the new one up.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecreateDeploymentStrategyParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("timeoutSeconds must be greater than 0"))]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre: Option<LifecycleHook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<LifecycleHook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<LifecycleHook>,
}

/// Rolling: replace pods gradually within surge and availability bounds.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.maxSurge) && has(self.maxUnavailable) && string(self.maxSurge).matches('^0+%?$') && string(self.maxUnavailable).matches('^0+%?$'))")
        .message("maxUnavailable cannot be 0 when maxSurge is 0 as well"),
)]
pub struct RollingDeploymentStrategyParams {
    /// Seconds between the scale-up and the scale-down of each step. cutover waits only when
    /// this is set explicitly (it is watch-driven; OpenShift slept 1 s by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("updatePeriodSeconds must be greater than 0"))]
    pub update_period_seconds: Option<i64>,
    /// OpenShift's polling interval; accepted for compatibility, unused (cutover watches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("intervalSeconds must be greater than 0"))]
    pub interval_seconds: Option<i64>,
    /// No-progress deadline of the rollout (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1").message("timeoutSeconds must be greater than 0"))]
    pub timeout_seconds: Option<i64>,
    /// Pods allowed below desired: an integer or a percentage of desired, rounded down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("!string(self).endsWith('%') || int(string(self).replace('%', '')) <= 100").message("maxUnavailable must not be more than 100%"))]
    pub max_unavailable: Option<IntOrPercent>,
    /// Pods allowed above desired: an integer or a percentage of desired, rounded up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrPercent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre: Option<LifecycleHook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<LifecycleHook>,
}

/// A step run around a rollout.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.execNewPod) && has(self.tagImages))")
        .message("only one of 'execNewPod' or 'tagImages' may be specified"),
    validation = Rule::new("has(self.execNewPod) || has(self.tagImages)")
        .message("One of execNewPod or tagImages must be specified"),
)]
pub struct LifecycleHook {
    /// `Abort`, `Retry` or `Ignore`.
    #[x_kube(validation = Rule::new("size(self) > 0").message("failurePolicy is required"))]
    pub failure_policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_new_pod: Option<ExecNewPodHook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub tag_images: Option<Vec<TagImageHook>>,
}

pub const FAILURE_POLICY_ABORT: &str = "Abort";
pub const FAILURE_POLICY_RETRY: &str = "Retry";
pub const FAILURE_POLICY_IGNORE: &str = "Ignore";

/// A hook run in a new pod built from one of the template's containers.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExecNewPodHook {
    #[x_kube(validation = Rule::new("size(self) > 0").message("command must not be empty"))]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub env: Option<Vec<EnvVar>>,
    /// The template container the hook pod is built from; defaults to the only container.
    #[serde(default)]
    pub container_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.all(v, size(v) > 0)").message("volume names must not be empty"))]
    pub volumes: Option<Vec<String>>,
}

/// Tags the image a container of the revision runs into an ImageStreamTag (`to.name`,
/// `stream:tag`; the stream is created if missing), as OpenShift's deployer does.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.to.kind) && self.to.kind == 'ImageStreamTag'")
        .message("to.kind: Must be 'ImageStreamTag'"),
    validation = Rule::new("has(self.to.name) && size(self.to.name) > 0")
        .message("to.name: a destination tag name is required"),
    validation = Rule::new("has(self.containerName) && size(self.containerName) > 0")
        .message("a containerName is required"),
)]
pub struct TagImageHook {
    #[serde(default)]
    pub container_name: String,
    pub to: ObjectReference,
}

/// One cause of a new rollout.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type != 'ImageChange' || has(self.imageChangeParams)")
        .message("imageChangeParams is required for an ImageChange trigger"),
)]
pub struct DeploymentTriggerPolicy {
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("size(self) > 0").message("trigger type is required"))]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_change_params: Option<DeploymentTriggerImageChangeParams>,
}

/// Parameters of an ImageChange trigger: the ImageStreamTag it follows and the containers whose
/// image it sets; `automatic: false` records nothing until `rollout latest`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentTriggerImageChangeParams {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automatic: bool,
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("size(self) > 0").message("containerNames must not be empty"))]
    pub container_names: Vec<String>,
    pub from: ObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_triggered_image: Option<String>,
}
