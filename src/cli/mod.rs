//! The `kubectl dc` plugin: `oc rollout`'s verbs for cutover's DeploymentConfigs. The output
//! is made by pure functions (tested against golden text); the commands only fetch.

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::api::{DeploymentConfig, keys};
use crate::strategy::Revision;

/// A plugin failure: one clear sentence for the user, and the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    User(String),
    #[error("{0}")]
    Kube(#[from] kube::Error),
    /// The rollout ended without success (for `status`: exit 1, usable as a CI gate).
    #[error("{0}")]
    RolloutFailed(String),
}

/// Revisions of a DeploymentConfig, oldest first.
pub async fn revisions(client: &Client, ns: &str, name: &str) -> Result<Vec<Revision>, CliError> {
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let selector = format!("{}={name}", keys::DEPLOYMENT_CONFIG_LABEL);
    let list = rs.list(&ListParams::default().labels(&selector)).await?;
    let mut revs: Vec<Revision> = list
        .items
        .iter()
        .filter_map(|r| Revision::from_replica_set(r, 0))
        .collect();
    revs.sort_by_key(|r| r.version);
    Ok(revs)
}

/// `rollout history`: REVISION STATUS CAUSE, as `oc rollout history` prints it.
pub fn format_history(name: &str, revisions: &[Revision]) -> String {
    if revisions.is_empty() {
        return format!("No rollout history found for deploymentconfig {name:?}\n");
    }
    let rows: Vec<[String; 3]> = revisions
        .iter()
        .map(|r| {
            let cause = r
                .annotations
                .get(keys::CHANGE_CAUSE_ANNOTATION)
                .or(r.status_reason.as_ref())
                .cloned()
                .unwrap_or_else(|| "<unknown>".into());
            [r.version.to_string(), r.phase.as_str().to_string(), cause]
        })
        .collect();
    let w0 = rows
        .iter()
        .map(|r| r[0].len())
        .max()
        .unwrap_or(0)
        .max("REVISION".len());
    let w1 = rows
        .iter()
        .map(|r| r[1].len())
        .max()
        .unwrap_or(0)
        .max("STATUS".len());
    let mut out = format!(
        "deploymentconfigs {name:?}\n{:<w0$}\t{:<w1$}\tCAUSE\n",
        "REVISION", "STATUS"
    );
    for [v, s, c] in rows {
        out.push_str(&format!("{v:<w0$}\t{s:<w1$}\t{c}\n"));
    }
    out
}

/// Where a rollout stands, for `rollout status` (spec §22).
#[derive(Debug, PartialEq, Eq)]
pub enum RolloutState {
    Done(String),
    Failed(String),
    Waiting(String),
}

pub fn rollout_state(dc: &DeploymentConfig) -> RolloutState {
    let name = dc.name_any();
    let status = dc.status.clone().unwrap_or_default();
    if status.latest_version == 0 && dc.spec.triggers.as_ref().is_some_and(Vec::is_empty) {
        return RolloutState::Failed(format!(
            "Deployment config {name:?} waiting on manual update (use 'kubectl dc rollout latest {name}')"
        ));
    }
    if dc.metadata.generation.unwrap_or(0) > status.observed_generation {
        return RolloutState::Waiting(
            "Waiting for latest deployment config spec to be observed by the controller loop..."
                .into(),
        );
    }
    let progressing = status.conditions.iter().find(|c| c.type_ == "Progressing");
    match progressing.map(|c| (c.reason.as_str(), c.message.clone())) {
        Some(("NewReplicationControllerAvailable", _)) => RolloutState::Done(format!(
            "replication controller \"{name}-{}\" successfully rolled out",
            status.latest_version
        )),
        Some((
            "ProgressDeadlineExceeded"
            | "RolloutCancelled"
            | "InvalidConfig"
            | "ReplicationControllerCreateError",
            m,
        )) => RolloutState::Failed(m),
        _ if status.updated_replicas < dc.spec.replicas => RolloutState::Waiting(format!(
            "Waiting for rollout to finish: {} out of {} new replicas have been updated...",
            status.updated_replicas, dc.spec.replicas
        )),
        _ if status.replicas > status.updated_replicas => RolloutState::Waiting(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            status.replicas - status.updated_replicas
        )),
        _ => RolloutState::Waiting(format!(
            "Waiting for rollout to finish: {} of {} updated replicas are available...",
            status.available_replicas.min(status.updated_replicas),
            status.updated_replicas
        )),
    }
}

/// `rollout status`: prints progress until the rollout ends; an error when it failed.
pub async fn status(
    client: &Client,
    ns: &str,
    name: &str,
    watch: bool,
    timeout: Option<Duration>,
) -> Result<String, CliError> {
    let api: Api<DeploymentConfig> = Api::namespaced(client.clone(), ns);
    let dc = api.get_opt(name).await?.ok_or_else(|| {
        CliError::User(format!(
            "deploymentconfigs.apps.openshift.io {name:?} not found"
        ))
    })?;
    let mut last = String::new();
    let mut report = |state: RolloutState| -> Option<Result<String, CliError>> {
        match state {
            RolloutState::Done(m) => Some(Ok(m)),
            RolloutState::Failed(m) => Some(Err(CliError::RolloutFailed(m))),
            RolloutState::Waiting(m) => {
                if m != last {
                    println!("{m}");
                    last = m;
                }
                None
            }
        }
    };
    if let Some(end) = report(rollout_state(&dc)) {
        return end;
    }
    if !watch {
        return Ok(String::new());
    }
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(api, config).applied_objects());
    let wait = async {
        while let Some(dc) = stream
            .try_next()
            .await
            .map_err(|e| CliError::User(e.to_string()))?
        {
            if let Some(end) = report(rollout_state(&dc)) {
                return end;
            }
        }
        Err(CliError::User("the watch ended".into()))
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, wait).await.unwrap_or_else(|_| {
            Err(CliError::RolloutFailed(format!(
                "timed out after {t:?} waiting for the rollout"
            )))
        }),
        None => wait.await,
    }
}
