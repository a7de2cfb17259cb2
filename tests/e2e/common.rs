//! The e2e harness: the local cluster (`make cluster`), a namespace per test, and the operator
//! run as a real process under its own ServiceAccount (the RBAC from deploy/).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cutover::api::DeploymentConfig;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::process::{Child, Command};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn cluster_file(name: &str) -> PathBuf {
    root().join(".cluster").join(name)
}

/// A client for a kubeconfig in .cluster/ (`kubeconfig`: admin; `operator.kubeconfig`: the
/// operator's ServiceAccount).
pub async fn client_from(file: &str) -> Client {
    let path = cluster_file(file);
    let kubeconfig = Kubeconfig::read_from(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (start the local cluster with `make cluster`)",
            path.display()
        )
    });
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("valid kubeconfig");
    // The tests' own writes carry a name, so `unknown` in managed fields is an operator write.
    cutover::transport::identify(&mut config, "e2e");
    Client::try_from(config).expect("client")
}

pub async fn admin() -> Client {
    client_from("kubeconfig").await
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace of its own for one test, deleted by `cleanup` or, when the test ends without it
/// (a failed assertion), on drop.
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
    /// Set once `cleanup` has deleted everything, so drop does not delete it again.
    cleaned_up: bool,
}

impl TestNamespace {
    pub async fn new(prefix: &str) -> Self {
        let client = admin().await;
        let name = format!(
            "e2e-{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).expect("ns");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        TestNamespace {
            name,
            client,
            cleaned_up: false,
        }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    pub fn dcs(&self) -> Api<DeploymentConfig> {
        self.api()
    }

    pub async fn cleanup(mut self) {
        delete_test_namespace(&self.client, &self.name).await;
        self.cleaned_up = true;
    }
}

/// Deletes a test's namespace and the Lease of its operator (see Operator::start), best-effort.
async fn delete_test_namespace(client: &Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::background())
        .await;
    let _ = Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(
        client.clone(),
        "cutover-system",
    )
    .delete(&Operator::lease(name), &DeleteParams::background())
    .await;
}

impl Drop for TestNamespace {
    /// A test that ended without `cleanup` (it panicked) still deletes its namespace and Lease.
    /// The tests run on a current-thread runtime, which cannot drive requests while drop blocks
    /// it: the deletes run on a thread of their own, with a runtime and a client of its own (the
    /// test's client belongs to the test's runtime), and drop waits for that thread.
    fn drop(&mut self) {
        if self.cleaned_up {
            return;
        }
        let name = std::mem::take(&mut self.name);
        let deletes = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let deleted = async { delete_test_namespace(&admin().await, &name).await };
                let _ = tokio::time::timeout(Duration::from_secs(30), deleted).await;
            });
        });
        let _ = deletes.join();
    }
}

/// This build's operator binary.
fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cutover"))
}

/// The operator, as a process watching one namespace with the operator's own credentials.
pub struct Operator {
    child: Child,
}

/// Lease duration of the tests' operators: takeover after a SIGKILL within ~9 s.
pub const LEASE_SECONDS: u64 = 8;

impl Operator {
    /// The Lease (in `cutover-system`) of the operators `start` and `start_from` run.
    pub fn lease(namespace: &str) -> String {
        format!("e2e-{namespace}")
    }

    /// The operator of one test namespace, leading on a Lease of its own.
    pub fn start(namespace: &str) -> Self {
        Self::replica(namespace, &Self::lease(namespace), LEASE_SECONDS)
    }

    /// One replica of an operator for `namespace` that elects its leader on Lease
    /// `cutover-system/<lease>`: start two with the same lease for a leader and a standby.
    pub fn replica(namespace: &str, lease: &str, lease_seconds: u64) -> Self {
        Self::spawn(ours(), namespace, lease, lease_seconds)
    }

    /// The operator of one test namespace from another build of cutover (`binary`: a past
    /// release's), on the same Lease as `start`'s, so that one takes over from it.
    pub fn start_from(binary: &Path, namespace: &str) -> Self {
        Self::spawn(binary, namespace, &Self::lease(namespace), LEASE_SECONDS)
    }

    /// The operator of shard `shard`: every namespace labelled `cutover.io/shard=<shard>`, on
    /// the Lease `cutover-system/cutover-<shard>` (the default for a shard).
    pub fn shard(shard: &str) -> Self {
        let log = format!("shard-{shard}");
        Self::run(ours(), &log, LEASE_SECONDS, &["--shard", shard])
    }

    /// The operator without `--shard` and without `--namespace`: every namespace without the
    /// shard label, on Lease `cutover-system/<lease>`. Only for tests that run alone (`alone_`):
    /// it serves every other test's namespace too.
    pub fn unsharded(lease: &str) -> Self {
        Self::run(ours(), lease, LEASE_SECONDS, &["--lease-name", lease])
    }

    fn spawn(binary: &Path, namespace: &str, lease: &str, lease_seconds: u64) -> Self {
        let gateway = format!("{namespace}/public");
        let args = [
            "--namespace",
            namespace,
            "--default-gateway",
            &gateway,
            "--lease-name",
            lease,
        ];
        Self::run(binary, namespace, lease_seconds, &args)
    }

    /// `cutover run` with the tests' settings and `args`, its Lease in `cutover-system`,
    /// logging to target/e2e-logs/<log>.log.
    fn run(binary: &Path, log: &str, lease_seconds: u64, args: &[&str]) -> Self {
        let logs = root().join("target").join("e2e-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log_path = logs.join(format!("{log}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        let child = Command::new(binary)
            .args([
                "run",
                // Routes without a host are served on <name>-<namespace>.apps.test.
                "--route-domain",
                "apps.test",
                // The tests' registries serve certificates of the cluster's CA; scheduled
                // imports run every few seconds instead of 15 minutes.
                "--registry-ca",
                &cluster_file("pki/ca.crt").to_string_lossy(),
                "--image-import-interval",
                "3s",
                "--lease-namespace",
                "cutover-system",
                "--lease-duration",
                &lease_seconds.to_string(),
            ])
            .args(args)
            .env("KUBECONFIG", cluster_file("operator.kubeconfig"))
            .env("RUST_LOG", "info,cutover=debug,kube=warn")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("start the operator");
        Operator { child }
    }

    /// Its holder identity in the Lease (host name and process id, as `cutover run` makes it).
    pub fn identity(&self) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), self.child.id().unwrap_or_default())
    }

    /// Whether the process has ended (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then the exit status (graceful shutdown).
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.child.wait().await.expect("wait")
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Ends a kwok pod that waits for its exit code (hack/kwok/, `cutover.io/mirror-exit-code`): kwok
/// terminates it with `code`.
pub async fn end_pod(ns: &TestNamespace, pod: &str, code: i32) {
    use kube::api::{Patch, PatchParams};
    ns.api::<k8s_openapi::api::core::v1::Pod>()
        .patch(
            pod,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {
                "cutover.io/exit-code": code.to_string()
            }}})),
        )
        .await
        .expect("annotate the pod with its exit code");
}

/// Who holds Lease `cutover-system/<lease>` (the test operators' leases live there).
pub async fn lease_holder(client: &Client, lease: &str) -> Option<String> {
    Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), "cutover-system")
        .get_opt(lease)
        .await
        .ok()??
        .spec?
        .holder_identity
}

/// Runs the local cluster's kubectl with the admin kubeconfig; returns (success, stdout, stderr).
pub async fn kubectl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(root().join("hack").join("kubectl"))
        .args(args)
        .env("KUBECONFIG", cluster_file("kubeconfig"))
        .output()
        .await
        .expect("run kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Applies YAML (from a string) into `namespace` with kubectl, as a user would.
pub async fn apply(namespace: &str, yaml: &str) -> (bool, String) {
    let dir = root().join("target").join("e2e-manifests");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join(format!(
        "{namespace}-{}.yaml",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, yaml).expect("write manifest");
    let path = file.to_string_lossy().into_owned();
    let (ok, out, err) = kubectl(&["apply", "--server-side", "-n", namespace, "-f", &path]).await;
    (ok, if ok { out } else { err })
}

/// Polls `probe` until it returns `Some`, failing the test with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A condition of a DeploymentConfig as (status, reason).
pub fn condition(dc: &DeploymentConfig, type_: &str) -> Option<(String, String)> {
    dc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// The phase annotation of revision `rs` (None until it exists).
pub async fn phase(ns: &TestNamespace, rs: &str) -> Option<String> {
    let rs = ns
        .api::<k8s_openapi::api::apps::v1::ReplicaSet>()
        .get_opt(rs)
        .await
        .ok()??;
    rs.metadata
        .annotations?
        .get(cutover::api::keys::PHASE_ANNOTATION)
        .cloned()
}

/// Waits until revision `rs` reaches `want` (Complete or Failed), failing fast on the other.
pub async fn wait_phase(ns: &TestNamespace, rs: &str, want: &str, timeout: Duration) {
    let what = format!("{rs} to be {want}");
    eventually(&what, timeout, || async {
        let p = phase(ns, rs).await?;
        assert!(
            p == want || !matches!(p.as_str(), "Complete" | "Failed"),
            "{rs} ended {p}, expected {want}"
        );
        (p == want).then_some(())
    })
    .await
}

/// Applies a DeploymentConfig and waits until its first revision `revision` is Complete.
pub async fn roll_out(ns: &TestNamespace, yaml: &str, revision: &str) {
    let (ok, out) = apply(&ns.name, yaml).await;
    assert!(ok, "{out}");
    wait_phase(ns, revision, "Complete", Duration::from_secs(60)).await;
}

/// The spec.replicas of a ReplicaSet.
pub async fn rs_replicas(ns: &TestNamespace, rs: &str) -> Option<i32> {
    ns.api::<k8s_openapi::api::apps::v1::ReplicaSet>()
        .get(rs)
        .await
        .ok()?
        .spec?
        .replicas
}

/// The names of the hook and deployer Jobs of revision `rs` (named `<rs>-<hook or deploy>`).
pub async fn jobs_of(ns: &TestNamespace, rs: &str) -> Vec<String> {
    let prefix = format!("{rs}-");
    ns.api::<k8s_openapi::api::batch::v1::Job>()
        .list(&kube::api::ListParams::default())
        .await
        .expect("jobs")
        .items
        .into_iter()
        .filter_map(|j| j.metadata.name)
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Changes the image of the DeploymentConfig's one container `app`: a new revision.
pub async fn change_image(ns: &TestNamespace, name: &str, image: &str) {
    patch_spec(
        ns,
        name,
        serde_json::json!({"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}),
    )
    .await;
}

/// A DeploymentConfig with `replicas` pods, the given strategy block (indented under
/// `strategy:`) and `extra` spec fields.
pub fn dc_manifest(name: &str, replicas: i32, strategy: &str, extra: &str) -> String {
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
{extra}
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

/// Merge-patches a DeploymentConfig's spec as a user would.
pub async fn patch_spec(ns: &TestNamespace, name: &str, spec: serde_json::Value) {
    use kube::api::{Patch, PatchParams};
    ns.dcs()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({ "spec": spec })),
        )
        .await
        .expect("patch the DeploymentConfig");
}

/// What a watch on the pods of a DeploymentConfig saw over a whole rollout: the most pods that
/// existed at once (terminating ones included), the most that were not terminating (what
/// maxSurge bounds under the default policy), the fewest that were Ready, and whether a pod of
/// revision `new` ever existed while one of an older revision did.
#[derive(Debug, Default, Clone)]
pub struct PodWatch {
    pub max_pods: usize,
    pub max_running: usize,
    pub min_ready: usize,
    pub overlap: bool,
    pub events: usize,
    /// The ReplicaSet controller's own repairs: pods of the new revision that went (it only
    /// grows in a rollout, so each was a surplus pod) and pods of older revisions that appeared
    /// after the watch began (they only shrink, so each replaced a pod deleted beyond the spec).
    pub new_pods_gone: usize,
    pub old_pods_added: usize,
    /// The pods when `max_pods` and when `min_ready` were seen, and every change with the time
    /// it was seen, for a failure to explain itself.
    pub at_max_pods: String,
    pub at_max_running: String,
    pub at_min_ready: String,
    pub timeline: Vec<String>,
}

fn pod_revision(pod: &k8s_openapi::api::core::v1::Pod) -> String {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("deployment").cloned())
        .unwrap_or_default()
}

/// Pods as `revision: name(R|T|-)` (Ready, Terminating, neither), sorted.
fn describe_pods<'p>(
    pods: impl IntoIterator<Item = &'p k8s_openapi::api::core::v1::Pod>,
) -> String {
    let mut lines: Vec<String> = pods
        .into_iter()
        .map(|p| {
            let mark = if p.metadata.deletion_timestamp.is_some() {
                'T'
            } else if is_ready(p) {
                'R'
            } else {
                '-'
            };
            let name = p.metadata.name.as_deref().unwrap_or_default();
            format!("{}: {name}({mark})", pod_revision(p))
        })
        .collect();
    lines.sort();
    lines.join(", ")
}

pub struct PodWatcher {
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<PodWatch>,
}

impl PodWatcher {
    /// Starts watching the pods labelled `deploymentconfig=<dc>`; `new_revision` names the
    /// revision whose pods must never coexist with older ones (for Recreate).
    pub async fn start(ns: &TestNamespace, dc: &str, new_revision: &str) -> Self {
        use futures::StreamExt;
        use k8s_openapi::api::core::v1::Pod;
        use kube::runtime::{WatchStreamExt, reflector, watcher};
        use std::collections::BTreeSet;
        let api = ns.api::<Pod>();
        let (reader, writer) = reflector::store::<Pod>();
        let config = watcher::Config::default().labels(&format!("deploymentconfig={dc}"));
        let mut stream = Box::pin(watcher(api, config).default_backoff().reflect(writer));
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let new_revision = new_revision.to_string();
        let store = reader.clone();
        let handle = tokio::spawn(async move {
            let mut seen = PodWatch {
                min_ready: usize::MAX,
                ..Default::default()
            };
            // Pods by name: the older revisions' at the first list, the new revision's ever
            // seen, and the repairs found so far.
            let mut old_at_start: Option<BTreeSet<String>> = None;
            let mut new_seen = BTreeSet::new();
            let (mut new_gone, mut old_added) = (BTreeSet::new(), BTreeSet::new());
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    ev = stream.next() => {
                        let Some(ev) = ev else { break };
                        // Count only once the initial list is whole (the store is swapped in
                        // at InitDone), so a half-filled store never looks like lost pods. A
                        // relist (after the API server restarts) is seen whole too.
                        let changed = match ev {
                            Ok(watcher::Event::InitDone) => "listed".to_string(),
                            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) | Err(_) => continue,
                            Ok(watcher::Event::Apply(p)) => describe_pods([&p]),
                            Ok(watcher::Event::Delete(p)) => format!("deleted {}", p.metadata.name.unwrap_or_default()),
                        };
                        let pods = store.state();
                        let name = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
                        let old_at_start = old_at_start.get_or_insert_with(|| {
                            pods.iter().filter(|p| pod_revision(p) != new_revision).map(|p| name(p)).collect()
                        });
                        let live_new: BTreeSet<String> = pods
                            .iter()
                            .filter(|p| pod_revision(p) == new_revision && p.metadata.deletion_timestamp.is_none())
                            .map(|p| name(p))
                            .collect();
                        new_seen.extend(live_new.iter().cloned());
                        new_gone.extend(new_seen.difference(&live_new).cloned());
                        old_added.extend(
                            pods.iter()
                                .filter(|p| pod_revision(p) != new_revision && !old_at_start.contains(&name(p)))
                                .map(|p| name(p)),
                        );
                        seen.new_pods_gone = new_gone.len();
                        seen.old_pods_added = old_added.len();

                        seen.events += 1;
                        let ready = pods.iter().filter(|p| is_ready(p)).count();
                        seen.timeline.push(format!("{} {changed} {ready}/{}", jiff::Timestamp::now(), pods.len()));
                        if pods.len() > seen.max_pods {
                            seen.max_pods = pods.len();
                            seen.at_max_pods = describe_pods(pods.iter().map(|p| p.as_ref()));
                        }
                        // The watch sees the pods' writes in the order the API server made them,
                        // so this is the most there were at any instant.
                        let running = pods.iter().filter(|p| is_running(p)).count();
                        if running > seen.max_running {
                            seen.max_running = running;
                            seen.at_max_running = describe_pods(pods.iter().map(|p| p.as_ref()));
                        }
                        if ready < seen.min_ready {
                            seen.min_ready = ready;
                            seen.at_min_ready = describe_pods(pods.iter().map(|p| p.as_ref()));
                        }
                        let new = pods.iter().any(|p| pod_revision(p) == new_revision);
                        let old = pods.iter().any(|p| pod_revision(p) != new_revision);
                        seen.overlap |= new && old;
                    }
                }
            }
            seen
        });
        reader.wait_until_ready().await.ok();
        PodWatcher { stop, handle }
    }

    pub async fn finish(self) -> PodWatch {
        let _ = self.stop.send(());
        self.handle.await.expect("pod watch task")
    }
}

/// A pod that is not terminating and not finished: what counts toward maxSurge under the
/// default pod replacement policy (and what a ReplicaSet's status.replicas counts).
pub fn is_running(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

pub fn is_ready(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Runs the built `kubectl-dc` binary with the admin kubeconfig in `namespace`; returns
/// (success, stdout, stderr).
pub async fn dc_plugin(ns: &str, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-dc"))
        .args(["-n", ns, "--kubeconfig"])
        .arg(root().join(".cluster").join("kubeconfig"))
        .args(args)
        .output()
        .await
        .expect("run kubectl-dc");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The DeploymentConfigs' own events with `reason` (the Job controller records "Completed" and
/// "Failed" too).
pub async fn dc_events(
    ns: &TestNamespace,
    reason: &str,
) -> Vec<k8s_openapi::api::events::v1::Event> {
    events_of(ns, "DeploymentConfig", reason).await
}

/// The events about objects of `kind` with `reason`.
pub async fn events_of(
    ns: &TestNamespace,
    kind: &str,
    reason: &str,
) -> Vec<k8s_openapi::api::events::v1::Event> {
    ns.api::<k8s_openapi::api::events::v1::Event>()
        .list(&kube::api::ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter(|e| e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some(kind))
        .collect()
}

/// A port on 127.0.0.1 free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The local cluster's real node (hack/cluster-real-node.sh), as `hack/cluster.sh up` recorded it
/// in .cluster/real-node.
pub struct RealNode {
    /// The node's name.
    pub node: String,
    /// Its registry, `127.0.0.1:PORT` (TLS from the cluster CA, no authentication), holding
    /// `cutover/pause:1`, `cutover/busybox:1.35` and `cutover/testapp:v1` and `:v2`.
    pub registry: String,
    /// The pods' addresses, `10.88.N.0/24`: the only addresses besides 127.0.0.1 a test may
    /// send to (they are on the node's own bridge).
    pub pod_cidr: String,
    /// The operator's image built from this checkout (hack/operator-image.sh, which `make e2e`
    /// runs after the build), as `REGISTRY/cutover/cutover@sha256:...`.
    pub operator_image: Result<String, String>,
}

impl RealNode {
    /// What a pod needs to land on the real node (tolerations and nodeSelector, as YAML under a
    /// pod spec indented by `indent` spaces).
    pub fn placement(&self, indent: usize) -> String {
        let pad = " ".repeat(indent);
        format!(
            "{pad}nodeSelector: {{cutover.io/real-node: \"true\"}}\n\
             {pad}tolerations: [{{key: cutover.io/real-node, operator: Exists, effect: NoSchedule}}]\n"
        )
    }

    /// Whether `ip` is one of the node's pod addresses.
    pub fn owns(&self, ip: &str) -> bool {
        let Some(prefix) = self.pod_cidr.strip_suffix("0/24") else {
            return false;
        };
        ip.strip_prefix(prefix)
            .and_then(|host| host.parse::<u8>().ok())
            .is_some()
    }
}

/// The real node, or why there is none: the reason `hack/cluster.sh up` wrote to
/// .cluster/real-node.unavailable. A test skips with that reason printed.
pub fn real_node() -> Result<RealNode, String> {
    if let Ok(reason) = std::fs::read_to_string(cluster_file("real-node.unavailable")) {
        return Err(reason.trim().to_string());
    }
    let text = std::fs::read_to_string(cluster_file("real-node"))
        .map_err(|e| format!(".cluster/real-node: {e} (a cluster started before the real node existed? make cluster-down && make cluster)"))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
            .ok_or_else(|| format!(".cluster/real-node has no {key}"))
    };
    Ok(RealNode {
        node: field("node")?,
        registry: field("registry")?,
        pod_cidr: field("pod_cidr")?,
        operator_image: std::fs::read_to_string(cluster_file("operator-image"))
            .map(|image| image.trim().to_string())
            .map_err(|e| format!(".cluster/operator-image: {e} (hack/operator-image.sh makes it)")),
    })
}

/// The image of DeploymentConfig `name`'s first container.
pub async fn image_of(ns: &TestNamespace, name: &str) -> Option<String> {
    let dc = ns.dcs().get(name).await.ok()?;
    dc.spec
        .template
        .containers()
        .first()
        .map(|c| c.image.to_string())
}

/// ImageStream `app` with a reference tag `v1` at `image`: resolved without a registry.
pub fn reference_stream(image: &str) -> String {
    format!(
        "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata: {{name: app}}\nspec:\n  tags:\n    - name: v1\n      from: {{kind: DockerImage, name: \"{image}\"}}\n      reference: true\n"
    )
}
