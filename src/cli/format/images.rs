//! What `kubectl dc describe is` prints: a stream, each tag's source, state and history.

use std::fmt::Write;

use kube::ResourceExt;

use crate::api::image_stream::{FROM_DOCKER_IMAGE, ImageStream};

/// `describe is`: the stream, and each tag's source, state and history (newest first).
pub fn format_image_stream(stream: &ImageStream) -> String {
    let mut out = String::new();
    let spec_tags = stream.spec.tags.as_deref().unwrap_or_default();
    let status_tags = stream
        .status
        .as_ref()
        .map(|s| s.tags.as_slice())
        .unwrap_or_default();
    let mut images: Vec<&str> = status_tags
        .iter()
        .flat_map(|t| &t.items)
        .map(|i| i.image.as_str())
        .filter(|i| !i.is_empty())
        .collect();
    images.sort_unstable();
    images.dedup();
    let mut names: Vec<&str> = spec_tags
        .iter()
        .map(|t| t.name.as_str())
        .chain(status_tags.iter().map(|t| t.tag.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let created = stream
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or("<unknown>".to_string(), |t| t.0.to_string());
    let local = stream.spec.lookup_policy.as_ref().is_some_and(|p| p.local);
    let _ = writeln!(out, "Name:\t\t\t{}", stream.name_any());
    let _ = writeln!(
        out,
        "Namespace:\t\t{}",
        stream.namespace().unwrap_or_default()
    );
    let _ = writeln!(out, "Created:\t\t{created}");
    let _ = writeln!(out, "Image Lookup:\t\tlocal={local}");
    let _ = writeln!(out, "Unique Images:\t\t{}", images.len());
    let _ = writeln!(out, "Tags:\t\t\t{}", names.len());
    for name in names {
        let _ = write!(out, "\n{name}\n");
        if let Some(spec) = spec_tags.iter().find(|t| t.name == name)
            && let Some(from) = &spec.from
        {
            let verb = match from.kind.as_str() {
                FROM_DOCKER_IMAGE if spec.reference == Some(true) => "reference to",
                FROM_DOCKER_IMAGE => "tagged from",
                _ => "tracks",
            };
            let ns = from
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .map_or(String::new(), |n| format!("{n}/"));
            let _ = writeln!(out, "  {verb} {ns}{}", from.name);
            if spec.import_policy.as_ref().and_then(|p| p.scheduled) == Some(true) {
                let _ = writeln!(out, "    updates automatically from registry {}", from.name);
            }
        }
        let Some(status) = status_tags.iter().find(|t| t.tag == name) else {
            let _ = writeln!(out, "  no image yet");
            continue;
        };
        for c in status.conditions.iter().filter(|c| c.status == "False") {
            let when = c
                .last_transition_time
                .as_ref()
                .map_or(String::new(), |t| t.0.to_string());
            let _ = writeln!(
                out,
                "  ! error: Import failed ({}): {}\n      {when}",
                c.reason, c.message
            );
        }
        for (i, item) in status.items.iter().enumerate() {
            let mark = if i == 0 { "*" } else { " " };
            let _ = writeln!(
                out,
                "  {mark} {}\n      {}",
                item.docker_image_reference, item.created.0
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::images::sample_stream;

    #[test]
    fn describe_shows_sources_failures_and_history() {
        assert_eq!(
            format_image_stream(&sample_stream()),
            "Name:\t\t\tapp\nNamespace:\t\tshop\nCreated:\t\t2026-12-01T10:00:00Z\nImage Lookup:\t\tlocal=false\n\
             Unique Images:\t\t2\nTags:\t\t\t2\n\
             \nprod\n  tracks v1\n  no image yet\n\
             \nv1\n  tagged from r.test/app:v1\n    updates automatically from registry r.test/app:v1\n\
             \x20 ! error: Import failed (NotFound): gone\n      2026-12-01T12:00:00Z\n\
             \x20 * r.test/app@sha256:bb\n      2026-12-01T11:00:00Z\n\
             \x20   r.test/app@sha256:aa\n      2026-12-01T10:00:00Z\n"
        );
    }
}
