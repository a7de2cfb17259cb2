//! A deployer Job and the identity it runs as (ServiceAccount, Role, RoleBinding of its
//! namespace), created if missing and put back if someone changed them.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::ApiResource;
use kube::{Client, ResourceExt};

use crate::api::keys;
use crate::error::Result;

use super::create_from_json;

/// Makes sure the deployer's identity exists, then creates its Job (re-attaching to one that
/// exists). The inner error is the API server's refusal (forbidden, invalid): not retried.
pub(super) async fn create_deployer_job(
    client: &Client,
    ns: &str,
    name: &str,
    manifest: &serde_json::Value,
    access: &[serde_json::Value],
) -> Result<std::result::Result<(), String>> {
    for object in access {
        if let Err(refused) = ensure(client, ns, object).await? {
            return Ok(Err(refused));
        }
    }
    match create_from_json::<Job>(client, ns, manifest).await? {
        Ok(_) => Ok(Ok(())),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            tracing::info!(job = name, "deployer Job exists: re-attaching");
            Ok(Ok(()))
        }
        Err(kube::Error::Api(s)) if refusal(s.code) => Ok(Err(s.message)),
        Err(e) => Err(e.into()),
    }
}

/// A refusal that a retry will not change.
fn refusal(code: u16) -> bool {
    matches!(code, 400 | 403 | 422)
}

/// Creates a ServiceAccount, Role or RoleBinding of the deployer if it is missing; puts back a
/// Role's rules or a RoleBinding's subjects that someone changed.
async fn ensure(
    client: &Client,
    ns: &str,
    manifest: &serde_json::Value,
) -> Result<std::result::Result<(), String>> {
    let resource = match manifest["kind"].as_str() {
        Some("ServiceAccount") => ApiResource::erase::<ServiceAccount>(&()),
        Some("Role") => ApiResource::erase::<Role>(&()),
        Some("RoleBinding") => ApiResource::erase::<RoleBinding>(&()),
        other => return Ok(Err(format!("cannot manage a {other:?}"))),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    let wanted: DynamicObject = serde_json::from_value(manifest.clone())?;
    let name = wanted.name_any();
    let answer = match api.get_opt(&name).await? {
        None => {
            let params = PostParams {
                field_manager: Some(keys::FIELD_MANAGER.into()),
                ..Default::default()
            };
            match api.create(&params, &wanted).await {
                Err(kube::Error::Api(s)) if s.code == 409 => return Ok(Ok(())),
                other => other.map(|_| ()),
            }
        }
        Some(mut existing) => {
            let drifted: Vec<&str> = ["rules", "subjects"]
                .into_iter()
                .filter(|k| {
                    wanted
                        .data
                        .get(*k)
                        .is_some_and(|w| existing.data.get(*k) != Some(w))
                })
                .collect();
            if drifted.is_empty() {
                return Ok(Ok(()));
            }
            for key in drifted {
                existing.data[key] = wanted.data[key].clone();
            }
            tracing::info!(namespace = ns, name, "restoring the deployer's access");
            api.replace(&name, &PostParams::default(), &existing)
                .await
                .map(|_| ())
        }
    };
    match answer {
        Ok(()) => Ok(Ok(())),
        Err(kube::Error::Api(s)) if refusal(s.code) => Ok(Err(format!(
            "{} {name}: {}",
            manifest["kind"].as_str().unwrap_or_default(),
            s.message
        ))),
        Err(e) => Err(e.into()),
    }
}
