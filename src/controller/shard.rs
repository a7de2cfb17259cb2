//! Shards: several operators, each serving a slice of the cluster's namespaces.
//!
//! A namespace labelled `cutover.io/shard: <name>` is served by the operator started with
//! `--shard <name>`; a namespace without the label by the operator started without `--shard`
//! (Flux's `sharding.fluxcd.io/key` and `--watch-label-selector`, applied to namespaces so a
//! team's manifests need no change). Moving a namespace is relabelling it.
//!
//! Every operator watches the labelled namespaces. The kinds that live in a served namespace
//! (DeploymentConfigs, their revisions, pods and Jobs, ConfigMaps and Secrets, Services,
//! EndpointSlices, annotated workloads) are watched cluster-wide and kept only when their
//! namespace is served, so a shard's caches and memory hold its slice; a namespace that joins
//! makes those watches list again, which brings its objects in. What is read across namespaces
//! stays whole: ImageStreams (a trigger may follow another namespace's tag), Routes (host
//! claims are cluster-wide, oldest wins), Gateways. Every reconcile of an object whose namespace
//! is not served returns at once: a shard writes only its own slice.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::watch;
use tracing::info;

use crate::api::keys::SHARD_LABEL;
use crate::metrics::Metrics;

/// Which namespaces this operator serves.
#[derive(Clone, Debug)]
pub struct Served {
    rule: Rule,
    /// The labelled namespaces as last seen, and how many times one joined.
    seen: Option<watch::Receiver<Seen>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    /// Every namespace in reach (one namespace with `--namespace`).
    All,
    /// Namespaces labelled with this shard's name (`--shard <name>`).
    Shard(String),
    /// Namespaces without the label (no `--shard`, all namespaces).
    Unlabelled,
}

/// The namespaces the watch found, with their shard label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    /// Namespaces carrying the label with this shard's name (`Rule::Shard`) or with any value
    /// (`Rule::Unlabelled`, where they are the ones not served).
    labelled: BTreeSet<String>,
    /// Bumped when a namespace that exists starts being served: the watches list again.
    joins: u64,
}

impl Rule {
    fn serves(&self, seen: &Seen, namespace: &str) -> bool {
        match self {
            Rule::All => true,
            Rule::Shard(_) => seen.labelled.contains(namespace),
            Rule::Unlabelled => !seen.labelled.contains(namespace),
        }
    }

    /// The namespaces to watch: this shard's, or every labelled one.
    fn selector(&self) -> Option<String> {
        match self {
            Rule::All => None,
            Rule::Shard(name) => Some(format!("{SHARD_LABEL}={name}")),
            Rule::Unlabelled => Some(SHARD_LABEL.to_string()),
        }
    }

    /// `next` after `before`: the set as now listed or changed, and a join counted when a
    /// namespace that still exists is served now and was not before (`deleted`: it went).
    fn next(&self, before: &Seen, labelled: BTreeSet<String>, deleted: Option<&str>) -> Seen {
        let joined = match self {
            Rule::All => false,
            Rule::Shard(_) => labelled.difference(&before.labelled).next().is_some(),
            Rule::Unlabelled => before
                .labelled
                .difference(&labelled)
                .any(|ns| Some(ns.as_str()) != deleted),
        };
        Seen {
            labelled,
            joins: before.joins + u64::from(joined),
        }
    }
}

impl Served {
    /// What `--namespace` and `--shard` ask for: one namespace (all of it), the namespaces
    /// labelled with the shard's name, or those without the label. Until [`Served::start`],
    /// every namespace counts as served.
    pub fn new(single_namespace: bool, shard: Option<&str>) -> Served {
        let rule = match (single_namespace, shard) {
            (true, _) => Rule::All,
            (false, Some(name)) => Rule::Shard(name.to_string()),
            (false, None) => Rule::Unlabelled,
        };
        Served { rule, seen: None }
    }

    /// Starts watching the labelled namespaces (none for one namespace) and returns once they
    /// are listed: the shard knows its slice before any cache fills.
    pub async fn start(&mut self, client: &Client) -> Result<(), String> {
        let Some(selector) = self.rule.selector() else {
            return Ok(());
        };
        let (tx, mut rx) = watch::channel(Seen::default());
        let api: Api<Namespace> = Api::all(client.clone());
        let events = watcher(api, watcher::Config::default().labels(&selector)).default_backoff();
        let (listed_tx, listed_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(follow_namespaces(self.rule.clone(), events, tx, listed_tx));
        match listed_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("the watch of namespaces ended before its first list".into()),
        }
        rx.borrow_and_update();
        self.seen = Some(rx);
        Ok(())
    }

    /// This operator's shard (`None`: the unlabelled namespaces, or every one in reach).
    pub fn shard(&self) -> Option<&str> {
        match &self.rule {
            Rule::Shard(name) => Some(name),
            _ => None,
        }
    }

    /// Whether objects in `namespace` are this operator's to act on (cluster-scoped: yes).
    pub fn serves(&self, namespace: Option<&str>) -> bool {
        match (&self.seen, namespace) {
            (Some(seen), Some(ns)) => self.rule.serves(&seen.borrow(), ns),
            _ => true,
        }
    }

    /// Whether a namespace label decides what is served (all namespaces; not `--namespace`).
    pub fn sharded(&self) -> bool {
        self.seen.is_some()
    }

    /// Waits for the labelled namespaces to change; `false` when they never will.
    pub async fn changed(&mut self) -> bool {
        match self.seen.as_mut() {
            Some(seen) => seen.changed().await.is_ok(),
            None => false,
        }
    }

    /// How many labelled namespaces this operator serves (a shard) or leaves to the shards
    /// (the unlabelled namespaces' operator).
    pub fn labelled_namespaces(&self) -> usize {
        self.seen.as_ref().map_or(0, |s| s.borrow().labelled.len())
    }

    /// A watch of `api` that keeps the objects of served namespaces and lists again when a
    /// namespace joins. An object seen changing in a namespace no longer served goes out as a
    /// deletion, so the caches let go of a namespace that left; deletions always pass.
    pub fn watch<K>(
        &self,
        api: Api<K>,
        config: watcher::Config,
    ) -> BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>
    where
        K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
    {
        let Some(seen) = self.seen.clone() else {
            return watcher(api, config).default_backoff().boxed();
        };
        let served = self.clone();
        // A watch that ends at the next join, followed by a new one (which lists first).
        futures::stream::repeat(())
            .flat_map(move |()| {
                let mut seen = seen.clone();
                let joins = seen.borrow_and_update().joins;
                watcher(api.clone(), config.clone())
                    .default_backoff()
                    .take_until(async move {
                        if next_join(&mut seen, joins).await.is_none() {
                            futures::future::pending::<()>().await;
                        }
                    })
            })
            .filter_map(move |event| std::future::ready(served.kept(event)))
            .boxed()
    }

    fn kept<K: Resource>(
        &self,
        event: Result<watcher::Event<K>, watcher::Error>,
    ) -> Option<Result<watcher::Event<K>, watcher::Error>> {
        let serves = |o: &K| self.serves(o.meta().namespace.as_deref());
        match event {
            Ok(watcher::Event::Apply(o)) if !serves(&o) => Some(Ok(watcher::Event::Delete(o))),
            Ok(watcher::Event::InitApply(o)) if !serves(&o) => None,
            other => Some(other),
        }
    }
}

/// Keeps the metrics' count of labelled namespaces up to date (not sharded: no metric).
pub async fn report(mut served: Served, metrics: Arc<Metrics>) {
    if !served.sharded() {
        return;
    }
    let shard = served.shard().unwrap_or_default().to_string();
    loop {
        metrics.set_shard_namespaces(&shard, served.labelled_namespaces());
        if !served.changed().await {
            return;
        }
    }
}

/// Waits for the join count to move past `after`; `None` once the namespace watch is gone.
async fn next_join(seen: &mut watch::Receiver<Seen>, after: u64) -> Option<u64> {
    loop {
        seen.changed().await.ok()?;
        let joins = seen.borrow_and_update().joins;
        if joins != after {
            return Some(joins);
        }
    }
}

/// Keeps `tx` up to date with the labelled namespaces; tells `listed` when the first list is in.
async fn follow_namespaces(
    rule: Rule,
    events: impl Stream<Item = Result<watcher::Event<Namespace>, watcher::Error>>,
    tx: watch::Sender<Seen>,
    listed: tokio::sync::oneshot::Sender<Result<(), watcher::Error>>,
) {
    let mut listed = Some(listed);
    let mut listing: Option<BTreeSet<String>> = None;
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        let before = tx.borrow().clone();
        let next = match event {
            Err(e) => {
                // Before the first list a failure is the caller's (RBAC, no such API); after,
                // the watch retries with backoff and the last set stands.
                if let Some(l) = listed.take() {
                    let _ = l.send(Err(e));
                    return;
                }
                continue;
            }
            Ok(watcher::Event::Init) => {
                listing = Some(BTreeSet::new());
                continue;
            }
            Ok(watcher::Event::InitApply(ns)) => {
                if let Some(l) = listing.as_mut() {
                    l.insert(ns.name_any());
                }
                continue;
            }
            Ok(watcher::Event::InitDone) => {
                rule.next(&before, listing.take().unwrap_or_default(), None)
            }
            Ok(watcher::Event::Apply(ns)) => {
                let mut labelled = before.labelled.clone();
                if ns.metadata.deletion_timestamp.is_none() {
                    labelled.insert(ns.name_any());
                } else {
                    labelled.remove(&ns.name_any());
                }
                rule.next(&before, labelled, None)
            }
            Ok(watcher::Event::Delete(ns)) => {
                let name = ns.name_any();
                let mut labelled = before.labelled.clone();
                labelled.remove(&name);
                // Relabelled away shows as a deletion too (it left the selector); only a
                // namespace being deleted is no join.
                let gone = ns.metadata.deletion_timestamp.is_some();
                rule.next(&before, labelled, gone.then_some(name.as_str()))
            }
        };
        if next != before {
            info!(
                shard = rule_name(&rule),
                labelled = next.labelled.len(),
                "shard namespaces changed"
            );
            tx.send_replace(next);
        }
        if let Some(l) = listed.take() {
            let _ = l.send(Ok(()));
        }
    }
}

fn rule_name(rule: &Rule) -> &str {
    match rule {
        Rule::Shard(name) => name,
        _ => "",
    }
}

#[cfg(test)]
mod tests;
