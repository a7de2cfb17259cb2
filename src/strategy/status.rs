//! The DeploymentConfig status: counts, and the Available and Progressing conditions, computed
//! whole from the observed revisions at the end of a pass; and the rules by which conditions
//! change (OpenShift's).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::defaults::StrategyKind;
use crate::api::events;
use crate::api::keys;
use crate::api::{
    DeploymentCondition, DeploymentConfig, DeploymentConfigStatus, TRIGGER_CONFIG_CHANGE,
    TRIGGER_IMAGE_CHANGE,
};

use crate::api::conditions::{AVAILABLE, PROGRESSING, RECONCILING, STALLED, reason};

use super::pass::{Moved, Pass};
use super::revision::{Phase, Revision};
use super::rollout::rolling::fenceposts;
use super::{Action, Decision, Event, Observed};

/// Ends a pass: the counts, the conditions derived from the revisions (unless a rung set
/// Progressing itself), and the Decision.
pub(super) fn finish(obs: &Observed, mut pass: Pass) -> Decision {
    let dc = &obs.dc;
    let now = pass.now;
    let status = &mut pass.status;
    fill_counts(status, &obs.revisions);
    status.observed_generation = dc.metadata.generation.unwrap_or(0);
    status.selector = Some(selector_string(dc));
    status.triggered_by = triggered_by(dc);
    set_condition(
        &mut status.conditions,
        available_condition(dc, status.available_replicas),
        now,
    );
    match pass.progressing.take() {
        Some(c) => set_condition(&mut status.conditions, c, now),
        None => {
            if let Some(latest) = obs.revision(status.latest_version) {
                let moved = pass.latest_moved.unwrap_or(Moved {
                    phase: latest.phase,
                    cancelled: latest.cancelled,
                });
                progress_latest(status, dc.status.as_ref(), latest, moved, now);
            }
        }
    }
    set_kstatus_conditions(&mut pass.status.conditions, now);
    Decision {
        actions: pass.actions,
        status: pass.status,
        requeue_after: pass.requeue_after,
        finished: pass.finished,
    }
}

/// The API server refused to create the latest revision (a template it finds invalid, a name
/// another ReplicaSet holds): the status stays at the previous revision and says why, and a
/// Warning event tells (OpenShift's `DeploymentCreationFailed`). The pass's other actions were
/// carried out already; only the event is left to do.
pub fn refused_create(
    obs: &Observed,
    mut decision: Decision,
    message: &str,
    now: Timestamp,
) -> Decision {
    let version = decision.status.latest_version;
    decision.status.latest_version = obs.dc.status.as_ref().map_or(0, |s| s.latest_version);
    let conditions = &mut decision.status.conditions;
    let c = condition(PROGRESSING, "False", reason::RC_CREATE_ERROR, message);
    set_condition(conditions, c, now);
    set_kstatus_conditions(conditions, now);
    decision.actions = vec![Action::Event(Event::warning(
        events::DEPLOYMENT_CREATION_FAILED,
        format!("Couldn't deploy version {version}: {message}"),
    ))];
    decision
}

/// An error retrying cannot fix stopped the pass: the status as it was, plus Stalled saying why
/// (until the next change is planned).
pub fn stalled(dc: &DeploymentConfig, error: &str, now: Timestamp) -> DeploymentConfigStatus {
    let mut status = dc.status.clone().unwrap_or_default();
    let c = condition(STALLED, "True", reason::RECONCILE_ERROR, error);
    set_condition(&mut status.conditions, c, now);
    status
}

/// Progressing for the latest revision's phase. OpenShift moves a running rollout's condition
/// only when it sees progress: until then NewReplicationControllerCreated stands. Any other
/// condition (a retried rollout's failure, an earlier rollout's success) gives way at once.
fn progress_latest(
    status: &mut DeploymentConfigStatus,
    previous: Option<&DeploymentConfigStatus>,
    latest: &Revision,
    moved: Moved,
    now: Timestamp,
) {
    let Some(c) = progressing_condition(latest, moved.phase, moved.cancelled) else {
        return;
    };
    let (updated, replicas) = previous.map_or((0, 0), |p| (p.updated_replicas, p.replicas));
    let progressed = status.updated_replicas > updated
        || status.replicas - status.updated_replicas < replicas - updated;
    let standing = status.conditions.iter().any(|c| {
        c.type_ == PROGRESSING
            && c.status == "True"
            && [reason::NEW_RC_CREATED, reason::RC_UPDATED].contains(&c.reason.as_str())
    });
    match moved.phase {
        // `lastTransitionTime` records the last progress, as OpenShift's does.
        Phase::Running if progressed => replace_condition(&mut status.conditions, c, now),
        Phase::Running if standing => {}
        _ => set_condition(&mut status.conditions, c, now),
    }
}

pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        last_update_time: None,
        last_transition_time: None,
        reason: reason.into(),
        message: message.into(),
    }
}

/// Sets `new` in `conditions` by OpenShift's rule: an existing condition with the same status
/// and reason is left alone; a changed reason keeps the transition time; anything else is new.
pub fn set_condition(
    conditions: &mut Vec<DeploymentCondition>,
    mut new: DeploymentCondition,
    now: Timestamp,
) {
    let stamp = Some(Time(now));
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) if old.status == new.status && old.reason == new.reason => {}
        Some(old) => {
            new.last_update_time = stamp.clone();
            new.last_transition_time = if old.status == new.status {
                old.last_transition_time.clone()
            } else {
                stamp
            };
            *old = new;
        }
        None => {
            new.last_update_time = stamp.clone();
            new.last_transition_time = stamp;
            conditions.push(new);
        }
    }
}

/// Replaces a condition outright, so its transition time records this moment (OpenShift does this
/// for "progress seen": `lastTransitionTime` is the time of the last progress).
pub fn replace_condition(
    conditions: &mut Vec<DeploymentCondition>,
    mut new: DeploymentCondition,
    now: Timestamp,
) {
    conditions.retain(|c| c.type_ != new.type_);
    new.last_update_time = Some(Time(now));
    new.last_transition_time = Some(Time(now));
    conditions.push(new);
}

pub fn remove_condition(conditions: &mut Vec<DeploymentCondition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// Derives Reconciling and Stalled from Progressing, so GitOps tools that follow kstatus see a
/// rollout as in progress (Reconciling) or failed (Stalled), and a finished one as neither.
pub fn set_kstatus_conditions(conditions: &mut Vec<DeploymentCondition>, now: Timestamp) {
    let progressing = conditions
        .iter()
        .find(|c| c.type_ == PROGRESSING)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()));
    let (reconciling, stalled) = match &progressing {
        Some((status, reason, message)) if status == "False" => (
            None,
            Some(condition(STALLED, "True", reason, message.clone())),
        ),
        Some((status, reason, message))
            if status == "True" && reason != reason::NEW_RC_AVAILABLE =>
        {
            (
                Some(condition(RECONCILING, "True", reason, message.clone())),
                None,
            )
        }
        _ => (None, None),
    };
    // (A Stalled ReconcileError the shell wrote last time goes too: this plan is the news.)
    for (type_, new) in [(RECONCILING, reconciling), (STALLED, stalled)] {
        match new {
            Some(c) => set_condition(conditions, c, now),
            None => remove_condition(conditions, type_),
        }
    }
}

/// Counts over every revision.
pub fn fill_counts(status: &mut DeploymentConfigStatus, revisions: &[Revision]) {
    status.replicas = revisions.iter().map(|r| r.replicas).sum();
    status.available_replicas = revisions.iter().map(|r| r.available).sum();
    status.ready_replicas = revisions.iter().map(|r| r.ready).sum();
    let spec: i32 = revisions.iter().map(|r| r.spec_replicas).sum();
    status.unavailable_replicas = (spec - status.available_replicas).max(0);
    status.updated_replicas = revisions
        .iter()
        .find(|r| r.version == status.latest_version)
        .map_or(0, |r| r.replicas);
}

/// Available: enough pods are available for the strategy's bound, and at least one. Rolling
/// resolves maxSurge and maxUnavailable against spec.replicas exactly as a rollout does (both
/// rounding to 0 allows 1 unavailable), so the condition does not flap during a rollout that
/// keeps its bound; other strategies need every pod (library-go's `MaxUnavailable`).
pub fn available_condition(dc: &DeploymentConfig, available: i32) -> DeploymentCondition {
    let desired = dc.spec.replicas;
    let max_unavailable = dc
        .spec
        .strategy
        .effective()
        .ok()
        .filter(|s| s.kind == StrategyKind::Rolling)
        .and_then(|s| fenceposts(desired, &s.max_surge, &s.max_unavailable, 0).ok())
        .map_or(0, |f| f.unavailable);
    if available >= desired - max_unavailable && available > 0 {
        condition(
            AVAILABLE,
            "True",
            "",
            "Deployment config has minimum availability.",
        )
    } else {
        condition(
            AVAILABLE,
            "False",
            "",
            "Deployment config does not have minimum availability.",
        )
    }
}

/// The Progressing condition for the latest revision's phase; `None` leaves it as it is.
pub fn progressing_condition(
    latest: &Revision,
    phase: Phase,
    cancelled: bool,
) -> Option<DeploymentCondition> {
    let name = &latest.name;
    match phase {
        Phase::New => None,
        Phase::Pending => Some(condition(
            PROGRESSING,
            "Unknown",
            "",
            format!("replication controller {name:?} is waiting for pod \"{name}-deploy\" to run"),
        )),
        Phase::Running => Some(condition(
            PROGRESSING,
            "True",
            reason::RC_UPDATED,
            format!("replication controller {name:?} is progressing"),
        )),
        Phase::Complete => Some(condition(
            PROGRESSING,
            "True",
            reason::NEW_RC_AVAILABLE,
            format!("replication controller {name:?} successfully rolled out"),
        )),
        Phase::Failed if cancelled => Some(condition(
            PROGRESSING,
            "False",
            reason::CANCELLED,
            format!("rollout of replication controller {name:?} was cancelled"),
        )),
        Phase::Failed => Some(failed_progressing(name, latest.status_reason.as_deref())),
    }
}

/// Progressing of a failed rollout: OpenShift's message, then why (a hook's or deployer's own
/// words among it), so `rollout status` answers "why did my rollout fail". The pass that fails
/// the rollout sets it with the reason it records: a later pass cannot change the message of a
/// condition whose status and reason stay.
pub fn failed_progressing(revision: &str, why: Option<&str>) -> DeploymentCondition {
    let message = match why.filter(|w| !w.is_empty()) {
        Some(why) => format!("replication controller {revision:?} has failed progressing: {why}"),
        None => format!("replication controller {revision:?} has failed progressing"),
    };
    condition(PROGRESSING, "False", reason::TIMED_OUT, message)
}

/// The label selector of the DeploymentConfig's pods as a string (scale subresource / HPA).
pub fn selector_string(dc: &DeploymentConfig) -> String {
    let mut selector = dc.spec.effective_selector();
    selector.insert(
        keys::POD_CONFIG_LABEL.into(),
        dc.metadata.name.clone().unwrap_or_default(),
    );
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The TRIGGERED BY column, as `oc get dc` shows it: `config,image(stream:tag)`.
pub fn triggered_by(dc: &DeploymentConfig) -> Option<String> {
    let parts: Vec<String> = dc
        .spec
        .effective_triggers()
        .iter()
        .filter_map(|t| match t.type_.as_str() {
            TRIGGER_CONFIG_CHANGE => Some("config".to_string()),
            TRIGGER_IMAGE_CHANGE => t
                .image_change_params
                .as_ref()
                .map(|p| format!("image({})", p.from.name.clone().unwrap_or_default())),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid")
    }

    #[test]
    fn same_status_and_reason_keeps_everything() {
        let mut conds = vec![];
        set_condition(
            &mut conds,
            condition(PROGRESSING, "True", "A", "first"),
            at(1),
        );
        set_condition(
            &mut conds,
            condition(PROGRESSING, "True", "A", "second"),
            at(2),
        );
        assert_eq!(conds[0].message, "first");
        assert_eq!(conds[0].last_update_time, Some(Time(at(1))));
    }

    #[test]
    fn reason_change_keeps_transition_time_status_change_does_not() {
        let mut conds = vec![];
        set_condition(&mut conds, condition(PROGRESSING, "True", "A", ""), at(1));
        set_condition(&mut conds, condition(PROGRESSING, "True", "B", ""), at(2));
        assert_eq!(conds[0].last_transition_time, Some(Time(at(1))));
        assert_eq!(conds[0].last_update_time, Some(Time(at(2))));
        set_condition(&mut conds, condition(PROGRESSING, "False", "C", ""), at(3));
        assert_eq!(conds[0].last_transition_time, Some(Time(at(3))));
    }
}
