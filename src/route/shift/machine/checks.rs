//! A check's result recorded on the shift: its history (the last ten), the counters, the event,
//! the pause an inconclusive one makes, and the failure (with a rollback request) past a limit.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::route::ShiftCheck;
use crate::api::shift::{paused_by, phase, reason, result};
use crate::strategy::Event;

use super::super::check::{CheckResult, paused_by_inconclusive};
use super::{ShiftDecision, ShiftInputs, end};

/// Records `check`, the result of this pass's check.
pub(super) fn record_check(inputs: &ShiftInputs<'_>, check: &CheckResult, d: &mut ShiftDecision) {
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
        let behind = inputs.shift.deployment_config_of(&d.status.to);
        if rollback && let Some(name) = behind {
            let version = inputs.followed.get(name).map_or(0, |f| f.latest_version);
            d.rollback = Some((
                name.to_string(),
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
