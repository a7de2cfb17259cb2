//! Property tests: random rollouts against the simulated cluster (random readiness delays, pods
//! that never become ready, template and scale changes mid-rollout, pauses, and the operator down
//! for a while), under either pod replacement policy, asserting the invariants of
//! docs/architecture.md after every step.

use crate::sim::{HookRun, Readiness, World, dc, template};
use cutover::api::int_or_percent::Rounding;
use cutover::api::{
    DeploymentConfigSpec, DeploymentStrategy, ExecNewPodHook, IntOrPercent, LifecycleHook,
    RecreateDeploymentStrategyParams, RollingDeploymentStrategyParams,
};
use cutover::strategy::rollout::rolling::fenceposts;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

#[derive(Debug, Clone)]
enum Change {
    Template,
    Scale(i32),
    Pause,
    Resume,
    /// The operator is down for this many seconds (no reconciles) while the cluster moves.
    OperatorDown(i64),
}

#[derive(Debug, Clone)]
struct Scenario {
    replicas: i32,
    recreate: bool,
    surge: IntOrPercent,
    unavailable: IntOrPercent,
    min_ready: i32,
    /// (second, change, readiness of the revision it creates)
    changes: Vec<(i64, Change, Readiness)>,
    /// The failure policy of the pre, mid and post hooks, when there is one.
    hooks: [Option<&'static str>; 3],
    /// Which hook Jobs fail (bit `3 * version + point`).
    hook_failures: u64,
    /// How long deleted pods take to go, and the ReplicaSet controller to act on a new spec.
    termination_seconds: i64,
    replica_set_lag: i64,
    /// The opt-in `TerminationComplete` policy (terminating pods count toward maxSurge).
    termination_complete: bool,
    /// The mid hook declared irreversible (`cutover.io/irreversible-hooks: mid`).
    irreversible_mid: bool,
}

fn int_or_percent() -> impl Strategy<Value = IntOrPercent> {
    prop_oneof![
        (0..4i32).prop_map(IntOrPercent::Int),
        prop::sample::select(vec![0u32, 10, 25, 50, 100]).prop_map(IntOrPercent::percent),
    ]
}

fn readiness() -> impl Strategy<Value = Readiness> {
    prop_oneof![
        4 => (0..6i64).prop_map(Readiness::After),
        1 => Just(Readiness::Never),
        1 => (0..4usize, 0..6i64).prop_map(|(pods, after)| Readiness::AtMost { pods, after }),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => Just(Change::Template),
        2 => (0..12i32).prop_map(Change::Scale),
        1 => Just(Change::Pause),
        1 => Just(Change::Resume),
        1 => (1..20i64).prop_map(Change::OperatorDown),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0..12i32,
        any::<bool>(),
        int_or_percent(),
        int_or_percent(),
        0..3i32,
        prop::collection::vec((1..90i64, change(), readiness()), 0..6),
        prop::array::uniform3(prop::option::of(prop::sample::select(vec![
            "Abort", "Retry", "Ignore",
        ]))),
        any::<u64>(),
        1..4i64,
        0..3i64,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                replicas,
                recreate,
                surge,
                unavailable,
                min_ready,
                mut changes,
                hooks,
                hook_failures,
                termination_seconds,
                replica_set_lag,
                termination_complete,
                irreversible_mid,
            )| {
                changes.sort_by_key(|c| c.0);
                Scenario {
                    replicas,
                    recreate,
                    surge,
                    unavailable,
                    min_ready,
                    changes,
                    hooks,
                    hook_failures,
                    termination_seconds,
                    replica_set_lag,
                    termination_complete,
                    irreversible_mid,
                }
            },
        )
}

fn hook(policy: Option<&str>) -> Option<LifecycleHook> {
    Some(LifecycleHook {
        failure_policy: policy?.into(),
        exec_new_pod: Some(ExecNewPodHook {
            command: vec!["true".into()],
            container_name: "app".into(),
            ..Default::default()
        }),
        tag_images: None,
    })
}

fn build(s: &Scenario) -> World {
    let [pre, mid, post] = s.hooks;
    let strategy = if s.recreate {
        DeploymentStrategy {
            type_: Some("Recreate".into()),
            recreate_params: Some(RecreateDeploymentStrategyParams {
                timeout_seconds: Some(30),
                pre: hook(pre),
                mid: hook(mid),
                post: hook(post),
            }),
            ..Default::default()
        }
    } else {
        DeploymentStrategy {
            rolling_params: Some(RollingDeploymentStrategyParams {
                timeout_seconds: Some(30),
                max_surge: Some(s.surge.clone()),
                max_unavailable: Some(s.unavailable.clone()),
                pre: hook(pre),
                post: hook(post),
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let mut w = World::new(dc(DeploymentConfigSpec {
        replicas: s.replicas,
        min_ready_seconds: Some(s.min_ready),
        template: template("app:0"),
        revision_history_limit: Some(3),
        strategy,
        ..Default::default()
    }));
    for v in 1..20u64 {
        for (i, point) in ["pre", "mid", "post"].iter().enumerate() {
            let bit = (3 * v + i as u64) % 64;
            let run = if s.hook_failures >> bit & 1 == 1 {
                HookRun::FailAfter(2)
            } else {
                HookRun::SucceedAfter(2)
            };
            w.hook_runs.insert(format!("web-{v}-hook-{point}"), run);
        }
    }
    w.termination_seconds = s.termination_seconds;
    w.replica_set_lag = s.replica_set_lag;
    if s.termination_complete {
        w.annotate("cutover.io/pod-replacement-policy", "TerminationComplete");
    }
    if s.irreversible_mid {
        w.annotate("cutover.io/irreversible-hooks", "mid");
    }
    w
}

/// The newest revision whose irreversible mid hook succeeded: no older one may be asked for
/// pods again.
fn fence(w: &World, s: &Scenario) -> Option<i64> {
    if !s.irreversible_mid {
        return None;
    }
    w.rss
        .iter()
        .filter(|r| r.annotation("cutover.io/hook-mid").as_deref() == Some("Succeeded"))
        .map(World::version_of)
        .max()
}

const IN_FLIGHT: [&str; 3] = ["New", "Pending", "Running"];

/// What was true when the current rollout started, for the "whenever that many were available
/// at the start" part of the bounds.
struct RolloutStart {
    version: i64,
    pods: i32,
    spec: i32,
    available: i32,
}

fn check(w: &World, s: &Scenario, start: &mut Option<RolloutStart>, last_latest: &mut i64) {
    // Past an irreversible hook, no older revision is asked for pods.
    if let Some(fence) = fence(w, s) {
        for r in w.rss.iter().filter(|r| World::version_of(r) < fence) {
            assert_eq!(
                r.spec,
                0,
                "revision {} runs after revision {fence}'s irreversible hook",
                World::version_of(r)
            );
        }
    }
    // latestVersion never decreases.
    assert!(
        w.latest_version() >= *last_latest,
        "latestVersion went back"
    );
    *last_latest = w.latest_version();
    // At most one revision in flight.
    let in_flight: Vec<i64> = w
        .rss
        .iter()
        .filter(|r| {
            r.annotation("openshift.io/deployment.phase")
                .is_some_and(|p| IN_FLIGHT.contains(&p.as_str()))
        })
        .map(World::version_of)
        .collect();
    assert!(in_flight.len() <= 1, "in flight at once: {in_flight:?}");
    let Some(&version) = in_flight.first() else {
        if let Some(st) = start.take() {
            check_completion(w, s, &st);
        }
        return;
    };
    let running = w.phase(version).as_deref() == Some("Running");
    if !running {
        return;
    }
    if start.as_ref().is_none_or(|st| st.version != version) {
        *start = Some(RolloutStart {
            version,
            // Pods already asked for count as there from the start: a rollback of an earlier
            // rollout (the active revision up, the others down at once, as OpenShift does) may
            // still be bringing them while this rollout's pre hook runs.
            // (And those of the second it started in: not yet this rollout's doing.)
            pods: w
                .committed_pods(s.termination_complete)
                .max(if s.termination_complete {
                    w.peak_pods
                } else {
                    w.peak_running
                }),
            spec: w.spec_total(),
            // Pods already on their way out (their ReplicaSet wants fewer, as after a rollback
            // to nothing when no revision ever completed) are not this rollout's to protect.
            available: w.available_pods_wanted(),
        });
    }
    let st = start.as_ref().expect("set above");
    let to = w
        .rss
        .iter()
        .find(|r| World::version_of(r) == version)
        .expect("in flight revision");
    let desired: i32 = to
        .annotation("kubectl.kubernetes.io/desired-replicas")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let old_pods: i32 = w
        .rss
        .iter()
        .filter(|r| World::version_of(r) != version)
        .map(|r| r.pods.len() as i32)
        .sum();
    if s.recreate {
        // Recreate: no new pod while an old one exists (the old-pod wait never times out here:
        // pods go within a second).
        assert!(
            old_pods == 0 || to.pods.is_empty(),
            "recreate overlap: {old_pods} old, {} new",
            to.pods.len()
        );
    } else if st.pods > 0 || old_pods > 0 {
        let fp = fenceposts(desired, &s.surge, &s.unavailable, 0).expect("valid");
        // The surge bound holds for every pod under TerminationComplete, for the pods not
        // terminating by default (TerminationStarted), and for the replicas asked for always;
        // for the pods at every instant of the second, whichever controller acted first.
        let cap = fp.max_total.max(st.pods);
        let counted = if s.termination_complete {
            w.peak_pods
        } else {
            w.peak_running
        };
        assert!(counted <= cap, "surge bound: {counted} pods > {cap}");
        assert!(
            w.spec_total() <= fp.max_total.max(st.spec),
            "surge bound: {} replicas asked for",
            w.spec_total()
        );
        let floor = fp.min_available.min(st.available);
        assert!(
            w.available_pods() >= floor,
            "availability bound: {} available < {floor}",
            w.available_pods()
        );
    }
}

/// A rollout that just ended Complete: the new revision asks for its replicas and the others for
/// none, and under Rolling its own available pods keep the availability bound (the old ones could
/// only go while they did, even if some new pod never became ready).
fn check_completion(w: &World, s: &Scenario, st: &RolloutStart) {
    if w.phase(st.version).as_deref() != Some("Complete") {
        return;
    }
    let to = w
        .rss
        .iter()
        .find(|r| World::version_of(r) == st.version)
        .expect("the completed revision");
    let desired: i32 = to
        .annotation("openshift.io/deployment.replicas")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    // (The same step's next pass may already scale it to a spec.replicas changed meanwhile.)
    assert!(
        to.spec == desired || to.spec == w.dc.spec.replicas,
        "revision {} complete at {} pods, not its target {desired}",
        st.version,
        to.spec
    );
    for other in w.rss.iter().filter(|r| World::version_of(r) != st.version) {
        assert_eq!(
            other.spec,
            0,
            "revision {} still asked for pods",
            World::version_of(other)
        );
    }
    if !s.recreate && st.pods > 0 {
        let fp = fenceposts(desired, &s.surge, &s.unavailable, 0).expect("valid");
        let floor = fp.min_available.min(st.available);
        let available = to.available(w.now);
        assert!(
            available >= floor,
            "revision {} complete with {available} available < {floor}",
            st.version
        );
    }
}

proptest! {
    // Failures kept next to this module (proptest's default looks for a crate root, and finds
    // this binary's main.rs, so it would put them in tests/proptest-regressions/).
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_and_every_rollout_ends(s in scenario()) {
        let surge_zero = s.surge.scaled(100, Rounding::Up) == Ok(0);
        let unavailable_zero = s.unavailable.scaled(100, Rounding::Down) == Ok(0);
        prop_assume!(!(surge_zero && unavailable_zero));
        let mut w = build(&s);
        let mut start = None;
        let mut last_latest = 0;
        let mut image = 0;
        let mut down_until = 0i64;
        for t in 0..120i64 {
            for (_, change, readiness) in s.changes.iter().filter(|c| c.0 == t) {
                match change {
                    Change::Template => {
                        image += 1;
                        w.readiness.insert(w.latest_version() + 1, *readiness);
                        w.edit(|spec| spec.template = template(&format!("app:{image}")));
                    }
                    Change::Scale(n) => w.edit(|spec| spec.replicas = *n),
                    Change::Pause => w.edit(|spec| spec.paused = true),
                    Change::Resume => w.edit(|spec| spec.paused = false),
                    Change::OperatorDown(secs) => down_until = t + secs,
                }
            }
            if t < down_until {
                w.tick_only();
            } else {
                w.step();
            }
            check(&w, &s, &mut start, &mut last_latest);
        }
        // Afterwards: resumed, and every pod becomes ready. The latest rollout ends, and the
        // steady state holds: the newest Complete revision runs spec.replicas, all others 0.
        w.edit(|spec| spec.paused = false);
        let latest_plus = w.latest_version() + 1;
        w.readiness.insert(latest_plus, Readiness::After(1));
        let ended = w.run_until(200, |w| {
            let v = w.latest_version();
            v > 0 && w.phase(v).is_some_and(|p| p == "Complete" || p == "Failed")
        }, |w| check(w, &s, &mut start, &mut last_latest));
        prop_assert!(ended || w.latest_version() == 0, "the latest rollout never ended");
        for _ in 0..5 {
            w.step();
        }
        let active = w.rss.iter().filter(|r| r.annotation("openshift.io/deployment.phase").as_deref() == Some("Complete")).map(World::version_of).max();
        // Failing forward: the revision past the irreversible hook keeps what it reached.
        let forward = fence(&w, &s).filter(|f| active.is_none_or(|a| a < *f));
        for rs in &w.rss {
            let v = World::version_of(rs);
            if Some(v) == forward {
                continue;
            }
            let want = if Some(v) == active && forward.is_none() { w.dc.spec.replicas } else { 0 };
            prop_assert_eq!(rs.spec, want, "revision {} after the rollout ended", v);
        }
        // Every hook Job was created once, never twice (the sim also refuses a creation while
        // the Job exists).
        let mut created = w.job_creations.clone();
        created.sort();
        created.dedup();
        prop_assert_eq!(created.len(), w.job_creations.len(), "a hook Job created twice: {:?}", w.job_creations);
        // History: at most 3 revisions older than the active one are kept.
        if let Some(a) = active {
            prop_assert!(w.rss.iter().filter(|r| World::version_of(r) < a).count() <= 3);
        }
    }
}
