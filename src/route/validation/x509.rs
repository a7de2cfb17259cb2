//! Certificates as Go's `crypto/x509` parses and verifies them, as far as the router's checks
//! go: x509-parser reads them, ring checks their signatures.

use jiff::Timestamp;
use ring::signature::{self, VerificationAlgorithm};
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
use x509_parser::signature_algorithm::SignatureAlgorithm;
use x509_parser::x509::AlgorithmIdentifier;

use super::pem::Block;
use super::public_key::{Algorithm, Curve, Public, public_key};

/// A parsed certificate and its DER.
pub(super) struct Certificate<'a> {
    pub(super) raw: &'a [u8],
    pub(super) x509: X509Certificate<'a>,
}

/// Go's `x509.ParseCertificate`, as far as its refusals go; the message is Go's.
pub(super) fn parse_certificate(der: &[u8]) -> Result<Certificate<'_>, String> {
    let (rest, x509) =
        X509Certificate::from_der(der).map_err(|_| "x509: malformed certificate".to_string())?;
    if !rest.is_empty() {
        return Err("x509: trailing data".into());
    }
    if x509.raw_serial().first().is_some_and(|b| b & 0x80 != 0) {
        return Err("x509: negative serial number".into());
    }
    if x509.tbs_certificate.extensions_map().is_err() {
        return Err("x509: certificate contains duplicate extensions".into());
    }
    public_key(x509.public_key())?;
    Ok(Certificate {
        raw: &der[..der.len() - rest.len()],
        x509,
    })
}

/// Go's `ParseCertsPEM`: the certificates of the `CERTIFICATE` blocks without headers; one at
/// least, each parsing.
pub(super) fn parse_certificates(blocks: &[Block]) -> Result<Vec<Certificate<'_>>, String> {
    let mut certs = Vec::new();
    for block in blocks {
        if block.kind != "CERTIFICATE" || block.headers {
            continue;
        }
        certs.push(parse_certificate(&block.der)?);
    }
    if certs.is_empty() {
        return Err("data does not contain any valid RSA or ECDSA certificates".into());
    }
    Ok(certs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hash {
    None,
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// A signature algorithm: Go's name for it, its hash, the key algorithm it needs (those Go does
/// not know, MD2 among them, are `Unknown`).
pub(super) fn signature_algorithm(
    identifier: &AlgorithmIdentifier<'_>,
) -> (&'static str, Hash, Algorithm) {
    use Algorithm::{Dsa, Ecdsa, Ed25519, Rsa, Unknown};
    match identifier.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.4" => ("MD5-RSA", Hash::Md5, Rsa),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => ("SHA1-RSA", Hash::Sha1, Rsa),
        "1.2.840.113549.1.1.11" => ("SHA256-RSA", Hash::Sha256, Rsa),
        "1.2.840.113549.1.1.12" => ("SHA384-RSA", Hash::Sha384, Rsa),
        "1.2.840.113549.1.1.13" => ("SHA512-RSA", Hash::Sha512, Rsa),
        "1.2.840.113549.1.1.10" => match SignatureAlgorithm::try_from(identifier) {
            Ok(SignatureAlgorithm::RSASSA_PSS(params)) => {
                match params.hash_algorithm_oid().to_id_string().as_str() {
                    "2.16.840.1.101.3.4.2.1" => ("SHA256-RSAPSS", Hash::Sha256, Rsa),
                    "2.16.840.1.101.3.4.2.2" => ("SHA384-RSAPSS", Hash::Sha384, Rsa),
                    "2.16.840.1.101.3.4.2.3" => ("SHA512-RSAPSS", Hash::Sha512, Rsa),
                    _ => ("0", Hash::None, Unknown),
                }
            }
            _ => ("0", Hash::None, Unknown),
        },
        "1.2.840.10040.4.3" => ("DSA-SHA1", Hash::Sha1, Dsa),
        "2.16.840.1.101.3.4.3.2" => ("DSA-SHA256", Hash::Sha256, Dsa),
        "1.2.840.10045.4.1" => ("ECDSA-SHA1", Hash::Sha1, Ecdsa),
        "1.2.840.10045.4.3.2" => ("ECDSA-SHA256", Hash::Sha256, Ecdsa),
        "1.2.840.10045.4.3.3" => ("ECDSA-SHA384", Hash::Sha384, Ecdsa),
        "1.2.840.10045.4.3.4" => ("ECDSA-SHA512", Hash::Sha512, Ecdsa),
        "1.3.101.112" => ("Ed25519", Hash::None, Ed25519),
        _ => ("0", Hash::None, Unknown),
    }
}

/// The extensions Go's parser understands; any other marked critical fails verification.
const HANDLED_EXTENSIONS: &[&str] = &[
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.31",
    "2.5.29.32",
    "2.5.29.33",
    "2.5.29.35",
    "2.5.29.36",
    "2.5.29.37",
    "2.5.29.54",
    "1.3.6.1.5.5.7.1.1",
];

const CANNOT_SIGN: &str =
    "x509: invalid signature: parent certificate cannot sign this kind of certificate";

const UNIMPLEMENTED: &str = "x509: cannot verify signature: algorithm unimplemented";

impl Certificate<'_> {
    pub(super) fn subject(&self) -> &[u8] {
        self.x509.tbs_certificate.subject.as_raw()
    }

    pub(super) fn issuer(&self) -> &[u8] {
        self.x509.tbs_certificate.issuer.as_raw()
    }

    pub(super) fn public(&self) -> Public<'_> {
        public_key(self.x509.public_key()).unwrap_or(Public::Unknown)
    }

    pub(super) fn signature(&self) -> (&'static str, Hash, Algorithm) {
        signature_algorithm(&self.x509.signature_algorithm)
    }

    pub(super) fn subject_key_id(&self) -> Option<&[u8]> {
        self.x509
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0),
                _ => None,
            })
    }

    pub(super) fn authority_key_id(&self) -> Option<&[u8]> {
        self.x509
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
                _ => None,
            })
            .map(|id| id.0)
    }

    pub(super) fn subject_alt_names(&self) -> Option<&[u8]> {
        self.x509
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "2.5.29.17")
            .map(|e| e.value)
    }

    /// OpenSSL's (and the router's) notion of self-signed: issued by its own subject, with its
    /// own key identifier if it names one, signed with the kind of key it holds.
    pub(super) fn self_signed(&self) -> bool {
        let aki = self.authority_key_id();
        self.issuer() == self.subject()
            && (aki.is_none() || aki == self.subject_key_id())
            && self.signature().2 == self.public().algorithm()
    }

    pub(super) fn unhandled_critical_extension(&self) -> bool {
        self.x509
            .extensions()
            .iter()
            .any(|e| e.critical && !HANDLED_EXTENSIONS.contains(&e.oid.to_id_string().as_str()))
    }

    /// Whether `now` is within the certificate's validity.
    pub(super) fn valid_at(&self, now: Timestamp) -> bool {
        let validity = self.x509.validity();
        let second = now.as_second();
        second >= validity.not_before.timestamp()
            && (second < validity.not_after.timestamp()
                || (second == validity.not_after.timestamp() && now.subsec_nanosecond() == 0))
    }

    /// Whether the certificate's extended key usages, if it lists any, allow serving TLS.
    pub(super) fn serves(&self) -> bool {
        match self.x509.extended_key_usage() {
            Ok(Some(eku)) => {
                let u = eku.value;
                let listed = u.any
                    || u.server_auth
                    || u.client_auth
                    || u.code_signing
                    || u.email_protection
                    || u.time_stamping
                    || u.ocsp_signing
                    || !u.other.is_empty();
                !listed || u.any || u.server_auth
            }
            _ => true,
        }
    }

    /// How Go names the certificate in an unknown-authority hint.
    pub(super) fn name(&self) -> String {
        let subject = &self.x509.tbs_certificate.subject;
        subject
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .last()
            .filter(|cn| !cn.is_empty())
            .or_else(|| subject.iter_organization().find_map(|a| a.as_str().ok()))
            .map(str::to_string)
            .unwrap_or_else(|| format!("serial:{}", self.x509.tbs_certificate.serial))
    }

    /// Go's `CheckSignatureFrom`: whether `parent` signed this certificate.
    pub(super) fn signed_by(&self, parent: &Certificate<'_>) -> Result<(), String> {
        let constraints = parent.x509.basic_constraints().ok().flatten();
        if (parent.x509.version().0 == 2 && constraints.is_none())
            || constraints.is_some_and(|c| !c.value.ca)
        {
            return Err(CANNOT_SIGN.into());
        }
        if let Ok(Some(usage)) = parent.x509.key_usage()
            && usage.value.flags != 0
            && !usage.value.key_cert_sign()
        {
            return Err(CANNOT_SIGN.into());
        }
        let key = parent.public();
        if key.algorithm() == Algorithm::Unknown {
            return Err(UNIMPLEMENTED.into());
        }
        let (name, hash, algorithm) = self.signature();
        match hash {
            Hash::None if algorithm != Algorithm::Ed25519 => return Err(UNIMPLEMENTED.into()),
            Hash::Md5 | Hash::Sha1 => {
                return Err(format!(
                    "x509: cannot verify signature: insecure algorithm {name}"
                ));
            }
            _ => {}
        }
        let failure = match key {
            Public::Dsa | Public::Unknown => return Err(UNIMPLEMENTED.into()),
            _ if key.algorithm() != algorithm => {
                return Err(format!(
                    "x509: signature algorithm specifies an {} public key, but have public key of type {}",
                    algorithm.name(),
                    key.algorithm().key_type()
                ));
            }
            Public::Rsa(_) => "crypto/rsa: verification error",
            Public::Ec(..) => "x509: ECDSA verification failure",
            Public::Ed25519(_) => "x509: Ed25519 verification failure",
        };
        // What ring cannot check (P-224 and P-521 keys, ECDSA with SHA-512, RSA keys outside
        // its sizes) is taken as signed rather than refused.
        let Some(verifier) = verifier(name, &key) else {
            return Ok(());
        };
        signature::UnparsedPublicKey::new(
            verifier,
            &parent.x509.public_key().subject_public_key.data,
        )
        .verify(
            self.x509.tbs_certificate.as_ref(),
            &self.x509.signature_value.data,
        )
        .map_err(|_| failure.to_string())
    }
}

/// ring's verification of signature algorithm `name` by `key`, where ring has one.
fn verifier(name: &str, key: &Public<'_>) -> Option<&'static dyn VerificationAlgorithm> {
    let bits = match key {
        Public::Rsa(modulus) => {
            modulus.len() * 8 - modulus.first().map_or(8, |b| b.leading_zeros() as usize)
        }
        _ => 0,
    };
    let curve = match key {
        Public::Ec(curve, _) => Some(*curve),
        _ => None,
    };
    let rsa = (1024..=8192).contains(&bits);
    let rsa2048 = (2048..=8192).contains(&bits);
    Some(match (name, curve) {
        ("SHA256-RSA", _) if rsa => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        ("SHA384-RSA", _) if rsa2048 => &signature::RSA_PKCS1_2048_8192_SHA384,
        ("SHA512-RSA", _) if rsa => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        ("SHA256-RSAPSS", _) if rsa2048 => &signature::RSA_PSS_2048_8192_SHA256,
        ("SHA384-RSAPSS", _) if rsa2048 => &signature::RSA_PSS_2048_8192_SHA384,
        ("SHA512-RSAPSS", _) if rsa2048 => &signature::RSA_PSS_2048_8192_SHA512,
        ("ECDSA-SHA256", Some(Curve::P256)) => &signature::ECDSA_P256_SHA256_ASN1,
        ("ECDSA-SHA384", Some(Curve::P256)) => &signature::ECDSA_P256_SHA384_ASN1,
        ("ECDSA-SHA256", Some(Curve::P384)) => &signature::ECDSA_P384_SHA256_ASN1,
        ("ECDSA-SHA384", Some(Curve::P384)) => &signature::ECDSA_P384_SHA384_ASN1,
        ("Ed25519", _) => &signature::ED25519,
        _ => return None,
    })
}
