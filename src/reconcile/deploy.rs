//! `cutover deploy`: the deployer process, run inside a deployer Job (or by hand, or by a Custom
//! strategy's script) for the revision its environment names.
//!
//! The thin I/O shell around `strategy::deployer::plan`: it observes the DeploymentConfig the way
//! the operator does (`observe::build`, from list calls instead of the operator's caches, so
//! every pass reads what the previous one wrote), applies the actions, prints what it did, and
//! waits for a watch event or the planner's deadline before the next pass. It exits 0 when the
//! rollout is done or its `--until` stop point is reached, 1 when the rollout failed.

use std::io::Write;
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::api::DeploymentConfig;
use crate::api::keys;
use crate::error::{Error, Result};
use crate::strategy::Until;
use crate::strategy::deployer::plan::{self as until, Outcome};
use crate::strategy::describe::{Voice, describe};
use crate::strategy::{Action, Observed};

use super::deployment_config::apply;

/// The longest wait between two passes without any event (a safety net; passes are driven by
/// watch events and the planner's deadlines).
const IDLE: Duration = Duration::from_secs(30);

/// Why the deployer could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("couldn't get deployment {0}: not found")]
    NoRevision(String),
    #[error("deployment {0} names no DeploymentConfig (annotation {1})")]
    NoConfigName(String, &'static str),
    #[error("couldn't get deploymentconfig {0}: not found")]
    NoConfig(String),
    #[error(transparent)]
    Api(#[from] Error),
}

/// Runs the rollout of revision `rc` in `namespace` until it is done, failed, or at `until`.
/// Returns the process's exit code.
pub async fn run(client: Client, namespace: &str, rc: &str, until: Option<Until>) -> u8 {
    let mut out = std::io::stdout();
    let mut wakeups = wakeups(&client, namespace, rc).await;
    let mut failures = 0u32;
    loop {
        let pass = async {
            let obs = observe_by_lists(&client, namespace, rc).await?;
            let decision = until::plan(&obs, rc, until, Timestamp::now());
            for action in &decision.actions {
                for said in describe(action, Voice::Deployer { revision: rc }) {
                    let _ = writeln!(out, "{said}");
                }
                act(&client, namespace, action).await?;
            }
            Ok::<_, DeployError>(decision.outcome)
        };
        let wait = match pass.await {
            Ok(Outcome::Continue(after)) => {
                failures = 0;
                after.map_or(IDLE, |d| d.min(IDLE) + Duration::from_millis(50))
            }
            Ok(Outcome::Done) => {
                let _ = writeln!(out, "--> Success");
                return 0;
            }
            Ok(Outcome::Stopped(message)) => {
                let _ = writeln!(out, "--> {message}");
                return 0;
            }
            Ok(Outcome::Failed(message)) => {
                let _ = out.flush();
                eprintln!("error: {message}");
                return 1;
            }
            Err(DeployError::Api(e)) if e.is_transient() => {
                // The API server is busy or a write conflicted: look again shortly (the Job's
                // activeDeadlineSeconds bounds how long).
                failures = failures.saturating_add(1);
                let after = Duration::from_secs(1u64 << failures.min(4));
                let _ = writeln!(out, "--> warning: {e}; trying again in {after:?}");
                after
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("error: {e}");
                return 1;
            }
        };
        let _ = out.flush();
        wait_for_change(&mut wakeups, wait).await;
    }
}

/// The DeploymentConfig of revision `rc` as the planner sees it, read with list calls.
pub async fn observe_by_lists(
    client: &Client,
    namespace: &str,
    rc: &str,
) -> Result<Observed, DeployError> {
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let to = replica_sets
        .get_opt(rc)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| DeployError::NoRevision(rc.into()))?;
    let dc_name = to
        .annotations()
        .get(keys::CONFIG_ANNOTATION)
        .cloned()
        .ok_or(DeployError::NoConfigName(
            rc.into(),
            keys::CONFIG_ANNOTATION,
        ))?;
    let dcs: Api<DeploymentConfig> = Api::namespaced(client.clone(), namespace);
    let dc = dcs
        .get_opt(&dc_name)
        .await
        .map_err(Error::from)?
        .ok_or_else(|| DeployError::NoConfig(format!("{namespace}/{dc_name}")))?;
    let of_dc = ListParams::default().labels(&format!("{}={dc_name}", keys::CONFIG_LABEL));
    let revisions = replica_sets.list(&of_dc).await.map_err(Error::from)?;
    let jobs = Api::<Job>::namespaced(client.clone(), namespace)
        .list(&of_dc)
        .await
        .map_err(Error::from)?;
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list_metadata(
            &ListParams::default().labels(&format!("{}={dc_name}", keys::POD_CONFIG_LABEL)),
        )
        .await
        .map_err(Error::from)?;
    Ok(crate::strategy::observe::build(
        &dc,
        &revisions.items,
        pods.items.iter().map(|p| &p.metadata),
        &jobs.items,
        // The deployer never creates a deployer Job.
        "",
    ))
}

/// Carries out one action of the deployer's plan.
async fn act(client: &Client, namespace: &str, action: &Action) -> Result<(), DeployError> {
    match action {
        Action::Update(update) => {
            let api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
            apply::update_revision(&api, update).await?;
        }
        Action::CreateJob { name, manifest } => {
            apply::create_job(client, namespace, name, manifest).await?
        }
        Action::DeleteJob { name } => apply::delete_job(client, namespace, name).await?,
        Action::TagImages {
            revision,
            point,
            tags,
        } => {
            let result = apply::tag_images(client, tags).await?;
            let update = crate::strategy::RevisionUpdate::new(revision)
                .annotate(&point.tag_result_annotation(), Some(result));
            let api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
            apply::update_revision(&api, &update).await?;
        }
        // Printed by `strategy::describe`; the deployer records no events (its Role grants none).
        Action::Event(_) => {}
        // The rollout planner never asks for these; the operator's ladder does.
        Action::Adopt { .. }
        | Action::Release { .. }
        | Action::CreateRevision { .. }
        | Action::DeleteRevision { .. }
        | Action::RollBackConfig { .. }
        | Action::CreateDeployerJob { .. } => {}
    }
    Ok(())
}

type Wakeups = std::pin::Pin<Box<dyn Stream<Item = ()> + Send>>;

/// One stream of "something changed" from watches on the DeploymentConfig's revisions, Jobs
/// and pods.
async fn wakeups(client: &Client, namespace: &str, rc: &str) -> Wakeups {
    let dc_name = Api::<ReplicaSet>::namespaced(client.clone(), namespace)
        .get_opt(rc)
        .await
        .ok()
        .flatten()
        .and_then(|rs| rs.annotations().get(keys::CONFIG_ANNOTATION).cloned())
        .unwrap_or_default();
    let of_dc = watcher::Config::default().labels(&format!("{}={dc_name}", keys::CONFIG_LABEL));
    let pods = watcher::Config::default().labels(&format!("{}={dc_name}", keys::POD_CONFIG_LABEL));
    let rs = watcher(
        Api::<ReplicaSet>::namespaced(client.clone(), namespace),
        of_dc.clone(),
    )
    .default_backoff()
    .map(|_| ());
    let jobs = watcher(Api::<Job>::namespaced(client.clone(), namespace), of_dc)
        .default_backoff()
        .map(|_| ());
    let pods = watcher(
        Api::<PartialObjectMeta<Pod>>::namespaced(client.clone(), namespace),
        pods,
    )
    .default_backoff()
    .map(|_| ());
    Box::pin(futures::stream::select_all([
        rs.boxed(),
        jobs.boxed(),
        pods.boxed(),
    ]))
}

/// Waits for the next change (or `at_most`), then lets a burst of related events settle.
async fn wait_for_change(wakeups: &mut Wakeups, at_most: Duration) {
    match tokio::time::timeout(at_most, wakeups.next()).await {
        Ok(Some(())) => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            while let Some(Some(())) = wakeups.next().now_or_never() {}
        }
        // The watches ended (they should not): fall back to waiting out the deadline.
        Ok(None) => tokio::time::sleep(at_most).await,
        Err(_) => {}
    }
}
