//! Wiring: which watches feed which controller, and the order they start in. One file per
//! controller (what wakes it), over the shared helpers of [`wiring`]:
//!
//! - [`deployment_config`]: DeploymentConfigs, woken by their revisions, pods and Jobs, the
//!   ImageStreams and ConfigMaps/Secrets their triggers follow;
//! - [`image_stream`]: the importer, and the ImageStream cache every trigger resolves through;
//! - [`annotation_triggers`]: `image.openshift.io/triggers` on Deployments, StatefulSets,
//!   DaemonSets and CronJobs;
//! - [`route`]: Routes, woken by their Services, endpoints, owned objects, Gateways
//!   ([`gateway`]), host rivals and the DeploymentConfig a traffic shift follows;
//!
//! and [`shard`]: which namespaces this operator serves (`--shard`).

mod annotation_triggers;
mod deployment_config;
mod gateway;
mod image_stream;
mod route;
mod shard;
mod wiring;

use std::sync::Arc;

use kube::{Api, Client, ResourceExt};
use tracing::info;

use crate::http::Readiness;
use crate::image::annotation::Workload;
use crate::leader::{self, LeaseConfig, LeaseError};
use crate::metrics::Metrics;
use crate::reconcile::deployment_config::Context;
use crate::reconcile::image_stream::Registries;

pub use shard::Served;

/// Where the operator looks.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Which namespaces are served (`Served::new`: `--shard`); `run` starts watching which
    /// namespaces carry the shard label.
    pub served: Served,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// The parent Gateway of Routes that name none.
    pub default_gateway: Option<crate::route::GatewayRef>,
    /// The ingress domain: Routes without a host are served on `<name>-<namespace>.<domain>`.
    pub route_domain: Option<String>,
    /// The image of deployer Jobs whose customParams name none (default: the operator's own).
    pub deployer_image: Option<String>,
    /// How often scheduled image tags are imported again.
    pub image_import_interval: jiff::SignedDuration,
    /// PEM certificates trusted for registries besides the system's.
    pub registry_ca: Vec<u8>,
    /// Whether `image.openshift.io/triggers` annotations on Deployments, StatefulSets,
    /// DaemonSets and CronJobs are honoured.
    pub annotation_triggers: bool,
}

/// Checks that the installed CRDs are the ones this operator was built with, or later ones that
/// still serve its schemas (`api::runs_against`); the error says how to fix it.
pub async fn check_crds(client: &Client) -> Result<(), String> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for expected in crate::api::crds() {
        let name = expected.metadata.name.clone().unwrap_or_default();
        let want = crate::api::schema_hash(&expected);
        let installed = api
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read CRD {name}: {e}"))?
            .ok_or_else(|| {
                format!("CRD {name} is not installed: kubectl apply --server-side -f crds/")
            })?;
        if !crate::api::runs_against(installed.annotations(), &want) {
            let have = installed
                .annotations()
                .get(crate::api::SCHEMA_HASH_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            return Err(format!(
                "CRD {name} differs from the one this operator was built with (schema {have:?}, expected {want:?}): \
                 apply the CRDs of this version with `kubectl apply --server-side -f crds/`"
            ));
        }
    }
    Ok(())
}

/// Why the controllers stopped before they were asked to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("caches never became ready")]
    Caches,
    #[error("cannot list the labelled namespaces (cutover.io/shard): {0}")]
    Namespaces(String),
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error("{0}")]
    Registry(String),
}

/// Runs the controllers until `shutdown` resolves: caches first (a standby keeps them warm, wakes
/// held back until it leads), then,
/// once this replica leads (at once without a lease), the controllers. Losing the lease returns
/// at once, dropping every reconcile in flight.
pub async fn run(
    client: Client,
    scope: Scope,
    lease: Option<LeaseConfig>,
    readiness: Readiness,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), RunError> {
    let shutdown = futures::FutureExt::shared(shutdown);
    let mut scope = scope;
    scope
        .served
        .start(&client)
        .await
        .map_err(RunError::Namespaces)?;
    tokio::spawn(shard::report(scope.served.clone(), metrics.clone()));
    let leading = wiring::Leading::default();
    let owned = deployment_config::owned_caches(&client, &scope, &leading);
    let (dcs, dc_changes) = deployment_config::watch(&client, &scope, &leading);
    // One subscriber for DeploymentConfigs, one per workload kind with annotation triggers.
    let workloads = if scope.annotation_triggers {
        Workload::ALL.len()
    } else {
        0
    };
    let (image_streams, mut stream_changes) =
        image_stream::watch(&client, &scope, 1 + workloads, &leading);
    let dc_stream_changes = stream_changes.remove(0);
    let stores = &owned.stores;
    let ready = futures::try_join!(
        stores.replica_sets.wait_until_ready(),
        stores.pods.wait_until_ready(),
        stores.jobs.wait_until_ready(),
    );
    if ready.is_err()
        || dcs.store.wait_until_ready().await.is_err()
        || image_streams.wait_until_ready().await.is_err()
    {
        return Err(RunError::Caches);
    }
    info!("caches synced");
    readiness.set_ready();
    let revisions = stores.replica_sets.clone();
    metrics.watch_revisions(move || revisions.state());

    let mut leadership = match lease {
        Some(config) => tokio::select! {
            held = leader::acquire(client.clone(), config) => Some(held?),
            _ = shutdown.clone() => return Ok(()),
        },
        None => None,
    };
    leading.start();
    readiness.set_leading(true);
    metrics.set_leader(true);

    let ctx = Arc::new(
        Context::new(
            client.clone(),
            owned.stores,
            image_streams.clone(),
            metrics.clone(),
        )
        .with_deployer_image(scope.deployer_image.clone()),
    );
    let registries = Registries::new(&scope.registry_ca).map_err(RunError::Registry)?;
    let imports = image_stream::run(
        client.clone(),
        scope.clone(),
        registries,
        ctx.events.clone(),
        metrics.clone(),
        shutdown.clone(),
    );
    let annotated = annotation_triggers::run_all(
        client.clone(),
        scope.clone(),
        stream_changes,
        image_streams,
        ctx.events.clone(),
        metrics.clone(),
        shutdown.clone(),
    );
    let routes = route::run(
        client.clone(),
        scope.clone(),
        route::Shared {
            deployment_configs: dcs.store.clone(),
            dc_changes,
            events: ctx.events.clone(),
        },
        metrics,
        shutdown.clone(),
    );
    let dcs = deployment_config::run(
        client,
        scope,
        dcs,
        owned.changes,
        dc_stream_changes,
        ctx,
        shutdown,
    );
    let controllers = futures::future::join4(dcs, routes, imports, annotated);
    match &mut leadership {
        None => {
            controllers.await;
        }
        Some(held) => {
            tokio::select! {
                _ = controllers => {}
                lost = held.lost() => return Err(lost.into()),
            }
        }
    }
    if let Some(held) = leadership {
        held.release().await;
    }
    Ok(())
}
