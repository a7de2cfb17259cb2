//! Rungs before a rollout starts: a spec that can be planned, images to deploy, and the
//! triggers themselves. ConfigChange compares the template with the one the latest revision
//! recorded; under an ImageChange trigger any new container image counts as an image change, as
//! in OpenShift (the images themselves are written by the image trigger, `crate::image`).

use std::ops::ControlFlow;

use serde_json::Value;

use crate::api::conditions::{PROGRESSING, reason};
use crate::api::defaults::EffectiveStrategy;
use crate::api::{DeploymentCause, TRIGGER_CONFIG_CHANGE, TRIGGER_IMAGE_CHANGE};

use super::pass::Pass;
use super::status::condition;
use super::{Observed, revision};
use crate::image;

/// What the planner needs from the spec, checked (admission enforces the same with CEL); an
/// error is the Progressing condition, and nothing is touched.
pub(super) fn checked_spec(obs: &Observed, pass: &mut Pass) -> ControlFlow<(), EffectiveStrategy> {
    match check_spec(obs) {
        Ok(strategy) => ControlFlow::Continue(strategy),
        Err(message) => {
            let c = condition(PROGRESSING, "False", reason::INVALID_CONFIG, message);
            pass.set_progressing(c);
            ControlFlow::Break(())
        }
    }
}

fn check_spec(obs: &Observed) -> Result<EffectiveStrategy, String> {
    let spec = &obs.dc.spec;
    let strategy = obs.dc.effective_strategy()?;
    for v in [&strategy.max_surge, &strategy.max_unavailable] {
        v.scaled(1, crate::api::Rounding::Up)
            .map_err(|e| format!("strategy.rollingParams: {e}"))?;
    }
    if spec.effective_selector().is_empty() {
        return Err("selector cannot be empty".into());
    }
    if spec.template.containers().iter().all(|c| c.init) {
        return Err("template.spec.containers: at least one container is required".into());
    }
    if spec.replicas < 0 {
        return Err("replicas cannot be negative".into());
    }
    Ok(strategy)
}

/// No rollout starts while an image is missing: a container without one (the `" "` placeholder
/// an ImageChange trigger fills), or, before the first rollout, any ImageChange trigger that
/// never resolved: OpenShift's rule, so the first revision already runs the images the triggers
/// chose, not the template's as written.
pub(super) fn images_resolved(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    let containers = obs.dc.spec.template.containers();
    let empty: Vec<&str> = containers
        .iter()
        .filter(|c| !c.init && c.image.trim().is_empty())
        .map(|c| c.name)
        .collect();
    let first_rollout = pass.status.latest_version == 0;
    let waiting: Vec<image::trigger::Unresolved> = image::trigger::unresolved(&obs.dc)
        .into_iter()
        .filter(|u| first_rollout || u.containers.iter().any(|n| empty.contains(&n.as_str())))
        .collect();
    let untriggered = empty.iter().filter(|name| {
        !waiting
            .iter()
            .any(|u| u.containers.iter().any(|n| n == *name))
    });
    let mut missing: Vec<String> = untriggered
        .map(|name| format!("container {name} has no image"))
        .collect();
    missing.extend(waiting.iter().map(|u| {
        let manual = if u.automatic {
            ""
        } else {
            "; automatic: false, so `kubectl dc rollout latest` resolves it"
        };
        format!(
            "ImageStreamTag {} has no image yet (container {}{manual})",
            u.tag,
            u.containers.join(", ")
        )
    }));
    if missing.is_empty() {
        return ControlFlow::Continue(());
    }
    let message = format!("waiting for an image: {}", missing.join("; "));
    let c = condition(PROGRESSING, "Unknown", reason::WAITING_FOR_IMAGE, message);
    pass.set_progressing(c);
    ControlFlow::Break(())
}

/// ConfigChange (and image edits under an ImageChange trigger) start a new revision by
/// bumping latestVersion; then, if neither did, a changed ConfigMap or Secret the
/// DeploymentConfig follows (`config_triggers`).
pub(super) fn fire(obs: &Observed, pass: &mut Pass) {
    let before = pass.status.latest_version;
    fire_spec(obs, pass);
    let bumped = pass.status.latest_version != before;
    super::config_triggers::fire(obs, pass, !bumped);
}

fn fire_spec(obs: &Observed, pass: &mut Pass) {
    let spec = &obs.dc.spec;
    let config_change = spec.has_trigger(TRIGGER_CONFIG_CHANGE);
    let image_change = spec.has_trigger(TRIGGER_IMAGE_CHANGE);
    if pass.status.latest_version == 0 {
        if config_change || image_change {
            pass.bump(
                "config change",
                vec![DeploymentCause::of(TRIGGER_CONFIG_CHANGE)],
            );
        }
        return;
    }
    let Some(latest) = pass.latest(obs) else {
        return;
    };
    let recorded = latest.template();
    if image_change {
        let old_images = recorded.map(images).unwrap_or_default();
        let new: Vec<String> = images(&spec.template.0)
            .into_iter()
            .filter(|i| !old_images.contains(i))
            .collect();
        if !new.is_empty() {
            let causes = new.into_iter().map(DeploymentCause::image_change).collect();
            pass.bump("image change", causes);
            return;
        }
    }
    if config_change && revision::template_changed(&spec.template.0, recorded) {
        pass.bump(
            "config change",
            vec![DeploymentCause::of(TRIGGER_CONFIG_CHANGE)],
        );
    }
}

/// The images of a template's containers. Init containers do not count: OpenShift's image
/// change detection (`hasUpdatedImages`) looks at containers only.
fn images(template: &Value) -> Vec<String> {
    crate::api::PodTemplate(template.clone())
        .containers()
        .iter()
        .filter(|c| !c.init)
        .map(|c| c.image.trim().to_string())
        .collect()
}
