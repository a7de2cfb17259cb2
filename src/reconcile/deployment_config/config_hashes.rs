//! The shell of config triggers: the hashes of the ConfigMaps and Secrets a DeploymentConfig
//! follows (`strategy::config_triggers`). The watches that wake followers are by metadata; an
//! object is read by name only when the watch saw a version whose hash is not known yet, so a
//! rollout's many passes cost no reads.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::DeploymentConfig;
use crate::error::Result;
use crate::strategy::config_triggers::{ConfigHashes, ConfigKind, followed};

use super::Context;

type Key = (ConfigKind, String, String);

/// What the watches saw of ConfigMaps and Secrets (the newest resourceVersion of each that
/// exists) and the hashes read at a version: a hash is reused while its version is the newest.
#[derive(Default)]
pub struct Memo {
    seen: Mutex<HashMap<Key, String>>,
    hashes: Mutex<HashMap<Key, (String, String)>>,
}

impl Memo {
    /// The watch saw `name` at `version` (`None`: deleted).
    pub fn saw(&self, kind: ConfigKind, ns: &str, name: &str, version: Option<String>) {
        let key = (kind, ns.to_string(), name.to_string());
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match version {
            Some(v) => {
                seen.insert(key, v);
            }
            None => {
                seen.remove(&key);
                // Gone: its hash will not be wanted at that version again.
                self.hashes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
            }
        }
    }

    /// The watch starts listing again: what it saw before may be gone; read until it has listed.
    pub fn forget_seen(&self) {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn known(&self, key: &Key) -> Option<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let hashes = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        let (version, hash) = hashes.get(key)?;
        (seen.get(key) == Some(version)).then(|| hash.clone())
    }

    fn remember(&self, key: Key, version: String, hash: String) {
        self.hashes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (version, hash));
    }
}

/// `Kind/name` → the SHA-256 of each followed object's data (`None`: it does not exist).
pub async fn read(dc: &DeploymentConfig, ctx: &Context) -> Result<ConfigHashes> {
    let ns = dc.namespace().unwrap_or_default();
    let mut hashes = ConfigHashes::new();
    for reference in followed(dc) {
        let key = (reference.kind, ns.clone(), reference.name.clone());
        if let Some(known) = ctx.config_hashes.known(&key) {
            hashes.insert(reference.key(), Some(known));
            continue;
        }
        let read = match reference.kind {
            ConfigKind::ConfigMap => Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&reference.name)
                .await?
                .map(|c| (c.resource_version(), hash(&(&c.data, &c.binary_data)))),
            ConfigKind::Secret => Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&reference.name)
                .await?
                .map(|s| (s.resource_version(), hash(&(&s.data, &s.type_)))),
        };
        if let Some((Some(version), hash)) = &read {
            ctx.config_hashes
                .remember(key, version.clone(), hash.clone());
        }
        hashes.insert(reference.key(), read.map(|(_, hash)| hash));
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
    fn a_hash_is_reused_only_while_the_watch_has_seen_no_newer_version() {
        let memo = Memo::default();
        let key = (
            ConfigKind::ConfigMap,
            "ns".to_string(),
            "settings".to_string(),
        );
        memo.remember(key.clone(), "5".into(), "h5".into());
        assert_eq!(memo.known(&key), None, "not seen by the watch yet: read it");
        memo.saw(ConfigKind::ConfigMap, "ns", "settings", Some("5".into()));
        assert_eq!(memo.known(&key).as_deref(), Some("h5"));
        memo.saw(ConfigKind::ConfigMap, "ns", "settings", Some("6".into()));
        assert_eq!(memo.known(&key), None, "changed: read it");
        memo.saw(ConfigKind::ConfigMap, "ns", "settings", Some("5".into()));
        memo.saw(ConfigKind::ConfigMap, "ns", "settings", None);
        assert_eq!(memo.known(&key), None, "deleted: read it");
        memo.saw(ConfigKind::ConfigMap, "ns", "settings", Some("5".into()));
        memo.forget_seen();
        assert_eq!(memo.known(&key), None, "relisting: read it");
    }

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
