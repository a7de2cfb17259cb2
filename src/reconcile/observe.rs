//! Builds the planner's `Observed` from the reflector stores.

use std::collections::HashMap;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::DeploymentConfig;
use crate::api::keys;
use crate::strategy::{HookJob, Observed, Revision};

use super::Context;

/// Whether the caches are behind what we last wrote for this DeploymentConfig: its status, or a
/// revision we created or changed.
pub fn is_stale(dc: &DeploymentConfig, ctx: &Context) -> bool {
    if ctx.freshness.is_stale_obj(dc) {
        return true;
    }
    let ns = dc.namespace().unwrap_or_default();
    ctx.freshness.pending("ReplicaSet", &ns).iter().any(|name| {
        let cached = ctx
            .stores
            .replica_sets
            .get(&ObjectRef::new(name).within(&ns))
            .and_then(|rs| rs.resource_version()?.parse().ok());
        ctx.freshness.is_stale("ReplicaSet", &ns, name, cached)
    })
}

/// Everything the planner needs to know about one DeploymentConfig, from the caches.
pub fn snapshot(dc: &DeploymentConfig, ctx: &Context) -> Observed {
    let ns = dc.namespace();
    let name = dc.name_any();
    let uid = dc.uid();

    let mut pods: HashMap<String, i32> = HashMap::new();
    for pod in ctx.stores.pods.state() {
        if pod.namespace() == ns
            && pod.labels().get(keys::DEPLOYMENTCONFIG_LABEL) == Some(&name)
            && let Some(rev) = pod.labels().get(keys::DEPLOYMENT_LABEL)
        {
            *pods.entry(rev.clone()).or_default() += 1;
        }
    }

    let mut revisions = Vec::new();
    let mut orphans = Vec::new();
    for rs in ctx.stores.replica_sets.state() {
        if rs.namespace() != ns || rs.labels().get(keys::DEPLOYMENT_CONFIG_LABEL) != Some(&name) {
            continue;
        }
        match rs
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
        {
            Some(owner) if Some(&owner.uid) == uid.as_ref() => {
                let count = pods.get(&rs.name_any()).copied().unwrap_or(0);
                if let Some(rev) = Revision::from_replica_set(&rs, count) {
                    revisions.push(rev);
                }
            }
            Some(_) => {} // another controller's: never touched
            None if rs.metadata.deletion_timestamp.is_none() => orphans.push(rs.name_any()),
            None => {}
        }
    }
    revisions.sort_by_key(|r| r.version);
    orphans.sort();
    let hook_jobs = ctx
        .stores
        .jobs
        .state()
        .iter()
        .filter(|j| {
            j.namespace() == ns && j.labels().get(keys::DEPLOYMENT_CONFIG_LABEL) == Some(&name)
        })
        .filter_map(|j| HookJob::from_job(j))
        .filter(|j| revisions.iter().any(|r| r.name == j.revision))
        .collect();
    Observed {
        hook_jobs,
        dc: dc.clone(),
        revisions,
        orphans,
    }
}
