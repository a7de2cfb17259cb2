//! The shell of config triggers: the hashes of the ConfigMaps and Secrets a DeploymentConfig
//! follows (`strategy::config_triggers`), read by name when it is reconciled. Only
//! DeploymentConfigs that opted in cost a read; the watches that wake them are by metadata.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::DeploymentConfig;
use crate::error::Result;
use crate::strategy::config_triggers::{ConfigHashes, ConfigKind, followed};

use super::Context;

/// `Kind/name` → the SHA-256 of each followed object's data (`None`: it does not exist).
pub async fn read(dc: &DeploymentConfig, ctx: &Context) -> Result<ConfigHashes> {
    let ns = dc.namespace().unwrap_or_default();
    let mut hashes = ConfigHashes::new();
    for reference in followed(dc) {
        let hash = match reference.kind {
            ConfigKind::ConfigMap => Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&reference.name)
                .await?
                .map(|c| hash(&(&c.data, &c.binary_data))),
            ConfigKind::Secret => Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&reference.name)
                .await?
                .map(|s| hash(&(&s.data, &s.type_))),
        };
        hashes.insert(reference.key(), hash);
    }
    Ok(hashes)
}

/// The hex SHA-256 of the JSON of `data` (maps serialise in key order: the same data, the same
/// hash).
fn hash(data: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(data).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_same_data_hashes_the_same_and_any_change_differs() {
        let a: BTreeMap<&str, &str> = [("a", "1"), ("b", "2")].into();
        let b: BTreeMap<&str, &str> = [("b", "2"), ("a", "1")].into();
        let c: BTreeMap<&str, &str> = [("a", "1"), ("b", "3")].into();
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
        assert_eq!(hash(&a).len(), 64);
    }
}
