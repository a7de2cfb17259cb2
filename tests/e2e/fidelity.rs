//! OpenShift's behaviour where a migrating team's rollouts depend on it, on the real cluster: a
//! new pod that never becomes ready does not fail a rollout that kept its bound, the rollout's
//! deadline, a hook that cannot be built under Ignore, pause during a rollout, a foreign
//! ReplicaSet under a revision's name, and revisions released and adopted by label.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

fn dc(name: &str, replicas: i32, strategy: serde_json::Value) -> String {
    manifest(name, replicas, strategy).to_string()
}

fn manifest(name: &str, replicas: i32, strategy: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "apps.openshift.io/v1",
        "kind": "DeploymentConfig",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"app": name},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
            }
        }
    })
}

/// Revision 2's template: its pods repel each other per node, and the cluster has two nodes, so
/// exactly one of three never schedules (and never becomes ready).
fn one_pod_unschedulable(name: &str) -> serde_json::Value {
    json!({"template": {
        "metadata": {"labels": {"app": name, "rev": "2"}},
        "spec": {
            "containers": [{"name": "app", "image": "registry.example/app:2"}],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": name, "rev": "2"}},
                "topologyKey": "kubernetes.io/hostname"
            }]}}
        }
    }})
}

async fn status_of(ns: &TestNamespace, name: &str) -> cutover::api::DeploymentConfigStatus {
    let dc = ns.dcs().get(name).await.expect("dc");
    dc.status.unwrap_or_default()
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn one_never_ready_pod_does_not_fail_rolling_or_recreate() {
    let ns = TestNamespace::new("never-ready").await;
    let _op = Operator::start(&ns.name);
    let rolling = json!({"type": "Rolling", "rollingParams": {"maxSurge": 1, "maxUnavailable": 1, "timeoutSeconds": 15}});
    let recreate = json!({"type": "Recreate", "recreateParams": {"timeoutSeconds": 15}});
    roll_out(&ns, &dc("roll", 3, rolling), "roll-1").await;
    roll_out(&ns, &dc("rec", 3, recreate), "rec-1").await;

    patch_spec(&ns, "roll", one_pod_unschedulable("roll")).await;
    patch_spec(&ns, "rec", one_pod_unschedulable("rec")).await;
    wait_phase(&ns, "roll-2", "Complete", MINUTE).await;
    wait_phase(&ns, "rec-2", "Complete", MINUTE).await;

    // Past timeoutSeconds: still complete, nothing rolled back.
    tokio::time::sleep(Duration::from_secs(17)).await;
    for name in ["roll", "rec"] {
        let (old, new) = (format!("{name}-1"), format!("{name}-2"));
        assert_eq!(
            phase(&ns, &new).await.as_deref(),
            Some("Complete"),
            "{name}"
        );
        assert_eq!(
            (rs_replicas(&ns, &old).await, rs_replicas(&ns, &new).await),
            (Some(0), Some(3)),
            "{name}: the new revision runs, no rollback"
        );
        let dc = ns.dcs().get(name).await.expect("dc");
        let status = dc.status.clone().unwrap_or_default();
        assert_eq!(
            status.available_replicas, 2,
            "{name}: one pod never schedules"
        );
        assert_eq!(
            condition(&dc, "Progressing").map(|c| c.1),
            Some("NewReplicationControllerAvailable".into()),
            "{name}"
        );
        // Rolling tolerates maxUnavailable (1) unavailable pods; Recreate none.
        let available = if name == "roll" { "True" } else { "False" };
        assert_eq!(
            condition(&dc, "Available").map(|c| c.0),
            Some(available.into()),
            "{name}"
        );
    }
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_rollout_still_running_at_active_deadline_seconds_fails_and_rolls_back() {
    let ns = TestNamespace::new("deadline").await;
    let _op = Operator::start(&ns.name);
    // One pod at a time, each available only 5 s after it is ready: four steps take ~20 s,
    // every step progresses within timeoutSeconds, and the whole may take 12 s.
    let strategy = json!({"type": "Rolling", "activeDeadlineSeconds": 12,
        "rollingParams": {"maxSurge": 1, "maxUnavailable": 0, "timeoutSeconds": 10}});
    let mut web = manifest("web", 4, strategy);
    web["spec"]["minReadySeconds"] = json!(5);
    roll_out(&ns, &web.to_string(), "web-1").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    wait_phase(&ns, "web-2", "Failed", MINUTE).await;
    let rs = ns.api::<ReplicaSet>().get("web-2").await.expect("web-2");
    let reason = rs
        .annotations()
        .get(cutover::api::keys::STATUS_REASON_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    assert!(
        reason.contains("exceeded its deadline")
            && reason.contains("strategy.activeDeadlineSeconds (12s)"),
        "{reason}"
    );
    eventually("web-1 back at 4, web-2 at 0", MINUTE, || async {
        (rs_replicas(&ns, "web-1").await == Some(4) && rs_replicas(&ns, "web-2").await == Some(0))
            .then_some(())
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn an_ignore_hook_naming_a_missing_container_warns_and_the_rollout_completes() {
    let ns = TestNamespace::new("hook-container").await;
    let _op = Operator::start(&ns.name);
    let hook = json!({"failurePolicy": "Ignore", "execNewPod": {"containerName": "nope", "command": ["migrate"]}});
    roll_out(
        &ns,
        &dc(
            "web",
            2,
            json!({"type": "Rolling", "rollingParams": {"pre": hook}}),
        ),
        "web-1",
    )
    .await;
    let rs = ns.api::<ReplicaSet>().get("web-1").await.expect("web-1");
    assert_eq!(
        rs.annotations()
            .get("cutover.io/hook-pre")
            .map(String::as_str),
        Some("FailedIgnored")
    );
    // Events are recorded off the reconcile path: the Warning may land just after Complete.
    eventually(
        "a Warning event for the hook that could not be built",
        MINUTE,
        || async {
            let failed = dc_events(&ns, "Failed").await;
            failed
                .into_iter()
                .any(|e| {
                    e.type_.as_deref() == Some("Warning")
                        && e.note.as_deref().is_some_and(|n| {
                            n.contains("no container named 'nope' found in rc template")
                                && n.contains("will continue")
                        })
                })
                .then_some(())
        },
    )
    .await;

    // Admission checks containerName only as OpenShift does: required with several containers.
    let pre = json!({"failurePolicy": "Abort", "execNewPod": {"command": ["migrate"]}});
    let mut two = manifest(
        "two",
        1,
        json!({"type": "Recreate", "recreateParams": {"pre": pre}}),
    );
    two["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "app", "image": "registry.example/app:1"},
        {"name": "side", "image": "registry.example/sidecar:1"}
    ]);
    let (ok, err) = apply(&ns.name, &two.to_string()).await;
    assert!(!ok, "refused at admission");
    assert!(
        err.contains("spec.strategy.recreateParams.pre.execNewPod.containerName: Required value"),
        "{err}"
    );
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_rollout_paused_midway_finishes_and_nothing_new_starts_until_resumed() {
    let ns = TestNamespace::new("pause").await;
    let _op = Operator::start(&ns.name);
    // The mid hook runs 6 s, after the old pods are gone: paused then, Recreate must go on.
    let strategy = json!({"type": "Recreate",
        "labels": {"cutover.io/complete-after": "yes"}, "annotations": {"cutover.io/complete-after": "6s"},
        "recreateParams": {"mid": {"failurePolicy": "Abort", "execNewPod": {"containerName": "app", "command": ["migrate"]}}}});
    roll_out(&ns, &dc("web", 2, strategy), "web-1").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    eventually("the mid hook running, web-1 at 0", MINUTE, || async {
        let job = ns
            .api::<k8s_openapi::api::batch::v1::Job>()
            .get_opt("web-2-hook-mid")
            .await
            .ok()??;
        (rs_replicas(&ns, "web-1").await == Some(0)).then_some(job)
    })
    .await;
    patch_spec(&ns, "web", json!({"paused": true})).await;
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    assert_eq!(
        rs_replicas(&ns, "web-2").await,
        Some(2),
        "not left without pods"
    );

    // While paused a change starts nothing.
    change_image(&ns, "web", "registry.example/app:3").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status_of(&ns, "web").await.latest_version, 2);
    assert!(phase(&ns, "web-3").await.is_none());

    patch_spec(&ns, "web", json!({"paused": false})).await;
    wait_phase(&ns, "web-3", "Complete", MINUTE).await;
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_foreign_replica_set_under_the_next_revisions_name_is_reported_and_left_alone() {
    let ns = TestNamespace::new("foreign").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("web", 2, json!({"type": "Rolling"})), "web-1").await;
    let foreign: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web-2", "labels": {"app": "other"}},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "other"}},
            "template": {"metadata": {"labels": {"app": "other"}},
                "spec": {"containers": [{"name": "other", "image": "other:1"}]}}}
    }))
    .expect("rs");
    let created = ns
        .api::<ReplicaSet>()
        .create(&PostParams::default(), &foreign)
        .await
        .expect("create the foreign ReplicaSet");

    change_image(&ns, "web", "registry.example/app:2").await;
    let dc = eventually("ReplicationControllerCreateError", MINUTE, || async {
        let dc = ns.dcs().get("web").await.ok()?;
        (condition(&dc, "Progressing")
            == Some(("False".into(), "ReplicationControllerCreateError".into())))
        .then_some(dc)
    })
    .await;
    let message = dc
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Progressing"))
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("\"web-2\""), "{message}");
    eventually(
        "a Warning event DeploymentCreationFailed",
        MINUTE,
        || async {
            let events = dc_events(&ns, "DeploymentCreationFailed").await;
            events
                .iter()
                .any(|e| e.type_.as_deref() == Some("Warning"))
                .then_some(())
        },
    )
    .await;
    // Left as it was, and the running revision keeps serving.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // (Its controller writes its status: compare what we could have written.)
    let after = ns.api::<ReplicaSet>().get("web-2").await.expect("web-2");
    assert!(after.owner_references().is_empty(), "not adopted");
    assert_eq!(after.labels(), created.labels(), "labels untouched");
    assert_eq!(
        after.annotations(),
        created.annotations(),
        "annotations untouched"
    );
    assert_eq!(
        after.metadata.generation, created.metadata.generation,
        "spec untouched"
    );
    assert_eq!(rs_replicas(&ns, "web-1").await, Some(2));
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_revision_relabelled_away_is_released_and_relabelled_back_is_adopted() {
    let ns = TestNamespace::new("release").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &dc("web", 1, json!({"type": "Rolling"})), "web-1").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    let uid = ns.dcs().get("web").await.expect("dc").uid();
    let controlled = |rs: &ReplicaSet| {
        rs.owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && Some(&o.uid) == uid.as_ref())
    };
    let relabel = |to: &'static str| {
        let api = ns.api::<ReplicaSet>();
        async move {
            let patch = json!({"metadata": {"labels": {cutover::api::keys::CONFIG_LABEL: to}}});
            api.patch("web-1", &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("relabel web-1");
        }
    };

    relabel("web-detached").await;
    eventually("web-1 released", MINUTE, || async {
        let rs = ns.api::<ReplicaSet>().get("web-1").await.ok()?;
        (!controlled(&rs)).then_some(())
    })
    .await;
    relabel("web").await;
    eventually("web-1 adopted again", MINUTE, || async {
        let rs = ns.api::<ReplicaSet>().get("web-1").await.ok()?;
        controlled(&rs).then_some(())
    })
    .await;
    let web2 = ns.api::<ReplicaSet>().get("web-2").await.expect("web-2");
    assert!(controlled(&web2), "the other revision untouched");
    assert_eq!(rs_replicas(&ns, "web-2").await, Some(1));
    ns.cleanup().await;
}
