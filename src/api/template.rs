//! The pod template, kept as raw JSON so nothing the user wrote is lost.
//!
//! A typed `PodTemplateSpec` from k8s-openapi knows only the pod fields of the Kubernetes version
//! its feature pins; deserialising into it would silently drop newer fields, and a full structural
//! schema would make the API server prune them. So the template is stored with
//! `x-kubernetes-preserve-unknown-fields` (declaring only what our CEL rules read) and carried to
//! the ReplicaSet as JSON. Typed views are taken where the operator needs to read a field.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A pod template (`metadata` + `spec`) exactly as the user wrote it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(transparent)]
pub struct PodTemplate(pub Value);

impl Default for PodTemplate {
    fn default() -> Self {
        PodTemplate(Value::Object(Map::new()))
    }
}

/// The name and image of one container of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub init: bool,
}

impl PodTemplate {
    fn string_map(&self, pointer: &str) -> BTreeMap<String, String> {
        self.0
            .pointer(pointer)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        self.string_map("/metadata/labels")
    }

    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.string_map("/metadata/annotations")
    }

    /// Containers then init containers, by name and image.
    pub fn containers(&self) -> Vec<ContainerRef<'_>> {
        let list = |key: &str, init: bool| {
            self.0
                .pointer(&format!("/spec/{key}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(move |c| ContainerRef {
                    name: c.get("name").and_then(Value::as_str).unwrap_or_default(),
                    image: c.get("image").and_then(Value::as_str).unwrap_or_default(),
                    init,
                })
        };
        list("containers", false)
            .chain(list("initContainers", true))
            .collect()
    }

    /// The raw JSON of the container (not init container) called `name`.
    pub fn container(&self, name: &str) -> Option<&Value> {
        self.0
            .pointer("/spec/containers")?
            .as_array()?
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
    }
}

fn string_map_schema() -> Value {
    serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}})
}

impl JsonSchema for PodTemplate {
    fn schema_name() -> Cow<'static, str> {
        "PodTemplate".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let container = serde_json::json!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "image": {"type": "string"}
            }
        });
        json_schema!({
            "description": "The pod template (a core/v1 PodTemplateSpec). Stored as written, including pod fields newer than this operator, and copied to each revision's ReplicaSet; the API server validates it when the ReplicaSet is created.",
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {
                "metadata": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {
                        "labels": string_map_schema(),
                        "annotations": string_map_schema()
                    }
                },
                "spec": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "required": ["containers"],
                    "properties": {
                        // Keyed by name, as in a pod: server-side apply and managed fields see
                        // each container's fields (an image trigger owns just the image).
                        "containers": {"type": "array", "minItems": 1, "items": container.clone(),
                            "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
                        "initContainers": {"type": "array", "items": container,
                            "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
                        "restartPolicy": {
                            "type": "string",
                            "x-kubernetes-validations": [{
                                "rule": "self == 'Always'",
                                "message": "restartPolicy must be Always for a DeploymentConfig's pods"
                            }]
                        }
                    }
                }
            },
            "required": ["spec"]
        })
    }
}
