//! What an ImageChange trigger writes into a DeploymentConfig, as OpenShift's trigger controller
//! decides it: for each automatic trigger, the image its tag resolves to goes into the named
//! containers (init containers too) and into `lastTriggeredImage`. A trigger whose tag does not
//! resolve keeps its last image; one that never resolved holds every write back (the rollout
//! would otherwise start with some images missing). Triggers with `automatic: false` are left to
//! `rollout latest`.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use serde_json::{Value, json};

use crate::api::image_stream::ImageStream;
use crate::api::{DeploymentConfig, TRIGGER_IMAGE_CHANGE};

use super::{resolve, split_stream_tag};

/// A container whose image a trigger sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    pub container: String,
    pub init: bool,
    pub image: String,
}

/// What to write into a DeploymentConfig; nothing when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggeredImages {
    pub containers: Vec<ContainerImage>,
    /// `(index in spec.triggers, image)`: a new `lastTriggeredImage`.
    pub last_triggered: Vec<(usize, String)>,
}

impl TriggeredImages {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.last_triggered.is_empty()
    }
}

/// The ImageStream `(namespace, name)` from the cache, if it exists.
pub trait Streams {
    fn stream(&self, namespace: &str, name: &str) -> Option<Arc<ImageStream>>;
}

impl Streams for kube::runtime::reflector::Store<ImageStream> {
    fn stream(&self, namespace: &str, name: &str) -> Option<Arc<ImageStream>> {
        self.get(&ObjectRef::new(name).within(namespace))
    }
}

/// The `(namespace, stream)` an ImageChange trigger follows, for the watch index.
pub fn followed_streams(dc: &DeploymentConfig) -> Vec<(String, String)> {
    let own = dc.namespace().unwrap_or_default();
    image_triggers(dc)
        .filter_map(|(_, p)| {
            let (stream, _) = split_stream_tag(p.from.name.as_deref()?)?;
            let ns = p.from.namespace.clone().filter(|n| !n.is_empty());
            Some((ns.unwrap_or_else(|| own.clone()), stream.to_string()))
        })
        .collect()
}

/// Every ImageChange trigger's parameters, with its index in `spec.triggers`.
fn image_change_params(
    dc: &DeploymentConfig,
) -> impl Iterator<Item = (usize, &crate::api::DeploymentTriggerImageChangeParams)> {
    dc.spec
        .triggers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.type_ == TRIGGER_IMAGE_CHANGE)
        .filter_map(|(i, t)| Some((i, t.image_change_params.as_ref()?)))
}

/// Those that follow an ImageStreamTag (the only kind OpenShift's trigger controller resolves).
fn image_triggers(
    dc: &DeploymentConfig,
) -> impl Iterator<Item = (usize, &crate::api::DeploymentTriggerImageChangeParams)> {
    image_change_params(dc).filter(|(_, p)| {
        p.from
            .kind
            .as_deref()
            .is_none_or(|k| k.is_empty() || k == "ImageStreamTag")
    })
}

/// Which ImageChange triggers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firing {
    /// The automatic ones: what the trigger controller does on every change.
    Automatic,
    /// All of them: a `rollout latest` request, as OpenShift's instantiate with `force`.
    All,
}

/// What the ImageChange triggers of `dc` write, given the streams they follow.
pub fn deployment_config(
    dc: &DeploymentConfig,
    streams: &impl Streams,
    firing_kind: Firing,
) -> TriggeredImages {
    let own = dc.namespace().unwrap_or_default();
    let mut out = TriggeredImages::default();
    let firing: Vec<_> = image_triggers(dc)
        .filter(|(_, p)| p.automatic || firing_kind == Firing::All)
        .collect();
    if firing.is_empty() {
        // Every reconcile asks: most DeploymentConfigs have no such trigger.
        return out;
    }
    // After a rollback that left the triggers on, the image rolled back from must not come back:
    // a trigger writes only once its tag moved past the image it last triggered.
    let waiting =
        firing_kind == Firing::Automatic && crate::api::requests::triggers_wait_for_a_new_image(dc);
    let containers = dc.spec.template.containers();
    for (index, params) in firing {
        let resolved = params
            .from
            .name
            .as_deref()
            .and_then(split_stream_tag)
            .and_then(|(stream, tag)| {
                let ns = params.from.namespace.as_deref().filter(|n| !n.is_empty());
                resolve(&*streams.stream(ns.unwrap_or(&own), stream)?, tag)
            });
        let last = params
            .last_triggered_image
            .as_deref()
            .filter(|l| !l.trim().is_empty());
        let Some(image) = resolved.or_else(|| last.map(str::to_string)) else {
            // Never resolved: the DeploymentConfig waits for it, and nothing is written.
            return TriggeredImages::default();
        };
        if last != Some(image.as_str()) {
            out.last_triggered.push((index, image.clone()));
        } else if waiting {
            continue;
        }
        // Init containers first, as OpenShift's controller goes through them.
        let mut named: Vec<_> = containers
            .iter()
            .filter(|c| params.container_names.iter().any(|n| n == c.name))
            .collect();
        named.sort_by_key(|c| !c.init);
        for c in named {
            if c.image != image {
                out.containers.push(ContainerImage {
                    container: c.name.to_string(),
                    init: c.init,
                    image: image.clone(),
                });
            }
        }
    }
    out
}

/// What OpenShift does to a DeploymentConfig it creates: every ImageChange trigger's
/// `lastTriggeredImage` cleared, so one exported from a cluster (its image and
/// `lastTriggeredImage` naming that cluster's registry) waits for its ImageStream here instead of
/// rolling the exported image out. cutover has no create hook: this applies to a DeploymentConfig
/// as it was created, never written since (generation 1) and never given a status. Not later:
/// when its tags resolve at once, the triggers' own first write comes before the first status,
/// and clearing that would start the two writing in turn.
pub fn exported(dc: &DeploymentConfig) -> TriggeredImages {
    let as_created = dc.status.is_none() && dc.metadata.generation.is_none_or(|g| g <= 1);
    if !as_created {
        return TriggeredImages::default();
    }
    let last_triggered = image_change_params(dc)
        .filter(|(_, p)| {
            p.last_triggered_image
                .as_deref()
                .is_some_and(|l| !l.is_empty())
        })
        .map(|(i, _)| (i, String::new()))
        .collect();
    TriggeredImages {
        containers: Vec::new(),
        last_triggered,
    }
}

/// The JSON patch that writes `images` into `dc`: each change guarded by a test of what it
/// addresses (the container's name at that index, the trigger's tag), so a DeploymentConfig
/// edited since it was read is refused rather than written wrongly.
pub fn json_patch(dc: &DeploymentConfig, images: &TriggeredImages) -> Vec<Value> {
    let mut ops = Vec::new();
    for c in &images.containers {
        let key = if c.init {
            "initContainers"
        } else {
            "containers"
        };
        let index = dc
            .spec
            .template
            .0
            .pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .position(|x| x.get("name").and_then(Value::as_str) == Some(&c.container))
            });
        let Some(index) = index else { continue };
        let path = format!("/spec/template/spec/{key}/{index}");
        ops.push(json!({"op": "test", "path": format!("{path}/name"), "value": c.container}));
        ops.push(json!({"op": "add", "path": format!("{path}/image"), "value": c.image}));
    }
    let triggers = dc.spec.triggers.as_deref().unwrap_or_default();
    for (index, image) in &images.last_triggered {
        let Some(from) = triggers
            .get(*index)
            .and_then(|t| t.image_change_params.as_ref())
            .and_then(|p| p.from.name.clone())
        else {
            continue;
        };
        let path = format!("/spec/triggers/{index}/imageChangeParams");
        ops.push(json!({"op": "test", "path": format!("{path}/from/name"), "value": from}));
        // Clearing an exported image: only the one read (never one written since).
        if image.is_empty()
            && let Some(last) = triggers
                .get(*index)
                .and_then(|t| t.image_change_params.as_ref())
                .and_then(|p| p.last_triggered_image.as_deref())
        {
            ops.push(
                json!({"op": "test", "path": format!("{path}/lastTriggeredImage"), "value": last}),
            );
        }
        ops.push(
            json!({"op": "add", "path": format!("{path}/lastTriggeredImage"), "value": image}),
        );
    }
    ops
}

/// Every ImageChange trigger (automatic or not) has resolved once: OpenShift's condition for a
/// DeploymentConfig with such triggers to roll out for the first time.
pub fn all_resolved_once(dc: &DeploymentConfig) -> bool {
    unresolved(dc).is_empty()
}

/// An ImageChange trigger that never resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// `[namespace/]stream:tag`.
    pub tag: String,
    pub automatic: bool,
    pub containers: Vec<String>,
}

/// The ImageChange triggers that never resolved (no `lastTriggeredImage`).
pub fn unresolved(dc: &DeploymentConfig) -> Vec<Unresolved> {
    let own = dc.namespace().unwrap_or_default();
    image_triggers(dc)
        .filter(|(_, p)| {
            p.last_triggered_image
                .as_deref()
                .is_none_or(|l| l.trim().is_empty())
        })
        .map(|(_, p)| {
            let name = p.from.name.clone().unwrap_or_default();
            let tag = match p.from.namespace.as_deref() {
                Some(ns) if !ns.is_empty() && ns != own => format!("{ns}/{name}"),
                _ => name,
            };
            Unresolved {
                tag,
                automatic: p.automatic,
                containers: p.container_names.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
