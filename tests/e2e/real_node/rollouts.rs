//! Rollouts decided by real pods: a readiness probe that never passes fails the rollout at its
//! timeout and the previous revision serves on, and a Rolling rollout of a real HTTP app under
//! continuous requests through Traefik loses none of them (readiness gates the new pods,
//! a preStop sleep lets the old ones drain).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;

use super::*;
use crate::dataplane::{HOST, Traefik, requests};

const ROLLOUT: Duration = Duration::from_secs(180);

const ROLLING: &str = "    type: Rolling\n    rollingParams:\n      timeoutSeconds: 30\n";

#[tokio::test]
#[ignore = "needs the local cluster (make cluster)"]
async fn a_revision_that_never_becomes_ready_fails_at_its_timeout_and_the_last_serves_on() {
    let Some(node) = node_or_skip() else { return };
    let ns = TestNamespace::new("real-unready").await;
    let _op = Operator::start(&ns.name);
    let (ok, out) = apply(&ns.name, &app_dc(&node, "web", 2, "v1", ROLLING, "", None)).await;
    assert!(ok, "{out}");
    wait_phase(&ns, "web-1", "Complete", ROLLOUT).await;

    // v2 answers its readiness probe with 404 forever.
    let unready = "          env: [{name: FAIL_READINESS, value: \"true\"}]\n";
    let (ok, out) = apply(
        &ns.name,
        &app_dc(&node, "web", 2, "v2", ROLLING, unready, None),
    )
    .await;
    assert!(ok, "{out}");
    let watch = PodWatcher::start(&ns, "web", "web-2").await;
    wait_phase(&ns, "web-2", "Failed", ROLLOUT).await;

    // Rolled back: v1 at full scale, v2 at none, and v1 never lost a Ready pod meanwhile.
    eventually("web-2 scaled to zero", Duration::from_secs(60), || async {
        (rs_replicas(&ns, "web-2").await == Some(0) && pods_of(&ns, "web-2").await.is_empty())
            .then_some(())
    })
    .await;
    assert_eq!(rs_replicas(&ns, "web-1").await, Some(2));
    let seen = watch.finish().await;
    assert!(
        seen.min_ready >= 2,
        "a v1 pod stopped being Ready during the failed rollout: {seen:?}"
    );
    let v1 = pods_of(&ns, "web-1").await;
    assert!(v1.len() == 2 && v1.iter().all(is_ready), "v1 serves on");
    // What decided it was the kubelet's probe.
    let events = events_of(&ns, "Pod", "Unhealthy").await;
    assert!(
        events.iter().any(|e| e
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("Readiness probe failed")),
        "no failed readiness probe: {events:?}"
    );
    let dc = ns.dcs().get("web").await.expect("dc");
    assert_eq!(
        condition(&dc, "Progressing").map(|c| c.0),
        Some("False".to_string())
    );
    ns.cleanup().await;
}

/// The Gateway, the app's Service and a Route to it, served by Traefik on `web`.
fn served(ns: &str, class: &str, web: u16) -> String {
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: {class}}}
spec: {{controllerName: traefik.io/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: public, namespace: {ns}}}
spec:
  gatewayClassName: {class}
  listeners: [{{name: web, protocol: HTTP, port: {web}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: shop, namespace: {ns}}}
spec:
  selector: {{app: shop}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {{name: shop, namespace: {ns}}}
spec:
  host: {HOST}
  port: {{targetPort: http}}
  to: {{kind: Service, name: shop}}
"#
    )
}

#[tokio::test]
#[ignore = "needs the local cluster and Traefik: make test"]
async fn a_rolling_rollout_through_traefik_loses_no_request() {
    let Some(node) = node_or_skip() else { return };
    let ns = TestNamespace::new("real-traffic").await;
    let _op = Operator::start(&ns.name);
    // The old pods drain: on deletion they leave the Service's endpoints at once, and keep
    // serving for the seconds Traefik needs to notice.
    let graceful = "          lifecycle: {preStop: {exec: {command: [sleep, \"3\"]}}}\n";
    let rolling = "    type: Rolling\n    rollingParams: {maxSurge: 1, maxUnavailable: 0}\n";
    let (ok, out) = apply(
        &ns.name,
        &app_dc(&node, "shop", 3, "v1", rolling, graceful, None),
    )
    .await;
    assert!(ok, "{out}");
    wait_phase(&ns, "shop-1", "Complete", ROLLOUT).await;
    let web = free_port();
    let class = format!("cutover-{}", ns.name);
    let (ok, out) = apply(&ns.name, &served(&ns.name, &class, web)).await;
    assert!(ok, "{out}");
    let traefik = Traefik::start_direct(&ns.name, &[("web", web)]);
    eventually("v1 through Traefik", Duration::from_secs(60), || async {
        let r = requests(web, 10).await;
        (r.len() == 10 && r.iter().all(|(b, c)| b == "v1" && c == "200")).then_some(())
    })
    .await;

    let watch = PodWatcher::start(&ns, "shop", "shop-2").await;
    let running = Arc::new(AtomicBool::new(true));
    let load = {
        let running = running.clone();
        tokio::spawn(async move {
            let mut all = Vec::new();
            while running.load(Ordering::Relaxed) {
                all.extend(requests(web, 20).await);
            }
            all
        })
    };
    let (ok, out) = apply(
        &ns.name,
        &app_dc(&node, "shop", 3, "v2", rolling, graceful, None),
    )
    .await;
    assert!(ok, "{out}");
    wait_phase(&ns, "shop-2", "Complete", ROLLOUT).await;
    // Until the last old pod has ended.
    eventually("v1's pods gone", Duration::from_secs(60), || async {
        let pods = ns
            .api::<Pod>()
            .list(&ListParams::default().labels("app=shop"))
            .await
            .ok()?;
        (pods.items.len() == 3).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::Relaxed);
    let during = load.await.expect("load");
    traefik.stop().await;
    let seen = watch.finish().await;
    // The bounds held with real pods: never fewer than 3 Ready, never more than 3 + 1 running.
    assert!(seen.min_ready >= 3, "fewer than 3 Ready pods: {seen:?}");
    assert!(seen.max_running <= 4, "more than 4 pods running: {seen:?}");

    let failed: Vec<_> = during.iter().filter(|(_, c)| c != "200").collect();
    eprintln!(
        "{} requests during the rollout, {} failed",
        during.len(),
        failed.len()
    );
    assert!(during.len() >= 100, "too few requests: {}", during.len());
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the rollout: {:?}",
        failed.len(),
        during.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(
        during.iter().all(|(b, _)| b == "v1" || b == "v2"),
        "an answer from neither version"
    );
    assert_eq!(
        during.first().map(|(b, _)| b.as_str()),
        Some("v1"),
        "the load started on v1"
    );
    assert_eq!(
        during.last().map(|(b, _)| b.as_str()),
        Some("v2"),
        "the load ended on v2"
    );
    let _ = kubectl(&["delete", "gatewayclass", &class]).await;
    ns.cleanup().await;
}
