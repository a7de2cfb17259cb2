//! `cutover deploy [--until]` against the simulated cluster: the deployer's planner (the same
//! rollout code the operator runs) at each stop point of both strategies, runs that resume where
//! an earlier one stopped without running a hook twice, and what it prints.

use crate::sim::{Deployer, Readiness, World, dc, template};
use cutover::api::*;
use cutover::strategy::Until;
use cutover::strategy::deployer::plan::Outcome;

fn hook() -> Option<LifecycleHook> {
    Some(LifecycleHook {
        failure_policy: "Abort".into(),
        exec_new_pod: Some(ExecNewPodHook {
            command: vec!["/bin/check".into()],
            container_name: "app".into(),
            ..Default::default()
        }),
        tag_images: None,
    })
}

/// Rolling with customParams (so a deployer Job runs it) and pre and post hooks.
fn rolling() -> DeploymentStrategy {
    DeploymentStrategy {
        custom_params: Some(Default::default()),
        rolling_params: Some(RollingDeploymentStrategyParams {
            timeout_seconds: Some(60),
            pre: hook(),
            post: hook(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Recreate with customParams and all three hooks.
fn recreate() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Recreate".into()),
        custom_params: Some(Default::default()),
        recreate_params: Some(RecreateDeploymentStrategyParams {
            timeout_seconds: Some(60),
            pre: hook(),
            mid: hook(),
            post: hook(),
        }),
        ..Default::default()
    }
}

fn world(strategy: DeploymentStrategy, replicas: i32) -> World {
    World::new(dc(DeploymentConfigSpec {
        replicas,
        template: template("app:1"),
        strategy,
        ..Default::default()
    }))
}

fn until(s: &str) -> Option<Until> {
    Some(Until::parse(s).expect("a stop point"))
}

/// Waits for the operator to create the deployer Job of `version`.
fn deployer_started(w: &mut World, version: i64) {
    let name = format!("web-{version}-deploy");
    for _ in 0..5 {
        if w.sim_job(&name).is_some() {
            return;
        }
        w.step();
    }
    panic!("{name} was not created");
}

/// Ends the deployer Job of `version` successfully and lets the operator complete it.
fn finish(w: &mut World, version: i64) {
    w.exit_job(&format!("web-{version}-deploy"), true);
    w.step();
    assert_eq!(w.phase(version).as_deref(), Some("Complete"));
}

/// Revision 1 deployed (by its deployer), then revision 2 created with its deployer Job.
fn at_revision_two(strategy: DeploymentStrategy, replicas: i32) -> World {
    let mut w = world(strategy, replicas);
    deployer_started(&mut w, 1);
    let (outcome, _) = w.deploy("web-1", None, 120);
    assert_eq!(outcome, Outcome::Done);
    finish(&mut w, 1);
    w.edit(|s| s.template = template("app:2"));
    deployer_started(&mut w, 2);
    w
}

fn stopped(outcome: Outcome) -> String {
    match outcome {
        Outcome::Stopped(m) => m,
        other => panic!("expected a stop, got {other:?}"),
    }
}

fn creations(w: &World, name: &str) -> usize {
    w.job_creations
        .iter()
        .filter(|n| n.as_str() == name)
        .count()
}

fn available(w: &World, version: i64) -> usize {
    let now = w.now;
    w.rss
        .iter()
        .find(|r| World::version_of(r) == version)
        .map_or(0, |r| {
            r.live()
                .filter(|p| p.ready_at.is_some_and(|t| t <= now))
                .count()
        })
}

#[test]
fn rolling_stops_at_each_point_and_each_run_resumes_the_last() {
    let mut w = at_revision_two(rolling(), 4);
    // The default policy (TerminationStarted) bounds the pods not terminating, at every instant.
    let bounded = |w: &World| assert!(w.peak_running <= 5, "more than desired + surge");

    let (o, lines) = w.deploy("web-2", until("start"), 60);
    assert_eq!(stopped(o), "Ready to start deployment");
    assert_eq!(lines, ["--> Ready to start deployment"]);
    assert_eq!(creations(&w, "web-2-hook-pre"), 0, "nothing ran");

    let (o, lines) = w.deploy("web-2", until("pre"), 60);
    assert_eq!(stopped(o), "pre hook succeeded");
    assert_eq!(
        lines.first().map(String::as_str),
        Some("--> pre: Running hook Job web-2-hook-pre ...")
    );
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(4), Some(0)));

    let (o, _) = w.deploy("web-2", until("0%"), 60);
    assert_eq!(stopped(o), "Reached 0% (before rollout)");
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(4), Some(0)));

    let (o, lines) = w.deploy_checked("web-2", until("50%"), 60, bounded);
    assert_eq!(stopped(o), "Reached 50% (currently 50%)");
    assert_eq!(w.spec_of(2), Some(2), "not beyond the stop point");
    assert_eq!(
        available(&w, 2),
        2,
        "the new pods are available at the stop"
    );
    assert!(
        lines.contains(&"--> Scaling web-2 up to 2".to_string()),
        "{lines:?}"
    );
    assert!(
        w.available_pods() >= 3,
        "the availability bound holds while stopped"
    );

    let (o, _) = w.deploy_checked("web-2", until("100%"), 60, bounded);
    assert_eq!(stopped(o), "Reached 100% (currently 100%)");
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(0), Some(4)));
    assert_eq!(creations(&w, "web-2-hook-post"), 0, "before the post hook");

    let (o, lines) = w.deploy("web-2", None, 60);
    assert_eq!(o, Outcome::Done);
    assert_eq!(lines.last().map(String::as_str), Some("--> Success"));
    assert_eq!(
        creations(&w, "web-2-hook-pre"),
        1,
        "the pre hook ran once in six runs"
    );
    assert_eq!(creations(&w, "web-2-hook-post"), 1);
    assert_eq!(
        w.phase(2).as_deref(),
        Some("Running"),
        "the Job has not exited yet"
    );
    finish(&mut w, 2);
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(0), Some(4)));
}

#[test]
fn rolling_percentages_stop_once_that_many_new_pods_are_available() {
    for (percent, replicas) in [("25%", 1), ("50%", 2), ("75%", 3), ("10%", 1)] {
        let mut w = at_revision_two(rolling(), 4);
        let (o, _) = w.deploy("web-2", until(percent), 60);
        let m = stopped(o);
        assert!(
            m.starts_with(&format!("Reached {percent} (currently")),
            "{m}"
        );
        assert_eq!(w.spec_of(2), Some(replicas), "{percent}");
        assert_eq!(available(&w, 2), replicas as usize, "{percent}");
    }
}

#[test]
fn rolling_mid_is_not_a_stop_point_once_a_revision_completed() {
    let mut w = at_revision_two(rolling(), 2);
    let (o, lines) = w.deploy("web-2", until("mid"), 60);
    assert_eq!(o, Outcome::Done, "{lines:?}");
}

#[test]
fn a_first_rolling_rollout_stops_like_recreate() {
    let mut w = world(rolling(), 4);
    deployer_started(&mut w, 1);
    let (o, _) = w.deploy("web-1", until("0%"), 60);
    assert_eq!(stopped(o), "Reached 0% (no running pods)");
    let (o, _) = w.deploy("web-1", until("mid"), 60);
    assert_eq!(stopped(o), "mid hook succeeded");
    assert_eq!(w.spec_of(1), Some(0));
    let (o, _) = w.deploy("web-1", until("50%"), 60);
    assert_eq!(stopped(o), "Reached 50% (currently 50%)");
    assert_eq!((w.spec_of(1), available(&w, 1)), (Some(2), 2));
    let (o, _) = w.deploy("web-1", until("100%"), 60);
    assert_eq!(stopped(o), "Reached 100%");
    assert_eq!(creations(&w, "web-1-hook-post"), 0);
    let (o, _) = w.deploy("web-1", None, 60);
    assert_eq!(o, Outcome::Done);
    assert_eq!(creations(&w, "web-1-hook-pre"), 1);
    assert_eq!(creations(&w, "web-1-hook-post"), 1);
}

#[test]
fn recreate_stops_at_each_point_and_each_run_resumes_the_last() {
    let mut w = at_revision_two(recreate(), 3);
    let old_pods_gone = |w: &World| {
        w.rss
            .iter()
            .find(|r| World::version_of(r) == 1)
            .is_some_and(|r| r.pods.is_empty())
    };

    let (o, _) = w.deploy("web-2", until("pre"), 60);
    assert_eq!(stopped(o), "pre hook succeeded");
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(3), Some(0)),
        "nothing scaled"
    );

    let (o, lines) = w.deploy("web-2", until("0%"), 60);
    assert_eq!(stopped(o), "Reached 0% (no running pods)");
    assert!(
        lines.contains(&"--> Scaling older deployment web-1 down to 0".to_string()),
        "{lines:?}"
    );
    assert!(old_pods_gone(&w) && w.spec_of(2) == Some(0));
    assert_eq!(creations(&w, "web-2-hook-mid"), 0);

    let (o, _) = w.deploy("web-2", until("mid"), 60);
    assert_eq!(stopped(o), "mid hook succeeded");
    assert_eq!(creations(&w, "web-2-hook-mid"), 1);
    assert_eq!(w.spec_of(2), Some(0));

    let (o, _) = w.deploy("web-2", until("50%"), 60);
    assert_eq!(stopped(o), "Reached 50%");
    assert_eq!(
        (w.spec_of(2), available(&w, 2)),
        (Some(1), 1),
        "after the one-pod acceptance check"
    );

    let (o, _) = w.deploy("web-2", until("100%"), 60);
    assert_eq!(stopped(o), "Reached 100%");
    assert_eq!(w.spec_of(2), Some(3));
    assert_eq!(creations(&w, "web-2-hook-post"), 0);

    let (o, _) = w.deploy("web-2", None, 60);
    assert_eq!(o, Outcome::Done);
    for point in ["pre", "mid", "post"] {
        assert_eq!(
            creations(&w, &format!("web-2-hook-{point}")),
            1,
            "{point} ran once"
        );
    }
    finish(&mut w, 2);
}

#[test]
fn a_first_recreate_rollout_stops_at_a_percentage_only_at_full_scale() {
    let mut w = world(recreate(), 4);
    deployer_started(&mut w, 1);
    let (o, _) = w.deploy("web-1", until("50%"), 60);
    assert_eq!(stopped(o), "Reached 50%");
    assert_eq!((w.spec_of(1), available(&w, 1)), (Some(4), 4));
}

#[test]
fn the_seed_script_reaches_half_way_then_completes() {
    // `cutover deploy --until=50%; echo Halfway there; cutover deploy; echo Complete`
    let mut w = at_revision_two(rolling(), 4);
    let mut output = Vec::new();
    let (o, lines) = w.deploy("web-2", until("50%"), 60);
    assert!(matches!(o, Outcome::Stopped(_)));
    output.extend(lines);
    output.push("Halfway there".to_string());
    let (o, lines) = w.deploy("web-2", None, 60);
    assert_eq!(o, Outcome::Done);
    output.extend(lines);
    output.push("Complete".to_string());
    let at = |line: &str| {
        output
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{line:?} not in {output:#?}"))
    };
    assert!(at("--> Reached 50% (currently 50%)") < at("Halfway there"));
    assert!(at("Halfway there") < at("--> Success"));
    assert!(at("--> Success") < at("Complete"));
    assert!(
        at("--> pre: Running hook Job web-2-hook-pre ...") < at("--> Reached 50% (currently 50%)")
    );
    assert!(at("Halfway there") < at("--> post: Running hook Job web-2-hook-post ..."));
    finish(&mut w, 2);
}

#[test]
fn a_deployer_whose_rollout_times_out_fails_and_says_why() {
    let mut w = at_revision_two(rolling(), 2);
    w.readiness.insert(2, Readiness::Never);
    let (o, _) = w.deploy("web-2", None, 200);
    assert_eq!(
        o,
        Outcome::Failed("timed out waiting for any update progress to be made".into())
    );
    w.exit_job("web-2-deploy", false);
    for _ in 0..3 {
        w.step();
    }
    assert_eq!(w.phase(2).as_deref(), Some("Failed"));
    assert_eq!(
        w.annotation_of(2, "openshift.io/deployment.status-reason")
            .as_deref(),
        Some("timed out waiting for any update progress to be made"),
        "the deployer's own reason"
    );
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(2), Some(0)),
        "rolled back"
    );
}

#[test]
fn the_deployer_refuses_what_it_cannot_run() {
    let mut w = world(
        DeploymentStrategy {
            type_: Some("Custom".into()),
            custom_params: Some(Default::default()),
            ..Default::default()
        },
        1,
    );
    deployer_started(&mut w, 1);
    let (o, _) = w.deploy("web-1", None, 5);
    assert_eq!(
        o,
        Outcome::Failed("unsupported strategy type: Custom".into())
    );

    let mut w = at_revision_two(rolling(), 1);
    finish(&mut w, 2);
    let (o, _) = w.deploy("web-2", None, 5);
    assert_eq!(
        o,
        Outcome::Failed("deployment web-2 has already run to completion".into())
    );
}
