//! The watches: when each object finished each round, when each ReplicaSet appeared.

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

/// What the watches saw: when each object finished each round, when each ReplicaSet appeared.
#[derive(Default)]
pub struct Seen {
    pub done: HashMap<(Kind, String, i64), Instant>,
    pub replica_sets: HashMap<(Kind, String), Vec<Instant>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Dc,
    Deployment,
}

pub fn watch_all(
    admin: &Client,
    ns_dc: &str,
    ns_d: &str,
    replicas: i32,
    seen: Arc<Mutex<Seen>>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![
        watch_done(
            Api::<DeploymentConfig>::namespaced(admin.clone(), ns_dc),
            Kind::Dc,
            move |dc, round| dc_done(dc, replicas, round),
            seen.clone(),
        ),
        watch_done(
            Api::<Deployment>::namespaced(admin.clone(), ns_d),
            Kind::Deployment,
            move |d, round| deployment_done(d, replicas, round),
            seen.clone(),
        ),
    ];
    for (kind, ns) in [(Kind::Dc, ns_dc), (Kind::Deployment, ns_d)] {
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
        while let Some(Ok(object)) = w.next().await {
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

/// Records when each ReplicaSet of `api` first appears, under the name of its owner.
fn watch_replica_sets(api: Api<ReplicaSet>, kind: Kind, seen: Arc<Mutex<Seen>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut known = std::collections::HashSet::new();
        let mut w = std::pin::pin!(
            watcher(api, watcher::Config::default())
                .default_backoff()
                .applied_objects()
        );
        while let Some(Ok(rs)) = w.next().await {
            if !known.insert(rs.name_any()) {
                continue;
            }
            let Some(owner) = rs.owner_references().first().map(|o| o.name.clone()) else {
                continue;
            };
            seen.lock()
                .expect("seen")
                .replica_sets
                .entry((kind, owner))
                .or_default()
                .push(Instant::now());
        }
    })
}

/// Waits until `want` objects finished `round`, printing progress; false when `timeout` ran out
/// first.
pub async fn wait_round(
    seen: &Mutex<Seen>,
    what: &str,
    round: i64,
    want: usize,
    timeout: Duration,
) -> bool {
    let start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let (dcs, ds) = {
            let s = seen.lock().expect("seen");
            let count = |k| {
                s.done
                    .keys()
                    .filter(|(kind, _, r)| *kind == k && *r == round)
                    .count()
            };
            (count(Kind::Dc), count(Kind::Deployment))
        };
        if dcs >= want && ds >= want {
            eprintln!(
                "  {what}: {dcs}/{want} DeploymentConfigs, {ds}/{want} Deployments done in {:.1}s",
                start.elapsed().as_secs_f64()
            );
            return true;
        }
        if start.elapsed() >= timeout {
            eprintln!(
                "  {what}: only {dcs} DeploymentConfigs and {ds} Deployments of {want} done after {timeout:?}: stopping here"
            );
            return false;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  {what}: {dcs}/{want} DeploymentConfigs, {ds}/{want} Deployments done ({:.0}s)",
                start.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
