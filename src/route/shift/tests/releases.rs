//! Promotion that lasts: a succeeded shift's backend keeps all traffic through an edit or a
//! removal of the declaration and through the next rollout, until the next release shifts from
//! it; `releases` runs blue-green release after release without a change to the Route.

use super::*;

const BLUE_GREEN: &str = r#"
releases:
  - {to: blue, deploymentConfig: blue}
  - {to: green, deploymentConfig: green}
steps: [10, 50, 100]
pause: 10s
onFailure: rollback
analysis:
  prometheus: http://127.0.0.1:9090
  query: rate(ok{service="{{service}}"}[{{interval}}])
  interval: 5s
  successCondition: {atLeast: 0.95}
"#;

/// `started_by_a_rollout`'s shift, run to success.
fn promoted_green() -> World {
    let mut w = started_by_a_rollout(ANALYSED);
    w.run(30, pass);
    assert_eq!(w.status().phase, "Succeeded");
    w
}

/// The Route as it stands, with the annotation removed.
fn without_declaration(w: &World) -> Route {
    let mut route = w.route.clone();
    if let Some(a) = route.metadata.annotations.as_mut() {
        a.remove(keys::TRAFFIC_SHIFT_ANNOTATION);
    }
    route
}

#[test]
fn a_succeeded_shift_promotes_its_backend_and_its_removal_moves_no_traffic() {
    let w = promoted_green();
    let p = w.route.status.as_ref().and_then(|s| s.promotion.clone());
    let p = p.expect("promoted");
    assert_eq!(
        (p.backend.as_str(), p.release.as_str()),
        ("green", "deploymentconfig \"green\" #2")
    );
    assert_eq!(w.serving(), weights_of(0, 100));
    let removed = without_declaration(&w);
    let kept = promotion(&removed, None);
    assert_eq!(kept, Some(p), "no declaration: the promotion stands");
    let served = serving(&removed, kept.as_ref(), None);
    let weights: Vec<_> = crate::route::backends(&served)
        .iter()
        .map(|b| (b.name.clone(), b.weight))
        .collect();
    assert_eq!(weights, weights_of(0, 100));
}

/// The next rollout of the DeploymentConfig behind the promoted backend has nothing to shift:
/// it already has all traffic (its own rollout replaced its pods).
#[test]
fn the_next_rollout_of_the_promoted_side_moves_no_traffic() {
    let mut w = promoted_green();
    w.followed = dc(3, true, false);
    w.pass(pass);
    let s = w.status();
    assert_eq!(s.phase, "Succeeded");
    assert_eq!(
        s.message,
        "nothing to shift: green already receives all traffic: all traffic to green"
    );
    assert_eq!(w.serving(), weights_of(0, 100));
    assert_eq!(w.finished, ["Succeeded", "Succeeded"]);
}

/// Weights set by hand (`oc set route-backends`) or Git naming another primary change the
/// spec's backends: the promotion ends and the spec's weights serve, for good (its record stays,
/// so nothing adopts it again).
#[test]
fn a_change_of_the_spec_backends_ends_the_promotion() {
    let mut w = promoted_green();
    let promoted = w.route.status.as_ref().and_then(|s| s.promotion.clone());
    w.route.spec.to.weight = Some(70);
    if let Some(alternates) = w.route.spec.alternate_backends.as_mut() {
        alternates[0].weight = Some(30);
    }
    w.run(3, pass);
    assert_eq!(
        w.route.status.as_ref().and_then(|s| s.promotion.clone()),
        promoted
    );
    assert_eq!(w.status().phase, "Succeeded");
    assert_eq!(w.serving(), weights_of(70, 30));
}

/// A shift that succeeded under a cutover that recorded no promotion served `to` all traffic
/// while it stood Succeeded: after the upgrade it still does, until the spec's backends change.
#[test]
fn a_shift_that_succeeded_before_promotions_keeps_its_traffic_across_the_upgrade() {
    let mut w = promoted_green();
    if let Some(status) = w.route.status.as_mut() {
        status.promotion = None;
    }
    let d = w.pass(pass);
    assert_eq!(d.status.phase, "Succeeded");
    assert_eq!(w.serving(), weights_of(0, 100));
    let adopted = w.route.status.as_ref().and_then(|s| s.promotion.clone());
    assert_eq!(
        adopted.map(|p| (p.backend, p.release)),
        Some((
            "green".into(),
            "the shift to green, recorded by an earlier cutover".into()
        ))
    );
    w.route.spec.to.weight = Some(70);
    if let Some(alternates) = w.route.spec.alternate_backends.as_mut() {
        alternates[0].weight = Some(30);
    }
    w.run(3, pass);
    assert_eq!(w.serving(), weights_of(70, 30));
}

/// Blue-green without touching the Route: each side's rollout is a release that shifts traffic
/// to it from where the last release left it, and the promoted side never serves less than its
/// share in between.
#[test]
fn releases_run_blue_green_release_after_release() {
    let mut w = World::new(BLUE_GREEN);
    w.followed = dc(1, true, false); // blue
    w.others
        .insert("green".into(), dc(1, true, false).expect("followed"));
    w.run(3, pass);
    assert_eq!(w.status().phase, "Pending");
    assert_eq!(
        w.status().message,
        "waiting for deploymentconfig \"blue\" to complete a rollout (after #1), or \"green\" to complete a rollout (after #1)"
    );
    assert_eq!(w.serving(), weights_of(100, 0));

    let release = |w: &mut World, to: &str, version: i64| {
        let f = dc(version, true, false).expect("followed");
        if to == "blue" {
            w.followed = Some(f);
        } else {
            w.others.insert(to.into(), f);
        }
        let mut seen = Vec::new();
        for _ in 0..60 {
            w.pass(pass);
            w.now += SignedDuration::from_secs(1);
            let to_share = w.serving().into_iter().find(|b| b.0 == to);
            seen.push(to_share.and_then(|b| b.1).unwrap_or(0));
        }
        assert_eq!(w.status().phase, "Succeeded", "{}", w.status().message);
        assert!(seen.windows(2).all(|p| p[0] <= p[1]), "{seen:?}");
        assert_eq!(
            (seen[0], seen[59]),
            (10, 100),
            "from where the last one ended"
        );
        w.status()
    };
    let s = release(&mut w, "green", 2);
    assert_eq!(
        s.deployment_config_versions,
        [("blue".into(), 1), ("green".into(), 2)].into()
    );
    assert_eq!(w.serving(), weights_of(0, 100));
    let checked: Vec<_> = w
        .events
        .iter()
        .filter(|e| e.message.contains("check at step"))
        .collect();
    assert!(!checked.is_empty());

    release(&mut w, "blue", 2);
    assert_eq!(w.serving(), weights_of(100, 0));
    release(&mut w, "green", 3);
    assert_eq!(w.serving(), weights_of(0, 100));
    assert_eq!(w.finished, ["Succeeded"; 3]);
}

/// A failed release goes back to the promoted side (not the spec's primary) and rolls back the
/// DeploymentConfig it shifted to; its check judged that side.
#[test]
fn a_failed_release_falls_back_to_the_promoted_side() {
    let mut w = World::new(BLUE_GREEN);
    w.followed = dc(1, true, false);
    w.others
        .insert("green".into(), dc(1, true, false).expect("followed"));
    w.pass(pass);
    w.others
        .insert("green".into(), dc(2, true, false).expect("followed"));
    w.run(60, pass);
    assert_eq!(w.serving(), weights_of(0, 100), "green promoted");

    w.followed = dc(2, true, false);
    w.pass(pass);
    assert_eq!(
        w.serving(),
        weights_of(10, 90),
        "blue's release starts from green"
    );
    let status = w.status();
    let due = check_due(
        &w.shift,
        Some(&status),
        false,
        &w.deployment_configs(),
        w.now + SignedDuration::from_secs(5),
    );
    assert_eq!(
        due.expect("a check is due").query,
        r#"rate(ok{service="blue"}[5s])"#
    );
    w.now += SignedDuration::from_secs(5);
    w.pass(|| CheckResult::Value(0.2));
    assert_eq!(w.status().phase, "Failed");
    assert_eq!(w.serving(), weights_of(0, 100), "back to the promoted side");
    assert_eq!(w.rollbacks.len(), 1);
    assert_eq!(w.rollbacks[0].0, "blue");
}

#[test]
fn releases_that_cannot_run_say_why() {
    let why = |text: &str| {
        declared(&route(text))
            .expect("declared")
            .expect_err("invalid")
    };
    assert_eq!(
        why("releases: [{to: blue}]"),
        "releases[0] needs deploymentConfig: the one whose rollouts shift traffic to \"blue\""
    );
    assert_eq!(
        why("releases: [{to: blue, deploymentConfig: a}, {to: blue, deploymentConfig: b}]"),
        "releases: \"blue\" is named twice"
    );
    assert_eq!(
        why("to: blue\nreleases: [{to: blue, deploymentConfig: a}]"),
        "releases replaces to and deploymentConfig: give one or the other"
    );
    assert_eq!(
        why("releases: [{to: red, deploymentConfig: red}]"),
        "to: \"red\" is not a backend of the route (backends: blue, green)"
    );
    assert_eq!(
        why("steps: [10, 100]"),
        "a shift needs to: the backend traffic moves to (or releases)"
    );
}
