//! Shards (issue 32): operators that each serve the namespaces labelled with their shard, and a
//! namespace handed from one to another by relabelling it. The shard names are the test
//! namespaces' own, so no other test's operator or namespace is involved.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

/// Labels `ns` for `shard` (as an administrator moving a team's namespace would); `None`
/// removes the label: back to the operator without `--shard`.
async fn label(ns: &TestNamespace, shard: Option<&str>) {
    Api::<Namespace>::all(admin().await)
        .patch(
            &ns.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"cutover.io/shard": shard}}})),
        )
        .await
        .expect("label the namespace");
}

/// Labels `ns` for `shard`.
async fn assign(ns: &TestNamespace, shard: &str) {
    label(ns, Some(shard)).await;
}

/// Two namespaces, each labelled as a shard of its own name, and each shard's operator.
async fn own_shards(first: &str, second: &str) -> ([TestNamespace; 2], [Operator; 2]) {
    let namespaces = [
        TestNamespace::new(first).await,
        TestNamespace::new(second).await,
    ];
    for ns in &namespaces {
        assign(ns, &ns.name).await;
    }
    let operators = [
        Operator::shard(&namespaces[0].name),
        Operator::shard(&namespaces[1].name),
    ];
    (namespaces, operators)
}

/// Whether revision `rs` exists.
async fn exists(ns: &TestNamespace, rs: &str) -> bool {
    ns.api::<ReplicaSet>()
        .get_opt(rs)
        .await
        .expect("read")
        .is_some()
}

/// `ns` labelled for `shard`, whose operator is not running: the image of `dc` changed then
/// makes no revision 2 (`why`: what one would mean), since no operator serves `ns`.
async fn moved_to_nobody(ns: &TestNamespace, shard: &str, dc: &str, why: &str) {
    assign(ns, shard).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    change_image(ns, dc, "registry.example/app:2").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!exists(ns, &format!("{dc}-2")).await, "{why}");
}

/// A Rolling DeploymentConfig whose every rollout runs a pre hook (one Job per revision).
fn hooked(name: &str) -> String {
    dc_manifest(
        name,
        2,
        "    type: Rolling\n    rollingParams:\n      pre:\n        failurePolicy: Abort\n        execNewPod:\n          containerName: app\n          command: [\"/bin/true\"]",
        "",
    )
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn each_shard_serves_its_namespaces_and_a_relabelled_namespace_is_handed_over() {
    let a = TestNamespace::new("shard-a").await;
    let b = TestNamespace::new("shard-b").await;
    let (one, two) = (a.name.clone(), b.name.clone());
    assign(&a, &one).await;
    assign(&b, &two).await;
    let _one = Operator::shard(&one);

    // Shard one serves a, not b.
    assert!(apply(&a.name, &hooked("web")).await.0);
    assert!(apply(&b.name, &hooked("api")).await.0);
    wait_phase(&a, "web-1", "Complete", 2 * MINUTE).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!exists(&b, "api-1").await, "shard one rolled out b's api");

    // b joins shard one: its objects are listed in and its DeploymentConfig rolls out.
    assign(&b, &one).await;
    wait_phase(&b, "api-1", "Complete", 2 * MINUTE).await;

    // b moves to shard two, whose operator is not running yet: one lets go of it at once, so
    // a change made now waits for shard two (the request is in the object, not lost).
    moved_to_nobody(&b, &two, "api", "shard one acted on a namespace it left").await;

    // Shard two starts and rolls it out, the pre hook once.
    let _two = Operator::shard(&two);
    wait_phase(&b, "api-2", "Complete", 2 * MINUTE).await;
    let for_api_2 = jobs_of(&b, "api-2").await;
    assert_eq!(
        for_api_2.len(),
        1,
        "one pre hook Job for api-2: {for_api_2:?}"
    );
    // Shard one still serves a.
    change_image(&a, "web", "registry.example/app:2").await;
    wait_phase(&a, "web-2", "Complete", 2 * MINUTE).await;

    // Each shard led on a Lease of its own.
    let admin = admin().await;
    for shard in [&one, &two] {
        assert!(
            lease_holder(&admin, &format!("cutover-{shard}"))
                .await
                .is_some(),
            "shard {shard}'s Lease"
        );
    }
    a.cleanup().await;
    b.cleanup().await;
}

/// What crosses namespaces still works across shards: a DeploymentConfig served by one shard
/// follows an ImageStreamTag in a namespace another shard serves (and imports).
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_trigger_follows_a_tag_in_another_shards_namespace() {
    let ([apps, images], _operators) = own_shards("shard-apps", "shard-images").await;

    let first = format!("registry.example/app@sha256:{}", "1a".repeat(32));
    assert!(apply(&images.name, &reference_stream(&first)).await.0);
    let dc = format!(
        "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: app\n          image: \" \"\n  triggers:\n    - type: ImageChange\n      imageChangeParams:\n        automatic: true\n        containerNames: [app]\n        from:\n          kind: ImageStreamTag\n          name: app:v1\n          namespace: {}\n",
        images.name
    );
    assert!(apply(&apps.name, &dc).await.0);
    wait_phase(&apps, "web-1", "Complete", 2 * MINUTE).await;
    assert_eq!(image_of(&apps, "web").await, Some(first));

    // The tag moves in the images' namespace: the apps' shard rolls out the new image.
    let second = format!("registry.example/app@sha256:{}", "2b".repeat(32));
    assert!(apply(&images.name, &reference_stream(&second)).await.0);
    wait_phase(&apps, "web-2", "Complete", 2 * MINUTE).await;
    assert_eq!(image_of(&apps, "web").await, Some(second));
    apps.cleanup().await;
    images.cleanup().await;
}

/// A Route for `host` on Gateway `<gateway_ns>/public`, to Service `web`.
fn route(host: &str, gateway_ns: &str) -> String {
    format!(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata:\n  name: shop\n  annotations:\n    cutover.io/gateway: {gateway_ns}/public\nspec:\n  host: {host}\n  to:\n    kind: Service\n    name: web\n"
    )
}

/// Host claims are cluster-wide whichever shard serves each Route: the older Route keeps its
/// host, and the newer one, in another shard's namespace, is refused (OpenShift's rule).
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_host_held_in_one_shard_is_refused_to_a_newer_route_in_another() {
    let ([older, newer], _operators) = own_shards("shard-older", "shard-newer").await;
    crate::routes::gateway(&older).await;
    let host = format!("{}.apps.test", older.name);
    assert!(apply(&older.name, &route(&host, &older.name)).await.0);
    eventually("the older Route's HTTPRoute", MINUTE, || async {
        let (ok, _, _) = kubectl(&["get", "httproute", "shop", "-n", &older.name]).await;
        ok.then_some(())
    })
    .await;
    // Creation times have whole seconds: the claimant must be strictly newer.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(apply(&newer.name, &route(&host, &older.name)).await.0);
    let refused = eventually("HostAlreadyClaimed", MINUTE, || async {
        let c = crate::dataplane::admitted(&newer.name, "shop").await?;
        (c["reason"] == "HostAlreadyClaimed").then_some(c)
    })
    .await;
    assert_eq!(refused["status"], "False");
    let (ok, _, _) = kubectl(&["get", "httproute", "shop", "-n", &newer.name]).await;
    assert!(!ok, "no HTTPRoute for the refused Route");
    older.cleanup().await;
    newer.cleanup().await;
}

/// The operator without `--shard` serves the namespaces without the label, lets go of one that
/// is labelled, and takes it back when the label goes. Runs alone (`make e2e` runs `alone_`
/// tests after the others): that operator serves every unlabelled namespace in the cluster.
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn alone_the_operator_without_a_shard_serves_the_unlabelled_namespaces() {
    let plain = TestNamespace::new("unsharded").await;
    let sharded = TestNamespace::new("sharded").await;
    let shard = sharded.name.clone();
    assign(&sharded, &shard).await;
    let _unsharded = Operator::unsharded(&format!("e2e-{}", plain.name));

    assert!(apply(&plain.name, &hooked("web")).await.0);
    assert!(apply(&sharded.name, &hooked("api")).await.0);
    wait_phase(&plain, "web-1", "Complete", 2 * MINUTE).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !exists(&sharded, "api-1").await,
        "the operator without a shard rolled out a labelled namespace"
    );
    {
        let _shard = Operator::shard(&shard);
        wait_phase(&sharded, "api-1", "Complete", 2 * MINUTE).await;
    }

    // plain is labelled for the shard, whose operator has stopped: nothing serves it now.
    moved_to_nobody(
        &plain,
        &shard,
        "web",
        "the operator without a shard acted on a namespace labelled for one",
    )
    .await;
    // The label goes: the operator without a shard takes it back and rolls the change out.
    label(&plain, None).await;
    wait_phase(&plain, "web-2", "Complete", 2 * MINUTE).await;
    plain.cleanup().await;
    sharded.cleanup().await;
}

/// A namespace relabelled in the middle of a rollout, both shards' operators running: the
/// rollout goes on under the new shard from where it was, its mid hook's Job made once (the
/// hook pod runs for 8 s: cutover's kwok stage `cutover.io/complete-after`, hack/kwok/).
#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_namespace_relabelled_mid_rollout_finishes_under_the_new_shard_with_its_hook_once() {
    let ([ns, other], _operators) = own_shards("shard-moving", "shard-target").await;
    assert!(
        apply(&ns.name, &dc_manifest("db", 2, "    type: Recreate", ""))
            .await
            .0
    );
    wait_phase(&ns, "db-1", "Complete", 2 * MINUTE).await;
    patch_spec(
        &ns,
        "db",
        json!({
            "strategy": {"type": "Recreate",
                "labels": {"cutover.io/complete-after": "yes"},
                "annotations": {"cutover.io/complete-after": "8s"},
                "recreateParams": {"mid": {"failurePolicy": "Abort",
                    "execNewPod": {"containerName": "app", "command": ["/bin/true"]}}}},
            "template": {"spec": {"containers": [{"name": "app", "image": "registry.example/app:2"}]}}
        }),
    )
    .await;
    let hook_pod = eventually("the mid hook's pod runs", 2 * MINUTE, || async {
        let hooks = ListParams::default().labels("openshift.io/deployer-pod-for.name=db-2");
        let pods = ns
            .api::<k8s_openapi::api::core::v1::Pod>()
            .list(&hooks)
            .await
            .ok()?;
        pods.into_iter().find(is_running)
    })
    .await;

    // Handed over while the hook runs; the new shard scales the revision up after it.
    assign(&ns, &other.name).await;
    wait_phase(&ns, "db-2", "Complete", 2 * MINUTE).await;
    let hook_ran = ns
        .api::<k8s_openapi::api::core::v1::Pod>()
        .get(hook_pod.metadata.name.as_deref().unwrap_or_default())
        .await
        .expect("the hook pod");
    assert_eq!(
        hook_ran.status.and_then(|s| s.phase).as_deref(),
        Some("Succeeded")
    );
    let log = |shard: &str| {
        std::fs::read_to_string(root().join(format!("target/e2e-logs/shard-{shard}.log")))
            .unwrap_or_default()
    };
    let scaled_up = "scale db-2 0->";
    assert!(
        log(&other.name).contains(scaled_up),
        "the new shard finished it"
    );
    assert!(!log(&ns.name).contains(scaled_up), "the old shard let go");
    let for_db_2 = jobs_of(&ns, "db-2").await;
    assert_eq!(for_db_2.len(), 1, "one mid hook Job: {for_db_2:?}");
    ns.cleanup().await;
    other.cleanup().await;
}
