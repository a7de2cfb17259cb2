//! `/healthz`, `/readyz` and `/metrics`: a few lines of HTTP/1.1, no framework.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// What the probes report: caches synced (ready), and whether this replica leads.
#[derive(Clone, Default)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
    leading: Arc<AtomicBool>,
}

impl Readiness {
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Release);
    }
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }
}

/// The response to one request path.
fn respond(
    path: &str,
    readiness: &Readiness,
    metrics: &Metrics,
) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match path {
        "/healthz" => ("200 OK", TEXT, "ok".into()),
        // A standby is ready too: its caches are warm and it takes over the moment it leads.
        "/readyz" if readiness.is_ready() => {
            let role = if readiness.is_leading() {
                "leader"
            } else {
                "standby"
            };
            ("200 OK", TEXT, format!("ok ({role})"))
        }
        "/readyz" => ("503 Service Unavailable", TEXT, "caches not synced".into()),
        "/metrics" => (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.render(),
        ),
        _ => ("404 Not Found", TEXT, "not found".into()),
    }
}

/// Serves the probes and metrics on `listener` until the process ends.
pub async fn serve(listener: TcpListener, readiness: Readiness, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let (readiness, metrics) = (readiness.clone(), metrics.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (code, content_type, body) = respond(path, &readiness, &metrics);
            let head = format!(
                "HTTP/1.1 {code}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_says_whether_this_replica_leads() {
        let (readiness, metrics) = (Readiness::default(), Metrics::new());
        assert_eq!(
            respond("/readyz", &readiness, &metrics).0,
            "503 Service Unavailable"
        );
        readiness.set_ready();
        assert_eq!(respond("/readyz", &readiness, &metrics).2, "ok (standby)");
        readiness.set_leading(true);
        assert_eq!(respond("/readyz", &readiness, &metrics).2, "ok (leader)");
        assert_eq!(respond("/healthz", &readiness, &metrics).0, "200 OK");
        assert_eq!(respond("/nope", &readiness, &metrics).0, "404 Not Found");
    }

    #[test]
    fn metrics_keep_openshift_names() {
        let (readiness, metrics) = (Readiness::default(), Metrics::new());
        metrics.watch_revisions(Vec::new);
        let body = respond("/metrics", &readiness, &metrics).2;
        for name in [
            "openshift_apps_deploymentconfigs_complete_rollouts_total{phase=\"available\"} 0",
            "openshift_apps_deploymentconfigs_complete_rollouts_total{phase=\"failed\"} 0",
            "openshift_apps_deploymentconfigs_complete_rollouts_total{phase=\"cancelled\"} 0",
            "# TYPE openshift_apps_deploymentconfigs_active_rollouts_duration_seconds gauge",
            "# TYPE openshift_apps_deploymentconfigs_last_failed_rollout_time gauge",
            "cutover_revisions_in_flight 0",
            "cutover_leader 0",
            "# EOF",
        ] {
            assert!(body.contains(name), "{name} missing from\n{body}");
        }
    }
}
