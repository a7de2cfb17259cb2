//! The router's extended validation of a Route's own certificate, key and CAs: each rule with
//! the router's message, certificates made here by rcgen (one RSA key, made once with OpenSSL
//! for these tests, where rcgen cannot make one).

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::*;

mod authorities;

const RSA_KEY: &str = include_str!("../testdata/rsa-2048.key");

fn now() -> Timestamp {
    "2026-06-01T00:00:00Z".parse().expect("time")
}

/// A certificate authority named `name`.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca_with(name: &str, edit: impl FnOnce(&mut CertificateParams)) -> Ca {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    edit(&mut params);
    let pem = params.self_signed(&key).expect("CA").pem();
    Ca {
        pem,
        issuer: Issuer::new(params, key),
    }
}

fn ca(name: &str) -> Ca {
    ca_with(name, |_| {})
}

impl Ca {
    /// A serving certificate for the route's host signed by this CA: (certificate, key).
    fn sign(&self, edit: impl FnOnce(&mut CertificateParams)) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["shop.example.com".to_string()]).expect("params");
        edit(&mut params);
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }

    /// An intermediate CA this CA signs.
    fn intermediate(&self, name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.signed_by(&key, &self.issuer).expect("sign").pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }
}

fn edge(certificate: &str, key: &str, ca: Option<&str>) -> Route {
    hosted(RouteSpec {
        to: target("a", None),
        tls: Some(TlsConfig {
            termination: "edge".into(),
            certificate: Some(certificate.into()),
            key: Some(key.into()).filter(|k: &String| !k.is_empty()),
            ca_certificate: ca.map(Into::into),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The plan at `now()`, on a Gateway that accepts the Route's own certificate.
fn planned(r: &Route) -> Plan {
    let a = service("a", json!([{"port": 80}]));
    plan(&Inputs {
        gateway: Some(gateway("All")),
        now: now(),
        ..inputs(r, vec![&a])
    })
}

/// The message of a Route refused by extended validation (nothing of it applied).
fn refused(r: &Route) -> String {
    let p = planned(r);
    assert_eq!(admitted(&p), ("False", reason::EXTENDED_VALIDATION_FAILED));
    assert!(p.objects().is_empty(), "nothing is served: {:?}", kinds(&p));
    p.status.ingress[0].conditions[0].message.clone()
}

/// A Route extended validation lets by: its certificate served from its Secret.
fn passes(r: &Route) -> Plan {
    let p = planned(r);
    assert_ne!(
        admitted(&p).1,
        reason::EXTENDED_VALIDATION_FAILED,
        "{}",
        p.status.ingress[0].conditions[0].message
    );
    assert_eq!(
        kinds(&p),
        ["Secret shop-tls", "ListenerSet shop", "HTTPRoute shop"]
    );
    p
}

/// The Secret's `tls.crt` and `tls.key`.
fn secret(p: &Plan) -> (String, String) {
    let data = &p.objects()[0]["data"];
    let text = |k: &str| {
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            data[k].as_str().expect("data"),
        )
        .expect("base64");
        String::from_utf8(bytes).expect("utf-8")
    };
    (text("tls.crt"), text("tls.key"))
}

const CERTIFICATE: &str = r#"spec.tls.certificate: Invalid value: "redacted certificate data""#;
const KEY: &str = r#"spec.tls.key: Invalid value: "redacted key data""#;

#[test]
fn a_certificate_that_chains_to_its_ca_passes_and_is_served_with_its_key() {
    let root = ca("Shop CA");
    let (certificate, key) = root.sign(|_| {});
    let p = passes(&edge(&certificate, &key, Some(&root.pem)));
    assert_eq!(
        secret(&p),
        (format!("{certificate}{}", root.pem), key.clone()),
        "the certificate, then its CA; the key"
    );

    // An intermediate among the CA certificates is a root of its own (Go's pool is both).
    let intermediate = root.intermediate("Shop Issuing CA");
    let (certificate, key) = intermediate.sign(|_| {});
    passes(&edge(
        &format!("{certificate}{}", intermediate.pem),
        &key,
        Some(&format!("{}{}", intermediate.pem, root.pem)),
    ));
    passes(&edge(&certificate, &key, Some(&intermediate.pem)));

    // Without a CA certificate nothing is verified: a self-signed certificate passes.
    let key = KeyPair::generate().expect("key");
    let own = CertificateParams::new(vec!["shop.example.com".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate")
        .pem();
    passes(&edge(&own, &key.serialize_pem(), None));
    // And so does one listed as its own CA.
    passes(&edge(&own, &key.serialize_pem(), Some(&own)));
}

#[test]
fn a_certificate_that_does_not_parse_is_refused() {
    let (_, key) = ca("Shop CA").sign(|_| {});
    assert_eq!(
        refused(&edge("not a certificate", &key, None)),
        format!(
            "[{CERTIFICATE}: data does not contain any valid RSA or ECDSA certificates, {CERTIFICATE}: the PEM content cannot be null, {KEY}: tls: failed to find any PEM data in certificate input]"
        )
    );
    assert_eq!(
        refused(&edge(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            &key,
            None
        )),
        format!("[{CERTIFICATE}: x509: malformed certificate, {KEY}: x509: malformed certificate]")
    );
    // A block the router does not know.
    let (certificate, key) = ca("Shop CA").sign(|_| {});
    assert_eq!(
        refused(&edge(
            &format!("{certificate}-----BEGIN TRUST ME-----\nAAAA\n-----END TRUST ME-----\n"),
            &key,
            None
        )),
        format!("{CERTIFICATE}: unrecognized PEM block TRUST ME")
    );
}

#[test]
fn a_key_that_does_not_parse_or_is_not_the_certificates_is_refused() {
    let root = ca("Shop CA");
    let (certificate, _) = root.sign(|_| {});
    let (_, other) = root.sign(|_| {});
    assert_eq!(
        refused(&edge(&certificate, &other, Some(&root.pem))),
        format!("{KEY}: tls: private key does not match public key")
    );
    assert_eq!(
        refused(&edge(
            &certificate,
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            None
        )),
        format!(
            "[{KEY}: block RSA PRIVATE KEY is not valid, {KEY}: tls: failed to parse private key]"
        )
    );
    assert_eq!(
        refused(&edge(&certificate, RSA_KEY, None)),
        format!("{KEY}: tls: private key type does not match public key type")
    );
    // The router refuses Ed25519 keys, whatever the certificate.
    let ed25519 = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
    let own = CertificateParams::new(vec!["shop.example.com".to_string()])
        .expect("params")
        .self_signed(&ed25519)
        .expect("certificate")
        .pem();
    assert_eq!(
        refused(&edge(&own, &ed25519.serialize_pem(), None)),
        format!("{KEY}: block private key ed25519.PrivateKey is not valid")
    );
    // No key at all, or no PEM in the key.
    assert_eq!(
        refused(&edge(&certificate, "", None)),
        r#"spec.tls.key: Invalid value: "": no key specified"#
    );
    assert_eq!(
        refused(&edge(&certificate, "KEY", None)),
        r#"spec.tls.key: Invalid value: "": no key specified"#
    );
    // A certificate where the key belongs.
    assert_eq!(
        refused(&edge(&certificate, &certificate, None)),
        format!(
            "[{KEY}: field contains invalid types CERTIFICATE, expecting only PRIVATE KEY, {KEY}: tls: found a certificate rather than a key in the PEM for the private key]"
        )
    );
}

#[test]
fn a_key_given_with_the_certificate_is_served_as_the_key() {
    let (certificate, key) = ca("Shop CA").sign(|_| {});
    let p = passes(&edge(&format!("{key}{certificate}"), "", None));
    assert_eq!(secret(&p), (certificate, key));
}

#[test]
fn an_expired_certificate_is_served_as_the_router_serves_it() {
    let root = ca("Shop CA");
    let (expired, key) = root.sign(|p| {
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2025, 1, 1);
    });
    passes(&edge(&expired, &key, None));
    passes(&edge(&expired, &key, Some(&root.pem)));
    // Go reports the leaf's expiry before it looks for a chain, and the router ignores that
    // error: the CA is never checked.
    passes(&edge(&expired, &key, Some(&ca("Other CA").pem)));
    let (early, key) = root.sign(|p| p.not_before = rcgen::date_time_ymd(2027, 1, 1));
    passes(&edge(&early, &key, Some(&root.pem)));

    // Nor is an expired CA that signed it: Go answers `Expired` for it too.
    let old = ca_with("Shop CA", |p| {
        p.not_after = rcgen::date_time_ymd(2025, 1, 1)
    });
    let (certificate, key) = old.sign(|_| {});
    passes(&edge(&certificate, &key, Some(&old.pem)));
    // But a CA that did not sign it stays unknown, expired or not.
    let (certificate, key) = root.sign(|_| {});
    assert_eq!(
        refused(&edge(&certificate, &key, Some(&old.pem))),
        format!(
            r#"{CERTIFICATE}: error verifying certificate: x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "Shop CA")"#
        )
    );
}

#[test]
fn an_external_certificate_is_not_read_but_the_ca_is_checked() {
    let mut r = edge("", "", Some("not a CA"));
    if let Some(t) = r.spec.tls.as_mut() {
        t.certificate = None;
        t.external_certificate = Some(LocalObjectReference {
            name: "shop-cert".into(),
        });
    }
    assert_eq!(
        refused(&r),
        r#"spec.tls.caCertificate: Invalid value: "redacted ca certificate data": failed to parse CA certificate: data does not contain any valid RSA or ECDSA certificates"#
    );
    if let Some(t) = r.spec.tls.as_mut() {
        t.ca_certificate = None;
    }
    let p = planned(&r);
    assert_eq!(kinds(&p), ["ListenerSet shop", "HTTPRoute shop"]);
}

#[test]
fn a_route_refused_by_extended_validation_keeps_its_host_as_the_router_does() {
    // The router validates after its host index: the older Route holds the host though
    // nothing serves it, and a newer one elsewhere is refused the host.
    let mut older = edge("not a certificate", "", None);
    older.metadata.creation_timestamp = Some(Time(Timestamp::from_second(1).expect("time")));
    let mut newer = hosted(RouteSpec {
        to: target("a", None),
        ..Default::default()
    });
    newer.metadata.namespace = Some("other".into());
    newer.metadata.uid = Some("uid-newer".into());
    newer.metadata.creation_timestamp = Some(Time(Timestamp::from_second(2).expect("time")));
    let a = service("a", json!([{"port": 80}]));
    let p = plan(&Inputs {
        routes: vec![&older, &newer],
        now: now(),
        ..inputs(&newer, vec![&a])
    });
    assert_eq!(admitted(&p), ("False", reason::HOST_ALREADY_CLAIMED));
    let p = plan(&Inputs {
        routes: vec![&older, &newer],
        now: now(),
        ..inputs(&older, vec![&a])
    });
    assert_eq!(admitted(&p), ("False", reason::EXTENDED_VALIDATION_FAILED));
}

#[test]
fn passthrough_is_not_checked() {
    let r = hosted(RouteSpec {
        to: target("a", None),
        tls: tls("passthrough", None),
        ..Default::default()
    });
    let p = planned(&r);
    assert_eq!(kinds(&p), ["TLSRoute shop"]);
}
