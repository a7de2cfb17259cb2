//! The importer's shell: asks registries for the digests the tags `image::import::plan` names,
//! with the credentials of the stream's namespace, and writes what came back
//! (`image::import::record`) as the stream's status in one write. A failure is the tag's
//! ImportSuccess=False condition and a Warning event with the registry's reason, retried with
//! backoff; nothing a registry answers can crash or spin the operator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, client::ClientConfig, client::ClientProtocol};
use serde_json::json;
use tracing::{info, warn};

use crate::api::image_stream::ImageStream;
use crate::error::{Error, Result};
use crate::image::credentials::{self, Keyring};
use crate::image::import::{self, Failure, Import, Outcome, TagClock};

use super::events::Events;

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
        let registries = Registries {
            extra_roots: pem_certificates(extra_ca),
        };
        registries.client(Transport::Verified)?;
        Ok(registries)
    }

    fn client(&self, transport: Transport) -> Result<oci_client::Client, String> {
        let config = ClientConfig {
            read_timeout: Some(REGISTRY_TIMEOUT),
            connect_timeout: Some(Duration::from_secs(10)),
            user_agent: concat!("cutover/", env!("CARGO_PKG_VERSION")),
            extra_root_certificates: self.extra_roots.clone(),
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

type TagKey = (String, String, String);

/// What the importer works with.
pub struct ImportContext {
    pub client: Client,
    /// Every ImageStream, for tags that follow another stream's.
    pub streams: Store<ImageStream>,
    pub registries: Registries,
    pub events: Events,
    /// `importPolicy.scheduled` tags are imported again this often (OpenShift: 15 minutes).
    pub interval: SignedDuration,
    clocks: Mutex<HashMap<TagKey, TagClock>>,
    pub backoff: super::Backoff<ImageStream>,
}

impl ImportContext {
    pub fn new(
        client: Client,
        streams: Store<ImageStream>,
        registries: Registries,
        events: Events,
        interval: SignedDuration,
    ) -> Self {
        ImportContext {
            client,
            streams,
            registries,
            events,
            interval,
            clocks: Mutex::default(),
            backoff: Default::default(),
        }
    }

    fn clocks(&self) -> std::sync::MutexGuard<'_, HashMap<TagKey, TagClock>> {
        // A panic elsewhere cannot leave a clock half-written: the map stays usable.
        self.clocks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(stream: &ImageStream, tag: &str) -> TagKey {
    (
        stream.namespace().unwrap_or_default(),
        stream.name_any(),
        tag.to_string(),
    )
}

/// A scheduled tag seen for the first time (operator start) is placed at a point of its interval
/// that depends only on its name, so a restart spreads imports instead of sending all at once.
fn first_look(key: &TagKey, now: Timestamp, interval: SignedDuration) -> TagClock {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    let fraction = (hasher.finish() % 1000) as i32;
    TagClock {
        last_attempt: Some(now - interval * fraction / 1000),
        ..TagClock::default()
    }
}

pub async fn reconcile(stream: Arc<ImageStream>, ctx: Arc<ImportContext>) -> Result<Action> {
    let now = Timestamp::now();
    let plan = {
        let mut clocks = ctx.clocks();
        // What is remembered of tags and streams that are gone goes too.
        let (own_ns, own_name) = (stream.namespace().unwrap_or_default(), stream.name_any());
        let tags: Vec<&str> = import::importable(&stream)
            .map(|t| t.name.as_str())
            .collect();
        clocks.retain(|(ns, name, tag), _| {
            if *ns == own_ns && *name == own_name {
                tags.contains(&tag.as_str())
            } else {
                ctx.streams.get(&ObjectRef::new(name).within(ns)).is_some()
            }
        });
        import::plan(
            &stream,
            |tag| {
                *clocks
                    .entry(key(&stream, tag))
                    .or_insert_with_key(|k| first_look(k, now, ctx.interval))
            },
            now,
            ctx.interval,
        )
    };
    let mut results = Vec::with_capacity(plan.imports.len());
    if !plan.imports.is_empty() {
        let keyring = keyring(&ctx.client, &stream.namespace().unwrap_or_default()).await?;
        for import in plan.imports {
            let outcome = ctx.registries.digest(&import, &keyring).await;
            remember(&ctx, &stream, &import, &outcome, now);
            results.push((import, outcome));
        }
    }
    let status = import::record(&stream, &results, &ctx.streams, now);
    if stream.status.as_ref() != Some(&status) {
        let api: Api<ImageStream> =
            Api::namespaced(ctx.client.clone(), &stream.namespace().unwrap_or_default());
        // Guarded by the resourceVersion the status was computed from: a concurrent writer
        // makes it a conflict (retried on a fresher cache), never a lost update.
        let patch = json!({
            "metadata": {"resourceVersion": stream.resource_version()},
            "status": status,
        });
        api.patch_status(
            &stream.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await?;
        record_events(&ctx, &stream, &results);
    }
    ctx.backoff.reset(&ObjectRef::from(stream.as_ref()));
    // Failed tags are looked at again on their backoff (the plan's wake-up covers them).
    let retry = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(i, _)| {
            let clock = ctx
                .clocks()
                .get(&key(&stream, &i.tag))
                .copied()
                .unwrap_or_default();
            import::retry_delay(clock.failures, ctx.interval)
        })
        .min();
    let wake = match (plan.wake_after, retry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(match wake {
        Some(after) => Action::requeue(after.unsigned_abs().max(Duration::from_secs(1))),
        None => Action::await_change(),
    })
}

/// The registry credentials of `namespace`, as OpenShift's importer gathers them.
async fn keyring(client: &Client, namespace: &str) -> Result<Keyring> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secrets = Vec::new();
    for type_ in [credentials::DOCKER_CONFIG_JSON, credentials::DOCKER_CFG] {
        let list = api
            .list(&ListParams::default().fields(&format!("type={type_}")))
            .await?;
        secrets.extend(list.items);
    }
    Ok(Keyring::from_secrets(&secrets))
}

fn remember(
    ctx: &ImportContext,
    stream: &ImageStream,
    import: &Import,
    outcome: &Outcome,
    now: Timestamp,
) {
    let mut clocks = ctx.clocks();
    let clock = clocks.entry(key(stream, &import.tag)).or_default();
    clock.last_attempt = Some(now);
    match outcome {
        Outcome::Imported { .. } => {
            clock.failures = 0;
            clock.not_before = None;
        }
        Outcome::Failed(f) => {
            clock.failures = clock.failures.saturating_add(1);
            clock.not_before = f
                .retry_after
                .map(|wait| now + wait.max(import::retry_delay(clock.failures, ctx.interval)));
        }
    }
}

/// An event per tag that changed image or failed, as `oc describe is` shows them.
fn record_events(ctx: &ImportContext, stream: &ImageStream, results: &[(Import, Outcome)]) {
    let before = |tag: &str| {
        stream
            .status_tag(tag)
            .and_then(|t| t.items.first())
            .map(|i| i.image.clone())
    };
    for (import, outcome) in results {
        let (type_, reason, note) = match outcome {
            Outcome::Imported { digest } if before(&import.tag).as_deref() != Some(digest) => (
                EventType::Normal,
                "Imported",
                format!(
                    "Tag {} now points at {}@{digest}",
                    import.tag,
                    import::repository(&import.from)
                ),
            ),
            Outcome::Imported { .. } => continue,
            Outcome::Failed(f) => (
                EventType::Warning,
                "ImportFailed",
                format!("Tag {}: {} ({})", import.tag, f.message, f.reason),
            ),
        };
        match &outcome {
            Outcome::Failed(_) => {
                warn!(namespace = stream.namespace().unwrap_or_default(), stream = stream.name_any(), tag = import.tag, %note, "import failed")
            }
            Outcome::Imported { .. } => {
                info!(namespace = stream.namespace().unwrap_or_default(), stream = stream.name_any(), tag = import.tag, %note, "imported")
            }
        }
        ctx.events.publish(
            stream.object_ref(&()),
            Event {
                type_,
                reason: reason.into(),
                note: Some(note),
                action: "Import".into(),
                secondary: None,
            },
        );
    }
}

pub fn error_policy(stream: Arc<ImageStream>, error: &Error, ctx: Arc<ImportContext>) -> Action {
    let after = ctx.backoff.next(ObjectRef::from(stream.as_ref()));
    warn!(namespace = stream.namespace().unwrap_or_default(), stream = stream.name_any(), %error, retry_in = ?after, "import reconcile failed");
    Action::requeue(after)
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

    #[test]
    fn first_looks_spread_over_the_interval() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().expect("time");
        let interval = SignedDuration::from_mins(15);
        let at = |tag: &str| {
            first_look(&("ns".into(), "app".into(), tag.into()), now, interval).last_attempt
        };
        assert_eq!(at("v1"), at("v1"), "the same place every start");
        let spread: std::collections::BTreeSet<_> = (0..20).map(|i| at(&format!("t{i}"))).collect();
        assert!(spread.len() > 10);
        assert!(
            spread
                .iter()
                .flatten()
                .all(|t| *t <= now && *t > now - interval)
        );
    }
}
