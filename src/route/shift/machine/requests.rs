//! The requests on a shift (`cutover.io/request-shift-<verb>`), each token answered once:
//! promote (a step, or all of it), pause, resume and abort.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::keys;
use crate::api::requests as api_requests;
use crate::api::route::Route;
use crate::api::shift::{paused_by, phase, reason};
use crate::strategy::Event;

use super::super::check::paused_by_inconclusive;
use super::super::declaration::Shift;
use super::{ShiftDecision, end, go_to_step, succeed};

/// Promote (a step, or `promote-full`: all of it), pause, resume and abort, each token once
/// (`cutover.io/request-shift-<verb>`).
pub(super) fn requests(route: &Route, shift: &Shift, d: &mut ShiftDecision, now: Timestamp) {
    for verb in keys::SHIFT_REQUESTS {
        let key = format!("{}{verb}", keys::SHIFT_REQUEST_PREFIX);
        let Some(token) = api_requests::unhandled(route, &d.status.requests, verb, &key) else {
            continue;
        };
        let s = &mut d.status;
        let running = s.phase == phase::PROGRESSING || s.phase == phase::PAUSED;
        let outcome: Result<String, String> = match verb {
            // Argo Rollouts' promote: the next step now (a paused shift goes on with it); past
            // the last step, or with promote-full, all traffic to `to` at once.
            "promote" if running && (s.step as usize) < shift.steps.len() => {
                let next = s.step + 1;
                s.phase = phase::PROGRESSING.into();
                s.paused_by = None;
                go_to_step(shift, d, next, now);
                Ok(format!("promoted to step {next} ({}%)", d.status.weight))
            }
            "promote" | "promote-full" if running => {
                succeed(shift, d, now, "promoted by request");
                Ok("promoted to 100%".into())
            }
            "pause" if s.phase == phase::PROGRESSING || paused_by_inconclusive(s) => {
                s.phase = phase::PAUSED.into();
                s.paused_by = Some(paused_by::REQUEST.into());
                s.message = format!("paused at step {} ({}%)", s.step, s.weight);
                Ok(s.message.clone())
            }
            "resume" if s.phase == phase::PAUSED => {
                s.phase = phase::PROGRESSING.into();
                s.paused_by = None;
                // The step's pause and checks count from now.
                s.step_started_at = Some(Time(now));
                s.last_check_at = None;
                s.message = format!("resumed at step {} ({}%)", s.step, s.weight);
                Ok(s.message.clone())
            }
            "abort" if running || s.phase == phase::PENDING => {
                end(
                    d,
                    phase::ABORTED,
                    reason::ABORTED,
                    "aborted by request".into(),
                );
                Ok("aborted: the route serves its stable weights".into())
            }
            _ => Err(format!(
                "cannot {verb}: the shift is {}",
                d.status.phase.to_lowercase()
            )),
        };
        let (outcome, message) = match outcome {
            Ok(m) => (api_requests::ACCEPTED, m),
            Err(m) => {
                d.events
                    .push(Event::warning(reason::REQUEST_REFUSED, m.clone()));
                (api_requests::REFUSED, m)
            }
        };
        api_requests::record(&mut d.status.requests, verb, token, outcome, message);
    }
}
