//! Builds the planner's `Observed` from the watch caches (`strategy::observe::build` does the
//! sorting out), and tells when those caches are behind our own writes.

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::DeploymentConfig;
use crate::api::keys;
use crate::strategy::Observed;
use crate::strategy::observe::build;

use super::Context;

/// The revision of this DeploymentConfig we created or changed that the cache has not caught up
/// with, if any (our writes of the DeploymentConfig itself are read back, `Written`). Only its
/// own: with many DeploymentConfigs in a namespace some other one's write is nearly always in
/// flight.
pub fn stale(dc: &DeploymentConfig, ctx: &Context) -> Option<String> {
    let ns = dc.namespace().unwrap_or_default();
    let dc_name = dc.name_any();
    let owner = ObjectRef::from(dc);
    ctx.freshness
        .pending("ReplicaSet", &ns, &format!("{dc_name}-"))
        .into_iter()
        .filter(|name| keys::is_revision_name_of(name, &dc_name))
        .find(|name| {
            let cached = ctx
                .stores
                .replica_sets
                .get(&owner, name)
                .and_then(|rs| rs.resource_version()?.parse().ok());
            ctx.freshness.is_stale("ReplicaSet", &ns, name, cached)
        })
}

/// Everything the planner needs to know about one DeploymentConfig, from the caches.
pub fn snapshot(dc: &DeploymentConfig, ctx: &Context) -> Observed {
    let owner = ObjectRef::from(dc);
    let pods = ctx.stores.pods.of(&owner);
    let replica_sets = ctx.stores.replica_sets.of(&owner);
    let jobs = ctx.stores.jobs.of(&owner);
    build(
        dc,
        replica_sets.iter().map(|rs| rs.as_ref()),
        pods.iter().map(|p| &p.metadata),
        jobs.iter().map(|j| j.as_ref()),
        &ctx.deployer_image,
    )
}
