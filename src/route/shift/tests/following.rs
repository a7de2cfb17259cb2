//! A shift that follows a DeploymentConfig: its completed rollouts start the shift, its rollbacks
//! end one and start none.

use super::*;

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
    assert_eq!(w.status().deployment_config_versions["green"], 3);
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
        "deploymentconfig \"green\" is rolled back (#3): the route serves its stable weights"
    );
    assert_eq!(w.serving(), weights_of(100, 0));
    assert_eq!(w.finished, ["Aborted"]);
    w.followed = dc(3, true, true);
    w.run(3, pass);
    assert_eq!(w.status().phase, "Aborted");
    assert_eq!(w.status().deployment_config_versions["green"], 3);
    assert!(w.rollbacks.is_empty(), "nothing more to roll back");
}

/// What wakes a Route for its DeploymentConfig is what moves its shift: a newer completed
/// rollout, or a newer rollback even before it completes.
#[test]
fn a_deployment_config_moves_a_shift_only_with_something_newer() {
    let ran_for = |v| ShiftStatus {
        deployment_config_versions: [("green".to_string(), v)].into(),
        ..Default::default()
    };
    let moves = |f: Option<Followed>, s: Option<ShiftStatus>| {
        f.expect("followed").moves(seen(s.as_ref(), "green"))
    };
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
    let earlier = ShiftStatus {
        deployment_config_version: Some(2),
        ..Default::default()
    };
    assert!(
        !moves(dc(2, true, false), Some(earlier)),
        "what an earlier cutover recorded is read"
    );
}

/// A rollout of the followed DeploymentConfig that starts while its shift runs halts the shift:
/// no step and no check while the pods are a mix of revisions (Flagger's rule), said once in the
/// status and an event; when that rollout completes, the shift starts over for it from its
/// first step (Argo's rule for a change mid-update).
#[test]
fn a_rollout_started_mid_shift_halts_it_until_it_completes_then_the_shift_starts_over() {
    let mut w = started_by_a_rollout(ANALYSED);
    w.now += SignedDuration::from_secs(5);
    w.pass(pass);
    assert_eq!(w.status().passed_checks, 1, "step 1's check passed");
    w.followed = dc(3, false, false);
    let asked = std::cell::Cell::new(0);
    let counted = || {
        asked.set(asked.get() + 1);
        pass()
    };
    w.run(60, counted);
    let s = w.status();
    assert_eq!(asked.get(), 0, "no check while #3 rolls out");
    assert_eq!((s.phase.as_str(), s.step, s.weight), ("Progressing", 1, 20));
    assert!(s.held_since.is_some());
    assert_eq!(
        s.message,
        "held at step 1 (20%): deploymentconfig \"green\" is rolling out #3: the shift starts over from step 1 when it completes"
    );
    assert_eq!(w.serving(), weights_of(80, 20), "no step while halted");
    let halted: Vec<_> = w
        .events
        .iter()
        .filter(|e| e.reason == crate::api::shift::reason::HALTED)
        .collect();
    assert_eq!(halted.len(), 1, "said once");

    w.followed = dc(3, true, false);
    w.pass(pass);
    let s = w.status();
    assert_eq!((s.phase.as_str(), s.step, s.weight), ("Progressing", 1, 20));
    assert_eq!(s.deployment_config_versions["green"], 3);
    assert_eq!((s.held_since, s.passed_checks), (None, 0), "step 1 anew");
    assert!(s.checks.is_empty(), "the checks of #2 do not count for #3");
    w.run(40, pass);
    assert_eq!(w.status().phase, "Succeeded");
}
