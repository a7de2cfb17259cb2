//! Rollout plans: what the next rollout of a DeploymentConfig would do, step by step, before it
//! runs. The operator's own `strategy::plan` is driven over the simulated cluster (`World`),
//! started from the live state (`from_cluster`) or from a manifest (`from_manifest`, for review
//! in a pull request); there is no second implementation of the rollout to drift from the first.
//!
//! What a plan cannot know it assumes, and says so (`Assumptions`): how long pods take to become
//! ready, how long hooks run, and (with `unready`) that some new pods never become ready.

mod arrive;
mod narrate;
mod run;
mod start;

use jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use super::{Readiness, Rs, World};
use crate::api::DeploymentConfig;
use crate::api::defaults::{EffectiveStrategy, StrategyKind};
use crate::strategy::rollout::rolling::fenceposts;

pub use narrate::{Ending, Step};
pub use start::{from_cluster, from_manifest, unstarted};

use run::Run;

/// What a plan assumes of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assumptions {
    /// Seconds from a pod's start to its readiness (minReadySeconds come on top).
    pub ready_after_seconds: i64,
    /// Seconds a hook Job runs before it succeeds.
    pub hook_seconds: i64,
    /// Pods of the new revision that never become ready (a crash loop, a failing probe).
    pub unready: i32,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            ready_after_seconds: 5,
            hook_seconds: 10,
            unready: 0,
        }
    }
}

/// What is planned: the change that starts the rollout.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The DeploymentConfig as a manifest would apply it: its spec and annotations.
    pub manifest: Option<DeploymentConfig>,
    /// New images by container name, as if they arrived (an ImageChange trigger that governs
    /// the container records the image as its `lastTriggeredImage`).
    pub images: Vec<(String, String)>,
    /// `rollout latest`: a new revision even if nothing changed.
    pub latest: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("deploymentconfig {dc:?} has no container {container:?} (it has: {known})")]
    UnknownContainer {
        dc: String,
        container: String,
        known: String,
    },
    #[error("the manifest is deploymentconfig {found:?}, not {expected:?}")]
    OtherDeploymentConfig { expected: String, found: String },
    /// The trigger controller's write did not apply to the simulated DeploymentConfig.
    #[error("could not apply the image trigger's write: {0}")]
    TriggerWrite(String),
}

/// The bounds a Rolling rollout keeps, resolved for its replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounds {
    pub min_available: i32,
    pub max_pods: i32,
}

/// What the plan saw over the whole rollout, second by second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extremes {
    pub fewest_available: i32,
    pub most_pods: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPlan {
    /// `namespace/name`.
    pub deployment_config: String,
    pub strategy: String,
    pub replicas: i32,
    /// The revision serving before the change, and the one the rollout creates.
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Bounds>,
    pub assumptions: Assumptions,
    pub steps: Vec<Step>,
    pub ending: Ending,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extremes: Option<Extremes>,
    /// What the planner asked for that the cluster could not do: a bug to report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
}

/// What the plan knew when the change was made.
struct Before {
    /// The latest version: a later one is the rollout's.
    version: i64,
    /// The revision serving.
    serving: Option<String>,
    start: Timestamp,
    /// Whether the change changed the pod template.
    template_changed: bool,
    /// Why no rollout may follow, when the change itself says so.
    held: Option<String>,
}

impl Before {
    /// Makes `change` in `world`, noting what stood before.
    fn change(world: &mut World, change: &Change) -> Result<Before, PlanError> {
        let version = world.latest_version();
        let serving = active(world);
        let template = world.dc.spec.template.clone();
        let held = arrive::apply(world, change)?;
        Ok(Before {
            version,
            serving,
            start: world.now,
            template_changed: world.dc.spec.template != template,
            held,
        })
    }
}

/// Plans the rollout `change` starts in `world`.
pub fn plan(mut world: World, change: &Change, a: &Assumptions) -> Result<RolloutPlan, PlanError> {
    let before = Before::change(&mut world, change)?;
    let replicas = world.dc.spec.replicas;
    assume_unready(&mut world, before.version + 1, a);
    let strategy = world.dc.effective_strategy().ok();
    let run = Run::play(&mut world, before.version, time_limit(strategy.as_ref()));

    let latest = world.latest_version();
    let to = (latest > before.version)
        .then(|| world.revision(latest).map(Rs::name))
        .flatten();
    let ending = (run.handed_over_ending())
        .unwrap_or_else(|| narrate::ending(&world, &before, run.ended, to.as_deref()));
    let steps = shown(&world, run.steps, &before.serving, &to);
    Ok(RolloutPlan {
        deployment_config: format!(
            "{}/{}",
            world.dc.namespace().unwrap_or_default(),
            world.dc.name_any()
        ),
        strategy: strategy_name(strategy.as_ref()),
        replicas,
        from: before.serving,
        to,
        bounds: bounds(strategy.as_ref(), replicas),
        assumptions: *a,
        steps,
        ending,
        extremes: run.extremes,
        anomalies: world.anomalies,
    })
}

/// With `unready`, only so many pods of revision `version` ever become ready.
fn assume_unready(world: &mut World, version: i64, a: &Assumptions) {
    if a.unready == 0 {
        return;
    }
    let ready = (world.dc.spec.replicas - a.unready).max(0) as usize;
    let readiness = if ready == 0 {
        Readiness::Never
    } else {
        Readiness::AtMost {
            pods: ready,
            after: a.ready_after_seconds,
        }
    };
    world.readiness.insert(version, readiness);
}

/// Long enough for any rollout to end: its deadline, then the rollback.
fn time_limit(strategy: Option<&EffectiveStrategy>) -> i64 {
    strategy.map_or(21_600, |s| s.active_deadline_seconds.max(s.timeout_seconds)) + 600
}

/// The bounds a Rolling rollout of `replicas` keeps.
fn bounds(strategy: Option<&EffectiveStrategy>, replicas: i32) -> Option<Bounds> {
    let s = strategy.filter(|s| s.kind == StrategyKind::Rolling)?;
    let f = fenceposts(replicas, &s.max_surge, &s.max_unavailable, 0).ok()?;
    Some(Bounds {
        min_available: f.min_available,
        max_pods: f.max_total,
    })
}

fn strategy_name(strategy: Option<&EffectiveStrategy>) -> String {
    strategy.map_or_else(
        || "invalid".to_string(),
        |s| match (s.kind, s.runs_in_deployer()) {
            (StrategyKind::Custom, _) => "Custom".to_string(),
            (kind, true) => format!("{} (customParams)", kind.as_str()),
            (kind, false) => kind.as_str().to_string(),
        },
    )
}

/// The steps, with only the revisions the plan moves, and the one serving before.
fn shown(
    world: &World,
    mut steps: Vec<Step>,
    from: &Option<String>,
    to: &Option<String>,
) -> Vec<Step> {
    let shown: Vec<String> = world
        .rss
        .iter()
        .map(Rs::name)
        .filter(|name| {
            from.as_ref() == Some(name)
                || to.as_ref() == Some(name)
                || steps
                    .iter()
                    .any(|s| s.replicas.get(name).is_some_and(|&r| r > 0))
        })
        .collect();
    for step in &mut steps {
        step.replicas.retain(|name, _| shown.contains(name));
    }
    steps
}

/// The newest Complete revision: the one serving.
fn active(world: &World) -> Option<String> {
    let version = world.observed().active()?;
    world.revision(version).map(Rs::name)
}
