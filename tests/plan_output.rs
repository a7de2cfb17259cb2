//! Rollout plans (`cutover plan`, `kubectl dc rollout plan`): golden output for the examples
//! and the shapes of rollout users meet, and what the plan must say about each.

use cutover::api::DeploymentConfig;
use cutover::cli::format_plan;
use cutover::sim::plan::{self, Assumptions, Change, RolloutPlan};

fn manifest(path: &str) -> DeploymentConfig {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn offline(dc: DeploymentConfig, change: Change, a: Assumptions) -> RolloutPlan {
    let world = plan::from_manifest(dc, &a);
    plan::plan(world, &change, &a).expect("a plan")
}

fn image(container: &str, image: &str) -> Change {
    Change {
        images: vec![(container.into(), image.into())],
        ..Default::default()
    }
}

/// Compares with `tests/golden/<file>`; `CUTOVER_BLESS=1` writes it instead.
fn golden(file: &str, text: &str) {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("CUTOVER_BLESS").is_some() {
        std::fs::write(&path, text).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text, expected,
        "{file}: run with CUTOVER_BLESS=1 to accept\n{text}"
    );
}

#[test]
fn frontend_image_change() {
    let p = offline(
        manifest("examples/frontend.yaml"),
        image("helloworld", "openshift/hello-openshift:v2"),
        Assumptions::default(),
    );
    golden("plan-frontend.txt", &format_plan(&p));
}

#[test]
fn recreate_with_hooks() {
    let p = offline(
        manifest("examples/recreate-migration.yaml"),
        image("orders", "registry.example/orders:2.5.0"),
        Assumptions::default(),
    );
    golden("plan-recreate-migration.txt", &format_plan(&p));
}

#[test]
fn unready_pods_fail_and_roll_back() {
    let a = Assumptions {
        unready: 5,
        ..Default::default()
    };
    let p = offline(
        manifest("examples/frontend.yaml"),
        image("helloworld", "openshift/hello-openshift:broken"),
        a,
    );
    golden("plan-frontend-unready.txt", &format_plan(&p));
}

#[test]
fn an_irreversible_migration_fails_forward() {
    let mut dc = manifest("examples/recreate-migration.yaml");
    dc.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert("cutover.io/irreversible-hooks".into(), "mid".into());
    let a = Assumptions {
        unready: 3,
        ..Default::default()
    };
    let world = plan::from_manifest(dc, &a);
    let p =
        plan::plan(world, &image("orders", "registry.example/orders:2.5.0"), &a).expect("a plan");
    assert_eq!(p.ending.result, "Failed");
    let text = format_plan(&p);
    assert!(
        !text.contains("scale orders-1 0 → 3"),
        "no way back past the migration:\n{text}"
    );
    golden("plan-recreate-migration-irreversible.txt", &text);
}

/// `customParams` without a command of its own: the deployer is `cutover deploy`, whose steps
/// the plan runs too.
#[test]
fn cutover_deploy_in_a_deployer_job_is_planned() {
    let mut dc = manifest("examples/custom-strategy.yaml");
    if let Some(custom) = dc.spec.strategy.custom_params.as_mut() {
        custom.command = None;
    }
    let p = plan::plan(
        plan::from_manifest(dc, &Assumptions::default()),
        &image("app", "registry.example/app:2"),
        &Assumptions::default(),
    )
    .expect("a plan");
    assert_eq!(p.ending.result, "Complete", "{}", format_plan(&p));
    golden("plan-custom-deployer.txt", &format_plan(&p));
}

#[test]
fn a_deployer_with_a_command_of_its_own_is_handed_over() {
    let p = offline(
        manifest("examples/custom-strategy.yaml"),
        image("app", "registry.example/app:2"),
        Assumptions::default(),
    );
    assert_eq!(p.ending.result, "HandedToDeployer");
    assert!(
        p.ending.message.contains("custom-deployment-2-deploy"),
        "{}",
        p.ending.message
    );
}

#[test]
fn json_output_is_stable() {
    let a = Assumptions {
        unready: 1,
        ..Default::default()
    };
    let p = offline(
        manifest("examples/frontend.yaml"),
        image("helloworld", "openshift/hello-openshift:v2"),
        a,
    );
    let json = serde_json::to_string_pretty(&p).expect("json") + "\n";
    golden("plan-frontend-unready-one.json", &json);
}

#[test]
fn without_a_config_change_trigger_an_edit_rolls_nothing_out() {
    let mut dc = manifest("examples/frontend.yaml");
    dc.spec.triggers = Some(Vec::new());
    let p = offline(
        dc,
        image("helloworld", "openshift/hello-openshift:v2"),
        Assumptions::default(),
    );
    assert_eq!(p.ending.result, "NoRollout");
    assert!(
        p.ending.message.contains("rollout latest"),
        "{}",
        p.ending.message
    );
    assert!(p.steps.is_empty(), "{:?}", p.steps);
}

/// `--image` is an image arriving in the trigger's tag: a manual trigger leaves it for `rollout
/// latest`, as the trigger controller does.
#[test]
fn an_image_for_a_manual_trigger_waits_for_rollout_latest() {
    let mut dc = manifest("examples/frontend.yaml");
    for t in dc.spec.triggers.iter_mut().flatten() {
        if let Some(p) = t.image_change_params.as_mut() {
            p.automatic = false;
        }
    }
    let p = offline(
        dc,
        image("helloworld", "openshift/hello-openshift:v2"),
        Assumptions::default(),
    );
    assert_eq!(p.ending.result, "NoRollout");
    assert_eq!(
        p.ending.message,
        "the ImageChange trigger of container \"helloworld\" is not automatic: the new image waits for `kubectl dc rollout latest`"
    );
    assert!(p.steps.is_empty(), "{:?}", p.steps);
}

#[test]
fn a_container_that_does_not_exist_is_an_error() {
    let a = Assumptions::default();
    let world = plan::from_manifest(manifest("examples/frontend.yaml"), &a);
    let err = plan::plan(world, &image("web", "x:2"), &a).expect_err("no container web");
    assert_eq!(
        err.to_string(),
        "deploymentconfig \"frontend\" has no container \"web\" (it has: helloworld)"
    );
}

#[test]
fn a_manifest_of_another_deployment_config_is_an_error() {
    let a = Assumptions::default();
    let world = plan::from_manifest(manifest("examples/frontend.yaml"), &a);
    let change = Change {
        manifest: Some(manifest("examples/recreate-migration.yaml")),
        ..Default::default()
    };
    let err = plan::plan(world, &change, &a).expect_err("another DeploymentConfig");
    assert_eq!(
        err.to_string(),
        "the manifest is deploymentconfig \"orders\", not \"frontend\""
    );
}

/// The live state: a Complete revision, read as the plugin reads it; no change is `rollout
/// latest`, which the planner honours with a new revision of the same template.
#[test]
fn from_the_cluster_rollout_latest_rolls_out_the_same_template() {
    let a = Assumptions::default();
    let ran = plan::from_manifest(manifest("examples/frontend.yaml"), &a);
    let replica_sets: Vec<k8s_openapi::api::apps::v1::ReplicaSet> = ran
        .rss
        .iter()
        .map(|rs| {
            let mut value = rs.manifest.clone();
            value["spec"]["replicas"] = rs.spec.into();
            value["metadata"]["creationTimestamp"] = "2026-12-01T10:00:00Z".into();
            value["status"] = serde_json::json!({
                "replicas": rs.spec, "readyReplicas": rs.spec, "availableReplicas": rs.spec,
                "observedGeneration": 1
            });
            serde_json::from_value(value).expect("a ReplicaSet")
        })
        .collect();
    // Another controller's ReplicaSet with the same labels and a revision's annotations: the
    // operator never counts it, nor does its plan.
    let mut foreign = serde_json::to_value(&replica_sets[0]).expect("json");
    foreign["metadata"]["name"] = "frontend-7".into();
    foreign["metadata"]["annotations"]["openshift.io/deployment-config.latest-version"] =
        "7".into();
    foreign["metadata"]["ownerReferences"] = serde_json::json!([{"apiVersion": "apps/v1",
        "kind": "Deployment", "name": "other", "uid": "someone-else", "controller": true}]);
    let mut replica_sets = replica_sets;
    replica_sets.push(serde_json::from_value(foreign).expect("a ReplicaSet"));
    let now = "2026-12-01T11:00:00Z".parse().expect("time");
    let world = plan::from_cluster(ran.dc.clone(), &replica_sets, &[], now, &a);
    let latest = Change {
        latest: true,
        ..Default::default()
    };
    let p = plan::plan(world, &latest, &a).expect("a plan");
    assert_eq!(p.ending.result, "Complete", "{}", format_plan(&p));
    assert_eq!(
        (p.from.as_deref(), p.to.as_deref()),
        (Some("frontend-1"), Some("frontend-2"))
    );
    let first = &p.steps[0];
    assert_eq!(first.pods, 5, "the live pods count: {first:?}");
    assert_eq!(
        first.available, 4,
        "one old pod goes at once (maxUnavailable 25%)"
    );
}

fn cutover_plan(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("plan")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cutover plan");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command prints the golden plan, and the manual (docs/rollouts.md) shows that very plan.
#[test]
fn cutover_plan_prints_the_plan_the_manual_shows() {
    let (ok, out, err) = cutover_plan(&[
        "-f",
        "examples/frontend.yaml",
        "--image",
        "helloworld=openshift/hello-openshift:v2",
    ]);
    assert!(ok, "{err}");
    golden("plan-frontend.txt", &out);
    let page = "docs/rollouts.md";
    let manual =
        std::fs::read_to_string(format!("{}/{page}", env!("CARGO_MANIFEST_DIR"))).expect(page);
    assert!(
        manual.contains(&out),
        "{page} shows an outdated plan:\n{out}"
    );
}

/// Old and new manifests (with the documents around them): only the DeploymentConfig counts.
#[test]
fn cutover_plan_of_two_manifests() {
    let dir = std::env::temp_dir().join(format!("cutover-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let old = std::fs::read_to_string("examples/frontend.yaml").expect("example");
    let stream = std::fs::read_to_string("examples/hello-openshift.yaml").expect("example");
    let new = old.replace("replicas: 5", "replicas: 2");
    std::fs::write(dir.join("old.yaml"), format!("{stream}\n---\n{old}")).expect("write");
    std::fs::write(dir.join("new.yaml"), &new).expect("write");
    let (old, new) = (dir.join("old.yaml"), dir.join("new.yaml"));
    let (ok, out, err) = cutover_plan(&[
        "-f",
        old.to_str().expect("path"),
        "-f",
        new.to_str().expect("path"),
        "-o",
        "json",
    ]);
    assert!(ok, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json");
    // A replica count alone is no new template: no rollout, the active revision scales down.
    assert_eq!(plan["ending"]["result"], "NoRollout", "{plan:#}");
    assert_eq!(
        plan["steps"][0]["actions"][0], "scale frontend-1 5 → 2",
        "{plan:#}"
    );
    assert_eq!(
        plan["ending"]["message"],
        "no new revision, the pod template is unchanged; serving: frontend-1 (2)"
    );

    let (ok, _, err) = cutover_plan(&["-f", "examples/frontend.yaml", "--image", "web=x:2"]);
    assert!(!ok, "an unknown container fails the command");
    assert_eq!(
        err,
        "cutover plan: deploymentconfig \"frontend\" has no container \"web\" (it has: helloworld)\n"
    );
    let (ok, _, err) = cutover_plan(&["-f", "examples/hello-openshift.yaml"]);
    assert!(!ok);
    assert!(
        err.contains("must hold exactly one DeploymentConfig"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
