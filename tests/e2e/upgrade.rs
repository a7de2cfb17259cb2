//! An operator upgrade starts nothing (docs/upgrading.md). The previous release (CHANGELOG.md's
//! newest, built by hack/build-release.sh; `make e2e` passes its directory in
//! `CUTOVER_PREVIOUS_RELEASE`) runs a namespace with the features in use until all is settled:
//! hooks (Rolling with pre and post, Recreate with mid), a Custom strategy whose deployer failed, a
//! paused DeploymentConfig with a change waiting, one following an ImageStreamTag, and a Route
//! whose traffic shift succeeded. Then this build takes over. It must write nothing: no revision,
//! pod, hook or deployer Job made or removed, no ReplicaSet, DeploymentConfig, Route, HTTPRoute or
//! ImageStream written at all. And it must be running them: the next change rolls out, its hooks
//! once each.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::common::*;
use crate::routes::gateway;

const MINUTE: Duration = Duration::from_secs(60);

/// The previous release's binaries, or why there are none (then the test says so and skips).
fn previous_release() -> Result<PathBuf, String> {
    let dir = std::env::var("CUTOVER_PREVIOUS_RELEASE").unwrap_or_default();
    if dir.is_empty() {
        return Err(
            "no previous release built (CUTOVER_PREVIOUS_RELEASE is empty: \
                    hack/build-release.sh says why)"
                .into(),
        );
    }
    let binary = PathBuf::from(dir).join("cutover");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("{} is missing", binary.display()))
    }
}

fn hooked() -> String {
    let hook = |phase: &str| {
        format!(
            "      {phase}:\n        failurePolicy: Abort\n        execNewPod:\n          containerName: app\n          command: [\"/bin/sh\", \"-c\", \"echo {phase}\"]\n"
        )
    };
    dc_manifest(
        "hooked",
        2,
        &format!(
            "    type: Rolling\n    rollingParams:\n{}{}",
            hook("pre"),
            hook("post")
        ),
        "",
    )
}

fn migrated() -> String {
    dc_manifest(
        "migrated",
        1,
        "    type: Recreate\n    recreateParams:\n      mid:\n        failurePolicy: Abort\n        execNewPod:\n          containerName: app\n          command: [\"/bin/sh\", \"-c\", \"./migrate up\"]",
        "",
    )
}

/// A Custom strategy whose deployer pod waits for its exit code (hack/kwok/): the test fails it.
fn custom() -> String {
    dc_manifest(
        "custom",
        1,
        "    type: Custom\n    labels:\n      cutover.io/mirror-exit-code: \"true\"\n    customParams:\n      image: registry.example/deployer:1\n      command: [\"/bin/sh\", \"-c\", \"exit 1\"]",
        "",
    )
}

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// A DeploymentConfig following tag app:v1, a reference to an image by digest.
fn followed() -> String {
    format!(
        "{}  triggers:\n    - type: ConfigChange\n    - type: ImageChange\n      imageChangeParams:\n        automatic: true\n        containerNames: [app]\n        from: {{kind: ImageStreamTag, name: \"app:v1\"}}\n",
        dc_manifest("followed", 1, "    type: Rolling", "")
    )
}

fn stream() -> String {
    reference_stream(&format!("registry.example/app@{DIGEST}"))
}

const ROUTE: &str = r#"apiVersion: v1
kind: Service
metadata: {name: blue}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: green}
spec: {ports: [{port: 80}]}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: shop
  annotations:
    cutover.io/traffic-shift: '{"to": "green", "steps": [50, 100], "pause": "1s"}'
spec:
  host: shop.apps.test
  to: {kind: Service, name: blue, weight: 100}
  alternateBackends: [{kind: Service, name: green, weight: 0}]
"#;

/// What the upgrade must leave as it is: each object by kind/name with its uid and
/// resourceVersion (any write changes the latter).
async fn objects(ns: &TestNamespace) -> BTreeMap<String, (String, String)> {
    let mut seen = BTreeMap::new();
    let mut add = |kind: &str, meta: &kube::api::ObjectMeta| {
        seen.insert(
            format!("{kind}/{}", meta.name.clone().unwrap_or_default()),
            (
                meta.uid.clone().unwrap_or_default(),
                meta.resource_version.clone().unwrap_or_default(),
            ),
        );
    };
    let lp = ListParams::default();
    for o in ns.api::<ReplicaSet>().list(&lp).await.expect("list") {
        add("ReplicaSet", o.meta());
    }
    for o in ns.api::<Pod>().list(&lp).await.expect("list") {
        // A pod's status is the kubelet's (kwok's): only its existence is the operator's.
        add(
            "Pod",
            &kube::api::ObjectMeta {
                resource_version: None,
                ..o.metadata
            },
        );
    }
    for o in ns.api::<Job>().list(&lp).await.expect("list") {
        add("Job", o.meta());
    }
    for o in ns.dcs().list(&lp).await.expect("list") {
        add("DeploymentConfig", o.meta());
    }
    for (group, version, kind, plural) in [
        ("route.openshift.io", "v1", "Route", "routes"),
        ("image.openshift.io", "v1", "ImageStream", "imagestreams"),
        ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
    ] {
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(ns.client.clone(), &ns.name, &ar);
        for o in api.list(&lp).await.expect("list") {
            add(kind, &o.metadata);
        }
    }
    seen
}

/// The objects once they stay as they are for a few seconds.
async fn settled(ns: &TestNamespace, what: &str) -> BTreeMap<String, (String, String)> {
    eventually(what, MINUTE, || async {
        let before = objects(ns).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let after = objects(ns).await;
        (before == after).then_some(after)
    })
    .await
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn an_upgraded_operator_takes_over_without_moving_anything() {
    let previous = match previous_release() {
        Ok(binary) => binary,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let ns = TestNamespace::new("upgrade").await;
    let old = Operator::start_from(&previous, &ns.name);
    gateway(&ns).await;

    // Every feature in use, under the previous release.
    roll_out(&ns, &hooked(), "hooked-1").await;
    change_image(&ns, "hooked", "registry.example/app:2").await;
    wait_phase(&ns, "hooked-2", "Complete", MINUTE).await;
    roll_out(&ns, &migrated(), "migrated-1").await;
    roll_out(
        &ns,
        &dc_manifest("paused", 1, "    type: Rolling", ""),
        "paused-1",
    )
    .await;
    patch_spec(&ns, "paused", json!({"paused": true})).await;
    change_image(&ns, "paused", "registry.example/app:2").await;
    // The DeploymentConfig before its stream: 0.1.0 looped writing one created after its tag
    // had resolved (images::a_deployment_config_created_after_its_tag_resolved_rolls_out_once).
    let (ok, out) = apply(&ns.name, &followed()).await;
    assert!(ok, "{out}");
    eventually("followed waits for its image", MINUTE, || async {
        ns.dcs().get("followed").await.ok()?.status.map(|_| ())
    })
    .await;
    let (ok, out) = apply(&ns.name, &stream()).await;
    assert!(ok, "{out}");
    wait_phase(&ns, "followed-1", "Complete", MINUTE).await;
    let (ok, out) = apply(&ns.name, &custom()).await;
    assert!(ok, "{out}");
    let deployer = eventually("the deployer pod runs", MINUTE, || async {
        let pods = ns.api::<Pod>().list(&ListParams::default()).await.ok()?;
        pods.into_iter()
            .find(|p| p.name_any().starts_with("custom-1-deploy") && is_running(p))
    })
    .await;
    end_pod(&ns, &deployer.name_any(), 1).await;
    wait_phase(&ns, "custom-1", "Failed", MINUTE).await;
    let (ok, out) = apply(&ns.name, ROUTE).await;
    assert!(ok, "{out}");
    eventually("the shift succeeded", MINUTE, || async {
        let (_, out, _) = kubectl(&[
            "get",
            "route",
            "shop",
            "-n",
            &ns.name,
            "-o",
            "jsonpath={.status.shift.phase}",
        ])
        .await;
        (out == "Succeeded").then_some(())
    })
    .await;
    let before = settled(&ns, "the previous release to settle").await;
    assert!(
        !before.contains_key("ReplicaSet/paused-2"),
        "paused: no revision 2"
    );

    // The upgrade: SIGTERM releases the Lease, this build takes it.
    assert!(
        old.terminate().await.success(),
        "the previous release stops"
    );
    let mut new = Operator::start(&ns.name);
    let identity = new.identity();
    eventually("this build leads", MINUTE, || async {
        (lease_holder(&ns.client, &Operator::lease(&ns.name)).await? == identity).then_some(())
    })
    .await;
    let after = settled(&ns, "this build to settle").await;
    assert!(new.exited().is_none(), "this build runs");
    let changed: Vec<_> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .chain(
            after
                .keys()
                .filter(|k| !before.contains_key(*k))
                .map(String::as_str),
        )
        .collect();
    assert!(
        changed.is_empty(),
        "the takeover made, removed or wrote {changed:?}"
    );

    // It runs them: the next change rolls out, each hook once.
    change_image(&ns, "hooked", "registry.example/app:3").await;
    wait_phase(&ns, "hooked-3", "Complete", MINUTE).await;
    let jobs = jobs_of(&ns, "hooked-3").await;
    assert_eq!(jobs.len(), 2, "pre and post once each: {jobs:?}");
    ns.cleanup().await;
}
