//! Rollout plans: what the next rollout of a DeploymentConfig would do, step by step, before it
//! runs. The operator's own `strategy::plan` is driven over the simulated cluster (`World`),
//! started from the live state (`from_cluster`) or from a manifest (`from_manifest`, for review
//! in a pull request); there is no second implementation of the rollout to drift from the first.
//!
//! What a plan cannot know it assumes, and says so (`Assumptions`): how long pods take to become
//! ready, how long hooks run, and (with `unready`) that some new pods never become ready.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::{HookRun, Pod, Readiness, Rs, SimJob, World};
use crate::api::defaults::StrategyKind;
use crate::api::requests::RequestKind;
use crate::api::{DeploymentConfig, keys};
use crate::strategy::config_triggers;
use crate::strategy::deployer::plan::Outcome as DeployOutcome;
use crate::strategy::describe::{Said, Voice, deployer_image, describe};
use crate::strategy::rollout::hooks::{JobState, job_state};
use crate::strategy::{Finished, Phase};

/// What a plan assumes of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assumptions {
    /// Seconds from a pod's start to its readiness (minReadySeconds come on top).
    pub ready_after_seconds: i64,
    /// Seconds a hook Job runs before it succeeds.
    pub hook_seconds: i64,
    /// Pods of the new revision that never become ready (a crash loop, a failing probe).
    pub unready: i32,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            ready_after_seconds: 5,
            hook_seconds: 10,
            unready: 0,
        }
    }
}

/// What is planned: the change that starts the rollout.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The DeploymentConfig as a manifest would apply it: its spec and annotations.
    pub manifest: Option<DeploymentConfig>,
    /// New images by container name, as if they arrived (an ImageChange trigger that governs
    /// the container records the image as its `lastTriggeredImage`).
    pub images: Vec<(String, String)>,
    /// `rollout latest`: a new revision even if nothing changed.
    pub latest: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("deploymentconfig {dc:?} has no container {container:?} (it has: {known})")]
    UnknownContainer {
        dc: String,
        container: String,
        known: String,
    },
    #[error("the manifest is deploymentconfig {found:?}, not {expected:?}")]
    OtherDeploymentConfig { expected: String, found: String },
    /// The trigger controller's write did not apply to the simulated DeploymentConfig.
    #[error("could not apply the image trigger's write: {0}")]
    TriggerWrite(String),
}

/// One second of the plan in which the operator acted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Seconds from the change.
    pub at: i64,
    /// What the operator does, in words.
    pub actions: Vec<String>,
    /// The replicas each revision asks for afterwards, by revision name.
    pub replicas: BTreeMap<String, i32>,
    /// Pods running (not terminating), and those available, at that moment.
    pub pods: i32,
    pub available: i32,
    /// What the rollout waits for before its next step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<String>,
}

/// How the planned rollout ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ending {
    /// Complete, Failed, Cancelled, NoRollout or Unfinished.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    pub message: String,
}

/// The bounds a Rolling rollout keeps, resolved for its replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounds {
    pub min_available: i32,
    pub max_pods: i32,
}

/// What the plan saw over the whole rollout, second by second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extremes {
    pub fewest_available: i32,
    pub most_pods: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPlan {
    /// `namespace/name`.
    pub deployment_config: String,
    pub strategy: String,
    pub replicas: i32,
    /// The revision serving before the change, and the one the rollout creates.
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Bounds>,
    pub assumptions: Assumptions,
    pub steps: Vec<Step>,
    pub ending: Ending,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extremes: Option<Extremes>,
    /// What the planner asked for that the cluster could not do: a bug to report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<String>,
}

/// The simulated cluster as it stands: the DeploymentConfig, its ReplicaSets (their pods
/// as their status counts them) and its hook and deployer Jobs, at `now`.
pub fn from_cluster(
    dc: DeploymentConfig,
    replica_sets: &[ReplicaSet],
    jobs: &[Job],
    now: Timestamp,
    a: &Assumptions,
) -> World {
    let mut world = lenient(dc, a);
    world.now = now;
    world.generation = world.dc.metadata.generation.unwrap_or(1).max(1);
    let ready_after = SignedDuration::from_secs(a.ready_after_seconds);
    // Only what the operator itself would count (strategy::observe): its revisions and the
    // orphans it adopts, not another controller's ReplicaSet or one being deleted, and the
    // Jobs of those revisions.
    let observed =
        crate::strategy::observe::build(&world.dc, replica_sets, std::iter::empty(), jobs, "");
    let counted: std::collections::HashSet<&str> = (observed.revisions.iter())
        .map(|r| r.name.as_str())
        .chain(observed.orphans.iter().map(String::as_str))
        .collect();
    let counted_jobs: std::collections::HashSet<&str> = (observed.hook_jobs.iter())
        .map(|j| j.name.as_str())
        .chain(observed.deployer_jobs.iter().map(|j| j.name.as_str()))
        .collect();
    let replica_sets = replica_sets
        .iter()
        .filter(|rs| counted.contains(rs.metadata.name.as_deref().unwrap_or_default()));
    let jobs = jobs
        .iter()
        .filter(|j| counted_jobs.contains(j.metadata.name.as_deref().unwrap_or_default()));
    for rs in replica_sets {
        let status = rs.status.clone().unwrap_or_default();
        let min_ready = SignedDuration::from_secs(i64::from(
            rs.spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0),
        ));
        let available = status.available_replicas.unwrap_or(0).max(0);
        let ready = status.ready_replicas.unwrap_or(0).max(available);
        let pods = (0..status.replicas.max(ready))
            .map(|i| Pod {
                ready_at: Some(if i < available {
                    now - min_ready
                } else if i < ready {
                    now
                } else {
                    now + ready_after
                }),
                gone_at: None,
            })
            .collect();
        let mut manifest = serde_json::to_value(rs).unwrap_or(Value::Null);
        if !manifest["metadata"]["annotations"].is_object() {
            manifest["metadata"]["annotations"] = json!({});
        }
        world.rss.push(Rs {
            manifest,
            spec: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            generation: rs.metadata.generation.unwrap_or(1),
            observed_generation: status.observed_generation.unwrap_or(0),
            pods,
            created: rs.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0),
            changed_at: now,
        });
    }
    for job in jobs {
        // Its clock starts now: an ended Job has ended, a running one runs `hook_seconds` more.
        let run = match job_state(job, "") {
            JobState::Succeeded => HookRun::SucceedAfter(0),
            JobState::Failed(_) => HookRun::FailAfter(0),
            JobState::Running => HookRun::SucceedAfter(a.hook_seconds),
        };
        world.jobs.push(SimJob {
            manifest: serde_json::to_value(job).unwrap_or(Value::Null),
            created: now,
            run,
        });
    }
    world.configs = recorded_configs(&world);
    world
}

/// The simulated cluster before a manifest's first rollout: a GitOps repository's
/// DeploymentConfig as it would be applied, its ImageChange triggers resolved to the images it
/// names.
pub fn unstarted(mut dc: DeploymentConfig, a: &Assumptions) -> World {
    dc.status = None;
    let images = template_images(&dc);
    for params in image_triggers(&mut dc) {
        let image = params.container_names.iter().find_map(|c| images.get(c));
        if let Some(image) = image.filter(|i| !i.trim().is_empty()) {
            params.last_triggered_image = Some(image.clone());
        }
    }
    let mut world = lenient(dc, a);
    world.configs = recorded_configs(&world);
    world
}

/// The simulated cluster once a manifest's first rollout is over, every pod ready: where a
/// reviewed change starts from.
pub fn from_manifest(dc: DeploymentConfig, a: &Assumptions) -> World {
    // How it got there does not matter: a plain rollout (no hooks, no deployer) brings it up.
    let strategy = dc.spec.strategy.clone();
    let mut plain = dc;
    plain.spec.strategy = crate::api::DeploymentStrategy {
        type_: strategy.type_.clone().filter(|t| t == "Recreate"),
        ..Default::default()
    };
    let mut world = unstarted(plain, a);
    let assumed = world.readiness.clone();
    world.readiness.insert(1, Readiness::After(0));
    world.run_until(60, settled, |_| {});
    if world.latest_version() == 0 {
        // No trigger started it: someone ran `rollout latest`.
        world.annotate(&RequestKind::Latest.annotation(), "first");
        world.run_until(3600, settled, |_| {});
    }
    world.readiness = assumed;
    world.dc.spec.strategy = strategy;
    world.decisions.clear();
    world.events.clear();
    world
}

/// Plans the rollout `change` starts in `world`.
pub fn plan(mut world: World, change: &Change, a: &Assumptions) -> Result<RolloutPlan, PlanError> {
    let before = world.latest_version();
    let from = active(&world);
    let template = world.dc.spec.template.clone();
    let held = apply(&mut world, change)?;
    let template_changed = world.dc.spec.template != template;
    let replicas = world.dc.spec.replicas;
    if a.unready > 0 {
        let ready = (replicas - a.unready).max(0) as usize;
        world.readiness.insert(
            before + 1,
            if ready == 0 {
                Readiness::Never
            } else {
                Readiness::AtMost {
                    pods: ready,
                    after: a.ready_after_seconds,
                }
            },
        );
    }
    let strategy = world.dc.effective_strategy().ok();
    let bounds = strategy
        .as_ref()
        .filter(|s| s.kind == StrategyKind::Rolling)
        .and_then(|s| {
            crate::strategy::rollout::rolling::fenceposts(
                replicas,
                &s.max_surge,
                &s.max_unavailable,
                0,
            )
            .ok()
        })
        .map(|f| Bounds {
            min_available: f.min_available,
            max_pods: f.max_total,
        });
    // Long enough for any rollout to end: its deadline, then the rollback.
    let limit = strategy
        .as_ref()
        .map_or(21_600, |s| s.active_deadline_seconds.max(s.timeout_seconds))
        + 600;

    let start = world.now;
    let mut steps: Vec<Step> = Vec::new();
    let mut extremes: Option<Extremes> = None;
    let mut ended: Option<(Phase, i64)> = None;
    let mut quiet = 0;
    let mut handed_over = None;
    for second in 0..=limit {
        if second > 0 {
            world.tick_only();
        }
        world.reconcile();
        world.reconcile();
        let mut said = Vec::new();
        for decision in world.decisions.drain(..) {
            said.extend(decision.finished.iter().filter_map(finished));
            said.extend(
                decision
                    .actions
                    .iter()
                    .flat_map(|a| describe(a, Voice::Plan)),
            );
        }
        said.extend(run_deployers(&mut world));
        // Warnings say what the user must act on (a fence, a refusal); a failure is said above.
        said.extend(
            world
                .events
                .drain(..)
                .filter(|(_, e)| e.warning && e.reason != crate::api::events::FAILED)
                .map(|(_, e)| Said::Line(format!("warning {}: {}", e.reason, e.message))),
        );
        let actions = merge_scales(said);

        let latest = world.latest_version();
        let rolling_out = latest > before;
        let phase = rolling_out.then(|| world.phase(latest)).flatten();
        let phase = phase.map(|p| Phase::parse(Some(&p)));
        if rolling_out && ended.is_none() {
            let seen = Extremes {
                fewest_available: world.available_pods_wanted(),
                most_pods: world.running_pods().max(world.spec_total()),
            };
            extremes = Some(extremes.map_or(seen, |e| Extremes {
                fewest_available: e.fewest_available.min(seen.fewest_available),
                most_pods: e.most_pods.max(seen.most_pods),
            }));
            if let Some(p) = phase.filter(|p| p.is_terminal()) {
                ended = Some((p, second));
            }
        }
        if !actions.is_empty() {
            quiet = 0;
            steps.push(Step {
                at: second,
                actions,
                replicas: world.rss.iter().map(|r| (r.name(), r.spec)).collect(),
                pods: world.running_pods(),
                available: world.available_pods_wanted(),
                waits_for: if phase.is_some_and(|p| p.is_terminal()) {
                    None
                } else {
                    waiting_for(&world)
                },
            });
        } else if cluster_at_rest(&world) {
            quiet += 1;
        }
        // A deployer that runs the user's program: its steps are not the planner's to tell.
        if ended.is_none() && handed_over.is_none() {
            handed_over = world
                .jobs
                .iter()
                .find(|j| j.run == HookRun::Manual && !runs_cutover_deploy(j))
                .map(|j| (j.name(), j.manifest.clone(), second));
        }
        if handed_over.is_some() {
            break;
        }
        // Over once the rollout ended (or none started) and the cluster stands still.
        let over = match ended {
            Some(_) => quiet >= 3,
            None => !rolling_out && quiet >= 10,
        };
        if over {
            break;
        }
    }

    let to = (world.latest_version() > before)
        .then(|| world.revision(world.latest_version()).map(Rs::name))
        .flatten();
    let ending = match handed_over {
        Some((job, manifest, second)) => handed_over_ending(&job, &manifest, second),
        None => ending(
            &world,
            ended,
            to.as_deref(),
            before,
            start,
            template_changed,
            held,
        ),
    };
    // Only the revisions the plan moves, and the one serving before.
    let shown: Vec<String> = world
        .rss
        .iter()
        .map(Rs::name)
        .filter(|name| {
            from.as_ref() == Some(name)
                || to.as_ref() == Some(name)
                || steps
                    .iter()
                    .any(|s| s.replicas.get(name).is_some_and(|&r| r > 0))
        })
        .collect();
    for step in &mut steps {
        step.replicas.retain(|name, _| shown.contains(name));
    }
    Ok(RolloutPlan {
        deployment_config: format!(
            "{}/{}",
            world.dc.namespace().unwrap_or_default(),
            world.dc.name_any()
        ),
        strategy: strategy.as_ref().map_or_else(
            || "invalid".to_string(),
            |s| match (s.kind, s.runs_in_deployer()) {
                (StrategyKind::Custom, _) => "Custom".to_string(),
                (kind, true) => format!("{} (customParams)", kind.as_str()),
                (kind, false) => kind.as_str().to_string(),
            },
        ),
        replicas,
        from,
        to,
        bounds,
        assumptions: *a,
        steps,
        ending,
        extremes,
        anomalies: world.anomalies,
    })
}

/// A world that reports what the planner asks for that it cannot do instead of panicking.
fn lenient(mut dc: DeploymentConfig, a: &Assumptions) -> World {
    if dc.metadata.namespace.is_none() {
        dc.metadata.namespace = Some("default".into());
    }
    dc.metadata.uid.get_or_insert_with(|| "plan".into());
    dc.metadata.generation.get_or_insert(1);
    let mut world = World::new(dc);
    world.strict = false;
    world.ready_after = a.ready_after_seconds;
    world.hook_seconds = a.hook_seconds;
    world.deployer_image = crate::api::defaults::DEFAULT_DEPLOYER_IMAGE.to_string();
    world
}

/// The followed ConfigMaps and Secrets as the latest revision recorded them (a placeholder
/// where it recorded none): unchanged, so only the planned change rolls out.
fn recorded_configs(world: &World) -> config_triggers::ConfigHashes {
    let latest = world.latest_version();
    let recorded: BTreeMap<String, String> = world
        .annotation_of(latest, keys::CONFIG_HASHES_ANNOTATION)
        .and_then(|h| serde_json::from_str(&h).ok())
        .unwrap_or_default();
    config_triggers::followed(&world.dc)
        .into_iter()
        .map(|r| {
            let hash = recorded
                .get(&r.key())
                .cloned()
                .unwrap_or_else(|| "unchanged".into());
            (r.key(), Some(hash))
        })
        .collect()
}

/// Applies the change as its writer would: a manifest, new images, a `rollout latest`. Returns
/// why no rollout may follow, when the change itself says so.
fn apply(world: &mut World, change: &Change) -> Result<Option<String>, PlanError> {
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
    use crate::image::trigger::{self, Firing};
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
            None => {
                for list in ["containers", "initContainers"] {
                    for c in template["spec"][list].as_array_mut().into_iter().flatten() {
                        if c["name"] == container.as_str() {
                            c["image"] = Value::String(image.clone());
                        }
                    }
                }
            }
        }
    }
    world.edit(|spec| spec.template.0 = template);
    let write = trigger::deployment_config(&world.dc, &arrivals, Firing::Automatic);
    if !write.is_empty() {
        let failed = |e: &dyn std::fmt::Display| PlanError::TriggerWrite(e.to_string());
        let patch: json_patch::Patch =
            serde_json::from_value(trigger::json_patch(&world.dc, &write).into())
                .map_err(|e| failed(&e))?;
        let mut doc = serde_json::to_value(&world.dc).map_err(|e| failed(&e))?;
        json_patch::patch(&mut doc, &patch).map_err(|e| failed(&e))?;
        let written: DeploymentConfig = serde_json::from_value(doc).map_err(|e| failed(&e))?;
        world.edit(|spec| *spec = written.spec);
    }
    Ok((!manual.is_empty()).then(|| {
        format!(
            "the ImageChange trigger of {} is not automatic: the new image waits for `kubectl dc rollout latest`",
            manual.iter().map(|c| format!("container {c:?}")).collect::<Vec<_>>().join(", ")
        )
    }))
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

impl crate::image::trigger::Streams for Arrivals {
    fn stream(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<std::sync::Arc<crate::api::image_stream::ImageStream>> {
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
        serde_json::from_value(stream).ok().map(std::sync::Arc::new)
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
        for list in ["containers", "initContainers"] {
            for c in dc.spec.template.0["spec"][list]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                if c["name"] == container.as_str() {
                    c["image"] = Value::String(image.clone());
                }
            }
        }
    }
}

fn template_images(dc: &DeploymentConfig) -> BTreeMap<String, String> {
    dc.spec
        .template
        .containers()
        .iter()
        .map(|c| (c.name.to_string(), c.image.to_string()))
        .collect()
}

fn image_triggers(
    dc: &mut DeploymentConfig,
) -> impl Iterator<Item = &mut crate::api::DeploymentTriggerImageChangeParams> {
    dc.spec
        .triggers
        .iter_mut()
        .flatten()
        .filter_map(|t| t.image_change_params.as_mut())
}

/// The newest Complete revision: the one serving.
fn active(world: &World) -> Option<String> {
    let version = world.observed().active()?;
    world.revision(version).map(Rs::name)
}

/// The latest rollout is over and every pod is where its ReplicaSet wants it.
fn settled(world: &World) -> bool {
    let latest = world.latest_version();
    latest > 0
        && world
            .phase(latest)
            .is_some_and(|p| Phase::parse(Some(&p)).is_terminal())
        && cluster_at_rest(world)
}

fn cluster_at_rest(world: &World) -> bool {
    world
        .rss
        .iter()
        .all(|r| r.pods.len() as i32 == r.spec && r.observed_generation == r.generation)
}

/// Runs cutover's own deployer for the deployer Jobs that run it (`cutover deploy`, the
/// default deployer image), one pass a second from the second after the Job's creation, as its
/// process would; ends the Job when it exits. A user's deployer image is not simulated: its Job runs until the deadline.
fn run_deployers(world: &mut World) -> Vec<Said> {
    let own: Vec<(String, String)> = world
        .jobs
        .iter()
        .filter(|j| j.run == HookRun::Manual && j.created < world.now && runs_cutover_deploy(j))
        .map(|j| (j.name(), j.revision()))
        .collect();
    let mut said = Vec::new();
    for (job, revision) in own {
        let decision = world.deploy_pass(&revision, None);
        said.extend(
            decision
                .actions
                .iter()
                .flat_map(|a| describe(a, Voice::Plan)),
        );
        let success = match decision.outcome {
            DeployOutcome::Continue(_) => continue,
            DeployOutcome::Done | DeployOutcome::Stopped(_) => true,
            DeployOutcome::Failed(why) => {
                said.push(Said::Line(format!("the deployer {job} fails: {why}")));
                false
            }
        };
        world.end_job(&job, success);
    }
    said
}

fn runs_cutover_deploy(job: &SimJob) -> bool {
    let container = &job.manifest["spec"]["template"]["spec"]["containers"][0];
    container["command"].is_null() && container["args"] == json!(["deploy"])
}

/// What the rollout waits for: a hook or deployer Job, pods to become available, pods to stop.
fn waiting_for(world: &World) -> Option<String> {
    let latest = world.revision(world.latest_version())?.name();
    let running_job = world
        .jobs
        .iter()
        .filter(|j| j.revision() == latest)
        .find(|j| match j.run {
            HookRun::SucceedAfter(s) | HookRun::FailAfter(s) => {
                j.created + SignedDuration::from_secs(s) > world.now
            }
            HookRun::Manual => true,
        });
    if let Some(job) = running_job {
        let point = job.point();
        return Some(match point.strip_prefix("hook-") {
            Some(point) => format!("the {point} hook (Job {})", job.name()),
            None => format!("the deployer (Job {})", job.name()),
        });
    }
    let unavailable: Vec<String> = world
        .rss
        .iter()
        .filter_map(|r| {
            let available = r.available(world.now);
            (available < r.spec).then(|| format!("{} {available}/{} available", r.name(), r.spec))
        })
        .collect();
    if !unavailable.is_empty() {
        return Some(unavailable.join(", "));
    }
    let stopping: Vec<String> = world
        .rss
        .iter()
        .filter_map(|r| {
            let extra = r.pods.len() as i32 - r.spec;
            (extra > 0).then(|| format!("{extra} pods of {} to stop", r.name()))
        })
        .collect();
    (!stopping.is_empty()).then(|| stopping.join(", "))
}

/// What a second's actions say, a revision's scales merged (0 → 2 → 3 is 0 → 3).
fn merge_scales(said: Vec<Said>) -> Vec<String> {
    let mut merged: Vec<Said> = Vec::new();
    for s in said {
        if let Said::Scale { name, to, .. } = &s
            && let Some(Said::Scale { to: last, .. }) = merged
                .iter_mut()
                .find(|m| matches!(m, Said::Scale { name: n, .. } if n == name))
        {
            *last = *to;
            continue;
        }
        merged.push(s);
    }
    merged
        .into_iter()
        .filter(|s| !matches!(s, Said::Scale { from, to, .. } if from == to))
        .map(|s| s.to_string())
        .collect()
}

fn finished(finished: &Finished) -> Option<Said> {
    match finished {
        Finished::Hook { point, outcome } => {
            Some(Said::Line(format!("{} hook {outcome}", point.as_str())))
        }
        Finished::Rollout { .. } => None,
    }
}

fn handed_over_ending(job: &str, manifest: &Value, second: i64) -> Ending {
    let image = deployer_image(manifest);
    Ending {
        result: "HandedToDeployer".into(),
        at: Some(second),
        message: format!(
            "the rollout runs in the deployer Job {job} (image {image}) with a command of its own, whose steps are its own (each `cutover deploy` in it takes the steps planned without customParams)"
        ),
    }
}

fn ending(
    world: &World,
    ended: Option<(Phase, i64)>,
    to: Option<&str>,
    before: i64,
    start: Timestamp,
    template_changed: bool,
    held: Option<String>,
) -> Ending {
    let serving = || {
        let serving: Vec<String> = world
            .rss
            .iter()
            .filter(|r| r.spec > 0)
            .map(|r| format!("{} ({})", r.name(), r.spec))
            .collect();
        if serving.is_empty() {
            "no revision runs pods".to_string()
        } else {
            format!("serving: {}", serving.join(", "))
        }
    };
    let at = Some(world.now.duration_since(start).as_secs());
    match (ended, to) {
        (Some((Phase::Complete, second)), Some(to)) => Ending {
            result: "Complete".into(),
            at: Some(second),
            message: format!("{to} is complete; {}", serving()),
        },
        (Some((_, second)), Some(to)) => {
            let reason = world
                .annotation_of(world.latest_version(), keys::STATUS_REASON_ANNOTATION)
                .unwrap_or_default();
            let cancelled = world
                .annotation_of(world.latest_version(), keys::CANCELLED_ANNOTATION)
                .is_some_and(|c| c == "true");
            Ending {
                result: if cancelled { "Cancelled" } else { "Failed" }.into(),
                at: Some(second),
                message: format!("{to} failed: {reason}; {}", serving()),
            }
        }
        (_, None) => {
            let refused = world
                .request(RequestKind::Latest.as_str())
                .filter(|(_, outcome, _)| outcome != crate::api::requests::ACCEPTED)
                .map(|(_, _, message)| message);
            let progressing = world
                .condition("Progressing")
                .filter(|(status, _, _)| status != "True")
                .map(|(_, _, message)| message);
            Ending {
                result: "NoRollout".into(),
                at: None,
                message: held.or(refused).or(progressing).unwrap_or_else(|| {
                    if before == 0 {
                        "nothing starts a rollout".to_string()
                    } else if !template_changed {
                        format!("no new revision, the pod template is unchanged; {}", serving())
                    } else {
                        "nothing starts a rollout: no trigger fires for this change (`kubectl dc rollout latest` would start one)".to_string()
                    }
                }),
            }
        }
        (None, Some(to)) => Ending {
            result: "Unfinished".into(),
            at,
            message: format!(
                "{to} has not ended: {}",
                waiting_for(world).unwrap_or_else(|| "it waits".into())
            ),
        },
    }
}
