//! The state machine: one pass takes a shift's state (`status.shift`) one step on — requests
//! first (promote, pause, resume, abort), then the start, the hold of a refused Route, the check,
//! and the step.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::route::{Promotion, Route, ShiftStatus};
use crate::api::shift::{phase, reason};
use crate::strategy::Event;

use super::capacity;
use super::check::{CheckResult, checking, next_check};
use super::declaration::{Release, Shift};
use super::follow::{Followed, seen};

mod checks;
mod requests;
use checks::record_check;
use requests::requests;

pub struct ShiftInputs<'a> {
    pub route: &'a Route,
    pub shift: &'a Shift,
    /// The DeploymentConfigs of the shift's releases, by name (absent: not found).
    pub followed: BTreeMap<String, Followed>,
    /// The check the shell ran this pass, because `check_due` said so.
    pub check: Option<CheckResult>,
    /// Why the Route is not admitted, as its status says (`None`: admitted or not yet known).
    pub refused: Option<String>,
    /// Ready pods behind each backend's Service, by backend name.
    pub ready: BTreeMap<String, i32>,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShiftDecision {
    pub status: ShiftStatus,
    pub events: Vec<Event>,
    /// Roll this DeploymentConfig back (a rollback request with this token).
    pub rollback: Option<(String, String)>,
    /// The shift ended this pass: Succeeded, Failed or Aborted (what the metrics count).
    pub finished: Option<&'static str>,
    pub requeue_after: Option<Duration>,
    /// Requests with this header go to `status.to` whatever the weights (while the shift has
    /// not failed or been aborted).
    pub pinned: Option<super::HeaderPin>,
    /// The percentage of requests mirrored to `status.to` (until the shift ends).
    pub mirrored: Option<i32>,
    /// The shift succeeded this pass: its backend is promoted.
    pub promoted: Option<Promotion>,
}

/// The pass of an invalid declaration: nothing moves, the Route serves its stable weights. The
/// requests it had answered are kept, so none is answered twice; the warning is said once, when
/// the declaration becomes invalid (or invalid otherwise).
pub fn invalid(why: &str, previous: Option<&ShiftStatus>) -> ShiftDecision {
    let status = ShiftStatus {
        phase: phase::INVALID.into(),
        message: why.to_string(),
        requests: previous.map(|p| p.requests.clone()).unwrap_or_default(),
        ..Default::default()
    };
    let events = if previous == Some(&status) {
        Vec::new()
    } else {
        vec![Event::warning(reason::INVALID, status.message.clone())]
    };
    ShiftDecision {
        status,
        events,
        ..Default::default()
    }
}

/// Why the Route is refused, as its status says (Admitted=False); `None` while it is admitted
/// or the Gateway has not answered yet.
pub fn refusal(route: &Route) -> Option<String> {
    let ingress = route.status.as_ref()?.ingress.iter();
    let refused = ingress
        .flat_map(|i| &i.conditions)
        .find(|c| c.type_ == crate::api::conditions::route::ADMITTED && c.status == "False")?;
    Some(format!("{}: {}", refused.reason, refused.message))
}

/// Takes the shift one pass on.
pub fn advance(inputs: &ShiftInputs<'_>) -> ShiftDecision {
    let (route, shift, now) = (inputs.route, inputs.shift, inputs.now);
    let previous = route.status.as_ref().and_then(|s| s.shift.as_ref());
    let current = previous.filter(|s| goes_on(s, shift)).cloned();
    let new = current.is_none();
    let mut d = ShiftDecision {
        status: match current {
            Some(s) => redeclared(s, shift),
            None => fresh(inputs, previous),
        },
        ..Default::default()
    };
    requests(route, shift, &mut d, now);
    start(inputs, &mut d, new);
    if d.status.phase == phase::PROGRESSING {
        hold(inputs, &mut d);
    }
    if checking(&d.status)
        && let Some(check) = &inputs.check
    {
        record_check(inputs, check, &mut d);
    }
    if d.status.phase == phase::PROGRESSING && d.status.held_since.is_none() {
        step(inputs, &mut d);
    }
    d.requeue_after = wake(shift, &d.status, now);
    // From before the first step to the end: a failed or aborted shift's new version gets no
    // traffic, testers' included.
    let live = ![phase::FAILED, phase::ABORTED].contains(&d.status.phase.as_str());
    d.pinned = shift
        .header
        .clone()
        .filter(|_| live && !d.status.to.is_empty());
    // Once it serves all traffic, a copy would be a second answer from the same backend.
    let running = live && d.status.phase != phase::SUCCEEDED;
    d.mirrored = shift.mirror.filter(|_| running && !d.status.to.is_empty());
    if d.finished == Some(phase::SUCCEEDED) {
        d.promoted = Some(super::promotion::promoted(route, shift, &d.status, now));
    }
    d
}

/// Whether the shift at `s` goes on under `shift`: an edit of the declaration (a longer pause,
/// another query, other steps) keeps the release where it stands and moves no traffic. A
/// declaration without its backend starts anew, as does an edit after a shift failed, was
/// aborted or was invalid (asking again).
fn goes_on(s: &ShiftStatus, shift: &Shift) -> bool {
    let ended = [phase::INVALID, phase::FAILED, phase::ABORTED].contains(&s.phase.as_str());
    let release = s.to.is_empty() || shift.release_to(&s.to).is_some();
    s.declaration == shift.digest || (!ended && release)
}

/// The state of a shift that goes on under an edited declaration: the weight served stays, the
/// next step is the first of the new steps above it.
fn redeclared(mut s: ShiftStatus, shift: &Shift) -> ShiftStatus {
    // What an earlier cutover recorded of its one DeploymentConfig.
    if let Some(version) = s.deployment_config_version.take()
        && s.deployment_config_versions.is_empty()
    {
        for name in shift.deployment_configs() {
            s.deployment_config_versions
                .insert(name.to_string(), version);
        }
    }
    if s.declaration == shift.digest {
        return s;
    }
    s.declaration = shift.digest.clone();
    if s.phase == phase::PROGRESSING || s.phase == phase::PAUSED {
        s.step = shift.steps.iter().filter(|&&w| w <= s.weight).count() as i32;
        s.message = format!(
            "the declaration changed: {}% of traffic to {} stays; the next step is {}%",
            s.weight,
            s.to,
            shift.steps.get(s.step as usize).copied().unwrap_or(100)
        );
    } else if s.phase == phase::SUCCEEDED {
        s.step = shift.steps.len() as i32;
    }
    s
}

/// A new shift: Pending, every followed DeploymentConfig's revisions up to now seen (only the
/// next completed rollout is a release).
fn fresh(inputs: &ShiftInputs<'_>, previous: Option<&ShiftStatus>) -> ShiftStatus {
    let shift = inputs.shift;
    let only = match shift.releases.as_slice() {
        [one] => one.to.clone(),
        _ => String::new(),
    };
    ShiftStatus {
        phase: phase::PENDING.into(),
        to: only,
        declaration: shift.digest.clone(),
        deployment_config_versions: shift
            .deployment_configs()
            .filter_map(|name| Some((name.to_string(), inputs.followed.get(name)?.latest_version)))
            .collect(),
        // A new declaration answers no request a former one answered.
        requests: previous.map(|p| p.requests.clone()).unwrap_or_default(),
        ..Default::default()
    }
}

/// A release starts a shift to its backend: a new declaration without a DeploymentConfig at
/// once; with DeploymentConfigs, the completion of a rollout newer than the one each was last
/// seen at (which also starts over a shift that ended or runs; of two at once, the one
/// declared last). A rollback starts none, and ends the shift that runs to its backend: the
/// traffic would go to old code.
fn start(inputs: &ShiftInputs<'_>, d: &mut ShiftDecision, new: bool) {
    let shift = inputs.shift;
    let s = &mut d.status;
    let running = s.phase == phase::PROGRESSING || s.phase == phase::PAUSED;
    let mut begin = match shift.releases.as_slice() {
        [
            Release {
                to,
                deployment_config: None,
            },
        ] if new => Some(to.clone()),
        _ => None,
    };
    let mut rolled_back = None;
    for release in &shift.releases {
        let Some(name) = &release.deployment_config else {
            continue;
        };
        let Some(f) = inputs.followed.get(name) else {
            continue;
        };
        if f.latest_version <= seen(Some(s), name) {
            continue;
        }
        if f.rollback && running && s.to == release.to {
            rolled_back = Some(format!(
                "deploymentconfig {name:?} is rolled back (#{}): the route serves its stable weights",
                f.latest_version
            ));
        }
        if f.complete {
            s.deployment_config_versions
                .insert(name.clone(), f.latest_version);
            if !f.rollback {
                begin = Some(release.to.clone());
            }
        }
    }
    if let Some(message) = rolled_back {
        end(d, phase::ABORTED, reason::ABORTED, message);
        return;
    }
    let Some(to) = begin else {
        if s.phase == phase::PENDING {
            s.message = waiting(inputs, s);
        }
        return;
    };
    s.to = to;
    s.phase = phase::PROGRESSING.into();
    s.paused_by = None;
    s.failed_checks = 0;
    s.inconclusive_checks = 0;
    s.checks.clear();
    s.pods_before = Some(capacity::serving_before(inputs.route, &s.to, &inputs.ready));
    if super::promotion::serves_all(inputs.route, &s.to) {
        let why = format!("nothing to shift: {} already receives all traffic", s.to);
        succeed(shift, d, inputs.now, &why);
    } else {
        // Before the first step: no traffic yet, so nothing to wait or check for but capacity.
        s.step = 0;
        s.weight = 0;
        s.step_started_at = Some(Time(inputs.now));
        s.last_check_at = None;
        s.held_since = None;
        take_step(inputs, d, 1);
    }
}

/// What a Pending shift waits for.
fn waiting(inputs: &ShiftInputs<'_>, s: &ShiftStatus) -> String {
    let each: Vec<String> = inputs
        .shift
        .deployment_configs()
        .map(|name| match inputs.followed.get(name) {
            None => format!("{name:?}, which does not exist"),
            Some(_) => format!(
                "{name:?} to complete a rollout (after #{})",
                seen(Some(s), name)
            ),
        })
        .collect();
    format!("waiting for deploymentconfig {}", each.join(", or "))
}

/// The shift holds at its step (its weights stay) while there is nothing to judge: a refused
/// Route serves nothing, and while a newer rollout of the followed DeploymentConfig is in
/// flight the pods are a mix of revisions (that rollout, once complete, starts the shift over
/// from its first step: `start`). When the Route is admitted again the step starts over, as
/// after a resume.
fn hold(inputs: &ShiftInputs<'_>, d: &mut ShiftDecision) {
    let s = &mut d.status;
    let behind = inputs.shift.deployment_config_of(&s.to);
    let halted = behind
        .and_then(|name| Some((name, inputs.followed.get(name)?)))
        .filter(|(name, f)| f.in_flight(seen(Some(s), name)))
        .map(|(name, f)| {
            format!(
                "deploymentconfig {name:?} is rolling out #{}: the shift starts over from step 1 when it completes",
                f.latest_version
            )
        });
    let refused = inputs
        .refused
        .as_ref()
        .map(|why| format!("the route is not admitted: {why}"));
    let held = halted
        .as_ref()
        .map(|why| (reason::HALTED, why))
        .or(refused.as_ref().map(|why| (reason::HELD, why)));
    match (held, &s.held_since) {
        (Some((reason, why)), None) => {
            s.held_since = Some(Time(inputs.now));
            s.message = format!("held at step {} ({}%): {why}", s.step, s.weight);
            d.events.push(Event::warning(reason, s.message.clone()));
        }
        (None, Some(_)) => {
            s.held_since = None;
            s.step_started_at = Some(Time(inputs.now));
            s.last_check_at = None;
            s.message = format!(
                "step {} of {} starts over: the route is admitted again ({}% of traffic to {})",
                s.step,
                inputs.shift.steps.len(),
                s.weight,
                s.to
            );
        }
        _ => {}
    }
}

fn go_to_step(shift: &Shift, d: &mut ShiftDecision, step: i32, now: Timestamp) {
    let s = &mut d.status;
    let weight = shift.steps.get((step - 1) as usize).copied().unwrap_or(100);
    s.step = step;
    s.weight = weight;
    s.step_started_at = Some(Time(now));
    s.last_check_at = None;
    s.held_since = None;
    s.passed_checks = 0;
    s.message = format!(
        "step {step} of {}: {weight}% of traffic to {}",
        shift.steps.len(),
        s.to
    );
    d.events
        .push(Event::normal(reason::STEP, s.message.clone()));
}

/// Moves to the next step once the pause is over and (with analysis) a check of this step
/// passed (before the first step, at once); past the last step the shift has succeeded.
fn step(inputs: &ShiftInputs<'_>, d: &mut ShiftDecision) {
    let (shift, now) = (inputs.shift, inputs.now);
    let s = &d.status;
    let Some(started) = s.step_started_at.as_ref().map(|t| t.0) else {
        return;
    };
    let paused_enough = started + shift.pause <= now;
    let checked = shift.analysis.is_none() || s.passed_checks > 0;
    if s.step > 0 && !(paused_enough && checked) {
        return;
    }
    if s.step as usize >= shift.steps.len() {
        succeed(shift, d, now, "every step passed");
    } else {
        let next = s.step + 1;
        take_step(inputs, d, next);
    }
}

/// Takes step `step` of the schedule, once the backend has the ready pods its share needs;
/// until then the shift stays where it stands and says what it waits for (once per change).
fn take_step(inputs: &ShiftInputs<'_>, d: &mut ShiftDecision, step: i32) {
    let percent = inputs
        .shift
        .steps
        .get((step - 1) as usize)
        .copied()
        .unwrap_or(100);
    match capacity::short(&d.status, step, percent, &inputs.ready) {
        None => go_to_step(inputs.shift, d, step, inputs.now),
        Some(why) if d.status.message != why => {
            d.status.message = why.clone();
            d.events.push(Event::normal(reason::CAPACITY, why));
        }
        Some(_) => {}
    }
}

fn succeed(shift: &Shift, d: &mut ShiftDecision, now: Timestamp, why: &str) {
    let s = &mut d.status;
    s.step = shift.steps.len() as i32;
    s.weight = 100;
    s.step_started_at = Some(Time(now));
    let message = format!("{why}: all traffic to {}", s.to);
    end(d, phase::SUCCEEDED, reason::SUCCEEDED, message);
}

/// Ends the shift: Succeeded promotes `to` (all traffic stays on it); Failed and Aborted give the
/// Route its stable weights back at once (the spec's, or the last promotion's).
fn end(d: &mut ShiftDecision, phase: &'static str, reason: &'static str, message: String) {
    let s = &mut d.status;
    s.phase = phase.into();
    s.held_since = None;
    s.paused_by = None;
    if phase != self::phase::SUCCEEDED {
        s.weight = 0;
    }
    s.message = message.clone();
    d.events.push(if phase == self::phase::SUCCEEDED {
        Event::normal(reason, message)
    } else {
        Event::warning(reason, message)
    });
    d.finished = Some(phase);
}

/// When to look again: the next check, or the end of the step's pause (while held, the Route's
/// admission or the DeploymentConfig's rollout wakes it; while paused by request, the request).
fn wake(shift: &Shift, s: &ShiftStatus, now: Timestamp) -> Option<Duration> {
    if !checking(s) {
        return None;
    }
    let pause_end = s
        .step_started_at
        .as_ref()
        .filter(|_| s.phase == phase::PROGRESSING)
        .map(|t| t.0 + shift.pause);
    let check = shift.analysis.as_ref().and_then(|a| next_check(a, s));
    // What is due now was done this pass (or waits for pods, whose change wakes the Route).
    let at = [pause_end, check]
        .into_iter()
        .flatten()
        .filter(|at| *at > now)
        .min()?;
    let wait = at.duration_since(now).max(SignedDuration::from_millis(100));
    Duration::try_from(wait).ok()
}
