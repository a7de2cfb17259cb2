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
