//! Rungs before a rollout starts: a spec that can be planned, images to deploy, and the
//! triggers themselves. ConfigChange compares the template with the one the latest revision
//! recorded; under an ImageChange trigger any new container image counts as an image change, as
//! in OpenShift (the images themselves are written by the image trigger, `crate::image`).

use std::ops::ControlFlow;

use serde_json::Value;

use crate::api::conditions::{IMAGE_TRIGGER_INACTIVE, PROGRESSING, reason};
use crate::api::defaults::EffectiveStrategy;
use crate::api::{DeploymentCause, TRIGGER_CONFIG_CHANGE, TRIGGER_IMAGE_CHANGE};

use super::pass::Pass;
use super::status::{self, condition};
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

/// While an ImageChange trigger has never resolved (its tag has no image yet), a condition says
/// so. Meanwhile containers that name a real image are deployed as written; those left empty
/// (the `" "` placeholder) wait in `images_resolved`. (OpenShift holds the whole first rollout
/// until every trigger resolved; cutover will once it imports images itself.)
pub(super) fn image_trigger_condition(obs: &Observed, pass: &mut Pass) {
    let conditions = &mut pass.status.conditions;
    let unresolved = image::trigger::unresolved(&obs.dc);
    if unresolved.is_empty() {
        status::remove_condition(conditions, IMAGE_TRIGGER_INACTIVE);
        return;
    }
    let tags: Vec<&str> = unresolved.iter().map(|u| u.tag.as_str()).collect();
    let message = format!(
        "ImageChange trigger(s) not resolved yet: ImageStreamTag {} has no image; the template's images are deployed as written until it has",
        tags.join(", ")
    );
    let c = condition(
        IMAGE_TRIGGER_INACTIVE,
        "True",
        reason::IMAGE_NOT_RESOLVED,
        message,
    );
    status::set_condition(conditions, c, pass.now);
}

/// No rollout starts while a container has no image (the placeholder an ImageChange trigger
/// fills): wait, saying which trigger would fill it.
pub(super) fn images_resolved(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    let unresolved = image::trigger::unresolved(&obs.dc);
    let missing: Vec<String> = obs
        .dc
        .spec
        .template
        .containers()
        .iter()
        .filter(|c| c.image.trim().is_empty())
        .map(|c| {
            match unresolved.iter().find(|u| u.containers.iter().any(|n| n == c.name)) {
                Some(u) if u.automatic => {
                    format!("{} (from ImageStreamTag {}, not resolved yet)", c.name, u.tag)
                }
                Some(u) => format!(
                    "{} (from ImageStreamTag {}, automatic: false: `kubectl dc rollout latest` resolves it)",
                    c.name, u.tag
                ),
                None => c.name.to_string(),
            }
        })
        .collect();
    if missing.is_empty() {
        return ControlFlow::Continue(());
    }
    let message = format!("waiting for an image: container(s) {}", missing.join(", "));
    let c = condition(PROGRESSING, "Unknown", reason::WAITING_FOR_IMAGE, message);
    pass.set_progressing(c);
    ControlFlow::Break(())
}

/// ConfigChange (and image edits under an ImageChange trigger) start a new revision by
/// bumping latestVersion.
pub(super) fn fire(obs: &Observed, pass: &mut Pass) {
    let spec = &obs.dc.spec;
    let config_change = spec.has_trigger(TRIGGER_CONFIG_CHANGE);
    let image_change = spec.has_trigger(TRIGGER_IMAGE_CHANGE);
    if pass.status.latest_version == 0 {
        if config_change || image_change {
            pass.bump("config change", vec![cause(TRIGGER_CONFIG_CHANGE)]);
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
            let causes = new.into_iter().map(image_cause).collect();
            pass.bump("image change", causes);
            return;
        }
    }
    if config_change && revision::template_changed(&spec.template.0, recorded) {
        pass.bump("config change", vec![cause(TRIGGER_CONFIG_CHANGE)]);
    }
}

pub(super) fn cause(type_: &str) -> DeploymentCause {
    DeploymentCause {
        type_: type_.into(),
        image_trigger: None,
    }
}

fn image_cause(image: String) -> DeploymentCause {
    DeploymentCause {
        type_: TRIGGER_IMAGE_CHANGE.into(),
        image_trigger: Some(crate::api::DeploymentCauseImageTrigger {
            from: k8s_openapi::api::core::v1::ObjectReference {
                kind: Some("DockerImage".into()),
                name: Some(image),
                ..Default::default()
            },
        }),
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
