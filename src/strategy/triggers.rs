//! Rungs before a rollout starts: a spec that can be planned, the ImageChange trigger's
//! condition, images present, and the triggers themselves. ConfigChange compares the template
//! with the one the latest revision recorded; ImageChange is accepted but inactive until cutover
//! follows ImageStreams, though any image edit under it counts as an image change, as in
//! OpenShift.

use std::ops::ControlFlow;

use serde_json::Value;

use crate::api::conditions::{IMAGE_TRIGGER_INACTIVE, PROGRESSING, reason};
use crate::api::defaults::EffectiveStrategy;
use crate::api::events;
use crate::api::{DeploymentCause, TRIGGER_CONFIG_CHANGE, TRIGGER_IMAGE_CHANGE};

use super::pass::Pass;
use super::status::{self, condition};
use super::{Event, Observed, revision};

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

/// An ImageChange trigger is accepted but inactive until cutover follows ImageStreams: a
/// condition says so, and an event the first time.
pub(super) fn image_trigger_condition(obs: &Observed, pass: &mut Pass) {
    let conditions = &mut pass.status.conditions;
    if !obs.dc.spec.has_trigger(TRIGGER_IMAGE_CHANGE) {
        status::remove_condition(conditions, IMAGE_TRIGGER_INACTIVE);
        return;
    }
    let message = "ImageChange triggers are inactive: cutover has no ImageStreams yet, so the template's images are deployed as written";
    let first = !conditions.iter().any(|c| c.type_ == IMAGE_TRIGGER_INACTIVE);
    let c = condition(
        IMAGE_TRIGGER_INACTIVE,
        "True",
        reason::NO_IMAGE_STREAMS,
        message,
    );
    status::set_condition(conditions, c, pass.now);
    if first {
        pass.event(Event::normal(
            events::IMAGE_TRIGGER_INACTIVE,
            message.into(),
        ));
    }
}

/// A container without an image cannot be deployed: wait, saying why.
pub(super) fn images_resolved(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    let missing: Vec<String> = obs
        .dc
        .spec
        .template
        .containers()
        .iter()
        .filter(|c| c.image.trim().is_empty())
        .map(|c| c.name.to_string())
        .collect();
    if missing.is_empty() {
        return ControlFlow::Continue(());
    }
    let message = format!(
        "waiting for an image: container(s) {} have no image set in the template",
        missing.join(", ")
    );
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
