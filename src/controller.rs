//! Wiring: reflectors for ReplicaSets and pods shared with the reconciler, and the controller.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tracing::{info, warn};

use crate::api::DeploymentConfig;
use crate::api::keys;
use crate::health::Readiness;
use crate::reconcile::{Context, deployment_config};

/// Where the operator looks.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this namespace; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Reconciles running at once.
    pub concurrency: u16,
}

fn api<K>(client: &Client, scope: &Scope) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match &scope.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The DeploymentConfig named by a label on a namespaced object.
fn owner_by_label<K: ResourceExt>(obj: &K, label: &str) -> Option<ObjectRef<DeploymentConfig>> {
    let name = obj.labels().get(label)?;
    Some(ObjectRef::new(name).within(&obj.namespace()?))
}

/// Buffered events per shared reflector before it waits for the controller to catch up.
const SHARED_BUFFER: usize = 1024;

/// Runs the DeploymentConfig controller until `shutdown` resolves.
pub async fn run(
    client: Client,
    scope: Scope,
    readiness: Readiness,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    // Only objects carrying our labels are cached: revisions, and the pods of DeploymentConfigs.
    // The reflectors run on their own so the caches are complete before the first decision: a
    // revision missing from a half-filled cache would look like one that must be created.
    let (rs_store, rs_writer) = reflector::store_shared::<ReplicaSet>(SHARED_BUFFER);
    let rs_events = rs_writer.subscribe();
    tokio::spawn(
        watcher(
            api::<ReplicaSet>(&client, &scope),
            watcher::Config::default().labels(keys::DEPLOYMENT_CONFIG_LABEL),
        )
        .default_backoff()
        .reflect_shared(rs_writer)
        .for_each(|_| async {}),
    );
    let (pod_store, pod_writer) = reflector::store_shared::<PartialObjectMeta<Pod>>(SHARED_BUFFER);
    let pod_events = pod_writer.subscribe();
    tokio::spawn(
        watcher(
            api::<PartialObjectMeta<Pod>>(&client, &scope),
            watcher::Config::default().labels(keys::DEPLOYMENTCONFIG_LABEL),
        )
        .default_backoff()
        .reflect_shared(pod_writer)
        .for_each(|_| async {}),
    );
    let (Some(rs_events), Some(pod_events)) = (rs_events, pod_events) else {
        warn!("shared reflectors offer no subscription");
        return;
    };
    if rs_store.wait_until_ready().await.is_err() || pod_store.wait_until_ready().await.is_err() {
        warn!("caches never became ready");
        return;
    }
    info!("caches synced");
    readiness.set_ready();

    let ctx = Arc::new(Context::new(client.clone(), rs_store, pod_store));
    Controller::new(
        api::<DeploymentConfig>(&client, &scope),
        watcher::Config::default(),
    )
    .with_config(kube::runtime::controller::Config::default().concurrency(scope.concurrency))
    // By label, not owner: orphaned revisions must wake their DeploymentConfig to be adopted.
    .watches_shared_stream(rs_events, |rs| {
        owner_by_label(rs.as_ref(), keys::DEPLOYMENT_CONFIG_LABEL)
    })
    .watches_shared_stream(pod_events, |pod| {
        owner_by_label(pod.as_ref(), keys::DEPLOYMENTCONFIG_LABEL)
    })
    .graceful_shutdown_on(shutdown)
    .run(
        deployment_config::reconcile,
        deployment_config::error_policy,
        ctx,
    )
    .for_each(|res| async move {
        if let Err(e) = res {
            warn!(error = %e, "controller");
        }
    })
    .await;
}
