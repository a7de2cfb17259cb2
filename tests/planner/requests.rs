//! Rollout requests in the planner: each token acted on once, refusals in the spec's words,
//! retry re-running hooks, rollback as a new revision.

use crate::sim::{HookRun, World, dc, template};
use cutover::api::*;

fn world(replicas: i32) -> World {
    World::new(dc(DeploymentConfigSpec {
        replicas,
        template: template("app:1"),
        ..Default::default()
    }))
}

fn settle(w: &mut World) {
    for _ in 0..40 {
        w.step();
    }
}

#[test]
fn latest_is_acted_on_once_per_token() {
    let mut w = world(2);
    settle(&mut w);
    w.annotate("cutover.io/request-latest", "t1");
    settle(&mut w);
    assert_eq!(w.latest_version(), 2);
    assert_eq!(
        w.request("latest"),
        Some(("t1".into(), "Accepted".into(), "started rollout #2".into()))
    );
    assert_eq!(w.phase(2).as_deref(), Some("Complete"));
    // The same token again (a re-applied manifest): nothing happens.
    settle(&mut w);
    assert_eq!(w.latest_version(), 2);
    w.annotate("cutover.io/request-latest", "t2");
    settle(&mut w);
    assert_eq!(w.latest_version(), 3);
}

#[test]
fn requests_on_a_paused_config_are_refused_with_the_reason() {
    let mut w = world(1);
    settle(&mut w);
    w.edit(|s| s.paused = true);
    w.annotate("cutover.io/request-latest", "t1");
    w.annotate("cutover.io/request-retry", "t1");
    settle(&mut w);
    assert_eq!(
        w.request("latest").map(|r| (r.1, r.2)),
        Some((
            "Refused".into(),
            "cannot deploy a paused deployment config".into()
        ))
    );
    assert_eq!(
        w.request("retry").map(|r| r.2),
        Some("unable to retry paused deployment config \"web\"".into())
    );
    assert_eq!(w.latest_version(), 1);
}

#[test]
fn retry_of_a_complete_rollout_is_refused() {
    let mut w = world(1);
    settle(&mut w);
    w.annotate("cutover.io/request-retry", "t1");
    settle(&mut w);
    let (_, outcome, message) = w.request("retry").expect("recorded");
    assert_eq!(outcome, "Refused");
    assert!(
        message.starts_with("rollout #1 is Complete; only failed deployments can be retried."),
        "{message}"
    );
}

#[test]
fn cancel_fails_the_rollout_and_restores_the_previous_revision() {
    let mut w = world(4);
    settle(&mut w);
    w.readiness.insert(2, crate::sim::Readiness::After(60));
    w.edit(|s| s.template = template("app:2"));
    w.step();
    w.step();
    assert_eq!(w.phase(2).as_deref(), Some("Running"));
    w.annotate("cutover.io/request-cancel", "c1");
    settle(&mut w);
    let rs2 = w
        .rss
        .iter()
        .find(|r| World::version_of(r) == 2)
        .expect("rev 2");
    assert_eq!(
        rs2.annotation("openshift.io/deployment.phase").as_deref(),
        Some("Failed")
    );
    assert_eq!(
        rs2.annotation("openshift.io/deployment.status-reason")
            .as_deref(),
        Some("cancelled by the user")
    );
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(4), Some(0)));
    // Cancelling again: nothing is in progress, and it says so.
    w.annotate("cutover.io/request-cancel", "c2");
    settle(&mut w);
    assert_eq!(
        w.request("cancel").map(|r| r.2),
        Some("No rollout is in progress (latest rollout #2 Failed)".into())
    );
}

#[test]
fn retry_runs_the_failed_revision_again_with_fresh_hooks() {
    let strategy = DeploymentStrategy {
        type_: Some("Recreate".into()),
        recreate_params: Some(RecreateDeploymentStrategyParams {
            pre: Some(LifecycleHook {
                failure_policy: "Abort".into(),
                exec_new_pod: Some(ExecNewPodHook {
                    command: vec!["check".into()],
                    container_name: "app".into(),
                    ..Default::default()
                }),
                tag_images: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut w = World::new(dc(DeploymentConfigSpec {
        replicas: 2,
        template: template("app:1"),
        strategy,
        ..Default::default()
    }));
    w.hook_runs
        .insert("web-1-hook-pre".into(), HookRun::FailAfter(1));
    settle(&mut w);
    assert_eq!(w.phase(1).as_deref(), Some("Failed"));
    w.hook_runs
        .insert("web-1-hook-pre".into(), HookRun::SucceedAfter(1));
    w.annotate("cutover.io/request-retry", "r1");
    settle(&mut w);
    assert_eq!(w.phase(1).as_deref(), Some("Complete"));
    assert_eq!(w.latest_version(), 1, "a retry keeps the version");
    assert_eq!(
        w.job_creations,
        ["web-1-hook-pre", "web-1-hook-pre"],
        "the hook ran again, once"
    );
    let rs = &w.rss[0];
    assert_eq!(rs.annotation("cutover.io/attempt").as_deref(), Some("2"));
    assert_eq!(rs.spec, 2);
}

#[test]
fn rollback_writes_the_old_template_and_rolls_it_out_as_a_new_revision() {
    let mut w = world(2);
    settle(&mut w);
    w.edit(|s| s.template = template("app:2"));
    settle(&mut w);
    assert_eq!(w.phase(2).as_deref(), Some("Complete"));
    w.annotate("cutover.io/request-rollback", "u1");
    settle(&mut w);
    assert_eq!(
        w.request("rollback").map(|r| r.2),
        Some("rolled back to revision 1: rollout #3 started".into())
    );
    assert_eq!(w.latest_version(), 3);
    assert_eq!(
        w.dc.spec.template,
        template("app:1"),
        "the spec holds the old template"
    );
    assert_eq!(w.phase(3).as_deref(), Some("Complete"));
    assert_eq!(
        (w.spec_of(1), w.spec_of(2), w.spec_of(3)),
        (Some(0), Some(0), Some(2)),
        "never the old revision re-activated"
    );
    let rs3 = w
        .rss
        .iter()
        .find(|r| World::version_of(r) == 3)
        .expect("rev 3");
    assert_eq!(
        rs3.annotation("openshift.io/deployment.status-reason")
            .as_deref(),
        Some("rollback to revision 1")
    );
    // Rolling back to the latest is refused.
    w.annotate("cutover.io/rollback-to-revision", "3");
    w.annotate("cutover.io/request-rollback", "u2");
    settle(&mut w);
    assert_eq!(
        w.request("rollback").map(|r| r.2),
        Some("version 3 is already the latest".into())
    );
}

#[test]
fn a_rollback_target_that_is_not_a_non_negative_integer_is_refused() {
    let mut w = world(1);
    settle(&mut w);
    w.edit(|s| s.template = template("app:2"));
    settle(&mut w);
    for (token, to) in [("n1", "-1"), ("n2", "two")] {
        w.annotate("cutover.io/rollback-to-revision", to);
        w.annotate("cutover.io/request-rollback", token);
        settle(&mut w);
        let (_, outcome, message) = w.request("rollback").expect("recorded");
        assert_eq!(outcome, "Refused", "{to}");
        assert!(
            message.starts_with(&format!(
                "invalid revision {to:?} in cutover.io/rollback-to-revision: must be a non-negative integer"
            )),
            "{message}"
        );
    }
    assert_eq!(w.latest_version(), 2, "nothing rolled back");
}
