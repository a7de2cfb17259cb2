//! The operator's own image on the real node (hack/operator-image.sh builds it from this
//! checkout): a deployer script runs `openshift-deploy` in it against the API server as the
//! namespace's `cutover-deployer`, and the operator itself runs from deploy/20-deployment.yaml,
//! elects a leader among its two replicas, rolls out, and hands over when its leader goes.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use serde_json::{Value, json};

use super::*;

const ROLLOUT: Duration = Duration::from_secs(180);

/// The real node and the operator's image on it, or `None` after printing why the test is
/// skipped.
fn node_and_image_or_skip() -> Option<(RealNode, String)> {
    let node = node_or_skip()?;
    match &node.operator_image {
        Ok(image) => {
            let image = image.clone();
            Some((node, image))
        }
        Err(reason) => {
            eprintln!("skipped: no operator image: {reason}");
            None
        }
    }
}

/// The Job's pod ran on the real node and exited 0.
async fn ran_for_real(ns: &TestNamespace, node: &RealNode, job: &str) {
    let done = ns
        .api::<Job>()
        .get(job)
        .await
        .ok()
        .and_then(|j| j.status?.succeeded);
    assert_eq!(done, Some(1), "{job} succeeded");
    let pod = pod_of_job(ns, job).await.expect("the Job's pod");
    assert_eq!(
        pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some(node.node.as_str()),
        "{job} ran on the real node"
    );
    assert_eq!(terminated(&pod).map(|t| t.0), Some(0), "{job}'s exit code");
}

#[tokio::test]
#[ignore = "needs the local cluster (make test)"]
async fn a_deployer_script_runs_openshift_deploy_in_the_operator_image() {
    let Some((node, image)) = node_and_image_or_skip() else {
        return;
    };
    let ns = TestNamespace::new("real-deployer").await;
    let _op = Operator::start(&ns.name);
    // OpenShift's documented deployer script, in the image that carries `openshift-deploy`.
    let strategy = format!(
        r#"    type: Rolling
    rollingParams: {{maxSurge: 1, maxUnavailable: 0, timeoutSeconds: 120}}
    customParams:
      image: {image}
      command:
        - /bin/sh
        - -c
        - openshift-deploy --until=50% && echo Halfway there && openshift-deploy
"#
    );
    let (ok, out) = apply(
        &ns.name,
        &app_dc(&node, "web", 4, "v1", &strategy, "", None),
    )
    .await;
    assert!(ok, "{out}");
    wait_phase(&ns, "web-1", "Complete", ROLLOUT).await;
    let (ok, out) = apply(
        &ns.name,
        &app_dc(&node, "web", 4, "v2", &strategy, "", None),
    )
    .await;
    assert!(ok, "{out}");
    wait_phase(&ns, "web-2", "Complete", ROLLOUT).await;

    ran_for_real(&ns, &node, "web-2-deploy").await;
    let (ok, logs, err) = dc_plugin(&ns.name, &["logs", "web", "--version=2"]).await;
    assert!(ok, "kubectl dc logs: {err}");
    let halfway = logs.find("Halfway there").expect("the script's own line");
    let reached = logs
        .find("Reached 50%")
        .expect("the first run's stop point");
    assert!(
        reached < halfway,
        "stopped at 50% before the script went on: {logs}"
    );
    assert!(logs.contains("--> Success"), "{logs}");
    let pods = pods_of(&ns, "web-2").await;
    assert!(
        pods.len() == 4 && pods.iter().all(is_ready),
        "4 Ready v2 pods: {}",
        pods.len()
    );
    assert_eq!(rs_replicas(&ns, "web-1").await, Some(0));
    ns.cleanup().await;
}

/// deploy/20-deployment.yaml as a user applies it, with what a user sets: the image (and the
/// deployer image, kept the same), where it may run, and here the one namespace it watches and
/// a Lease of the test's own.
fn operator_deployment(image: &str, namespace: &str, lease: &str) -> Value {
    let path = root().join("deploy").join("20-deployment.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/20-deployment.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("deploy/20-deployment.yaml");
    let mut deployment = docs
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &mut deployment["spec"]["template"]["spec"];
    pod["nodeSelector"] = json!({"cutover.io/real-node": "true"});
    pod["tolerations"] =
        json!([{"key": "cutover.io/real-node", "operator": "Exists", "effect": "NoSchedule"}]);
    let container = &mut pod["containers"][0];
    container["image"] = json!(image);
    for var in container["env"].as_array_mut().expect("env") {
        if var["name"] == "CUTOVER_DEPLOYER_IMAGE" {
            var["value"] = json!(image);
        }
    }
    let args = container["args"].as_array_mut().expect("args");
    args.push(json!(format!("--namespace={namespace}")));
    args.push(json!(format!("--lease-name={lease}")));
    deployment
}

/// The operator's Deployment and its Lease in cutover-system, deleted when the test ends, even
/// by a panic (kubectl, synchronously: drop cannot await).
struct Installed {
    deployment: String,
    lease: String,
}

impl Drop for Installed {
    fn drop(&mut self) {
        for (kind, name) in [("deployment", &self.deployment), ("lease", &self.lease)] {
            let _ = std::process::Command::new(root().join("hack").join("kubectl"))
                .args(["-n", "cutover-system", "delete", kind, name, "--wait=false"])
                .env("KUBECONFIG", cluster_file("kubeconfig"))
                .output();
        }
    }
}

async fn lease_holder(lease: &str) -> Option<String> {
    Api::<Lease>::namespaced(admin().await, "cutover-system")
        .get_opt(lease)
        .await
        .ok()??
        .spec?
        .holder_identity
}

#[tokio::test]
#[ignore = "needs the local cluster (make test)"]
async fn the_operator_runs_from_its_image_as_deploy_describes_it_and_hands_over() {
    let Some((node, image)) = node_and_image_or_skip() else {
        return;
    };
    let ns = TestNamespace::new("real-operator").await;
    let lease = format!("e2e-{}", ns.name);
    let deployment = operator_deployment(&image, &ns.name, &lease);
    let name = deployment["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let (ok, out) = apply("cutover-system", &deployment.to_string()).await;
    assert!(ok, "{out}");
    let installed = Installed {
        deployment: name.clone(),
        lease: lease.clone(),
    };
    let deployments = Api::<Deployment>::namespaced(ns.client.clone(), "cutover-system");
    let operator_pods = Api::<Pod>::namespaced(ns.client.clone(), "cutover-system");
    let selector = "app.kubernetes.io/name=cutover";

    // Both replicas Ready through their own /readyz; one of them leads.
    eventually("the operator's 2 replicas available", ROLLOUT, || async {
        let d = deployments.get(&name).await.ok()?;
        (d.status?.available_replicas == Some(2)).then_some(())
    })
    .await;
    let pods = operator_pods
        .list(&ListParams::default().labels(selector))
        .await
        .expect("operator pods")
        .items;
    let pods: Vec<Pod> = pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let names: Vec<String> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    for pod in &pods {
        assert_eq!(
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(node.node.as_str())
        );
    }
    let leader = eventually("a replica leads", Duration::from_secs(60), || async {
        lease_holder(&lease).await.filter(|h| names.contains(h))
    })
    .await;

    // It rolls out: on its own (Rolling) and through a deployer Job of its own image (customParams
    // without an image: `cutover deploy` in CUTOVER_DEPLOYER_IMAGE).
    let rolling = "    type: Rolling\n";
    let (ok, out) = apply(&ns.name, &app_dc(&node, "api", 2, "v1", rolling, "", None)).await;
    assert!(ok, "{out}");
    let custom = "    type: Rolling\n    customParams: {}\n";
    let (ok, out) = apply(&ns.name, &app_dc(&node, "jobs", 1, "v1", custom, "", None)).await;
    assert!(ok, "{out}");
    wait_phase(&ns, "api-1", "Complete", ROLLOUT).await;
    wait_phase(&ns, "jobs-1", "Complete", ROLLOUT).await;
    ran_for_real(&ns, &node, "jobs-1-deploy").await;
    let job = ns.api::<Job>().get("jobs-1-deploy").await.expect("job");
    let deployer_image = job
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers.into_iter().next())
        .and_then(|c| c.image);
    assert_eq!(deployer_image.as_deref(), Some(image.as_str()));

    // The leader goes (as a drain would take it) and releases the Lease on SIGTERM: another
    // replica leads — the standby, or the leader's replacement when it starts first — and rolls
    // out.
    operator_pods
        .delete(&leader, &DeleteParams::default())
        .await
        .expect("delete the leader");
    let deleted = std::time::Instant::now();
    let next = eventually("another replica leads", Duration::from_secs(60), || async {
        let holder = lease_holder(&lease).await.filter(|h| h != &leader)?;
        let pod = operator_pods.get_opt(&holder).await.ok()??;
        pod.metadata.deletion_timestamp.is_none().then_some(holder)
    })
    .await;
    eprintln!(
        "leader {leader} deleted; {next} leads after {:.1}s",
        deleted.elapsed().as_secs_f64()
    );
    let (ok, out) = apply(&ns.name, &app_dc(&node, "api", 2, "v2", rolling, "", None)).await;
    assert!(ok, "{out}");
    wait_phase(&ns, "api-2", "Complete", ROLLOUT).await;
    let dc = ns.dcs().get("api").await.expect("dc");
    assert_eq!(dc.status.as_ref().map(|s| s.latest_version), Some(2));

    drop(installed);
    ns.cleanup().await;
}
