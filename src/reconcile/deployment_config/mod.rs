//! One reconcile of a DeploymentConfig: observe → plan → act → write status once.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action as Requeue;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use serde_json::json;
use tracing::{debug, info, instrument};

use crate::api::image_stream::ImageStream;
use crate::api::keys;
use crate::api::{DeploymentConfig, DeploymentConfigStatus};
use crate::error::Result;
use crate::strategy::describe::{Voice, describe};
use crate::strategy::{self, status};

use super::{Backoff, Retrying, cache, events, freshness};

pub mod apply;
pub mod config_hashes;
pub mod image_trigger;
pub mod job_output;
pub mod observe;

/// How long to wait, at most, without any event (a safety net; rollouts are watch-driven).
const RESYNC: Duration = Duration::from_secs(300);

/// The watch caches the reconciler reads instead of listing, indexed by DeploymentConfig.
#[derive(Clone)]
pub struct Stores {
    /// ReplicaSets labelled as revisions of some DeploymentConfig.
    pub replica_sets: cache::Cache<ReplicaSet>,
    /// Metadata of pods labelled with a DeploymentConfig.
    pub pods: cache::Cache<PartialObjectMeta<Pod>>,
    /// Hook (and deployer) Jobs.
    pub jobs: cache::Cache<Job>,
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub events: events::Events,
    pub stores: Stores,
    /// Versions of our own writes, so no decision is made on an older cache.
    pub freshness: freshness::Freshness,
    /// Our last write of each DeploymentConfig, read until the cache has it.
    pub written: freshness::Written<DeploymentConfig>,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Retry delays of DeploymentConfigs whose last reconcile failed transiently.
    pub backoff: Backoff,
    /// The image of deployer Jobs whose customParams name none.
    pub deployer_image: String,
    /// The ImageStreams ImageChange triggers resolve through.
    pub image_streams: Store<ImageStream>,
    /// The hashes of followed ConfigMaps and Secrets, kept while the watch sees no change.
    pub config_hashes: std::sync::Arc<config_hashes::Memo>,
}

impl Context {
    pub fn new(
        client: Client,
        stores: Stores,
        image_streams: Store<ImageStream>,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> Self {
        let reporter = Reporter {
            controller: "cutover".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            events: events::Events::start(client.clone(), reporter),
            client,
            stores,
            freshness: freshness::Freshness::default(),
            written: freshness::Written::default(),
            metrics,
            backoff: Backoff::default(),
            deployer_image: crate::api::defaults::DEFAULT_DEPLOYER_IMAGE.to_string(),
            image_streams,
            config_hashes: Default::default(),
        }
    }

    /// The image of deployer Jobs whose customParams name none.
    pub fn with_deployer_image(mut self, image: Option<String>) -> Self {
        if let Some(image) = image.filter(|i| !i.trim().is_empty()) {
            self.deployer_image = image.trim().to_string();
        }
        self
    }
}

impl Retrying for Context {
    fn subject(&self) -> &str {
        "DeploymentConfig"
    }
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

#[instrument(skip_all, fields(namespace = dc.namespace().unwrap_or_default(), deploymentconfig = dc.name_any()))]
pub async fn reconcile(dc: Arc<DeploymentConfig>, ctx: Arc<Context>) -> Result<Requeue> {
    let dc = ctx.written.newest(dc);
    if let Some(behind) = observe::stale(&dc, &ctx) {
        // Our last writes are not in the cache yet; their watch events bring the next pass.
        debug!(behind, "cache behind our writes: waiting for it");
        return Ok(Requeue::requeue(Duration::from_secs(2)));
    }
    // The triggers' images first, as OpenShift's trigger controller writes them before its
    // DeploymentConfig controller looks: the write's watch event brings the pass that plans.
    if image_trigger::write(&dc, &ctx).await? {
        return Ok(Requeue::requeue(RESYNC));
    }
    // What a finished hook or deployer said, on its Job before its outcome is recorded.
    if job_output::record(&dc, &ctx).await? {
        return Ok(Requeue::requeue(RESYNC));
    }
    let configs = config_hashes::read(&dc, &ctx).await?;
    let mut observed = observe::snapshot(&dc, &ctx);
    observed.configs = configs;
    let now = Timestamp::now();
    let mut decision = strategy::plan(&observed, now);
    if !decision.actions.is_empty() {
        let actions: Vec<String> = (decision.actions.iter())
            .flat_map(|a| describe(a, Voice::Log))
            .map(|said| said.to_string())
            .collect();
        info!(?actions, "acting");
    }
    let refused = match apply::execute(&dc, &decision.actions, &ctx).await {
        Ok(refused) => refused,
        Err(e) if !e.is_transient() => {
            // Retrying cannot help: say so on the object, and wait for the next change.
            write_status(&dc, &status::stalled(&dc, &e.to_string(), now), &ctx).await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    // Counted once the revisions carry their new phase: the next pass sees it and counts nothing.
    ctx.metrics.record(&decision.finished);
    if let Some(refused) = refused {
        decision = status::refused_create(&observed, decision, &refused.message, now);
        apply::execute(&dc, &decision.actions, &ctx).await?;
    }
    write_status(&dc, &decision.status, &ctx).await?;
    ctx.backoff.reset(dc.as_ref());
    Ok(Requeue::requeue(
        decision
            .requeue_after
            .map_or(RESYNC, |d| d.min(RESYNC) + Duration::from_millis(50)),
    ))
}

/// The one status write of a reconcile, skipped when nothing changed.
async fn write_status(
    dc: &DeploymentConfig,
    status: &DeploymentConfigStatus,
    ctx: &Context,
) -> Result<()> {
    if dc.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<DeploymentConfig> =
        Api::namespaced(ctx.client.clone(), &dc.namespace().unwrap_or_default());
    // The whole status, replaced: it is ours alone. A JSON patch rather than server-side apply,
    // which costs the API server a structured merge and managed-fields bookkeeping per write
    // (not measurable apart from the noise of `make bench`; the patch is the lighter operation).
    let patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/status", "value": status}]))?;
    let params = PatchParams {
        field_manager: Some(keys::FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let written = api
        .patch_status(&dc.name_any(), &params, &Patch::<()>::Json(patch))
        .await?;
    ctx.written.record(written);
    Ok(())
}
