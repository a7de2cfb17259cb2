//! ImageChange triggers against the simulated cluster: what the trigger writes (the same JSON
//! patch the operator sends, applied here to the DeploymentConfig) and what the planner does with
//! it — OpenShift's rules: no first rollout until every trigger resolved, an image change rolls
//! out with its cause, and re-applying the placeholder image rolls nothing out.

use std::sync::Arc;

use crate::sim::{World, dc, template};
use cutover::api::image_stream::ImageStream;
use cutover::api::{DeploymentConfig, DeploymentConfigSpec, DeploymentTriggerPolicy};
use cutover::image::trigger::{self, Streams};
use serde_json::json;

/// The streams of the test: `app:v1` with these references, newest first.
struct Registry(Vec<&'static str>);

impl Streams for Registry {
    fn stream(&self, namespace: &str, name: &str) -> Option<Arc<ImageStream>> {
        if namespace != "ns" || name != "app" || self.0.is_empty() {
            return None;
        }
        let items: Vec<_> = self
            .0
            .iter()
            .map(|r| json!({"created": "2026-12-01T00:00:00Z", "dockerImageReference": r, "image": "", "generation": 1}))
            .collect();
        let s = json!({
            "apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": {"tags": [{"name": "v1", "from": {"kind": "DockerImage", "name": "registry.test/app:v1"}}]},
            "status": {"dockerImageRepository": "", "tags": [{"tag": "v1", "items": items}]}
        });
        serde_json::from_value(s).ok().map(Arc::new)
    }
}

fn triggered_dc(automatic: bool) -> DeploymentConfig {
    let triggers: Vec<DeploymentTriggerPolicy> = serde_json::from_value(json!([
        {"type": "ConfigChange"},
        {"type": "ImageChange", "imageChangeParams": {"automatic": automatic, "containerNames": ["app"],
            "from": {"kind": "ImageStreamTag", "name": "app:v1"}}}
    ]))
    .expect("triggers");
    dc(DeploymentConfigSpec {
        replicas: 2,
        template: template(" "),
        triggers: Some(triggers),
        ..Default::default()
    })
}

/// The image trigger's write, as the operator sends it, applied to the DeploymentConfig.
fn trigger_writes(w: &mut World, registry: &Registry) -> bool {
    fires(w, registry, trigger::Firing::Automatic)
}

fn fires(w: &mut World, registry: &Registry, firing: trigger::Firing) -> bool {
    let images = trigger::deployment_config(&w.dc, registry, firing);
    if images.is_empty() {
        return false;
    }
    let patch: json_patch::Patch =
        serde_json::from_value(trigger::json_patch(&w.dc, &images).into()).expect("patch");
    let mut doc = serde_json::to_value(&w.dc).expect("dc");
    json_patch::patch(&mut doc, &patch).expect("the tests hold");
    let status = w.dc.status.clone();
    w.dc = serde_json::from_value(doc).expect("dc");
    w.dc.status = status;
    true
}

fn progressing(w: &World) -> (String, String) {
    w.dc.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Progressing"))
        .map(|c| (c.reason.clone(), c.message.clone()))
        .unwrap_or_default()
}

fn details(w: &World) -> serde_json::Value {
    serde_json::to_value(w.dc.status.as_ref().and_then(|s| s.details.clone())).expect("details")
}

#[test]
fn no_first_rollout_until_the_tag_resolves_then_an_image_change_rolls_out() {
    let mut w = World::new(triggered_dc(true));
    let mut registry = Registry(vec![]);
    for _ in 0..3 {
        assert!(!trigger_writes(&mut w, &registry), "nothing to write yet");
        w.step();
    }
    assert_eq!(w.latest_version(), 0, "no rollout with a placeholder image");
    let (reason, message) = progressing(&w);
    assert_eq!(reason, "WaitingForImage");
    assert!(
        message.contains("ImageStreamTag app:v1 has no image yet (container app)"),
        "{message}"
    );

    // Imported: the trigger writes the image, and the first rollout starts (OpenShift calls its
    // cause a config change); the condition that said the trigger had not resolved is gone.
    registry.0 = vec!["registry.test/app@sha256:aa"];
    assert!(trigger_writes(&mut w, &registry));
    assert!(!trigger_writes(&mut w, &registry), "written once");
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    assert_eq!(details(&w)["message"], "config change");
    let conditions = &w.dc.status.as_ref().expect("status").conditions;
    assert!(
        conditions
            .iter()
            .all(|c| c.type_ != "ImageChangeTriggerInactive")
    );

    // A new image under the tag: revision 2, caused by the image change.
    registry.0 = vec!["registry.test/app@sha256:bb", "registry.test/app@sha256:aa"];
    assert!(trigger_writes(&mut w, &registry));
    assert!(w.run_until(30, |w| w.phase(2).as_deref() == Some("Complete"), |_| {}));
    let d = details(&w);
    assert_eq!(d["message"], "image change");
    assert_eq!(
        d["causes"],
        json!([{"type": "ImageChange", "imageTrigger": {"from": {"kind": "DockerImage", "name": "registry.test/app@sha256:bb"}}}])
    );
    assert_eq!(w.latest_version(), 2);
}

#[test]
fn re_applying_the_placeholder_image_rolls_nothing_out() {
    let mut w = World::new(triggered_dc(true));
    let registry = Registry(vec!["registry.test/app@sha256:aa"]);
    trigger_writes(&mut w, &registry);
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));

    // A GitOps tool re-applies the manifest as written: the image goes back to " ".
    w.edit(|s| s.template = template(" "));
    for _ in 0..3 {
        w.step();
    }
    assert_eq!(w.latest_version(), 1, "a placeholder never rolls out");
    // The trigger puts the image back, which the latest revision already runs.
    assert!(trigger_writes(&mut w, &registry));
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(w.latest_version(), 1, "no second rollout");
}

#[test]
fn a_manual_trigger_holds_the_first_rollout_and_says_how_to_start_it() {
    let mut w = World::new(triggered_dc(false));
    let registry = Registry(vec!["registry.test/app@sha256:aa"]);
    assert!(
        !trigger_writes(&mut w, &registry),
        "automatic: false writes nothing"
    );
    w.step();
    assert_eq!(w.latest_version(), 0);
    let (_, message) = progressing(&w);
    assert!(
        message.contains("automatic: false, so `kubectl dc rollout latest` resolves it"),
        "{message}"
    );
}

#[test]
fn the_first_rollout_waits_for_the_trigger_even_when_the_template_names_an_image() {
    // As OpenShift's example DeploymentConfig: a real image in the template and an ImageChange
    // trigger. The first revision runs the image the trigger resolves, never the one as written.
    let mut dc = triggered_dc(true);
    dc.spec.template = template("openshift/hello-openshift");
    let mut w = World::new(dc);
    let mut registry = Registry(vec![]);
    for _ in 0..3 {
        assert!(!trigger_writes(&mut w, &registry));
        w.step();
    }
    assert_eq!(w.latest_version(), 0, "no rollout of the image as written");
    assert_eq!(progressing(&w).0, "WaitingForImage");
    registry.0 = vec!["registry.test/app@sha256:aa"];
    assert!(trigger_writes(&mut w, &registry));
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    assert_eq!(w.latest_version(), 1);
    let image =
        w.dc.spec
            .template
            .containers()
            .first()
            .map(|c| c.image.to_string());
    assert_eq!(image.as_deref(), Some("registry.test/app@sha256:aa"));
}

#[test]
fn rollout_latest_fires_manual_triggers_and_is_refused_while_a_tag_has_no_image() {
    let mut w = World::new(triggered_dc(false));
    let mut registry = Registry(vec![]);
    // As the shell does while a latest request is pending: every trigger fires (none resolves).
    w.annotate("cutover.io/request-latest", "t1");
    assert!(!fires(&mut w, &registry, trigger::Firing::All));
    w.step();
    let (kind, outcome, message) = w.request("latest").expect("handled");
    assert_eq!((kind.as_str(), outcome.as_str()), ("t1", "Refused"));
    assert_eq!(
        message,
        "cannot trigger a deployment for \"web\" because it contains unresolved images"
    );
    assert_eq!(w.latest_version(), 0);

    // The tag has an image now: the manual trigger fires for the request, and it rolls out.
    registry.0 = vec!["registry.test/app@sha256:aa"];
    w.annotate("cutover.io/request-latest", "t2");
    assert!(fires(&mut w, &registry, trigger::Firing::All));
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    assert_eq!(details(&w)["message"], "manual change");
    let image =
        w.dc.spec
            .template
            .containers()
            .first()
            .map(|c| c.image.to_string());
    assert_eq!(image.as_deref(), Some("registry.test/app@sha256:aa"));
}

/// Whether the DeploymentConfig's ImageChange trigger is automatic.
fn automatic(w: &World) -> bool {
    let triggers = serde_json::to_value(&w.dc.spec.triggers).expect("triggers");
    triggers[1]["imageChangeParams"]["automatic"] == json!(true)
}

/// A failed traffic shift's rollback (the request with `rollback-keeps-triggers: "true"`) leaves
/// the ImageChange trigger on: the image rolled back from does not come back, and the next image
/// pushed rolls out. A user's `rollout undo` still turns the triggers off, as `oc rollback`.
#[test]
fn a_rollback_that_keeps_the_triggers_waits_for_the_next_image() {
    let mut w = World::new(triggered_dc(true));
    let mut registry = Registry(vec!["registry.test/app@sha256:aa"]);
    assert!(trigger_writes(&mut w, &registry));
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    registry.0.insert(0, "registry.test/app@sha256:bb");
    assert!(trigger_writes(&mut w, &registry));
    assert!(w.run_until(30, |w| w.phase(2).as_deref() == Some("Complete"), |_| {}));

    for (key, value) in cutover::api::requests::rollback_parameters(0, false, true) {
        w.annotate(key, &value);
    }
    w.annotate("cutover.io/request-rollback", "traffic-shift-1");
    assert!(w.run_until(30, |w| w.phase(3).as_deref() == Some("Complete"), |_| {}));
    assert_eq!(
        w.request("rollback").map(|r| r.2),
        Some(
            "rolled back to revision 1: rollout #3 started (image triggers left on: the next image rolls out)"
                .into()
        )
    );
    assert_eq!(w.dc.spec.template, template("registry.test/app@sha256:aa"));
    assert!(automatic(&w), "the trigger stays on");
    for _ in 0..3 {
        assert!(
            !trigger_writes(&mut w, &registry),
            "the image rolled back from does not come back"
        );
        w.step();
    }
    assert_eq!(w.latest_version(), 3);

    registry.0.insert(0, "registry.test/app@sha256:cc");
    assert!(
        trigger_writes(&mut w, &registry),
        "the next image rolls out"
    );
    assert!(w.run_until(30, |w| w.phase(4).as_deref() == Some("Complete"), |_| {}));
    assert_eq!(details(&w)["message"], "image change");
    assert_eq!(w.dc.spec.template, template("registry.test/app@sha256:cc"));

    // A user's undo: the triggers go manual, as OpenShift's rollback leaves them.
    for (key, value) in cutover::api::requests::rollback_parameters(0, false, false) {
        w.annotate(key, &value);
    }
    w.annotate("cutover.io/request-rollback", "u1");
    assert!(w.run_until(30, |w| w.phase(5).as_deref() == Some("Complete"), |_| {}));
    assert!(!automatic(&w), "oc rollback's rule");
}
