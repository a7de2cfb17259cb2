//! Public keys as Go's `crypto/x509` parses them: the algorithm, the curve, the key itself, and
//! Go's refusals, for certificates (x509.rs) and private keys (keys.rs) to be checked against.

use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::der::{INTEGER, sequence, strip_zeros};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    Rsa,
    Dsa,
    Ecdsa,
    Ed25519,
    Unknown,
}

impl Algorithm {
    /// As Go names the algorithm.
    pub(super) fn name(self) -> &'static str {
        match self {
            Algorithm::Rsa => "RSA",
            Algorithm::Dsa => "DSA",
            Algorithm::Ecdsa => "ECDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Unknown => "unknown",
        }
    }

    /// As Go names the type of a public key of the algorithm.
    pub(super) fn key_type(self) -> &'static str {
        match self {
            Algorithm::Rsa => "*rsa.PublicKey",
            Algorithm::Dsa => "*dsa.PublicKey",
            Algorithm::Ecdsa => "*ecdsa.PublicKey",
            Algorithm::Ed25519 => "ed25519.PublicKey",
            Algorithm::Unknown => "<nil>",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    P224,
    P256,
    P384,
    P521,
}

impl Curve {
    pub(super) fn from_oid(oid: &str) -> Option<Curve> {
        match oid {
            "1.3.132.0.33" => Some(Curve::P224),
            "1.2.840.10045.3.1.7" => Some(Curve::P256),
            "1.3.132.0.34" => Some(Curve::P384),
            "1.3.132.0.35" => Some(Curve::P521),
            _ => None,
        }
    }

    /// The size of a scalar or coordinate, in bytes.
    pub(super) fn size(self) -> usize {
        match self {
            Curve::P224 => 28,
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// A certificate's public key, as far as the checks need it.
pub(super) enum Public<'a> {
    Rsa(&'a [u8]),
    Ec(Curve, &'a [u8]),
    Ed25519(&'a [u8]),
    Dsa,
    /// Go parses the certificate but leaves its key out.
    Unknown,
}

impl Public<'_> {
    pub(super) fn algorithm(&self) -> Algorithm {
        match self {
            Public::Rsa(_) => Algorithm::Rsa,
            Public::Ec(..) => Algorithm::Ecdsa,
            Public::Ed25519(_) => Algorithm::Ed25519,
            Public::Dsa => Algorithm::Dsa,
            Public::Unknown => Algorithm::Unknown,
        }
    }
}

/// The public key of `spki`, or why Go would not parse it.
pub(super) fn public_key<'a>(spki: &'a SubjectPublicKeyInfo<'_>) -> Result<Public<'a>, String> {
    let bits: &'a [u8] = &spki.subject_public_key.data;
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                let modulus = strip_zeros(rsa.modulus);
                if modulus.is_empty() || rsa.modulus.first().is_some_and(|b| b & 0x80 != 0) {
                    return Err("x509: RSA modulus is not a positive number".into());
                }
                Ok(Public::Rsa(modulus))
            }
            _ => Err("x509: invalid RSA public key".into()),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .and_then(|oid| Curve::from_oid(&oid.to_id_string()))
                .ok_or("x509: unsupported elliptic curve")?;
            if bits.len() != 1 + 2 * curve.size() || bits[0] != 4 {
                return Err("x509: failed to unmarshal elliptic curve point".into());
            }
            Ok(Public::Ec(curve, bits))
        }
        "1.3.101.112" => {
            if bits.len() != 32 {
                return Err("x509: wrong Ed25519 public key size".into());
            }
            Ok(Public::Ed25519(bits))
        }
        "1.2.840.10040.4.1" => Ok(Public::Dsa),
        _ => Ok(Public::Unknown),
    }
}

/// A PEM public key block as Go's `ParsePKIXPublicKey` (and re-marshaling) takes it.
pub(super) fn public_key_block(der: &[u8]) -> Result<(), String> {
    match SubjectPublicKeyInfo::from_der(der) {
        Ok(([], spki)) => match public_key(&spki)? {
            Public::Unknown if spki.algorithm.algorithm.to_id_string() != "1.3.101.110" => {
                Err("x509: unknown public key algorithm".into())
            }
            Public::Dsa => Err("x509: unsupported public key type: *dsa.PublicKey".into()),
            _ => Ok(()),
        },
        Ok(_) => Err("x509: trailing data after ASN.1 of public-key".into()),
        Err(_) => {
            let pkcs1 = sequence(der).and_then(|(mut s, _)| {
                s.expect(INTEGER)?;
                s.expect(INTEGER)
            });
            Err(if pkcs1.is_some() {
                "x509: failed to parse public key (use ParsePKCS1PublicKey instead for this key format)"
            } else {
                "x509: malformed public key"
            }
            .into())
        }
    }
}
