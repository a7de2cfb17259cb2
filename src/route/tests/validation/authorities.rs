//! The CAs of extended validation: a certificate must chain to its `caCertificate`, no CA may
//! sign with SHA-1 or MD5, and a `destinationCACertificate` must hold certificates that parse.

use super::*;

#[test]
fn a_ca_certificate_that_did_not_sign_the_certificate_is_refused() {
    let root = ca("Shop CA");
    let (certificate, key) = root.sign(|_| {});
    let unknown = format!(
        "{CERTIFICATE}: error verifying certificate: x509: certificate signed by unknown authority"
    );
    assert_eq!(
        refused(&edge(&certificate, &key, Some(&ca("Other CA").pem))),
        unknown
    );
    // A CA of the same name is tried, and Go says why it failed.
    assert_eq!(
        refused(&edge(&certificate, &key, Some(&ca("Shop CA").pem))),
        format!(
            r#"{unknown} (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "Shop CA")"#
        )
    );
    // The router verifies against the CA certificates alone: an intermediate carried in the
    // certificate field does not count.
    let intermediate = root.intermediate("Shop Issuing CA");
    let (leaf, leaf_key) = intermediate.sign(|_| {});
    assert_eq!(
        refused(&edge(
            &format!("{leaf}{}", intermediate.pem),
            &leaf_key,
            Some(&root.pem)
        )),
        unknown
    );
    // A CA certificate that does not parse: the certificate is verified against none.
    assert_eq!(
        refused(&edge(&certificate, &key, Some("not a CA"))),
        format!(
            r#"[spec.tls.caCertificate: Invalid value: "redacted ca certificate data": failed to parse CA certificate: data does not contain any valid RSA or ECDSA certificates, {unknown}]"#
        )
    );
    // The chain must allow serving TLS.
    let (client, key) =
        root.sign(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]);
    assert_eq!(
        refused(&edge(&client, &key, Some(&root.pem))),
        format!(
            "{CERTIFICATE}: error verifying certificate: x509: certificate specifies an incompatible key usage"
        )
    );
    let (server, key) =
        root.sign(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]);
    passes(&edge(&server, &key, Some(&root.pem)));
    // An extension Go does not know, marked critical.
    let (critical, key) = root.sign(|p| {
        let mut extension =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![5, 0]);
        extension.set_criticality(true);
        p.custom_extensions.push(extension);
    });
    assert_eq!(
        refused(&edge(&critical, &key, Some(&root.pem))),
        format!("{CERTIFICATE}: error verifying certificate: x509: unhandled critical extension")
    );
    // Not checked without a CA certificate.
    passes(&edge(&critical, &key, None));
    // Nor may the CA carry one.
    let strict = ca_with("Strict CA", |p| {
        let mut extension =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![5, 0]);
        extension.set_criticality(true);
        p.custom_extensions.push(extension);
    });
    let (certificate, key) = strict.sign(|_| {});
    assert_eq!(
        refused(&edge(&certificate, &key, Some(&strict.pem))),
        format!("{CERTIFICATE}: error verifying certificate: x509: unhandled critical extension")
    );
}

/// `certificate` as if signed with SHA-1 and RSA: the algorithm's OID in it rewritten (its
/// signature no longer checks, which the router's rule does not look at).
fn sha1(certificate: &str) -> String {
    let der = CertificateDer::from_pem_slice(certificate.as_bytes()).expect("certificate");
    let sha256 = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
    ];
    let mut der = der.to_vec();
    let mut replaced = 0;
    for i in 0..der.len() - sha256.len() {
        if der[i..i + sha256.len()] == sha256 {
            der[i + sha256.len() - 1] = 0x05;
            replaced += 1;
        }
    }
    assert_eq!(replaced, 2, "the signature algorithm, inside and out");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64"))
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn certificates_a_ca_signed_with_sha1_are_refused_self_signed_ones_are_not() {
    let rsa = KeyPair::from_pem_and_sign_algo(RSA_KEY, &rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "Old CA");
    let old = Issuer::new(params, rsa);
    let key = KeyPair::generate().expect("key");
    let certificate = CertificateParams::new(vec!["shop.example.com".to_string()])
        .expect("params")
        .signed_by(&key, &old)
        .expect("sign")
        .pem();
    assert_eq!(
        refused(&edge(&sha1(&certificate), &key.serialize_pem(), None)),
        format!("{CERTIFICATE}: router does not support CA-signed certs using SHA1")
    );

    let rsa = KeyPair::from_pem_and_sign_algo(RSA_KEY, &rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let own = CertificateParams::new(vec!["shop.example.com".to_string()])
        .expect("params")
        .self_signed(&rsa)
        .expect("certificate")
        .pem();
    passes(&edge(&sha1(&own), RSA_KEY, None));
}

#[test]
fn an_invalid_destination_ca_is_refused() {
    let reencrypt = |destination: &str| {
        hosted(RouteSpec {
            to: target("a", None),
            tls: Some(TlsConfig {
                termination: "reencrypt".into(),
                destination_ca_certificate: Some(destination.into()),
                ..Default::default()
            }),
            ..Default::default()
        })
    };
    const DESTINATION: &str = r#"spec.tls.destinationCACertificate: Invalid value: "redacted destination ca certificate data""#;
    let r = reencrypt("not a CA");
    let p = planned(&r);
    assert_eq!(admitted(&p), ("False", reason::EXTENDED_VALIDATION_FAILED));
    assert!(p.objects().is_empty());
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        format!(
            "{DESTINATION}: failed to parse destination CA certificate: data does not contain any valid RSA or ECDSA certificates"
        )
    );
    let root = ca("Backend CA");
    let p = planned(&reencrypt(&format!(
        "{}-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        root.pem
    )));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        format!("{DESTINATION}: unrecognized PEM block CERTIFICATE REQUEST")
    );
    let p = planned(&reencrypt(&root.pem));
    assert_eq!(
        kinds(&p),
        [
            "ConfigMap shop-destination-ca",
            "BackendTLSPolicy shop-a",
            "HTTPRoute shop"
        ]
    );
}
