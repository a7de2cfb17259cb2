//! The watches: when each object finished each round, when each ReplicaSet appeared, and how each
//! ReplicaSet's spec.replicas, status.replicas and status.availableReplicas changed over time.
#![allow(dead_code)] // shared by benches/scale.rs, fleet.rs and shards.rs, each uses a part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cutover::api::DeploymentConfig;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::task::JoinHandle;

use crate::objects::{dc_done, deployment_done};

/// What the watches saw.
#[derive(Default)]
pub struct Seen {
    /// When each object was first seen done with round 1 and round 2.
    pub done: HashMap<(Kind, String, i64), Instant>,
    /// When each ReplicaSet of an object first appeared, in order.
    pub replica_sets: HashMap<(Kind, String), Vec<Instant>>,
    /// Every ReplicaSet, by its own name, with its owner and its changes.
    pub tracks: HashMap<(Kind, String), Track>,
}

impl Seen {
    /// When the last object of `kind` was seen done with `round`.
    pub fn last_done(&self, kind: Kind, round: i64) -> Option<Instant> {
        self.done
            .iter()
            .filter(|((k, _, r), _)| *k == kind && *r == round)
            .map(|(_, t)| *t)
            .max()
    }
}

/// One ReplicaSet over time.
pub struct Track {
    pub owner: String,
    pub created: Instant,
    /// Each watch event that changed one of the counts, in order.
    pub changes: Vec<Change>,
}

/// A ReplicaSet's counts as one watch event showed them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// spec.replicas: what its controller asked for.
    pub spec: i32,
    /// status.replicas: its pods, terminating ones gone.
    pub replicas: i32,
    /// status.availableReplicas.
    pub available: i32,
}

#[derive(Clone, Copy, Debug)]
pub struct Change {
    pub at: Instant,
    pub counts: Counts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Dc,
    Deployment,
}

impl Kind {
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Dc => "DeploymentConfigs",
            Kind::Deployment => "Deployments",
        }
    }
}

/// Watches the objects of each side (kind, namespace) and their ReplicaSets.
pub fn watch_all(
    admin: &Client,
    sides: &[(Kind, &str)],
    replicas: i32,
    seen: Arc<Mutex<Seen>>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for &(kind, ns) in sides {
        tasks.push(match kind {
            Kind::Dc => watch_done(
                Api::<DeploymentConfig>::namespaced(admin.clone(), ns),
                Kind::Dc,
                move |dc, round| dc_done(dc, replicas, round),
                seen.clone(),
            ),
            Kind::Deployment => watch_done(
                Api::<Deployment>::namespaced(admin.clone(), ns),
                Kind::Deployment,
                move |d, round| deployment_done(d, replicas, round),
                seen.clone(),
            ),
        });
        let api = Api::<ReplicaSet>::namespaced(admin.clone(), ns);
        tasks.push(watch_replica_sets(api, kind, seen.clone()));
    }
    tasks
}

/// Records when each object of `api` is first `done` with round 1 and round 2.
fn watch_done<K>(
    api: Api<K>,
    kind: Kind,
    done: impl Fn(&K, i64) -> bool + Send + 'static,
    seen: Arc<Mutex<Seen>>,
) -> JoinHandle<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    tokio::spawn(async move {
        let mut w = std::pin::pin!(
            watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
        );
        // A watch error (a relist after an expired resource version, say) is retried by the
        // watcher with backoff: go on, do not stop watching.
        while let Some(event) = w.next().await {
            let Ok(object) = event else { continue };
            for round in [1, 2] {
                if done(&object, round) {
                    let mut s = seen.lock().expect("seen");
                    s.done
                        .entry((kind, object.name_any(), round))
                        .or_insert_with(Instant::now);
                }
            }
        }
    })
}

fn counts(rs: &ReplicaSet) -> Counts {
    let status = rs.status.as_ref();
    Counts {
        spec: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        replicas: status.map_or(0, |s| s.replicas),
        available: status.and_then(|s| s.available_replicas).unwrap_or(0),
    }
}

/// Records when each ReplicaSet of `api` first appears, under the name of its owner, and every
/// change of its counts.
fn watch_replica_sets(api: Api<ReplicaSet>, kind: Kind, seen: Arc<Mutex<Seen>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut w = std::pin::pin!(
            watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
        );
        while let Some(event) = w.next().await {
            let Ok(rs) = event else { continue };
            let now = Instant::now();
            let Some(owner) = rs.owner_references().first().map(|o| o.name.clone()) else {
                continue;
            };
            let c = counts(&rs);
            let mut s = seen.lock().expect("seen");
            let key = (kind, rs.name_any());
            if !s.tracks.contains_key(&key) {
                s.replica_sets
                    .entry((kind, owner.clone()))
                    .or_default()
                    .push(now);
                s.tracks.insert(
                    key.clone(),
                    Track {
                        owner,
                        created: now,
                        changes: Vec::new(),
                    },
                );
            }
            let track = s.tracks.get_mut(&key).expect("track");
            if track.changes.last().is_none_or(|l| l.counts != c) {
                track.changes.push(Change { at: now, counts: c });
            }
        }
    })
}

/// Waits until `want` objects of each of `kinds` finished `round`, printing progress; false when
/// `timeout` ran out first.
pub async fn wait_round(
    seen: &Mutex<Seen>,
    what: &str,
    round: i64,
    kinds: &[Kind],
    want: usize,
    timeout: Duration,
) -> bool {
    let start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let done: Vec<usize> = {
            let s = seen.lock().expect("seen");
            kinds
                .iter()
                .map(|k| {
                    s.done
                        .keys()
                        .filter(|(kind, _, r)| kind == k && *r == round)
                        .count()
                })
                .collect()
        };
        let progress = kinds
            .iter()
            .zip(&done)
            .map(|(k, n)| format!("{n}/{want} {}", k.plural()))
            .collect::<Vec<_>>()
            .join(", ");
        if done.iter().all(|n| *n >= want) {
            eprintln!(
                "  {what}: {progress} done in {:.1}s",
                start.elapsed().as_secs_f64()
            );
            return true;
        }
        if start.elapsed() >= timeout {
            eprintln!("  {what}: only {progress} done after {timeout:?}: stopping here");
            return false;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  {what}: {progress} done ({:.0}s)",
                start.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
