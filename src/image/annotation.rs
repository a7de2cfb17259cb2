//! The `image.openshift.io/triggers` annotation, purely: image triggers on Deployments,
//! StatefulSets, DaemonSets and CronJobs (the kinds OpenShift's trigger controller honours), so
//! teams that converted their DeploymentConfigs keep their triggers. The value is a JSON list of
//! `{"from": {"kind": "ImageStreamTag", "name": "is:tag", "namespace"?}, "fieldPath":
//! "spec.template.spec.containers[?(@.name==\"web\")].image", "paused"?: bool}`; each trigger
//! that is not paused writes its tag's newest image into the field its path names.

use serde::Deserialize;
use serde_json::{Value, json};

use super::trigger::Streams;
use super::{resolve, split_stream_tag};
use crate::api::image_stream::FROM_IMAGE_STREAM_TAG;
use crate::api::keys::IMAGE_TRIGGERS_ANNOTATION;

/// A kind whose pod template the annotation can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::Deployment,
        Workload::StatefulSet,
        Workload::DaemonSet,
        Workload::CronJob,
    ];

    /// The field path of the pod spec, as the annotation writes it.
    fn pod_spec_path(self) -> &'static str {
        match self {
            Workload::CronJob => "spec.jobTemplate.spec.template.spec.",
            _ => "spec.template.spec.",
        }
    }

    /// The same, as a JSON pointer.
    fn pod_spec_pointer(self) -> &'static str {
        match self {
            Workload::CronJob => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AnnotationTrigger {
    pub from: TriggerFrom,
    pub field_path: String,
    /// A JSON bool: `"true"` fails the whole annotation, as in OpenShift.
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TriggerFrom {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub api_version: String,
}

/// The triggers of an annotation value, or why it is refused as a whole.
pub fn parse(value: &str) -> Result<Vec<AnnotationTrigger>, String> {
    let triggers: Vec<AnnotationTrigger> = serde_json::from_str(value)
        .map_err(|e| format!("{IMAGE_TRIGGERS_ANNOTATION} is not a list of triggers: {e}"))?;
    for (i, t) in triggers.iter().enumerate() {
        if triggers[..i].iter().any(|o| o.field_path == t.field_path) {
            return Err(format!(
                "{IMAGE_TRIGGERS_ANNOTATION}: duplicate triggers are not allowed ({})",
                t.field_path
            ));
        }
    }
    Ok(triggers)
}

impl AnnotationTrigger {
    /// The `(namespace, stream, tag)` it follows, when it reacts to streams at all: not paused,
    /// an ImageStreamTag (no apiVersion) named `stream:tag`.
    fn follows<'a>(&'a self, own_namespace: &'a str) -> Option<(&'a str, &'a str, &'a str)> {
        let from = &self.from;
        if self.paused || from.kind != FROM_IMAGE_STREAM_TAG || !from.api_version.is_empty() {
            return None;
        }
        let (stream, tag) = split_stream_tag(&from.name)?;
        let namespace = if from.namespace.is_empty() {
            own_namespace
        } else {
            &from.namespace
        };
        Some((namespace, stream, tag))
    }
}

/// The `(namespace, stream)`s an object's annotation follows, for the watch index (empty when
/// the annotation is missing or refused).
pub fn followed_streams(namespace: &str, value: Option<&str>) -> Vec<(String, String)> {
    let triggers = value.and_then(|v| parse(v).ok()).unwrap_or_default();
    triggers
        .iter()
        .filter_map(|t| t.follows(namespace))
        .map(|(ns, stream, _)| (ns.to_string(), stream.to_string()))
        .collect()
}

/// What an object's triggers write: a JSON patch (each change guarded by a test of the
/// container's name or index), and the triggers that could not be applied, each with why.
#[derive(Debug, Default, PartialEq)]
pub struct Update {
    pub patch: Vec<Value>,
    pub errors: Vec<String>,
}

/// The update `object` (a `workload`, as JSON) needs for its annotation's triggers. A tag with
/// no image yet is skipped (the others still apply), as OpenShift does.
pub fn update(workload: Workload, object: &Value, streams: &impl Streams) -> Update {
    let mut out = Update::default();
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(IMAGE_TRIGGERS_ANNOTATION))
        .and_then(Value::as_str);
    let Some(value) = value else { return out };
    let triggers = match parse(value) {
        Ok(t) => t,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    for trigger in &triggers {
        let Some((ns, stream, tag)) = trigger.follows(namespace) else {
            continue;
        };
        let Some(image) = streams.stream(ns, stream).and_then(|s| resolve(&s, tag)) else {
            continue;
        };
        match container(workload, object, &trigger.field_path) {
            Ok((pointer, current)) => {
                if current != image {
                    out.patch.push(json!({"op": "test", "path": format!("{pointer}/name"),
                        "value": object.pointer(&format!("{pointer}/name")).cloned().unwrap_or(Value::Null)}));
                    out.patch.push(
                        json!({"op": "add", "path": format!("{pointer}/image"), "value": image}),
                    );
                }
            }
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// The JSON pointer of the container a field path names, and its image now.
fn container<'a>(
    workload: Workload,
    object: &'a Value,
    field_path: &str,
) -> Result<(String, &'a str), String> {
    let invalid = || format!("field path is not valid: {field_path}");
    let rest = field_path
        .strip_prefix(workload.pod_spec_path())
        .ok_or_else(invalid)?;
    let rest = rest.strip_suffix(".image").ok_or_else(invalid)?;
    let (list, selector) = rest
        .strip_suffix(']')
        .and_then(|r| r.split_once('['))
        .ok_or_else(invalid)?;
    if list != "containers" && list != "initContainers" {
        return Err(invalid());
    }
    let items = object
        .pointer(&format!("{}/{list}", workload.pod_spec_pointer()))
        .and_then(Value::as_array);
    let index = if let Ok(i) = selector.parse::<usize>() {
        Some(i).filter(|i| items.is_some_and(|l| *i < l.len()))
    } else {
        let name = selector
            .strip_prefix("?(@.name==\"")
            .and_then(|s| s.strip_suffix("\")"))
            .ok_or_else(invalid)?;
        items.and_then(|l| {
            l.iter()
                .position(|c| c.get("name").and_then(Value::as_str) == Some(name))
        })
    };
    let index = index.ok_or_else(|| format!("no such container: {field_path}"))?;
    let pointer = format!("{}/{list}/{index}", workload.pod_spec_pointer());
    let image = object
        .pointer(&format!("{pointer}/image"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok((pointer, image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::tests::{Cache, stream};

    fn deployment(triggers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns",
                         "annotations": {IMAGE_TRIGGERS_ANNOTATION: triggers.to_string()}},
            "spec": {"template": {"spec": {
                "initContainers": [{"name": "migrate", "image": "old"}],
                "containers": [{"name": "web", "image": "old"}, {"name": "side", "image": "old"}]}}}
        })
    }

    fn trigger(name: &str, field_path: &str) -> Value {
        json!({"from": {"kind": "ImageStreamTag", "name": name}, "fieldPath": field_path})
    }

    #[test]
    fn each_trigger_writes_its_tags_image_into_its_field() {
        let cache = Cache(vec![stream("app", "v1", &["r/app@sha256:bb"])]);
        let d = deployment(json!([
            trigger(
                "app:v1",
                r#"spec.template.spec.containers[?(@.name=="web")].image"#
            ),
            trigger("app:v1", "spec.template.spec.initContainers[0].image"),
            trigger("app:v2", "spec.template.spec.containers[1].image"),
        ]));
        let update = update(Workload::Deployment, &d, &cache);
        assert_eq!(update.errors, Vec::<String>::new());
        assert_eq!(
            update.patch,
            vec![
                json!({"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "web"}),
                json!({"op": "add", "path": "/spec/template/spec/containers/0/image", "value": "r/app@sha256:bb"}),
                json!({"op": "test", "path": "/spec/template/spec/initContainers/0/name", "value": "migrate"}),
                json!({"op": "add", "path": "/spec/template/spec/initContainers/0/image", "value": "r/app@sha256:bb"}),
            ],
            "app:v2 has no image: skipped"
        );
        assert_eq!(
            followed_streams(
                "ns",
                d.pointer("/metadata/annotations")
                    .and_then(|a| a[IMAGE_TRIGGERS_ANNOTATION].as_str())
            ),
            vec![("ns".to_string(), "app".to_string()); 3]
        );
    }

    #[test]
    fn paused_and_written_triggers_change_nothing_and_cronjobs_have_their_own_path() {
        let cache = Cache(vec![stream("app", "v1", &["r/app@sha256:bb"])]);
        let mut paused = trigger("app:v1", "spec.template.spec.containers[0].image");
        paused["paused"] = true.into();
        assert!(
            update(Workload::Deployment, &deployment(json!([paused])), &cache)
                .patch
                .is_empty()
        );
        let cronjob = json!({
            "metadata": {"namespace": "ns", "annotations": {IMAGE_TRIGGERS_ANNOTATION:
                json!([trigger("app:v1", "spec.jobTemplate.spec.template.spec.containers[0].image")]).to_string()}},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "job", "image": "r/app@sha256:bb"}]}}}}}
        });
        assert_eq!(
            update(Workload::CronJob, &cronjob, &cache),
            Update::default(),
            "already written"
        );
    }

    #[test]
    fn bad_annotations_and_paths_are_reported_not_ignored() {
        let cache = Cache(vec![stream("app", "v1", &["r/app@sha256:bb"])]);
        let mut string_paused = trigger("app:v1", "spec.template.spec.containers[0].image");
        string_paused["paused"] = "false".into();
        let refused = update(
            Workload::Deployment,
            &deployment(json!([string_paused])),
            &cache,
        );
        assert!(refused.patch.is_empty());
        assert!(
            refused.errors[0].contains("is not a list of triggers"),
            "{:?}",
            refused.errors
        );
        let twice = trigger("app:v1", "spec.template.spec.containers[0].image");
        let duplicate = update(
            Workload::Deployment,
            &deployment(json!([twice.clone(), twice])),
            &cache,
        );
        assert!(duplicate.errors[0].contains("duplicate triggers are not allowed"));
        let bad = update(
            Workload::Deployment,
            &deployment(json!([
                trigger(
                    "app:v1",
                    "spec.template.spec.containers[?(@.name=='web')].image"
                ),
                trigger(
                    "app:v1",
                    "spec.jobTemplate.spec.template.spec.containers[0].image"
                ),
                trigger(
                    "app:v1",
                    r#"spec.template.spec.containers[?(@.name=="gone")].image"#
                ),
                trigger("app:v1", "spec.template.spec.containers[7].image"),
            ])),
            &cache,
        );
        assert_eq!(
            bad.errors,
            vec![
                "field path is not valid: spec.template.spec.containers[?(@.name=='web')].image",
                "field path is not valid: spec.jobTemplate.spec.template.spec.containers[0].image",
                r#"no such container: spec.template.spec.containers[?(@.name=="gone")].image"#,
                "no such container: spec.template.spec.containers[7].image",
            ]
        );
        assert!(bad.patch.is_empty());
    }
}
