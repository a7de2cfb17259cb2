//! The I/O shell: observe the cluster, call the pure planner, carry out its decision.
//!
//! Nothing here decides anything about a rollout; it reads reflector stores (no API list per
//! reconcile), applies `strategy::Action`s idempotently and writes the status once.

pub mod annotation_trigger;
pub mod apply;
pub mod cache;
pub mod config_hashes;
pub mod deploy;
pub mod deployment_config;
pub mod events;
pub mod freshness;
pub mod image_import;
pub mod image_tags;
pub mod image_trigger;
pub mod job_output;
#[cfg(test)]
pub(crate) mod mock_api;
pub mod observe;
pub mod route;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::core::PartialObjectMeta;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::ObjectRef;

use kube::runtime::reflector::Store;

use crate::api::DeploymentConfig;
use crate::api::image_stream::ImageStream;

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
    pub backoff: Backoff<DeploymentConfig>,
    /// The image of deployer Jobs whose customParams name none.
    pub deployer_image: String,
    /// The ImageStreams ImageChange triggers resolve through.
    pub image_streams: Store<ImageStream>,
    /// The hashes of followed ConfigMaps and Secrets, kept while the watch sees no change.
    pub config_hashes: std::sync::Arc<config_hashes::Memo>,
}

/// Per-object exponential backoff after transient failures: 1 s doubling to 5 min, forgotten
/// on the object's next success. Other objects are not slowed by one that keeps failing.
pub struct Backoff<K: kube::Resource> {
    failures: Mutex<HashMap<ObjectRef<K>, u32>>,
}

impl<K: kube::Resource> Default for Backoff<K>
where
    K::DynamicType: Eq + std::hash::Hash,
{
    fn default() -> Self {
        Backoff {
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: kube::Resource> Backoff<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    /// The delay before retrying `key` after one more failure.
    pub fn next(&self, key: ObjectRef<K>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 1u64 << (*n - 1).min(9);
        Duration::from_secs(secs.min(300))
    }

    pub fn reset(&self, key: &ObjectRef<K>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(key);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_object_caps_at_five_minutes_and_resets() {
        let backoff = Backoff::<DeploymentConfig>::default();
        let a = ObjectRef::new("a").within("ns");
        let b = ObjectRef::new("b").within("ns");
        let delays: Vec<u64> = (0..12).map(|_| backoff.next(a.clone()).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff.next(b).as_secs(), 1, "another object is not slowed");
        backoff.reset(&a);
        assert_eq!(backoff.next(a).as_secs(), 1);
    }
}
