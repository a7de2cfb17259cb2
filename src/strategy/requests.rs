//! Rollout requests: latest, cancel, retry and rollback (spec §6.3, §12–14).
//!
//! OpenShift serves these as API subresources; a CRD cannot, so a request is an annotation on
//! the DeploymentConfig whose value is a token. Each new token is handled once, and the token,
//! the outcome and a message are recorded in `status.requests`, so applying the same manifest
//! again is a no-op. The `kubectl dc` plugin writes the same annotations: one code path.

use crate::api::keys;
use crate::api::{DeploymentConfig, RequestStatus};

use super::revision::{Phase, Revision};

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
            let token = dc.metadata.annotations.as_ref()?.get(&kind.annotation())?;
            let done = handled
                .iter()
                .any(|r| r.kind == kind.as_str() && &r.token == token);
            (!token.is_empty() && !done).then(|| (kind, token.clone()))
        })
        .collect()
}

/// Records the outcome of a request in `requests` (one entry per kind, the last handled).
pub fn record(
    requests: &mut Vec<RequestStatus>,
    kind: RequestKind,
    token: &str,
    outcome: &str,
    message: String,
) {
    requests.retain(|r| r.kind != kind.as_str());
    requests.push(RequestStatus {
        kind: kind.as_str().into(),
        token: token.into(),
        outcome: outcome.into(),
        message,
    });
    requests.sort_by(|a, b| a.kind.cmp(&b.kind));
}

/// The revision a rollback goes back to: `to` when given (it must exist and not be the latest),
/// otherwise the newest Complete revision before the latest (DESIGN.md: not latest−1 blindly).
pub fn rollback_target<'a>(
    name: &str,
    namespace: &str,
    latest_version: i64,
    revisions: &'a [Revision],
    to: i64,
) -> Result<&'a Revision, String> {
    if latest_version == 0 {
        return Err("cannot rollback an undeployed config".into());
    }
    if to > 0 {
        if to == latest_version {
            return Err(format!("version {to} is already the latest"));
        }
        return revisions.iter().find(|r| r.version == to).ok_or_else(|| {
            format!("unable to find revision {to} of deploymentconfig {namespace}/{name}")
        });
    }
    revisions
        .iter()
        .rev()
        .find(|r| r.version < latest_version && r.phase == Phase::Complete)
        .ok_or_else(|| format!("no previous deployment exists for \"{namespace}/{name}\""))
}
