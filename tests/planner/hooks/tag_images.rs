//! tagImages hooks: the operator tags the revision's image itself, once, and a refused tag is
//! the hook's failure under its policy.

use super::{phase_is, world};
use cutover::api::*;
use cutover::strategy::Action;

use crate::sim::World;

/// A Recreate strategy whose post hook tags the `app` container's image as `app:deployed`.
fn tagging(policy: &str) -> World {
    let hook: LifecycleHook = serde_json::from_value(serde_json::json!({
        "failurePolicy": policy,
        "tagImages": [{"containerName": "app", "to": {"kind": "ImageStreamTag", "name": "app:deployed"}}]
    }))
    .expect("hook");
    world(
        DeploymentStrategy {
            type_: Some("Recreate".into()),
            recreate_params: Some(RecreateDeploymentStrategyParams {
                post: Some(hook),
                ..Default::default()
            }),
            ..Default::default()
        },
        2,
    )
}

#[test]
fn a_tag_images_hook_tags_the_revisions_image_once_after_the_rollout() {
    let mut w = tagging("Abort");
    assert!(w.run_until(30, phase_is(1, "Complete"), |_| {}));
    let tagged: Vec<_> = w
        .tagged
        .iter()
        .map(|t| {
            (
                t.namespace.as_str(),
                t.stream.as_str(),
                t.tag.as_str(),
                t.image.as_str(),
            )
        })
        .collect();
    assert_eq!(
        tagged,
        [("ns", "app", "deployed", "app:1")],
        "tagged exactly once"
    );
    assert_eq!(
        w.annotation_of(1, "cutover.io/hook-post").as_deref(),
        Some("Succeeded")
    );
    assert!(w.job_creations.is_empty(), "no Job: the operator tags");
    let started: Vec<String> = w
        .decisions
        .iter()
        .flat_map(|d| &d.actions)
        .filter_map(|a| match a {
            Action::Event(e) if e.reason == "Started" => Some(e.message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        ["Running post-hook (TagImages) image \"app:1\" as \"app:deployed\" for rc ns/web-1"]
    );
}

#[test]
fn a_refused_tag_fails_an_abort_hook_and_is_ignored_under_ignore() {
    let mut w = tagging("Abort");
    w.refuse_tags =
        Some("ns/app:deployed: imagestreams.image.openshift.io \"app\" is forbidden".into());
    assert!(w.run_until(30, phase_is(1, "Failed"), |_| {}));
    let reason = w.rss[0]
        .annotation("openshift.io/deployment.status-reason")
        .unwrap_or_default();
    assert!(
        reason.contains("is forbidden") && reason.contains("aborting rollout"),
        "{reason}"
    );

    let mut w = tagging("Ignore");
    w.refuse_tags = Some("refused".into());
    assert!(w.run_until(30, phase_is(1, "Complete"), |_| {}));
    assert_eq!(
        w.annotation_of(1, "cutover.io/hook-post").as_deref(),
        Some("FailedIgnored")
    );
}
