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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

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
