//! The declaration: what cannot run says why, the query is filled in, and a declaration is
//! the same shift however it is written and a new shift when it changes.

use super::*;

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
        a.query_for("green"),
        r#"sum(rate(requests{service="ns-green",code!~"5.."}[5s]))"#
    );
}

/// An edit moves no traffic (invariant 8): the weight served stays, the next step is the first
/// of the new steps above it, and a longer pause counts from the step's start.
#[test]
fn an_edited_declaration_goes_on_where_it_stands() {
    let mut w = World::new(PLAIN);
    w.run(40, pass);
    assert_eq!((w.status().step, w.status().weight), (2, 50));
    w.redeclare("to: green\nsteps: [5, 80, 100]\npause: 60s\n");
    w.pass(pass);
    let s = w.status();
    assert_eq!((s.phase.as_str(), s.step, s.weight), ("Progressing", 1, 50));
    assert_eq!(
        s.message,
        "the declaration changed: 50% of traffic to green stays; the next step is 80%"
    );
    assert_eq!(w.serving(), weights_of(50, 50));
    w.run(45, pass);
    assert_eq!(
        w.status().weight,
        50,
        "the new pause: 60s from the step's start"
    );
    w.run(20, pass);
    assert_eq!((w.status().step, w.status().weight), (2, 80));
    w.run(130, pass);
    assert_eq!(w.status().phase, "Succeeded");
    w.redeclare("to: green\nsteps: [50, 100]\npause: 5s\n");
    w.run(30, pass);
    assert_eq!(
        w.status().phase,
        "Succeeded",
        "a succeeded shift is not run again"
    );
    assert_eq!(w.serving(), weights_of(0, 100));
    assert_eq!(w.finished, ["Succeeded"]);
}

/// A request answered under one declaration is not answered again under the next.
#[test]
fn a_new_declaration_does_not_answer_old_requests_again() {
    let mut w = World::new(PLAIN);
    w.run(3, pass);
    w.request("abort", "t1");
    w.pass(pass);
    assert_eq!(w.status().phase, "Aborted");
    w.redeclare("to: green\nsteps: [5, 100]\npause: 30s\n");
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

/// A declaration without the newer fields keeps the digest an older operator recorded: an
/// upgrade restarts no shift.
#[test]
fn declarations_keep_their_digest_across_versions() {
    let plain = declared(&route(PLAIN)).expect("declared").expect("valid");
    assert_eq!(plain.digest, "2dc0f6f6361ab2bc");
}

#[test]
fn a_header_pin_is_an_http_header_name_and_a_value() {
    let pinned = declared(&route(
        "to: green\nheader: {name: X-Canary, value: always}\n",
    ))
    .expect("declared")
    .expect("valid");
    assert_eq!(
        pinned.header,
        Some(HeaderPin {
            name: "X-Canary".into(),
            value: "always".into()
        })
    );
    let why = |text: &str| {
        declared(&route(text))
            .expect("declared")
            .expect_err("invalid")
    };
    assert_eq!(
        why("to: green\nheader: {name: 'X Canary', value: a}"),
        "header.name: \"X Canary\" is not an HTTP header name"
    );
    assert_eq!(
        why("to: green\nheader: {name: X-Canary, value: ''}"),
        "header.value: must be 1 to 4096 characters"
    );
}

#[test]
fn a_mirror_is_a_percentage() {
    let mirrored = |text: &str| declared(&route(text)).expect("declared");
    assert_eq!(
        mirrored("to: green\nmirror: {percent: 20}\n").map(|s| s.mirror),
        Ok(Some(20))
    );
    for bad in [0, 101] {
        assert_eq!(
            mirrored(&format!("to: green\nmirror: {{percent: {bad}}}\n")).map(|s| s.mirror),
            Err(format!(
                "mirror.percent: {bad} must be a percentage from 1 to 100"
            ))
        );
    }
    assert!(
        mirrored("to: green\nmirror: {share: 20}\n")
            .is_err_and(|why| why.contains("unknown field `share`"))
    );
}
