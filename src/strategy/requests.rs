//! Rollout requests: latest, cancel, retry and rollback (spec §6.3, §12–14).
//!
//! OpenShift serves these as API subresources; a CRD cannot, so a request is an annotation on
//! the DeploymentConfig whose value is a token. Each new token is handled once, and the token,
//! the outcome and a message are recorded in `status.requests`, so applying the same manifest
//! again is a no-op. The `kubectl dc` plugin writes the same annotations: one code path.

use crate::api::keys;
use crate::api::{DeploymentConfig, RequestStatus};

use kube::ResourceExt;
use serde_json::Value;

use super::revision::{Phase, Revision};
use super::{Action, Event, HookPoint, RevisionUpdate, cause};

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

/// The request rung of the planner's ladder.
impl<'a> super::Planner<'a> {
    /// Handles new request annotations; true when this pass must end here (the request changed
    /// what the rest of the ladder would decide on).
    pub(super) fn requests(&mut self) -> bool {
        use self::{ACCEPTED, REFUSED, RequestKind};
        for (kind, token) in self::pending(self.dc) {
            let result = match self.paused_refusal(kind) {
                Some(refusal) => Err(refusal),
                None => match kind {
                    RequestKind::Cancel => self.request_cancel(),
                    RequestKind::Retry => self.request_retry(),
                    RequestKind::Latest => self.request_latest(),
                    RequestKind::Rollback => self.request_rollback(),
                },
            };
            let (outcome, message, event) = match result {
                Ok(m) => (
                    ACCEPTED,
                    m.clone(),
                    Event::normal(
                        "RequestAccepted",
                        format!("{} ({token}): {m}", kind.as_str()),
                    ),
                ),
                Err(m) => (
                    REFUSED,
                    m.clone(),
                    Event::warning(
                        "RequestRefused",
                        format!("{} ({token}): {m}", kind.as_str()),
                    ),
                ),
            };
            self.event(event);
            self::record(&mut self.status.requests, kind, &token, outcome, message);
            if outcome == ACCEPTED {
                // One change per pass; a new revision for `latest` is created below.
                return kind != RequestKind::Latest;
            }
        }
        false
    }

    /// Why a paused DeploymentConfig refuses a request that would start a rollout. A cancel
    /// is taken: a rollout that runs while paused can still be stopped.
    fn paused_refusal(&self, kind: self::RequestKind) -> Option<String> {
        if !self.dc.spec.paused {
            return None;
        }
        let name = self.name();
        match kind {
            self::RequestKind::Cancel => None,
            self::RequestKind::Latest => Some("cannot deploy a paused deployment config".into()),
            self::RequestKind::Retry => Some(format!(
                "unable to retry paused deployment config \"{name}\""
            )),
            self::RequestKind::Rollback => Some(format!(
                "cannot rollback a paused config; resume it first with 'kubectl dc rollout resume {name}' and try again"
            )),
        }
    }

    fn in_flight(&self) -> Vec<&'a Revision> {
        self.obs
            .revisions
            .iter()
            .filter(|r| !r.phase.is_terminal())
            .collect()
    }

    /// `rollout latest`: a new revision even if nothing changed.
    fn request_latest(&mut self) -> Result<String, String> {
        if let Some(r) = self.in_flight().last() {
            return Err(format!(
                "#{} is already in progress ({}).",
                r.version,
                r.phase.as_str()
            ));
        }
        self.bump("manual change", vec![cause("Manual")]);
        Ok(format!("started rollout #{}", self.status.latest_version))
    }

    /// `rollout cancel`: every revision in flight ends Failed (RolloutCancelled); the previous
    /// Complete revision is restored by the next pass.
    fn request_cancel(&mut self) -> Result<String, String> {
        let in_flight = self.in_flight();
        if in_flight.is_empty() {
            let latest = self.latest().map_or("none".to_string(), |r| {
                format!("#{} {}", r.version, r.phase.as_str())
            });
            return Err(format!(
                "No rollout is in progress (latest rollout {latest})"
            ));
        }
        let ns = self.namespace();
        for rev in &in_flight {
            self.delete_running_jobs(&rev.name);
            self.actions.push(Action::Update(
                RevisionUpdate::new(&rev.name)
                    .annotate(keys::CANCELLED_ANNOTATION, Some("true".into()))
                    .annotate(
                        keys::STATUS_REASON_ANNOTATION,
                        Some("cancelled by the user".into()),
                    )
                    .annotate(keys::PHASE_ANNOTATION, Some(Phase::Failed.as_str().into())),
            ));
            self.event(Event::warning(
                "RolloutCancelled",
                format!("Rollout for \"{ns}/{}\" cancelled", rev.name),
            ));
            if rev.version == self.status.latest_version {
                self.latest_phase = Some((Phase::Failed, true));
            }
        }
        let versions: Vec<String> = in_flight
            .iter()
            .map(|r| format!("#{}", r.version))
            .collect();
        Ok(format!("cancelled rollout {}", versions.join(", ")))
    }

    /// `rollout retry`: the latest Failed revision runs again, hooks included.
    fn request_retry(&mut self) -> Result<String, String> {
        let (name, latest) = (self.name(), self.status.latest_version);
        if latest == 0 {
            return Err(format!("no rollouts found for \"{name}\""));
        }
        let Some(rev) = self.latest() else {
            return Err(format!(
                "unable to find the latest rollout (#{latest}). You can start a new rollout with 'kubectl dc rollout latest {name}'."
            ));
        };
        if rev.phase != Phase::Failed {
            let hint = if rev.phase == Phase::Complete {
                format!("You can start a new rollout with 'kubectl dc rollout latest {name}'.")
            } else {
                format!(
                    "Optionally, you can cancel this rollout with 'kubectl dc rollout cancel {name}'."
                )
            };
            return Err(format!(
                "rollout #{latest} is {}; only failed deployments can be retried. {hint}",
                rev.phase.as_str()
            ));
        }
        let jobs = self
            .obs
            .hook_jobs
            .iter()
            .filter(|j| j.revision == rev.name)
            .map(|j| &j.name);
        let deployers = self
            .obs
            .deployer_jobs
            .iter()
            .filter(|j| j.revision == rev.name)
            .map(|j| &j.name);
        for name in jobs.chain(deployers) {
            self.actions.push(Action::DeleteJob { name: name.clone() });
        }
        let mut update = RevisionUpdate::new(&rev.name)
            .annotate(keys::PHASE_ANNOTATION, Some(Phase::New.as_str().into()))
            .annotate(
                keys::ATTEMPT_ANNOTATION,
                Some((rev.attempt + 1).to_string()),
            );
        for key in [
            keys::STATUS_REASON_ANNOTATION,
            keys::CANCELLED_ANNOTATION,
            keys::STARTED_AT_ANNOTATION,
            keys::DEPLOYER_MESSAGE_ANNOTATION,
        ] {
            update = update.annotate(key, None);
        }
        // The retry is the new attempt's first progress: a deployer that cannot be created
        // times out this long after the retry, not after the revision's creation (spec §13's
        // caveat, not copied).
        update = update.annotate(keys::LAST_PROGRESS_ANNOTATION, Some(self.now.to_string()));
        for point in [HookPoint::Pre, HookPoint::Mid, HookPoint::Post] {
            update = update
                .annotate(&point.outcome_annotation(), None)
                .annotate(&point.message_annotation(), None);
        }
        self.actions.push(Action::Update(update));
        self.latest_phase = Some((Phase::New, false));
        Ok(format!("retrying rollout #{latest}"))
    }

    /// `rollout undo`: the target revision's template becomes the spec's, image triggers stop
    /// being automatic, and a new revision is started with it (never the old one re-activated).
    fn request_rollback(&mut self) -> Result<String, String> {
        let to = self
            .dc
            .annotations()
            .get(self::ROLLBACK_TO_ANNOTATION)
            .map(|v| match v.trim().parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n),
                _ => Err(format!(
                    "invalid revision {v:?} in {}: must be a non-negative integer (0: the newest complete revision before the latest)",
                    self::ROLLBACK_TO_ANNOTATION
                )),
            })
            .transpose()?
            .unwrap_or(0);
        let target = self::rollback_target(
            &self.name(),
            &self.namespace(),
            self.status.latest_version,
            &self.obs.revisions,
            to,
        )?;
        let template = target
            .template()
            .cloned()
            .ok_or_else(|| format!("revision {} records no template", target.version))?;
        let triggers = self.dc.spec.triggers.as_ref().map(|ts| {
            let mut ts = ts.clone();
            for t in ts.iter_mut().filter_map(|t| t.image_change_params.as_mut()) {
                t.automatic = false;
            }
            serde_json::to_value(ts).unwrap_or(Value::Null)
        });
        self.actions
            .push(Action::RollBackConfig { template, triggers });
        self.bump(
            &format!("rollback to revision {}", target.version),
            vec![cause("Manual")],
        );
        Ok(format!(
            "rolled back to revision {}: rollout #{} started",
            target.version, self.status.latest_version
        ))
    }
}
