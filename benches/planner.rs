//! The pure core's cost, without a cluster: `strategy::plan()` per DeploymentConfig per pass,
//! over whole rollouts in the simulated cluster of the planner tests (`tests/sim`). Each pass of
//! each rollout is planned `REPEAT` times on the same observation, timed, then applied once; the
//! table gives the median and the 99th percentile of one `plan()` call, and the whole rollout's
//! planning time.
//!
//! `cargo bench --bench planner` (part of `make bench`); `-- --smoke` runs each scenario once
//! (make test runs that, so the benchmark keeps working).

#[path = "../tests/sim/mod.rs"]
mod sim;

use std::time::{Duration, Instant};

use cutover::api::{
    DeploymentConfigSpec, DeploymentStrategy, ExecNewPodHook, LifecycleHook,
    RecreateDeploymentStrategyParams,
};
use cutover::strategy;
use sim::{World, dc, template};

struct Scenario {
    name: &'static str,
    replicas: i32,
    strategy: DeploymentStrategy,
}

fn scenarios() -> Vec<Scenario> {
    let hook = |command: &str| {
        Some(LifecycleHook {
            failure_policy: "Abort".into(),
            exec_new_pod: Some(ExecNewPodHook {
                command: vec![command.into()],
                container_name: "app".into(),
                ..Default::default()
            }),
            tag_images: None,
        })
    };
    vec![
        Scenario {
            name: "Rolling, 1 replica",
            replicas: 1,
            strategy: DeploymentStrategy::default(),
        },
        Scenario {
            name: "Rolling, 10 replicas",
            replicas: 10,
            strategy: DeploymentStrategy::default(),
        },
        Scenario {
            name: "Rolling, 100 replicas",
            replicas: 100,
            strategy: DeploymentStrategy::default(),
        },
        Scenario {
            name: "Recreate + 3 hooks, 10 replicas",
            replicas: 10,
            strategy: DeploymentStrategy {
                type_: Some("Recreate".into()),
                recreate_params: Some(RecreateDeploymentStrategyParams {
                    pre: hook("pre"),
                    mid: hook("migrate"),
                    post: hook("post"),
                    ..Default::default()
                }),
                ..Default::default()
            },
        },
    ]
}

/// Rolls out revision 1, then a template change to the end, timing every `plan()`.
fn measure(s: &Scenario, repeat: u32) -> (Vec<Duration>, usize) {
    let mut w = World::new(dc(DeploymentConfigSpec {
        replicas: s.replicas,
        template: template("app:1"),
        revision_history_limit: Some(10),
        strategy: s.strategy.clone(),
        ..Default::default()
    }));
    let mut calls = Vec::new();
    let mut passes = 0;
    for image in ["app:1", "app:2"] {
        w.edit(|spec| spec.template = template(image));
        let version = w.latest_version() + 1;
        for _ in 0..600 {
            let observed = w.observed();
            let started = Instant::now();
            for _ in 0..repeat {
                std::hint::black_box(strategy::plan(std::hint::black_box(&observed), w.now));
            }
            calls.push(started.elapsed() / repeat);
            passes += 1;
            w.step();
            if w.phase(version).as_deref() == Some("Complete") {
                break;
            }
        }
    }
    (calls, passes)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let repeat = if smoke { 1 } else { 200 };
    println!("plan() per DeploymentConfig per pass ({repeat} timed calls per pass)\n");
    println!(
        "{:<34} {:>7} {:>10} {:>10} {:>12}",
        "scenario", "passes", "p50", "p99", "per rollout"
    );
    for s in scenarios() {
        let (mut calls, passes) = measure(&s, repeat);
        let total: Duration = calls.iter().sum();
        calls.sort();
        println!(
            "{:<34} {:>7} {:>10.1?} {:>10.1?} {:>12.1?}",
            s.name,
            passes,
            percentile(&calls, 0.5),
            percentile(&calls, 0.99),
            total / 2
        );
    }
}
