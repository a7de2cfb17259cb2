//! `ImageStream` (image.openshift.io/v1): the part of OpenShift's schema users and CI write — tags
//! that follow a registry's image or another tag — and the status OpenShift's tools read: per tag,
//! the images it pointed at, newest first, each pinned by digest. There is no integrated
//! registry, so `status.dockerImageRepository` stays empty; cutover imports from the registries
//! the tags name.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

pub const FROM_DOCKER_IMAGE: &str = "DockerImage";
pub const FROM_IMAGE_STREAM_TAG: &str = "ImageStreamTag";
pub const FROM_IMAGE_STREAM_IMAGE: &str = "ImageStreamImage";

/// The reference policies: `Source` (the default) points pods at the image where it was imported
/// from; `Local` at the integrated registry, which does not exist here (so it resolves as Source).
pub const REFERENCE_SOURCE: &str = "Source";
pub const REFERENCE_LOCAL: &str = "Local";

/// The one condition type of a status tag.
pub const IMPORT_SUCCESS: &str = "ImportSuccess";

/// A container image reference as the distribution reference grammar has it (registry host and
/// port, lowercase path components, a tag, a digest), for admission.
const DOCKER_REFERENCE: &str = r"^(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$";

/// Desired state of an ImageStream.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "image.openshift.io",
    version = "v1",
    kind = "ImageStream",
    plural = "imagestreams",
    shortname = "is",
    namespaced,
    status = "ImageStreamStatus",
    printcolumn(name = "Tags", type_ = "string", json_path = ".status.tags[*].tag"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamSpec {
    /// Whether short image names in this namespace resolve through this stream (OpenShift's
    /// admission plugin does that; cutover keeps it as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup_policy: Option<ImageLookupPolicy>,
    /// Deprecated in OpenShift; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_image_repository: Option<String>,
    /// The tags, each following an image or another tag (bounded so that admission's rules
    /// have a bounded cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub tags: Option<Vec<TagReference>>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ImageLookupPolicy {
    #[serde(default)]
    pub local: bool,
}

/// One tag of a stream and where its image comes from.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.importPolicy) || !has(self.importPolicy.scheduled) || !self.importPolicy.scheduled || !has(self.from) || self.from.kind == 'DockerImage'")
        .message("importPolicy.scheduled: only tags pointing to Docker repositories may be scheduled for background import"),
)]
pub struct TagReference {
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The image this tag follows: a registry image, or another tag or image of a stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<TagFrom>,
    /// Point at `from` without importing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<bool>,
    /// The stream generation this tag last changed at (set by the server in OpenShift).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_policy: Option<TagImportPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_policy: Option<TagReferencePolicy>,
}

/// Where a tag's image comes from: `DockerImage` (a pull spec), `ImageStreamTag` (`tag` in this
/// stream, or `stream:tag`), or `ImageStreamImage` (`stream@digest`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(format!("self.kind != 'DockerImage' || self.name.matches(r'''{DOCKER_REFERENCE}''')"))
        .message("from.name: invalid reference format"),
    validation = Rule::new("self.kind != 'ImageStreamTag' || self.name.split(':').size() <= 2")
        .message("from.name: must be of the form <tag>, <repo>:<tag>, <id>, or <repo>@<id>"),
    validation = Rule::new("self.kind != 'ImageStreamImage' || self.name.split('@').size() <= 2")
        .message("from.name: must be of the form <tag>, <repo>:<tag>, <id>, or <repo>@<id>"),
)]
pub struct TagFrom {
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self in ['DockerImage', 'ImageStreamImage', 'ImageStreamTag']").message("valid values are 'DockerImage', 'ImageStreamImage', 'ImageStreamTag'"))]
    pub kind: String,
    #[schemars(length(min = 1, max = 512))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TagImportPolicy {
    /// Plain HTTP (or an untrusted certificate) is allowed for this tag's registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Import again every `--image-import-interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<bool>,
    /// `Legacy` (one platform's manifest in OpenShift) or `PreserveOriginal` (the index); cutover
    /// always records the digest of what the registry serves for the tag, the index if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self in ['', 'Legacy', 'PreserveOriginal']").message("invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal'"))]
    pub import_mode: Option<String>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct TagReferencePolicy {
    #[serde(rename = "type")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self in ['Source', 'Local']").message("valid values are \"Source\", \"Local\""))]
    pub type_: String,
}

/// What the importer found.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamStatus {
    /// The integrated registry's repository for this stream in OpenShift; empty here.
    #[serde(default)]
    pub docker_image_repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_docker_image_repository: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<NamedTagEventList>,
}

/// The history of one tag, newest first, and how its last import went.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct NamedTagEventList {
    pub tag: String,
    #[serde(default)]
    pub items: Vec<TagEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TagEventCondition>,
}

/// An image a tag pointed at.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TagEvent {
    pub created: Time,
    /// A pull spec pinned by digest (`repo@sha256:…`).
    pub docker_image_reference: String,
    /// The digest.
    #[serde(default)]
    pub image: String,
    /// The spec generation this event was imported for.
    #[serde(default)]
    pub generation: i64,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TagEventCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default)]
    pub generation: i64,
}

impl TagReference {
    /// `Source` unless `Local` is asked for.
    pub fn reference_policy(&self) -> &str {
        self.reference_policy
            .as_ref()
            .map_or(REFERENCE_SOURCE, |p| p.type_.as_str())
    }
}

impl ImageStream {
    pub fn spec_tag(&self, tag: &str) -> Option<&TagReference> {
        self.spec.tags.as_deref()?.iter().find(|t| t.name == tag)
    }

    pub fn status_tag(&self, tag: &str) -> Option<&NamedTagEventList> {
        self.status.as_ref()?.tags.iter().find(|t| t.tag == tag)
    }
}
