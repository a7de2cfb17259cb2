//! A lifecycle hook as a step of a rollout: start its Job the first time it is reached, follow
//! it, and record its outcome on the revision, so a hook that ran is never run again.

use std::time::Duration;

use crate::api::LifecycleHook;
use crate::api::events;
use crate::api::hooks::{HookPoint, outcome};

use super::super::Event;
use super::hook_job::{JobContext, job_manifest};
use super::hooks::{
    JobState, completed_message, failed_message, image_tags, job_name, started_message,
    tagging_message,
};
use super::state::{Rollout, Step};

/// Runs the hook at `point`, if the strategy has one: `Complete` once it has succeeded (or
/// failed under Ignore), `Wait` while its Job runs, `Fail` when it failed under Abort or Retry.
pub(super) fn step(r: &mut Rollout<'_>, point: HookPoint) -> Step {
    let hook = match point {
        HookPoint::Pre => r.strategy.pre.as_ref(),
        HookPoint::Mid => r.strategy.mid.as_ref(),
        HookPoint::Post => r.strategy.post.as_ref(),
    };
    let Some(hook) = hook else {
        return Step::Complete;
    };
    let (ns, rc) = (r.namespace, r.to.name.as_str());
    let recorded =
        r.to.annotations
            .get(&point.outcome_annotation())
            .map(String::as_str);
    match recorded {
        Some(outcome::SUCCEEDED | outcome::IGNORED) => return Step::Complete,
        Some(outcome::FAILED) => {
            let why =
                r.to.annotations
                    .get(&point.message_annotation())
                    .cloned()
                    .unwrap_or_default();
            return Step::Fail(failed_message(point, hook, &why, ns, rc));
        }
        _ => {}
    }
    if hook.tag_images.is_some() {
        return tag_images(r, point, hook);
    }
    let Some(job) = r.jobs.iter().find(|j| j.point == point) else {
        return start(r, point, hook);
    };
    if job.attempt != r.to.attempt {
        // A Job of an earlier attempt (before a retry) is still going away.
        r.stale_jobs.push(job.name.clone());
        return Step::Wait(Some(Duration::from_secs(1)));
    }
    match job.state.clone() {
        JobState::Running => Step::Wait(None),
        JobState::Succeeded => {
            r.record(point, outcome::SUCCEEDED, None);
            r.events.push(Event::normal(
                events::COMPLETED,
                completed_message(point, ns, rc),
            ));
            Step::Complete
        }
        JobState::Failed(why) => failed(r, point, hook, why),
    }
}

/// A tagImages hook: the shell tags the images (the operator's own writes, no Job) and records
/// how that went on the revision, which the next pass turns into the hook's outcome.
fn tag_images(r: &mut Rollout<'_>, point: HookPoint, hook: &LifecycleHook) -> Step {
    let (ns, rc) = (r.namespace, r.to.name.as_str());
    let result =
        r.to.annotations
            .get(&point.tag_result_annotation())
            .cloned();
    match result.as_deref() {
        Some(outcome::SUCCEEDED) => {
            r.record(point, outcome::SUCCEEDED, None);
            r.events.push(Event::normal(
                events::COMPLETED,
                completed_message(point, ns, rc),
            ));
            Step::Complete
        }
        Some(why) => failed(r, point, hook, why.to_string()),
        None => match image_tags(hook, r.to.template(), ns) {
            Ok(tags) => {
                r.events.push(Event::normal(
                    events::STARTED,
                    tagging_message(point, &tags, ns, rc),
                ));
                r.tag_images.push((point, tags));
                Step::Wait(None)
            }
            Err(why) => failed(r, point, hook, why),
        },
    }
}

/// A hook that failed, or whose Job could not be built: its failure policy decides.
fn failed(r: &mut Rollout<'_>, point: HookPoint, hook: &LifecycleHook, why: String) -> Step {
    let message = failed_message(point, hook, &why, r.namespace, &r.to.name);
    r.events
        .push(Event::warning(events::FAILED, message.clone()));
    if hook.failure_policy == crate::api::FAILURE_POLICY_IGNORE {
        r.record(point, outcome::IGNORED, Some(why));
        Step::Complete
    } else {
        r.record(point, outcome::FAILED, Some(why));
        Step::Fail(message)
    }
}

/// Creates the hook's Job: the first pass that reaches the hook.
fn start(r: &mut Rollout<'_>, point: HookPoint, hook: &LifecycleHook) -> Step {
    let (ns, rc) = (r.namespace, r.to.name.as_str());
    let elapsed = r.to.started_at.map_or(0, |s| (r.now - s).get_seconds());
    let config = r.to.config.as_ref().map(|c| &c.spec.strategy);
    let ctx = JobContext {
        dc_name: r.dc_name,
        namespace: ns,
        revision: r.to,
        deadline_seconds: r.strategy.active_deadline_seconds - elapsed,
        labels: config.and_then(|s| s.labels.as_ref()),
        annotations: config.and_then(|s| s.annotations.as_ref()),
    };
    match job_manifest(point, hook, &ctx) {
        Ok(manifest) => {
            r.new_jobs.push((job_name(rc, point), manifest));
            r.events.push(Event::normal(
                events::STARTED,
                started_message(point, hook, ns, rc),
            ));
            Step::Wait(None)
        }
        // (Retry cannot help a Job that cannot be built: it fails as under Abort.)
        Err(why) => failed(r, point, hook, why),
    }
}
