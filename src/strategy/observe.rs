//! The planner's `Observed`, built from what was read — by the operator from its caches, by
//! `cutover deploy` and the plugin from lists. Pure: callers may pass more objects than needed.

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use crate::api::DeploymentConfig;
use crate::api::keys;

use super::{DeployerJob, HookJob, Observed, Revision};

/// Builds the planner's `Observed` from what was read, by the operator from its caches or by
/// `cutover deploy` from lists: the revisions this DeploymentConfig controls (with their pod
/// counts), the orphans labelled as its revisions, the ReplicaSets it controls but no longer
/// labels, and its hook and deployer Jobs. Objects of
/// other DeploymentConfigs or namespaces are skipped, so callers may pass more than needed.
pub fn build<'o>(
    dc: &DeploymentConfig,
    replica_sets: impl IntoIterator<Item = &'o ReplicaSet>,
    pods_meta: impl IntoIterator<Item = &'o ObjectMeta>,
    jobs: impl IntoIterator<Item = &'o Job>,
    deployer_image: &str,
) -> Observed {
    let ns = dc.namespace();
    let name = dc.name_any();
    let uid = dc.uid();

    // Pods that exist (terminating ones included), by revision.
    let mut pods: HashMap<String, i32> = HashMap::new();
    for pod in pods_meta {
        let labels = pod.labels.as_ref();
        if pod.namespace == ns
            && labels.and_then(|l| l.get(keys::POD_CONFIG_LABEL)) == Some(&name)
            && let Some(rev) = labels.and_then(|l| l.get(keys::POD_REVISION_LABEL))
        {
            *pods.entry(rev.clone()).or_default() += 1;
        }
    }

    let mut revisions = Vec::new();
    let mut orphans = Vec::new();
    let mut released = Vec::new();
    for rs in replica_sets {
        if rs.namespace() != ns {
            continue;
        }
        let labelled = rs.labels().get(keys::CONFIG_LABEL) == Some(&name);
        let live = rs.metadata.deletion_timestamp.is_none();
        match rs
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
        {
            Some(owner) if Some(&owner.uid) == uid.as_ref() => {
                if !labelled {
                    if live {
                        released.push(rs.name_any());
                    }
                    continue;
                }
                let count = pods.get(&rs.name_any()).copied().unwrap_or_default();
                if let Some(rev) = Revision::from_replica_set(rs, count) {
                    revisions.push(rev);
                }
            }
            Some(_) => {} // another controller's: never touched
            None if labelled && live => orphans.push(rs.name_any()),
            None => {}
        }
    }
    revisions.sort_by_key(|r| r.version);
    orphans.sort();
    released.sort();
    let ours: Vec<&Job> = jobs
        .into_iter()
        .filter(|j| j.namespace() == ns && j.labels().get(keys::CONFIG_LABEL) == Some(&name))
        .collect();
    let of_a_revision = |revision: &str| revisions.iter().any(|r| r.name == revision);
    let hook_jobs = ours
        .iter()
        .filter_map(|j| HookJob::from_job(j))
        .filter(|j| of_a_revision(&j.revision))
        .collect();
    let deployer_jobs = ours
        .iter()
        .filter_map(|j| DeployerJob::from_job(j))
        .filter(|j| of_a_revision(&j.revision))
        .collect();
    Observed {
        hook_jobs,
        deployer_jobs,
        deployer_image: deployer_image.to_string(),
        // Read by the shell for DeploymentConfigs that follow their ConfigMaps and Secrets.
        configs: Default::default(),
        dc: dc.clone(),
        revisions,
        orphans,
        released,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dc() -> DeploymentConfig {
        serde_json::from_value(json!({
            "apiVersion": "apps.openshift.io/v1",
            "kind": "DeploymentConfig",
            "metadata": {"name": "web", "namespace": "ns", "uid": "uid-web"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app"}]}}}
        }))
        .expect("dc")
    }

    /// A revision of `web` named `name`, labelled for `label`, controlled by `controller`.
    fn rs(name: &str, label: &str, controller: Option<&str>) -> ReplicaSet {
        let owners: Vec<_> = controller
            .map(|uid| {
                json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
                       "name": "web", "uid": uid, "controller": true})
            })
            .into_iter()
            .collect();
        serde_json::from_value(json!({
            "metadata": {
                "name": name, "namespace": "ns",
                "labels": {keys::CONFIG_LABEL: label},
                "annotations": {keys::LATEST_VERSION_ANNOTATION: "1"},
                "ownerReferences": owners
            }
        }))
        .expect("rs")
    }

    #[test]
    fn revisions_are_claimed_by_label_as_the_controller_ref_manager_does() {
        let replica_sets = [
            rs("web-1", "web", Some("uid-web")),
            rs("web-2", "elsewhere", Some("uid-web")),
            rs("web-3", "web", None),
            rs("web-4", "elsewhere", None),
            rs("web-5", "web", Some("uid-other")),
        ];
        let obs = build(&dc(), &replica_sets, [], [], "image");
        let names: Vec<&str> = obs.revisions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["web-1"]);
        assert_eq!(obs.released, ["web-2"], "ours, but no longer labelled ours");
        assert_eq!(obs.orphans, ["web-3"], "labelled ours, no controller");
    }
}
