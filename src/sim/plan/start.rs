//! Where a plan starts: the simulated cluster as it stands (`from_cluster`), before a
//! manifest's first rollout (`unstarted`) or after it (`from_manifest`), always lenient (what
//! the planner asks for that the cluster cannot do is reported, not a panic).

use std::collections::{BTreeMap, HashSet};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use serde_json::{Value, json};

use super::Assumptions;
use super::arrive::{image_triggers, template_images};
use super::run::cluster_at_rest;
use crate::api::requests::RequestKind;
use crate::api::{DeploymentConfig, keys};
use crate::sim::{HookRun, Pod, Readiness, Rs, SimJob, World};
use crate::strategy::Phase;
use crate::strategy::config_triggers;
use crate::strategy::rollout::hooks::{JobState, job_state};

/// The simulated cluster as it stands: the DeploymentConfig, its ReplicaSets (their pods
/// as their status counts them) and its hook and deployer Jobs, at `now`.
pub fn from_cluster(
    dc: DeploymentConfig,
    replica_sets: &[ReplicaSet],
    jobs: &[Job],
    now: Timestamp,
    a: &Assumptions,
) -> World {
    let mut world = lenient(dc, a);
    world.now = now;
    world.generation = world.dc.metadata.generation.unwrap_or(1).max(1);
    let (replica_sets, jobs) = counted(&world.dc, replica_sets, jobs);
    let ready_after = SignedDuration::from_secs(a.ready_after_seconds);
    world.rss = (replica_sets.into_iter())
        .map(|rs| simulated_rs(rs, now, ready_after))
        .collect();
    world.jobs = (jobs.into_iter())
        .map(|job| simulated_job(job, now, a))
        .collect();
    world.configs = recorded_configs(&world);
    world
}

/// Only what the operator itself would count (strategy::observe): its revisions and the
/// orphans it adopts, not another controller's ReplicaSet or one being deleted, and the Jobs
/// of those revisions.
fn counted<'a>(
    dc: &DeploymentConfig,
    replica_sets: &'a [ReplicaSet],
    jobs: &'a [Job],
) -> (Vec<&'a ReplicaSet>, Vec<&'a Job>) {
    let observed = crate::strategy::observe::build(dc, replica_sets, std::iter::empty(), jobs, "");
    let revisions: HashSet<&str> = (observed.revisions.iter())
        .map(|r| r.name.as_str())
        .chain(observed.orphans.iter().map(String::as_str))
        .collect();
    let revision_jobs: HashSet<&str> = (observed.hook_jobs.iter())
        .map(|j| j.name.as_str())
        .chain(observed.deployer_jobs.iter().map(|j| j.name.as_str()))
        .collect();
    (
        (replica_sets.iter())
            .filter(|rs| revisions.contains(rs.metadata.name.as_deref().unwrap_or_default()))
            .collect(),
        (jobs.iter())
            .filter(|j| revision_jobs.contains(j.metadata.name.as_deref().unwrap_or_default()))
            .collect(),
    )
}

/// A ReplicaSet as the simulation runs it: the pods its status counts, those available ready
/// since its minReadySeconds, those ready just now, the others ready `ready_after` from now.
fn simulated_rs(rs: &ReplicaSet, now: Timestamp, ready_after: SignedDuration) -> Rs {
    let status = rs.status.clone().unwrap_or_default();
    let min_ready = SignedDuration::from_secs(i64::from(
        rs.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0),
    ));
    let available = status.available_replicas.unwrap_or(0).max(0);
    let ready = status.ready_replicas.unwrap_or(0).max(available);
    let pods = (0..status.replicas.max(ready))
        .map(|i| Pod {
            ready_at: Some(if i < available {
                now - min_ready
            } else if i < ready {
                now
            } else {
                now + ready_after
            }),
            gone_at: None,
        })
        .collect();
    let mut manifest = serde_json::to_value(rs).unwrap_or(Value::Null);
    if !manifest["metadata"]["annotations"].is_object() {
        manifest["metadata"]["annotations"] = json!({});
    }
    Rs {
        manifest,
        spec: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        generation: rs.metadata.generation.unwrap_or(1),
        observed_generation: status.observed_generation.unwrap_or(0),
        pods,
        created: rs.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0),
        changed_at: now,
    }
}

/// A Job as the simulation runs it. Its clock starts now: an ended Job has ended, a running one
/// runs `hook_seconds` more.
fn simulated_job(job: &Job, now: Timestamp, a: &Assumptions) -> SimJob {
    let run = match job_state(job, "") {
        JobState::Succeeded => HookRun::SucceedAfter(0),
        JobState::Failed(_) => HookRun::FailAfter(0),
        JobState::Running => HookRun::SucceedAfter(a.hook_seconds),
    };
    SimJob {
        manifest: serde_json::to_value(job).unwrap_or(Value::Null),
        created: now,
        run,
    }
}

/// The simulated cluster before a manifest's first rollout: a GitOps repository's
/// DeploymentConfig as it would be applied, its ImageChange triggers resolved to the images it
/// names.
pub fn unstarted(mut dc: DeploymentConfig, a: &Assumptions) -> World {
    dc.status = None;
    let images = template_images(&dc);
    for params in image_triggers(&mut dc) {
        let image = params.container_names.iter().find_map(|c| images.get(c));
        if let Some(image) = image.filter(|i| !i.trim().is_empty()) {
            params.last_triggered_image = Some(image.clone());
        }
    }
    let mut world = lenient(dc, a);
    world.configs = recorded_configs(&world);
    world
}

/// The simulated cluster once a manifest's first rollout is over, every pod ready: where a
/// reviewed change starts from.
pub fn from_manifest(dc: DeploymentConfig, a: &Assumptions) -> World {
    // How it got there does not matter: a plain rollout (no hooks, no deployer) brings it up.
    let strategy = dc.spec.strategy.clone();
    let mut plain = dc;
    plain.spec.strategy = crate::api::DeploymentStrategy {
        type_: strategy.type_.clone().filter(|t| t == "Recreate"),
        ..Default::default()
    };
    let mut world = unstarted(plain, a);
    let assumed = world.readiness.clone();
    world.readiness.insert(1, Readiness::After(0));
    world.run_until(60, settled, |_| {});
    if world.latest_version() == 0 {
        // No trigger started it: someone ran `rollout latest`.
        world.annotate(&RequestKind::Latest.annotation(), "first");
        world.run_until(3600, settled, |_| {});
    }
    world.readiness = assumed;
    world.dc.spec.strategy = strategy;
    world.decisions.clear();
    world.events.clear();
    world
}

/// A world that reports what the planner asks for that it cannot do instead of panicking.
pub(super) fn lenient(mut dc: DeploymentConfig, a: &Assumptions) -> World {
    if dc.metadata.namespace.is_none() {
        dc.metadata.namespace = Some("default".into());
    }
    dc.metadata.uid.get_or_insert_with(|| "plan".into());
    dc.metadata.generation.get_or_insert(1);
    let mut world = World::new(dc);
    world.strict = false;
    world.ready_after = a.ready_after_seconds;
    world.hook_seconds = a.hook_seconds;
    world.deployer_image = crate::api::defaults::DEFAULT_DEPLOYER_IMAGE.to_string();
    world
}

/// The followed ConfigMaps and Secrets as the latest revision recorded them (a placeholder
/// where it recorded none): unchanged, so only the planned change rolls out.
fn recorded_configs(world: &World) -> config_triggers::ConfigHashes {
    let latest = world.latest_version();
    let recorded: BTreeMap<String, String> = world
        .annotation_of(latest, keys::CONFIG_HASHES_ANNOTATION)
        .and_then(|h| serde_json::from_str(&h).ok())
        .unwrap_or_default();
    config_triggers::followed(&world.dc)
        .into_iter()
        .map(|r| {
            let hash = recorded
                .get(&r.key())
                .cloned()
                .unwrap_or_else(|| "unchanged".into());
            (r.key(), Some(hash))
        })
        .collect()
}

/// The latest rollout is over and every pod is where its ReplicaSet wants it.
fn settled(world: &World) -> bool {
    let latest = world.latest_version();
    latest > 0
        && world
            .phase(latest)
            .is_some_and(|p| Phase::parse(Some(&p)).is_terminal())
        && cluster_at_rest(world)
}
