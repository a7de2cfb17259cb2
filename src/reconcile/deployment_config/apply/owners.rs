//! Which ReplicaSets are a DeploymentConfig's revisions: adopting orphans its label names,
//! releasing the ones it no longer names — each a compare-and-swap on the owner references.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::DeploymentConfig;
use crate::api::keys;
use crate::error::Result;

/// Takes an orphan whose label names this DeploymentConfig under its control.
pub(super) async fn adopt(dc: &DeploymentConfig, api: &Api<ReplicaSet>, name: &str) -> Result<()> {
    let Some(mut owner) = dc.controller_owner_ref(&()) else {
        return Ok(());
    };
    owner.block_owner_deletion = Some(true);
    set_owners(api, name, |rs| {
        let controlled = rs
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true));
        // Someone else's by now, or relabelled since it was observed: the next pass decides.
        (!controlled && labelled_for(rs, dc)).then(|| {
            let mut refs = rs.owner_references().to_vec();
            refs.push(owner);
            refs
        })
    })
    .await
}

/// Lets go of a ReplicaSet this DeploymentConfig controls whose label no longer names it.
pub(super) async fn release(
    dc: &DeploymentConfig,
    api: &Api<ReplicaSet>,
    name: &str,
) -> Result<()> {
    let uid = dc.uid();
    set_owners(api, name, |rs| {
        let refs = rs.owner_references();
        let ours = refs.iter().any(|o| Some(&o.uid) == uid.as_ref());
        (ours && !labelled_for(rs, dc)).then(|| {
            refs.iter()
                .filter(|o| Some(&o.uid) != uid.as_ref())
                .cloned()
                .collect()
        })
    })
    .await
}

/// Whether a ReplicaSet's `openshift.io/deployment-config.name` label names `dc`.
pub(super) fn labelled_for(rs: &ReplicaSet, dc: &DeploymentConfig) -> bool {
    rs.labels().get(keys::CONFIG_LABEL) == Some(&dc.name_any())
}

/// Replaces a ReplicaSet's owner references with what `owners` makes of the current object, if
/// anything (`None`: leave it). The resourceVersion makes this a compare-and-swap: a concurrent
/// change wins, and the next pass decides again on what it observes.
async fn set_owners(
    api: &Api<ReplicaSet>,
    name: &str,
    owners: impl FnOnce(&ReplicaSet) -> Option<Vec<OwnerReference>>,
) -> Result<()> {
    let Some(rs) = api.get_opt(name).await? else {
        return Ok(());
    };
    let Some(refs) = owners(&rs) else {
        return Ok(());
    };
    let patch =
        json!({"metadata": {"ownerReferences": refs, "resourceVersion": rs.resource_version()}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
