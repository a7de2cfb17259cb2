//! Deployer Jobs in the planner, against the simulated cluster: the Custom strategy's Job (its
//! spec, success, failure and rollback, the stuck-in-New timeout, cancel and retry), and the
//! operator keeping its hands off the revisions while a deployer runs.

use crate::sim::{Deployer, World, dc};
use cutover::api::*;
use cutover::strategy::Action;
use k8s_openapi::api::core::v1::EnvVar;
use serde_json::{Value, json};

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn custom_strategy() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Custom".into()),
        custom_params: Some(CustomDeploymentStrategyParams {
            image: Some("registry.example/deployer:7".into()),
            command: Some(vec!["/bin/sh".into(), "-c".into(), "./deploy.sh".into()]),
            environment: Some(vec![
                env("STAGE", "canary"),
                env("OPENSHIFT_DEPLOYMENT_NAME", "mine"),
            ]),
        }),
        resources: Some(
            serde_json::from_value(json!({"limits": {"cpu": "200m", "memory": "64Mi"}}))
                .expect("resources"),
        ),
        labels: Some([("team".to_string(), "web".to_string())].into()),
        annotations: Some([("note".to_string(), "from the strategy".to_string())].into()),
        active_deadline_seconds: Some(900),
        ..Default::default()
    }
}

/// A template with the pod-level fields the deployer copies (node selector, tolerations, pull
/// secrets) and one it does not (the service account).
fn template(image: &str) -> PodTemplate {
    PodTemplate(json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "containers": [{"name": "app", "image": image}],
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            "imagePullSecrets": [{"name": "registry"}],
            "serviceAccountName": "app"
        }
    }))
}

fn world(strategy: DeploymentStrategy, replicas: i32) -> World {
    World::new(dc(DeploymentConfigSpec {
        replicas,
        template: template("app:1"),
        strategy,
        ..Default::default()
    }))
}

fn deployer_manifest(w: &World, name: &str) -> Value {
    w.sim_job(name)
        .unwrap_or_else(|| panic!("no Job {name}"))
        .manifest
        .clone()
}

/// What a Custom script does: scales the new revision to its target itself.
fn script_scales(w: &mut World, version: i64, to: i32) {
    let rs = w
        .rss
        .iter_mut()
        .find(|r| World::version_of(r) == version)
        .expect("revision");
    rs.spec = to;
    rs.generation += 1;
    rs.changed_at = w.now;
}

fn operator_scaled(w: &World, name: &str) -> bool {
    w.decisions.iter().any(|d| {
        d.actions
            .iter()
            .any(|a| matches!(a, Action::Update(u) if u.name == name && u.scale.is_some()))
    })
}

#[test]
fn the_deployer_job_is_built_as_the_spec_says() {
    let mut w = world(custom_strategy(), 2);
    w.reconcile();
    w.step();
    let job = deployer_manifest(&w, "web-1-deploy");
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    assert_eq!(job["metadata"]["ownerReferences"][0]["name"], "web-1");
    assert_eq!(
        job["metadata"]["labels"]["openshift.io/deployer-pod-for.name"],
        "web-1"
    );
    assert_eq!(job["metadata"]["labels"]["team"], "web");
    assert_eq!(
        job["metadata"]["annotations"]["openshift.io/deployment.name"],
        "web-1"
    );
    assert_eq!(job["metadata"]["annotations"]["note"], "from the strategy");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 900);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "cutover-deployer");
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["activeDeadlineSeconds"], 900);
    assert_eq!(pod["terminationGracePeriodSeconds"], 10);
    assert_eq!(pod["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "registry"}]));
    assert_eq!(job["spec"]["template"]["metadata"]["labels"]["team"], "web");
    let c = &pod["containers"][0];
    assert_eq!(c["name"], "deployment");
    assert_eq!(c["image"], "registry.example/deployer:7");
    assert_eq!(c["command"], json!(["/bin/sh", "-c", "./deploy.sh"]));
    assert!(c.get("args").is_none());
    assert_eq!(c["resources"]["limits"]["cpu"], "200m");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    let env: Vec<(String, String)> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        env,
        pairs(&[
            ("STAGE", "canary"),
            ("OPENSHIFT_DEPLOYMENT_NAME", "web-1"),
            ("CUTOVER_DEPLOYMENT_NAME", "web-1"),
            ("OPENSHIFT_DEPLOYMENT_NAMESPACE", "ns"),
            ("CUTOVER_DEPLOYMENT_NAMESPACE", "ns"),
        ]),
        "the user's environment, then the deployment's (which wins)"
    );
    // The identity it runs as is created with it.
    let access = w
        .decisions
        .iter()
        .flat_map(|d| &d.actions)
        .find_map(|a| match a {
            Action::CreateDeployerJob { access, .. } => Some(access.clone()),
            _ => None,
        })
        .expect("created");
    let kinds: Vec<&str> = access.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding"]);
    assert_eq!(access[2]["subjects"][0]["name"], "cutover-deployer");
}

#[test]
fn without_an_image_the_operators_own_runs_cutover_deploy() {
    let mut w = world(
        DeploymentStrategy {
            custom_params: Some(Default::default()),
            ..Default::default()
        },
        1,
    );
    w.reconcile();
    w.reconcile();
    let c =
        deployer_manifest(&w, "web-1-deploy")["spec"]["template"]["spec"]["containers"][0].clone();
    assert_eq!(c["image"], "registry.example/cutover:test");
    assert_eq!(c["args"], json!(["deploy"]));
    assert!(c.get("command").is_none());

    // The user's image without a command: its own entrypoint.
    let mut w = world(
        DeploymentStrategy {
            custom_params: Some(CustomDeploymentStrategyParams {
                image: Some("registry.example/mine:1".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        1,
    );
    w.reconcile();
    w.reconcile();
    let c =
        deployer_manifest(&w, "web-1-deploy")["spec"]["template"]["spec"]["containers"][0].clone();
    assert!(c.get("args").is_none() && c.get("command").is_none());
}

#[test]
fn a_custom_script_that_scales_the_revision_completes_it() {
    let mut w = world(custom_strategy(), 3);
    w.reconcile();
    w.reconcile();
    assert_eq!(w.phase(1).as_deref(), Some("Pending"));
    w.step();
    w.step();
    assert_eq!(w.phase(1).as_deref(), Some("Running"), "its pod runs");
    script_scales(&mut w, 1, 3);
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(
        w.phase(1).as_deref(),
        Some("Running"),
        "the Job decides, not the pods"
    );
    w.exit_job("web-1-deploy", true);
    w.step();
    assert_eq!(w.phase(1).as_deref(), Some("Complete"));
    assert_eq!(w.spec_of(1), Some(3));
    assert!(
        !operator_scaled(&w, "web-1"),
        "the operator never scaled it"
    );
    let dc = w.dc.status.clone().expect("status");
    assert!(
        dc.conditions
            .iter()
            .any(|c| c.type_ == "Progressing" && c.reason == "NewReplicationControllerAvailable")
    );
}

#[test]
fn a_failed_deployer_fails_the_revision_and_the_previous_one_serves_again() {
    let mut w = world(custom_strategy(), 2);
    w.reconcile();
    script_scales(&mut w, 1, 2);
    w.step();
    w.exit_job("web-1-deploy", true);
    w.step();
    assert_eq!(w.phase(1).as_deref(), Some("Complete"));

    w.edit(|s| s.template = template("app:2"));
    w.step();
    w.step();
    assert_eq!(w.phase(2).as_deref(), Some("Running"));
    // The script got half-way: one new pod, one old one gone.
    script_scales(&mut w, 2, 1);
    script_scales(&mut w, 1, 1);
    w.step();
    w.exit_job("web-2-deploy", false);
    for _ in 0..3 {
        w.step();
    }
    assert_eq!(w.phase(2).as_deref(), Some("Failed"));
    let reason = w
        .annotation_of(2, "openshift.io/deployment.status-reason")
        .expect("reason");
    assert!(
        reason.starts_with("deployer Job web-2-deploy failed:"),
        "{reason}"
    );
    assert_eq!(
        (w.spec_of(1), w.spec_of(2)),
        (Some(2), Some(0)),
        "rolled back"
    );
}

#[test]
fn a_revision_whose_deployer_cannot_be_created_fails_at_its_timeout() {
    let mut w = world(custom_strategy(), 1);
    w.refuse_deployer_jobs = true;
    w.reconcile();
    w.reconcile();
    let first = w.decisions.last().expect("decision").clone();
    assert_eq!(w.phase(1).as_deref(), Some("New"));
    let wait = first.requeue_after.expect("a deadline to wake at");
    assert!(wait.as_secs() <= 600 && wait.as_secs() >= 599, "{wait:?}");
    for _ in 0..599 {
        w.step();
    }
    assert_eq!(w.phase(1).as_deref(), Some("New"));
    w.step();
    assert_eq!(w.phase(1).as_deref(), Some("Failed"));
    assert_eq!(
        w.annotation_of(1, "openshift.io/deployment.status-reason")
            .as_deref(),
        Some("unable to create deployer pod")
    );
    let timeout_event = w
        .decisions
        .iter()
        .flat_map(|d| &d.actions)
        .any(|a| matches!(a, Action::Event(e) if e.reason == "RolloutTimeout" && e.warning));
    assert!(timeout_event);
}

#[test]
fn cancel_deletes_the_running_deployer_and_retry_runs_a_new_one() {
    let mut w = world(custom_strategy(), 2);
    w.reconcile();
    script_scales(&mut w, 1, 2);
    w.step();
    w.exit_job("web-1-deploy", true);
    w.step();
    w.edit(|s| s.template = template("app:2"));
    w.step();
    w.step();
    assert!(w.sim_job("web-2-deploy").is_some());
    w.annotate("cutover.io/request-cancel", "c1");
    w.step();
    assert!(
        w.sim_job("web-2-deploy").is_none(),
        "the deployer Job is deleted"
    );
    assert_eq!(w.phase(2).as_deref(), Some("Failed"));
    assert_eq!(
        w.annotation_of(2, "openshift.io/deployment.status-reason")
            .as_deref(),
        Some("cancelled by the user")
    );
    w.step();
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(2), Some(0)));

    w.annotate("cutover.io/request-retry", "r1");
    w.step();
    w.step();
    let job = deployer_manifest(&w, "web-2-deploy");
    assert_eq!(job["metadata"]["annotations"]["cutover.io/attempt"], "2");
    assert_eq!(
        w.annotation_of(2, "cutover.io/attempt").as_deref(),
        Some("2")
    );
    assert_eq!(w.phase(2).as_deref(), Some("Running"));
    assert_eq!(
        w.job_creations
            .iter()
            .filter(|n| n.as_str() == "web-2-deploy")
            .count(),
        2,
        "one Job per attempt"
    );
    script_scales(&mut w, 2, 2);
    w.exit_job("web-2-deploy", true);
    w.step();
    w.step();
    assert_eq!(w.phase(2).as_deref(), Some("Complete"));
    assert_eq!((w.spec_of(1), w.spec_of(2)), (Some(0), Some(2)));
}

#[test]
fn the_operator_never_scales_while_a_deployer_runs_a_rolling_rollout() {
    let mut w = world(
        DeploymentStrategy {
            custom_params: Some(Default::default()),
            ..Default::default()
        },
        4,
    );
    for _ in 0..30 {
        w.step();
    }
    assert_eq!(w.phase(1).as_deref(), Some("Running"));
    assert_eq!(w.spec_of(1), Some(0), "nobody ran the deployer");
    assert!(!operator_scaled(&w, "web-1"));
}

#[test]
fn a_retry_waits_for_the_last_attempts_job_to_be_gone() {
    let mut w = world(custom_strategy(), 1);
    w.reconcile();
    w.reconcile();
    w.step();
    w.exit_job("web-1-deploy", false);
    w.step();
    assert_eq!(w.phase(1).as_deref(), Some("Failed"));
    let old = w
        .sim_job("web-1-deploy")
        .expect("the failed Job is kept")
        .clone();
    w.annotate("cutover.io/request-retry", "r1");
    w.reconcile();
    assert!(w.sim_job("web-1-deploy").is_none(), "retry deletes it");
    // Still there as far as the operator can tell (a cache behind, or deletion in progress).
    w.jobs.push(old);
    let d = w.reconcile();
    assert!(
        d.actions
            .iter()
            .any(|a| matches!(a, Action::DeleteJob { name } if name == "web-1-deploy")),
        "{:?}",
        d.actions
    );
    assert!(
        !d.actions
            .iter()
            .any(|a| matches!(a, Action::CreateDeployerJob { .. })),
        "no new Job beside the old one"
    );
    assert_eq!(w.phase(1).as_deref(), Some("New"));
    w.reconcile();
    let job = deployer_manifest(&w, "web-1-deploy");
    assert_eq!(job["metadata"]["annotations"]["cutover.io/attempt"], "2");
    assert_eq!(w.phase(1).as_deref(), Some("Pending"));
}
