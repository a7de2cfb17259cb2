//! Checks gate the steps: a failure or enough inconclusive answers end the shift, and a refused
//! Route holds it without checking.

use super::*;
use crate::api::shift::reason;

#[test]
fn checks_gate_each_step_and_a_failure_returns_the_traffic_at_once() {
    let mut w = started_by_a_rollout(ANALYSED);
    // No check before a whole interval of traffic at the step's weights.
    assert!(check_due(&w.shift, Some(&w.status()), false, &BTreeMap::new(), w.now).is_none());
    w.now += SignedDuration::from_secs(5);
    w.pass(pass);
    assert_eq!(w.status().passed_checks, 1);
    w.run(6, pass);
    assert_eq!((w.status().step, w.status().weight), (2, 100));
    assert_eq!(w.serving(), weights_of(0, 100));
    // A failed check: the stable weights at once, and the rollback requested.
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
    w.request("promote-full", "p1");
    w.pass(pass);
    let s = w.status();
    assert_eq!((s.phase.as_str(), s.held_since), ("Succeeded", None));
}

/// An inconclusive check pauses the shift (Argo Rollouts' rule) while the checks go on: never a
/// pass, no step; enough of them fail it (`inconclusiveLimit`).
#[test]
fn inconclusive_checks_never_pass_and_enough_of_them_fail_the_shift() {
    let mut w = started_by_a_rollout(ANALYSED);
    w.run(14, || {
        CheckResult::Inconclusive("connection refused".into())
    });
    let s = w.status();
    assert_eq!(
        (s.phase.as_str(), s.step, s.paused_by.as_deref()),
        ("Paused", 1, Some("InconclusiveCheck")),
        "never a pass"
    );
    assert_eq!(
        s.message,
        "paused at step 1 (20%): the check was inconclusive (connection refused); the next conclusive check, or resume, goes on"
    );
    assert_eq!(s.inconclusive_checks, 2);
    assert_eq!(w.serving(), weights_of(80, 20), "the weights stay");
    w.run(5, || CheckResult::Inconclusive("connection refused".into()));
    let s = w.status();
    assert_eq!(s.phase, "Failed");
    assert_eq!(
        s.message,
        "3 checks were inconclusive (the last: connection refused)"
    );
}

/// Paused by an inconclusive check, the shift goes on at the next conclusive check, or when
/// resumed; a `pause` request stops the checks too.
#[test]
fn a_conclusive_check_or_resume_ends_an_inconclusive_pause() {
    let inconclusive = || CheckResult::Inconclusive("no data".into());
    let mut w = started_by_a_rollout(ANALYSED);
    w.run(6, inconclusive);
    assert_eq!(w.status().phase, "Paused");
    w.run(6, pass);
    let s = w.status();
    assert_eq!(
        (s.phase.as_str(), s.paused_by.as_deref()),
        ("Progressing", None)
    );
    w.run(5, pass);
    assert_eq!(
        w.status().step,
        2,
        "the conclusive check passed step 1: the steps go on"
    );

    let mut w = started_by_a_rollout(ANALYSED);
    w.run(6, inconclusive);
    w.request("resume", "r1");
    w.pass(inconclusive);
    assert_eq!(w.status().phase, "Progressing", "resumed");

    let mut w = started_by_a_rollout(ANALYSED);
    w.run(6, inconclusive);
    w.request("pause", "p1");
    w.pass(inconclusive);
    let s = w.status();
    assert_eq!(
        (s.phase.as_str(), s.paused_by.as_deref()),
        ("Paused", Some("Requested"))
    );
    let asked = std::cell::Cell::new(0);
    w.run(30, || {
        asked.set(asked.get() + 1);
        pass()
    });
    assert_eq!(asked.get(), 0, "no check while paused by request");
    assert_eq!(w.status().phase, "Paused");
}
