//! What the controllers cost: their processes' CPU and memory (from /proc) and the API requests
//! each one made (counted by the API server).
#![allow(dead_code)] // shared by benches/scale.rs, fleet.rs and shards.rs, each uses a part

use std::collections::HashMap;
use std::process::Stdio;

use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::harness::root;

// --- process accounting ------------------------------------------------------------------------

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory (VmHWM) of a process, MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    status_kib(pid, "VmHWM:") / 1024.0
}

/// A kB figure of /proc/<pid>/status (0 when the process is gone).
fn status_kib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Resident memory now (VmRSS) of a process, MiB.
pub fn rss_mib(pid: u32) -> f64 {
    status_kib(pid, "VmRSS:") / 1024.0
}

/// The CPU-seconds the shared control plane has used so far: the API server, etcd, and the rest
/// (kube-controller-manager, scheduler, kwok). With one side alone on the cluster, the difference
/// over a workload is what that side's objects cost it.
pub fn control_plane_cpu() -> [f64; 3] {
    let cpu = |name: &str| {
        std::fs::read_to_string(root().join(".cluster").join(format!("{name}.pid")))
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .map_or(0.0, cpu_seconds)
    };
    [
        cpu("kube-apiserver"),
        cpu("etcd"),
        cpu("kube-controller-manager") + cpu("kube-scheduler") + cpu("kwok"),
    ]
}

pub fn deployment_controller_pid() -> u32 {
    let path = root().join(".cluster").join("deployment-controller.pid");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{}: the cluster runs no separate deployment controller",
                path.display()
            )
        })
}

pub fn cluster_sh(args: &[&str]) {
    let status = std::process::Command::new(root().join("hack").join("cluster.sh"))
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("hack/cluster.sh");
    assert!(status.success(), "hack/cluster.sh {args:?} failed");
}

// --- API requests, counted by the API server -------------------------------------------------------

pub const CUTOVER_FLOW: &str = "bench-cutover";
pub const DEPLOYMENT_FLOW: &str = "bench-deployment-controller";

/// One FlowSchema per controller, both at workload-high (the Deployment controller's level), so
/// neither is throttled differently and the API server counts each one's requests.
pub async fn install_flow_schemas(admin: &Client) {
    use k8s_openapi::api::flowcontrol::v1::FlowSchema;
    let api: Api<FlowSchema> = Api::all(admin.clone());
    for (name, ns, sa) in [
        (CUTOVER_FLOW, "cutover-system", "cutover"),
        (DEPLOYMENT_FLOW, "kube-system", "deployment-controller"),
    ] {
        let fs: FlowSchema = serde_json::from_value(json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": name},
            "spec": {
                "matchingPrecedence": 850,
                "priorityLevelConfiguration": {"name": "workload-high"},
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{
                    "subjects": [{"kind": "ServiceAccount", "serviceAccount": {"namespace": ns, "name": sa}}],
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"], "clusterScope": true}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
                }]
            }
        }))
        .expect("flow schema");
        api.patch(
            name,
            &PatchParams::apply("cutover-bench").force(),
            &Patch::Apply(&fs),
        )
        .await
        .expect("apply FlowSchema");
    }
}

/// Where the API server's work goes, from its own metrics: bytes of watch events sent per kind
/// (`watch bytes <kind>`) and seconds spent serving requests per verb and resource
/// (`request seconds <verb> <resource>`). Differences over a workload show what that workload
/// cost it (`CUTOVER_BENCH_APISERVER=1` prints them).
pub async fn apiserver_profile(admin: &Client) -> HashMap<String, f64> {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = admin.request_text(req).await.unwrap_or_default();
    let label = |rest: &str, name: &str| {
        rest.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(str::to_string)
    };
    let mut out = HashMap::new();
    for line in text.lines() {
        let (key, rest) = if let Some(rest) = line.strip_prefix("apiserver_watch_events_sizes_sum{")
        {
            (
                label(rest, "resource")
                    .or_else(|| label(rest, "kind"))
                    .map(|k| format!("watch bytes {k}")),
                rest,
            )
        } else if let Some(rest) = line.strip_prefix("apiserver_request_duration_seconds_sum{") {
            let verb = label(rest, "verb").unwrap_or_default();
            let resource = label(rest, "resource").unwrap_or_default();
            let sub = label(rest, "subresource").filter(|s| !s.is_empty());
            let resource = sub.map_or(resource.clone(), |s| format!("{resource}/{s}"));
            if verb == "WATCH" {
                continue; // a watch's duration is how long it stayed open
            }
            (Some(format!("request seconds {verb} {resource}")), rest)
        } else {
            continue;
        };
        let (Some(key), Some(v)) = (
            key,
            rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        *out.entry(key).or_default() += v;
    }
    out
}

/// Requests dispatched so far, per bench FlowSchema.
pub async fn dispatched(admin: &Client) -> HashMap<String, f64> {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = admin.request_text(req).await.expect("API server /metrics");
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_flowcontrol_dispatched_requests_total{")
        else {
            continue;
        };
        for flow in [CUTOVER_FLOW, DEPLOYMENT_FLOW] {
            if rest.contains(&format!("flow_schema=\"{flow}\"")) {
                let v: f64 = rest
                    .rsplit(' ')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0);
                *out.entry(flow.to_string()).or_default() += v;
            }
        }
    }
    out
}

/// p50 and p99 of cutover's reconcile times (ms, the upper bound of the histogram bucket each
/// falls in) and how many reconciles there were, from its /metrics on `addr`.
pub async fn reconcile_quantiles(addr: &str) -> (Option<f64>, Option<f64>, f64) {
    let text = match http_get(addr, "/metrics").await {
        Some(t) => t,
        None => return (None, None, 0.0),
    };
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cutover_reconcile_duration_seconds_bucket{") else {
            continue;
        };
        if !rest.contains("controller=\"deploymentconfig\"") {
            continue;
        }
        let le = rest
            .split("le=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(|s| {
                if s == "+Inf" {
                    f64::INFINITY
                } else {
                    s.parse().unwrap_or(f64::NAN)
                }
            });
        let count = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        if let (Some(le), Some(count)) = (le, count) {
            buckets.push((le, count));
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last().map_or(0.0, |b| b.1);
    let quantile = |q: f64| {
        buckets
            .iter()
            .find(|(_, c)| *c >= q * total)
            .map(|(le, _)| le * 1000.0)
    };
    if total == 0.0 {
        return (None, None, 0.0);
    }
    (quantile(0.5), quantile(0.99), total)
}

/// A plain HTTP/1.0 GET on 127.0.0.1 (the operator's metrics endpoint).
pub async fn http_get(addr: &str, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await.ok()?;
    Some(body.split_once("\r\n\r\n")?.1.to_string())
}

/// `a / b` to two places, or a dash when `b` is nothing.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "—".into()
    }
}
