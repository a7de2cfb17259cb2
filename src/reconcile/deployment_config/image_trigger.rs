//! The ImageChange triggers' write: the images their tags resolve to (`image::trigger` decides)
//! go into the DeploymentConfig's containers and `lastTriggeredImage`, as OpenShift's trigger
//! controller writes them. Under a field manager of its own, so GitOps tools can be told to
//! leave exactly these fields alone; as a JSON patch whose every change is guarded by a test,
//! so nothing the user wrote in between is overwritten. The write's watch event brings the
//! pass that rolls the new image out.

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};

use crate::api::DeploymentConfig;
use crate::api::keys::IMAGE_TRIGGER_FIELD_MANAGER;
use crate::api::requests::{self, RequestKind};
use crate::error::{Error, Result};
use crate::image::trigger;

use super::Context;

/// Writes what the triggers of `dc` resolve to, if that changes anything; whether it wrote.
/// A pending `rollout latest` request fires the manual triggers too, as `oc rollout latest`
/// does: the rollout it starts runs the newest images.
pub async fn write(dc: &DeploymentConfig, ctx: &Context) -> Result<bool> {
    let latest_requested = !dc.spec.paused
        && requests::pending(dc)
            .iter()
            .any(|(kind, _)| *kind == RequestKind::Latest);
    let firing = if latest_requested {
        trigger::Firing::All
    } else {
        trigger::Firing::Automatic
    };
    // As created: what OpenShift clears on create.
    let exported = trigger::exported(dc);
    let images = if exported.is_empty() {
        trigger::deployment_config(dc, &ctx.image_streams, firing)
    } else {
        exported
    };
    if images.is_empty() {
        return Ok(false);
    }
    let patch: json_patch::Patch = serde_json::from_value(trigger::json_patch(dc, &images).into())?;
    let api: Api<DeploymentConfig> =
        Api::namespaced(ctx.client.clone(), &dc.namespace().unwrap_or_default());
    let params = PatchParams {
        field_manager: Some(IMAGE_TRIGGER_FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    match api
        .patch(&dc.name_any(), &params, &Patch::<()>::Json(patch))
        .await
    {
        Ok(written) => {
            ctx.written.record(written);
            Ok(true)
        }
        // A test failed: the DeploymentConfig changed since the cache saw it.
        Err(kube::Error::Api(s)) if s.code == 422 => Err(Error::StaleCache(format!(
            "DeploymentConfig changed under its image trigger: {}",
            s.message
        ))),
        Err(e) => Err(e.into()),
    }
}
