//! Rollout requests as annotations: latest, cancel, retry and rollback.
//!
//! OpenShift serves these as API subresources; a CRD cannot, so a request is an annotation on
//! the DeploymentConfig whose value is a token. Each new token is handled once, and the token,
//! the outcome and a message are recorded in `status.requests`, so applying the same manifest
//! again is a no-op. The `kubectl dc` plugin writes the same annotations.

use super::keys;
use super::{DeploymentConfig, DeploymentConfigStatus, RequestStatus};

/// The kinds of request, in the order they are handled within one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Cancel,
    Retry,
    Latest,
    Rollback,
}

impl RequestKind {
    pub const ALL: [RequestKind; 4] = [
        RequestKind::Cancel,
        RequestKind::Retry,
        RequestKind::Latest,
        RequestKind::Rollback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Cancel => "cancel",
            RequestKind::Retry => "retry",
            RequestKind::Latest => "latest",
            RequestKind::Rollback => "rollback",
        }
    }

    /// The annotation that carries this request's token.
    pub fn annotation(self) -> String {
        format!("{}/request-{}", keys::PREFIX, self.as_str())
    }
}

/// The annotation naming the revision a rollback request goes back to (absent or 0: the newest
/// Complete revision before the latest).
pub const ROLLBACK_TO_ANNOTATION: &str = "cutover.io/rollback-to-revision";

/// With a rollback request, `"true"`: leave the ImageChange triggers automatic (a failed traffic
/// shift's rollback: the next pushed image rolls out and is shifted to again) instead of turning
/// them off as `oc rollback` does. Until a new image arrives, the triggers write nothing, so the
/// image rolled back from is not rolled out again.
pub const ROLLBACK_KEEPS_TRIGGERS_ANNOTATION: &str = "cutover.io/rollback-keeps-triggers";

/// The annotations that say where a rollback request goes (`to`: 0 for the newest Complete
/// revision before the latest), whether it may go back past a migration, and whether the image
/// triggers stay on. Always all three, so a rollback never inherits what an earlier one left on
/// the DeploymentConfig.
pub fn rollback_parameters(
    to: i64,
    force_past_migration: bool,
    keep_triggers: bool,
) -> [(&'static str, String); 3] {
    [
        (ROLLBACK_TO_ANNOTATION, to.to_string()),
        (
            super::keys::FORCE_PAST_MIGRATION_ANNOTATION,
            force_past_migration.to_string(),
        ),
        (
            ROLLBACK_KEEPS_TRIGGERS_ANNOTATION,
            keep_triggers.to_string(),
        ),
    ]
}

/// Whether the latest revision of `dc` is a rollback that left its image triggers on: until a
/// tag moves past the image it last triggered, the triggers write nothing.
pub fn triggers_wait_for_a_new_image(dc: &crate::api::DeploymentConfig) -> bool {
    dc.status.as_ref().is_some_and(latest_is_rollback) && rollback_keeps_triggers(dc)
}

/// Whether `dc`'s rollback request asks to leave the image triggers on.
pub fn rollback_keeps_triggers(dc: &crate::api::DeploymentConfig) -> bool {
    use kube::ResourceExt;
    dc.annotations()
        .get(ROLLBACK_KEEPS_TRIGGERS_ANNOTATION)
        .is_some_and(|v| v.trim() == "true")
}

/// How a rollback's revision is described (`status.details.message`, then the revision rolled
/// back to): what tells it from a rollout of new code.
pub const ROLLBACK_DETAILS: &str = "rollback to revision";

/// Whether the latest revision of a DeploymentConfig with this status is a rollback.
pub fn latest_is_rollback(status: &DeploymentConfigStatus) -> bool {
    status
        .details
        .as_ref()
        .is_some_and(|d| d.message.starts_with(ROLLBACK_DETAILS))
}

/// Outcomes recorded in `status.requests`.
pub const ACCEPTED: &str = "Accepted";
pub const REFUSED: &str = "Refused";

/// A request waiting to be handled: its kind and token.
pub fn pending(dc: &DeploymentConfig) -> Vec<(RequestKind, String)> {
    let handled = dc
        .status
        .as_ref()
        .map(|s| s.requests.as_slice())
        .unwrap_or_default();
    RequestKind::ALL
        .iter()
        .filter_map(|&kind| {
            let token = unhandled(dc, handled, kind.as_str(), &kind.annotation())?;
            Some((kind, token.clone()))
        })
        .collect()
}

/// The token of `object`'s request annotation `key` of `kind`, unless it is empty or `handled`
/// already answers it (each token is answered once).
pub fn unhandled<'o>(
    object: &'o impl kube::Resource,
    handled: &[RequestStatus],
    kind: &str,
    key: &str,
) -> Option<&'o String> {
    let token = object.meta().annotations.as_ref()?.get(key)?;
    let done = handled.iter().any(|r| r.kind == kind && &r.token == token);
    (!token.is_empty() && !done).then_some(token)
}

/// Records the outcome of a request in `requests` (one entry per kind, the last handled).
pub fn record(
    requests: &mut Vec<RequestStatus>,
    kind: &str,
    token: &str,
    outcome: &str,
    message: String,
) {
    requests.retain(|r| r.kind != kind);
    requests.push(RequestStatus {
        kind: kind.into(),
        token: token.into(),
        outcome: outcome.into(),
        message,
    });
    requests.sort_by(|a, b| a.kind.cmp(&b.kind));
}
