//! Hooks declared irreversible (`cutover.io/irreversible-hooks`): past one that succeeded a
//! failure fails forward, and no pod of an older revision runs again.

use super::{phase_is, pods_of, recreate, world};
use crate::sim::{HookRun, World, template};
use cutover::strategy::Action;

/// A Recreate rollout whose mid hook migrates forward only, declared irreversible.
fn forward_only(post: &str) -> World {
    let mut w = world(recreate("Abort", "Abort", post), 3);
    w.annotate("cutover.io/irreversible-hooks", "mid");
    w
}

#[test]
fn past_an_irreversible_mid_hook_a_failure_fails_forward_and_no_older_pod_runs_again() {
    let mut w = forward_only("Abort");
    assert!(w.run_until(60, phase_is(1, "Complete"), |_| {}));
    w.hook_runs
        .insert("web-2-hook-post".into(), HookRun::FailAfter(1));
    w.edit(|s| s.template = template("app:2"));
    // The invariant, watched over the whole rollout and after: once revision 2's mid hook
    // succeeded, no pod of revision 1 runs again.
    let migrated =
        |w: &World| w.annotation_of(2, "cutover.io/hook-mid").as_deref() == Some("Succeeded");
    let mut seen_migration = false;
    let mut invariant = |w: &World| {
        seen_migration |= migrated(w);
        if seen_migration {
            assert_eq!(pods_of(w, 1), 0, "a pod of revision 1 after the migration");
        }
    };
    assert!(w.run_until(60, phase_is(2, "Failed"), &mut invariant));
    for _ in 0..10 {
        w.step();
        invariant(&w);
    }
    assert!(seen_migration);
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(0), Some(3)),
        "revision 2 keeps what it reached; no automatic rollback"
    );
    let c =
        w.dc.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "RollForwardOnly"))
            .cloned()
            .expect("RollForwardOnly");
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "IrreversibleHookSucceeded")
    );
    assert!(
        c.message
            .contains("kubectl dc rollout undo --force-past-migration"),
        "{}",
        c.message
    );
    let warnings = w
        .decisions
        .iter()
        .flat_map(|d| &d.actions)
        .filter(|a| matches!(a, Action::Event(e) if e.reason == "RollForwardOnly"))
        .count();
    assert_eq!(warnings, 1, "said once");

    // Undo to revision 1 is refused; forced, it goes back (a new revision, recorded).
    w.annotate("cutover.io/request-rollback", "u1");
    for _ in 0..3 {
        w.step();
    }
    let (_, outcome, message) = w.request("rollback").expect("recorded");
    assert_eq!(outcome, "Refused");
    assert!(
        message.starts_with("revision 2 ran the irreversible mid hook: revision 1 is older"),
        "{message}"
    );
    assert_eq!(w.latest_version(), 2);
    assert_eq!(pods_of(&w, 1), 0);
    w.annotate("cutover.io/force-past-migration", "true");
    w.annotate("cutover.io/request-rollback", "u2");
    assert!(w.run_until(60, phase_is(3, "Complete"), |_| {}));
    let (_, outcome, message) = w.request("rollback").expect("recorded");
    assert_eq!(
        (outcome.as_str(), message.as_str()),
        (
            "Accepted",
            "rolled back to revision 1: rollout #3 started (forced past an irreversible hook)"
        )
    );
    assert_eq!(w.dc.spec.template, template("app:1"));
}

#[test]
fn a_failure_before_the_irreversible_hook_still_rolls_back() {
    let mut w = forward_only("Abort");
    assert!(w.run_until(60, phase_is(1, "Complete"), |_| {}));
    w.hook_runs
        .insert("web-2-hook-pre".into(), HookRun::FailAfter(1));
    w.edit(|s| s.template = template("app:2"));
    assert!(w.run_until(60, phase_is(2, "Failed"), |_| {}));
    for _ in 0..3 {
        w.step();
    }
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(3), Some(0)));
}
