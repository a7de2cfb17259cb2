//! A Route's own certificate, served for its host through Traefik 3.6, which takes no
//! ListenerSet: on a Gateway annotated `cutover.io/manage-listeners: "true"` cutover adds a
//! listener of the Route's own, and a TLS handshake for the Route's host (SNI) gets the Route's
//! certificate — checked by the DER hash of what was served — while every other host keeps the
//! Gateway's. The listener goes with its Route (a finalizer holds the Route until it has).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::Digest;

use crate::common::*;
use crate::dataplane::{
    TestCa, Traefik, admitted, backend, fetch, indent, mapping_proxy, tls_gateway,
};

const MINUTE: Duration = Duration::from_secs(60);

/// The SHA-256 of the first certificate of a PEM chain.
fn der_hash(pem: &str) -> Vec<u8> {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM");
    sha2::Sha256::digest(der.as_ref()).to_vec()
}

/// A TLS handshake with 127.0.0.1:`port` for `host` (SNI), trusting `roots`: the SHA-256 of the
/// leaf certificate served (`None`: no handshake).
async fn served_certificate(port: u16, host: &str, roots: &[&str]) -> Option<Vec<u8>> {
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            store.add(der.ok()?).ok()?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(store)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let name = ServerName::try_from(host.to_string()).ok()?;
    let tls = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .ok()?
        .ok()?;
    let leaf = tls.get_ref().1.peer_certificates()?.first()?.clone();
    Some(sha2::Sha256::digest(leaf.as_ref()).to_vec())
}

/// The names of the Gateway's listeners.
async fn listeners(ns: &str) -> Vec<String> {
    let (_, out, _) = kubectl(&[
        "get",
        "gateway",
        "public",
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.listeners[*].name}",
    ])
    .await;
    out.split_whitespace().map(str::to_string).collect()
}

#[tokio::test]
#[ignore = "needs the local cluster and Traefik: make test"]
async fn a_routes_own_certificate_is_served_for_its_host_on_a_listener_cutover_adds() {
    let ns = TestNamespace::new("owncert").await;
    let _op = Operator::start(&ns.name);
    let gateway_ca = TestCa::new("gateway-ca");
    let route_ca = TestCa::new("shop-ca");
    let (gateway_cert, gateway_key) = gateway_ca.serving(&["*.apps.test"]);
    let (route_cert, route_key) = route_ca.serving(&["own.apps.test"]);
    let plain = backend(Ipv4Addr::new(127, 0, 0, 2), "plain").await;
    let proxy = mapping_proxy().await;
    let (web, websecure) = (free_port(), free_port());
    let class = format!("cutover-{}", ns.name);
    let objects = format!(
        r#"{gateway}
---
apiVersion: v1
kind: Service
metadata: {{name: svc-plain}}
spec: {{ports: [{{name: http, port: 80, targetPort: {plain}}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc-plain-1, labels: {{kubernetes.io/service-name: svc-plain}}}}
addressType: IPv4
ports: [{{name: http, port: {plain}, protocol: TCP}}]
endpoints: [{{addresses: ["192.0.2.2"], conditions: {{ready: true}}}}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {{name: own}}
spec:
  host: own.apps.test
  to: {{kind: Service, name: svc-plain}}
  tls:
    termination: edge
    certificate: |
{certificate}
    key: |
{route_key}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {{name: shared}}
spec:
  host: shared.apps.test
  to: {{kind: Service, name: svc-plain}}
  tls: {{termination: edge}}
"#,
        gateway = tls_gateway(
            &class,
            web,
            websecure,
            &gateway_cert,
            &gateway_key,
            "  annotations: {cutover.io/manage-listeners: \"true\"}\n",
        ),
        certificate = indent(&route_cert),
        route_key = indent(&route_key),
    );
    let (ok, out) = apply(&ns.name, &objects).await;
    assert!(ok, "{out}");
    let traefik = Traefik::start(&ns.name, proxy, &[("web", web), ("websecure", websecure)]);
    let listener = format!("cutover.{}.own", ns.name);

    // The Route's own certificate for its host, by the hash of what the handshake got...
    let roots = [gateway_ca.pem.as_str(), route_ca.pem.as_str()];
    let own = der_hash(&route_cert);
    eventually("the route's own certificate served", MINUTE, || async {
        let served = served_certificate(websecure, "own.apps.test", &roots).await?;
        (served == own).then_some(())
    })
    .await;
    // ...answered by its backend, trusted through the Route's CA alone.
    let dir = root().join("target").join("e2e-manifests").join(&ns.name);
    std::fs::create_dir_all(&dir).expect("dir");
    let route_ca_file = dir.join("route-ca.pem");
    std::fs::write(&route_ca_file, &route_ca.pem).expect("write CA");
    let (code, _, body) = fetch(
        &format!("https://own.apps.test:{websecure}/"),
        "own.apps.test",
        websecure,
        Some(&route_ca_file),
    )
    .await;
    assert_eq!((code, body.as_str()), (200, "plain"));
    // Every other host keeps the Gateway's certificate.
    let shared = eventually(
        "the Gateway's certificate for other hosts",
        MINUTE,
        || async { served_certificate(websecure, "shared.apps.test", &roots).await },
    )
    .await;
    assert_eq!(shared, der_hash(&gateway_cert));

    // The status says whose certificate serves; the listener is on the Gateway, the Route held
    // by cutover's finalizer.
    let c = eventually("Admitted", MINUTE, || async {
        let c = admitted(&ns.name, "own").await?;
        (c["status"] == "True").then_some(c)
    })
    .await;
    assert_eq!(
        c["message"],
        format!(
            "served with the route's own certificate (Secret own-tls) on Gateway {}/public listener {listener}",
            ns.name
        )
    );
    assert_eq!(
        listeners(&ns.name).await,
        ["web", "websecure", listener.as_str()]
    );
    let (_, finalizers, _) = kubectl(&[
        "get",
        "route",
        "own",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.metadata.finalizers}",
    ])
    .await;
    assert!(
        finalizers.contains("route.cutover.io/gateway-listener"),
        "{finalizers}"
    );

    // Deleted: the listener goes, then the Route; the Gateway's own listeners stay as they were.
    let (ok, _, err) = kubectl(&["delete", "route", "own", "-n", &ns.name, "--wait=false"]).await;
    assert!(ok, "{err}");
    eventually("the route gone with its listener", MINUTE, || async {
        let (exists, _, _) = kubectl(&["get", "route", "own", "-n", &ns.name]).await;
        (!exists && listeners(&ns.name).await == ["web", "websecure"]).then_some(())
    })
    .await;
    eventually(
        "own.apps.test back on the Gateway's certificate",
        MINUTE,
        || async {
            let served = served_certificate(websecure, "own.apps.test", &roots).await;
            (served.as_ref() != Some(&own)).then_some(())
        },
    )
    .await;

    traefik.stop().await;
    let _ = kubectl(&["delete", "gatewayclass", &class]).await;
    ns.cleanup().await;
}
