//! Carries out the planner's actions, in order, idempotently.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, PropagationPolicy,
};
use kube::core::ApiResource;
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::DeploymentConfig;
use crate::api::keys;
use crate::error::{Error, Result};
use crate::strategy::{Action, Event, RevisionUpdate, Scale};

mod deployer;
mod owners;
#[cfg(test)]
mod tests;

use deployer::create_deployer_job;
use owners::{adopt, labelled_for, release};

use super::Context;

/// The API server refused to create a revision (for example a template it finds invalid): this
/// is not retried, it becomes the Progressing condition.
pub struct CreateRefused {
    pub message: String,
}

/// Applies `actions` for `dc`. Stops at the first error; everything already applied is safe to
/// apply again on the retry. The revisions it scaled are told in one event, as far as it got:
/// one event per pass rather than one per ReplicaSet, each an Event object the API server
/// stores and every event watcher receives.
pub async fn execute(
    dc: &DeploymentConfig,
    actions: &[Action],
    ctx: &Context,
) -> Result<Option<CreateRefused>> {
    let mut scaled = Vec::new();
    let result = execute_actions(dc, actions, ctx, &mut scaled).await;
    if let Some(message) = scaled_message(&scaled) {
        publish(
            dc,
            ctx,
            &Event::normal(crate::api::events::RC_SCALED, message),
        );
    }
    result
}

/// OpenShift's message for one scaled revision; the others of the pass follow it.
fn scaled_message(scaled: &[(&str, Scale)]) -> Option<String> {
    let said: Vec<String> = scaled
        .iter()
        .map(|(name, s)| format!("{name:?} from {} to {}", s.from, s.to))
        .collect();
    (!said.is_empty()).then(|| format!("Scaled replication controller {}", said.join(", ")))
}

async fn execute_actions<'a>(
    dc: &DeploymentConfig,
    actions: &'a [Action],
    ctx: &Context,
    scaled: &mut Vec<(&'a str, Scale)>,
) -> Result<Option<CreateRefused>> {
    let ns = dc.namespace().unwrap_or_default();
    let replica_sets: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let mut refused = None;
    let mut rest = actions;
    while let Some(action) = rest.first() {
        // Updates of different revisions in a row (a pass's scale-down and scale-up, each safe
        // on its own) go out at once: one round trip per pass rather than one per revision.
        let updates = concurrent_updates(rest);
        if !updates.is_empty() {
            update_revisions(ctx, &replica_sets, &updates, scaled).await?;
            rest = &rest[updates.len()..];
            continue;
        }
        rest = &rest[1..];
        match action {
            Action::Adopt { name } => adopt(dc, &replica_sets, name).await?,
            Action::Release { name } => release(dc, &replica_sets, name).await?,
            Action::CreateRevision { name, manifest } => {
                // Refused: nothing after it in the pass is applied; the planner says what the
                // status becomes (`status::refused_create`).
                if let Some(r) = create_revision(dc, ctx, &ns, name, manifest).await? {
                    refused = Some(r);
                    break;
                }
            }
            // Sent together above.
            Action::Update(_) => {}
            Action::DeleteRevision { name } => {
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..Default::default()
                };
                ctx.freshness.forget("ReplicaSet", &ns, name);
                match replica_sets.delete(name, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => {
                        publish(
                            dc,
                            ctx,
                            &Event::warning(
                                crate::api::events::DEPLOYMENT_CLEANUP_FAILED,
                                format!("Couldn't clean up deployment {name}: {e}"),
                            ),
                        );
                    }
                }
            }
            Action::CreateJob { name, manifest } => {
                create_job(&ctx.client, &ns, name, manifest).await?
            }
            Action::CreateDeployerJob {
                name,
                manifest,
                access,
            } => {
                if let Err(refused) =
                    create_deployer_job(&ctx.client, &ns, name, manifest, access).await?
                {
                    // Refused (forbidden, invalid): the revision stays New and its timeout
                    // fails it; nothing after this in the pass (its move to Pending) is applied.
                    publish(
                        dc,
                        ctx,
                        &Event::warning(
                            crate::api::events::FAILED_CREATE,
                            format!("Error creating deployer pod: {refused}"),
                        ),
                    );
                    break;
                }
            }
            Action::DeleteJob { name } => delete_job(&ctx.client, &ns, name).await?,
            Action::TagImages {
                revision,
                point,
                tags,
            } => {
                let result = tag_images(&ctx.client, tags).await?;
                let update = RevisionUpdate::new(revision)
                    .annotate(&point.tag_result_annotation(), Some(result));
                let rs = update_revision(&replica_sets, &update).await?;
                ctx.freshness.wrote(&rs);
            }
            Action::RollBackConfig { template, triggers } => {
                // A JSON patch, so the template is replaced whole (a merge patch would merge it).
                let mut ops =
                    vec![json!({"op": "replace", "path": "/spec/template", "value": template})];
                if let Some(t) = triggers {
                    ops.push(json!({"op": "add", "path": "/spec/triggers", "value": t}));
                }
                let patch: json_patch::Patch = serde_json::from_value(json!(ops))?;
                let dcs: Api<DeploymentConfig> = Api::namespaced(ctx.client.clone(), &ns);
                let written = dcs
                    .patch(
                        &dc.name_any(),
                        &PatchParams::default(),
                        &Patch::<()>::Json(patch),
                    )
                    .await?;
                ctx.written.record(written);
            }
            Action::Event(event) => publish(dc, ctx, event),
        }
    }
    Ok(refused)
}

/// A tagImages hook's writes: each image goes into its ImageStreamTag as a `DockerImage` tag
/// (the stream is created if missing), as the field manager `cutover-tag-images`. What the
/// revision records: `Succeeded`, or the refusals (a transient error is returned, to retry the
/// whole hook).
pub async fn tag_images(client: &Client, tags: &[crate::strategy::ImageTag]) -> Result<String> {
    let mut refused = Vec::new();
    for t in tags {
        let tag = json!({"name": t.tag, "from": {"kind": "DockerImage", "name": t.image}});
        let written = crate::client::image_tags::set_tag(
            client,
            &t.namespace,
            &t.stream,
            &tag,
            keys::TAG_IMAGES_FIELD_MANAGER,
        )
        .await;
        match written {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code < 500 && s.code != 429 => {
                refused.push(format!(
                    "{}/{}:{}: {}",
                    t.namespace, t.stream, t.tag, s.message
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if refused.is_empty() {
        crate::api::hooks::outcome::SUCCEEDED.to_string()
    } else {
        refused.join("; ")
    })
}

/// The leading run of `actions` that updates distinct revisions, up to a scale-up that follows a
/// scale-down.
fn concurrent_updates(actions: &[Action]) -> Vec<&RevisionUpdate> {
    let mut run: Vec<&RevisionUpdate> = Vec::new();
    for action in actions {
        match action {
            // A scale-up after a scale-down may use the room the scale-down makes: it waits.
            Action::Update(u) if u.grows() && run.iter().any(|r| r.shrinks()) => break,
            Action::Update(u) if run.iter().all(|r| r.name != u.name) => run.push(u),
            _ => break,
        }
    }
    run
}

/// Writes `updates` at once. Every write that succeeded is recorded (so the next pass waits for
/// it to reach the cache), and each scale in `scaled`, before the first failure is returned.
async fn update_revisions<'a>(
    ctx: &Context,
    api: &Api<ReplicaSet>,
    updates: &[&'a RevisionUpdate],
    scaled: &mut Vec<(&'a str, Scale)>,
) -> Result<()> {
    let results = futures::future::join_all(updates.iter().map(|u| update_revision(api, u))).await;
    let mut first_error = None;
    for (update, result) in updates.iter().zip(results) {
        match result {
            Ok(rs) => {
                ctx.freshness.wrote(&rs);
                if let Some(scale) = update.scale {
                    scaled.push((update.name.as_str(), scale));
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Creates an object of kind `K` from its JSON manifest, not from a typed `K`: a pod template
/// then reaches the cluster whole, pod fields newer than our API types included. The inner
/// result is the API server's answer, for the caller to interpret.
async fn create_from_json<K>(
    client: &Client,
    ns: &str,
    manifest: &serde_json::Value,
) -> Result<std::result::Result<DynamicObject, kube::Error>>
where
    K: kube::Resource<DynamicType = ()>,
{
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    let object: DynamicObject = serde_json::from_value(manifest.clone())?;
    let params = PostParams {
        field_manager: Some(keys::FIELD_MANAGER.into()),
        ..Default::default()
    };
    Ok(api.create(&params, &object).await)
}

async fn create_revision(
    dc: &DeploymentConfig,
    ctx: &Context,
    ns: &str,
    name: &str,
    manifest: &serde_json::Value,
) -> Result<Option<CreateRefused>> {
    match create_from_json::<ReplicaSet>(&ctx.client, ns, manifest).await? {
        Ok(created) => {
            let version = created.resource_version().and_then(|v| v.parse().ok());
            ctx.freshness.wrote_raw("ReplicaSet", ns, name, version);
            Ok(None)
        }
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
            let rs = existing.get(name).await?;
            // Only a revision of ours that the cache has not caught up with is worth waiting
            // for; anything else under that name (another owner's, or one we control but no
            // longer label) will not become ours by retrying.
            let ours = labelled_for(&rs, dc)
                && rs
                    .owner_references()
                    .iter()
                    .any(|o| o.controller == Some(true) && Some(&o.uid) == dc.uid().as_ref());
            if ours {
                Err(Error::StaleCache(format!(
                    "revision {name} exists but is not in the cache yet"
                )))
            } else {
                Ok(Some(CreateRefused {
                    message: Error::NameTaken(name.into()).to_string(),
                }))
            }
        }
        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 400 => Ok(Some(CreateRefused {
            message: s.message.clone(),
        })),
        Err(e) => Err(e.into()),
    }
}

/// Creates a hook Job from JSON (the container comes from the raw template, so newer container
/// fields survive). One that exists already is the same hook: it is re-attached to, never doubled.
pub(crate) async fn create_job(
    client: &Client,
    ns: &str,
    name: &str,
    manifest: &serde_json::Value,
) -> Result<()> {
    match create_from_json::<Job>(client, ns, manifest).await? {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            tracing::info!(job = name, "Job exists: re-attaching");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes a Job (its pods go with it); one already gone is fine.
pub(crate) async fn delete_job(client: &Client, ns: &str, name: &str) -> Result<()> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn update_revision(
    api: &Api<ReplicaSet>,
    update: &RevisionUpdate,
) -> Result<ReplicaSet> {
    let mut patch = json!({"metadata": {"annotations": update.annotations}});
    if let Some(scale) = update.scale {
        patch["spec"] = json!({"replicas": scale.to});
    }
    Ok(api
        .patch(&update.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// Records an event on the DeploymentConfig. Events are best effort: recorded by another task, a
/// failure is logged and never fails the reconcile.
pub fn publish(dc: &DeploymentConfig, ctx: &Context, event: &Event) {
    ctx.events.publish_event(dc.object_ref(&()), event);
}
