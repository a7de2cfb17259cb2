//! The state machine: one pass takes a shift's state (`status.shift`) one step on — requests
//! first (promote, pause, resume, abort), then the start, the hold of a refused Route, the check,
//! and the step.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::route::{Route, ShiftCheck, ShiftStatus};
use crate::api::shift::{paused_by, phase, reason, result};
use crate::strategy::Event;

use super::check::{CheckResult, checking, next_check, paused_by_inconclusive};
use super::declaration::Shift;
use super::follow::Followed;

mod requests;
use requests::requests;

pub struct ShiftInputs<'a> {
    pub route: &'a Route,
    pub shift: &'a Shift,
    /// The DeploymentConfig of `shift.deployment_config` (`None`: not found).
    pub followed: Option<Followed>,
    /// The check the shell ran this pass, because `check_due` said so.
    pub check: Option<CheckResult>,
    /// Why the Route is not admitted, as its status says (`None`: admitted or not yet known).
    pub refused: Option<String>,
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
}

/// The pass of an invalid declaration: nothing moves, the Route serves its own weights. The
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
    let current = previous.filter(|s| s.declaration == shift.digest).cloned();
    let mut d = ShiftDecision {
        status: current.clone().unwrap_or_else(|| ShiftStatus {
            phase: phase::PENDING.into(),
            to: shift.to.clone(),
            declaration: shift.digest.clone(),
            // Following a DeploymentConfig: its next completed rollout starts the shift.
            deployment_config_version: inputs.followed.map(|f| f.latest_version),
            // A new declaration answers no request a former one answered.
            requests: previous.map(|p| p.requests.clone()).unwrap_or_default(),
            ..Default::default()
        }),
        ..Default::default()
    };
    requests(route, shift, &mut d, now);
    start(inputs, &mut d, current.is_none());
    if d.status.phase == phase::PROGRESSING {
        hold(inputs, &mut d);
    }
    if checking(&d.status) {
        if let Some(check) = &inputs.check {
            record_check(inputs, check, &mut d);
        }
        if d.status.phase == phase::PROGRESSING {
            step(shift, &mut d, now);
        }
    }
    d.requeue_after = wake(shift, &d.status, now);
    // From before the first step to the end: a failed or aborted shift's new version gets no
    // traffic, testers' included.
    let live = ![phase::FAILED, phase::ABORTED].contains(&d.status.phase.as_str());
    d.pinned = shift.header.clone().filter(|_| live);
    d
}

/// A new shift starts at once, or, following a DeploymentConfig, when it completes a rollout
/// newer than the one recorded (which also restarts a shift that ended or runs). A rollback of
/// that DeploymentConfig starts none, and ends one that runs: its traffic would go to old code.
fn start(inputs: &ShiftInputs<'_>, d: &mut ShiftDecision, new: bool) {
    let shift = inputs.shift;
    let s = &mut d.status;
    let mut rolled_back = None;
    let begin = match (&shift.deployment_config, inputs.followed) {
        (None, _) => new,
        (Some(name), None) => {
            if s.phase == phase::PENDING {
                s.message = format!("waiting for deploymentconfig {name:?}, which does not exist");
            }
            false
        }
        (Some(name), Some(f)) => {
            let newer = f.latest_version > s.deployment_config_version.unwrap_or(0);
            let running = s.phase == phase::PROGRESSING || s.phase == phase::PAUSED;
            if newer && f.rollback && running {
                rolled_back = Some(format!(
                    "deploymentconfig {name:?} is rolled back (#{}): the route serves its own weights",
                    f.latest_version
                ));
            }
            if newer && f.complete {
                s.deployment_config_version = Some(f.latest_version);
                !f.rollback
            } else {
                if s.phase == phase::PENDING {
                    s.message = format!(
                        "waiting for deploymentconfig {name:?} to complete a rollout (after #{})",
                        s.deployment_config_version.unwrap_or(0)
                    );
                }
                false
            }
        }
    };
    if let Some(message) = rolled_back {
        end(d, phase::ABORTED, reason::ABORTED, message);
        return;
    }
    if begin {
        s.phase = phase::PROGRESSING.into();
        s.paused_by = None;
        s.failed_checks = 0;
        s.inconclusive_checks = 0;
        s.checks.clear();
        go_to_step(inputs.shift, d, 1, inputs.now);
    }
}

/// The shift holds at its step (its weights stay) while there is nothing to judge: a refused
/// Route serves nothing, and while a newer rollout of the followed DeploymentConfig is in
/// flight the pods are a mix of revisions (that rollout, once complete, starts the shift over
/// from its first step: `start`). When the Route is admitted again the step starts over, as
/// after a resume.
fn hold(inputs: &ShiftInputs<'_>, d: &mut ShiftDecision) {
    let s = &mut d.status;
    let halted = inputs
        .followed
        .filter(|f| f.in_flight(Some(s)))
        .map(|f| {
            let name = inputs.shift.deployment_config.as_deref().unwrap_or_default();
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
                inputs.shift.to
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
        shift.to
    );
    d.events
        .push(Event::normal(reason::STEP, s.message.clone()));
}

fn record_check(inputs: &ShiftInputs<'_>, check: &CheckResult, d: &mut ShiftDecision) {
    let Some(analysis) = &inputs.shift.analysis else {
        return;
    };
    let s = &mut d.status;
    let (result, value) = match check {
        CheckResult::Value(v) if analysis.success.holds(*v) => (result::PASSED, v.to_string()),
        CheckResult::Value(v) => (result::FAILED, v.to_string()),
        CheckResult::Inconclusive(why) => (result::INCONCLUSIVE, why.clone()),
    };
    s.last_check_at = Some(Time(inputs.now));
    s.checks.push(ShiftCheck {
        time: Time(inputs.now),
        step: s.step,
        result: result.into(),
        value: value.clone(),
    });
    let excess = s.checks.len().saturating_sub(10);
    s.checks.drain(..excess);
    let want = analysis.success.describe();
    let said = format!(
        "check at step {} ({}%): {value} ({result}; wanted {want})",
        s.step, s.weight
    );
    let failure = match result {
        result::PASSED => {
            s.passed_checks += 1;
            None
        }
        result::FAILED => {
            s.failed_checks += 1;
            (s.failed_checks >= analysis.failure_limit).then(|| {
                format!(
                    "the check failed at step {} ({}%): {} = {value}, wanted {want}",
                    s.step, s.weight, analysis.query
                )
            })
        }
        _ => {
            s.inconclusive_checks += 1;
            (s.inconclusive_checks >= analysis.inconclusive_limit).then(|| {
                format!(
                    "{} checks were inconclusive (the last: {value})",
                    s.inconclusive_checks
                )
            })
        }
    };
    let warning = result != result::PASSED;
    d.events.push(if warning {
        Event::warning(reason::CHECK, said)
    } else {
        Event::normal(reason::CHECK, said)
    });
    if failure.is_none() {
        pause_on_inconclusive(d, result == result::INCONCLUSIVE, &value);
    }
    if let Some(why) = failure {
        let rollback = inputs.shift.rollback_on_failure;
        end(d, phase::FAILED, reason::FAILED, why);
        if rollback && let Some(name) = &inputs.shift.deployment_config {
            let version = inputs.followed.map_or(0, |f| f.latest_version);
            d.rollback = Some((
                name.clone(),
                format!("traffic-shift-{}-{version}", inputs.shift.digest),
            ));
        }
    }
}

/// An inconclusive check pauses the shift (Argo Rollouts' rule), the checks going on; the next
/// conclusive one takes it up again (a failed one counting toward the failure limit as ever).
fn pause_on_inconclusive(d: &mut ShiftDecision, inconclusive: bool, why: &str) {
    let s = &mut d.status;
    if inconclusive && s.phase == phase::PROGRESSING {
        s.phase = phase::PAUSED.into();
        s.paused_by = Some(paused_by::INCONCLUSIVE.into());
        s.message = format!(
            "paused at step {} ({}%): the check was inconclusive ({why}); the next conclusive check, or resume, goes on",
            s.step, s.weight
        );
    } else if !inconclusive && paused_by_inconclusive(s) {
        s.phase = phase::PROGRESSING.into();
        s.paused_by = None;
        s.message = format!(
            "step {} goes on: the check was conclusive ({}% of traffic)",
            s.step, s.weight
        );
    }
}

/// Moves to the next step once the pause is over and (with analysis) a check of this step
/// passed; past the last step the shift has succeeded.
fn step(shift: &Shift, d: &mut ShiftDecision, now: Timestamp) {
    let s = &d.status;
    let Some(started) = s.step_started_at.as_ref().map(|t| t.0) else {
        return;
    };
    let paused_enough = started + shift.pause <= now;
    let checked = shift.analysis.is_none() || s.passed_checks > 0;
    if !(paused_enough && checked) {
        return;
    }
    if s.step as usize >= shift.steps.len() {
        succeed(shift, d, now, "every step passed");
    } else {
        let next = s.step + 1;
        go_to_step(shift, d, next, now);
    }
}

fn succeed(shift: &Shift, d: &mut ShiftDecision, now: Timestamp, why: &str) {
    let s = &mut d.status;
    s.step = shift.steps.len() as i32;
    s.weight = 100;
    s.step_started_at = Some(Time(now));
    let message = format!("{why}: all traffic to {}", shift.to);
    end(d, phase::SUCCEEDED, reason::SUCCEEDED, message);
}

/// Ends the shift: Succeeded keeps all traffic on `to`; Failed and Aborted give the Route its
/// own weights back at once.
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
    let at = [pause_end, check].into_iter().flatten().min()?;
    let wait = at.duration_since(now).max(SignedDuration::from_millis(100));
    Duration::try_from(wait).ok()
}
