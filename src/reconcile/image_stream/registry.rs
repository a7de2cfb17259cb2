//! Reaching registries for the importer: a client per import with the namespace's
//! credentials and the operator's extra CA, and what a registry's answer becomes in OpenShift's
//! words (the tag's ImportSuccess=False reason and message).

use std::time::Duration;

use jiff::SignedDuration;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, client::ClientConfig, client::ClientProtocol};

use crate::image::credentials::Keyring;
use crate::image::import::{Failure, Import, Outcome};

/// How long one registry may take to answer one tag.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);
/// The least wait after a registry said "too many requests" (it does not tell how long).
const RATE_LIMITED_WAIT: SignedDuration = SignedDuration::from_secs(60);

/// How the importer reaches registries: verifying certificates against the system's roots and
/// the operator's extra CA; for `importPolicy.insecure` tags also without verification, and
/// over plain HTTP for registries that speak no TLS at all.
///
/// A client per import: oci-client keeps the first credentials it is given for a registry
/// (and the tokens they earn), and the next import may be another namespace's, with other
/// credentials, or the same namespace's after its pull Secret changed.
pub struct Registries {
    extra_roots: Vec<oci_client::client::Certificate>,
    /// Whether the system's CA certificates load. An image without a CA bundle (a scratch or
    /// busybox base) has none: then only the extra CA is trusted, and without one every TLS
    /// import fails with a reason rather than the operator not starting.
    system_roots: bool,
}

#[derive(Clone, Copy)]
enum Transport {
    Verified,
    Unverified,
    Plain,
}

impl Registries {
    /// `extra_ca`: PEM certificates trusted besides the system's (OpenShift's
    /// `image.config.openshift.io` `additionalTrustedCA`). Fails on certificates that do not
    /// load, at start rather than at the first import.
    pub fn new(extra_ca: &[u8]) -> Result<Self, String> {
        let mut registries = Registries {
            extra_roots: pem_certificates(extra_ca),
            system_roots: true,
        };
        let Err(system) = registries.client(Transport::Verified) else {
            return Ok(registries);
        };
        registries.system_roots = false;
        match registries.client(Transport::Verified) {
            Ok(_) => tracing::warn!(
                error = %system,
                "the system's CA certificates do not load: registries are verified with --registry-ca only"
            ),
            Err(_) if registries.extra_roots.is_empty() => tracing::warn!(
                error = %system,
                "no CA certificates: image imports over TLS fail until the image has a CA bundle or --registry-ca gives one"
            ),
            Err(extra) => return Err(extra),
        }
        Ok(registries)
    }

    fn client(&self, transport: Transport) -> Result<oci_client::Client, String> {
        if !self.system_roots
            && self.extra_roots.is_empty()
            && matches!(transport, Transport::Verified)
        {
            return Err("no CA certificates to verify the registry with: none in the operator image's system store, and no --registry-ca".into());
        }
        let (extra, only) = if self.system_roots {
            (self.extra_roots.clone(), Vec::new())
        } else {
            (Vec::new(), self.extra_roots.clone())
        };
        let config = ClientConfig {
            read_timeout: Some(REGISTRY_TIMEOUT),
            connect_timeout: Some(Duration::from_secs(10)),
            user_agent: concat!("cutover/", env!("CARGO_PKG_VERSION")),
            extra_root_certificates: extra,
            tls_certs_only: only,
            accept_invalid_certificates: matches!(transport, Transport::Unverified),
            protocol: match transport {
                Transport::Plain => ClientProtocol::Http,
                _ => ClientProtocol::Https,
            },
            ..ClientConfig::default()
        };
        // Not `Client::new`: it falls back to defaults on a bad configuration, silently
        // dropping the extra CA.
        oci_client::Client::try_from(config)
            .map_err(|e| format!("cannot build the registry client: {}", chain(&e)))
    }

    /// The digest the registry serves for `import.from`, or why not.
    pub async fn digest(&self, import: &Import, keyring: &Keyring) -> Outcome {
        let reference: Reference = match import.from.parse() {
            Ok(r) => r,
            Err(e) => {
                return failed(
                    "Invalid",
                    format!(
                        "from.name: Invalid value: \"{}\": invalid name: {e}",
                        import.from
                    ),
                );
            }
        };
        let credential = keyring.lookup(reference.registry(), reference.repository());
        let auth = credential.map_or(RegistryAuth::Anonymous, |c| {
            RegistryAuth::Basic(c.username.clone(), c.password.clone())
        });
        let mut result = self.head(Transport::Verified, &reference, &auth).await;
        if import.insecure {
            for transport in [Transport::Unverified, Transport::Plain] {
                if matches!(result, Err(Fetch::Unreachable(_))) {
                    result = self.head(transport, &reference, &auth).await;
                }
            }
        }
        match result {
            Ok(digest) => Outcome::Imported { digest },
            Err(e) => Outcome::Failed(e.failure(&reference, credential.is_some())),
        }
    }

    async fn head(
        &self,
        transport: Transport,
        reference: &Reference,
        auth: &RegistryAuth,
    ) -> Result<String, Fetch> {
        let client = self.client(transport).map_err(Fetch::Other)?;
        match tokio::time::timeout(
            REGISTRY_TIMEOUT,
            client.fetch_manifest_digest(reference, auth),
        )
        .await
        {
            Ok(Ok(digest)) => Ok(digest),
            Ok(Err(e)) => Err(Fetch::from(e)),
            Err(_) => Err(Fetch::Unreachable(format!(
                "the registry did not answer within {}s",
                REGISTRY_TIMEOUT.as_secs()
            ))),
        }
    }
}

fn pem_certificates(pem: &[u8]) -> Vec<oci_client::client::Certificate> {
    let text = String::from_utf8_lossy(pem);
    text.split_inclusive("-----END CERTIFICATE-----")
        .filter(|block| block.contains("-----BEGIN CERTIFICATE-----"))
        .map(|block| oci_client::client::Certificate {
            encoding: oci_client::client::CertificateEncoding::Pem,
            data: block.trim().as_bytes().to_vec(),
        })
        .collect()
}

/// A registry answer, sorted by what it means for the user.
enum Fetch {
    Unauthorized,
    NotFound,
    RateLimited,
    Unreachable(String),
    Other(String),
}

impl From<OciDistributionError> for Fetch {
    fn from(e: OciDistributionError) -> Self {
        use OciDistributionError as E;
        match e {
            E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => Fetch::Unauthorized,
            E::ImageManifestNotFoundError(_) => Fetch::NotFound,
            E::ServerError {
                code: 401 | 403, ..
            } => Fetch::Unauthorized,
            E::ServerError { code: 404, .. } => Fetch::NotFound,
            E::ServerError { code: 429, .. } => Fetch::RateLimited,
            E::RegistryError { ref envelope, .. } => match envelope.errors.first().map(|e| &e.code)
            {
                Some(OciErrorCode::Unauthorized | OciErrorCode::Denied) => Fetch::Unauthorized,
                Some(
                    OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::NotFound,
                ) => Fetch::NotFound,
                Some(OciErrorCode::Toomanyrequests) => Fetch::RateLimited,
                _ => Fetch::Other(e.to_string()),
            },
            E::RequestError(ref r) if r.is_connect() || r.is_timeout() || r.is_request() => {
                Fetch::Unreachable(chain(&e))
            }
            other => Fetch::Other(chain(&other)),
        }
    }
}

/// An error and its causes, as one line ("connection refused" is usually the last cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

impl Fetch {
    /// OpenShift's reason and message for this answer about `reference`.
    fn failure(self, reference: &Reference, had_credentials: bool) -> Failure {
        let image = reference.whole();
        let (reason, message, retry_after) = match self {
            Fetch::Unauthorized if had_credentials => (
                "Unauthorized",
                format!("incorrect username or password for image \"{image}\""),
                None,
            ),
            Fetch::Unauthorized => (
                "Unauthorized",
                format!(
                    "you may not have access to the container image \"{image}\" and did not have credentials to the repository"
                ),
                None,
            ),
            Fetch::NotFound => (
                "NotFound",
                format!("dockerimage.image.openshift.io \"{image}\" not found"),
                None,
            ),
            Fetch::RateLimited => (
                "TooManyRequests",
                format!(
                    "the registry {} is limiting requests: importing \"{image}\" again later",
                    reference.registry()
                ),
                Some(RATE_LIMITED_WAIT),
            ),
            Fetch::Unreachable(e) | Fetch::Other(e) => (
                "InternalError",
                format!("Internal error occurred: {image}: {e}"),
                None,
            ),
        };
        Failure {
            reason: reason.into(),
            message,
            retry_after,
        }
    }
}

fn failed(reason: &str, message: String) -> Outcome {
    Outcome::Failed(Failure {
        reason: reason.into(),
        message,
        retry_after: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_answers_become_openshifts_reasons() {
        let reference: Reference = "127.0.0.1:5000/team/app:v1".parse().expect("reference");
        let f = Fetch::Unauthorized.failure(&reference, false);
        assert_eq!(f.reason, "Unauthorized");
        assert_eq!(
            f.message,
            "you may not have access to the container image \"127.0.0.1:5000/team/app:v1\" and did not have credentials to the repository"
        );
        let hub: Reference = "nginx:nope".parse().expect("reference");
        assert_eq!(
            Fetch::NotFound.failure(&hub, false).message,
            "dockerimage.image.openshift.io \"docker.io/library/nginx:nope\" not found"
        );
        let limited = Fetch::RateLimited.failure(&reference, true);
        assert_eq!(limited.retry_after, Some(RATE_LIMITED_WAIT));
    }

    #[test]
    fn pem_bundles_split_into_certificates() {
        let one = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(format!("{one}{one}").as_bytes()).len(), 2);
        assert!(pem_certificates(b"").is_empty());
    }
}
