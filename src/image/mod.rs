//! ImageStreams, purely: which image a tag resolves to, and what an ImageChange trigger writes
//! into the object that follows it (`trigger`). The registry client and the writes are the
//! shell's (`reconcile`).

pub mod annotation;
pub mod credentials;
pub mod import;
pub mod trigger;

use crate::api::image_stream::{ImageStream, REFERENCE_LOCAL};

/// `stream:tag` split at its one colon; an empty tag is `latest`, as in OpenShift. `None` when
/// the name has no colon (or more than one).
pub fn split_stream_tag(name: &str) -> Option<(&str, &str)> {
    let (stream, tag) = name.split_once(':')?;
    if stream.is_empty() || tag.contains(':') {
        return None;
    }
    Some((stream, if tag.is_empty() { "latest" } else { tag }))
}

/// The pull spec `tag` of `stream` resolves to: its newest status item (a pending or failed
/// re-import does not hide the last good one). Under the `Local` reference policy, the stream's
/// registry repository pinned by the digest, when the stream has one (never here: there is no
/// integrated registry), else the item's own reference.
pub fn resolve(stream: &ImageStream, tag: &str) -> Option<String> {
    let newest = stream.status_tag(tag)?.items.first()?;
    let local = stream
        .spec_tag(tag)
        .is_some_and(|t| t.reference_policy() == REFERENCE_LOCAL);
    let repository = stream
        .status
        .as_ref()
        .map_or("", |s| s.docker_image_repository.as_str());
    if local && !repository.is_empty() && !newest.image.is_empty() {
        return Some(format!("{repository}@{}", newest.image));
    }
    (!newest.docker_image_reference.is_empty()).then(|| newest.docker_image_reference.clone())
}

/// The JSON patch that sets `tag` (a whole TagReference, as JSON) in `stream`'s spec: it replaces
/// the tag of that name, or is added; guarded by the stream's resourceVersion, so a concurrent
/// write makes it fail rather than be lost. (Not server-side apply: one field manager applying
/// one tag at a time would remove the tags it applied before.)
pub fn set_tag_patch(stream: &ImageStream, tag: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    let guard = json!({"op": "test", "path": "/metadata/resourceVersion",
                       "value": stream.metadata.resource_version});
    let name = tag.get("name").and_then(|n| n.as_str()).unwrap_or_default();
    let op = match &stream.spec.tags {
        None => json!({"op": "add", "path": "/spec/tags", "value": [tag]}),
        Some(tags) => match tags.iter().position(|t| t.name == name) {
            Some(i) => json!({"op": "replace", "path": format!("/spec/tags/{i}"), "value": tag}),
            None => json!({"op": "add", "path": "/spec/tags/-", "value": tag}),
        },
    };
    json!([guard, op])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The streams a test's triggers resolve through.
    pub struct Cache(pub Vec<ImageStream>);

    impl trigger::Streams for Cache {
        fn stream(&self, namespace: &str, name: &str) -> Option<std::sync::Arc<ImageStream>> {
            self.0
                .iter()
                .find(|s| {
                    s.metadata.namespace.as_deref() == Some(namespace)
                        && s.metadata.name.as_deref() == Some(name)
                })
                .cloned()
                .map(std::sync::Arc::new)
        }
    }

    /// A stream whose `tag` has these references, newest first.
    pub fn stream(name: &str, tag: &str, references: &[&str]) -> ImageStream {
        let items: Vec<_> = references
            .iter()
            .map(|r| {
                json!({"created": "2026-12-01T00:00:00Z", "dockerImageReference": r,
                       "image": r.split_once('@').map_or("", |(_, d)| d), "generation": 1})
            })
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"tags": [{"name": tag, "from": {"kind": "DockerImage", "name": "registry.test/app:1"}}]},
            "status": {"dockerImageRepository": "", "tags": [{"tag": tag, "items": items}]}
        }))
        .expect("stream")
    }

    #[test]
    fn setting_a_tag_replaces_or_adds_it_under_a_guard() {
        let mut s = stream("app", "v1", &[]);
        s.metadata.resource_version = Some("7".into());
        let tag =
            serde_json::json!({"name": "v1", "from": {"kind": "DockerImage", "name": "r/app:2"}});
        let patch = set_tag_patch(&s, &tag);
        assert_eq!(
            patch[0],
            serde_json::json!({"op": "test", "path": "/metadata/resourceVersion", "value": "7"})
        );
        assert_eq!(patch[1]["op"], "replace");
        assert_eq!(patch[1]["path"], "/spec/tags/0");
        let other =
            serde_json::json!({"name": "prod", "from": {"kind": "DockerImage", "name": "r/app:2"}});
        assert_eq!(set_tag_patch(&s, &other)[1]["path"], "/spec/tags/-");
        s.spec.tags = None;
        assert_eq!(set_tag_patch(&s, &other)[1]["path"], "/spec/tags");
    }

    #[test]
    fn stream_tag_names_split_as_openshift_does() {
        assert_eq!(split_stream_tag("app:v1"), Some(("app", "v1")));
        assert_eq!(split_stream_tag("app:"), Some(("app", "latest")));
        assert_eq!(split_stream_tag("app"), None);
        assert_eq!(split_stream_tag(":v1"), None);
        assert_eq!(split_stream_tag("a:b:c"), None);
    }

    #[test]
    fn a_tag_resolves_to_its_newest_item() {
        let s = stream("app", "v1", &["r/app@sha256:bb", "r/app@sha256:aa"]);
        assert_eq!(resolve(&s, "v1").as_deref(), Some("r/app@sha256:bb"));
        assert_eq!(resolve(&s, "v2"), None, "no such tag");
        assert_eq!(
            resolve(&stream("app", "v1", &[]), "v1"),
            None,
            "not imported yet"
        );
    }

    #[test]
    fn local_reference_policy_uses_the_streams_repository_when_there_is_one() {
        let mut s = stream("app", "v1", &["r/app@sha256:bb"]);
        if let Some(tags) = s.spec.tags.as_mut() {
            tags[0].reference_policy = Some(crate::api::image_stream::TagReferencePolicy {
                type_: "Local".into(),
            });
        }
        assert_eq!(resolve(&s, "v1").as_deref(), Some("r/app@sha256:bb"));
        if let Some(status) = s.status.as_mut() {
            status.docker_image_repository = "registry.local/ns/app".into();
        }
        assert_eq!(
            resolve(&s, "v1").as_deref(),
            Some("registry.local/ns/app@sha256:bb")
        );
    }
}
