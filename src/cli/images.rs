//! What `kubectl dc tag` and `import-image` decide, purely: which `from` a tag gets (as `oc tag`
//! chooses it), what an import does to a stream (as `oc import-image` allows it), and the
//! sentences they print (`describe is` is `format::format_image_stream`).

use crate::api::image_stream::{
    FROM_DOCKER_IMAGE, FROM_IMAGE_STREAM_IMAGE, FROM_IMAGE_STREAM_TAG, IMPORT_SUCCESS, ImageStream,
    TagFrom,
};

/// A tag's source as written on the command line, sorted as `oc tag` sorts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: &'static str,
    /// The namespace the source names (`ns/stream:tag`), if any.
    pub namespace: Option<String>,
    pub stream: String,
    /// The tag (ImageStreamTag) or image id (ImageStreamImage).
    pub tag_or_id: String,
    /// As written (a DockerImage's pull spec).
    pub written: String,
}

/// Parses SOURCE: a pull spec with a registry host is a `DockerImage`; `stream@id` an
/// `ImageStreamImage`; `stream:tag` an `ImageStreamTag` (either with an optional `ns/`);
/// anything else a `DockerImage`.
pub fn parse_source(source: &str) -> Result<Source, String> {
    if source.is_empty() || source.contains(char::is_whitespace) {
        return Err(format!("invalid SOURCE: {source:?}"));
    }
    let (name, id) = source
        .split_once('@')
        .map_or((source, None), |(n, i)| (n, Some(i)));
    let parts: Vec<&str> = name.split('/').collect();
    let has_registry = parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost");
    let last = parts.last().copied().unwrap_or_default();
    let (stream, tag) = last
        .split_once(':')
        .map_or((last, None), |(s, t)| (s, Some(t)));
    let docker = |written: &str| Source {
        kind: FROM_DOCKER_IMAGE,
        namespace: None,
        stream: String::new(),
        tag_or_id: String::new(),
        written: written.to_string(),
    };
    if has_registry || parts.len() > 2 {
        return Ok(docker(source));
    }
    let namespace = (parts.len() == 2).then(|| parts[0].to_string());
    let (kind, tag_or_id) = match (id, tag) {
        (Some(id), None) => (FROM_IMAGE_STREAM_IMAGE, id),
        (None, Some(tag)) if !tag.is_empty() => (FROM_IMAGE_STREAM_TAG, tag),
        _ => return Ok(docker(source)),
    };
    Ok(Source {
        kind,
        namespace,
        stream: stream.to_string(),
        tag_or_id: tag_or_id.to_string(),
        written: source.to_string(),
    })
}

/// `ns/stream:tag` or `stream:tag` as (namespace, stream, tag).
pub fn parse_destination(dest: &str, namespace: &str) -> Result<(String, String, String), String> {
    let (ns, rest) = dest
        .split_once('/')
        .map_or((namespace, dest), |(n, r)| (n, r));
    match rest.split_once(':') {
        Some((stream, tag)) if !stream.is_empty() && !tag.is_empty() && !tag.contains(':') => {
            Ok((ns.to_string(), stream.to_string(), tag.to_string()))
        }
        _ => Err(format!("{dest:?} must be of the form <stream_name>:<tag>")),
    }
}

/// `--alias` as `oc tag` allows it: no import flags with it, and only within one stream of the
/// current namespace (an alias across streams would follow a tag the destination cannot track).
pub fn check_alias(
    source: &Source,
    namespace: &str,
    destinations: &[(String, String, String)],
    import_flags: bool,
) -> Result<(), String> {
    if import_flags {
        return Err("cannot set a Docker image tag as an alias and also set import flags".into());
    }
    let cross = destinations
        .iter()
        .any(|(ns, stream, _)| ns != namespace || *stream != source.stream);
    if cross {
        return Err("cannot set alias across different Image Streams".into());
    }
    Ok(())
}

/// The `from` a destination tag gets, and how the message names it. Without `alias`, a tag
/// copies what its source points at now (`stream@digest`), as `oc tag` does; with it, the
/// destination follows the source tag. `source_stream` is the source's stream, when it names one.
pub fn tag_from(
    source: &Source,
    alias: bool,
    source_stream: Option<&ImageStream>,
) -> Result<(TagFrom, String), String> {
    let ns_prefix = source
        .namespace
        .as_ref()
        .map_or(String::new(), |n| format!("{n}/"));
    let stream_ref = |kind: &str, name: String| TagFrom {
        kind: kind.into(),
        name,
        namespace: source.namespace.clone(),
    };
    match source.kind {
        FROM_DOCKER_IMAGE => Ok((
            stream_ref(FROM_DOCKER_IMAGE, source.written.clone()),
            source.written.clone(),
        )),
        FROM_IMAGE_STREAM_TAG if alias => {
            let name = format!("{}:{}", source.stream, source.tag_or_id);
            Ok((
                stream_ref(FROM_IMAGE_STREAM_TAG, name.clone()),
                format!("{ns_prefix}{name}"),
            ))
        }
        FROM_IMAGE_STREAM_TAG => {
            let newest = source_stream
                .and_then(|s| s.status_tag(&source.tag_or_id))
                .and_then(|t| t.items.first())
                .ok_or_else(|| {
                    format!(
                        "{:?} is not currently pointing to an image, cannot use it as the source of a tag",
                        source.written
                    )
                })?;
            if newest.image.is_empty() {
                let reference = newest.docker_image_reference.clone();
                return Ok((
                    TagFrom {
                        kind: FROM_DOCKER_IMAGE.into(),
                        name: reference.clone(),
                        namespace: None,
                    },
                    reference,
                ));
            }
            let name = format!("{}@{}", source.stream, newest.image);
            Ok((
                stream_ref(FROM_IMAGE_STREAM_IMAGE, name.clone()),
                format!("{ns_prefix}{name}"),
            ))
        }
        _ => {
            let name = format!("{}@{}", source.stream, source.tag_or_id);
            Ok((
                stream_ref(FROM_IMAGE_STREAM_IMAGE, name.clone()),
                format!("{ns_prefix}{name}"),
            ))
        }
    }
}

/// `oc tag`'s sentence for a destination set.
pub fn tag_message(
    dest: &str,
    dest_namespace: &str,
    namespace: &str,
    shown: &str,
    alias: bool,
    scheduled: bool,
) -> String {
    let same = dest_namespace == namespace;
    let dest = if same {
        dest.to_string()
    } else {
        format!("{dest_namespace}/{dest}")
    };
    match (alias, scheduled) {
        (true, _) => format!("Tag {dest} set up to track {shown}.\n"),
        (false, true) if same => format!("Tag {dest} set to import {shown} periodically.\n"),
        (false, true) => format!("Tag {dest} set to {shown} periodically.\n"),
        (false, false) => format!("Tag {dest} set to {shown}.\n"),
    }
}

/// What `import-image` does to a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportPlan {
    /// A new stream (or a new tag of it) following `from`.
    Create { from: String },
    /// The existing tag at `index` is imported again.
    Again { index: usize, from: String },
}

/// What `import-image NAME[:TAG] [--from] [--confirm]` may do to `stream`, as `oc import-image`
/// allows it: a missing stream only with `--confirm`, a missing tag only with a source, and an
/// existing tag only again from where it already imports.
pub fn import_plan(
    stream: Option<&ImageStream>,
    name: &str,
    tag: &str,
    from: Option<&str>,
    confirm: bool,
) -> Result<ImportPlan, String> {
    let Some(stream) = stream else {
        if !confirm {
            return Err(format!(
                "no image stream named {name:?} exists, pass --confirm to create and import"
            ));
        }
        return Ok(ImportPlan::Create {
            from: from.map_or_else(|| format!("{name}:{tag}"), str::to_string),
        });
    };
    let tags = stream.spec.tags.as_deref().unwrap_or_default();
    let Some(index) = tags.iter().position(|t| t.name == tag) else {
        return match from {
            Some(from) => Ok(ImportPlan::Create { from: from.into() }),
            None => Err(format!(
                "the tag {tag:?} does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag"
            )),
        };
    };
    let existing = tags[index].from.as_ref().ok_or_else(|| {
        format!(
            "tag {tag:?} already exists - you must use the 'tag' command if you want to change the source to {:?}",
            from.unwrap_or_default()
        )
    })?;
    if existing.kind != FROM_DOCKER_IMAGE {
        return Err(format!(
            "tag {tag:?} points to existing {} {:?}, it cannot be re-imported",
            existing.kind, existing.name
        ));
    }
    if let Some(from) = from.filter(|f| *f != existing.name) {
        return Err(format!(
            "the tag {tag:?} points to {:?} - use the 'tag' command if you want to change the source to {from:?}",
            existing.name
        ));
    }
    Ok(ImportPlan::Again {
        index,
        from: existing.name.clone(),
    })
}

/// Whether the import asked for at `generation` has an outcome for `tag`: `Ok` with the image,
/// or `Err` with why it failed; `None` while it runs.
pub fn import_outcome(
    stream: &ImageStream,
    tag: &str,
    generation: i64,
) -> Option<Result<String, String>> {
    let status = stream.status_tag(tag)?;
    if let Some(failed) = status
        .conditions
        .iter()
        .find(|c| c.type_ == IMPORT_SUCCESS && c.status == "False" && c.generation >= generation)
    {
        return Some(Err(format!(
            "tag {tag} failed: {} ({})",
            failed.message, failed.reason
        )));
    }
    let newest = status
        .items
        .first()
        .filter(|i| i.generation >= generation)?;
    Some(Ok(newest.docker_image_reference.clone()))
}

/// A stream to test with: a scheduled DockerImage tag with two images and a failed import, and
/// a tag following it.
#[cfg(test)]
pub(crate) fn sample_stream() -> ImageStream {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "app", "namespace": "shop", "generation": 3, "creationTimestamp": "2026-12-01T10:00:00Z"},
        "spec": {"tags": [
            {"name": "v1", "from": {"kind": "DockerImage", "name": "r.test/app:v1"}, "importPolicy": {"scheduled": true}},
            {"name": "prod", "from": {"kind": "ImageStreamTag", "name": "v1"}},
        ]},
        "status": {"dockerImageRepository": "", "tags": [
            {"tag": "v1", "items": [
                {"created": "2026-12-01T11:00:00Z", "dockerImageReference": "r.test/app@sha256:bb", "image": "sha256:bb", "generation": 3},
                {"created": "2026-12-01T10:00:00Z", "dockerImageReference": "r.test/app@sha256:aa", "image": "sha256:aa", "generation": 1}],
             "conditions": [{"type": "ImportSuccess", "status": "False", "reason": "NotFound", "message": "gone",
                             "generation": 3, "lastTransitionTime": "2026-12-01T12:00:00Z"}]},
        ]}
    }))
    .expect("stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_sort_as_oc_tag_sorts_them() {
        let kind = |s: &str| parse_source(s).map(|s| (s.kind, s.namespace, s.stream, s.tag_or_id));
        assert_eq!(
            kind("r.test/team/app:v1").map(|k| k.0),
            Ok(FROM_DOCKER_IMAGE)
        );
        assert_eq!(
            kind("127.0.0.1:5000/app").map(|k| k.0),
            Ok(FROM_DOCKER_IMAGE)
        );
        assert_eq!(kind("nginx").map(|k| k.0), Ok(FROM_DOCKER_IMAGE));
        assert_eq!(
            kind("app:v1"),
            Ok((FROM_IMAGE_STREAM_TAG, None, "app".into(), "v1".into()))
        );
        assert_eq!(
            kind("other/app@sha256:aa"),
            Ok((
                FROM_IMAGE_STREAM_IMAGE,
                Some("other".into()),
                "app".into(),
                "sha256:aa".into()
            ))
        );
        assert_eq!(
            parse_destination("app:prod", "shop"),
            Ok(("shop".into(), "app".into(), "prod".into()))
        );
        assert!(parse_destination("app", "shop").is_err());
    }

    #[test]
    fn a_tag_copies_the_current_image_unless_it_aliases() {
        let s = sample_stream();
        let source = parse_source("app:v1").expect("source");
        let (from, shown) = tag_from(&source, false, Some(&s)).expect("from");
        assert_eq!(
            (from.kind.as_str(), from.name.as_str(), shown.as_str()),
            ("ImageStreamImage", "app@sha256:bb", "app@sha256:bb")
        );
        let (from, shown) = tag_from(&source, true, Some(&s)).expect("from");
        assert_eq!(
            (from.kind.as_str(), from.name.as_str(), shown.as_str()),
            ("ImageStreamTag", "app:v1", "app:v1")
        );
        let empty = parse_source("app:v9").expect("source");
        assert_eq!(
            tag_from(&empty, false, Some(&s)).map(|f| f.1),
            Err("\"app:v9\" is not currently pointing to an image, cannot use it as the source of a tag".into())
        );
        assert_eq!(
            tag_message("app:prod", "shop", "shop", "app@sha256:bb", false, false),
            "Tag app:prod set to app@sha256:bb.\n"
        );
        assert_eq!(
            tag_message("app:v2", "shop", "shop", "r.test/app:v2", false, true),
            "Tag app:v2 set to import r.test/app:v2 periodically.\n"
        );
        assert_eq!(
            tag_message("app:prod", "prod", "shop", "app:v1", true, false),
            "Tag prod/app:prod set up to track app:v1.\n"
        );
    }

    #[test]
    fn import_image_creates_only_when_asked_and_reimports_only_from_the_same_place() {
        let s = sample_stream();
        assert_eq!(
            import_plan(None, "app", "v1", Some("r.test/app:v1"), false),
            Err("no image stream named \"app\" exists, pass --confirm to create and import".into())
        );
        assert_eq!(
            import_plan(None, "app", "v1", Some("r.test/app:v1"), true),
            Ok(ImportPlan::Create {
                from: "r.test/app:v1".into()
            })
        );
        assert_eq!(
            import_plan(Some(&s), "app", "v1", None, false),
            Ok(ImportPlan::Again {
                index: 0,
                from: "r.test/app:v1".into()
            })
        );
        assert!(
            import_plan(Some(&s), "app", "v1", Some("r.test/other:v1"), true)
                .is_err_and(|e| e.contains("use the 'tag' command"))
        );
        assert!(
            import_plan(Some(&s), "app", "prod", None, false)
                .is_err_and(|e| e.contains("cannot be re-imported"))
        );
        assert!(
            import_plan(Some(&s), "app", "v2", None, false)
                .is_err_and(|e| e.contains("does not exist on the image stream"))
        );
        assert_eq!(
            import_outcome(&s, "v1", 3),
            Some(Err("tag v1 failed: gone (NotFound)".into()))
        );
        assert_eq!(import_outcome(&s, "v1", 4), None, "still running");
    }

    #[test]
    fn an_alias_stays_within_its_stream_as_oc_tag_says() {
        let source = parse_source("app:v1").expect("source");
        let dest = |d: &str| parse_destination(d, "shop").expect("destination");
        assert_eq!(
            check_alias(&source, "shop", &[dest("app:stable")], false),
            Ok(())
        );
        let across = "cannot set alias across different Image Streams".to_string();
        assert_eq!(
            check_alias(
                &source,
                "shop",
                &[dest("app:stable"), dest("web:v1")],
                false
            ),
            Err(across.clone())
        );
        assert_eq!(
            check_alias(&source, "shop", &[dest("other/app:v1")], false),
            Err(across)
        );
        assert_eq!(
            check_alias(&source, "shop", &[dest("app:stable")], true),
            Err("cannot set a Docker image tag as an alias and also set import flags".into())
        );
    }
}
