//! Setting one tag of an ImageStream, for tagImages hooks and `kubectl dc tag`/`import-image`:
//! the stream is created if it is missing; otherwise the tag is replaced or added by a JSON
//! patch guarded by the resourceVersion it was read at (`image::set_tag_patch`), read again
//! and retried when someone wrote in between.

use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::api::image_stream::ImageStream;
use crate::image::set_tag_patch;

/// Attempts before a stream that keeps changing under us is reported.
const ATTEMPTS: usize = 5;

/// Sets `tag` (a whole TagReference, as JSON) in `namespace/stream` as `field_manager`; the
/// stream as written.
pub async fn set_tag(
    client: &Client,
    namespace: &str,
    stream: &str,
    tag: &Value,
    field_manager: &str,
) -> Result<ImageStream, kube::Error> {
    let api: Api<ImageStream> = Api::namespaced(client.clone(), namespace);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match api.get_opt(stream).await? {
            None => {
                let new: ImageStream = serde_json::from_value(json!({
                    "apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
                    "metadata": {"name": stream, "namespace": namespace},
                    "spec": {"tags": [tag]},
                }))
                .map_err(kube::Error::SerdeError)?;
                let params = PostParams {
                    field_manager: Some(field_manager.into()),
                    ..Default::default()
                };
                api.create(&params, &new).await
            }
            Some(current) => {
                let patch: json_patch::Patch = serde_json::from_value(set_tag_patch(&current, tag))
                    .map_err(kube::Error::SerdeError)?;
                let params = PatchParams {
                    field_manager: Some(field_manager.into()),
                    ..Default::default()
                };
                api.patch(stream, &params, &Patch::<()>::Json(patch)).await
            }
        };
        match result {
            // Created by someone else meanwhile (409), or changed since read (422): again.
            Err(kube::Error::Api(s)) if (s.code == 409 || s.code == 422) && attempt < ATTEMPTS => {}
            other => return other,
        }
    }
}
