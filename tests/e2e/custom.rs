//! Deployer Jobs on the real cluster: the Custom strategy, and `customParams` on Rolling running
//! `cutover deploy --until=50%`.
//!
//! kwok runs no containers, so each test runs the deployer Job's command as a local process with
//! exactly the environment of the Job's pod, and, instead of the pod's ServiceAccount token
//! mount, a kubeconfig holding a token of the namespace's `cutover-deployer` ServiceAccount (what
//! the pod would run as): whatever the process does, it does with the deployer's Role, so the
//! RBAC is proven along the way. The pod itself is held Running by cutover's kwok stage
//! (hack/kwok/pod-exit-code-from-annotation.yaml, selected by the label
//! `cutover.io/mirror-exit-code` on strategy.labels); once the local process exits, the test
//! annotates the pod with its exit code and kwok terminates the pod with that code, so the real
//! Job controller marks the Job Complete or Failed and the operator takes it from there.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
use kube::config::Kubeconfig;
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);
const MIRROR: &str = "cutover.io/mirror-exit-code";

fn dc(name: &str, replicas: i32, strategy: &str) -> String {
    format!(
        r#"apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    app: {name}
  strategy:
{strategy}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      nodeSelector:
        type: kwok
      containers:
        - name: app
          image: registry.example/app:1
"#
    )
}

/// What a local run of a deployer printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The deployer Job `job` once its pod runs.
async fn running_deployer(ns: &TestNamespace, job: &str) -> (Job, Pod) {
    eventually(&format!("{job} and its running pod"), MINUTE, || async {
        let j = ns.api::<Job>().get_opt(job).await.ok()??;
        let pods = ns
            .api::<Pod>()
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .ok()?;
        let pod = pods
            .items
            .into_iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))?;
        Some((j, pod))
    })
    .await
}

/// A kubeconfig for the local API server with a token of the namespace's deployer
/// ServiceAccount: the identity the Job's pod would have.
async fn deployer_kubeconfig(ns: &TestNamespace) -> PathBuf {
    let (ok, token, err) = kubectl(&[
        "create",
        "token",
        "cutover-deployer",
        "-n",
        &ns.name,
        "--duration=1h",
    ])
    .await;
    assert!(ok, "a token for cutover-deployer: {err}");
    let admin = Kubeconfig::read_from(root().join(".cluster").join("kubeconfig"))
        .expect("admin kubeconfig");
    let cluster = admin.clusters[0].cluster.clone().expect("cluster");
    let server = cluster.server.expect("server");
    let ca = cluster.certificate_authority_data.expect("CA");
    let dir = root().join("target").join("e2e-manifests");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(format!("{}-deployer.kubeconfig", ns.name));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: deployer\n  user:\n    token: {}\ncontexts:\n- name: deployer\n  context:\n    cluster: local\n    user: deployer\n    namespace: {}\ncurrent-context: deployer\n",
            token.trim(),
            ns.name
        ),
    )
    .expect("write kubeconfig");
    path
}

/// A directory for PATH with `cutover` (the built binary: in the image it is on the PATH too)
/// and `kubectl` (the cluster's, for scripts that scale revisions themselves).
fn tools() -> PathBuf {
    let dir = root().join("target").join("e2e-deployer-bin");
    std::fs::create_dir_all(&dir).expect("dir");
    // The cluster's kubectl binary itself (hack/kubectl finds it through $HOME, which the
    // deployer's environment does not share).
    let versions = root().join("hack").join("versions.sh");
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(". {} && echo \"$CP_BIN/kubectl\"", versions.display()),
        ])
        .output()
        .expect("find the cluster's kubectl");
    let kubectl = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    for (name, target) in [
        ("cutover", PathBuf::from(env!("CARGO_BIN_EXE_cutover"))),
        ("kubectl", kubectl),
    ] {
        let link = dir.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(target, &link).expect("link");
        }
    }
    dir
}

/// Runs the running deployer Job `job`'s container command locally, with the pod's environment
/// and the deployer's identity, then terminates the pod with the process's exit code.
async fn run_deployer_locally(ns: &TestNamespace, job: &str) -> Run {
    let (j, pod) = running_deployer(ns, job).await;
    let spec = j.spec.and_then(|s| s.template.spec).expect("pod spec");
    assert_eq!(
        spec.service_account_name.as_deref(),
        Some("cutover-deployer")
    );
    let container = &spec.containers[0];
    // The image's entrypoint (cutover's image: `cutover`) when the Job sets no command.
    let mut argv: Vec<String> = container
        .command
        .clone()
        .unwrap_or_else(|| vec!["cutover".into()]);
    argv.extend(container.args.clone().unwrap_or_default());
    let program = match argv[0].as_str() {
        "cutover" => env!("CARGO_BIN_EXE_cutover").to_string(),
        other => other.to_string(),
    };
    let kubeconfig = deployer_kubeconfig(ns).await;
    let home = root().join("target").join("e2e-deployer-home");
    std::fs::create_dir_all(&home).expect("home");
    let mut command = tokio::process::Command::new(program);
    command
        .args(&argv[1..])
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                tools().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", &home)
        .env("KUBECONFIG", &kubeconfig);
    for var in container.env.iter().flatten() {
        let value = var
            .value
            .clone()
            .unwrap_or_else(|| panic!("{} comes from valueFrom: not supported here", var.name));
        command.env(&var.name, value);
    }
    let out = command.output().await.expect("run the deployer's command");
    let run = Run {
        code: out.status.code().unwrap_or(128),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // Mirror the exit code into the pod: kwok terminates it with that code.
    end_pod(ns, &pod.name_any(), run.code).await;
    run
}

async fn annotation(ns: &TestNamespace, rs: &str, key: &str) -> Option<String> {
    ns.api::<ReplicaSet>()
        .get(rs)
        .await
        .ok()?
        .annotations()
        .get(key)
        .cloned()
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_custom_strategy_whose_script_scales_the_revision_completes() {
    let ns = TestNamespace::new("custom").await;
    let _op = Operator::start(&ns.name);
    let strategy = format!(
        r#"    type: Custom
    activeDeadlineSeconds: 900
    labels:
      {MIRROR}: "true"
    resources:
      limits:
        memory: 64Mi
    customParams:
      image: registry.example/deployer:1
      command:
        - /bin/sh
        - -c
        - echo "deploying $OPENSHIFT_DEPLOYMENT_NAME"; kubectl scale rs "$OPENSHIFT_DEPLOYMENT_NAME" --replicas=2 -n "$OPENSHIFT_DEPLOYMENT_NAMESPACE" && echo scaled
      environment:
        - name: STAGE
          value: canary"#
    );
    let (ok, out) = apply(&ns.name, &dc("web", 2, &strategy)).await;
    assert!(ok, "{out}");

    let (job, _) = running_deployer(&ns, "web-1-deploy").await;
    // The Job as the spec describes it.
    assert_eq!(job.owner_references()[0].kind, "ReplicaSet");
    assert_eq!(job.owner_references()[0].name, "web-1");
    let spec = job.spec.clone().expect("spec");
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(900));
    let pod = spec.template.spec.clone().expect("pod");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(
        pod.node_selector
            .clone()
            .unwrap_or_default()
            .get("type")
            .map(String::as_str),
        Some("kwok")
    );
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("registry.example/deployer:1"));
    assert_eq!(c.command.as_ref().map(|v| v[0].as_str()), Some("/bin/sh"));
    let env: Vec<(String, String)> = c
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    for (name, value) in [
        ("STAGE", "canary"),
        ("OPENSHIFT_DEPLOYMENT_NAME", "web-1"),
        ("OPENSHIFT_DEPLOYMENT_NAMESPACE", ns.name.as_str()),
        ("CUTOVER_DEPLOYMENT_NAME", "web-1"),
    ] {
        assert!(
            env.contains(&(name.to_string(), value.to_string())),
            "{name}={value} in {env:?}"
        );
    }
    // Pending until the Job reports its pod ready, then Running.
    eventually("web-1 Running", MINUTE, || async {
        (phase(&ns, "web-1").await? == "Running").then_some(())
    })
    .await;

    // The deployer's identity: only what its Role grants, in its own namespace.
    let kubeconfig = deployer_kubeconfig(&ns).await;
    let kc = kubeconfig.to_string_lossy().into_owned();
    for (verb_resource, allowed) in [
        ("patch replicasets.apps/scale", "yes"),
        ("get deploymentconfigs.apps.openshift.io", "yes"),
        ("create jobs.batch", "yes"),
        ("get secrets", "no"),
        ("create deployments.apps", "no"),
        ("delete replicasets.apps", "no"),
        ("update deploymentconfigs.apps.openshift.io", "no"),
    ] {
        let mut args = vec!["--kubeconfig", &kc, "auth", "can-i"];
        args.extend(verb_resource.split(' '));
        let (_, out, _) = kubectl(&args).await;
        assert_eq!(out.trim(), allowed, "can the deployer {verb_resource}?");
    }
    let (_, out, _) = kubectl(&[
        "--kubeconfig",
        &kc,
        "auth",
        "can-i",
        "get",
        "replicasets.apps",
        "-n",
        "default",
    ])
    .await;
    assert_eq!(out.trim(), "no", "nothing outside its namespace");

    let run = run_deployer_locally(&ns, "web-1-deploy").await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("deploying web-1") && run.stdout.contains("scaled"),
        "{}",
        run.stdout
    );
    wait_phase(&ns, "web-1", "Complete", MINUTE).await;
    assert_eq!(rs_replicas(&ns, "web-1").await, Some(2));
    let job = ns.api::<Job>().get("web-1-deploy").await.expect("job kept");
    assert!(
        job.status.and_then(|s| s.succeeded).unwrap_or(0) >= 1,
        "the Job controller saw it succeed"
    );
    ns.cleanup().await;
}

/// The spec's seed: a Rolling DeploymentConfig whose customParams run
/// `cutover deploy --until=50%`, a check, then `cutover deploy`.
fn seed_strategy() -> String {
    format!(
        r#"    type: Rolling
    labels:
      {MIRROR}: "true"
    rollingParams:
      maxSurge: 25%
      maxUnavailable: 25%
      timeoutSeconds: 60
    customParams:
      command:
        - /bin/sh
        - -c
        - cutover deploy --until=50% && echo Halfway there && cutover deploy && echo Complete"#
    )
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn the_seed_script_reaches_half_way_then_completes() {
    let ns = TestNamespace::new("custom-seed").await;
    let _op = Operator::start(&ns.name);
    let (ok, out) = apply(&ns.name, &dc("web", 4, &seed_strategy())).await;
    assert!(ok, "{out}");
    // The first revision goes through its deployer too.
    let run = run_deployer_locally(&ns, "web-1-deploy").await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    wait_phase(&ns, "web-1", "Complete", MINUTE).await;

    // Every scale the revisions go through, as a watch on them records it.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let rs_api = ns.api::<ReplicaSet>();
    let recorder = tokio::spawn(async move {
        use futures::StreamExt;
        use kube::runtime::{WatchStreamExt, watcher};
        let (store, writer) = kube::runtime::reflector::store::<ReplicaSet>();
        let mut stream = Box::pin(
            watcher(rs_api, watcher::Config::default())
                .default_backoff()
                .reflect(writer),
        );
        let mut seen = Vec::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(_) = stream.next() => {
                    let spec = |n: &str| store.state().iter().find(|r| r.name_any() == n).and_then(|r| r.spec.as_ref()?.replicas);
                    seen.push((spec("web-1"), spec("web-2")));
                }
            }
        }
        seen
    });
    patch_spec(
        &ns,
        "web",
        json!({"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/app:2"}]}}}),
    )
    .await;
    let run = run_deployer_locally(&ns, "web-2-deploy").await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    println!("the deployer of web-2 printed:\n{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("{line:?} not in {lines:#?}"))
    };
    // 4 replicas, 1 surge, 1 unavailable: web-2 to 1 and web-1 to 3, then web-2 to 2 once
    // web-1's status shows the pod it let go.
    assert!(at("--> Scaling older deployment web-1 down to 3") < at("--> Scaling web-2 up to 2"));
    assert!(at("--> Scaling web-2 up to 2") < at("--> Reached 50% (currently 50%)"));
    assert!(at("--> Reached 50% (currently 50%)") < at("Halfway there"));
    assert!(at("Halfway there") < at("--> Success"));
    assert!(at("--> Success") < at("Complete"));
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    let _ = stop.send(());
    let seen = recorder.await.expect("recorder");
    assert!(
        seen.iter()
            .any(|(old, new)| *new == Some(2) && old.is_some_and(|o| o >= 2)),
        "half-way: two new replicas while the old revision still ran: {seen:?}"
    );
    assert_eq!(
        (
            rs_replicas(&ns, "web-1").await,
            rs_replicas(&ns, "web-2").await
        ),
        (Some(0), Some(4))
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_deployer_that_fails_rolls_back() {
    let ns = TestNamespace::new("custom-fail").await;
    let _op = Operator::start(&ns.name);
    // The first revision is rolled out by the operator itself (no customParams yet).
    roll_out(
        &ns,
        &dc(
            "web",
            4,
            "    type: Rolling\n    rollingParams:\n      timeoutSeconds: 60",
        ),
        "web-1",
    )
    .await;
    patch_spec(
        &ns,
        "web",
        json!({
            "strategy": {"labels": {MIRROR: "true"}, "customParams": {"command": [
                "/bin/sh", "-c", "cutover deploy --until=50% && echo checks failed && exit 3"]}},
            "template": {"spec": {"containers": [{"name": "app", "image": "registry.example/app:2"}]}}
        }),
    )
    .await;
    let run = run_deployer_locally(&ns, "web-2-deploy").await;
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("--> Reached 50%"), "{}", run.stdout);
    wait_phase(&ns, "web-2", "Failed", MINUTE).await;
    let reason = annotation(&ns, "web-2", "openshift.io/deployment.status-reason")
        .await
        .unwrap_or_default();
    assert!(
        reason.starts_with("deployer Job web-2-deploy failed:"),
        "{reason}"
    );
    // Automatic rollback: the previous revision serves at full scale again.
    eventually("web-1 back at 4 and web-2 at 0", MINUTE, || async {
        let pair = (
            rs_replicas(&ns, "web-1").await?,
            rs_replicas(&ns, "web-2").await?,
        );
        (pair == (4, 0)).then_some(())
    })
    .await;
    eventually("Progressing=ProgressDeadlineExceeded", MINUTE, || async {
        let dc = ns.dcs().get("web").await.ok()?;
        (condition(&dc, "Progressing")?.1 == "ProgressDeadlineExceeded").then_some(())
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn the_custom_strategy_example_rolls_out_through_its_script() {
    let ns = TestNamespace::new("custom-example").await;
    let _op = Operator::start(&ns.name);
    let text =
        std::fs::read_to_string(root().join("examples/custom-strategy.yaml")).expect("example");
    let mut example: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
    // The test's one addition: the label that makes kwok hold the deployer's pod for the local run.
    example["spec"]["strategy"]["labels"] = json!({MIRROR: "true"});
    let (ok, out) = apply(&ns.name, &example.to_string()).await;
    assert!(ok, "{out}");
    let run = run_deployer_locally(&ns, "custom-deployment-1-deploy").await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("{line:?} not in {lines:#?}"))
    };
    assert!(at("--> Reached 50% (currently 50%)") < at("Halfway there"));
    assert!(at("Halfway there") < at("--> Success") && at("--> Success") < at("Complete"));
    wait_phase(&ns, "custom-deployment-1", "Complete", MINUTE).await;
    assert_eq!(rs_replicas(&ns, "custom-deployment-1").await, Some(4));
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn cancel_stops_a_deployer_and_retry_runs_a_new_one() {
    let ns = TestNamespace::new("custom-cancel").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("web", 2, "    type: Rolling"), "web-1").await;
    patch_spec(
        &ns,
        "web",
        json!({
            // No command: the Job runs `cutover deploy` in the operator's image.
            "strategy": {"labels": {MIRROR: "true"}, "customParams": {}},
            "template": {"spec": {"containers": [{"name": "app", "image": "registry.example/app:2"}]}}
        }),
    )
    .await;
    let (job, _) = running_deployer(&ns, "web-2-deploy").await;
    let first_uid = job.uid();

    let (ok, out, err) = dc_plugin(&ns.name, &["rollout", "cancel", "web"]).await;
    assert!(ok, "{out}{err}");
    wait_phase(&ns, "web-2", "Failed", MINUTE).await;
    eventually("the deployer Job deleted", MINUTE, || async {
        let j = ns.api::<Job>().get_opt("web-2-deploy").await.ok()?;
        (j.is_none_or(|j| j.uid() != first_uid)).then_some(())
    })
    .await;
    assert_eq!(
        annotation(&ns, "web-2", "openshift.io/deployment.status-reason")
            .await
            .as_deref(),
        Some("cancelled by the user")
    );
    eventually("web-1 serving again", MINUTE, || async {
        (rs_replicas(&ns, "web-1").await? == 2).then_some(())
    })
    .await;

    // Someone narrows the deployer's Role: the next deployer Job puts its rules back.
    let roles: kube::Api<k8s_openapi::api::rbac::v1::Role> = ns.api();
    roles
        .patch(
            "cutover-deployer",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
            ),
        )
        .await
        .expect("tamper with the Role");

    let (ok, out, err) = dc_plugin(&ns.name, &["rollout", "retry", "web"]).await;
    assert!(ok, "{out}{err}");
    let (job, _) = running_deployer(&ns, "web-2-deploy").await;
    let role = roles.get("cutover-deployer").await.expect("role");
    assert_eq!(
        serde_json::to_value(role.rules).expect("rules"),
        cutover::strategy::deployer::role_rules(),
        "the deployer's Role is restored"
    );
    assert_ne!(job.uid(), first_uid, "a new Job");
    assert_eq!(
        job.annotations()
            .get("cutover.io/attempt")
            .map(String::as_str),
        Some("2")
    );
    let run = run_deployer_locally(&ns, "web-2-deploy").await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.lines().last(),
        Some("--> Success"),
        "{}",
        run.stdout
    );
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    assert_eq!(
        (
            rs_replicas(&ns, "web-1").await,
            rs_replicas(&ns, "web-2").await
        ),
        (Some(0), Some(2))
    );
    ns.cleanup().await;
}
