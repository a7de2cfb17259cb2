//! The planner driven against the simulated cluster, with a virtual clock: rollouts end to end,
//! with the invariants of docs/architecture.md checked after every step.

use crate::sim::{Readiness, World, dc, template};
use cutover::api::{
    DeploymentConfigSpec, DeploymentStrategy, IntOrPercent, RollingDeploymentStrategyParams,
};
use cutover::strategy::Action;

fn spec(replicas: i32) -> DeploymentConfigSpec {
    DeploymentConfigSpec {
        replicas,
        template: template("app:1"),
        revision_history_limit: Some(10),
        ..Default::default()
    }
}

fn complete(version: i64) -> impl Fn(&World) -> bool {
    move |w| w.phase(version).as_deref() == Some("Complete")
}

fn progressing_reason(w: &World) -> String {
    w.dc.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Progressing"))
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

#[test]
fn initial_rollout_creates_revision_one_and_completes() {
    let mut w = World::new(dc(spec(5)));
    let d = w.reconcile();
    assert_eq!(d.status.latest_version, 1);
    // Created at its first step: nothing to wait for first (no hook), so it is running already.
    assert_eq!(w.phase(1).as_deref(), Some("Running"));
    assert_eq!(w.spec_of(1), Some(5));
    assert_eq!(progressing_reason(&w), "NewReplicationControllerCreated");
    assert!(w.run_until(60, complete(1), |_| {}));
    w.step();
    let status = w.dc.status.clone().expect("status");
    assert_eq!(w.spec_of(1), Some(5));
    assert_eq!(status.available_replicas, 5);
    assert_eq!(progressing_reason(&w), "NewReplicationControllerAvailable");
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Available" && c.status == "True")
    );
}

#[test]
fn no_triggers_means_no_rollout() {
    let mut w = World::new(dc(DeploymentConfigSpec {
        triggers: Some(vec![]),
        ..spec(3)
    }));
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(w.latest_version(), 0);
    assert!(w.rss.is_empty());
}

#[test]
fn rolling_update_keeps_surge_and_availability_bounds() {
    let mut w = World::new(dc(spec(10)));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.edit(|s| s.template = template("app:2"));
    let (mut max_pods, mut min_available) = (0, i32::MAX);
    let done = w.run_until(120, complete(2), |w| {
        // By default terminating pods do not count toward maxSurge; those not terminating do, at
        // every instant, whichever ReplicaSet's controller acts first.
        max_pods = max_pods.max(w.peak_running);
        min_available = min_available.min(w.available_pods());
    });
    assert!(done, "revision 2 completes");
    assert!(max_pods <= 13, "surge bound: saw {max_pods} pods");
    assert!(
        min_available >= 8,
        "availability bound: saw {min_available} available"
    );
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(0), Some(10)));
}

/// As the Deployment controller does, a new revision is created at its first step when nothing
/// (a pre hook) must run first: already scaled up within maxSurge, with the old revision scaled
/// down in the same pass within maxUnavailable (after the creation, so a refused creation
/// leaves the old one alone).
#[test]
fn a_new_revision_is_created_at_its_first_step() {
    let mut w = World::new(dc(spec(10)));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.edit(|s| s.template = template("app:2"));
    let d = w.reconcile();
    let position = |f: &dyn Fn(&Action) -> bool| d.actions.iter().position(f);
    let created = position(
        &|a| matches!(a, Action::CreateRevision { name, manifest } if name == "web-2" && manifest["spec"]["replicas"] == 3),
    );
    let scaled_down = position(
        &|a| matches!(a, Action::Update(u) if u.name == "web-1" && u.scale.map(|s| s.to) == Some(8)),
    );
    assert!(
        created.is_some() && scaled_down.is_some() && created < scaled_down,
        "{:#?}",
        d.actions
    );
    assert_eq!(w.phase(2).as_deref(), Some("Running"));
}

/// A scale-down gives room to the new revision only once the old revision's status shows the
/// pods it let go (issue 29): until its ReplicaSet controller has marked them terminating, they
/// may still run next to the new pods. The scale-up of the same pass uses only what the status
/// already gave back.
#[test]
fn a_scale_up_waits_for_the_old_revisions_status_to_show_the_scale_down() {
    let mut w = World::new(dc(spec(10)));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.edit(|s| s.template = template("app:2"));
    // Created at 3 (surge 3), web-1 down to 8 (2 unavailable).
    w.reconcile();
    // The cluster alone, until the new pods are available (and the controller has said so).
    for _ in 0..5 {
        w.tick_only();
    }
    assert_eq!(w.available_pods(), 11);
    let scales = |d: &cutover::strategy::Decision| -> Vec<(String, i32)> {
        d.actions
            .iter()
            .filter_map(|a| match a {
                Action::Update(u) => Some((u.name.clone(), u.scale?.to)),
                _ => None,
            })
            .collect()
    };
    // 11 available, 8 needed: 3 old go. web-1's status shows the 2 it let go before, so web-2
    // grows by those (8 + 3 + 2 = 13), not by the 3 this pass lets go.
    let d = w.reconcile();
    assert_eq!(scales(&d), [("web-1".into(), 5), ("web-2".into(), 5)]);
    assert!(scales(&w.reconcile()).is_empty(), "web-1 still reports 8");
    // Its controller marks 3 pods deleted and says so: now they are room.
    w.tick_only();
    assert_eq!(scales(&w.reconcile()), [("web-2".into(), 8)]);
}

/// Issue 29: with `maxSurge: 0`, never more pods that are not terminating than replicas, at any
/// instant: the new revision's pods may be created before the old one's controller marks the
/// pods it let go as deleted, so they are not room until its status says so. Also with a slow
/// ReplicaSet controller and slow terminations.
#[test]
fn max_surge_zero_never_runs_more_pods_than_replicas() {
    for (lag, termination) in [(0, 1), (1, 1), (0, 5), (2, 3)] {
        let mut w = World::new(dc(DeploymentConfigSpec {
            strategy: DeploymentStrategy {
                rolling_params: Some(RollingDeploymentStrategyParams {
                    max_surge: Some(IntOrPercent::Int(0)),
                    max_unavailable: Some(IntOrPercent::percent(10)),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..spec(4)
        }));
        w.replica_set_lag = lag;
        w.termination_seconds = termination;
        assert!(w.run_until(60, complete(1), |_| {}));
        w.edit(|s| s.template = template("app:2"));
        let (mut most, mut fewest_available) = (0, i32::MAX);
        let mut at_most = String::new();
        let done = w.run_until(120, complete(2), |w| {
            if w.peak_running > most {
                most = w.peak_running;
                at_most = format!("{:?}", (w.now, w.spec_of(1), w.spec_of(2)));
            }
            fewest_available = fewest_available.min(w.available_pods());
        });
        assert!(
            done,
            "lag {lag}, termination {termination}: revision 2 completes"
        );
        assert!(
            most <= 4,
            "lag {lag}, termination {termination}: {most} pods not terminating at {at_most}"
        );
        assert!(
            fewest_available >= 3,
            "lag {lag}, termination {termination}: {fewest_available} available"
        );
    }
}

/// With pods that take 10 s to stop and a ReplicaSet controller 1 s behind: by default
/// (`TerminationStarted`) maxSurge bounds the replicas asked for and the pods not terminating;
/// `TerminationComplete` counts every pod that exists, terminating or not yet deleted, so the
/// bound holds for all the pods, and takes longer.
#[test]
fn the_pod_replacement_policy_decides_what_counts_toward_surge() {
    let rollout = |policy: Option<&str>| {
        let mut w = World::new(dc(spec(10)));
        if let Some(policy) = policy {
            w.dc.metadata.annotations = Some(
                [(
                    "cutover.io/pod-replacement-policy".to_string(),
                    policy.into(),
                )]
                .into(),
            );
        }
        w.termination_seconds = 10;
        w.replica_set_lag = 1;
        assert!(w.run_until(60, complete(1), |_| {}));
        w.edit(|s| s.template = template("app:2"));
        let started = w.now;
        let (mut max_pods, mut max_running, mut max_spec, mut min_available) = (0, 0, 0, i32::MAX);
        let done = w.run_until(300, complete(2), |w| {
            max_pods = max_pods.max(w.peak_pods);
            max_running = max_running.max(w.peak_running);
            max_spec = max_spec.max(w.spec_total());
            min_available = min_available.min(w.available_pods());
        });
        assert!(done, "{policy:?}: revision 2 completes");
        assert!(
            min_available >= 8,
            "{policy:?}: saw {min_available} available"
        );
        let took = (w.now - started).get_seconds();
        (max_pods, max_running, max_spec, took)
    };
    let (pods, _, spec, complete_took) = rollout(Some("TerminationComplete"));
    assert!(pods <= 13, "every pod within the bound: saw {pods}");
    assert!(spec <= 13);

    let (pods, running, spec, started_took) = rollout(None);
    assert_eq!(rollout(Some("TerminationStarted")).0, pods, "the default");
    assert!(spec <= 13, "replicas within the bound: saw {spec}");
    assert!(
        running <= 13,
        "pods not terminating within the bound: saw {running}"
    );
    assert!(pods > 13, "terminating pods are not waited for: saw {pods}");
    assert!(
        started_took < complete_took,
        "TerminationStarted took {started_took} s, TerminationComplete {complete_took} s"
    );
}

#[test]
fn an_unknown_pod_replacement_policy_is_reported_and_nothing_rolls_out() {
    let mut d = dc(spec(3));
    d.metadata.annotations = Some(
        [(
            "cutover.io/pod-replacement-policy".to_string(),
            "Eventually".into(),
        )]
        .into(),
    );
    let mut w = World::new(d);
    w.step();
    assert_eq!(w.latest_version(), 0);
    assert_eq!(progressing_reason(&w), "InvalidConfig");
    let message = w.dc.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Progressing")
            .map(|c| c.message.clone())
    });
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("cutover.io/pod-replacement-policy")
                && m.contains("TerminationStarted")),
        "{message:?}"
    );
}

#[test]
fn a_revision_that_never_becomes_ready_fails_and_rolls_back() {
    let strategy = DeploymentStrategy {
        rolling_params: Some(RollingDeploymentStrategyParams {
            timeout_seconds: Some(20),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut w = World::new(dc(DeploymentConfigSpec {
        strategy,
        ..spec(10)
    }));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.readiness.insert(2, Readiness::Never);
    w.edit(|s| s.template = template("app:broken"));
    let failed = w.run_until(
        120,
        |w| w.phase(2).as_deref() == Some("Failed"),
        |w| {
            assert!(
                w.available_pods() >= 8,
                "availability bound during the canary"
            );
        },
    );
    assert!(failed);
    w.step();
    w.step();
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(10), Some(0)),
        "rolled back"
    );
    assert_eq!(progressing_reason(&w), "ProgressDeadlineExceeded");
}

#[test]
fn recreate_never_runs_old_and_new_pods_together() {
    let strategy = DeploymentStrategy {
        type_: Some("Recreate".into()),
        ..Default::default()
    };
    let mut w = World::new(dc(DeploymentConfigSpec {
        strategy,
        ..spec(4)
    }));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.edit(|s| s.template = template("app:2"));
    let done = w.run_until(120, complete(2), |w| {
        let old = w
            .rss
            .iter()
            .find(|r| World::version_of(r) == 1)
            .map_or(0, |r| r.pods.len());
        let new = w
            .rss
            .iter()
            .find(|r| World::version_of(r) == 2)
            .map_or(0, |r| r.pods.len());
        assert!(old == 0 || new == 0, "old {old} and new {new} pods at once");
    });
    assert!(done);
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(0), Some(4)));
}

#[test]
fn a_template_change_mid_rollout_cancels_it_and_rolls_out_the_newest() {
    let mut w = World::new(dc(spec(6)));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.readiness.insert(2, Readiness::After(30));
    w.edit(|s| s.template = template("app:2"));
    w.step();
    w.step();
    assert_eq!(w.phase(2).as_deref(), Some("Running"));
    w.edit(|s| s.template = template("app:3"));
    let done = w.run_until(120, complete(3), |w| {
        let in_flight = w
            .rss
            .iter()
            .filter(|r| {
                matches!(
                    r.annotation("openshift.io/deployment.phase").as_deref(),
                    Some("New" | "Pending" | "Running")
                )
            })
            .count();
        assert!(in_flight <= 1, "{in_flight} revisions in flight");
    });
    assert!(done);
    let rs2 = w
        .rss
        .iter()
        .find(|r| World::version_of(r) == 2)
        .expect("revision 2");
    assert_eq!(
        rs2.annotation("openshift.io/deployment.phase").as_deref(),
        Some("Failed")
    );
    assert_eq!(
        rs2.annotation("openshift.io/deployment.cancelled")
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        rs2.annotation("openshift.io/deployment.status-reason")
            .as_deref(),
        Some("newer deployment was found running")
    );
    assert_eq!(
        (w.spec_of(1), w.spec_of(2), w.spec_of(3)),
        (Some(0), Some(0), Some(6))
    );
}

#[test]
fn an_explicit_update_period_spaces_scale_up_and_scale_down() {
    let strategy = DeploymentStrategy {
        rolling_params: Some(RollingDeploymentStrategyParams {
            update_period_seconds: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut w = World::new(dc(DeploymentConfigSpec {
        strategy,
        ..spec(4)
    }));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.edit(|s| s.template = template("app:2"));
    // Record when revision 2 scaled up and when revision 1 scaled down.
    let (mut ups, mut downs) = (Vec::new(), Vec::new());
    let start = w.now;
    let mut seen = w.decisions.len();
    assert!(w.run_until(120, complete(2), |w| {
        let t = (w.now - start).get_seconds();
        for d in &w.decisions[seen..] {
            for a in &d.actions {
                // The new revision is created at its first step.
                if let Action::CreateRevision { manifest, .. } = a
                    && manifest["spec"]["replicas"].as_i64() > Some(0)
                {
                    ups.push(t)
                }
                if let Action::Update(u) = a
                    && let Some(s) = u.scale
                {
                    if u.name == "web-2" && s.to > s.from {
                        ups.push(t)
                    } else if u.name == "web-1" && s.to < s.from {
                        downs.push(t)
                    }
                }
            }
        }
        seen = w.decisions.len();
    }));
    let first_up = ups.first().copied().expect("a scale-up");
    let first_down = downs.first().copied().expect("a scale-down");
    assert!(
        first_down - first_up >= 5,
        "scale-down {first_down}s came less than 5s after scale-up {first_up}s"
    );
}

#[test]
fn an_invalid_spec_after_a_rollout_is_reported_not_hidden() {
    let mut w = World::new(dc(spec(2)));
    assert!(w.run_until(60, complete(1), |_| {}));
    w.step();
    assert_eq!(progressing_reason(&w), "NewReplicationControllerAvailable");
    // As if stored before admission had the rule: an unknown strategy type.
    w.edit(|s| s.strategy.type_ = Some("BlueGreen".into()));
    w.step();
    assert_eq!(progressing_reason(&w), "InvalidConfig");
    assert_eq!(w.spec_of(1), Some(2), "nothing touched");
}

/// kstatus (Flux, kpt): Reconciling while a rollout runs, Stalled once it failed, neither when
/// the DeploymentConfig is at rest — checked at every step of a rollout and of a failed one.
#[test]
fn kstatus_conditions_follow_the_rollout() {
    fn kstatus(w: &World) -> (Option<String>, Option<String>) {
        let conditions =
            w.dc.status
                .as_ref()
                .map(|s| s.conditions.clone())
                .unwrap_or_default();
        let find = |t: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| format!("{}/{}", c.status, c.reason))
        };
        (find("Reconciling"), find("Stalled"))
    }
    let strategy = DeploymentStrategy {
        rolling_params: Some(RollingDeploymentStrategyParams {
            timeout_seconds: Some(20),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut w = World::new(dc(DeploymentConfigSpec {
        strategy,
        ..spec(4)
    }));
    w.step();
    assert!(
        kstatus(&w).0.is_some_and(|r| r.starts_with("True/")),
        "Reconciling from the first step: {:?}",
        kstatus(&w)
    );
    assert!(w.run_until(60, complete(1), |w| {
        assert!(kstatus(w).1.is_none(), "never Stalled on the way");
    }));
    w.step();
    assert_eq!(kstatus(&w), (None, None), "at rest");

    w.readiness.insert(2, Readiness::Never);
    w.edit(|s| s.template = template("app:broken"));
    w.step();
    assert!(
        kstatus(&w).0.is_some(),
        "Reconciling once the new revision exists"
    );
    assert!(w.run_until(120, |w| w.phase(2).as_deref() == Some("Failed"), |_| {}));
    w.step();
    assert_eq!(
        kstatus(&w),
        (None, Some("True/ProgressDeadlineExceeded".into()))
    );
}
