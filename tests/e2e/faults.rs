//! Faults a production operator meets: its leader killed mid-rollout, the API server restarted,
//! another writer scaling the ReplicaSets it manages, a SIGTERM. The operators run under their own
//! ServiceAccount with deploy/'s ClusterRole. These run alone (`make e2e` runs them after the
//! others), since one of them restarts the API server under every client.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

/// A Rolling DeploymentConfig (25%/25%) with pre and post hooks and `replicas` pods, under the
/// `TerminationComplete` policy: every pod that exists counts toward maxSurge, so the watchers
/// can hold every pod to the bound (by default, the pods not terminating).
fn hooked_dc(name: &str, replicas: i32) -> String {
    format!(
        r#"apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: {name}
  annotations:
    cutover.io/pod-replacement-policy: TerminationComplete
spec:
  replicas: {replicas}
  minReadySeconds: 1
  selector:
    app: {name}
  strategy:
    type: Rolling
    rollingParams:
      maxSurge: 25%
      maxUnavailable: 25%
      pre:
        failurePolicy: Abort
        execNewPod:
          containerName: app
          command: ["/bin/sh", "-c", "echo pre"]
      post:
        failurePolicy: Abort
        execNewPod:
          containerName: app
          command: ["/bin/sh", "-c", "echo post"]
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: app
          image: registry.example/app:1
"#
    )
}

/// Hooked DeploymentConfigs rolled out once, then given a second revision, each watched for its
/// surge and availability bounds.
struct Rollouts {
    names: Vec<String>,
    watchers: Vec<PodWatcher>,
}

impl Rollouts {
    /// Creates `count` DeploymentConfigs of `replicas` named `<prefix><i>`, waits for their first
    /// revisions, starts the pod watches and changes every image.
    async fn start(ns: &TestNamespace, prefix: &str, count: usize, replicas: i32) -> Self {
        let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
        for name in &names {
            let (ok, out) = apply(&ns.name, &hooked_dc(name, replicas)).await;
            assert!(ok, "{out}");
        }
        for name in &names {
            wait_phase(ns, &format!("{name}-1"), "Complete", 3 * MINUTE).await;
        }
        let mut watchers = Vec::new();
        for name in &names {
            watchers.push(PodWatcher::start(ns, name, &format!("{name}-2")).await);
        }
        for name in &names {
            change_image(ns, name, "registry.example/app:2").await;
        }
        Rollouts { names, watchers }
    }

    /// How many second revisions have pods scheduled (rollouts under way).
    async fn under_way(&self, ns: &TestNamespace) -> usize {
        let mut n = 0;
        for name in &self.names {
            if rs_replicas(ns, &format!("{name}-2")).await.unwrap_or(0) > 0 {
                n += 1;
            }
        }
        n
    }

    /// Waits for every second revision to complete; returns what each pod watch saw.
    async fn finish(self, ns: &TestNamespace) -> Vec<(String, PodWatch)> {
        for name in &self.names {
            wait_phase(ns, &format!("{name}-2"), "Complete", 4 * MINUTE).await;
        }
        let mut seen = Vec::new();
        for (name, watcher) in self.names.into_iter().zip(self.watchers) {
            seen.push((name, watcher.finish().await));
        }
        seen
    }
}

/// Checks that a watch saw at most `max_pods` pods (terminating or not) and at least
/// `min_ready` ready ones.
fn assert_bounds(name: &str, seen: &PodWatch, max_pods: usize, min_ready: usize) {
    assert!(
        seen.max_pods <= max_pods && seen.max_running <= max_pods,
        "{name}: surge bound broken: {seen:#?}"
    );
    assert!(
        seen.min_ready >= min_ready,
        "{name}: availability bound broken: {seen:#?}"
    );
}

/// Every Job ever seen in the namespace, by name: the UIDs that carried that name.
struct JobLedger {
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<BTreeMap<String, BTreeSet<String>>>,
}

impl JobLedger {
    async fn start(ns: &TestNamespace) -> Self {
        let mut stream = Box::pin(watcher(ns.api::<Job>(), watcher::Config::default()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let handle = tokio::spawn(async move {
            let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    ev = stream.next() => match ev {
                        Some(Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job))) => {
                            seen.entry(job.name_any()).or_default().insert(job.uid().unwrap_or_default());
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            seen
        });
        JobLedger { stop, handle }
    }

    async fn finish(self) -> BTreeMap<String, BTreeSet<String>> {
        let _ = self.stop.send(());
        self.handle.await.expect("job ledger")
    }
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn faults_leader_killed_mid_rollouts_the_standby_finishes_them_within_bounds() {
    const DCS: usize = 20;
    let ns = TestNamespace::new("leader").await;
    let lease = Operator::lease(&ns.name);
    let first = Operator::replica(&ns.name, &lease, LEASE_SECONDS);
    let first_id = first.identity();
    eventually("the first replica leads", MINUTE, || async {
        (lease_holder(&ns.client, &lease).await? == first_id).then_some(())
    })
    .await;
    let second = Operator::replica(&ns.name, &lease, LEASE_SECONDS);
    let second_id = second.identity();

    let ledger = JobLedger::start(&ns).await;
    let rollouts = Rollouts::start(&ns, "web", DCS, 4).await;
    // Kill the leader once several rollouts are under way (new pods created, none finished).
    eventually("rollouts under way", MINUTE, || async {
        (rollouts.under_way(&ns).await >= 3).then_some(())
    })
    .await;
    first.kill().await;

    // 4 replicas, 25%/25%: at most 5 pods, at least 3 ready, across the takeover.
    for (name, seen) in rollouts.finish(&ns).await {
        assert_bounds(&name, &seen, 5, 3);
    }
    assert_eq!(
        lease_holder(&ns.client, &lease).await.as_deref(),
        Some(second_id.as_str()),
        "the standby took the lease over"
    );
    let jobs = ledger.finish().await;
    let hooks: Vec<_> = jobs.keys().filter(|n| n.contains("-hook-")).collect();
    assert_eq!(
        hooks.len(),
        DCS * 4,
        "pre and post for two revisions each: {hooks:?}"
    );
    for (name, uids) in &jobs {
        assert_eq!(
            uids.len(),
            1,
            "hook Job {name} was created {} times",
            uids.len()
        );
    }
    drop(second);
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn faults_api_server_restarted_mid_rollouts_the_operator_reconnects_and_finishes() {
    let ns = TestNamespace::new("apirestart").await;
    // The leader keeps acting through an outage shorter than its renew deadline (two thirds of
    // the lease: 20 s here, 10 s with the default 15 s lease).
    let mut operator = Operator::replica(&ns.name, &Operator::lease(&ns.name), 30);
    let rollouts = Rollouts::start(&ns, "api", 5, 6).await;
    eventually("rollouts under way", MINUTE, || async {
        (rollouts.under_way(&ns).await > 0).then_some(())
    })
    .await;

    let restart = tokio::process::Command::new(root().join("hack").join("cluster.sh"))
        .args(["restart", "kube-apiserver"])
        .output()
        .await
        .expect("run hack/cluster.sh");
    assert!(
        restart.status.success(),
        "{}{}",
        String::from_utf8_lossy(&restart.stdout),
        String::from_utf8_lossy(&restart.stderr)
    );

    // 6 replicas, 25%/25% (surge 2, unavailable 1): at most 8 pods, at least 5 ready, but for
    // the ReplicaSet controller's own repairs. It takes a pod create or delete that failed as not
    // done (kubernetes pkg/controller/replicaset, manageReplicas), so one whose answer the crash
    // lost is made again: a pod too many, deleted later as surplus, or one deleted too many,
    // created again. The Deployment controller's pods meet the same; the watch counts those
    // repairs and excuses them one for one, never what the operator asked for. (The watch
    // reconnects too, so the bounds hold across the outage as far as it saw.)
    for (name, seen) in rollouts.finish(&ns).await {
        let max_pods = 8 + seen.new_pods_gone;
        let min_ready = 5usize.saturating_sub(seen.old_pods_added);
        assert_bounds(&name, &seen, max_pods, min_ready);
    }
    assert_eq!(operator.exited(), None, "the operator rode out the restart");
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn faults_another_writer_scaling_a_revision_loses_no_update() {
    let ns = TestNamespace::new("conflict").await;
    let _op = Operator::start(&ns.name);
    roll_out(&ns, &hooked_dc("web", 6), "web-1").await;
    change_image(&ns, "web", "registry.example/app:2").await;
    eventually("web-2 created", MINUTE, || async {
        rs_replicas(&ns, "web-2").await.map(|_| ())
    })
    .await;

    // A second writer, like a misconfigured autoscaler, scales web-2 through the scale
    // subresource and annotates it, while the operator rolls it out.
    let rs: Api<ReplicaSet> = ns.api();
    let mut writes = 0;
    for i in 0..30 {
        let _ = rs
            .patch_scale(
                "web-2",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": (i * 7) % 11}})),
            )
            .await;
        let touched = rs
            .patch(
                "web-2",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"example.com/touched": i.to_string()}}}),
                ),
            )
            .await;
        if touched.is_ok() {
            writes = i;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    wait_phase(&ns, "web-2", "Complete", 3 * MINUTE).await;
    // The operator's own writes and the other writer's both survive: the revision is Complete at
    // the DeploymentConfig's scale, the old one is empty, and the foreign annotation is intact.
    eventually("web-2 back at 6 replicas, web-1 at 0", MINUTE, || async {
        (rs_replicas(&ns, "web-2").await? == 6 && rs_replicas(&ns, "web-1").await? == 0)
            .then_some(())
    })
    .await;
    let web2 = rs.get("web-2").await.expect("web-2");
    assert_eq!(
        web2.annotations().get("example.com/touched"),
        Some(&writes.to_string())
    );
    assert_eq!(phase(&ns, "web-2").await.as_deref(), Some("Complete"));
    let dc = ns.dcs().get("web").await.expect("dc");
    let status = dc.status.expect("status");
    assert_eq!(status.latest_version, 2);
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn faults_sigterm_releases_the_lease_and_the_standby_takes_over() {
    let ns = TestNamespace::new("sigterm").await;
    let lease = Operator::lease(&ns.name);
    let first = Operator::replica(&ns.name, &lease, LEASE_SECONDS);
    let first_id = first.identity();
    eventually("the first replica leads", MINUTE, || async {
        (lease_holder(&ns.client, &lease).await? == first_id).then_some(())
    })
    .await;
    let second = Operator::replica(&ns.name, &lease, LEASE_SECONDS);
    let second_id = second.identity();
    roll_out(&ns, &hooked_dc("web", 2), "web-1").await;

    let status = first.terminate().await;
    assert!(status.success(), "graceful exit: {status:?}");
    // Released: no holder, or already the standby.
    let holder = lease_holder(&ns.client, &lease).await;
    assert!(
        holder.is_none() || holder.as_deref() == Some(second_id.as_str()),
        "lease still held by {holder:?} after the leader's exit"
    );
    eventually("the standby leads", MINUTE, || async {
        (lease_holder(&ns.client, &lease).await? == second_id).then_some(())
    })
    .await;
    change_image(&ns, "web", "registry.example/app:2").await;
    wait_phase(&ns, "web-2", "Complete", 2 * MINUTE).await;
    drop(second);
    ns.cleanup().await;
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn faults_the_operators_installed_cluster_role_grants_no_wildcard() {
    // Every operator in these tests runs as this ServiceAccount, bound to this ClusterRole.
    let (ok, out, err) = kubectl(&["get", "clusterrole", "cutover", "-o", "json"]).await;
    assert!(ok, "{err}");
    let role: serde_json::Value = serde_json::from_str(&out).expect("json");
    let rules = role["rules"].as_array().expect("rules");
    assert!(rules.len() > 5, "{rules:?}");
    for rule in rules {
        for field in ["apiGroups", "resources", "verbs"] {
            for v in rule[field].as_array().unwrap_or(&Vec::new()) {
                assert!(!v.as_str().unwrap_or("*").contains('*'), "wildcard: {rule}");
            }
        }
    }
    let (ok, out, _) = kubectl(&[
        "auth",
        "can-i",
        "--list",
        "--as=system:serviceaccount:cutover-system:cutover",
    ])
    .await;
    assert!(ok);
    assert!(
        !out.lines().any(|l| l.starts_with("*.*")),
        "the operator can do anything:\n{out}"
    );
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn faults_a_replica_cannot_apply_itself_into_a_lease_another_holds() {
    // Replicas that start together (a fresh install, a rolling update of the operator) find
    // the Lease free, and each takes it by a server-side apply of its identity. The second
    // apply must be refused, not win: one apply after another's is the race, made certain.
    use cutover::leader::{LeaseConfig, acquire, field_manager};
    use k8s_openapi::api::coordination::v1::Lease;
    let ns = TestNamespace::new("lease-race").await;
    let lease = Operator::lease(&ns.name);
    let held = acquire(
        ns.client.clone(),
        LeaseConfig {
            namespace: "cutover-system".into(),
            name: lease.clone(),
            identity: "a".into(),
            duration: Duration::from_secs(30),
        },
    )
    .await
    .expect("the first replica leads");
    let leases: Api<Lease> = Api::namespaced(ns.client.clone(), "cutover-system");
    let second = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "spec": {"holderIdentity": "b", "leaseDurationSeconds": 30},
    });
    let taken = leases
        .patch(
            &lease,
            &PatchParams::apply(&field_manager("b")),
            &Patch::Apply(&second),
        )
        .await;
    assert!(
        matches!(&taken, Err(kube::Error::Api(e)) if e.code == 409),
        "the second replica's apply was not refused: {:?}",
        taken.map(|l| l.spec.and_then(|s| s.holder_identity))
    );
    assert_eq!(lease_holder(&ns.client, &lease).await.as_deref(), Some("a"));
    held.release().await;
    let _ = leases.delete(&lease, &Default::default()).await;
    ns.cleanup().await;
}
