//! An operator upgrade over a fleet (issue 32): the previous release (CHANGELOG.md's newest,
//! built by hack/build-release.sh) runs `CUTOVER_UPGRADE_SIZE` DeploymentConfigs (default
//! 1,000, one pod each) until all are settled, then this build takes over. What a user must see:
//! no new revision, no pod made or removed, no Job, and no DeploymentConfig or ReplicaSet
//! written at all. `make bench-fleet` runs it; results go in BENCHMARKS.md.
//!
//! The fleet under the previous release: every DeploymentConfig rolled out twice (a template
//! change after the first rollout); every tenth with a Recreate mid hook (a Job per revision);
//! every tenth (another one) paused with a change waiting. The takeover is measured from the
//! new operator's start: until it has reconciled every DeploymentConfig (its own metrics), and
//! what it wrote in the 30 s after.

#[path = "scale/harness.rs"]
mod harness;
#[path = "scale/measure.rs"]
mod measure;
#[path = "scale/objects.rs"]
mod objects;
#[path = "scale/watch.rs"]
mod watch;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cutover::api::DeploymentConfig;
use harness::{
    client, create_namespaces, delete_namespaces, env_number, on_every_object,
    operator_process_from,
};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use measure::{cpu_seconds, reconcile_quantiles};
use serde_json::json;
use watch::Kind;

const METRICS_ADDR: &str = "127.0.0.1:18097";

/// What each object is, by kind/name: its uid and resourceVersion (a pod: its uid alone, its
/// status is kwok's).
type Snapshot = BTreeMap<String, (String, String)>;

async fn snapshot(admin: &Client, ns: &str) -> Snapshot {
    let mut seen = Snapshot::new();
    for (kind, with_version, objects) in [
        ("ReplicaSet", true, metas::<ReplicaSet>(admin, ns).await),
        ("Job", true, metas::<Job>(admin, ns).await),
        (
            "DeploymentConfig",
            true,
            metas::<DeploymentConfig>(admin, ns).await,
        ),
        ("Pod", false, metas::<Pod>(admin, ns).await),
    ] {
        for meta in objects {
            let version = with_version.then_some(meta.resource_version).flatten();
            seen.insert(
                format!("{kind}/{}", meta.name.unwrap_or_default()),
                (meta.uid.unwrap_or_default(), version.unwrap_or_default()),
            );
        }
    }
    seen
}

/// The metadata of every `K` in `ns`.
async fn metas<K>(admin: &Client, ns: &str) -> Vec<kube::api::ObjectMeta>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let list = Api::<K>::namespaced(admin.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list");
    list.items.into_iter().map(|o| o.meta().clone()).collect()
}

/// The snapshot once it holds still for 5 s.
async fn settled(admin: &Client, ns: &str, timeout: Duration) -> Snapshot {
    let start = Instant::now();
    loop {
        let before = snapshot(admin, ns).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after = snapshot(admin, ns).await;
        if before == after || start.elapsed() > timeout {
            return after;
        }
    }
}

/// How a snapshot moved: (made, removed, written) per kind.
fn moved(before: &Snapshot, after: &Snapshot) -> BTreeMap<String, (usize, usize, usize)> {
    let mut by_kind: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let kind = |key: &str| key.split('/').next().unwrap_or_default().to_string();
    for (key, value) in after {
        let entry = by_kind.entry(kind(key)).or_default();
        match before.get(key) {
            None => entry.0 += 1,
            Some(old) if old.0 != value.0 => entry.0 += 1,
            Some(old) if old != value => entry.2 += 1,
            _ => {}
        }
    }
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        by_kind.entry(kind(key)).or_default().1 += 1;
    }
    by_kind
}

fn manifest(name: &str, i: usize) -> DeploymentConfig {
    let strategy = if i % 10 == 5 {
        json!({"type": "Recreate", "recreateParams": {"mid": {"failurePolicy": "Abort",
            "execNewPod": {"containerName": "app", "command": ["/bin/true"]}}}})
    } else {
        json!({"type": "Rolling"})
    };
    serde_json::from_value(json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"app": "bench", "bench": name},
                 "template": {"metadata": {"labels": {"app": "bench", "bench": name}},
                              "spec": objects::template("app:1")["spec"]},
                 "strategy": strategy}
    }))
    .expect("dc")
}

/// An operator of `binary` for `ns` alone, serving its metrics when `http`.
fn operator(binary: &std::path::Path, ns: &str, http: bool) -> tokio::process::Child {
    let args = ["--namespace", ns, "--leader-elect=false"];
    operator_process_from(binary, &args, http.then_some(METRICS_ADDR))
}

#[tokio::main]
async fn main() {
    let size = env_number("CUTOVER_UPGRADE_SIZE", 1000) as usize;
    let previous = std::env::var("CUTOVER_PREVIOUS_RELEASE").unwrap_or_default();
    let previous = std::path::PathBuf::from(previous).join("cutover");
    if !previous.is_file() {
        println!(
            "no previous release (CUTOVER_PREVIOUS_RELEASE=$(hack/build-release.sh)): skipped"
        );
        return;
    }
    let admin = client("kubeconfig").await;
    let ns = format!("upgrade-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    create_namespaces(&namespaces, &[&ns]).await;
    let dcs: Api<DeploymentConfig> = Api::namespaced(admin.clone(), &ns);
    let names: Vec<String> = (0..size).map(|i| format!("app{i}")).collect();
    let index = |name: &str| name.trim_start_matches("app").parse::<usize>().unwrap_or(0);

    eprintln!("[upgrade] the previous release runs {size} DeploymentConfigs");
    let mut old = operator(&previous, &ns, false);
    on_every_object(&names, &[Kind::Dc], |_, name| {
        let dcs = dcs.clone();
        async move {
            let dc = manifest(&name, index(&name));
            dcs.create(&PostParams::default(), &dc).await.map(|_| ())
        }
    })
    .await;
    let timeout = Duration::from_secs(600);
    settled(&admin, &ns, timeout).await;
    on_every_object(&names, &[Kind::Dc], |_, name| {
        let dcs = dcs.clone();
        let paused = index(&name) % 10 == 9;
        async move {
            if paused {
                let pause = Patch::Merge(json!({"spec": {"paused": true}}));
                dcs.patch(&name, &PatchParams::default(), &pause).await?;
            }
            let change = Patch::Merge(
                json!({"spec": {"template": {"spec": objects::template("app:2")["spec"]}}}),
            );
            dcs.patch(&name, &PatchParams::default(), &change)
                .await
                .map(|_| ())
        }
    })
    .await;
    let before = settled(&admin, &ns, timeout).await;
    let count = |kind: &str| before.keys().filter(|k| k.starts_with(kind)).count();
    eprintln!(
        "[upgrade] settled: {} revisions, {} Jobs, {} pods",
        count("ReplicaSet/"),
        count("Job/"),
        count("Pod/")
    );

    // The upgrade: the previous release stops (SIGTERM), this build starts.
    if let Some(pid) = old.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = old.wait().await;
    let start = Instant::now();
    let mut new = operator(
        std::path::Path::new(env!("CARGO_BIN_EXE_cutover")),
        &ns,
        true,
    );
    let pid = new.id().expect("pid");
    let reconciled = loop {
        // The third figure: DeploymentConfig reconciles finished.
        if reconcile_quantiles(METRICS_ADDR).await.2 >= size as f64 {
            break Some(start.elapsed().as_secs_f64());
        }
        if start.elapsed() > timeout {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(30)).await;
    let after = snapshot(&admin, &ns).await;
    let cpu = cpu_seconds(pid);
    let _ = new.kill().await;

    println!("\n### An upgrade over {size} DeploymentConfigs (1 pod each)\n");
    println!(
        "Under the previous release: {} revisions, {} hook Jobs, {} pods. This build: every \
         DeploymentConfig reconciled {} after its start; {cpu:.1} CPU-seconds over that and the \
         30 s after.\n",
        count("ReplicaSet/"),
        count("Job/"),
        count("Pod/"),
        reconciled.map_or("never (timeout)".into(), |s| format!("{s:.1} s"))
    );
    println!("| kind | made | removed | written |");
    println!("|---|---:|---:|---:|");
    let changes = moved(&before, &after);
    for kind in ["DeploymentConfig", "ReplicaSet", "Job", "Pod"] {
        let (made, removed, written) = changes.get(kind).copied().unwrap_or_default();
        println!("| {kind} | {made} | {removed} | {written} |");
    }
    delete_namespaces(&namespaces, &[&ns]).await;
}
