//! Rolling and Recreate on the real cluster: the bounds watched over a whole rollout, the
//! canary rule and automatic rollback, supersession, history, paused and test configs, and an
//! operator killed in the middle of a rolling update.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

/// Under `TerminationComplete` every pod that exists counts toward maxSurge, so a pod watcher can
/// hold every pod to the bound (by default, the pods not terminating).
fn strict(dc: String) -> String {
    dc.replacen(
        "metadata:\n",
        "metadata:\n  annotations:\n    cutover.io/pod-replacement-policy: TerminationComplete\n",
        1,
    )
}

const ROLLING_25: &str =
    "    type: Rolling\n    rollingParams:\n      maxSurge: 25%\n      maxUnavailable: 25%";

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn rolling_update_of_ten_stays_within_surge_and_availability() {
    let ns = TestNamespace::new("rolling").await;
    let _op = Operator::start(&ns.name);
    roll_out(
        &ns,
        &strict(dc_manifest("web", 10, ROLLING_25, "")),
        "web-1",
    )
    .await;

    let watch = PodWatcher::start(&ns, "web", "web-2").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    wait_phase(&ns, "web-2", "Complete", 2 * MINUTE).await;
    let seen = watch.finish().await;
    assert!(seen.events > 10, "the watch saw the rollout ({seen:?})");
    assert!(
        seen.max_pods <= 13 && seen.max_running <= 13,
        "never more than 10 + 3 surge pods: {seen:?}"
    );
    assert!(
        seen.min_ready >= 8,
        "never fewer than 10 - 2 available: {seen:?}"
    );

    assert_eq!(rs_replicas(&ns, "web-2").await, Some(10));
    assert_eq!(rs_replicas(&ns, "web-1").await, Some(0));
    let dc = ns.dcs().get("web").await.expect("dc");
    assert_eq!(
        condition(&dc, "Progressing").map(|c| c.1),
        Some("NewReplicationControllerAvailable".into())
    );
    assert_eq!(dc.status.as_ref().map(|s| s.latest_version), Some(2));
    // Every write is recorded under a named field manager (none under `unknown`): the
    // operator's own, the ReplicaSet controller's status, and whoever wrote the spec.
    let rss: Api<ReplicaSet> = ns.api();
    for name in ["web-1", "web-2"] {
        let rs = rss.get(name).await.expect("revision");
        assert_eq!(
            managers(&rs.metadata),
            ["cutover", "kube-controller-manager"],
            "{name}"
        );
    }
    assert!(
        managers(&dc.metadata).contains(&"cutover".to_string()),
        "{:?}",
        managers(&dc.metadata)
    );
    assert!(!managers(&dc.metadata).contains(&"unknown".to_string()));
    ns.cleanup().await;
}

/// The field managers of an object's writes, sorted.
fn managers(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Vec<String> {
    let mut names: Vec<String> = (meta.managed_fields.iter().flatten())
        .filter_map(|m| m.manager.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Issue 29: under the default policy, `maxSurge: 0` never runs more pods that are not
/// terminating than replicas: a new pod starts only once the old ReplicaSet's status shows the
/// pod it let go, which its controller has marked deleted by then.
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn max_surge_zero_never_runs_more_pods_than_replicas() {
    let ns = TestNamespace::new("surge-zero").await;
    let _op = Operator::start(&ns.name);
    let strategy =
        "    type: Rolling\n    rollingParams:\n      maxSurge: 0\n      maxUnavailable: 10%";
    roll_out(&ns, &dc_manifest("web", 4, strategy, ""), "web-1").await;

    let watch = PodWatcher::start(&ns, "web", "web-2").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    wait_phase(&ns, "web-2", "Complete", 2 * MINUTE).await;
    let seen = watch.finish().await;
    assert!(seen.events > 4, "the watch saw the rollout ({seen:?})");
    assert!(
        seen.max_running <= 4,
        "never more than 4 pods not terminating: {seen:?}"
    );
    assert!(
        seen.min_ready >= 3,
        "never fewer than 4 - 1 available: {seen:?}"
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
async fn a_revision_that_never_becomes_ready_fails_and_the_last_good_one_is_restored() {
    let ns = TestNamespace::new("canary").await;
    let _op = Operator::start(&ns.name);
    let strategy = "    type: Rolling\n    rollingParams:\n      timeoutSeconds: 10";
    roll_out(&ns, &dc_manifest("web", 4, strategy, ""), "web-1").await;

    // No node has this label: the new pods stay Pending, never Ready.
    let watch = PodWatcher::start(&ns, "web", "web-2").await;
    patch_spec(
        &ns,
        "web",
        json!({"template": {"spec": {"nodeSelector": {"cutover.io/no-such-node": "true"}}}}),
    )
    .await;
    wait_phase(&ns, "web-2", "Failed", MINUTE).await;
    eventually(
        "revision 1 back at 4 and revision 2 at 0",
        MINUTE,
        || async {
            (rs_replicas(&ns, "web-1").await == Some(4)
                && rs_replicas(&ns, "web-2").await == Some(0))
            .then_some(())
        },
    )
    .await;
    let seen = watch.finish().await;
    assert!(
        seen.min_ready >= 3,
        "availability held during the failed canary: {seen:?}"
    );

    let dc = ns.dcs().get("web").await.expect("dc");
    assert_eq!(
        condition(&dc, "Progressing").map(|c| c.1),
        Some("ProgressDeadlineExceeded".into())
    );
    let rs2 = ns.api::<ReplicaSet>().get("web-2").await.expect("web-2");
    assert_eq!(
        rs2.annotations()
            .get(cutover::api::keys::STATUS_REASON_ANNOTATION)
            .map(String::as_str),
        Some("timed out waiting for any update progress to be made")
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn recreate_never_runs_a_new_pod_beside_an_old_one() {
    let ns = TestNamespace::new("recreate").await;
    let _op = Operator::start(&ns.name);
    roll_out(
        &ns,
        &dc_manifest("web", 3, "    type: Recreate", ""),
        "web-1",
    )
    .await;

    let watch = PodWatcher::start(&ns, "web", "web-2").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    let seen = watch.finish().await;
    assert!(
        !seen.overlap,
        "a web-2 pod existed beside a web-1 pod: {seen:?}"
    );
    assert!(seen.events > 3, "the watch saw the rollout: {seen:?}");
    assert_eq!(
        (
            rs_replicas(&ns, "web-1").await,
            rs_replicas(&ns, "web-2").await
        ),
        (Some(0), Some(3))
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_template_change_mid_rollout_cancels_it_and_the_newest_completes() {
    let ns = TestNamespace::new("supersede").await;
    let _op = Operator::start(&ns.name);
    roll_out(
        &ns,
        &dc_manifest("web", 4, ROLLING_25, "  minReadySeconds: 5"),
        "web-1",
    )
    .await;
    change_image(&ns, "web", "registry.example/app:2").await;
    eventually("web-2 Running", MINUTE, || async {
        (phase(&ns, "web-2").await? == "Running").then_some(())
    })
    .await;
    change_image(&ns, "web", "registry.example/app:3").await;
    wait_phase(&ns, "web-3", "Complete", 2 * MINUTE).await;

    let rs2 = ns.api::<ReplicaSet>().get("web-2").await.expect("web-2");
    let ann = rs2.annotations();
    assert_eq!(
        ann.get("openshift.io/deployment.phase").map(String::as_str),
        Some("Failed")
    );
    assert_eq!(
        ann.get("openshift.io/deployment.cancelled")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        ann.get("openshift.io/deployment.status-reason")
            .map(String::as_str),
        Some("newer deployment was found running")
    );
    assert_eq!(
        (
            rs_replicas(&ns, "web-1").await,
            rs_replicas(&ns, "web-2").await,
            rs_replicas(&ns, "web-3").await
        ),
        (Some(0), Some(0), Some(4))
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn history_keeps_the_limit_of_the_newest_revisions() {
    let ns = TestNamespace::new("history").await;
    let _op = Operator::start(&ns.name);
    let (ok, out) = apply(
        &ns.name,
        &dc_manifest("web", 1, "    type: Rolling", "  revisionHistoryLimit: 3"),
    )
    .await;
    assert!(ok, "{out}");
    wait_phase(&ns, "web-1", "Complete", MINUTE).await;
    for v in 2..=10 {
        change_image(&ns, "web", &format!("registry.example/app:{v}")).await;
        wait_phase(&ns, &format!("web-{v}"), "Complete", MINUTE).await;
    }
    let names = eventually("pruning to 3 old revisions", MINUTE, || async {
        let list = ns
            .api::<ReplicaSet>()
            .list(&ListParams::default())
            .await
            .ok()?;
        let mut names: Vec<String> = list.items.iter().map(|r| r.name_any()).collect();
        names.sort();
        (names.len() == 4).then_some(names)
    })
    .await;
    assert_eq!(names, ["web-10", "web-7", "web-8", "web-9"]);
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn paused_waits_test_scales_down_and_min_ready_delays_complete() {
    let ns = TestNamespace::new("modes").await;
    let _op = Operator::start(&ns.name);
    // Paused: no revision until resumed.
    let (ok, out) = apply(
        &ns.name,
        &dc_manifest("paused", 2, "    type: Rolling", "  paused: true"),
    )
    .await;
    assert!(ok, "{out}");
    // The operator has seen it (status written) and still created nothing.
    eventually("status of the paused config", MINUTE, || async {
        let dc = ns.dcs().get("paused").await.ok()?;
        (dc.status?.observed_generation == dc.metadata.generation?).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        phase(&ns, "paused-1").await,
        None,
        "no revision while paused"
    );
    patch_spec(&ns, "paused", json!({"paused": false})).await;
    wait_phase(&ns, "paused-1", "Complete", MINUTE).await;

    // Test: rolls out, completes, then runs nothing.
    let (ok, out) = apply(
        &ns.name,
        &dc_manifest("tester", 2, "    type: Rolling", "  test: true"),
    )
    .await;
    assert!(ok, "{out}");
    wait_phase(&ns, "tester-1", "Complete", MINUTE).await;
    eventually("the test revision at 0", MINUTE, || async {
        (rs_replicas(&ns, "tester-1").await? == 0).then_some(())
    })
    .await;

    // minReadySeconds: Complete comes at least that long after the rollout starts.
    let start = Instant::now();
    let (ok, out) = apply(
        &ns.name,
        &dc_manifest("slow", 2, "    type: Rolling", "  minReadySeconds: 10"),
    )
    .await;
    assert!(ok, "{out}");
    eventually("slow-1 Running", MINUTE, || async {
        (phase(&ns, "slow-1").await? == "Running").then_some(())
    })
    .await;
    let ready_seen = eventually("slow-1 pods ready", MINUTE, || async {
        let rs = ns.api::<ReplicaSet>().get("slow-1").await.ok()?;
        (rs.status?.ready_replicas? == 2).then(Instant::now)
    })
    .await;
    assert_ne!(
        phase(&ns, "slow-1").await.as_deref(),
        Some("Complete"),
        "not Complete while only Ready"
    );
    wait_phase(&ns, "slow-1", "Complete", MINUTE).await;
    // A pod's Ready time is stored to the second, so the ReplicaSet controller may count up to
    // a second of minReadySeconds before the pod was really Ready.
    assert!(
        start.elapsed() >= Duration::from_secs(9),
        "Complete after {:?}",
        start.elapsed()
    );
    assert!(
        ready_seen.elapsed() >= Duration::from_secs(5),
        "Complete came well after Ready"
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn an_operator_killed_during_a_rolling_update_finishes_it_within_bounds() {
    let ns = TestNamespace::new("killroll").await;
    let op = Operator::start(&ns.name);
    roll_out(
        &ns,
        &strict(dc_manifest("web", 10, ROLLING_25, "  minReadySeconds: 2")),
        "web-1",
    )
    .await;

    let watch = PodWatcher::start(&ns, "web", "web-2").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    eventually("web-2 part-way", MINUTE, || async {
        (rs_replicas(&ns, "web-2").await? >= 3).then_some(())
    })
    .await;
    op.kill().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _op = Operator::start(&ns.name);
    wait_phase(&ns, "web-2", "Complete", 2 * MINUTE).await;
    let seen = watch.finish().await;
    assert!(
        seen.max_pods <= 13 && seen.max_running <= 13,
        "surge bound across the restart: {seen:?}"
    );
    assert!(
        seen.min_ready >= 8,
        "availability bound across the restart: {seen:?}"
    );
    assert_eq!(
        (
            rs_replicas(&ns, "web-1").await,
            rs_replicas(&ns, "web-2").await
        ),
        (Some(0), Some(10))
    );
    let all = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .expect("list");
    assert_eq!(all.items.len(), 2, "no revision created twice");
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn scaling_reaches_the_active_revision_and_orphans_are_adopted() {
    use kube::api::DeleteParams;
    let ns = TestNamespace::new("adopt").await;
    let _op = Operator::start(&ns.name);
    let yaml = dc_manifest("web", 2, "    type: Rolling", "");
    roll_out(&ns, &yaml, "web-1").await;

    // The scale subresource (what `kubectl scale` and an HPA use) reaches the active revision.
    let (ok, _, err) = kubectl(&["scale", "-n", &ns.name, "dc/web", "--replicas=4"]).await;
    assert!(ok, "kubectl scale: {err}");
    eventually("web-1 scaled to 4", MINUTE, || async {
        (rs_replicas(&ns, "web-1").await? == 4).then_some(())
    })
    .await;
    let (ok, selector, err) = kubectl(&[
        "get",
        "-n",
        &ns.name,
        "dc/web",
        "--subresource=scale",
        "-o",
        "jsonpath={.status.selector}",
    ])
    .await;
    assert!(ok, "{err}");
    assert_eq!(selector, "app=web,deploymentconfig=web");

    // Deleted with the orphan policy, the revision stays; a recreated DeploymentConfig adopts it.
    ns.dcs()
        .delete("web", &DeleteParams::orphan())
        .await
        .expect("delete");
    eventually("web-1 orphaned", MINUTE, || async {
        let rs = ns.api::<ReplicaSet>().get("web-1").await.ok()?;
        rs.owner_references().is_empty().then_some(())
    })
    .await;
    eventually("the DeploymentConfig gone", MINUTE, || async {
        ns.dcs().get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
    let (ok, out) = apply(&ns.name, &yaml.replace("replicas: 2", "replicas: 4")).await;
    assert!(ok, "{out}");
    let dc = eventually("web-1 adopted", MINUTE, || async {
        let rs = ns.api::<ReplicaSet>().get("web-1").await.ok()?;
        let dc = ns.dcs().get("web").await.ok()?;
        let owned = rs
            .owner_references()
            .iter()
            .any(|o| Some(&o.uid) == dc.metadata.uid.as_ref() && o.controller == Some(true));
        let status = dc.status.as_ref()?;
        (owned && status.latest_version == 1 && status.replicas == 4).then_some(dc)
    })
    .await;
    assert_eq!(
        condition(&dc, "Available").map(|c| c.0),
        Some("True".into())
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .expect("list");
    assert_eq!(all.items.len(), 1, "adopted, not rolled out again");
    ns.cleanup().await;
}
