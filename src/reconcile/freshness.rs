//! Never decide on a cache older than our own writes.
//!
//! A reconcile can start before the watch has delivered what the previous one wrote (a
//! revision just created, its new phase, the DeploymentConfig's new status). Deciding on that
//! stale view would redo work: a status without what it recorded, a create that collides, a hook
//! outcome seen twice. So every write of a revision remembers the resourceVersion the API server
//! returned, and a reconcile whose cache is older waits for the watch to catch up; our writes of
//! the DeploymentConfig itself are kept whole and read back instead (`Written`). resourceVersions are etcd
//! revisions that only grow; Argo Rollouts' stale-cache guard makes the same comparison. A record
//! expires after a while, so an object deleted by someone else never blocks for long.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::{Resource, ResourceExt};

/// How long a write is waited for at most.
const EXPIRY: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Freshness {
    written: Mutex<BTreeMap<String, (u64, Instant)>>,
}

fn key(kind: &str, ns: &str, name: &str) -> String {
    format!("{kind}/{ns}/{name}")
}

fn version<K: Resource>(obj: &K) -> Option<u64> {
    obj.resource_version()?.parse().ok()
}

impl Freshness {
    /// Remembers the version of an object as a write returned it.
    pub fn wrote<K: Resource<DynamicType = ()>>(&self, obj: &K) {
        let ns = obj.namespace().unwrap_or_default();
        self.wrote_raw(&K::kind(&()), &ns, &obj.name_any(), version(obj));
    }

    pub fn wrote_raw(&self, kind: &str, ns: &str, name: &str, version: Option<u64>) {
        let Some(v) = version else { return };
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let entry = written
            .entry(key(kind, ns, name))
            .or_insert((0, Instant::now()));
        *entry = (entry.0.max(v), Instant::now());
    }

    /// Whether the cache is behind our last write of this object: `cached` is its version in
    /// the cache (`None` when the cache does not have it). Forgets the write once caught up.
    pub fn is_stale(&self, kind: &str, ns: &str, name: &str, cached: Option<u64>) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(kind, ns, name);
        match written.get(&k) {
            Some(&(w, at)) if at.elapsed() < EXPIRY && cached.is_none_or(|c| c < w) => true,
            Some(_) => {
                written.remove(&k);
                false
            }
            None => false,
        }
    }

    /// Forgets an object we deleted.
    pub fn forget(&self, kind: &str, ns: &str, name: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(kind, ns, name));
    }

    /// Objects of `kind` in `ns` whose names start with `name_prefix` that we wrote and still
    /// wait for. (Records are sorted, so this reads only those: a reconcile's cost does not grow
    /// with the writes made for other DeploymentConfigs.)
    pub fn pending(&self, kind: &str, ns: &str, name_prefix: &str) -> Vec<String> {
        let prefix = key(kind, ns, "");
        let from = key(kind, ns, name_prefix);
        let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        written
            .range(from.clone()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&from))
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }
}

/// The objects we wrote last, kept until the cache has caught up with them. A reconcile that
/// starts before the watch has delivered our own write reads what we wrote, which is newer than
/// anything cached, instead of waiting for the watch (`make bench`: the last pass of a rollout
/// waited a second on its own status writes, a dozen passes in a row).
pub struct Written<K> {
    /// By namespace and name: when we wrote it, and what the API server returned.
    objects: Mutex<HashMap<(String, String), Stamped<K>>>,
}

type Stamped<K> = (Instant, Arc<K>);

impl<K> Default for Written<K> {
    fn default() -> Self {
        Written {
            objects: Mutex::new(HashMap::new()),
        }
    }
}

/// Records kept before old ones are swept (objects deleted since are never read again).
const SWEEP_ABOVE: usize = 4096;

impl<K: Resource> Written<K> {
    pub fn record(&self, obj: K) {
        let key = (obj.namespace().unwrap_or_default(), obj.name_any());
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects.insert(key, (Instant::now(), Arc::new(obj)));
        if objects.len() > SWEEP_ABOVE {
            objects.retain(|_, (at, _)| at.elapsed() < EXPIRY);
        }
    }

    /// What we wrote, when it is newer than `cached`; otherwise `cached`.
    pub fn newest(&self, cached: Arc<K>) -> Arc<K> {
        let key = (cached.namespace().unwrap_or_default(), cached.name_any());
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        match objects.get(&key) {
            Some((at, ours))
                if at.elapsed() < EXPIRY && version(ours.as_ref()) > version(cached.as_ref()) =>
            {
                ours.clone()
            }
            Some(_) => {
                objects.remove(&key);
                cached
            }
            None => cached,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_reads_our_own_write_until_the_cache_has_it() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let at = |rv: &str| {
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some("web".into());
            cm.metadata.namespace = Some("ns".into());
            cm.metadata.resource_version = Some(rv.into());
            Arc::new(cm)
        };
        let written = Written::default();
        // The version a reconcile reads, when the cache holds `cached`.
        let read = |cached: &str| written.newest(at(cached)).metadata.resource_version.clone();
        assert_eq!(read("10").as_deref(), Some("10"));
        written.record((*at("12")).clone());
        assert_eq!(
            read("10").as_deref(),
            Some("12"),
            "the cache is behind: our write"
        );
        assert_eq!(
            read("15").as_deref(),
            Some("15"),
            "the cache caught up (and moved on)"
        );
        assert_eq!(
            read("11").as_deref(),
            Some("11"),
            "forgotten once caught up"
        );
    }

    #[test]
    fn pending_reads_only_the_names_asked_for() {
        let f = Freshness::default();
        for name in ["db-1", "web-1", "web-canary-1", "webapp-1", "web-2"] {
            f.wrote_raw("ReplicaSet", "ns", name, Some(5));
        }
        f.wrote_raw("ReplicaSet", "other", "web-1", Some(5));
        f.wrote_raw("DeploymentConfig", "ns", "web", Some(5));
        assert_eq!(
            f.pending("ReplicaSet", "ns", "web-"),
            ["web-1", "web-2", "web-canary-1"]
        );
    }

    #[test]
    fn stale_until_the_cache_reaches_the_write() {
        let f = Freshness::default();
        assert!(!f.is_stale("ReplicaSet", "ns", "web-1", Some(10)));
        f.wrote_raw("ReplicaSet", "ns", "web-1", Some(12));
        assert!(f.is_stale("ReplicaSet", "ns", "web-1", Some(10)));
        assert!(
            f.is_stale("ReplicaSet", "ns", "web-1", None),
            "created but not cached yet"
        );
        assert!(!f.is_stale("ReplicaSet", "ns", "web-1", Some(12)));
        assert!(
            f.pending("ReplicaSet", "ns", "web-").is_empty(),
            "forgotten once caught up"
        );
    }

    #[test]
    fn deleted_objects_are_forgotten() {
        let f = Freshness::default();
        f.wrote_raw("ReplicaSet", "ns", "web-1", Some(12));
        f.forget("ReplicaSet", "ns", "web-1");
        assert!(!f.is_stale("ReplicaSet", "ns", "web-1", None));
    }
}
