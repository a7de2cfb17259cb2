//! OpenShift's router's extended validation (on by default there): an edge or re-encrypt Route's
//! own certificate, key, CA certificate and destination CA certificate are checked before
//! anything serves the Route, and a Route that fails is refused (`ExtendedValidationFailed`)
//! with the router's message: each failing field as Kubernetes words a field error, the data
//! redacted, all of them in one aggregate (`[a, b]` when there are several).
//!
//! The rules, in the router's order:
//! - `caCertificate` must hold certificates that parse, only PEM blocks the router knows, and
//!   no certificate signed (other than by itself) with SHA-1 or MD5. Given one, the
//!   certificate must chain to it (Go's `Verify`): signed by one of the CA certificates (each
//!   is a trust anchor; intermediates in the certificate field do not count), no extension Go
//!   does not know marked critical on either, and `serverAuth` allowed by their extended key
//!   usages. Expiry is never refused: the router ignores Go's `Expired`, which Go reports for
//!   an expired (or not yet valid) certificate before it looks for a chain at all, and for an
//!   expired CA certificate that signed it.
//! - `certificate` must hold certificates that parse, the same signature algorithms, only known
//!   PEM blocks; a private key may ride along in it.
//! - `key` must hold only known PEM blocks, its keys RSA or ECDSA (never Ed25519).
//! - With a certificate there must be a key (in either field), the key field nothing but
//!   private keys, the certificate field nothing but certificates, and the first key must be
//!   the first certificate's (Go's `tls.X509KeyPair`, with its words).
//! - `destinationCACertificate` as `caCertificate`, without a chain to check.
//!
//! Passthrough has none of these (the CRD refuses its certificates, as OpenShift's API server
//! does). An `externalCertificate` Secret's certificate and key are not read here (the router
//! reads and checks them; cutover's plan sees no Secrets), so only the CA fields of such a
//! Route are checked. Host names are not checked against the certificate (nor by the router).
//!
//! What passes is served as the router serves it: the certificate blocks alone, and the key the
//! certificate goes with (from whichever field held it).

mod chain;
mod der;
mod keys;
mod pem;
mod public_key;
mod x509;

use jiff::Timestamp;

use crate::api::conditions::route::EXTENDED_VALIDATION_FAILED;
use crate::api::route::Route;

use super::{Refused, Termination, termination};
use chain::verify;
use keys::{PrivateKey, key_label, pkcs1, pkcs8, sec1};
use pem::{Block, pem, pem_blocks};
use public_key::{Public, public_key_block};
use x509::{Certificate, parse_certificate, parse_certificates};

/// What the router writes in place of each field's data.
const CERTIFICATE_DATA: &str = "redacted certificate data";
const KEY_DATA: &str = "redacted key data";
const CA_DATA: &str = "redacted ca certificate data";
const DESTINATION_CA_DATA: &str = "redacted destination ca certificate data";

/// A Route's own certificate as it is served, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The certificate's blocks (the leaf first, then what it carries of its chain), in PEM.
    pub certificate: String,
    /// The private key of the leaf, in PEM.
    pub key: String,
}

/// The router's extended validation of `route` at `now`: the refusal, or the Route's own
/// certificate as it is served (`None` without one).
pub fn validate(route: &Route, now: Timestamp) -> Result<Option<KeyPair>, Refused> {
    let Some(tls) = &route.spec.tls else {
        return Ok(None);
    };
    if termination(route).0 == Termination::Passthrough {
        return Ok(None);
    }
    fn text(field: &Option<String>) -> &str {
        field.as_deref().unwrap_or_default()
    }
    let (certificate, key) = if tls.external_certificate.is_some() {
        ("", "")
    } else {
        (text(&tls.certificate), text(&tls.key))
    };
    let ca = text(&tls.ca_certificate);
    let destination_ca = text(&tls.destination_ca_certificate);
    let mut errors = Vec::new();

    let ca_blocks = pem_blocks(ca);
    let mut roots = None;
    if !ca.is_empty() {
        match parse_certificates(&ca_blocks) {
            Err(e) => {
                invalid(
                    &mut errors,
                    "caCertificate",
                    CA_DATA,
                    &format!("failed to parse CA certificate: {e}"),
                );
                // The router still verifies the certificate, against no CA at all.
                roots = Some(Vec::new());
            }
            Ok(certs) => {
                if let Err(e) = sanitize(&ca_blocks) {
                    invalid(&mut errors, "caCertificate", CA_DATA, &e);
                }
                if let Err(e) = signature_algorithms(&certs) {
                    invalid(&mut errors, "caCertificate", CA_DATA, &e);
                }
                roots = Some(certs);
            }
        }
    }

    // Each field goes on as the router rewrites it when it passes, else as it was.
    let mut certificate_blocks = pem_blocks(certificate);
    if !certificate.is_empty() {
        let checked = check_certificates(&certificate_blocks, roots.as_deref(), now)
            .and_then(|()| sanitize(&certificate_blocks));
        match checked {
            Ok(sanitized) => certificate_blocks = sanitized,
            Err(e) => invalid(&mut errors, "certificate", CERTIFICATE_DATA, &e),
        }
    }
    let mut key_blocks = pem_blocks(key);
    if !key.is_empty() {
        match sanitize(&key_blocks) {
            Ok(sanitized) => key_blocks = sanitized,
            Err(e) => invalid(&mut errors, "key", KEY_DATA, &e),
        }
    }

    let mut served = None;
    if !certificate.is_empty() {
        let (public, mut private): (Vec<Block>, Vec<Block>) = certificate_blocks
            .into_iter()
            .filter(|b| {
                matches!(
                    b.kind.as_str(),
                    "CERTIFICATE" | "PUBLIC KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"
                )
            })
            .partition(|b| b.kind == "CERTIFICATE" || b.kind == "PUBLIC KEY");
        private.extend(key_blocks);
        if private.is_empty() {
            invalid(&mut errors, "key", "", "no key specified");
        } else {
            if let Err(e) = only(&private, "PRIVATE KEY") {
                invalid(&mut errors, "key", KEY_DATA, &e);
            }
            if let Err(e) = only(&public, "CERTIFICATE") {
                invalid(&mut errors, "certificate", CERTIFICATE_DATA, &e);
            }
            match key_pair(&public, &private) {
                Ok(pair) => served = Some(pair),
                Err(e) => invalid(&mut errors, "key", KEY_DATA, &e),
            }
        }
    }

    if !destination_ca.is_empty() {
        let blocks = pem_blocks(destination_ca);
        match parse_certificates(&blocks) {
            Err(e) => invalid(
                &mut errors,
                "destinationCACertificate",
                DESTINATION_CA_DATA,
                &format!("failed to parse destination CA certificate: {e}"),
            ),
            Ok(certs) => {
                if let Err(e) = sanitize(&blocks) {
                    invalid(
                        &mut errors,
                        "destinationCACertificate",
                        DESTINATION_CA_DATA,
                        &e,
                    );
                }
                if let Err(e) = signature_algorithms(&certs) {
                    invalid(
                        &mut errors,
                        "destinationCACertificate",
                        DESTINATION_CA_DATA,
                        &e,
                    );
                }
            }
        }
    }

    match aggregate(errors) {
        Some(message) => Err((EXTENDED_VALIDATION_FAILED, message)),
        None => Ok(served),
    }
}

/// A field error as Kubernetes words it.
fn invalid(errors: &mut Vec<String>, field: &str, value: &str, detail: &str) {
    errors.push(format!(
        "spec.tls.{field}: Invalid value: {value:?}: {detail}"
    ));
}

/// Several errors as one, as Kubernetes' aggregate says them: each message once, bracketed
/// when there are several.
fn aggregate(messages: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::new();
    for m in messages {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

/// The router's rewriting of a field: every block must be of a type it knows and parse as
/// that type; private keys become RSA or EC keys, `EC PARAMETERS` go.
fn sanitize(blocks: &[Block]) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    for block in blocks {
        let kind = match block.kind.as_str() {
            "RSA PRIVATE KEY" | "ECDSA PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" => {
                let key = pkcs8(&block.der)
                    .or_else(|| pkcs1(&block.der))
                    .or_else(|| sec1(&block.der, None));
                match key {
                    Some(PrivateKey::Rsa { .. }) => "RSA PRIVATE KEY",
                    Some(PrivateKey::Ec { .. }) => "EC PRIVATE KEY",
                    Some(PrivateKey::Ed25519 { .. }) => {
                        return Err("block private key ed25519.PrivateKey is not valid".into());
                    }
                    Some(PrivateKey::X25519) => {
                        return Err("block private key *ecdh.PrivateKey is not valid".into());
                    }
                    None => return Err(format!("block {} is not valid", block.kind)),
                }
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "DSA PUBLIC KEY" | "ECDSA PUBLIC KEY" => {
                public_key_block(&block.der)?;
                "PUBLIC KEY"
            }
            "CERTIFICATE" => {
                parse_certificate(&block.der)?;
                "CERTIFICATE"
            }
            "EC PARAMETERS" => continue,
            other => return Err(format!("unrecognized PEM block {other}")),
        };
        out.push(Block {
            kind: kind.into(),
            headers: false,
            der: block.der.clone(),
        });
    }
    Ok(out)
}

/// Every block's type must contain `kind`, and there must be a block.
fn only(blocks: &[Block], kind: &str) -> Result<(), String> {
    if blocks.is_empty() {
        return Err("the PEM content cannot be null".into());
    }
    match blocks.iter().find(|b| !b.kind.contains(kind)) {
        Some(b) => Err(format!(
            "field contains invalid types {}, expecting only {kind}",
            b.kind
        )),
        None => Ok(()),
    }
}

/// The router's check of the certificate field: its certificates parse, none is signed with
/// an algorithm the router refuses, and given CA certificates the first chains to them.
fn check_certificates(
    blocks: &[Block],
    roots: Option<&[Certificate<'_>]>,
    now: Timestamp,
) -> Result<(), String> {
    let certs = parse_certificates(blocks)?;
    signature_algorithms(&certs)?;
    if let (Some(roots), Some(first)) = (roots, certs.first()) {
        verify(first, roots, now).map_err(|e| format!("error verifying certificate: {e}"))?;
    }
    Ok(())
}

/// The router refuses certificates signed by a CA with SHA-1 or MD5 (HAProxy would not start,
/// or would not use them); a self-signed one may be. (It names MD2 too, but Go no longer knows
/// MD2: such a certificate's algorithm is unknown to it, and passes.)
fn signature_algorithms(certs: &[Certificate<'_>]) -> Result<(), String> {
    let refused = certs
        .iter()
        .filter(|c| !c.self_signed())
        .filter_map(|c| match c.signature().0 {
            "SHA1-RSA" | "ECDSA-SHA1" | "DSA-SHA1" => Some("SHA1"),
            "MD5-RSA" => Some("MD5"),
            _ => None,
        })
        .map(|hash| format!("router does not support CA-signed certs using {hash}"))
        .collect();
    aggregate(refused).map_or(Ok(()), Err)
}

/// Go's `tls.X509KeyPair`: the first certificate and the first private key must go together.
fn key_pair(certs: &[Block], keys: &[Block]) -> Result<KeyPair, String> {
    let mut skipped: Vec<&str> = Vec::new();
    let mut chain: Vec<&Block> = Vec::new();
    for b in certs {
        if b.kind == "CERTIFICATE" {
            chain.push(b);
        } else {
            skipped.push(&b.kind);
        }
    }
    let Some(leaf) = chain.first() else {
        return Err(match skipped.as_slice() {
            [] => "tls: failed to find any PEM data in certificate input".into(),
            [one] if one.ends_with("PRIVATE KEY") => "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched".into(),
            _ => format!(
                "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [{}]",
                skipped.join(" ")
            ),
        });
    };
    let mut skipped: Vec<&str> = Vec::new();
    let mut found = None;
    for b in keys {
        if b.kind == "PRIVATE KEY" || b.kind.ends_with(" PRIVATE KEY") {
            found = Some(b);
            break;
        }
        skipped.push(&b.kind);
    }
    let Some(key) = found else {
        return Err(match skipped.as_slice() {
            [] => "tls: failed to find any PEM data in key input".into(),
            ["CERTIFICATE"] => {
                "tls: found a certificate rather than a key in the PEM for the private key".into()
            }
            _ => format!(
                "tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [{}]",
                skipped.join(" ")
            ),
        });
    };
    let certificate = parse_certificate(&leaf.der)?;
    let private = match pkcs1(&key.der).or_else(|| pkcs8(&key.der)) {
        Some(PrivateKey::X25519) => {
            return Err("tls: found unknown private key type in PKCS#8 wrapping".into());
        }
        Some(k) => k,
        None => sec1(&key.der, None).ok_or("tls: failed to parse private key")?,
    };
    const TYPE: &str = "tls: private key type does not match public key type";
    const MISMATCH: &str = "tls: private key does not match public key";
    match (certificate.public(), &private) {
        (Public::Rsa(n), PrivateKey::Rsa { modulus }) => {
            if n != modulus.as_slice() {
                return Err(MISMATCH.into());
            }
        }
        (Public::Ec(_, point), PrivateKey::Ec { public }) => {
            if public.as_deref().is_some_and(|p| !same_point(point, p)) {
                return Err(MISMATCH.into());
            }
        }
        (Public::Ed25519(k), PrivateKey::Ed25519 { public }) => {
            if k != public.as_slice() {
                return Err(MISMATCH.into());
            }
        }
        (Public::Rsa(_) | Public::Ec(..) | Public::Ed25519(_), _) => return Err(TYPE.into()),
        _ => return Err("tls: unknown public key algorithm".into()),
    }
    Ok(KeyPair {
        certificate: chain.iter().map(|b| pem("CERTIFICATE", &b.der)).collect(),
        key: pem(key_label(&key.der), &key.der),
    })
}

/// Whether an uncompressed point and a point as a key carries it are the same.
fn same_point(uncompressed: &[u8], other: &[u8]) -> bool {
    match other.split_first() {
        Some((4, _)) => uncompressed == other,
        Some((&prefix @ (2 | 3), x)) => {
            let size = (uncompressed.len() - 1) / 2;
            uncompressed.get(1..=size) == Some(x)
                && uncompressed.last().is_some_and(|y| y & 1 == prefix & 1)
        }
        _ => false,
    }
}
