//! Triggers (spec §6): ConfigChange compares the template with the one the latest revision
//! recorded; ImageChange is accepted but inactive until cutover follows ImageStreams (DESIGN.md),
//! though any image edit under it counts as an image change, as in OpenShift.

use crate::api::{DeploymentCause, DeploymentDetails, TRIGGER_CONFIG_CHANGE, TRIGGER_IMAGE_CHANGE};

use super::progress::{self, condition, reason};
use super::{Event, Planner, cause, images, revision};

impl Planner<'_> {
    /// An ImageChange trigger is accepted but inactive until cutover follows ImageStreams: a
    /// condition says so, and an event the first time.
    pub(super) fn image_trigger_condition(&mut self) {
        if self.dc.spec.has_trigger(TRIGGER_IMAGE_CHANGE) {
            let message = "ImageChange triggers are inactive: cutover has no ImageStreams yet, so the template's images are deployed as written";
            if !self
                .status
                .conditions
                .iter()
                .any(|c| c.type_ == progress::IMAGE_TRIGGER_INACTIVE)
            {
                self.event(Event::normal("ImageTriggerInactive", message.into()));
            }
            self.set_condition_of(
                progress::IMAGE_TRIGGER_INACTIVE,
                "True",
                reason::NO_IMAGE_STREAMS,
                message,
            );
        } else {
            progress::remove_condition(
                &mut self.status.conditions,
                progress::IMAGE_TRIGGER_INACTIVE,
            );
        }
    }

    pub(super) fn set_condition_of(
        &mut self,
        type_: &str,
        status: &str,
        reason: &str,
        message: &str,
    ) {
        progress::set_condition(
            &mut self.status.conditions,
            condition(type_, status, reason, message),
            self.now,
        );
    }

    /// A container without an image cannot be deployed: wait, saying why (DESIGN.md).
    pub(super) fn images_resolved(&mut self) -> bool {
        let missing: Vec<String> = self
            .dc
            .spec
            .template
            .containers()
            .iter()
            .filter(|c| c.image.trim().is_empty())
            .map(|c| c.name.to_string())
            .collect();
        if missing.is_empty() {
            return true;
        }
        let message = format!(
            "waiting for an image: container(s) {} have no image set in the template",
            missing.join(", ")
        );
        self.set_progressing(condition(
            progress::PROGRESSING,
            "Unknown",
            reason::WAITING_FOR_IMAGE,
            message,
        ));
        false
    }

    /// ConfigChange (and image edits under an ImageChange trigger) start a new revision by
    /// bumping latestVersion (spec §6).
    pub(super) fn triggers(&mut self) {
        let spec = &self.dc.spec;
        let config_change = spec.has_trigger(TRIGGER_CONFIG_CHANGE);
        let image_change = spec.has_trigger(TRIGGER_IMAGE_CHANGE);
        if self.status.latest_version == 0 {
            if config_change || image_change {
                self.bump("config change", vec![cause(TRIGGER_CONFIG_CHANGE)]);
            }
            return;
        }
        let Some(latest) = self.latest() else { return };
        let recorded = latest.template();
        if image_change {
            let old_images = recorded.map(images).unwrap_or_default();
            let new: Vec<String> = images(&spec.template.0)
                .into_iter()
                .filter(|i| !old_images.contains(i))
                .collect();
            if !new.is_empty() {
                let causes = new
                    .into_iter()
                    .map(|image| DeploymentCause {
                        type_: TRIGGER_IMAGE_CHANGE.into(),
                        image_trigger: Some(crate::api::DeploymentCauseImageTrigger {
                            from: k8s_openapi::api::core::v1::ObjectReference {
                                kind: Some("DockerImage".into()),
                                name: Some(image),
                                ..Default::default()
                            },
                        }),
                    })
                    .collect();
                self.bump("image change", causes);
                return;
            }
        }
        if config_change && revision::template_changed(&spec.template.0, recorded) {
            self.bump("config change", vec![cause(TRIGGER_CONFIG_CHANGE)]);
        }
    }

    pub(super) fn bump(&mut self, message: &str, causes: Vec<DeploymentCause>) {
        self.status.latest_version += 1;
        self.status.details = Some(DeploymentDetails {
            message: message.into(),
            causes,
        });
    }
}
