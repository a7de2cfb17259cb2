//! The ImageChange triggers' decisions, against streams in a cache of their own.

use super::*;
use crate::image::tests::{Cache, stream};
use serde_json::json;

fn dc(triggers: serde_json::Value) -> DeploymentConfig {
    serde_json::from_value(json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": 1, "selector": {"app": "web"}, "triggers": triggers,
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "initContainers": [{"name": "migrate", "image": " "}],
                     "containers": [{"name": "web", "image": " "}, {"name": "side", "image": "side:1"}]}}}
    }))
    .expect("dc")
}

fn trigger(automatic: bool, tag: &str, last: Option<&str>) -> serde_json::Value {
    json!({"type": "ImageChange", "imageChangeParams": {
        "automatic": automatic, "containerNames": ["web", "migrate", "missing"],
        "from": {"kind": "ImageStreamTag", "name": tag}, "lastTriggeredImage": last}})
}

#[test]
fn an_automatic_trigger_writes_the_newest_image_into_the_named_containers() {
    let cache = Cache(vec![stream(
        "app",
        "v1",
        &["r/app@sha256:bb", "r/app@sha256:aa"],
    )]);
    let got = deployment_config(
        &dc(json!([trigger(true, "app:v1", None)])),
        &cache,
        Firing::Automatic,
    );
    let image = "r/app@sha256:bb".to_string();
    assert_eq!(got.last_triggered, [(0, image.clone())]);
    let names: Vec<(&str, bool)> = got
        .containers
        .iter()
        .map(|c| (c.container.as_str(), c.init))
        .collect();
    assert_eq!(
        names,
        [("migrate", true), ("web", false)],
        "a missing name is ignored"
    );
    assert!(got.containers.iter().all(|c| c.image == image));
}

#[test]
fn the_patch_tests_what_it_writes() {
    let cache = Cache(vec![stream("app", "v1", &["r/app@sha256:bb"])]);
    let d = dc(json!([{"type": "ConfigChange"}, trigger(true, "app:v1", None)]));
    let ops = json_patch(&d, &deployment_config(&d, &cache, Firing::Automatic));
    let t = "/spec/triggers/1/imageChangeParams";
    assert_eq!(
        ops,
        [
            json!({"op": "test", "path": "/spec/template/spec/initContainers/0/name", "value": "migrate"}),
            json!({"op": "add", "path": "/spec/template/spec/initContainers/0/image", "value": "r/app@sha256:bb"}),
            json!({"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "web"}),
            json!({"op": "add", "path": "/spec/template/spec/containers/0/image", "value": "r/app@sha256:bb"}),
            json!({"op": "test", "path": format!("{t}/from/name"), "value": "app:v1"}),
            json!({"op": "add", "path": format!("{t}/lastTriggeredImage"), "value": "r/app@sha256:bb"}),
        ]
    );
}

#[test]
fn nothing_is_written_while_a_trigger_never_resolved() {
    let cache = Cache(vec![stream("app", "v1", &["r/app@sha256:bb"])]);
    let both = json!([
        trigger(true, "app:v1", None),
        trigger(true, "other:v1", None)
    ]);
    assert!(deployment_config(&dc(both), &cache, Firing::Automatic).is_empty());
    assert!(!all_resolved_once(&dc(json!([trigger(
        true, "app:v1", None
    )]))));
}

#[test]
fn an_unresolved_tag_keeps_its_last_image_and_restores_drifted_containers() {
    let cache = Cache(vec![]);
    let d = dc(json!([trigger(true, "app:v1", Some("r/app@sha256:aa"))]));
    let got = deployment_config(&d, &cache, Firing::Automatic);
    assert!(got.last_triggered.is_empty());
    assert_eq!(
        got.containers.len(),
        2,
        "the placeholder images are put back"
    );
    assert!(all_resolved_once(&d));
}

#[test]
fn a_manual_trigger_writes_nothing_but_still_holds_the_first_rollout() {
    let cache = Cache(vec![stream("app", "v1", &["r/app@sha256:bb"])]);
    let d = dc(json!([trigger(false, "app:v1", None)]));
    assert!(deployment_config(&d, &cache, Firing::Automatic).is_empty());
    assert!(!all_resolved_once(&d));
}

#[test]
fn streams_in_other_namespaces_and_the_followed_index() {
    let mut other = stream("base", "v1", &["r/base@sha256:cc"]);
    other.metadata.namespace = Some("shared".into());
    let t = json!([{"type": "ImageChange", "imageChangeParams": {"automatic": true,
        "containerNames": ["web"], "from": {"kind": "ImageStreamTag", "name": "base:v1", "namespace": "shared"}}},
        {"type": "ConfigChange"}]);
    let d = dc(t);
    assert_eq!(
        followed_streams(&d),
        [("shared".to_string(), "base".to_string())]
    );
    let got = deployment_config(&d, &Cache(vec![other]), Firing::Automatic);
    assert_eq!(got.last_triggered, [(0, "r/base@sha256:cc".to_string())]);
}

/// An exported DeploymentConfig's images are another cluster's: every trigger's
/// `lastTriggeredImage` is cleared (each write guarded by the value read), so it waits for
/// its stream here; the containers keep what they say until the trigger resolves.
#[test]
fn an_exported_deployment_config_forgets_the_images_it_was_exported_with() {
    let exported_image = "image-registry.openshift-image-registry.svc:5000/ns/app@sha256:aa";
    let d = dc(json!([
        trigger(true, "app:v1", Some(exported_image)),
        {"type": "ConfigChange"},
        trigger(false, "app:v2", Some(exported_image)),
        trigger(true, "app:v3", None),
    ]));
    let cleared = exported(&d);
    assert_eq!(
        cleared.last_triggered,
        [(0, String::new()), (2, String::new())]
    );
    assert!(cleared.containers.is_empty());
    let ops = json_patch(&d, &cleared);
    assert_eq!(
        ops[..3],
        [
            json!({"op": "test", "path": "/spec/triggers/0/imageChangeParams/from/name", "value": "app:v1"}),
            json!({"op": "test", "path": "/spec/triggers/0/imageChangeParams/lastTriggeredImage", "value": exported_image}),
            json!({"op": "add", "path": "/spec/triggers/0/imageChangeParams/lastTriggeredImage", "value": ""}),
        ]
    );
    assert_eq!(ops.len(), 6);
    let mut patched = serde_json::to_value(&d).expect("json");
    let patch: json_patch::Patch = serde_json::from_value(json!(ops)).expect("patch");
    json_patch::patch(&mut patched, &patch).expect("applies");
    let d: DeploymentConfig = serde_json::from_value(patched).expect("dc");
    assert!(exported(&d).is_empty(), "cleared once");
    assert_eq!(unresolved(&d).len(), 3, "it waits for its streams");
}

/// Created with its tag resolved already: the triggers write first (generation 2, no status
/// yet), and that is not an exported image to clear.
#[test]
fn the_triggers_first_write_is_not_cleared_as_exported() {
    let image = "r/app@sha256:aa";
    let mut d = dc(json!([trigger(true, "app:v1", Some(image))]));
    d.metadata.generation = Some(1);
    assert_eq!(
        exported(&d).last_triggered,
        [(0, String::new())],
        "as created"
    );
    d.metadata.generation = Some(2);
    assert!(exported(&d).is_empty(), "written since: by the triggers");
    d.metadata.generation = Some(1);
    d.status = Some(Default::default());
    assert!(exported(&d).is_empty(), "seen before");
}
