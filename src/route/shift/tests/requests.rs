//! Requests on a shift (promote, pause, resume, abort): each token answered once.

use super::*;

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
fn promote_full_sends_everything_at_once() {
    let mut w = World::new(PLAIN);
    w.run(3, pass);
    w.request("promote-full", "go");
    w.pass(pass);
    assert_eq!(w.status().phase, "Succeeded");
    assert_eq!(w.serving(), weights_of(0, 100));
}

/// As Argo Rollouts' promote: the next step now, whatever is left of the pause; a paused shift
/// goes on with it; at the last step, promote ends the shift.
#[test]
fn promote_takes_the_next_step_now() {
    let mut w = World::new(PLAIN);
    w.run(3, pass);
    assert_eq!(w.at(), ("Progressing".to_string(), 1));
    w.request("promote", "p1");
    w.pass(pass);
    let s = w.status();
    assert_eq!((s.phase.as_str(), s.step, s.weight), ("Progressing", 2, 50));
    assert_eq!(w.serving(), weights_of(50, 50));
    let answered = s.requests.iter().find(|r| r.kind == "promote").cloned();
    assert_eq!(
        answered.map(|r| (r.outcome, r.message)),
        Some(("Accepted".into(), "promoted to step 2 (50%)".into()))
    );
    w.run(29, pass);
    assert_eq!(w.status().step, 2, "step 2's pause counts from the promote");
    w.request("pause", "p2");
    w.pass(pass);
    w.request("promote", "p3");
    w.pass(pass);
    let s = w.status();
    assert_eq!(
        (s.phase.as_str(), s.step),
        ("Progressing", 3),
        "a paused shift goes on"
    );
    w.request("promote", "p4");
    w.pass(pass);
    assert_eq!(w.status().phase, "Succeeded");
    assert_eq!(w.serving(), weights_of(0, 100));
}

/// The header pin holds from before the first step (Pending) to the end, and goes with a shift
/// that failed or was aborted: the new version it reached is not to be served.
#[test]
fn the_header_pin_lasts_from_pending_to_success_but_not_past_an_abort() {
    let text = "to: green\nsteps: [10, 100]\npause: 5s\ndeploymentConfig: green\nheader: {name: X-Canary, value: always}\n";
    let mut w = World::new(text);
    w.followed = dc(1, true, false);
    let d = w.pass(pass);
    assert_eq!(d.status.phase, "Pending");
    let pin = d.pinned.expect("pinned while pending");
    assert_eq!(
        (pin.name.as_str(), pin.value.as_str()),
        ("X-Canary", "always")
    );
    w.followed = dc(2, true, false);
    w.run(20, pass);
    assert_eq!(w.status().phase, "Succeeded");
    assert!(w.pass(pass).pinned.is_some(), "still after success");

    let mut w = World::new(text);
    w.followed = dc(1, true, false);
    w.pass(pass);
    w.followed = dc(2, true, false);
    assert!(w.pass(pass).pinned.is_some(), "at step 1");
    w.request("abort", "a1");
    let d = w.pass(pass);
    assert_eq!(d.status.phase, "Aborted");
    assert_eq!(d.pinned, None);
}

/// A mirror copies requests to the new version from before the first step until the shift
/// ends: not past its success (the new version serves them all then), a failure or an abort.
#[test]
fn the_mirror_lasts_until_the_shift_ends() {
    let text =
        "to: green\nsteps: [10, 100]\npause: 5s\ndeploymentConfig: green\nmirror: {percent: 20}\n";
    let mut w = World::new(text);
    w.followed = dc(1, true, false);
    assert_eq!(w.pass(pass).mirrored, Some(20), "pending");
    w.followed = dc(2, true, false);
    assert_eq!(w.pass(pass).mirrored, Some(20), "at step 1");
    w.run(20, pass);
    assert_eq!(w.status().phase, "Succeeded");
    assert_eq!(w.pass(pass).mirrored, None, "after success");

    let mut w = World::new(text);
    w.followed = dc(1, true, false);
    w.pass(pass);
    w.followed = dc(2, true, false);
    w.pass(pass);
    w.request("abort", "a1");
    let d = w.pass(pass);
    assert_eq!((d.status.phase.as_str(), d.mirrored), ("Aborted", None));
}
