//! Private keys as Go's parsers take them (PKCS #1, PKCS #8, SEC 1), read with a small DER
//! reader.

use ring::signature::{Ed25519KeyPair, KeyPair as _};

use super::der::{BIT_STRING, Der, INTEGER, OCTET_STRING, OID, SEQUENCE, sequence, strip_zeros};
use super::public_key::Curve;

/// A private key, as far as matching it to a certificate goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PrivateKey {
    Rsa {
        modulus: Vec<u8>,
    },
    /// The public point the key carries (Go computes it; keys written by OpenSSL, Go, ring and
    /// rcgen all carry it).
    Ec {
        public: Option<Vec<u8>>,
    },
    Ed25519 {
        public: Vec<u8>,
    },
    X25519,
}

/// The PEM type of a private key's DER.
pub(super) fn key_label(der: &[u8]) -> &'static str {
    if pkcs1(der).is_some() {
        "RSA PRIVATE KEY"
    } else if pkcs8(der).is_some() {
        "PRIVATE KEY"
    } else {
        "EC PRIVATE KEY"
    }
}

/// An RSA private key (PKCS #1) as Go's parser takes it.
pub(super) fn pkcs1(der: &[u8]) -> Option<PrivateKey> {
    let (mut key, rest) = sequence(der)?;
    if !rest.is_empty() {
        return None;
    }
    let version = key.expect(INTEGER)?;
    let n = key.expect(INTEGER)?;
    let _e = key.expect(INTEGER)?;
    let d = key.expect(INTEGER)?;
    let p = key.expect(INTEGER)?;
    let q = key.expect(INTEGER)?;
    if !matches!(version, [0] | [1]) || ![n, d, p, q].iter().all(|i| positive(i)) {
        return None;
    }
    Some(PrivateKey::Rsa {
        modulus: strip_zeros(n).to_vec(),
    })
}

/// A PKCS #8 private key as Go's parser takes it: RSA, ECDSA, Ed25519 or X25519.
pub(super) fn pkcs8(der: &[u8]) -> Option<PrivateKey> {
    let (mut info, _) = sequence(der)?;
    info.expect(INTEGER)?;
    let mut algorithm = Der(info.expect(SEQUENCE)?);
    let oid = dotted(algorithm.expect(OID)?);
    let parameters = algorithm.0;
    let inner = info.expect(OCTET_STRING)?;
    match oid.as_str() {
        "1.2.840.113549.1.1.1" => pkcs1(inner),
        "1.2.840.10045.2.1" => sec1(inner, Der(parameters).expect(OID)),
        "1.3.101.112" => {
            let seed = Der(inner).expect(OCTET_STRING)?;
            if !parameters.is_empty() || seed.len() != 32 {
                return None;
            }
            let pair = Ed25519KeyPair::from_seed_unchecked(seed).ok()?;
            Some(PrivateKey::Ed25519 {
                public: pair.public_key().as_ref().to_vec(),
            })
        }
        "1.3.101.110" => {
            (Der(inner).expect(OCTET_STRING)?.len() == 32).then_some(PrivateKey::X25519)
        }
        _ => None,
    }
}

/// An EC private key (SEC 1) as Go's parser takes it; its curve is the PKCS #8 wrapping's
/// when there is one.
pub(super) fn sec1(der: &[u8], wrapping_curve: Option<&[u8]>) -> Option<PrivateKey> {
    let (mut key, _) = sequence(der)?;
    if key.expect(INTEGER)? != [1] {
        return None;
    }
    let mut scalar = key.expect(OCTET_STRING)?;
    let named = key
        .optional(0xa0)
        .map(|explicit| Der(explicit).expect(OID))
        .map(|oid| oid.map(dotted));
    let public = key
        .optional(0xa1)
        .and_then(|explicit| Der(explicit).expect(BIT_STRING))
        .and_then(|bits| bits.split_first())
        .filter(|(unused, _)| **unused == 0)
        .map(|(_, point)| point.to_vec());
    let curve = match wrapping_curve {
        Some(oid) => Curve::from_oid(&dotted(oid)),
        None => Curve::from_oid(&named??),
    }?;
    while scalar.len() > curve.size() {
        if scalar[0] != 0 {
            return None;
        }
        scalar = &scalar[1..];
    }
    if scalar.iter().all(|&b| b == 0) {
        return None;
    }
    Some(PrivateKey::Ec { public })
}

fn positive(int: &[u8]) -> bool {
    int.first().is_some_and(|b| b & 0x80 == 0) && int.iter().any(|&b| b != 0)
}

/// An OBJECT IDENTIFIER's contents, dotted.
fn dotted(contents: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in contents {
        value = value << 7 | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}
