//! Watch caches indexed by the DeploymentConfig each object belongs to.
//!
//! A reconcile reads only its own DeploymentConfig's revisions, pods and Jobs. With one flat
//! cache it scanned every cached object for them, O(all pods) per reconcile, which made the
//! operator's CPU grow with the cluster rather than with the rollout (`make bench`, 1,000 × 10).
//! Here objects are kept by owner, so a read costs what the owner has.
//!
//! The writer is also what decides which DeploymentConfigs a watch event concerns: it sees each
//! object's previous state as it replaces it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio::sync::watch;

use crate::api::DeploymentConfig;

/// The DeploymentConfig an object belongs to (from one of its labels).
pub type Owner = ObjectRef<DeploymentConfig>;

/// An object by namespace and name.
type Key = (String, String);

struct Index<K> {
    /// Objects by owner, then by name.
    by_owner: HashMap<Owner, BTreeMap<String, Arc<K>>>,
    /// The owner each object was filed under (labels can change).
    owner_of: HashMap<Key, Owner>,
}

impl<K> Default for Index<K> {
    fn default() -> Self {
        Index {
            by_owner: HashMap::new(),
            owner_of: HashMap::new(),
        }
    }
}

impl<K: ResourceExt> Index<K> {
    /// An object and the owner it is filed under.
    fn get(&self, key: &Key) -> Option<(&Owner, &Arc<K>)> {
        let owner = self.owner_of.get(key)?;
        Some((owner, self.by_owner.get(owner)?.get(&key.1)?))
    }

    fn insert(&mut self, key: Key, owner: Owner, obj: Arc<K>) {
        self.remove(&key);
        self.by_owner
            .entry(owner.clone())
            .or_default()
            .insert(key.1.clone(), obj);
        self.owner_of.insert(key, owner);
    }

    fn remove(&mut self, key: &Key) -> Option<(Owner, Arc<K>)> {
        let owner = self.owner_of.remove(key)?;
        let objects = self.by_owner.get_mut(&owner)?;
        let obj = objects.remove(&key.1)?;
        if objects.is_empty() {
            self.by_owner.remove(&owner);
        }
        Some((owner, obj))
    }
}

/// The read side, cheap to clone.
pub struct Cache<K> {
    index: Arc<RwLock<Index<K>>>,
    ready: watch::Receiver<bool>,
}

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Cache {
            index: self.index.clone(),
            ready: self.ready.clone(),
        }
    }
}

impl<K> std::fmt::Debug for Cache<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

/// The watch that fills a cache ended before its first list was complete.
#[derive(Debug, thiserror::Error)]
#[error("the cache's watch ended before it was filled")]
pub struct NeverFilled;

impl<K: ResourceExt> Cache<K> {
    fn read(&self) -> RwLockReadGuard<'_, Index<K>> {
        read(&self.index)
    }

    /// The objects of one DeploymentConfig, by name.
    pub fn of(&self, owner: &Owner) -> Vec<Arc<K>> {
        self.read()
            .by_owner
            .get(owner)
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One object of a DeploymentConfig.
    pub fn get(&self, owner: &Owner, name: &str) -> Option<Arc<K>> {
        self.read().by_owner.get(owner)?.get(name).cloned()
    }

    /// Every object (for metrics scrapes).
    pub fn state(&self) -> Vec<Arc<K>> {
        self.read()
            .by_owner
            .values()
            .flat_map(|objects| objects.values().cloned())
            .collect()
    }

    /// Resolves once the first complete list is in.
    pub async fn wait_until_ready(&self) -> Result<(), NeverFilled> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| NeverFilled)
    }
}

/// The write side: applies watch events, and says which DeploymentConfigs each one concerns.
pub struct Writer<K> {
    index: Arc<RwLock<Index<K>>>,
    ready: watch::Sender<bool>,
    /// Which owner an object belongs to, if any (objects without one are not kept).
    owner: fn(&K) -> Option<Owner>,
    /// The part of an object whose change concerns its owner.
    state: fn(&K) -> String,
    /// The objects of a relist so far; swapped in whole when it is done.
    relist: Option<HashMap<Key, Arc<K>>>,
}

/// A new empty cache and its writer.
pub fn cache<K>(owner: fn(&K) -> Option<Owner>, state: fn(&K) -> String) -> (Cache<K>, Writer<K>) {
    let index = Arc::new(RwLock::new(Index::default()));
    let (ready_tx, ready_rx) = watch::channel(false);
    (
        Cache {
            index: index.clone(),
            ready: ready_rx,
        },
        Writer {
            index,
            ready: ready_tx,
            owner,
            state,
            relist: None,
        },
    )
}

impl<K: ResourceExt> Writer<K> {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index<K>> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one watch event; returns the DeploymentConfigs it concerns: those of objects
    /// that appeared, changed state or are gone (deleted, or missing from a relist after the
    /// watch was down). An object moved to another owner concerns both.
    pub fn apply(&mut self, event: watcher::Event<K>) -> Vec<Owner> {
        let key = |o: &K| (o.namespace().unwrap_or_default(), o.name_any());
        match event {
            watcher::Event::Apply(obj) => {
                let obj = without_managed_fields(obj);
                let concerned = self.changed(&obj);
                let (k, owner) = (key(&obj), (self.owner)(&obj));
                let mut index = self.write();
                match owner {
                    Some(owner) => index.insert(k, owner, Arc::new(obj)),
                    None => {
                        index.remove(&k);
                    }
                }
                concerned
            }
            // Only what was cached concerns anyone: a shard sees every other shard's objects
            // change as deletions (`Served::watch`), which must not wake DeploymentConfigs it
            // does not have.
            watcher::Event::Delete(obj) => {
                let gone = self.write().remove(&key(&obj)).map(|(owner, _)| owner);
                let mut concerned: Vec<Owner> = gone.into_iter().collect();
                if !concerned.is_empty() {
                    concerned.extend((self.owner)(&obj).filter(|o| !concerned.contains(o)));
                }
                concerned
            }
            watcher::Event::Init => {
                self.relist = Some(HashMap::new());
                vec![]
            }
            watcher::Event::InitApply(obj) => {
                let obj = without_managed_fields(obj);
                let concerned = self.changed(&obj);
                if (self.owner)(&obj).is_some() {
                    self.relist
                        .get_or_insert_default()
                        .insert(key(&obj), Arc::new(obj));
                }
                concerned
            }
            watcher::Event::InitDone => {
                let listed = self.relist.take().unwrap_or_default();
                let mut index = self.write();
                let mut gone: Vec<Owner> = index
                    .owner_of
                    .iter()
                    .filter(|(k, _)| !listed.contains_key(*k))
                    .map(|(_, owner)| owner.clone())
                    .collect();
                gone.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
                gone.dedup();
                let mut fresh = Index::default();
                for (k, obj) in listed {
                    if let Some(owner) = (self.owner)(&obj) {
                        fresh.insert(k, owner, obj);
                    }
                }
                *index = fresh;
                drop(index);
                self.ready.send_replace(true);
                gone
            }
        }
    }

    /// The owners concerned by `obj` replacing what is cached under its name: its owner when it
    /// is new or its state changed, and its previous owner when that differs.
    fn changed(&self, obj: &K) -> Vec<Owner> {
        let index = read(&self.index);
        let key = (obj.namespace().unwrap_or_default(), obj.name_any());
        let owner = (self.owner)(obj);
        let before = index
            .get(&key)
            .map(|(was, cached)| (was.clone(), (self.state)(cached)));
        match before {
            Some((was, state)) if Some(&was) == owner.as_ref() => {
                if state == (self.state)(obj) {
                    vec![]
                } else {
                    vec![was]
                }
            }
            Some((was, _)) => std::iter::once(was).chain(owner).collect(),
            None => owner.into_iter().collect(),
        }
    }
}

/// The index is consistent after every write, so a writer that panicked left nothing half done.
fn read<K>(index: &RwLock<Index<K>>) -> RwLockReadGuard<'_, Index<K>> {
    index.read().unwrap_or_else(|e| e.into_inner())
}

/// Managed fields are never read here and are often the largest part of a pod's metadata (one
/// entry per writer: the ReplicaSet controller, the scheduler, the kubelet), so they are not kept.
fn without_managed_fields<K: ResourceExt>(mut obj: K) -> K {
    obj.meta_mut().managed_fields = None;
    obj
}

/// The DeploymentConfig named by `label` on a namespaced object.
pub fn owner_by_label<K: ResourceExt>(obj: &K, label: &str) -> Option<Owner> {
    let name = obj.labels().get(label)?;
    Some(ObjectRef::new(name).within(&obj.namespace()?))
}

/// The DeploymentConfig that controls an object by owner reference, else the one its `label`
/// names. A revision relabelled away from its DeploymentConfig stays filed under it, so that
/// DeploymentConfig sees it and lets it go; released, it is filed under the label's.
pub fn owner_by_controller_or_label<K: ResourceExt>(obj: &K, label: &str) -> Option<Owner> {
    let controller = obj.owner_references().iter().find(|o| {
        o.controller == Some(true)
            && o.kind == "DeploymentConfig"
            && o.api_version.starts_with("apps.openshift.io/")
    });
    match controller {
        Some(o) => Some(ObjectRef::new(&o.name).within(&obj.namespace()?)),
        None => owner_by_label(obj, label),
    }
}

#[cfg(test)]
mod tests;
