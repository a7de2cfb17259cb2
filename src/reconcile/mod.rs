//! The I/O shell: observe the cluster, call a pure planner, carry out its decision.
//!
//! Nothing here decides anything about a rollout or a Route; it reads reflector stores (no API
//! list per reconcile), carries the planners' actions out idempotently and writes each status
//! once. One folder or file per controller, and what they share:
//!
//! - [`deployment_config`]: the DeploymentConfig controller (observe, apply, image and config
//!   triggers, hook output);
//! - [`image_stream`]: the ImageStream importer;
//! - [`annotation_trigger`]: `image.openshift.io/triggers` on Deployments, StatefulSets,
//!   DaemonSets and CronJobs;
//! - [`route`]: the Route controller (and its traffic shift's checks);
//! - [`deploy`]: the loop `cutover deploy` runs inside a deployer Job;
//! - shared: [`cache`] (label-indexed watch caches), [`events`], [`freshness`] (our own writes
//!   read before an older cache), and the one retry policy below.

pub mod annotation_trigger;
pub mod cache;
pub mod deploy;
pub mod deployment_config;
pub mod events;
pub mod freshness;
pub mod image_stream;
#[cfg(test)]
pub(crate) mod mock_api;
pub mod route;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::controller::Action as Requeue;
use kube::{Resource, ResourceExt};
use tracing::warn;

use crate::error::Error;

/// Per-object exponential backoff after transient failures: 1 s doubling to 5 min, forgotten
/// on the object's next success. Other objects are not slowed by one that keeps failing. Each
/// controller keeps its own, so an object is known by its namespace and name.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<(String, String), u32>>,
}

impl Backoff {
    /// The delay before retrying `object` after one more failure.
    pub fn next<K: Resource>(&self, object: &K) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key_of(object)).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 1u64 << (*n - 1).min(9);
        Duration::from_secs(secs.min(300))
    }

    /// `object` reconciled: its next failure starts again at one second.
    pub fn reset<K: Resource>(&self, object: &K) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&key_of(object));
    }
}

/// The `(namespace, name)` of an object: how a controller's backoff and its change channels
/// know it.
pub fn key_of<K: Resource>(object: &K) -> (String, String) {
    (object.namespace().unwrap_or_default(), object.name_any())
}

/// A controller's context, as the retry policy sees it.
pub trait Retrying {
    /// What the controller reconciles, for the log ("DeploymentConfig", "Deployment trigger", …).
    fn subject(&self) -> &str;
    fn backoff(&self) -> &Backoff;
}

/// The one error policy of every controller: a transient error is retried with the object's
/// backoff; any other is already a condition or an event on the object (or cannot be fixed by
/// trying again), so the object waits for its next change instead of failing forever.
pub fn error_policy<K: Resource, C: Retrying>(
    object: Arc<K>,
    error: &Error,
    ctx: Arc<C>,
) -> Requeue {
    let (namespace, name) = key_of(object.as_ref());
    let subject = ctx.subject();
    if error.is_transient() {
        let after = ctx.backoff().next(object.as_ref());
        warn!(namespace, name, subject, %error, retry_in = ?after, "reconcile failed");
        Requeue::requeue(after)
    } else {
        warn!(namespace, name, subject, %error, "reconcile failed permanently");
        Requeue::await_change()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DeploymentConfig;

    fn dc(name: &str) -> DeploymentConfig {
        let mut dc = DeploymentConfig::new(name, Default::default());
        dc.metadata.namespace = Some("ns".into());
        dc
    }

    #[test]
    fn backoff_doubles_per_object_caps_at_five_minutes_and_resets() {
        let backoff = Backoff::default();
        let (a, b) = (dc("a"), dc("b"));
        let delays: Vec<u64> = (0..12).map(|_| backoff.next(&a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(
            backoff.next(&b).as_secs(),
            1,
            "another object is not slowed"
        );
        backoff.reset(&a);
        assert_eq!(backoff.next(&a).as_secs(), 1);
    }

    struct Ctx(Backoff);
    impl Retrying for Ctx {
        fn subject(&self) -> &str {
            "DeploymentConfig"
        }
        fn backoff(&self) -> &Backoff {
            &self.0
        }
    }

    #[test]
    fn transient_errors_back_off_and_permanent_ones_wait_for_a_change() {
        let ctx = Arc::new(Ctx(Backoff::default()));
        let object = Arc::new(dc("a"));
        let transient = Error::StaleCache("behind".into());
        assert!(transient.is_transient());
        let first = error_policy(object.clone(), &transient, ctx.clone());
        let second = error_policy(object.clone(), &transient, ctx.clone());
        assert_eq!(first, Requeue::requeue(Duration::from_secs(1)));
        assert_eq!(second, Requeue::requeue(Duration::from_secs(2)));
        let permanent = Error::NameTaken("app-1".into());
        assert!(!permanent.is_transient());
        assert_eq!(
            error_policy(object, &permanent, ctx),
            Requeue::await_change(),
            "a permanent error is not retried forever"
        );
    }
}
