//! The I/O shell: observe the cluster, call the pure planner, carry out its decision.
//!
//! Nothing here decides anything about a rollout; it reads reflector stores (no API list per
//! reconcile), applies `strategy::Action`s idempotently and writes the status once.

pub mod apply;
pub mod deploy;
pub mod deployment_config;
pub mod freshness;
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
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::DeploymentConfig;

/// The reflector caches the reconciler reads instead of listing.
#[derive(Clone)]
pub struct Stores {
    /// ReplicaSets labelled as revisions of some DeploymentConfig.
    pub replica_sets: Store<ReplicaSet>,
    /// Metadata of pods labelled with a DeploymentConfig.
    pub pods: Store<PartialObjectMeta<Pod>>,
    /// Hook (and deployer) Jobs.
    pub jobs: Store<Job>,
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub stores: Stores,
    /// Versions of our own writes, so no decision is made on an older cache.
    pub freshness: freshness::Freshness,
    /// Consecutive transient failures per DeploymentConfig, for its backoff.
    failures: Mutex<HashMap<ObjectRef<DeploymentConfig>, u32>>,
    /// The image of deployer Jobs whose customParams name none.
    pub deployer_image: String,
}

impl Context {
    pub fn new(client: Client, stores: Stores) -> Self {
        let reporter = Reporter {
            controller: "cutover".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            stores,
            freshness: freshness::Freshness::default(),
            failures: Mutex::new(HashMap::new()),
            deployer_image: crate::api::defaults::DEFAULT_DEPLOYER_IMAGE.to_string(),
        }
    }

    /// The image of deployer Jobs whose customParams name none.
    pub fn with_deployer_image(mut self, image: Option<String>) -> Self {
        if let Some(image) = image.filter(|i| !i.trim().is_empty()) {
            self.deployer_image = image.trim().to_string();
        }
        self
    }

    /// The next backoff of an object after a transient failure: 1 s doubling to 5 min.
    pub fn backoff(&self, key: ObjectRef<DeploymentConfig>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 1u64 << (*n - 1).min(9);
        Duration::from_secs(secs.min(300))
    }

    pub fn reset_backoff(&self, key: &ObjectRef<DeploymentConfig>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(key);
    }
}
