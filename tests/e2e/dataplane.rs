//! Real traffic through a Route: Traefik (a Gateway API implementation, built by
//! hack/build-traefik.sh) serves the HTTPRoute the operator generates, in front of two small HTTP
//! servers on 127.0.0.2 and 127.0.0.3.
//!
//! Everything stays on the loopback: the API server refuses loopback addresses in EndpointSlices,
//! so the Services' endpoints are placeholders in 192.0.2.0/24 (a documentation range) and
//! Traefik reaches them through a SOCKS5 proxy in this test that maps 192.0.2.N to 127.0.0.N and
//! refuses anything else. No packet leaves the machine.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);
const HOST: &str = "split.example.test";

/// An HTTP/1.1 server that answers every request on every keep-alive connection with `body`.
async fn backend(ip: Ipv4Addr, body: &'static str) -> u16 {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind backend");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if conn.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    port
}

/// A SOCKS5 proxy (no auth, CONNECT to IPv4 only) that maps 192.0.2.N to 127.0.0.N.
async fn mapping_proxy() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 2];
                c.read_exact(&mut head).await.ok()?;
                let mut methods = vec![0u8; usize::from(head[1])];
                c.read_exact(&mut methods).await.ok()?;
                c.write_all(&[5, 0]).await.ok()?;
                let mut req = [0u8; 4];
                c.read_exact(&mut req).await.ok()?;
                let mut addr = [0u8; 4];
                let mut port = [0u8; 2];
                if req[1] != 1 || req[3] != 1 {
                    let _ = c.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await;
                    return None;
                }
                c.read_exact(&mut addr).await.ok()?;
                c.read_exact(&mut port).await.ok()?;
                if addr[..3] != [192, 0, 2] {
                    let _ = c.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]).await;
                    return None;
                }
                let target = SocketAddr::new(
                    Ipv4Addr::new(127, 0, 0, addr[3]).into(),
                    u16::from_be_bytes(port),
                );
                let mut up = TcpStream::connect(target).await.ok()?;
                let _ = up.set_nodelay(true);
                c.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.ok()?;
                tokio::io::copy_bidirectional(&mut c, &mut up).await.ok()
            });
        }
    });
    port
}

/// `count` requests through Traefik on one keep-alive connection (curl); returns each
/// response's body and status code, in order.
async fn requests(port: u16, count: usize) -> Vec<(String, String)> {
    let url = format!("http://127.0.0.1:{port}/");
    let mut args = vec![
        "-s".to_string(),
        "--max-time".into(),
        "30".into(),
        "-H".into(),
        format!("Host: {HOST}"),
    ];
    args.push("-w".into());
    args.push("|%{http_code}\\n".into());
    args.extend(std::iter::repeat_n(url, count));
    let out = tokio::process::Command::new("curl")
        .args(&args)
        .output()
        .await
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.rsplit_once('|')
                .map(|(b, c)| (b.to_string(), c.to_string()))
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs the local cluster and Traefik: make test"]
async fn traffic_splits_ninety_ten_and_a_blue_green_switch_loses_no_request() {
    let traefik = std::env::var("CUTOVER_TRAEFIK")
        .expect("CUTOVER_TRAEFIK: the path of the Traefik binary (make test builds it with hack/build-traefik.sh)");
    let ns = TestNamespace::new("dataplane").await;
    let _op = Operator::start(&ns.name);
    let (port_a, port_b) = (
        backend(Ipv4Addr::new(127, 0, 0, 2), "a").await,
        backend(Ipv4Addr::new(127, 0, 0, 3), "b").await,
    );
    let proxy = mapping_proxy().await;
    let web = free_port();
    let class = format!("cutover-{}", ns.name);

    let objects = format!(
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
metadata: {{name: svc-a, namespace: {ns}}}
spec: {{ports: [{{name: http, port: 80, targetPort: {port_a}}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: svc-b, namespace: {ns}}}
spec: {{ports: [{{name: http, port: 80, targetPort: {port_b}}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-a-1, namespace: {ns}, labels: {{kubernetes.io/service-name: svc-a}}}}
addressType: IPv4
ports: [{{name: http, port: {port_a}, protocol: TCP}}]
endpoints: [{{addresses: ["192.0.2.2"], conditions: {{ready: true}}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-b-1, namespace: {ns}, labels: {{kubernetes.io/service-name: svc-b}}}}
addressType: IPv4
ports: [{{name: http, port: {port_b}, protocol: TCP}}]
endpoints: [{{addresses: ["192.0.2.3"], conditions: {{ready: true}}}}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {{name: split, namespace: {ns}}}
spec:
  host: {HOST}
  port: {{targetPort: http}}
  to: {{kind: Service, name: svc-a, weight: 90}}
  alternateBackends: [{{kind: Service, name: svc-b, weight: 10}}]
"#,
        ns = ns.name
    );
    let (ok, out) = apply(&ns.name, &objects).await;
    assert!(ok, "{out}");

    let log = std::fs::File::create(
        root()
            .join("target")
            .join("e2e-logs")
            .join(format!("{}-traefik.log", ns.name)),
    )
    .expect("log");
    let mut proxy_process = tokio::process::Command::new(&traefik)
        .args([
            "--global.checknewversion=false",
            "--global.sendanonymoususage=false",
            &format!("--entrypoints.web.address=127.0.0.1:{web}"),
            "--providers.kubernetesgateway=true",
            &format!("--providers.kubernetesgateway.namespaces={}", ns.name),
        ])
        .env("KUBECONFIG", root().join(".cluster").join("kubeconfig"))
        .env("HTTP_PROXY", format!("socks5://127.0.0.1:{proxy}"))
        .env_remove("HTTPS_PROXY")
        .env_remove("NO_PROXY")
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("start Traefik");

    eventually("traffic through Traefik", MINUTE, || async {
        let r = requests(web, 1).await;
        (r.first().map(|(_, code)| code.as_str()) == Some("200")).then_some(())
    })
    .await;

    // 1000 requests at 90/10.
    let answers = requests(web, 1000).await;
    assert_eq!(answers.len(), 1000);
    assert!(
        answers.iter().all(|(_, code)| code == "200"),
        "every request answered"
    );
    let a = answers.iter().filter(|(b, _)| b == "a").count();
    eprintln!("split of 1000 requests: svc-a {a}, svc-b {}", 1000 - a);
    assert!(
        (850..=950).contains(&a),
        "svc-a got {a} of 1000, expected 900 ± 50"
    );

    // Blue-green: all to a, then, under continuous traffic, switch to b.
    assert!(
        dc_plugin(&ns.name, &["route", "switch", "split", "svc-a"])
            .await
            .0
    );
    eventually("all traffic on a", MINUTE, || async {
        requests(web, 50)
            .await
            .iter()
            .all(|(b, c)| b == "a" && c == "200")
            .then_some(())
    })
    .await;
    let running = Arc::new(AtomicBool::new(true));
    let load = {
        let running = running.clone();
        tokio::spawn(async move {
            let mut all = Vec::new();
            while running.load(Ordering::Relaxed) {
                all.extend(requests(web, 100).await);
            }
            all.extend(requests(web, 100).await);
            all
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        dc_plugin(&ns.name, &["route", "switch", "split", "svc-b"])
            .await
            .0
    );
    eventually("all traffic on b", MINUTE, || async {
        requests(web, 50)
            .await
            .iter()
            .all(|(b, c)| b == "b" && c == "200")
            .then_some(())
    })
    .await;
    running.store(false, Ordering::Relaxed);
    let during = load.await.expect("load");
    let failed: Vec<_> = during.iter().filter(|(_, c)| c != "200").collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the switch: {:?}",
        failed.len(),
        during.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(
        during.iter().any(|(b, _)| b == "a") && during.iter().any(|(b, _)| b == "b"),
        "the load saw the switch"
    );
    // No flapping: once b answered, a never again.
    let first_b = during.iter().position(|(b, _)| b == "b").expect("b");
    assert!(
        during[first_b..].iter().all(|(b, _)| b == "b"),
        "traffic went back to a after the switch"
    );

    let _ = proxy_process.kill().await;
    let _ = kubectl(&["delete", "gatewayclass", &class]).await;
    ns.cleanup().await;
}
