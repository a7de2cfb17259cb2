//! An action of the planner in words. Three tell what the operator does: a rollout plan's
//! narration (`sim::plan`), `cutover deploy`'s log and the operator's own log. They word it
//! differently (a reviewer, a deployer pod's reader in OpenShift's style, an operator's log), but
//! through this one function, so a new action is worded for all three or nothing compiles.

use std::fmt;

use serde_json::Value;

use super::{Action, Event, HookPoint, ImageTag, RevisionUpdate};
use crate::api::events;
use crate::api::keys::{self, phase};

/// Who tells, and so what is said and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice<'a> {
    /// A rollout plan: every step a reviewer should see; a revision's replicas as
    /// `Said::Scale` (the plan merges those of one second). Not events: the plan tells the
    /// warnings from the recorded events.
    Plan,
    /// `cutover deploy`, in the style of OpenShift's deployer pod: the rollout's scales, hooks
    /// and events, not the operator's bookkeeping. `revision` is the one it rolls out; the
    /// others are "older deployments".
    Deployer { revision: &'a str },
    /// The operator's log: a short label for every action.
    Log,
}

/// One thing said about an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// A revision's replicas change (only a plan says it so, to merge 0 → 2 → 3 into 0 → 3).
    Scale {
        name: String,
        from: i32,
        to: i32,
    },
    Line(String),
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Said::Scale { name, from, to } => write!(f, "scale {name} {from} → {to}"),
            Said::Line(line) => f.write_str(line),
        }
    }
}

/// What `voice` says of `action`; nothing for what its reader need not see.
pub fn describe(action: &Action, voice: Voice) -> Vec<Said> {
    use Voice::{Deployer, Log, Plan};
    let line = |s: String| vec![Said::Line(s)];
    match (action, voice) {
        (Action::Adopt { name }, Plan | Log) => line(format!("adopt {name}")),
        (Action::Release { name }, Plan | Log) => line(format!("release {name}")),
        // Created at the replicas its first step wants.
        (Action::CreateRevision { name, manifest }, Plan) => vec![
            Said::Line(format!("create {name}")),
            Said::Scale {
                name: name.clone(),
                from: 0,
                to: manifest["spec"]["replicas"].as_i64().unwrap_or(0) as i32,
            },
        ],
        (Action::CreateRevision { name, manifest }, Log) => {
            line(format!("create {name} at {}", manifest["spec"]["replicas"]))
        }
        (Action::Update(u), voice) => update(u, voice),
        (Action::DeleteRevision { name }, Plan) => line(format!("prune {name}")),
        (Action::DeleteRevision { name }, Log) => line(format!("delete {name}")),
        (Action::CreateJob { name, manifest }, voice) => hook_job(name, manifest, voice),
        (Action::CreateDeployerJob { name, manifest, .. }, Plan) => line(format!(
            "start the deployer (Job {name}, image {})",
            deployer_image(manifest)
        )),
        (Action::CreateDeployerJob { name, .. }, Log) => {
            line(format!("create deployer job {name}"))
        }
        (Action::DeleteJob { name }, Plan) => line(format!("delete Job {name}")),
        (Action::DeleteJob { name }, Deployer { .. }) => {
            line(format!("--> Deleting Job {name} of an earlier attempt"))
        }
        (Action::DeleteJob { name }, Log) => line(format!("delete job {name}")),
        (Action::TagImages { point, tags, .. }, Plan) => line(format!(
            "tag {} image(s) for the {} hook",
            tags.len(),
            point.as_str()
        )),
        (Action::TagImages { point, tags, .. }, Deployer { .. }) => tagging(*point, tags),
        (
            Action::TagImages {
                revision, point, ..
            },
            Log,
        ) => line(format!(
            "tag images of {revision} ({} hook)",
            point.as_str()
        )),
        (Action::RollBackConfig { .. }, Plan) => line("roll the pod template back".into()),
        (Action::RollBackConfig { .. }, Log) => line("roll back the template".into()),
        (Action::Event(e), voice) => event(e, voice),
        // The deployer's planner never asks for these; the operator's ladder does.
        (
            Action::Adopt { .. }
            | Action::Release { .. }
            | Action::CreateRevision { .. }
            | Action::DeleteRevision { .. }
            | Action::CreateDeployerJob { .. }
            | Action::RollBackConfig { .. },
            Deployer { .. },
        ) => Vec::new(),
    }
}

/// The image of a deployer Job's (first) container.
pub fn deployer_image(manifest: &Value) -> &str {
    manifest["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
}

/// A patch of a revision: its phase (a plan tells it), its replicas.
fn update(u: &RevisionUpdate, voice: Voice) -> Vec<Said> {
    match voice {
        Voice::Plan => {
            let mut said = Vec::new();
            if let Some(phase) = u.annotations.get(keys::PHASE_ANNOTATION).cloned().flatten() {
                let why = match u.annotations.get(keys::STATUS_REASON_ANNOTATION) {
                    Some(Some(reason)) if phase == phase::FAILED => format!(": {reason}"),
                    _ => String::new(),
                };
                said.push(Said::Line(format!("{} {phase}{why}", u.name)));
            }
            said.extend(u.scale.map(|s| Said::Scale {
                name: u.name.clone(),
                from: s.from,
                to: s.to,
            }));
            said
        }
        Voice::Deployer { revision } => (u.scale.into_iter())
            .map(|s| {
                let which = if u.name == revision {
                    ""
                } else {
                    "older deployment "
                };
                let direction = if s.to > s.from { "up" } else { "down" };
                Said::Line(format!(
                    "--> Scaling {which}{} {direction} to {}",
                    u.name, s.to
                ))
            })
            .collect(),
        Voice::Log => vec![Said::Line(match u.scale {
            Some(s) => format!("scale {} {}->{}", u.name, s.from, s.to),
            None => format!("annotate {}", u.name),
        })],
    }
}

/// A hook's Job created.
fn hook_job(name: &str, manifest: &Value, voice: Voice) -> Vec<Said> {
    let label = manifest["metadata"]["labels"][keys::DEPLOYER_POD_TYPE_LABEL]
        .as_str()
        .unwrap_or_default();
    let point = label.strip_prefix("hook-");
    vec![Said::Line(match voice {
        Voice::Plan => format!("run the {} hook (Job {name})", point.unwrap_or(label)),
        Voice::Deployer { .. } => format!(
            "--> {}: Running hook Job {name} ...",
            point.unwrap_or("hook")
        ),
        Voice::Log => format!("create job {name}"),
    })]
}

/// A tagImages hook's tags, a line each, as OpenShift's deployer prints them.
fn tagging(point: HookPoint, tags: &[ImageTag]) -> Vec<Said> {
    let lines: Vec<String> = (tags.iter())
        .map(|t| {
            format!(
                "--> {}: Tagging {:?} into {}/{}:{}",
                point.as_str(),
                t.image,
                t.namespace,
                t.stream,
                t.tag
            )
        })
        .collect();
    vec![Said::Line(lines.join("\n"))]
}

fn event(e: &Event, voice: Voice) -> Vec<Said> {
    let line = match voice {
        Voice::Plan => None,
        // Said by the line of the Job's creation.
        Voice::Deployer { .. } if e.reason == events::STARTED => None,
        Voice::Deployer { .. } if e.warning => Some(format!("--> warning: {}", e.message)),
        Voice::Deployer { .. } => Some(format!("--> {}", e.message)),
        Voice::Log => Some(format!("event {}", e.reason)),
    };
    line.map(Said::Line).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::strategy::Scale;

    fn words(action: &Action, voice: Voice) -> Vec<String> {
        describe(action, voice)
            .iter()
            .map(Said::to_string)
            .collect()
    }

    #[test]
    fn each_voice_words_a_scale_its_way() {
        let mut update = RevisionUpdate::new("web-1");
        update.scale = Some(Scale { from: 3, to: 1 });
        let action = Action::Update(update);
        assert_eq!(words(&action, Voice::Plan), ["scale web-1 3 → 1"]);
        let deployer = Voice::Deployer { revision: "web-2" };
        assert_eq!(
            words(&action, deployer),
            ["--> Scaling older deployment web-1 down to 1"]
        );
        assert_eq!(words(&action, Voice::Log), ["scale web-1 3->1"]);
    }

    #[test]
    fn the_log_labels_every_action_and_the_deployer_only_the_rollout() {
        let manifest = json!({"spec": {"replicas": 2}});
        let create = Action::CreateRevision {
            name: "web-2".into(),
            manifest,
        };
        assert_eq!(words(&create, Voice::Log), ["create web-2 at 2"]);
        assert_eq!(
            words(&create, Voice::Plan),
            ["create web-2", "scale web-2 0 → 2"]
        );
        assert!(words(&create, Voice::Deployer { revision: "web-2" }).is_empty());
        let event = Action::Event(Event::normal(events::STARTED, "started".into()));
        assert_eq!(words(&event, Voice::Log), ["event Started"]);
        assert!(words(&event, Voice::Plan).is_empty());
        assert!(words(&event, Voice::Deployer { revision: "web-2" }).is_empty());
    }
}
