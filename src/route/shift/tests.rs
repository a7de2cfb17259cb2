use super::*;
use crate::api::route::RouteStatus;
use serde_json::json;

fn route(shift: &str) -> Route {
    let mut route: Route = serde_json::from_value(json!({
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "shop", "namespace": "ns", "annotations": {keys::TRAFFIC_SHIFT_ANNOTATION: shift}},
        "spec": {"to": {"kind": "Service", "name": "blue", "weight": 100},
                 "alternateBackends": [{"kind": "Service", "name": "green", "weight": 0}]}
    }))
    .expect("route");
    route.status = Some(RouteStatus::default());
    route
}

const PLAIN: &str = "to: green\nsteps: [10, 50, 100]\npause: 30s\n";
const ANALYSED: &str = r#"
to: green
steps: [20, 100]
pause: 10s
deploymentConfig: green
onFailure: rollback
analysis:
  prometheus: http://127.0.0.1:9090
  query: sum(rate(requests{service="{{namespace}}-{{service}}",code!~"5.."}[{{interval}}]))
  interval: 5s
  successCondition: {atLeast: 0.95}
"#;

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("time")
}

/// A Route and its shift over virtual time: each pass applies the decision's status.
struct World {
    route: Route,
    shift: Shift,
    followed: Option<Followed>,
    /// Why the Route is refused, when it is.
    refused: Option<String>,
    now: Timestamp,
    finished: Vec<&'static str>,
    rollbacks: Vec<(String, String)>,
    events: Vec<Event>,
}

impl World {
    fn new(text: &str) -> Self {
        let route = route(text);
        let shift = declared(&route).expect("declared").expect("valid");
        World {
            route,
            shift,
            followed: None,
            refused: None,
            now: t0(),
            finished: vec![],
            rollbacks: vec![],
            events: vec![],
        }
    }

    /// One pass at `now`, with the check result `answer` gives when one is due.
    fn pass(&mut self, answer: impl Fn() -> CheckResult) -> ShiftDecision {
        let status = self.route.status.as_ref().and_then(|s| s.shift.as_ref());
        let check =
            check_due(&self.shift, status, self.refused.is_some(), self.now).map(|_| answer());
        let d = advance(&ShiftInputs {
            route: &self.route,
            shift: &self.shift,
            followed: self.followed,
            check,
            refused: self.refused.clone(),
            now: self.now,
        });
        if let Some(s) = self.route.status.as_mut() {
            s.shift = Some(d.status.clone());
        }
        self.finished.extend(d.finished);
        self.rollbacks.extend(d.rollback.clone());
        self.events.extend(d.events.clone());
        d
    }

    /// Passes every second for `seconds`.
    fn run(&mut self, seconds: i64, answer: impl Fn() -> CheckResult) {
        for _ in 0..seconds {
            self.pass(&answer);
            self.now += SignedDuration::from_secs(1);
        }
    }

    /// The phase and step the shift is at.
    fn at(&self) -> (String, i32) {
        let s = self.status();
        (s.phase, s.step)
    }

    fn status(&self) -> ShiftStatus {
        self.route
            .status
            .as_ref()
            .and_then(|s| s.shift.clone())
            .expect("a shift status")
    }

    /// The weights the Route planner would realise now.
    fn serving(&self) -> Vec<(String, Option<i32>)> {
        let r = serving(
            &self.route,
            self.route.status.as_ref().and_then(|s| s.shift.as_ref()),
        );
        super::super::backends(&r)
            .iter()
            .map(|b| (b.name.clone(), b.weight))
            .collect()
    }

    fn request(&mut self, verb: &str, token: &str) {
        self.route
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(
                format!("{}{verb}", keys::SHIFT_REQUEST_PREFIX),
                token.into(),
            );
    }
}

/// The followed DeploymentConfig: its latest revision, whether that completed, and whether it is
/// a rollback.
fn dc(latest_version: i64, complete: bool, rollback: bool) -> Option<Followed> {
    Some(Followed {
        latest_version,
        complete,
        rollback,
    })
}

fn weights_of(blue: i32, green: i32) -> Vec<(String, Option<i32>)> {
    vec![("blue".into(), Some(blue)), ("green".into(), Some(green))]
}

fn pass() -> CheckResult {
    CheckResult::Value(0.99)
}

#[test]
fn declarations_that_cannot_run_say_why() {
    let why = |text: &str| {
        declared(&route(text))
            .expect("declared")
            .expect_err("invalid")
    };
    assert_eq!(
        why("to: red"),
        "to: \"red\" is not a backend of the route (backends: blue, green)"
    );
    assert_eq!(
        why("to: green\nsteps: [50, 10, 100]"),
        "steps: [50, 10, 100] must be ascending percentages from 1 to 100, ending at 100"
    );
    assert_eq!(
        why("to: green\nsteps: [10, 50]"),
        "steps: [10, 50] must be ascending percentages from 1 to 100, ending at 100"
    );
    assert_eq!(
        why("to: green\npause: soon"),
        "pause: \"soon\" is not a duration (30s, 2m, 1h)"
    );
    assert_eq!(
        why("to: green\nonFailure: rollback"),
        "onFailure: rollback needs deploymentConfig: the one to roll back"
    );
    assert!(
        why("to: green\nstep: [10]").contains("unknown field"),
        "a typo is named"
    );
    let no_condition =
        "to: green\nanalysis: {prometheus: 'http://p:9090', query: up, successCondition: {}}";
    assert_eq!(
        why(no_condition),
        "analysis.successCondition needs atLeast or atMost"
    );
}

#[test]
fn the_query_names_the_service_namespace_and_interval() {
    let w = World::new(ANALYSED);
    let a = w.shift.analysis.as_ref().expect("analysis");
    assert_eq!(
        a.query,
        r#"sum(rate(requests{service="ns-green",code!~"5.."}[5s]))"#
    );
}

#[test]
fn weights_move_the_rest_in_proportion() {
    let r = route(PLAIN);
    assert_eq!(
        weights(&r, "green", 25),
        [("green".to_string(), 25), ("blue".into(), 75)]
    );
    let mut three = r.clone();
    three.spec.alternate_backends = Some(vec![
        serde_json::from_value(json!({"name": "green", "weight": 0})).expect("ref"),
        serde_json::from_value(json!({"name": "grey", "weight": 50})).expect("ref"),
    ]);
    // blue 100 and grey 50 share 90 as 2:1.
    assert_eq!(
        weights(&three, "green", 10),
        [
            ("green".to_string(), 10),
            ("blue".into(), 60),
            ("grey".into(), 30)
        ]
    );
    assert_eq!(
        weights(&three, "green", 15),
        [
            ("green".to_string(), 15),
            ("blue".into(), 57),
            ("grey".into(), 28)
        ],
        "the largest remainder rounds up, and the whole is 100"
    );
}

#[test]
fn a_shift_without_analysis_steps_through_its_pauses_and_succeeds() {
    let mut w = World::new(PLAIN);
    w.pass(pass);
    assert_eq!(
        (
            w.status().phase.as_str(),
            w.status().step,
            w.status().weight
        ),
        ("Progressing", 1, 10)
    );
    assert_eq!(w.serving(), weights_of(90, 10));
    let d = w.pass(pass);
    assert!(
        d.requeue_after
            .is_some_and(|r| r <= Duration::from_secs(30)),
        "wakes at the pause's end: {:?}",
        d.requeue_after
    );
    w.run(30, pass);
    assert_eq!(w.status().step, 1, "29 s into a 30 s pause");
    w.run(1, pass);
    assert_eq!((w.status().step, w.status().weight), (2, 50));
    assert_eq!(w.serving(), weights_of(50, 50));
    w.run(61, pass);
    assert_eq!(w.status().phase, "Succeeded");
    assert_eq!(w.serving(), weights_of(0, 100));
    assert_eq!(w.finished, ["Succeeded"]);
    let steps: Vec<&str> = w
        .events
        .iter()
        .filter(|e| e.reason == reason::STEP)
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "step 1 of 3: 10% of traffic to green",
            "step 2 of 3: 50% of traffic to green",
            "step 3 of 3: 100% of traffic to green"
        ]
    );
    // Nothing more happens; the shift is not run again.
    w.run(100, pass);
    assert_eq!(w.finished, ["Succeeded"]);
}

fn started_by_a_rollout(text: &str) -> World {
    let mut w = World::new(text);
    w.followed = dc(1, true, false);
    w.run(3, pass);
    assert_eq!(
        w.status().phase,
        "Pending",
        "revision 1 was there before the shift"
    );
    assert_eq!(w.serving(), weights_of(100, 0));
    w.followed = dc(2, false, false);
    w.run(3, pass);
    assert_eq!(w.status().phase, "Pending", "{}", w.status().message);
    w.followed = dc(2, true, false);
    w.pass(pass);
    assert_eq!(w.at(), ("Progressing".to_string(), 1));
    assert_eq!(w.status().deployment_config_version, Some(2));
    w
}

#[test]
fn checks_gate_each_step_and_a_failure_returns_the_traffic_at_once() {
    let mut w = started_by_a_rollout(ANALYSED);
    // No check before a whole interval of traffic at the step's weights.
    assert!(check_due(&w.shift, Some(&w.status()), false, w.now).is_none());
    w.now += SignedDuration::from_secs(5);
    w.pass(pass);
    assert_eq!(w.status().passed_checks, 1);
    w.run(6, pass);
    assert_eq!((w.status().step, w.status().weight), (2, 100));
    assert_eq!(w.serving(), weights_of(0, 100));
    // A failed check: the Route's own weights at once, and the rollback requested.
    w.run(5, || CheckResult::Value(0.5));
    let s = w.status();
    assert_eq!(s.phase, "Failed");
    assert!(
        s.message.contains("= 0.5, wanted at least 0.95"),
        "{}",
        s.message
    );
    assert_eq!(w.serving(), weights_of(100, 0));
    assert_eq!(w.finished, ["Failed"]);
    assert_eq!(w.rollbacks.len(), 1);
    assert_eq!(w.rollbacks[0].0, "green");
    assert_eq!(s.checks.last().map(|c| c.result.as_str()), Some("Failed"));
    // The rollback's own revision (3) starts no shift; the next rollout (4) does.
    w.followed = dc(3, true, true);
    w.run(3, pass);
    assert_eq!(w.status().phase, "Failed");
    w.followed = dc(4, true, false);
    w.pass(pass);
    assert_eq!(w.at(), ("Progressing".to_string(), 1));
}

/// Which revision a rollback makes is the DeploymentConfig's to say: when it was refused (or
/// another rollout took the next number), the next rollout of new code still starts a shift.
#[test]
fn a_rollback_that_made_no_revision_does_not_swallow_the_next_shift() {
    let mut w = started_by_a_rollout(ANALYSED);
    w.now += SignedDuration::from_secs(5);
    w.pass(|| CheckResult::Value(0.1));
    assert_eq!(w.status().phase, "Failed");
    assert_eq!(w.rollbacks.len(), 1);
    // The rollback was refused: revision 3 is the next rollout of new code.
    w.followed = dc(3, true, false);
    w.pass(pass);
    assert_eq!(w.at(), ("Progressing".to_string(), 1));
    assert_eq!(w.status().deployment_config_version, Some(3));
}

/// `rollout undo` of the DeploymentConfig behind `to` while its shift runs: the traffic goes back
/// at once (not onto the old code), and the rollback's revision starts nothing when it completes.
#[test]
fn a_rollback_while_the_shift_runs_ends_it() {
    let mut w = started_by_a_rollout(ANALYSED);
    assert_eq!(w.serving(), weights_of(80, 20));
    w.followed = dc(3, false, true);
    w.pass(pass);
    let s = w.status();
    assert_eq!(s.phase, "Aborted");
    assert_eq!(
        s.message,
        "deploymentconfig \"green\" is rolled back (#3): the route serves its own weights"
    );
    assert_eq!(w.serving(), weights_of(100, 0));
    assert_eq!(w.finished, ["Aborted"]);
    w.followed = dc(3, true, true);
    w.run(3, pass);
    assert_eq!(w.status().phase, "Aborted");
    assert_eq!(w.status().deployment_config_version, Some(3));
    assert!(w.rollbacks.is_empty(), "nothing more to roll back");
}

/// What wakes a Route for its DeploymentConfig is what moves its shift: a newer completed
/// rollout, or a newer rollback even before it completes.
#[test]
fn a_deployment_config_moves_a_shift_only_with_something_newer() {
    let ran_for = |v| ShiftStatus {
        deployment_config_version: Some(v),
        ..Default::default()
    };
    let moves =
        |f: Option<Followed>, s: Option<ShiftStatus>| f.expect("followed").moves(s.as_ref());
    assert!(moves(dc(2, true, false), Some(ran_for(1))));
    assert!(moves(dc(2, true, false), None));
    assert!(!moves(dc(2, true, false), Some(ran_for(2))));
    assert!(
        !moves(dc(3, false, false), Some(ran_for(2))),
        "still rolling out"
    );
    assert!(
        moves(dc(3, false, true), Some(ran_for(2))),
        "a rollback under way"
    );
}

#[test]
fn a_refused_route_holds_its_step_until_admitted_and_the_step_starts_over() {
    let mut w = World::new(PLAIN);
    w.run(10, pass);
    let why = "HostAlreadyClaimed: route shop-old already exposes shop.example.com";
    w.refused = Some(why.into());
    let held_at = w.now;
    let d = w.pass(pass);
    assert_eq!(
        d.requeue_after, None,
        "admission changing wakes it, not a timer"
    );
    // Far past the 30 s pause: no step is taken while nothing serves the Route.
    w.run(300, pass);
    let s = w.status();
    assert_eq!((s.phase.as_str(), s.step, s.weight), ("Progressing", 1, 10));
    assert_eq!(s.held_since.map(|t| t.0), Some(held_at));
    assert_eq!(
        s.message,
        format!("held at step 1 (10%): the route is not admitted: {why}")
    );
    assert_eq!(w.serving(), weights_of(90, 10), "the step's weights stay");
    let held: Vec<_> = w
        .events
        .iter()
        .filter(|e| e.reason == reason::HELD)
        .collect();
    assert_eq!(held.len(), 1, "said once: {held:?}");

    // Admitted again: the step's whole pause counts from now.
    w.refused = None;
    let admitted_at = w.now;
    w.pass(pass);
    let s = w.status();
    assert_eq!(s.held_since, None);
    assert_eq!(s.step_started_at.map(|t| t.0), Some(admitted_at));
    assert!(s.message.contains("starts over"), "{}", s.message);
    w.run(29, pass);
    assert_eq!(w.status().step, 1);
    w.run(2, pass);
    assert_eq!((w.status().step, w.status().weight), (2, 50));
}

#[test]
fn no_check_runs_while_the_route_is_refused() {
    let mut w = started_by_a_rollout(ANALYSED);
    w.refused = Some("NoMatchingListener: no listener".into());
    // With no traffic flowing no check would pass: none runs, and none fails the shift.
    w.run(120, || panic!("a check ran while the route was refused"));
    let s = w.status();
    assert_eq!((s.phase.as_str(), s.step), ("Progressing", 1));
    assert_eq!(s.checks.len(), 0);
    w.refused = None;
    w.run(4, pass);
    assert_eq!(w.status().passed_checks, 0, "a whole interval first");
    w.run(2, pass);
    assert_eq!(w.status().passed_checks, 1);
    // Promoting a held shift ends the hold with it.
    w.refused = Some("NoMatchingListener: no listener".into());
    w.pass(pass);
    w.request("promote", "p1");
    w.pass(pass);
    let s = w.status();
    assert_eq!((s.phase.as_str(), s.held_since), ("Succeeded", None));
}

#[test]
fn inconclusive_checks_never_pass_and_enough_of_them_fail_the_shift() {
    let mut w = started_by_a_rollout(ANALYSED);
    w.run(14, || {
        CheckResult::Inconclusive("connection refused".into())
    });
    let s = w.status();
    assert_eq!(
        (s.phase.as_str(), s.step),
        ("Progressing", 1),
        "never a pass"
    );
    assert_eq!(s.inconclusive_checks, 2);
    w.run(5, || CheckResult::Inconclusive("connection refused".into()));
    let s = w.status();
    assert_eq!(s.phase, "Failed");
    assert_eq!(
        s.message,
        "3 checks were inconclusive (the last: connection refused)"
    );
}

#[test]
fn requests_pause_resume_promote_and_abort_once_per_token() {
    let mut w = World::new(PLAIN);
    w.run(10, pass);
    w.request("pause", "t1");
    w.run(100, pass);
    let s = w.status();
    assert_eq!(
        (s.phase.as_str(), s.step),
        ("Paused", 1),
        "no step while paused"
    );
    w.request("resume", "t2");
    w.pass(pass);
    assert_eq!(w.status().phase, "Progressing");
    w.run(29, pass);
    assert_eq!(w.status().step, 1, "the pause counts again from the resume");
    w.run(2, pass);
    assert_eq!(w.status().step, 2);

    // A second pause with the same token does nothing: it was handled.
    w.run(5, pass);
    assert_eq!(w.status().phase, "Progressing");
    w.request("abort", "t3");
    w.pass(pass);
    assert_eq!(w.status().phase, "Aborted");
    assert_eq!(w.serving(), weights_of(100, 0));
    w.request("promote", "t4");
    w.pass(pass);
    let refused = w
        .status()
        .requests
        .iter()
        .find(|r| r.kind == "promote")
        .cloned();
    assert_eq!(
        refused.map(|r| (r.outcome, r.message)),
        Some((
            "Refused".into(),
            "cannot promote: the shift is aborted".into()
        ))
    );
    assert_eq!(w.finished, ["Aborted"]);
}

#[test]
fn promote_sends_everything_at_once() {
    let mut w = World::new(PLAIN);
    w.run(3, pass);
    w.request("promote", "go");
    w.pass(pass);
    assert_eq!(w.status().phase, "Succeeded");
    assert_eq!(w.serving(), weights_of(0, 100));
}

/// The state is the status: a new operator reading it back takes up the same step.
#[test]
fn a_restart_resumes_the_step_it_was_at() {
    let mut w = World::new(PLAIN);
    w.run(40, pass);
    let before = w.status();
    assert_eq!(before.step, 2);
    // What the next operator reads: the Route as the API server keeps it (every field of the
    // state must survive the round trip).
    let mut again = World::new(PLAIN);
    again.route =
        serde_json::from_value(serde_json::to_value(&w.route).expect("encode")).expect("decode");
    again.now = w.now;
    again.pass(pass);
    assert_eq!(again.status().step, 2);
    assert_eq!(again.status().step_started_at, before.step_started_at);
}

#[test]
fn a_changed_declaration_starts_anew() {
    let mut w = World::new(PLAIN);
    w.run(40, pass);
    assert_eq!(w.status().step, 2);
    let text = "to: green\nsteps: [5, 100]\npause: 30s\n";
    w.route
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(keys::TRAFFIC_SHIFT_ANNOTATION.into(), text.into());
    w.shift = declared(&w.route).expect("declared").expect("valid");
    w.pass(pass);
    assert_eq!((w.status().step, w.status().weight), (1, 5));
}

/// A request answered under one declaration is not answered again under the next.
#[test]
fn a_new_declaration_does_not_answer_old_requests_again() {
    let mut w = World::new(PLAIN);
    w.run(3, pass);
    w.request("abort", "t1");
    w.pass(pass);
    assert_eq!(w.status().phase, "Aborted");
    let text = "to: green\nsteps: [5, 100]\npause: 30s\n";
    w.route
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(keys::TRAFFIC_SHIFT_ANNOTATION.into(), text.into());
    w.shift = declared(&w.route).expect("declared").expect("valid");
    w.pass(pass);
    assert_eq!(
        (w.status().phase.as_str(), w.status().weight),
        ("Progressing", 5)
    );
    assert_eq!(
        w.finished,
        ["Aborted"],
        "the old abort ended only the old shift"
    );
}

/// The same declaration written another way (JSON, comments, other spacing) is the same shift.
#[test]
fn a_reformatted_declaration_is_the_same_shift() {
    let yaml = declared(&route(PLAIN)).expect("declared").expect("valid");
    let json = r#"{"pause": "30s", "steps": [10, 50, 100], "to": "green"}"#;
    let same = declared(&route(json)).expect("declared").expect("valid");
    assert_eq!(yaml.digest, same.digest);
    let other = declared(&route("to: green\nsteps: [10, 100]\n"))
        .expect("declared")
        .expect("valid");
    assert_ne!(yaml.digest, other.digest);
}
