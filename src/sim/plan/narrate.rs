//! The plan in words: what the operator did in a second (its actions, the hooks it saw end, the
//! warnings it recorded), what the rollout waits for, and how it ends.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::Serialize;
use serde_json::Value;

use super::Before;
use crate::api::keys;
use crate::api::requests::{self, RequestKind};
use crate::sim::{HookRun, World};
use crate::strategy::describe::{Said, Voice, deployer_image, describe};
use crate::strategy::{Finished, Phase};

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

impl Step {
    /// The world after the operator's `actions` at `second`; a rollout that `ended` waits for
    /// nothing.
    pub(super) fn at(world: &World, second: i64, actions: Vec<String>, ended: bool) -> Step {
        Step {
            at: second,
            actions,
            replicas: world.rss.iter().map(|r| (r.name(), r.spec)).collect(),
            pods: world.running_pods(),
            available: world.available_pods_wanted(),
            waits_for: if ended { None } else { waiting_for(world) },
        }
    }
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

/// What the operator's passes of this second ended and did, as the world recorded them.
pub(super) fn decisions(world: &mut World) -> Vec<Said> {
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
    said
}

/// The warnings recorded since the last second: what the user must act on (a fence, a
/// refusal). A failure is said by the revision's phase.
pub(super) fn warnings(world: &mut World) -> Vec<Said> {
    (world.events.drain(..))
        .filter(|(_, e)| e.warning && e.reason != crate::api::events::FAILED)
        .map(|(_, e)| Said::Line(format!("warning {}: {}", e.reason, e.message)))
        .collect()
}

/// What a second's actions say, a revision's scales merged (0 → 2 → 3 is 0 → 3).
pub(super) fn merge_scales(said: Vec<Said>) -> Vec<String> {
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

/// What the rollout waits for: a hook or deployer Job, pods to become available, pods to stop.
pub(super) fn waiting_for(world: &World) -> Option<String> {
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

/// The rollout went to a deployer Job `job` running a program of the user's, at `second`.
pub(super) fn handed_over(job: &str, manifest: &Value, second: i64) -> Ending {
    let image = deployer_image(manifest);
    Ending {
        result: "HandedToDeployer".into(),
        at: Some(second),
        message: format!(
            "the rollout runs in the deployer Job {job} (image {image}) with a command of its own, whose steps are its own (each `cutover deploy` in it takes the steps planned without customParams)"
        ),
    }
}

/// How the rollout to `to` (none if no rollout started) ended, at the second `ended` says, or
/// how far it got.
pub(super) fn ending(
    world: &World,
    before: &Before,
    ended: Option<(Phase, i64)>,
    to: Option<&str>,
) -> Ending {
    let at = Some(world.now.duration_since(before.start).as_secs());
    match (ended, to) {
        (Some((Phase::Complete, second)), Some(to)) => Ending {
            result: "Complete".into(),
            at: Some(second),
            message: format!("{to} is complete; {}", serving(world)),
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
                message: format!("{to} failed: {reason}; {}", serving(world)),
            }
        }
        (_, None) => Ending {
            result: "NoRollout".into(),
            at: None,
            message: no_rollout(world, before),
        },
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

/// Why no rollout started: the change held it, the request was refused, the DeploymentConfig
/// cannot progress, or nothing fires.
fn no_rollout(world: &World, before: &Before) -> String {
    let refused = world
        .request(RequestKind::Latest.as_str())
        .filter(|(_, outcome, _)| outcome != requests::ACCEPTED)
        .map(|(_, _, message)| message);
    let progressing = world
        .condition("Progressing")
        .filter(|(status, _, _)| status != "True")
        .map(|(_, _, message)| message);
    (before.held.clone())
        .or(refused)
        .or(progressing)
        .unwrap_or_else(|| {
            if before.version == 0 {
                "nothing starts a rollout".to_string()
            } else if !before.template_changed {
                format!(
                    "no new revision, the pod template is unchanged; {}",
                    serving(world)
                )
            } else {
                "nothing starts a rollout: no trigger fires for this change (`kubectl dc rollout latest` would start one)".to_string()
            }
        })
}

/// The revisions that run pods, and how many each asks for.
fn serving(world: &World) -> String {
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
}
