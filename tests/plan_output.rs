//! Rollout plans (`cutover plan`, `kubectl dc rollout plan`): golden output for the examples
//! and the shapes of rollout users meet, and what the plan must say about each.

use cutover::api::DeploymentConfig;
use cutover::cli::format_plan;
use cutover::sim::plan::{self, Assumptions, Change, RolloutPlan};

fn manifest(path: &str) -> DeploymentConfig {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn offline(path: &str, change: Change, a: Assumptions) -> RolloutPlan {
    let world = plan::from_manifest(manifest(path), &a);
    plan::plan(world, &change, &a).expect("a plan")
}

fn image(container: &str, image: &str) -> Change {
    Change {
        images: vec![(container.into(), image.into())],
        ..Default::default()
    }
}

/// Compares with `tests/golden/<name>.txt`; `CUTOVER_BLESS=1` writes it instead.
fn golden(name: &str, text: &str) {
    let path = format!("{}/tests/golden/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("CUTOVER_BLESS").is_some() {
        std::fs::write(&path, text).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text, expected,
        "{name}: run with CUTOVER_BLESS=1 to accept\n{text}"
    );
}

#[test]
fn frontend_image_change() {
    let p = offline(
        "examples/frontend.yaml",
        image("helloworld", "openshift/hello-openshift:v2"),
        Assumptions::default(),
    );
    println!("{}", format_plan(&p));
    golden("plan-frontend", &format_plan(&p));
}

#[test]
fn recreate_with_hooks() {
    let p = offline(
        "examples/recreate-migration.yaml",
        image("orders", "registry.example/orders:2.5.0"),
        Assumptions::default(),
    );
    golden("plan-recreate-migration", &format_plan(&p));
}

#[test]
fn unready_pods_fail_and_roll_back() {
    let a = Assumptions {
        unready: 5,
        ..Default::default()
    };
    let p = offline(
        "examples/frontend.yaml",
        image("helloworld", "openshift/hello-openshift:broken"),
        a,
    );
    golden("plan-frontend-unready", &format_plan(&p));
}
