use super::*;
use serde_json::json;

const MINUTE: SignedDuration = SignedDuration::from_mins(1);
const INTERVAL: SignedDuration = SignedDuration::from_mins(15);

fn now() -> Timestamp {
    "2026-12-01T12:00:00Z".parse().expect("time")
}

fn stream(generation: i64, tags: serde_json::Value, status: serde_json::Value) -> ImageStream {
    serde_json::from_value(json!({
        "apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
        "metadata": {"name": "app", "namespace": "ns", "generation": generation},
        "spec": {"tags": tags},
        "status": status,
    }))
    .expect("stream")
}

fn docker(name: &str, from: &str, scheduled: bool) -> serde_json::Value {
    json!({"name": name, "from": {"kind": "DockerImage", "name": from},
           "importPolicy": {"scheduled": scheduled}})
}

fn imported(tag: &str, reference: &str, generation: i64) -> serde_json::Value {
    json!({"tag": tag, "items": [{"created": "2026-12-01T11:00:00Z", "dockerImageReference": reference,
           "image": reference.split_once('@').map_or("", |(_, d)| d), "generation": generation}]})
}

fn never(_: &str) -> TagClock {
    TagClock::default()
}

const NO_STREAMS: crate::image::tests::Cache = crate::image::tests::Cache(Vec::new());

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

#[test]
fn new_tags_and_spec_changes_import_references_and_followers_do_not() {
    let s = stream(
        2,
        json!([docker("v1", "r.test/app:v1", false), docker("v2", "r.test/app:v2", false),
               {"name": "ref", "from": {"kind": "DockerImage", "name": "r.test/x:1"}, "reference": true},
               {"name": "latest", "from": {"kind": "ImageStreamTag", "name": "v1"}}]),
        json!({"dockerImageRepository": "", "tags": [imported("v1", "r.test/app@sha256:aa", 2), imported("v2", "r.test/app@sha256:bb", 1)]}),
    );
    let plan = plan(&s, never, now(), INTERVAL);
    assert_eq!(
        plan.imports,
        vec![Import {
            tag: "v2".into(),
            from: "r.test/app:v2".into(),
            insecure: false
        }],
        "v1 is current; v2 was imported before the spec changed"
    );
    assert_eq!(plan.wake_after, None, "nothing scheduled");
}

#[test]
fn scheduled_tags_import_every_interval() {
    let s = stream(
        1,
        json!([docker("v1", "r.test/app:v1", true)]),
        json!({"dockerImageRepository": "", "tags": [imported("v1", "r.test/app@sha256:aa", 1)]}),
    );
    let clock = |_: &str| TagClock {
        last_attempt: Some(now() - MINUTE),
        ..Default::default()
    };
    let plan = plan(&s, clock, now(), INTERVAL);
    assert!(plan.imports.is_empty());
    assert_eq!(plan.wake_after, Some(INTERVAL - MINUTE));
    let clock = |_: &str| TagClock {
        last_attempt: Some(now() - INTERVAL),
        ..Default::default()
    };
    assert_eq!(super::plan(&s, clock, now(), INTERVAL).imports.len(), 1);
}

#[test]
fn failures_are_retried_with_backoff_and_retry_after_is_respected() {
    let failed = json!({"dockerImageRepository": "", "tags": [{"tag": "v1", "items": [], "conditions": [
        {"type": "ImportSuccess", "status": "False", "reason": "Unauthorized", "message": "m", "generation": 1}]}]});
    let s = stream(1, json!([docker("v1", "r.test/app:v1", false)]), failed);
    assert_eq!(
        plan(&s, never, now(), INTERVAL).imports.len(),
        1,
        "unknown history: try once"
    );
    let clock = |_: &str| TagClock {
        last_attempt: Some(now() - 5 * FIRST_RETRY / 10),
        failures: 1,
        not_before: None,
    };
    let p = plan(&s, clock, now(), INTERVAL);
    assert!(p.imports.is_empty());
    assert_eq!(p.wake_after, Some(FIRST_RETRY / 2));
    let clock = |_: &str| TagClock {
        last_attempt: Some(now() - 3 * FIRST_RETRY),
        failures: 3,
        not_before: None,
    };
    assert_eq!(
        plan(&s, clock, now(), INTERVAL).wake_after,
        Some(FIRST_RETRY)
    );
    // Even a spec change waits for the registry's Retry-After.
    let changed = stream(
        2,
        json!([docker("v1", "r.test/app:v2", false)]),
        json!({"tags": []}),
    );
    let clock = |_: &str| TagClock {
        not_before: Some(now() + MINUTE),
        ..Default::default()
    };
    let p = plan(&changed, clock, now(), INTERVAL);
    assert!(p.imports.is_empty());
    assert_eq!(p.wake_after, Some(MINUTE));
    assert_eq!(retry_delay(40, INTERVAL), INTERVAL, "capped");
}

#[test]
fn repositories_keep_the_registry_and_drop_tag_and_digest() {
    assert_eq!(
        repository("127.0.0.1:5000/team/app:v1"),
        "127.0.0.1:5000/team/app"
    );
    assert_eq!(
        repository("127.0.0.1:5000/team/app"),
        "127.0.0.1:5000/team/app"
    );
    assert_eq!(repository("nginx"), "nginx");
    assert_eq!(repository("r.test/app:v1@sha256:aa"), "r.test/app");
}

#[test]
fn a_new_digest_is_prepended_the_same_one_refreshed_and_followers_track_it() {
    let s = stream(
        3,
        json!([docker("v1", "r.test/app:v1", false),
               {"name": "prod", "from": {"kind": "ImageStreamTag", "name": "app:v1"}},
               {"name": "pinned", "from": {"kind": "ImageStreamImage", "name": "app@sha256:aa"}}]),
        json!({"dockerImageRepository": "", "tags": [imported("v1", &format!("r.test/app@{}", digest(0xaa)), 1)]}),
    );
    let import = Import {
        tag: "v1".into(),
        from: "r.test/app:v1".into(),
        insecure: false,
    };
    let status = record(
        &s,
        &[(
            import.clone(),
            Outcome::Imported {
                digest: digest(0xbb),
            },
        )],
        &NO_STREAMS,
        now(),
    );
    let names: Vec<_> = status.tags.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(names, ["pinned", "prod", "v1"], "sorted by name");
    let v1 = &status.tags[2];
    assert_eq!(v1.items.len(), 2);
    assert_eq!(
        v1.items[0].docker_image_reference,
        format!("r.test/app@{}", digest(0xbb))
    );
    assert_eq!(v1.items[0].generation, 3);
    assert_eq!(
        status.tags[1].items[0].image,
        digest(0xbb),
        "prod follows v1"
    );
    assert_eq!(
        status.tags[0].items[0].image,
        digest(0xaa),
        "pinned stays on aa"
    );

    let again = stream(
        3,
        json!([docker("v1", "r.test/app:v1", false)]),
        serde_json::to_value(&status).expect("json"),
    );
    let status = record(
        &again,
        &[(
            import,
            Outcome::Imported {
                digest: digest(0xbb),
            },
        )],
        &NO_STREAMS,
        now(),
    );
    assert_eq!(
        status
            .tags
            .iter()
            .find(|t| t.tag == "v1")
            .map(|t| t.items.len()),
        Some(2),
        "same image: not added again"
    );
}

#[test]
fn the_history_keeps_the_newest_images_up_to_its_limit() {
    let references: Vec<String> = (0..HISTORY_LIMIT)
        .map(|i| format!("r.test/app@sha256:{i:064x}"))
        .collect();
    let items: Vec<_> = references
        .iter()
        .map(|r| imported("v1", r, 1)["items"][0].clone())
        .collect();
    let s = stream(
        1,
        json!([docker("v1", "r.test/app:v1", false)]),
        json!({"dockerImageRepository": "", "tags": [{"tag": "v1", "items": items}]}),
    );
    let import = Import {
        tag: "v1".into(),
        from: "r.test/app:v1".into(),
        insecure: false,
    };
    let status = record(
        &s,
        &[(
            import,
            Outcome::Imported {
                digest: digest(0xee),
            },
        )],
        &NO_STREAMS,
        now(),
    );
    let kept = &status.tags[0].items;
    assert_eq!(kept.len(), HISTORY_LIMIT);
    assert_eq!(kept[0].image, digest(0xee));
    assert_eq!(
        kept[1].docker_image_reference, references[0],
        "the oldest goes"
    );
}

#[test]
fn a_failure_replaces_the_condition_and_keeps_the_history() {
    let s = stream(
        2,
        json!([docker("v1", "r.test/app:v1", false)]),
        json!({"dockerImageRepository": "", "tags": [imported("v1", "r.test/app@sha256:aa", 1)]}),
    );
    let import = Import {
        tag: "v1".into(),
        from: "r.test/app:v1".into(),
        insecure: false,
    };
    let failure = Failure {
        reason: "NotFound".into(),
        message: "m".into(),
        retry_after: None,
    };
    let status = record(
        &s,
        &[(import.clone(), Outcome::Failed(failure.clone()))],
        &NO_STREAMS,
        now(),
    );
    let v1 = &status.tags[0];
    assert_eq!(v1.items.len(), 1, "the last good image stays");
    assert_eq!(v1.conditions.len(), 1);
    assert_eq!(
        (
            v1.conditions[0].reason.as_str(),
            v1.conditions[0].generation
        ),
        ("NotFound", 2)
    );
    let again = stream(
        3,
        json!([docker("v1", "r.test/app:v1", false)]),
        serde_json::to_value(&status).expect("json"),
    );
    let later = now() + MINUTE;
    let status = record(
        &again,
        &[(import, Outcome::Failed(failure))],
        &NO_STREAMS,
        later,
    );
    let c = &status.tags[0].conditions[0];
    assert_eq!(c.generation, 3);
    assert_eq!(
        c.last_transition_time,
        Some(Time(now())),
        "the same failure keeps its time"
    );
    assert!(plan(&again, never, now(), INTERVAL).imports.len() == 1);
}

/// The same digest imported under another repository name (a tag re-pointed at a mirror) is the
/// newest item brought up to date, not a second history item, as OpenShift collapses them.
#[test]
fn the_same_image_under_a_new_reference_is_one_history_item() {
    let s = stream(
        4,
        json!([docker("v1", "mirror.test/app:v1", false)]),
        json!({"dockerImageRepository": "", "tags": [imported("v1", &format!("r.test/app@{}", digest(0xaa)), 1)]}),
    );
    let import = Import {
        tag: "v1".into(),
        from: "mirror.test/app:v1".into(),
        insecure: false,
    };
    let status = record(
        &s,
        &[(
            import,
            Outcome::Imported {
                digest: digest(0xaa),
            },
        )],
        &NO_STREAMS,
        now(),
    );
    let v1 = &status.tags[0];
    assert_eq!(v1.items.len(), 1);
    assert_eq!(
        (
            v1.items[0].docker_image_reference.clone(),
            v1.items[0].generation
        ),
        (format!("mirror.test/app@{}", digest(0xaa)), 4)
    );
}

/// Where the server owns tag generations (the annotation its admission policy sets), each tag
/// is imported by its own: a tag added at generation 5 is imported alone, the others stay as
/// imported; without it the same stream imports every tag again. A re-import is asked for with
/// generation 0 there, one past the stream's elsewhere.
#[test]
fn tags_are_imported_by_their_own_generation_where_the_server_owns_them() {
    let tags = json!([
        {"name": "v1", "from": {"kind": "DockerImage", "name": "r.test/app:v1"}, "generation": 2},
        {"name": "v2", "from": {"kind": "DockerImage", "name": "r.test/app:v2"}, "generation": 5}]);
    let status =
        json!({"dockerImageRepository": "", "tags": [imported("v1", "r.test/app@sha256:aa", 2)]});
    let mut s = stream(5, tags, status);
    let imported_tags = |s: &ImageStream| -> Vec<String> {
        plan(s, never, now(), INTERVAL)
            .imports
            .into_iter()
            .map(|i| i.tag)
            .collect()
    };
    assert_eq!(
        imported_tags(&s),
        ["v1", "v2"],
        "generations as written: all"
    );
    assert_eq!(reimport_generation(&s), 6);
    s.metadata.annotations = Some(
        [(
            crate::api::keys::TAG_GENERATIONS_ANNOTATION.to_string(),
            "server".to_string(),
        )]
        .into(),
    );
    assert_eq!(imported_tags(&s), ["v2"], "the server's: the new tag alone");
    assert_eq!(reimport_generation(&s), 0);
    let status = record(
        &s,
        &[(
            Import {
                tag: "v2".into(),
                from: "r.test/app:v2".into(),
                insecure: false,
            },
            Outcome::Imported {
                digest: digest(0xbb),
            },
        )],
        &NO_STREAMS,
        now(),
    );
    let generations: Vec<(String, i64)> = status
        .tags
        .iter()
        .map(|t| (t.tag.clone(), t.items[0].generation))
        .collect();
    assert_eq!(generations, [("v1".to_string(), 2), ("v2".into(), 5)]);
}

/// A tag that follows another stream's tag copies its image when the tag changes, not each time
/// that stream moves (OpenShift tracks only tags of the same stream).
#[test]
fn another_streams_image_is_copied_when_the_tag_changes_only() {
    let base = |digest_byte: u8| {
        crate::image::tests::stream(
            "base",
            "v1",
            &[&format!("r.test/base@{}", digest(digest_byte))],
        )
    };
    let following = |generation: i64, copied: u8| {
        stream(
            generation,
            json!([{"name": "base", "from": {"kind": "ImageStreamTag", "name": "base:v1"}}]),
            json!({"dockerImageRepository": "", "tags": [imported("base", &format!("r.test/base@{}", digest(copied)), 3)]}),
        )
    };
    let copied = |s: &ImageStream, others: &crate::image::tests::Cache| {
        record(s, &[], others, now()).tags[0].items[0].image.clone()
    };
    let moved = crate::image::tests::Cache(vec![base(0xbb)]);
    assert_eq!(
        copied(&following(3, 0xaa), &moved),
        digest(0xaa),
        "the source moved: kept"
    );
    assert_eq!(
        copied(&following(4, 0xaa), &moved),
        digest(0xbb),
        "the spec changed: copied"
    );
}
