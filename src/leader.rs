//! Leader election on a `coordination.k8s.io` Lease: of several replicas, one acts.
//!
//! kube-lease-manager takes and renews the Lease. It reports a loss only once it can read the
//! Lease again, so this module adds what client-go calls the renew deadline: we watch the Lease
//! ourselves, and a leader whose renewal has not been seen for two thirds of the lease duration
//! stops, before another replica may take over at the full duration. Either way the process
//! exits and Kubernetes restarts it as a standby: no write is made by a replica that may not lead.

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Where the Lease lives and how long it lasts.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This replica's name in `holderIdentity` (the pod name in a cluster).
    pub identity: String,
    /// How long a Lease lasts without renewal; a standby takes over after it.
    pub duration: Duration,
}

impl LeaseConfig {
    /// Renewals start when this much of the lease is left (every third of the duration).
    fn grace(&self) -> u64 {
        (self.duration.as_secs() * 2 / 3).max(1)
    }

    /// How long a leader acts without seeing its renewal: two thirds of the duration, so it
    /// stops before any standby may take over, with a third of the duration left for clock skew.
    pub fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }
}

/// Why this replica stopped leading.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("cannot take part in the election on Lease {0}: {1}")]
    Setup(String, kube_lease_manager::LeaseManagerError),
    #[error("another replica holds Lease {0} now")]
    Lost(String),
    #[error(
        "no renewal of Lease {0} seen for {1:?}: stepping down before another replica may take over"
    )]
    NotRenewed(String, Duration),
}

/// The lease, held.
pub struct Leadership {
    config: LeaseConfig,
    state: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    renewed: watch::Receiver<Option<SystemTime>>,
}

/// The field manager of a replica's writes to the Lease: its own. A free Lease is taken by a
/// server-side apply, which must conflict with another replica's; under one shared manager both
/// applies succeed, and two replicas starting together both led until the first renewal (found
/// by the shard benchmark).
pub fn field_manager(identity: &str) -> String {
    format!("{}-{identity}", crate::api::keys::FIELD_MANAGER)
}

/// Waits until this replica holds the Lease.
pub async fn acquire(client: Client, config: LeaseConfig) -> Result<Leadership, LeaseError> {
    let lease = format!("{}/{}", config.namespace, config.name);
    let manager = LeaseManagerBuilder::new(client.clone(), &config.name)
        .with_namespace(&config.namespace)
        .with_identity(&config.identity)
        .with_duration(config.duration.as_secs().max(2))
        .with_grace(config.grace())
        .with_field_manager(field_manager(&config.identity))
        .build()
        .await
        .map_err(|e| LeaseError::Setup(lease.clone(), e))?;
    let renewed = watch_renewals(client, &config);
    let (mut state, task) = manager.watch().await;
    info!(%lease, identity = %config.identity, "waiting to lead");
    while !*state.borrow_and_update() {
        if state.changed().await.is_err() {
            return Err(LeaseError::Lost(lease));
        }
    }
    info!(%lease, identity = %config.identity, "leading");
    Ok(Leadership {
        config,
        state,
        task,
        renewed,
    })
}

impl Leadership {
    /// Resolves when this replica may no longer act.
    pub async fn lost(&mut self) -> LeaseError {
        let lease = format!("{}/{}", self.config.namespace, self.config.name);
        let deadline = self.config.renew_deadline();
        // Acquiring counts as a renewal: the watch may not have delivered it yet.
        let mut last = SystemTime::now();
        loop {
            if let Some(seen) = *self.renewed.borrow_and_update() {
                last = last.max(seen);
            }
            let left = (last + deadline)
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            if left.is_zero() {
                return LeaseError::NotRenewed(lease, deadline);
            }
            tokio::select! {
                changed = self.state.changed() => {
                    if changed.is_err() || !*self.state.borrow() {
                        return LeaseError::Lost(lease);
                    }
                }
                _ = self.renewed.changed() => {}
                _ = tokio::time::sleep(left) => {}
            }
        }
    }

    /// Gives the Lease up so a standby takes over at once (graceful shutdown).
    pub async fn release(self) {
        let Leadership { state, task, .. } = self;
        // Closing the channel makes the manager release the Lease and end.
        drop(state);
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(Ok(_))) => info!("lease released"),
            Ok(Ok(Err(e))) => warn!(error = %e, "could not release the lease"),
            Ok(Err(e)) => warn!(error = %e, "lease task ended abnormally"),
            Err(_) => warn!("lease not released within 5 s; it expires on its own"),
        }
    }
}

/// The renewal times of our own claim on the Lease, as the API server has stored them.
fn watch_renewals(client: Client, config: &LeaseConfig) -> watch::Receiver<Option<SystemTime>> {
    let (tx, rx) = watch::channel(None);
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let selector = format!("metadata.name={}", config.name);
    let identity = config.identity.clone();
    tokio::spawn(async move {
        let mut leases = std::pin::pin!(
            watcher(api, watcher::Config::default().fields(&selector))
                .default_backoff()
                .applied_objects()
        );
        while let Some(event) = leases.next().await {
            let Ok(lease) = event else { continue };
            let Some(spec) = lease.spec else { continue };
            if spec.holder_identity.as_deref() != Some(identity.as_str()) {
                continue;
            }
            if let Some(renewed) = spec.renew_time {
                let renewed = SystemTime::from(renewed.0);
                if tx.send(Some(renewed)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// This replica's identity: the pod name, else the host name and process id.
pub fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME") {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "cutover".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_stops_before_a_standby_may_start() {
        let config = LeaseConfig {
            namespace: "ns".into(),
            name: "cutover".into(),
            identity: "a".into(),
            duration: Duration::from_secs(15),
        };
        assert_eq!(config.grace(), 10, "renewal every 5 s");
        assert_eq!(config.renew_deadline(), Duration::from_secs(10));
        assert!(config.renew_deadline() < config.duration);
    }
}
