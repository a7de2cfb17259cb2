//! PURE: progressive traffic shifting on a Route, as a persisted state machine.
//!
//! A Route declares a shift in the annotation `cutover.io/traffic-shift` (YAML or JSON): the
//! backend to move traffic to, the percentages to pass through, the pause at each, optionally a
//! Prometheus check that must pass before each step, and optionally the DeploymentConfig whose
//! completed rollouts start the shift. The state lives in `status.shift`, so a restarted
//! operator resumes a shift where it stood, never from the start.
//!
//! Each pass: `check_due` says whether a check is due (the shell then runs the query, with a
//! timeout, and hands the result in), and `advance` takes the state one step on — requests
//! first (promote, pause, resume, abort), then the start, then the check, then the step — and
//! returns the new state, the weights to serve, events, and whether to roll the
//! DeploymentConfig back.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::api::keys;
use crate::api::requests as api_requests;
use crate::api::route::{Route, ShiftCheck, ShiftStatus};
use crate::strategy::Event;

/// The phases of a shift.
pub mod phase {
    pub const PENDING: &str = "Pending";
    pub const PROGRESSING: &str = "Progressing";
    pub const PAUSED: &str = "Paused";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
    pub const ABORTED: &str = "Aborted";
    pub const INVALID: &str = "Invalid";
}

/// Event reasons.
pub mod reason {
    pub const STEP: &str = "TrafficShiftStep";
    pub const CHECK: &str = "TrafficShiftCheck";
    pub const SUCCEEDED: &str = "TrafficShiftSucceeded";
    pub const FAILED: &str = "TrafficShiftFailed";
    pub const ABORTED: &str = "TrafficShiftAborted";
    pub const INVALID: &str = "InvalidTrafficShift";
    pub const REQUEST_REFUSED: &str = "TrafficShiftRequestRefused";
    pub const HELD: &str = "TrafficShiftHeld";
}

/// Check results.
pub mod result {
    pub const PASSED: &str = "Passed";
    pub const FAILED: &str = "Failed";
    pub const INCONCLUSIVE: &str = "Inconclusive";
}

/// The declaration, as written in the annotation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Declaration {
    to: String,
    #[serde(default = "default_steps")]
    steps: Vec<i32>,
    #[serde(default)]
    pause: Option<String>,
    #[serde(default)]
    deployment_config: Option<String>,
    #[serde(default)]
    on_failure: Option<String>,
    #[serde(default)]
    analysis: Option<AnalysisDeclaration>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnalysisDeclaration {
    prometheus: String,
    query: String,
    #[serde(default)]
    interval: Option<String>,
    success_condition: SuccessCondition,
    #[serde(default)]
    failure_limit: Option<i32>,
    #[serde(default)]
    inconclusive_limit: Option<i32>,
}

/// The value a check must reach: `atLeast: 0.99` (a success rate) or `atMost: 0.5` (a latency).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuccessCondition {
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
}

impl SuccessCondition {
    pub fn holds(&self, value: f64) -> bool {
        self.at_least.is_none_or(|min| value >= min) && self.at_most.is_none_or(|max| value <= max)
    }
    fn describe(&self) -> String {
        match (self.at_least, self.at_most) {
            (Some(min), Some(max)) => format!("between {min} and {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => "anything".into(),
        }
    }
}

fn default_steps() -> Vec<i32> {
    vec![10, 25, 50, 100]
}

/// A valid shift: what the state machine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    pub to: String,
    /// Ascending percentages, the last 100.
    pub steps: Vec<i32>,
    pub pause: SignedDuration,
    /// Start whenever this DeploymentConfig completes a rollout.
    pub deployment_config: Option<String>,
    /// Roll that DeploymentConfig back when the shift fails.
    pub rollback_on_failure: bool,
    pub analysis: Option<Analysis>,
    /// A digest of the declaration.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub prometheus: String,
    /// With `{{service}}`, `{{namespace}}` and `{{interval}}` in place.
    pub query: String,
    pub interval: SignedDuration,
    pub success: SuccessCondition,
    pub failure_limit: i32,
    pub inconclusive_limit: i32,
}

/// The Route's shift: `None` without the annotation, `Err` (why) for one that cannot run.
pub fn declared(route: &Route) -> Option<Result<Shift, String>> {
    let text = route.annotations().get(keys::TRAFFIC_SHIFT_ANNOTATION)?;
    Some(parse(route, text))
}

fn parse(route: &Route, text: &str) -> Result<Shift, String> {
    let d: Declaration = serde_saphyr::from_str(text).map_err(|e| {
        let first = e.to_string();
        let first = first.lines().next().unwrap_or_default().to_string();
        format!(
            "{} is not a valid shift: {first}",
            keys::TRAFFIC_SHIFT_ANNOTATION
        )
    })?;
    let backends: Vec<&str> = super::backends(route)
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    if !backends.contains(&d.to.as_str()) {
        return Err(format!(
            "to: {:?} is not a backend of the route (backends: {})",
            d.to,
            backends.join(", ")
        ));
    }
    if backends.len() < 2 {
        return Err("a shift needs a second backend to move traffic from".into());
    }
    let ascending = d.steps.windows(2).all(|w| w[0] < w[1]);
    let in_range = d.steps.iter().all(|s| (1..=100).contains(s));
    if d.steps.is_empty() || !ascending || !in_range || d.steps.last() != Some(&100) {
        return Err(format!(
            "steps: {:?} must be ascending percentages from 1 to 100, ending at 100",
            d.steps
        ));
    }
    let pause = duration("pause", d.pause.as_deref(), 30)?;
    let rollback_on_failure = match d.on_failure.as_deref() {
        None | Some("none") => false,
        Some("rollback") => true,
        Some(other) => return Err(format!("onFailure: {other:?} must be none or rollback")),
    };
    if rollback_on_failure && d.deployment_config.is_none() {
        return Err("onFailure: rollback needs deploymentConfig: the one to roll back".into());
    }
    // Of what it says, not how it is written: reformatted, commented or as JSON, the same
    // declaration is the same shift.
    let digest = digest(&serde_json::to_string(&d).unwrap_or_default());
    let analysis = d.analysis.map(|a| analysis(route, &d.to, a)).transpose()?;
    Ok(Shift {
        digest,
        to: d.to,
        steps: d.steps,
        pause,
        deployment_config: d.deployment_config,
        rollback_on_failure,
        analysis,
    })
}

fn analysis(route: &Route, to: &str, a: AnalysisDeclaration) -> Result<Analysis, String> {
    if !(a.prometheus.starts_with("http://") || a.prometheus.starts_with("https://")) {
        return Err(format!(
            "analysis.prometheus: {:?} must be an http:// or https:// URL",
            a.prometheus
        ));
    }
    if a.success_condition.at_least.is_none() && a.success_condition.at_most.is_none() {
        return Err("analysis.successCondition needs atLeast or atMost".into());
    }
    let interval = duration("analysis.interval", a.interval.as_deref(), 30)?;
    let query = a
        .query
        .replace("{{service}}", to)
        .replace("{{namespace}}", &route.namespace().unwrap_or_default())
        .replace("{{interval}}", &format!("{}s", interval.as_secs()));
    let limit = |name: &str, v: Option<i32>, default: i32| match v.unwrap_or(default) {
        n if n >= 1 => Ok(n),
        n => Err(format!("analysis.{name}: {n} must be at least 1")),
    };
    Ok(Analysis {
        prometheus: a.prometheus,
        query,
        interval,
        success: a.success_condition,
        failure_limit: limit("failureLimit", a.failure_limit, 1)?,
        inconclusive_limit: limit("inconclusiveLimit", a.inconclusive_limit, 3)?,
    })
}

fn duration(
    field: &str,
    text: Option<&str>,
    default_seconds: i64,
) -> Result<SignedDuration, String> {
    let Some(text) = text else {
        return Ok(SignedDuration::from_secs(default_seconds));
    };
    let d: SignedDuration = text
        .parse()
        .map_err(|_| format!("{field}: {text:?} is not a duration (30s, 2m, 1h)"))?;
    if d < SignedDuration::from_secs(1) {
        return Err(format!("{field}: {text:?} must be at least 1s"));
    }
    Ok(d)
}

fn digest(text: &str) -> String {
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The weights a Route serves at `percent` of a shift to `to`: `to` gets `percent`, the other
/// backends share the rest as their own weights share it (the largest remainders rounded up).
pub fn weights(route: &Route, to: &str, percent: i32) -> Vec<(String, i32)> {
    let others: Vec<(String, i32)> = super::backends(route)
        .iter()
        .filter(|b| b.name != to)
        .map(|b| (b.name.clone(), b.effective_weight().max(0)))
        .collect();
    let total: i32 = others.iter().map(|o| o.1).sum();
    let rest = 100 - percent;
    let mut out = vec![(to.to_string(), if total == 0 { 100 } else { percent })];
    if total == 0 {
        out.extend(others.into_iter().map(|(name, _)| (name, 0)));
        return out;
    }
    let exact: Vec<f64> = others
        .iter()
        .map(|o| f64::from(o.1) * f64::from(rest) / f64::from(total))
        .collect();
    let mut shares: Vec<i32> = exact.iter().map(|e| e.floor() as i32).collect();
    let mut short = rest - shares.iter().sum::<i32>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    for i in order {
        if short <= 0 {
            break;
        }
        shares[i] += 1;
        short -= 1;
    }
    out.extend(
        others
            .into_iter()
            .zip(shares)
            .map(|((name, _), w)| (name, w)),
    );
    out
}

/// A Route whose backends carry the weights the shift serves now (the Route itself when no
/// shift moves its traffic): what the Route planner realises.
pub fn serving(route: &Route, status: Option<&ShiftStatus>) -> Route {
    let mut route = route.clone();
    let Some(s) = status else {
        return route;
    };
    let percent = match s.phase.as_str() {
        phase::PROGRESSING | phase::PAUSED => s.weight,
        phase::SUCCEEDED => 100,
        _ => return route,
    };
    let weights: BTreeMap<String, i32> = weights(&route, &s.to, percent).into_iter().collect();
    let spec = &mut route.spec;
    for b in std::iter::once(&mut spec.to).chain(spec.alternate_backends.iter_mut().flatten()) {
        if let Some(w) = weights.get(&b.name) {
            b.weight = Some(*w);
        }
    }
    route
}

/// The DeploymentConfig a shift follows, as the shell read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Followed {
    pub latest_version: i64,
    /// Its latest rollout is Complete.
    pub complete: bool,
    /// Its latest revision is a rollback (a shift's own, or `rollout undo`): old code, which
    /// starts no shift toward it.
    pub rollback: bool,
}

impl Followed {
    /// What a shift reads of the DeploymentConfig it follows.
    pub fn of(dc: &crate::api::DeploymentConfig) -> Followed {
        use crate::api::conditions::{RolloutState, rollout_state};
        let status = dc.status.as_ref();
        Followed {
            latest_version: status.map_or(0, |s| s.latest_version),
            complete: matches!(rollout_state(dc), RolloutState::Done(_)),
            rollback: status.is_some_and(crate::strategy::requests::latest_is_rollback),
        }
    }

    /// Whether it may move a shift that stands at `status`: a completed rollout newer than the
    /// one the shift ran for starts it again, a newer rollback ends it.
    pub fn moves(&self, status: Option<&ShiftStatus>) -> bool {
        let ran_for = status
            .and_then(|s| s.deployment_config_version)
            .unwrap_or(0);
        self.latest_version > ran_for && (self.complete || self.rollback)
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckResult {
    Value(f64),
    /// No answer (unreachable, an error, no data): counted apart, never a pass.
    Inconclusive(String),
}

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
}

/// The state of an invalid declaration: nothing moves, the Route serves its own weights.
/// The requests it had answered are kept, so none is answered twice.
pub fn invalid(why: &str, previous: Option<&ShiftStatus>) -> ShiftStatus {
    ShiftStatus {
        phase: phase::INVALID.into(),
        message: why.to_string(),
        requests: previous.map(|p| p.requests.clone()).unwrap_or_default(),
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

/// The query to run now, if a check is due (never while the Route is refused: no traffic of
/// it flows to be judged).
pub fn check_due<'s>(
    shift: &'s Shift,
    status: Option<&ShiftStatus>,
    refused: bool,
    now: Timestamp,
) -> Option<&'s Analysis> {
    let analysis = shift.analysis.as_ref()?;
    let s = status.filter(|s| s.declaration == shift.digest && s.phase == phase::PROGRESSING)?;
    (!refused && s.held_since.is_none() && next_check(analysis, s)? <= now).then_some(analysis)
}

/// When the current step's next check is due: an interval after the step started, or after the
/// last check (a whole window of traffic at the step's weights).
fn next_check(analysis: &Analysis, s: &ShiftStatus) -> Option<Timestamp> {
    let since = [&s.step_started_at, &s.last_check_at]
        .into_iter()
        .flatten()
        .map(|t| t.0)
        .max()?;
    Some(since + analysis.interval)
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
    if d.status.phase == phase::PROGRESSING && d.status.held_since.is_none() {
        if let Some(check) = &inputs.check {
            record_check(inputs, check, &mut d);
        }
        if d.status.phase == phase::PROGRESSING {
            step(shift, &mut d, now);
        }
    }
    d.requeue_after = wake(shift, &d.status, now);
    d
}

/// Promote, pause, resume and abort, each token once (`cutover.io/shift-<verb>`).
fn requests(route: &Route, shift: &Shift, d: &mut ShiftDecision, now: Timestamp) {
    for verb in keys::SHIFT_REQUESTS {
        let key = format!("{}{verb}", keys::SHIFT_REQUEST_PREFIX);
        let Some(token) = api_requests::unhandled(route, &d.status.requests, verb, &key) else {
            continue;
        };
        let s = &mut d.status;
        let running = s.phase == phase::PROGRESSING || s.phase == phase::PAUSED;
        let outcome: Result<String, String> = match verb {
            "promote" if running => {
                succeed(shift, d, now, "promoted by request");
                Ok("promoted to 100%".into())
            }
            "pause" if s.phase == phase::PROGRESSING => {
                s.phase = phase::PAUSED.into();
                s.message = format!("paused at step {} ({}%)", s.step, s.weight);
                Ok(s.message.clone())
            }
            "resume" if s.phase == phase::PAUSED => {
                s.phase = phase::PROGRESSING.into();
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
                Ok("aborted: the route serves its own weights".into())
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
        s.failed_checks = 0;
        s.inconclusive_checks = 0;
        s.checks.clear();
        go_to_step(inputs.shift, d, 1, inputs.now);
    }
}

/// A refused Route serves nothing, so its step can be neither waited out nor checked: the shift
/// holds at the step (its weights stay) until the Route is admitted, and the step starts over
/// then, as after a resume.
fn hold(inputs: &ShiftInputs<'_>, d: &mut ShiftDecision) {
    let s = &mut d.status;
    match (&inputs.refused, &s.held_since) {
        (Some(why), None) => {
            s.held_since = Some(Time(inputs.now));
            s.message = format!(
                "held at step {} ({}%): the route is not admitted: {why}",
                s.step, s.weight
            );
            d.events
                .push(Event::warning(reason::HELD, s.message.clone()));
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
/// admission changing wakes it).
fn wake(shift: &Shift, s: &ShiftStatus, now: Timestamp) -> Option<Duration> {
    if s.phase != phase::PROGRESSING || s.held_since.is_some() {
        return None;
    }
    let pause_end = s.step_started_at.as_ref().map(|t| t.0 + shift.pause);
    let check = shift.analysis.as_ref().and_then(|a| next_check(a, s));
    let at = [pause_end, check].into_iter().flatten().min()?;
    let wait = at.duration_since(now).max(SignedDuration::from_millis(100));
    Duration::try_from(wait).ok()
}

#[cfg(test)]
mod tests;
