//! The simulated cluster's objects and controllers: ReplicaSets whose pods come and go as the
//! ReplicaSet controller makes them, pods that become ready after a delay (or never), Jobs
//! that succeed or fail after a delay; each read as the API server would return it.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::World;
use crate::api::keys;

/// A pod of a simulated ReplicaSet.
#[derive(Debug, Clone)]
pub struct Pod {
    pub ready_at: Option<Timestamp>,
    /// Set once deleted: it still exists until then.
    pub gone_at: Option<Timestamp>,
}

/// A simulated ReplicaSet: its manifest, the replicas it asks for and the pods it has.
#[derive(Debug, Clone)]
pub struct Rs {
    pub manifest: Value,
    pub spec: i32,
    pub generation: i64,
    pub observed_generation: i64,
    pub pods: Vec<Pod>,
    pub created: Timestamp,
    /// When its spec last changed (the ReplicaSet controller acts on it `replica_set_lag` later).
    pub changed_at: Timestamp,
}

impl Rs {
    pub fn name(&self) -> String {
        self.manifest["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn annotation(&self, key: &str) -> Option<String> {
        self.manifest["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_string)
    }
    pub fn live(&self) -> impl Iterator<Item = &Pod> {
        self.pods.iter().filter(|p| p.gone_at.is_none())
    }
    /// Its minReadySeconds, as the revision records it (each revision its own).
    pub fn min_ready(&self) -> SignedDuration {
        SignedDuration::from_secs(
            self.manifest["spec"]["minReadySeconds"]
                .as_i64()
                .unwrap_or(0),
        )
    }
    /// Its pods that are not terminating and have been ready for its minReadySeconds at `now`.
    pub fn available(&self, now: Timestamp) -> i32 {
        let min_ready = self.min_ready();
        self.live()
            .filter(|p| p.ready_at.is_some_and(|t| t + min_ready <= now))
            .count() as i32
    }

    /// The ReplicaSet as the API server would return it at `now`, its status as its
    /// controller reports it.
    pub(super) fn replica_set(&self, now: Timestamp) -> Option<ReplicaSet> {
        let mut obj: ReplicaSet = serde_json::from_value(self.manifest.clone()).ok()?;
        obj.metadata.generation = Some(self.generation);
        obj.metadata.creation_timestamp = Some(Time(self.created));
        if let Some(spec) = obj.spec.as_mut() {
            spec.replicas = Some(self.spec);
        }
        let ready = self
            .live()
            .filter(|p| p.ready_at.is_some_and(|t| t <= now))
            .count() as i32;
        let available = self.available(now);
        obj.status = Some(ReplicaSetStatus {
            replicas: self.live().count() as i32,
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            observed_generation: Some(self.observed_generation),
            ..Default::default()
        });
        Some(obj)
    }
}

/// How a hook's (or deployer's) Job behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRun {
    SucceedAfter(i64),
    FailAfter(i64),
    /// Runs until the test ends it (`World::exit_job`): a deployer whose process the test runs.
    Manual,
}

/// A simulated hook or deployer Job.
#[derive(Debug, Clone)]
pub struct SimJob {
    pub manifest: Value,
    pub created: Timestamp,
    pub run: HookRun,
}

impl SimJob {
    pub fn name(&self) -> String {
        self.manifest["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn point(&self) -> String {
        self.manifest["metadata"]["labels"][keys::DEPLOYER_POD_TYPE_LABEL]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn revision(&self) -> String {
        self.manifest["metadata"]["labels"][keys::DEPLOYER_POD_FOR_LABEL]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The Job as the API server would return it at `now`.
    pub(super) fn job(&self, now: Timestamp) -> Option<Job> {
        let mut job: Job = serde_json::from_value(self.manifest.clone()).ok()?;
        let (done, failed) = match self.run {
            HookRun::SucceedAfter(s) => (self.created + SignedDuration::from_secs(s) <= now, false),
            HookRun::FailAfter(s) => (self.created + SignedDuration::from_secs(s) <= now, true),
            HookRun::Manual => (false, false),
        };
        // Its pod runs (is ready) a second after the Job is created.
        if !done && self.created + SignedDuration::from_secs(1) <= now {
            job.status = serde_json::from_value(json!({"active": 1, "ready": 1})).ok();
        }
        if done {
            let condition = if failed {
                json!({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"})
            } else {
                json!({"type": "Complete", "status": "True"})
            };
            job.status = serde_json::from_value(json!({"conditions": [condition]})).ok();
        }
        Some(job)
    }
}

/// How the pods of a revision behave.
#[derive(Debug, Clone, Copy)]
pub enum Readiness {
    After(i64),
    Never,
    /// At most `pods` of the revision's pods become ready (after `after` seconds); the others
    /// never do, as when only that many fit on the nodes.
    AtMost {
        pods: usize,
        after: i64,
    },
}

impl World {
    /// The ReplicaSet controller and the pods: one second of the world.
    ///
    /// Within the second, each ReplicaSet's controller acts on its own and pods finish
    /// terminating on their own, in no order anything may count on: the peaks kept are those of
    /// the worst order, every pod created before any is marked deleted or goes.
    pub(super) fn tick_cluster(&mut self) {
        let now = self.now;
        let termination = SignedDuration::from_secs(self.termination_seconds);
        let lag = SignedDuration::from_secs(self.replica_set_lag);
        let mut created = 0;
        let (pods_before, running_before) = (self.total_pods(), self.running_pods());
        for rs in &mut self.rss {
            rs.pods.retain(|p| p.gone_at.is_none_or(|t| t > now));
            if now < rs.changed_at + lag {
                continue;
            }
            let version = World::version_of(rs);
            let live = rs.live().count() as i32;
            if live < rs.spec {
                let readiness = self
                    .readiness
                    .get(&version)
                    .copied()
                    .unwrap_or(Readiness::After(self.ready_after));
                let mut schedulable = rs.live().filter(|p| p.ready_at.is_some()).count();
                for _ in live..rs.spec {
                    let ready_at = match readiness {
                        Readiness::After(s) => Some(now + SignedDuration::from_secs(s)),
                        Readiness::Never => None,
                        Readiness::AtMost { pods, after } if schedulable < pods => {
                            schedulable += 1;
                            Some(now + SignedDuration::from_secs(after))
                        }
                        Readiness::AtMost { .. } => None,
                    };
                    rs.pods.push(Pod {
                        ready_at,
                        gone_at: None,
                    });
                    created += 1;
                }
            } else if live > rs.spec {
                // Like the ReplicaSet controller: not-ready pods go first, then those ready for
                // the shortest time; deletion takes `termination_seconds`.
                let mut excess = live - rs.spec;
                let mut order: Vec<usize> = (0..rs.pods.len())
                    .filter(|&i| rs.pods[i].gone_at.is_none())
                    .collect();
                order.sort_by_key(|&i| match rs.pods[i].ready_at {
                    Some(t) if t <= now => (1, std::cmp::Reverse(t)),
                    _ => (0, std::cmp::Reverse(now)),
                });
                for i in order {
                    if excess == 0 {
                        break;
                    }
                    rs.pods[i].gone_at = Some(now + termination);
                    excess -= 1;
                }
            }
            rs.observed_generation = rs.generation;
        }
        self.peak_pods = pods_before + created;
        self.peak_running = running_before + created;
    }
}
