//! Capacity follows traffic: a step waits until its backend has ceil(share × the pods that
//! served before the shift) ready pods; the checks of the step it stands on go on meanwhile.

use super::*;

fn ready(w: &mut World, blue: i32, green: i32) {
    w.ready = [("blue".to_string(), blue), ("green".to_string(), green)].into();
}

#[test]
fn the_pods_a_share_needs_round_up() {
    use crate::route::shift::capacity::needed;
    assert_eq!(needed(10, 10), 1);
    assert_eq!(needed(25, 10), 3);
    assert_eq!(needed(50, 7), 4);
    assert_eq!(needed(100, 7), 7);
    assert_eq!(needed(50, 0), 0, "nothing served before: nothing to match");
}

#[test]
fn a_step_waits_for_the_ready_pods_its_share_needs() {
    let mut w = World::new(
        ANALYSED
            .replace("steps: [20, 100]", "steps: [10, 50, 100]")
            .as_str(),
    );
    ready(&mut w, 10, 0);
    w.followed = dc(1, true, false);
    w.pass(pass);
    w.followed = dc(2, true, false);
    let asked = std::cell::Cell::new(0);
    let counted = || {
        asked.set(asked.get() + 1);
        pass()
    };
    w.run(30, counted);
    let s = w.status();
    assert_eq!(
        (s.phase.as_str(), s.step, s.weight, s.pods_before),
        ("Progressing", 0, 0, Some(10))
    );
    assert_eq!(
        s.message,
        "waiting for capacity before step 1 (10%): green has 0 ready pods, 10% of the 10 that served before the shift needs 1"
    );
    assert_eq!(w.serving(), weights_of(100, 0));
    assert_eq!(
        asked.get(),
        0,
        "no check before the first step: no traffic to judge"
    );

    ready(&mut w, 10, 1);
    w.pass(pass);
    assert_eq!((w.status().step, w.status().weight), (1, 10));
    w.run(60, counted);
    let s = w.status();
    assert_eq!((s.step, s.weight), (1, 10), "50% needs 5 of 10");
    assert!(
        s.message
            .starts_with("waiting for capacity before step 2 (50%): green has 1 ready pods"),
        "{}",
        s.message
    );
    assert!(
        asked.get() >= 10,
        "the checks of step 1 go on: {}",
        asked.get()
    );
    let said = w
        .events
        .iter()
        .filter(|e| e.reason == crate::api::shift::reason::CAPACITY)
        .count();
    assert_eq!(said, 2, "once per wait, not once per pass");

    ready(&mut w, 4, 5);
    w.pass(pass);
    assert_eq!(
        (w.status().step, w.status().weight),
        (2, 50),
        "the old side's own shrinking does not count"
    );
    w.run(20, pass);
    assert_eq!(w.status().step, 2, "100% needs all 10");
    ready(&mut w, 0, 10);
    w.run(20, pass);
    assert_eq!(w.status().phase, "Succeeded");
}

/// A wait for capacity asks for no pass of its own: the pods' EndpointSlices wake the Route.
#[test]
fn a_wait_for_capacity_does_not_spin() {
    let mut w = World::new(PLAIN);
    ready(&mut w, 4, 0);
    let d = w.pass(pass);
    assert_eq!(w.status().step, 0);
    assert_eq!(d.requeue_after, None);
}
