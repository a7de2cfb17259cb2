//! The importer's decisions, purely: which tags of a stream to import now (`plan`), and the
//! status that records what came back (`record`), as OpenShift's import controller and its
//! ImageStreamImport endpoint do. The registry calls are the shell's (`reconcile::image_import`).
//!
//! A tag is imported when it is new or changed since its last import (its generation, the
//! server's where `deploy/31-tag-generations.yaml` is installed, else the stream's
//! `metadata.generation`, is newer than the one recorded on the tag's newest item or its
//! ImportSuccess condition), every `interval` when `importPolicy.scheduled`, and after a failure
//! with backoff. Only that last part and the schedule live in memory (`TagClock`): OpenShift's
//! scheduler keeps its schedule in memory too, and a restart only moves the next import.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::image_stream::{
    FROM_DOCKER_IMAGE, FROM_IMAGE_STREAM_IMAGE, FROM_IMAGE_STREAM_TAG, IMPORT_SUCCESS, ImageStream,
    ImageStreamStatus, NamedTagEventList, TagEvent, TagEventCondition, TagReference,
};

use super::trigger::Streams;

/// A tag to import now: the pull spec it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub tag: String,
    pub from: String,
    /// Plain HTTP or an unverified certificate is allowed (`importPolicy.insecure`).
    pub insecure: bool,
}

/// What the shell remembers of a tag between imports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagClock {
    /// When it was last imported, or asked for; `None` before the first look.
    pub last_attempt: Option<Timestamp>,
    /// Failed attempts since the last success.
    pub failures: u32,
    /// The registry asked us to wait until then (429 and Retry-After).
    pub not_before: Option<Timestamp>,
}

/// Why an import failed, in OpenShift's words (`reason` is the Status reason it would report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub message: String,
    /// The registry asked to be left alone for this long.
    pub retry_after: Option<SignedDuration>,
}

/// What one import found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The digest the registry serves for the tag (of the index when there is one).
    Imported {
        digest: String,
    },
    Failed(Failure),
}

/// The imports due now, and when to look again.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub imports: Vec<Import>,
    pub wake_after: Option<SignedDuration>,
}

/// The first retry after a failure; doubled on each further one, up to the scheduled interval.
const FIRST_RETRY: SignedDuration = SignedDuration::from_secs(10);

/// The images a tag's history keeps, newest first. OpenShift keeps every one until `oc adm
/// prune images`; a bound keeps a tag that moves daily from growing its stream towards the
/// API server's object size limit.
pub const HISTORY_LIMIT: usize = 100;

/// The tags importable at all: following a registry image, not a mere reference.
pub fn importable(stream: &ImageStream) -> impl Iterator<Item = &TagReference> {
    stream.spec.tags.iter().flatten().filter(|t| {
        t.from.as_ref().is_some_and(|f| f.kind == FROM_DOCKER_IMAGE) && t.reference != Some(true)
    })
}

/// The generation a tag's import must be recorded at to count as current: the tag's own where
/// the server owns tag generations (it moves only when the tag changes, as on OpenShift), else
/// the stream's (any spec change imports every tag again: a generation as written, exported
/// from another cluster say, cannot be trusted to move).
pub fn wanted_generation(stream: &ImageStream, tag: &TagReference) -> i64 {
    let stream_generation = stream.metadata.generation.unwrap_or(1);
    let own = tag.generation.filter(|g| *g > 0);
    match own {
        Some(own) if server_owned_generations(stream) => own,
        own => own.unwrap_or(0).max(stream_generation),
    }
}

/// The generation that asks for a tag's re-import: 0, as `oc import-image` writes it, where the
/// server owns tag generations (it makes it the stream's next); else one past the stream's, a
/// spec change either way.
pub fn reimport_generation(stream: &ImageStream) -> i64 {
    if server_owned_generations(stream) {
        0
    } else {
        stream.metadata.generation.unwrap_or(0) + 1
    }
}

/// Whether the API server set the stream's tag generations (`TAG_GENERATIONS_ANNOTATION`).
fn server_owned_generations(stream: &ImageStream) -> bool {
    use kube::ResourceExt;
    stream
        .annotations()
        .get(crate::api::keys::TAG_GENERATIONS_ANNOTATION)
        .is_some_and(|v| v == "server")
}

/// The newest generation an import of `tag` was recorded at, succeeded or failed.
fn observed_generation(stream: &ImageStream, tag: &str) -> i64 {
    let Some(status) = stream.status_tag(tag) else {
        return 0;
    };
    let imported = status.items.first().map_or(0, |i| i.generation);
    let tried = status
        .conditions
        .iter()
        .filter(|c| c.type_ == IMPORT_SUCCESS)
        .map(|c| c.generation)
        .max()
        .unwrap_or(0);
    imported.max(tried)
}

fn failed(stream: &ImageStream, tag: &str) -> bool {
    stream.status_tag(tag).is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == IMPORT_SUCCESS && c.status == "False")
    })
}

/// The delay before the retry after `failures` failed attempts in a row.
pub fn retry_delay(failures: u32, interval: SignedDuration) -> SignedDuration {
    let doublings = failures.saturating_sub(1).min(16);
    let delay = FIRST_RETRY.checked_mul(1 << doublings).unwrap_or(interval);
    delay.min(interval)
}

/// The imports due at `now`. `clock(tag)` is what the shell remembers of the tag.
pub fn plan(
    stream: &ImageStream,
    mut clock: impl FnMut(&str) -> TagClock,
    now: Timestamp,
    interval: SignedDuration,
) -> Plan {
    let mut plan = Plan::default();
    let mut wake = |at: Timestamp| {
        let after = at.duration_since(now).max(SignedDuration::ZERO);
        plan.wake_after = Some(plan.wake_after.map_or(after, |w| w.min(after)));
    };
    let mut imports = Vec::new();
    for tag in importable(stream) {
        let Some(from) = &tag.from else { continue };
        let clock = clock(&tag.name);
        let policy = tag.import_policy.as_ref();
        let scheduled = policy.and_then(|p| p.scheduled).unwrap_or(false);
        let due_at = if let Some(not_before) = clock.not_before.filter(|t| *t > now) {
            Some(not_before)
        } else if observed_generation(stream, &tag.name) < wanted_generation(stream, tag) {
            Some(now)
        } else if failed(stream, &tag.name) {
            // After a restart (nothing remembered) once at once, then with backoff.
            Some(clock.last_attempt.map_or(now, |last| {
                last + retry_delay(clock.failures.max(1), interval)
            }))
        } else if scheduled {
            Some(clock.last_attempt.map_or(now, |last| last + interval))
        } else {
            None
        };
        match due_at {
            Some(at) if at <= now => imports.push(Import {
                tag: tag.name.clone(),
                from: from.name.clone(),
                insecure: policy.and_then(|p| p.insecure).unwrap_or(false),
            }),
            Some(at) => wake(at),
            None => {}
        }
        // A scheduled tag is always looked at again.
        if scheduled {
            wake(now + interval);
        }
    }
    plan.imports = imports;
    plan
}

/// The repository of a pull spec: its tag and digest removed, registry and path as written
/// (OpenShift records `<repository as written>@<digest>`).
pub fn repository(pull_spec: &str) -> &str {
    let name = pull_spec.split_once('@').map_or(pull_spec, |(n, _)| n);
    let path_start = name.rfind('/').map_or(0, |i| i + 1);
    match name[path_start..].rfind(':') {
        Some(colon) => &name[..path_start + colon],
        None => name,
    }
}

/// The stream's status after `results` (tag, outcome) at `generation`-aware `now`: new images
/// prepended to their tag's history (newest first), failures as the tag's ImportSuccess=False
/// condition, `reference` tags pointed at as written, and tags that follow other tags
/// brought up to their source's newest image. `others` resolves tags of other streams.
pub fn record(
    stream: &ImageStream,
    results: &[(Import, Outcome)],
    others: &impl Streams,
    now: Timestamp,
) -> ImageStreamStatus {
    let mut status = stream.status.clone().unwrap_or_default();
    status.docker_image_repository.clear();
    let spec_tags: Vec<&TagReference> = stream.spec.tags.iter().flatten().collect();
    let generation_of = |tag: &str| {
        spec_tags
            .iter()
            .find(|t| t.name == tag)
            .map_or(stream.metadata.generation.unwrap_or(1), |t| {
                wanted_generation(stream, t)
            })
    };
    for (import, outcome) in results {
        let generation = generation_of(&import.tag);
        match outcome {
            Outcome::Imported { digest } => {
                let event = TagEvent {
                    created: Time(now),
                    docker_image_reference: format!("{}@{digest}", repository(&import.from)),
                    image: digest.clone(),
                    generation,
                };
                add_event(&mut status, &import.tag, event);
            }
            Outcome::Failed(failure) => {
                set_failure(&mut status, &import.tag, failure, generation, now)
            }
        }
    }
    for tag in &spec_tags {
        let Some(from) = &tag.from else { continue };
        if from.kind == FROM_DOCKER_IMAGE && tag.reference == Some(true) {
            let event = TagEvent {
                created: Time(now),
                docker_image_reference: from.name.clone(),
                image: String::new(),
                generation: generation_of(&tag.name),
            };
            add_event(&mut status, &tag.name, event);
        }
    }
    // Tags following tags, possibly in chains: until nothing moves (at most one round per tag).
    for _ in 0..=spec_tags.len() {
        let mut moved = false;
        for tag in &spec_tags {
            let Some(source) = followed_event(stream, &status, tag, others) else {
                continue;
            };
            let event = TagEvent {
                generation: generation_of(&tag.name),
                ..source
            };
            moved |= add_event(&mut status, &tag.name, event);
        }
        if !moved {
            break;
        }
    }
    status
        .tags
        .retain(|t| !t.items.is_empty() || !t.conditions.is_empty());
    status.tags.sort_by(|a, b| a.tag.cmp(&b.tag));
    status
}

/// The newest image of what `tag` follows, when it follows a tag or an image of a stream:
/// `tag`/`stream:tag` for ImageStreamTag, `id`/`stream@id` (a digest prefix) for
/// ImageStreamImage. This stream's own tags are read from `status` as it is being recorded.
fn followed_event(
    stream: &ImageStream,
    status: &ImageStreamStatus,
    tag: &TagReference,
    others: &impl Streams,
) -> Option<TagEvent> {
    let from = tag.from.as_ref()?;
    let own_namespace = stream.metadata.namespace.as_deref().unwrap_or_default();
    let own_name = stream.metadata.name.as_deref().unwrap_or_default();
    let namespace = from
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(own_namespace);
    let separator = match from.kind.as_str() {
        FROM_IMAGE_STREAM_TAG => ':',
        FROM_IMAGE_STREAM_IMAGE => '@',
        _ => return None,
    };
    let (source_stream, key) = from
        .name
        .split_once(separator)
        .unwrap_or((own_name, &from.name));
    let own = namespace == own_namespace && source_stream == own_name;
    // Another stream's image is copied when the tag changes, not as that stream moves (as on
    // OpenShift, which tracks only tags of the same stream).
    if !own && observed_generation(stream, &tag.name) >= wanted_generation(stream, tag) {
        return None;
    }
    let other;
    let histories: &[NamedTagEventList] = if own {
        &status.tags
    } else {
        other = others.stream(namespace, source_stream)?;
        &other.status.as_ref()?.tags
    };
    if separator == ':' {
        if own && key == tag.name {
            return None;
        }
        return histories
            .iter()
            .find(|t| t.tag == key)?
            .items
            .first()
            .cloned();
    }
    let mut matching = histories
        .iter()
        .flat_map(|t| &t.items)
        .filter(|i| !i.image.is_empty() && i.image.starts_with(key));
    let found = matching.next()?.clone();
    // A prefix that names two images names none.
    matching.all(|i| i.image == found.image).then_some(found)
}

/// Adds `event` as the tag's newest image, as OpenShift does: the same image only refreshes the
/// newest item's generation; a new one is prepended. Either clears the tag's conditions.
/// Whether the status changed.
fn add_event(status: &mut ImageStreamStatus, tag: &str, event: TagEvent) -> bool {
    let index = match status.tags.iter().position(|t| t.tag == tag) {
        Some(i) => i,
        None => {
            status.tags.push(NamedTagEventList {
                tag: tag.to_string(),
                ..Default::default()
            });
            status.tags.len() - 1
        }
    };
    let list = &mut status.tags[index];
    // As OpenShift collapses them: the same reference or the same image as the newest item is
    // that item brought up to date, not a second one (the same digest under a new repository
    // name is one image).
    let changed = match list.items.first_mut() {
        Some(newest)
            if newest.docker_image_reference == event.docker_image_reference
                || newest.image == event.image && !event.image.is_empty() =>
        {
            let moved = newest.docker_image_reference != event.docker_image_reference
                || newest.image != event.image
                || newest.generation != event.generation;
            newest.docker_image_reference = event.docker_image_reference;
            newest.image = event.image;
            newest.generation = event.generation;
            moved
        }
        _ => {
            list.items.insert(0, event);
            list.items.truncate(HISTORY_LIMIT);
            true
        }
    };
    let had_conditions = !list.conditions.is_empty();
    list.conditions.clear();
    changed || had_conditions
}

/// The tag's conditions become this one failure; an identical one keeps its transition time.
fn set_failure(
    status: &mut ImageStreamStatus,
    tag: &str,
    failure: &Failure,
    generation: i64,
    now: Timestamp,
) {
    let list = match status.tags.iter_mut().position(|t| t.tag == tag) {
        Some(i) => &mut status.tags[i],
        None => {
            status.tags.push(NamedTagEventList {
                tag: tag.to_string(),
                ..Default::default()
            });
            let last = status.tags.len() - 1;
            &mut status.tags[last]
        }
    };
    let same = list.conditions.iter().find(|c| {
        c.type_ == IMPORT_SUCCESS
            && c.status == "False"
            && c.reason == failure.reason
            && c.message == failure.message
    });
    let last_transition_time = same
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    list.conditions = vec![TagEventCondition {
        type_: IMPORT_SUCCESS.into(),
        status: "False".into(),
        last_transition_time: Some(last_transition_time),
        reason: failure.reason.clone(),
        message: failure.message.clone(),
        generation,
    }];
}

#[cfg(test)]
mod tests;
