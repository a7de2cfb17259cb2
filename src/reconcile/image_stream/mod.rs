//! The importer's shell: asks registries for the digests the tags `image::import::plan` names,
//! with the credentials of the stream's namespace, and writes what came back
//! (`image::import::record`) as the stream's status in one write. A failure is the tag's
//! ImportSuccess=False condition and a Warning event with the registry's reason, retried with
//! backoff; nothing a registry answers can crash or spin the operator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use crate::api::image_stream::ImageStream;
use crate::error::Result;
use crate::image::credentials::{self, Keyring};
use crate::image::import::{self, Import, Outcome, TagClock};

use super::events::Events;
use super::{Backoff, Retrying};

mod registry;
pub use registry::Registries;

type TagKey = (String, String, String);

/// What the importer works with.
pub struct ImportContext {
    pub client: Client,
    /// Every ImageStream, for tags that follow another stream's.
    pub streams: Store<ImageStream>,
    pub registries: Registries,
    pub events: Events,
    /// `importPolicy.scheduled` tags are imported again this often (OpenShift: 15 minutes).
    pub interval: SignedDuration,
    clocks: Mutex<HashMap<TagKey, TagClock>>,
    pub backoff: Backoff,
}

impl ImportContext {
    pub fn new(
        client: Client,
        streams: Store<ImageStream>,
        registries: Registries,
        events: Events,
        interval: SignedDuration,
    ) -> Self {
        ImportContext {
            client,
            streams,
            registries,
            events,
            interval,
            clocks: Mutex::default(),
            backoff: Default::default(),
        }
    }

    fn clocks(&self) -> std::sync::MutexGuard<'_, HashMap<TagKey, TagClock>> {
        // A panic elsewhere cannot leave a clock half-written: the map stays usable.
        self.clocks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(stream: &ImageStream, tag: &str) -> TagKey {
    (
        stream.namespace().unwrap_or_default(),
        stream.name_any(),
        tag.to_string(),
    )
}

/// A scheduled tag seen for the first time (operator start) is placed at a point of its interval
/// that depends only on its name, so a restart spreads imports instead of sending all at once.
fn first_look(key: &TagKey, now: Timestamp, interval: SignedDuration) -> TagClock {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    let fraction = (hasher.finish() % 1000) as i32;
    TagClock {
        last_attempt: Some(now - interval * fraction / 1000),
        ..TagClock::default()
    }
}

pub async fn reconcile(stream: Arc<ImageStream>, ctx: Arc<ImportContext>) -> Result<Action> {
    let now = Timestamp::now();
    let plan = {
        let mut clocks = ctx.clocks();
        // What is remembered of tags and streams that are gone goes too.
        let (own_ns, own_name) = (stream.namespace().unwrap_or_default(), stream.name_any());
        let tags: Vec<&str> = import::importable(&stream)
            .map(|t| t.name.as_str())
            .collect();
        clocks.retain(|(ns, name, tag), _| {
            if *ns == own_ns && *name == own_name {
                tags.contains(&tag.as_str())
            } else {
                ctx.streams.get(&ObjectRef::new(name).within(ns)).is_some()
            }
        });
        import::plan(
            &stream,
            |tag| {
                *clocks
                    .entry(key(&stream, tag))
                    .or_insert_with_key(|k| first_look(k, now, ctx.interval))
            },
            now,
            ctx.interval,
        )
    };
    let mut results = Vec::with_capacity(plan.imports.len());
    if !plan.imports.is_empty() {
        let keyring = keyring(&ctx.client, &stream.namespace().unwrap_or_default()).await?;
        for import in plan.imports {
            let outcome = ctx.registries.digest(&import, &keyring).await;
            remember(&ctx, &stream, &import, &outcome, now);
            results.push((import, outcome));
        }
    }
    let status = import::record(&stream, &results, &ctx.streams, now);
    if stream.status.as_ref() != Some(&status) {
        let api: Api<ImageStream> =
            Api::namespaced(ctx.client.clone(), &stream.namespace().unwrap_or_default());
        // Guarded by the resourceVersion the status was computed from: a concurrent writer
        // makes it a conflict (retried on a fresher cache), never a lost update.
        let patch = json!({
            "metadata": {"resourceVersion": stream.resource_version()},
            "status": status,
        });
        api.patch_status(
            &stream.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await?;
        record_events(&ctx, &stream, &results);
    }
    ctx.backoff.reset(stream.as_ref());
    // Failed tags are looked at again on their backoff (the plan's wake-up covers them).
    let retry = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(i, _)| {
            let clock = ctx
                .clocks()
                .get(&key(&stream, &i.tag))
                .copied()
                .unwrap_or_default();
            import::retry_delay(clock.failures, ctx.interval)
        })
        .min();
    let wake = match (plan.wake_after, retry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(match wake {
        Some(after) => Action::requeue(after.unsigned_abs().max(Duration::from_secs(1))),
        None => Action::await_change(),
    })
}

/// The registry credentials of `namespace`, as OpenShift's importer gathers them.
async fn keyring(client: &Client, namespace: &str) -> Result<Keyring> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secrets = Vec::new();
    for type_ in [credentials::DOCKER_CONFIG_JSON, credentials::DOCKER_CFG] {
        let list = api
            .list(&ListParams::default().fields(&format!("type={type_}")))
            .await?;
        secrets.extend(list.items);
    }
    Ok(Keyring::from_secrets(&secrets))
}

fn remember(
    ctx: &ImportContext,
    stream: &ImageStream,
    import: &Import,
    outcome: &Outcome,
    now: Timestamp,
) {
    let mut clocks = ctx.clocks();
    let clock = clocks.entry(key(stream, &import.tag)).or_default();
    clock.last_attempt = Some(now);
    match outcome {
        Outcome::Imported { .. } => {
            clock.failures = 0;
            clock.not_before = None;
        }
        Outcome::Failed(f) => {
            clock.failures = clock.failures.saturating_add(1);
            clock.not_before = f
                .retry_after
                .map(|wait| now + wait.max(import::retry_delay(clock.failures, ctx.interval)));
        }
    }
}

/// An event per tag that changed image or failed, as `oc describe is` shows them.
fn record_events(ctx: &ImportContext, stream: &ImageStream, results: &[(Import, Outcome)]) {
    let before = |tag: &str| {
        stream
            .status_tag(tag)
            .and_then(|t| t.items.first())
            .map(|i| i.image.clone())
    };
    for (import, outcome) in results {
        let (type_, reason, note) = match outcome {
            Outcome::Imported { digest } if before(&import.tag).as_deref() != Some(digest) => (
                EventType::Normal,
                "Imported",
                format!(
                    "Tag {} now points at {}@{digest}",
                    import.tag,
                    import::repository(&import.from)
                ),
            ),
            Outcome::Imported { .. } => continue,
            Outcome::Failed(f) => (
                EventType::Warning,
                "ImportFailed",
                format!("Tag {}: {} ({})", import.tag, f.message, f.reason),
            ),
        };
        match &outcome {
            Outcome::Failed(_) => {
                warn!(namespace = stream.namespace().unwrap_or_default(), stream = stream.name_any(), tag = import.tag, %note, "import failed")
            }
            Outcome::Imported { .. } => {
                info!(namespace = stream.namespace().unwrap_or_default(), stream = stream.name_any(), tag = import.tag, %note, "imported")
            }
        }
        ctx.events.publish(
            stream.object_ref(&()),
            Event {
                type_,
                reason: reason.into(),
                note: Some(note),
                action: "Import".into(),
                secondary: None,
            },
        );
    }
}

impl Retrying for ImportContext {
    fn subject(&self) -> &str {
        "ImageStream import"
    }
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_looks_spread_over_the_interval() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().expect("time");
        let interval = SignedDuration::from_mins(15);
        let at = |tag: &str| {
            first_look(&("ns".into(), "app".into(), tag.into()), now, interval).last_attempt
        };
        assert_eq!(at("v1"), at("v1"), "the same place every start");
        let spread: std::collections::BTreeSet<_> = (0..20).map(|i| at(&format!("t{i}"))).collect();
        assert!(spread.len() > 10);
        assert!(
            spread
                .iter()
                .flatten()
                .all(|t| *t <= now && *t > now - interval)
        );
    }
}
