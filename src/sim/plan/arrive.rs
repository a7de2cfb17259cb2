//! The planned change arrives as its writer would bring it: a manifest applied, new images in
//! the ImageStreamTags their ImageChange triggers follow (or in the pod template), a `rollout
//! latest`.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;
use serde_json::{Value, json};

use super::{Change, PlanError};
use crate::api::image_stream::ImageStream;
use crate::api::requests::RequestKind;
use crate::api::{DeploymentConfig, DeploymentTriggerImageChangeParams};
use crate::image::trigger::{self, Firing, Streams};
use crate::sim::World;

/// Applies the change as its writer would: a manifest, new images, a `rollout latest`. Returns
/// why no rollout may follow, when the change itself says so.
pub(super) fn apply(world: &mut World, change: &Change) -> Result<Option<String>, PlanError> {
    if let Some(manifest) = &change.manifest {
        let (expected, found) = (world.dc.name_any(), manifest.name_any());
        if expected != found {
            return Err(PlanError::OtherDeploymentConfig { expected, found });
        }
        let old = world.dc.clone();
        world.edit(|spec| *spec = manifest.spec.clone());
        if let Some(annotations) = &manifest.metadata.annotations {
            let own = world
                .dc
                .metadata
                .annotations
                .get_or_insert_with(Default::default);
            own.extend(annotations.clone());
        }
        follow_template_images(&old, &mut world.dc);
    }
    if !change.images.is_empty() {
        return arrive(world, &change.images);
    }
    if change.latest {
        world.annotate(&RequestKind::Latest.annotation(), "plan");
    }
    Ok(None)
}

/// New images, each as its writer would bring it: into the tag of the ImageChange trigger that
/// governs its container, where the trigger controller's own decision writes it (automatic
/// triggers only; a manual one leaves it to `rollout latest`); into the pod template for a
/// container no trigger governs, as `kubectl set image` would.
fn arrive(world: &mut World, images: &[(String, String)]) -> Result<Option<String>, PlanError> {
    let own_ns = world.dc.namespace().unwrap_or_default();
    let known = template_images(&world.dc);
    let mut arrivals = Arrivals::default();
    let mut manual = Vec::new();
    let mut template = world.dc.spec.template.0.clone();
    for (container, image) in images {
        if !known.contains_key(container) {
            let known: Vec<&str> = known.keys().map(String::as_str).collect();
            return Err(PlanError::UnknownContainer {
                dc: world.dc.name_any(),
                container: container.clone(),
                known: known.join(", "),
            });
        }
        let governing = world
            .dc
            .spec
            .image_change_params()
            .find(|p| p.container_names.contains(container));
        let tag = governing.and_then(|p| {
            let (stream, tag) = crate::image::split_stream_tag(p.from.name.as_deref()?)?;
            let ns = p.from.namespace.clone().filter(|n| !n.is_empty());
            Some((
                p.automatic,
                ns.unwrap_or_else(|| own_ns.clone()),
                stream,
                tag,
            ))
        });
        match tag {
            Some((automatic, ns, stream, tag)) => {
                arrivals.push(&ns, stream, tag, image);
                if !automatic {
                    manual.push(container.as_str());
                }
            }
            None => set_image(&mut template, container, image),
        }
    }
    world.edit(|spec| spec.template.0 = template);
    write_triggers(world, &arrivals)?;
    Ok((!manual.is_empty()).then(|| {
        format!(
            "the ImageChange trigger of {} is not automatic: the new image waits for `kubectl dc rollout latest`",
            manual.iter().map(|c| format!("container {c:?}")).collect::<Vec<_>>().join(", ")
        )
    }))
}

/// The trigger controller's own decision on the arrived tags, written as it writes it.
fn write_triggers(world: &mut World, arrivals: &Arrivals) -> Result<(), PlanError> {
    let write = trigger::deployment_config(&world.dc, arrivals, Firing::Automatic);
    if write.is_empty() {
        return Ok(());
    }
    let failed = |e: &dyn std::fmt::Display| PlanError::TriggerWrite(e.to_string());
    let patch: json_patch::Patch =
        serde_json::from_value(trigger::json_patch(&world.dc, &write).into())
            .map_err(|e| failed(&e))?;
    let mut doc = serde_json::to_value(&world.dc).map_err(|e| failed(&e))?;
    json_patch::patch(&mut doc, &patch).map_err(|e| failed(&e))?;
    let written: DeploymentConfig = serde_json::from_value(doc).map_err(|e| failed(&e))?;
    world.edit(|spec| *spec = written.spec);
    Ok(())
}

/// Sets the image of the container (or init container) named `container` in a pod template.
fn set_image(template: &mut Value, container: &str, image: &str) {
    for list in ["containers", "initContainers"] {
        for c in template["spec"][list].as_array_mut().into_iter().flatten() {
            if c["name"] == container {
                c["image"] = Value::String(image.to_string());
            }
        }
    }
}

/// The tags a plan's images arrive in: `(namespace, stream)` → tag → image. Each reads as an
/// ImageStream whose tag holds only that image.
#[derive(Default)]
struct Arrivals(BTreeMap<(String, String), BTreeMap<String, String>>);

impl Arrivals {
    fn push(&mut self, namespace: &str, stream: &str, tag: &str, image: &str) {
        self.0
            .entry((namespace.to_string(), stream.to_string()))
            .or_default()
            .insert(tag.to_string(), image.to_string());
    }
}

impl Streams for Arrivals {
    fn stream(&self, namespace: &str, name: &str) -> Option<Arc<ImageStream>> {
        let tags = self.0.get(&(namespace.to_string(), name.to_string()))?;
        let tags: Vec<Value> = tags
            .iter()
            .map(|(tag, image)| {
                json!({"tag": tag, "items": [{"created": "2000-01-01T00:00:00Z",
                       "dockerImageReference": image, "image": "", "generation": 1}]})
            })
            .collect();
        let stream = json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
                            "metadata": {"name": name, "namespace": namespace}, "spec": {},
                            "status": {"dockerImageRepository": "", "tags": tags}});
        serde_json::from_value(stream).ok().map(Arc::new)
    }
}

/// An ImageChange trigger records the image its containers now name, as when that image
/// arrives in its ImageStreamTag; a container left blank (a GitOps placeholder) keeps the image
/// its trigger resolved before, as the trigger controller would write it back.
fn follow_template_images(old: &DeploymentConfig, dc: &mut DeploymentConfig) {
    let resolved: BTreeMap<String, String> = old
        .spec
        .image_change_params()
        .filter_map(|p| Some((p.from.name.clone()?, p.last_triggered_image.clone()?)))
        .collect();
    let images = template_images(dc);
    let mut fill: Vec<(String, String)> = Vec::new();
    for params in image_triggers(dc) {
        let current = params
            .container_names
            .iter()
            .find_map(|c| images.get(c))
            .filter(|i| !i.trim().is_empty());
        let before = params.from.name.as_ref().and_then(|n| resolved.get(n));
        match (current, before) {
            (Some(image), _) => params.last_triggered_image = Some(image.clone()),
            (None, Some(image)) => {
                params.last_triggered_image = Some(image.clone());
                fill.extend(
                    params
                        .container_names
                        .iter()
                        .map(|c| (c.clone(), image.clone())),
                );
            }
            (None, None) => {}
        }
    }
    for (container, image) in fill {
        set_image(&mut dc.spec.template.0, &container, &image);
    }
}

pub(super) fn template_images(dc: &DeploymentConfig) -> BTreeMap<String, String> {
    dc.spec
        .template
        .containers()
        .iter()
        .map(|c| (c.name.to_string(), c.image.to_string()))
        .collect()
}

pub(super) fn image_triggers(
    dc: &mut DeploymentConfig,
) -> impl Iterator<Item = &mut DeploymentTriggerImageChangeParams> {
    dc.spec
        .triggers
        .iter_mut()
        .flatten()
        .filter_map(|t| t.image_change_params.as_mut())
}
