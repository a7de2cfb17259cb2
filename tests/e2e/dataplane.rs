//! Real traffic through Routes: Traefik (a Gateway API implementation, built by
//! hack/build-traefik.sh) serves what the operator generates, in front of small HTTP and HTTPS
//! servers on 127.0.0.2 and 127.0.0.3, with certificates the tests make themselves.
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

use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);
pub(crate) const HOST: &str = "split.example.test";

/// An HTTP/1.1 server that answers every request on every keep-alive connection with `body`.
pub(crate) async fn backend(ip: Ipv4Addr, body: &'static str) -> u16 {
    serve(ip, body, None).await
}

/// One that answers every request with a 500 (and `body`): a broken new version.
pub(crate) async fn failing_backend(ip: Ipv4Addr, body: &'static str) -> u16 {
    serve_status(ip, body, "500 Internal Server Error", None).await
}

/// The same over TLS, with `certificate` (a PEM chain) and `key`.
async fn tls_backend(ip: Ipv4Addr, body: &'static str, certificate: &str, key: &str) -> u16 {
    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(certificate.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    serve(
        ip,
        body,
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
    )
    .await
}

async fn serve(ip: Ipv4Addr, body: &'static str, tls: Option<tokio_rustls::TlsAcceptor>) -> u16 {
    serve_status(ip, body, "200 OK", tls).await
}

async fn serve_status(
    ip: Ipv4Addr,
    body: &'static str,
    status: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> u16 {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind backend");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let _ = conn.set_nodelay(true);
            let tls = tls.clone();
            tokio::spawn(async move {
                let mut conn: Box<dyn Stream> = match tls {
                    Some(acceptor) => match acceptor.accept(conn).await {
                        Ok(c) => Box::new(c),
                        Err(_) => return,
                    },
                    None => Box::new(conn),
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let reply = format!(
                            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
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

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// A SOCKS5 proxy (no auth, CONNECT to IPv4 only) that maps 192.0.2.N to 127.0.0.N.
pub(crate) async fn mapping_proxy() -> u16 {
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
pub(crate) async fn requests(port: u16, count: usize) -> Vec<(String, String)> {
    requests_with(port, count, &[]).await
}

/// [`requests`] with more request headers (`Name: value`).
pub(crate) async fn requests_with(
    port: u16,
    count: usize,
    headers: &[&str],
) -> Vec<(String, String)> {
    let mut args = Vec::new();
    for h in headers {
        args.push("-H".to_string());
        args.push(h.to_string());
    }
    curl_requests(port, count, args).await
}

/// [`requests`] with more curl arguments (`-b jar`, ...).
pub(crate) async fn curl_requests(
    port: u16,
    count: usize,
    more: Vec<String>,
) -> Vec<(String, String)> {
    let url = format!("http://127.0.0.1:{port}/");
    let mut args = vec![
        "-s".to_string(),
        "--max-time".into(),
        "30".into(),
        "-H".into(),
        format!("Host: {HOST}"),
    ];
    args.extend(more);
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

/// A GatewayClass `class` for Traefik, Gateway `public` with an HTTP listener on `web`, Services
/// svc-a and svc-b reaching the backends on `a.0` and `b.0` (through the mapping proxy), and
/// Route `split` sending them `a.1` and `b.1`.
pub(crate) fn split_route(ns: &str, class: &str, web: u16, a: (u16, i32), b: (u16, i32)) -> String {
    let ((port_a, weight_a), (port_b, weight_b)) = (a, b);
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
  to: {{kind: Service, name: svc-a, weight: {weight_a}}}
  alternateBackends: [{{kind: Service, name: svc-b, weight: {weight_b}}}]
"#
    )
}

/// Traefik serving the Gateways of one namespace, an entry point per listener port, reaching
/// backends through the mapping proxy.
pub(crate) struct Traefik {
    child: tokio::process::Child,
}

impl Traefik {
    pub(crate) fn start(namespace: &str, proxy: u16, entrypoints: &[(&str, u16)]) -> Traefik {
        Self::start_with(namespace, Some(proxy), entrypoints, None)
    }

    /// Reaching backends directly: the real node's pods, on its bridge.
    pub(crate) fn start_direct(namespace: &str, entrypoints: &[(&str, u16)]) -> Traefik {
        Self::start_with(namespace, None, entrypoints, None)
    }

    /// With its Prometheus metrics (requests per service and status code) on `metrics`.
    pub(crate) fn start_with(
        namespace: &str,
        proxy: Option<u16>,
        entrypoints: &[(&str, u16)],
        metrics: Option<u16>,
    ) -> Traefik {
        let traefik = std::env::var("CUTOVER_TRAEFIK").expect(
            "CUTOVER_TRAEFIK: the path of the Traefik binary (make test builds it with hack/build-traefik.sh)",
        );
        let log = std::fs::File::create(
            root()
                .join("target")
                .join("e2e-logs")
                .join(format!("{namespace}-traefik.log")),
        )
        .expect("log");
        let mut args = vec![
            "--global.checknewversion=false".to_string(),
            "--global.sendanonymoususage=false".into(),
            "--providers.kubernetesgateway=true".into(),
            format!("--providers.kubernetesgateway.namespaces={namespace}"),
            // TraefikServices: the sticky sessions of weighted Routes.
            "--providers.kubernetescrd=true".into(),
            format!("--providers.kubernetescrd.namespaces={namespace}"),
        ];
        for (name, port) in entrypoints {
            args.push(format!("--entrypoints.{name}.address=127.0.0.1:{port}"));
        }
        if let Some(port) = metrics {
            args.extend([
                "--metrics.prometheus=true".to_string(),
                "--metrics.prometheus.addServicesLabels=true".into(),
                "--metrics.prometheus.entryPoint=metrics".into(),
                format!("--entrypoints.metrics.address=127.0.0.1:{port}"),
            ]);
        }
        let mut command = tokio::process::Command::new(&traefik);
        command
            .args(&args)
            .env("KUBECONFIG", root().join(".cluster").join("kubeconfig"))
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY");
        if let Some(proxy) = proxy {
            // Backends over HTTP and HTTPS go through the mapping proxy; the API server on
            // 127.0.0.1 is never proxied.
            command
                .env("HTTP_PROXY", format!("socks5://127.0.0.1:{proxy}"))
                .env("HTTPS_PROXY", format!("socks5://127.0.0.1:{proxy}"))
                .env_remove("NO_PROXY");
        }
        let child = command
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("start Traefik");
        Traefik { child }
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

#[tokio::test]
#[ignore = "needs the local cluster and Traefik: make test"]
async fn traffic_splits_ninety_ten_and_a_blue_green_switch_loses_no_request() {
    let ns = TestNamespace::new("dataplane").await;
    let _op = Operator::start(&ns.name);
    let (port_a, port_b) = (
        backend(Ipv4Addr::new(127, 0, 0, 2), "a").await,
        backend(Ipv4Addr::new(127, 0, 0, 3), "b").await,
    );
    let proxy = mapping_proxy().await;
    let web = free_port();
    let class = format!("cutover-{}", ns.name);

    let objects = split_route(&ns.name, &class, web, (port_a, 90), (port_b, 10));
    let (ok, out) = apply(&ns.name, &objects).await;
    assert!(ok, "{out}");

    let traefik = Traefik::start(&ns.name, proxy, &[("web", web)]);

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

    traefik.stop().await;
    let _ = kubectl(&["delete", "gatewayclass", &class]).await;
    ns.cleanup().await;
}

/// A certificate authority of the test's own, and certificates it signs.
pub(crate) struct TestCa {
    pub(crate) pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub(crate) fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let pem = params.self_signed(&key).expect("CA").pem();
        TestCa {
            pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A serving certificate for `names`: (certificate PEM, key PEM).
    pub(crate) fn serving(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }
}

/// One request with curl, `host` resolved to 127.0.0.1: (status code, headers, body).
pub(crate) async fn fetch(
    url: &str,
    host: &str,
    port: u16,
    ca: Option<&std::path::Path>,
) -> (u16, String, String) {
    let mut args = vec![
        "-s".to_string(),
        "-i".into(),
        "--max-time".into(),
        "10".into(),
        "--resolve".into(),
        format!("{host}:{port}:127.0.0.1"),
    ];
    if let Some(ca) = ca {
        args.push("--cacert".into());
        args.push(ca.display().to_string());
    }
    args.push(url.into());
    let out = tokio::process::Command::new("curl")
        .args(&args)
        .output()
        .await
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_lowercase(), body.to_string())
}

/// A Route's Admitted condition.
pub(crate) async fn admitted(ns: &str, route: &str) -> Option<serde_json::Value> {
    let (_, out, _) = kubectl(&[
        "get",
        "route",
        route,
        "-n",
        ns,
        "-o",
        "jsonpath={.status.ingress[0].conditions[0]}",
    ])
    .await;
    serde_json::from_str(&out).ok()
}

/// GatewayClass `class` for Traefik and Gateway `public` (with `metadata` lines, YAML at two
/// spaces), with an HTTP listener on `web` and an HTTPS one on `websecure` for `*.apps.test`
/// serving `certificate` (Secret `gateway-cert`).
pub(crate) fn tls_gateway(
    class: &str,
    web: u16,
    websecure: u16,
    certificate: &str,
    key: &str,
    metadata: &str,
) -> String {
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    format!(
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: {class}}}
spec: {{controllerName: traefik.io/gateway-controller}}
---
apiVersion: v1
kind: Secret
metadata: {{name: gateway-cert}}
type: kubernetes.io/tls
data: {{tls.crt: {crt}, tls.key: {key}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: public
{metadata}spec:
  gatewayClassName: {class}
  listeners:
  - {{name: web, protocol: HTTP, port: {web}}}
  - name: websecure
    protocol: HTTPS
    port: {websecure}
    hostname: "*.apps.test"
    tls: {{mode: Terminate, certificateRefs: [{{name: gateway-cert}}]}}"#,
        crt = b64(certificate),
        key = b64(key),
    )
}

pub(crate) fn indent(pem: &str) -> String {
    pem.lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
#[ignore = "needs the local cluster and Traefik: make test"]
async fn tls_routes_are_served_as_openshifts_router_serves_them() {
    let ns = TestNamespace::new("tls").await;
    let _op = Operator::start(&ns.name);
    let gateway_ca = TestCa::new("gateway-ca");
    let backend_ca = TestCa::new("backend-ca");
    let other_ca = TestCa::new("some-other-ca");
    let (gateway_cert, gateway_key) = gateway_ca.serving(&["*.apps.test"]);
    // One TLS server behind two Services (a BackendTLSPolicy applies to a whole Service).
    let (backend_cert, backend_key) = backend_ca.serving(&[
        &format!("svc-tls.{}.svc", ns.name),
        &format!("svc-tls-2.{}.svc", ns.name),
    ]);
    let dir = root().join("target").join("e2e-manifests").join(&ns.name);
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_file = dir.join("gateway-ca.pem");
    std::fs::write(&ca_file, &gateway_ca.pem).expect("write CA");

    let plain = backend(Ipv4Addr::new(127, 0, 0, 2), "plain").await;
    let secure = tls_backend(
        Ipv4Addr::new(127, 0, 0, 3),
        "secure",
        &backend_cert,
        &backend_key,
    )
    .await;
    let proxy = mapping_proxy().await;
    let (web, websecure) = (free_port(), free_port());
    let class = format!("cutover-{}", ns.name);
    let route = |name: &str, spec: &str| {
        format!(
            "---\napiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n{spec}\n"
        )
    };
    let edge = |name: &str, policy: &str| {
        route(
            name,
            &format!(
                "  host: {name}.apps.test\n  to: {{kind: Service, name: svc-plain}}\n  tls: {{termination: edge, insecureEdgeTerminationPolicy: {policy}}}\n  httpHeaders:\n    actions:\n      response:\n      - name: X-Served-By\n        action: {{type: Set, set: {{value: cutover}}}}"
            ),
        )
    };
    let reencrypt = |name: &str, service: &str, ca: &str| {
        route(
            name,
            &format!(
                "  host: {name}.apps.test\n  to: {{kind: Service, name: {service}}}\n  tls:\n    termination: reencrypt\n    destinationCACertificate: |\n{}",
                indent(ca)
            ),
        )
    };
    let objects = [
        format!(
            r#"{gateway}
---
apiVersion: v1
kind: Service
metadata: {{name: svc-plain}}
spec: {{ports: [{{name: http, port: 80, targetPort: {plain}}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: svc-tls}}
spec: {{ports: [{{name: https, port: 443, targetPort: {secure}}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-plain-1, labels: {{kubernetes.io/service-name: svc-plain}}}}
addressType: IPv4
ports: [{{name: http, port: {plain}, protocol: TCP}}]
endpoints: [{{addresses: ["192.0.2.2"], conditions: {{ready: true}}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-tls-1, labels: {{kubernetes.io/service-name: svc-tls}}}}
addressType: IPv4
ports: [{{name: https, port: {secure}, protocol: TCP}}]
endpoints: [{{addresses: ["192.0.2.3"], conditions: {{ready: true}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: svc-tls-2}}
spec: {{ports: [{{name: https, port: 443, targetPort: {secure}}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-tls-2-1, labels: {{kubernetes.io/service-name: svc-tls-2}}}}
addressType: IPv4
ports: [{{name: https, port: {secure}, protocol: TCP}}]
endpoints: [{{addresses: ["192.0.2.3"], conditions: {{ready: true}}}}]
"#,
            gateway = tls_gateway(&class, web, websecure, &gateway_cert, &gateway_key, ""),
        ),
        edge("none", "None"),
        edge("redirect", "Redirect"),
        edge("allow", "Allow"),
        reencrypt("reencrypt", "svc-tls", &backend_ca.pem),
        reencrypt("wrongca", "svc-tls-2", &other_ca.pem),
        // No host: the operator's --route-domain gives gen-<namespace>.apps.test.
        route("gen", "  to: {kind: Service, name: svc-plain}"),
    ]
    .concat();
    let (ok, out) = apply(&ns.name, &objects).await;
    assert!(ok, "{out}");
    let traefik = Traefik::start(&ns.name, proxy, &[("web", web), ("websecure", websecure)]);
    let https = |host: &str| format!("https://{host}.apps.test:{websecure}/");
    let http = |host: &str| format!("http://{host}.apps.test:{web}/");
    let host = |h: &str| format!("{h}.apps.test");

    // Edge: HTTPS with the Gateway's certificate, the header action visible to the client.
    let (code, head, body) = eventually("the edge route over HTTPS", MINUTE, || async {
        let r = fetch(&https("none"), &host("none"), websecure, Some(&ca_file)).await;
        (r.0 == 200).then_some(r)
    })
    .await;
    assert_eq!((code, body.as_str()), (200, "plain"));
    assert!(head.contains("x-served-by: cutover"), "{head}");
    // None: plain HTTP is not served at all.
    let (code, _, body) = fetch(&http("none"), &host("none"), web, None).await;
    assert_eq!(
        code, 404,
        "insecureEdgeTerminationPolicy None serves nothing on HTTP: {body}"
    );
    // Redirect: 302 to https, as OpenShift answers.
    let (code, head, _) = eventually("the redirect", MINUTE, || async {
        let r = fetch(&http("redirect"), &host("redirect"), web, None).await;
        (r.0 == 302).then_some(r)
    })
    .await;
    assert_eq!(code, 302);
    assert!(
        head.contains("location: https://redirect.apps.test"),
        "{head}"
    );
    // Allow: the page over both.
    eventually("the Allow route over HTTP and HTTPS", MINUTE, || async {
        let a = fetch(&http("allow"), &host("allow"), web, None).await;
        let b = fetch(&https("allow"), &host("allow"), websecure, Some(&ca_file)).await;
        (a.0 == 200 && a.2 == "plain" && b.0 == 200).then_some(())
    })
    .await;

    // Re-encrypt reaches a TLS backend that the destination CA vouches for...
    eventually("re-encrypt to the TLS backend", MINUTE, || async {
        let r = fetch(
            &https("reencrypt"),
            &host("reencrypt"),
            websecure,
            Some(&ca_file),
        )
        .await;
        (r.0 == 200 && r.2 == "secure").then_some(())
    })
    .await;
    // ...and never one it does not.
    eventually("re-encrypt with the wrong CA refused", MINUTE, || async {
        let r = fetch(
            &https("wrongca"),
            &host("wrongca"),
            websecure,
            Some(&ca_file),
        )
        .await;
        (r.0 >= 500).then_some(())
    })
    .await;
    for _ in 0..10 {
        let (code, _, body) = fetch(
            &https("wrongca"),
            &host("wrongca"),
            websecure,
            Some(&ca_file),
        )
        .await;
        assert!(
            code >= 500 && body != "secure",
            "served by a backend the CA does not vouch for: {code} {body}"
        );
    }

    // A generated host, written into the spec and served.
    let generated = format!("gen-{}.apps.test", ns.name);
    eventually("the generated host", MINUTE, || async {
        let (_, out, _) = kubectl(&[
            "get",
            "route",
            "gen",
            "-n",
            &ns.name,
            "-o",
            "jsonpath={.spec.host}",
        ])
        .await;
        (out == generated).then_some(())
    })
    .await;
    eventually("traffic on the generated host", MINUTE, || async {
        let r = fetch(&format!("http://{generated}:{web}/"), &generated, web, None).await;
        (r.0 == 200).then_some(())
    })
    .await;

    // Admitted as the Gateway reported it; the Route shows where it is served.
    let status = eventually("Admitted from the Gateway", MINUTE, || async {
        let c = admitted(&ns.name, "none").await?;
        (c["status"] == "True").then_some(c)
    })
    .await;
    assert_eq!(
        status["message"],
        "served with the certificate of Gateway ".to_string()
            + &ns.name
            + "/public listener websecure"
    );

    // A second Route for a host an older one holds is refused, and serves nothing.
    let thief = reencrypt("thief", "svc-tls", &backend_ca.pem)
        .replace("host: thief.apps.test", "host: none.apps.test");
    let (ok, out) = apply(&ns.name, &thief).await;
    assert!(ok, "{out}");
    let c = eventually("HostAlreadyClaimed", MINUTE, || async {
        let c = admitted(&ns.name, "thief").await?;
        (c["reason"] == "HostAlreadyClaimed").then_some(c)
    })
    .await;
    assert_eq!(
        c["message"],
        "route none already exposes none.apps.test and is older"
    );
    let (ok, _, _) = kubectl(&["get", "httproute", "thief", "-n", &ns.name]).await;
    assert!(!ok, "no HTTPRoute for the refused route");
    let (_, _, body) = fetch(&https("none"), &host("none"), websecure, Some(&ca_file)).await;
    assert_eq!(body, "plain", "the host still goes to the older route");

    // The older route goes: the newer one takes the host.
    let (ok, _, err) = kubectl(&["delete", "route", "none", "-n", &ns.name]).await;
    assert!(ok, "{err}");
    eventually("the host passed to the newer route", MINUTE, || async {
        let r = fetch(&https("none"), &host("none"), websecure, Some(&ca_file)).await;
        (r.0 == 200 && r.2 == "secure").then_some(())
    })
    .await;

    traefik.stop().await;
    let _ = kubectl(&["delete", "gatewayclass", &class]).await;
    ns.cleanup().await;
}

/// A shift's request mirror goes where the Gateway's implementation says it supports one:
/// Traefik lists no mirroring among its GatewayClass's supported features (it answers a
/// mirrored rule with 500s), so there the Route says the mirror is not realised and every
/// request is still answered; a class that lists the feature gets the RequestMirror filter,
/// which the installed HTTPRoute CRD keeps as written (percent included).
#[tokio::test]
#[ignore = "needs the local cluster and Traefik: make test"]
async fn a_mirror_is_realised_only_where_the_gateway_class_lists_it() {
    let ns = TestNamespace::new("mirror").await;
    let _op = Operator::start(&ns.name);
    let (port_a, port_b) = (
        backend(Ipv4Addr::new(127, 0, 0, 2), "a").await,
        backend(Ipv4Addr::new(127, 0, 0, 3), "b").await,
    );
    let (proxy, web) = (mapping_proxy().await, free_port());
    let class = format!("cutover-{}", ns.name);
    let (ok, out) = apply(
        &ns.name,
        &split_route(&ns.name, &class, web, (port_a, 100), (port_b, 0)),
    )
    .await;
    assert!(ok, "{out}");
    let traefik = Traefik::start(&ns.name, proxy, &[("web", web)]);
    // Pending (its DeploymentConfig has not rolled out): the mirror runs from now on.
    let shift = r#"{"to": "svc-b", "deploymentConfig": "not-yet", "mirror": {"percent": 20}}"#;
    let (ok, _, err) = kubectl(&[
        "annotate",
        "route",
        "split",
        "-n",
        &ns.name,
        &format!("cutover.io/traffic-shift={shift}"),
    ])
    .await;
    assert!(ok, "{err}");

    let features = eventually("Traefik's supported features", MINUTE, || async {
        let (_, out, _) = kubectl(&[
            "get",
            "gatewayclass",
            &class,
            "-o",
            "jsonpath={.status.supportedFeatures[*].name}",
        ])
        .await;
        (!out.trim().is_empty()).then_some(out)
    })
    .await;
    assert!(
        !features.contains("Mirror"),
        "Traefik lists no mirroring: {features}"
    );
    let said = eventually("the mirror said not realised", MINUTE, || async {
        let (_, out, _) = kubectl(&[
            "get",
            "route",
            "split",
            "-n",
            &ns.name,
            "-o",
            "jsonpath={.status.ingress[0].conditions[?(@.type==\"UnsupportedConfiguration\")].message}",
        ])
        .await;
        out.contains("mirror").then_some(out)
    })
    .await;
    assert_eq!(
        said,
        "not realised on a Gateway API data plane: traffic-shift mirror of 20% of requests to svc-b (the Gateway's implementation (traefik.io/gateway-controller) does not list HTTPRouteRequestPercentageMirror in its GatewayClass's status.supportedFeatures)"
    );
    let route = crate::routes::http_routes(&ns)
        .get("split")
        .await
        .expect("HTTPRoute");
    assert!(
        !route.data.to_string().contains("RequestMirror"),
        "{}",
        route.data["spec"]
    );
    // Traefik takes a new configuration up within 2 s; then every request is answered.
    eventually("Traefik serving the shifted route", MINUTE, || async {
        let r = requests(web, 20).await;
        r.iter()
            .all(|(body, code)| body == "a" && code == "200")
            .then_some(())
    })
    .await;
    let answers = requests(web, 200).await;
    assert!(
        answers
            .iter()
            .all(|(body, code)| body == "a" && code == "200"),
        "every request answered by a: {answers:?}"
    );

    // A class whose implementation lists the feature (its status written here, as one would).
    let listing = format!("{class}-mirroring");
    let objects = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: {listing}}}\nspec: {{controllerName: example.com/mirroring}}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: mirroring, namespace: {ns}}}\nspec:\n  gatewayClassName: {listing}\n  listeners: [{{name: web, protocol: HTTP, port: 80}}]\n",
        ns = ns.name
    );
    let (ok, out) = apply(&ns.name, &objects).await;
    assert!(ok, "{out}");
    let status = serde_json::json!({"status": {
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}],
        "supportedFeatures": [{"name": "HTTPRouteRequestPercentageMirror"}]
    }});
    let (ok, _, err) = kubectl(&[
        "patch",
        "gatewayclass",
        &listing,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ])
    .await;
    assert!(ok, "{err}");
    let mirrored = format!(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata:\n  name: mirrored\n  annotations:\n    cutover.io/gateway: {ns}/mirroring\n    cutover.io/traffic-shift: '{shift}'\nspec:\n  host: mirrored.example.test\n  port: {{targetPort: http}}\n  to: {{kind: Service, name: svc-a, weight: 100}}\n  alternateBackends: [{{kind: Service, name: svc-b, weight: 0}}]\n",
        ns = ns.name
    );
    let (ok, out) = apply(&ns.name, &mirrored).await;
    assert!(ok, "{out}");
    let filters = eventually("the mirror filter kept as written", MINUTE, || async {
        let route = crate::routes::http_routes(&ns)
            .get_opt("mirrored")
            .await
            .ok()??;
        let rules = route.data["spec"]["rules"].as_array()?.clone();
        rules
            .last()
            .map(|r| r["filters"].clone())
            .filter(|f| !f.is_null())
    })
    .await;
    assert_eq!(
        filters,
        serde_json::json!([{"type": "RequestMirror", "requestMirror": {
            "backendRef": {"group": "", "kind": "Service", "name": "svc-b", "port": 80},
            "percent": 20}}])
    );

    traefik.stop().await;
    let _ = kubectl(&["delete", "gatewayclass", &class, &listing]).await;
    ns.cleanup().await;
}
