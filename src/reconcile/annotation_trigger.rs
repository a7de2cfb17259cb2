//! The `image.openshift.io/triggers` annotation's write (`image::annotation` decides): the
//! workload is read whole only when it carries the annotation, and the images go in as a JSON
//! patch under the image trigger's field manager, each change guarded by a test. A trigger that
//! cannot be applied is a Warning event on the workload (OpenShift only logs it).

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use tracing::warn;

use crate::api::image_stream::ImageStream;
use crate::api::keys::IMAGE_TRIGGER_FIELD_MANAGER;
use crate::api::keys::IMAGE_TRIGGERS_ANNOTATION;
use crate::error::{Error, Result};
use crate::image::annotation::{self, Workload};

use super::events::Events;
use super::{Backoff, Retrying};

/// What the annotation triggers of one kind work with.
pub struct AnnotationContext {
    pub client: Client,
    pub workload: Workload,
    pub resource: ApiResource,
    pub image_streams: Store<ImageStream>,
    pub events: Events,
    pub backoff: Backoff,
}

impl AnnotationContext {
    pub fn new(
        client: Client,
        workload: Workload,
        image_streams: Store<ImageStream>,
        events: Events,
    ) -> Self {
        let resource = match workload {
            Workload::Deployment => ApiResource::erase::<Deployment>(&()),
            Workload::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
            Workload::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
            Workload::CronJob => ApiResource::erase::<CronJob>(&()),
        };
        AnnotationContext {
            client,
            workload,
            resource,
            image_streams,
            events,
            backoff: Backoff::default(),
        }
    }
}

pub async fn reconcile<K>(
    meta: Arc<PartialObjectMeta<K>>,
    ctx: Arc<AnnotationContext>,
) -> Result<Action>
where
    K: Resource<DynamicType = ()>,
{
    if !meta.annotations().contains_key(IMAGE_TRIGGERS_ANNOTATION) {
        return Ok(Action::await_change());
    }
    let namespace = meta.namespace().unwrap_or_default();
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &namespace, &ctx.resource);
    let Some(object) = api.get_opt(&meta.name_any()).await? else {
        return Ok(Action::await_change());
    };
    let json = serde_json::to_value(&object)?;
    let update = annotation::update(ctx.workload, &json, &ctx.image_streams);
    for error in &update.errors {
        warn!(namespace, name = meta.name_any(), kind = ctx.resource.kind, %error, "image trigger");
        ctx.events.publish(
            object.object_ref(&ctx.resource),
            Event {
                type_: EventType::Warning,
                reason: "ImageTriggerFailed".into(),
                note: Some(error.clone()),
                action: "TriggerImage".into(),
                secondary: None,
            },
        );
    }
    if !update.patch.is_empty() {
        let patch: json_patch::Patch = serde_json::from_value(update.patch.into())?;
        let params = PatchParams {
            field_manager: Some(IMAGE_TRIGGER_FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        match api
            .patch(&object.name_any(), &params, &Patch::<()>::Json(patch))
            .await
        {
            Ok(_) => {}
            // A test failed: the object changed since it was read; its event brings a retry.
            Err(kube::Error::Api(s)) if s.code == 422 => {
                return Err(Error::StaleCache(format!(
                    "{} changed under its image trigger: {}",
                    ctx.resource.kind, s.message
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    ctx.backoff.reset(&object);
    Ok(Action::await_change())
}

impl Retrying for AnnotationContext {
    fn subject(&self) -> &str {
        &self.resource.kind
    }
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}
