//! Steps and weights: a shift moves through its steps as its pauses end, each step's weights
//! share the rest in proportion, and the state read back after a restart is where it stood.

use super::*;
use crate::api::shift::reason;

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
