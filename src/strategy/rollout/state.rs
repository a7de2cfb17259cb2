//! What the strategies share: one rollout in flight, the steps they take and the waits they
//! compute.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::api::defaults::{EffectiveStrategy, PodReplacement};
use crate::api::events;
use crate::api::hooks::HookPoint;
use crate::api::keys;

use super::super::{Action, Event, Phase, Revision, RevisionUpdate};
use super::hooks::{HookJob, ImageTag};
use super::until::Until;

/// Where a rollout stands after one pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Not done: wait for the next watch event, or at most this long.
    Wait(Option<Duration>),
    Complete,
    /// Failed with this reason (recorded on the revision).
    Fail(String),
    /// `cutover deploy --until` reached its stop point (never in the operator, which sets none).
    Stop(String),
}

/// What `Rollout::replicas_created` does when the pods are not there in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// Rolling: OpenShift's deployer fails when the new controller does not reach its replicas.
    Fail,
    /// Recreate: OpenShift's deployer goes on (with a warning here): the first pod was accepted,
    /// and failing now would roll back into a second outage.
    Complete,
}

/// One rollout in flight: the revision rolled out (`to`), every other revision (`old`, ascending
/// version), and the actions this pass takes.
pub struct Rollout<'a> {
    pub to: &'a Revision,
    pub old: Vec<&'a Revision>,
    pub strategy: &'a EffectiveStrategy,
    pub now: Timestamp,
    pub namespace: &'a str,
    pub(super) dc_name: &'a str,
    pub(super) jobs: Vec<&'a HookJob>,
    /// Where `cutover deploy --until` stops this run (`None`: it runs to completion).
    until: Option<Until>,
    to_replicas: Option<i32>,
    old_replicas: BTreeMap<&'a str, i32>,
    /// Annotations recorded on the new revision this pass (hook outcomes).
    to_annotations: BTreeMap<String, Option<String>>,
    /// Hook outcomes recorded for the first time this pass.
    hooks_finished: Vec<(HookPoint, &'static str)>,
    pub(super) new_jobs: Vec<(String, serde_json::Value)>,
    /// Hook Jobs of an earlier attempt to delete.
    pub(super) stale_jobs: Vec<String>,
    /// tagImages hooks to carry out.
    pub(super) tag_images: Vec<(HookPoint, Vec<ImageTag>)>,
    pub(super) events: Vec<Event>,
}

impl<'a> Rollout<'a> {
    pub fn new(
        to: &'a Revision,
        old: Vec<&'a Revision>,
        strategy: &'a EffectiveStrategy,
        namespace: &'a str,
        now: Timestamp,
    ) -> Self {
        Rollout {
            to,
            old,
            strategy,
            now,
            namespace,
            dc_name: "",
            jobs: Vec::new(),
            until: None,
            to_replicas: None,
            old_replicas: BTreeMap::new(),
            to_annotations: BTreeMap::new(),
            hooks_finished: Vec::new(),
            new_jobs: Vec::new(),
            stale_jobs: Vec::new(),
            tag_images: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The DeploymentConfig's name and the hook Jobs of the new revision.
    pub fn with_hooks(mut self, dc_name: &'a str, jobs: Vec<&'a HookJob>) -> Self {
        self.dc_name = dc_name;
        self.jobs = jobs;
        self
    }

    /// Where this run stops (`cutover deploy --until`).
    pub fn until(mut self, until: Option<Until>) -> Self {
        self.until = until;
        self
    }

    /// A stop here, when `--until` names this point.
    pub fn stop_at(&self, point: Until, message: &str) -> Option<Step> {
        (self.until == Some(point)).then(|| Step::Stop(message.to_string()))
    }

    /// The percentage `--until` names, if it names one.
    pub fn until_percent(&self) -> Option<u32> {
        match self.until {
            Some(Until::Percent(n)) => Some(n),
            _ => None,
        }
    }

    /// How far the new revision is scaled, in percent of its target (100 when the target is 0).
    pub fn progress(&self) -> i32 {
        let desired = self.to.desired;
        if desired <= 0 {
            100
        } else {
            (i64::from(self.to.spec_replicas.min(desired)) * 100 / i64::from(desired)) as i32
        }
    }

    /// The replicas the new revision goes to in this run: its target, or, while `--until=N%`
    /// stops short of 100, N% of it rounded up (so the run does not overshoot its stop point).
    pub fn target(&self) -> i32 {
        let desired = self.to.desired;
        match self.until_percent() {
            Some(n) if n < 100 && desired > 0 => {
                let n = i64::from(n);
                ((i64::from(desired) * n + 99) / 100) as i32
            }
            _ => desired,
        }
    }

    /// Rolling's `--until=N%` (below 100): reached once the new revision runs N% of its target
    /// and those pods are available. OpenShift counted scaled replicas only; counting available
    /// ones is what its own help promised ("the percentage of pods ... that are ready"), and what
    /// a script that checks the new pods at that point needs.
    pub fn reached_percent(&self) -> Option<Step> {
        let n = self.until_percent().filter(|n| *n < 100)?;
        let target = self.target();
        let reached = self.to.settled
            && self.to.spec_replicas >= target
            && self.to.counted_available() >= target;
        reached.then(|| Step::Stop(format!("Reached {n}% (currently {}%)", self.progress())))
    }

    /// Records a hook's outcome on the new revision (and as finished this pass).
    pub(super) fn record(
        &mut self,
        point: HookPoint,
        outcome: &'static str,
        message: Option<String>,
    ) {
        self.hooks_finished.push((point, outcome));
        self.to_annotations
            .insert(point.outcome_annotation(), Some(outcome.to_string()));
        if let Some(m) = message {
            self.to_annotations
                .insert(point.message_annotation(), Some(m));
        }
    }

    /// The hooks whose outcome this pass records for the first time.
    pub fn hooks_finished(&self) -> &[(HookPoint, &'static str)] {
        &self.hooks_finished
    }

    pub fn old_spec(&self) -> i32 {
        self.old.iter().map(|o| o.spec_replicas).sum()
    }

    pub fn old_pods(&self) -> i32 {
        self.old.iter().map(|o| o.pods).sum()
    }

    /// What counts toward maxSurge, per revision, with the replicas this pass has planned so far:
    /// by default (`TerminationStarted`) its pods that are not terminating, that is the replicas
    /// it asks for or, if more, the pods its controller last reported (`status.replicas`). A pod
    /// its ReplicaSet lets go runs on until that controller marks it deleted, and each
    /// ReplicaSet's controller acts on its own, so a new pod could start first (issue 29). Under
    /// `TerminationComplete` also the pods it has (terminating or not yet deleted).
    pub fn surge_count(&self) -> i32 {
        let counted = |replicas: i32, r: &Revision| {
            let running = replicas.max(r.replicas);
            match self.strategy.pod_replacement {
                PodReplacement::TerminationComplete => running.max(r.pods),
                PodReplacement::TerminationStarted => running,
            }
        };
        let to = counted(self.to_replicas.unwrap_or(self.to.spec_replicas), self.to);
        to + self
            .old
            .iter()
            .map(|o| counted(self.planned(o), o))
            .sum::<i32>()
    }

    /// Whether what the old revisions report bounds their pods: each one's controller has seen
    /// its latest spec. Before that its status may be of a larger spec, with pods it has not yet
    /// let go.
    pub fn old_counts_known(&self) -> bool {
        self.old.iter().all(|o| o.settled)
    }

    /// Whether an older revision completed (OpenShift's `from`).
    pub fn has_complete_old(&self) -> bool {
        self.old.iter().any(|o| o.phase == Phase::Complete)
    }

    /// Whether each revision's available pods, capped at the replicas it asks for, is what it
    /// will have: when its controller has seen its spec, or, without minReadySeconds, always —
    /// a growing revision keeps the pods it has, and a shrinking one loses not-ready pods first.
    pub fn availability_known(&self) -> bool {
        let mut revisions = std::iter::once(self.to).chain(self.old.iter().copied());
        revisions.all(|r| r.settled || r.min_ready_seconds == 0)
    }

    /// Scales the new revision to `n` (no-op when already there).
    pub fn scale_to(&mut self, n: i32) {
        if n != self.to.spec_replicas {
            self.to_replicas = Some(n);
        }
    }

    /// The replicas an old revision has after this pass's scale-downs so far.
    fn planned(&self, o: &Revision) -> i32 {
        self.old_replicas
            .get(o.name.as_str())
            .copied()
            .unwrap_or(o.spec_replicas)
    }

    /// Scales old revisions down by up to `count` in total, oldest first, taking from each at
    /// most what `limit` allows of its planned replicas.
    fn scale_down_by(&mut self, mut count: i32, limit: impl Fn(&Revision, i32) -> i32) {
        for &o in &self.old.clone() {
            if count <= 0 {
                break;
            }
            let planned = self.planned(o);
            let take = count.min(limit(o, planned)).max(0);
            if take > 0 {
                self.old_replicas.insert(o.name.as_str(), planned - take);
                count -= take;
            }
        }
    }

    /// Scales old revisions down by `count` in total, oldest first.
    pub fn scale_down_old(&mut self, count: i32) {
        self.scale_down_by(count, |_, planned| planned);
    }

    /// Removes up to `count` old replicas that are not available (the ReplicaSet controller
    /// deletes not-ready pods first, so availability does not drop).
    pub fn scale_down_unavailable(&mut self, count: i32) {
        self.scale_down_by(count, |o, planned| {
            planned - o.counted_available().min(planned)
        });
    }

    /// Whether this pass changed any replica count (the rollout's measure of progress).
    pub fn progressed(&self) -> bool {
        self.to_replicas.is_some() || !self.old_replicas.is_empty()
    }

    pub fn warn(&mut self, reason: &'static str, message: String) {
        self.events.push(Event::warning(reason, message));
    }

    /// When this rollout last scaled anything. Each scaled revision carries the time on the same
    /// write that scales it (`cutover.io/last-progress`), so a pass that only scales old revisions
    /// down costs no write of the new one; what an old revision carries from before this rollout
    /// started is not this rollout's.
    pub fn last_progress(&self) -> Option<Timestamp> {
        let start = self.to.started_at.or(self.to.created);
        std::iter::once(self.to)
            .chain(self.old.iter().copied())
            .filter_map(|r| r.last_progress)
            .filter(|t| start.is_none_or(|s| *t >= s))
            .max()
    }

    /// When the current wait runs out: timeoutSeconds after the last progress.
    pub fn deadline(&self) -> Timestamp {
        let since = self
            .last_progress()
            .or(self.to.started_at)
            .or(self.to.created)
            .unwrap_or(self.now);
        since
            .checked_add(SignedDuration::from_secs(self.strategy.timeout_seconds))
            .unwrap_or(Timestamp::MAX)
    }

    fn until_deadline(&self) -> Duration {
        self.deadline().duration_since(self.now).unsigned_abs()
    }

    /// Fails when nothing changed for timeoutSeconds; otherwise waits until then.
    pub fn no_progress_deadline(&self) -> Step {
        if self.now >= self.deadline() {
            Step::Fail("timed out waiting for any update progress to be made".into())
        } else {
            Step::Wait(Some(self.until_deadline()))
        }
    }

    /// Complete once `n` pods of the new revision are available; fails when that takes longer
    /// than timeoutSeconds after the last scale.
    pub fn accept_or_wait(&self, n: i32) -> Step {
        if self.to.settled && self.to.available >= n && self.to.spec_replicas == n {
            Step::Complete
        } else if self.now >= self.deadline() {
            Step::Fail(format!(
                "update acceptor rejected {}: pods for rc '{}/{}' took longer than {} seconds to become available",
                self.to.name, self.namespace, self.to.name, self.strategy.timeout_seconds
            ))
        } else {
            Step::Wait(Some(self.until_deadline()))
        }
    }

    /// What is left of `strategy.activeDeadlineSeconds` since this attempt started running;
    /// `None` once it has run out.
    pub fn active_deadline_left(&self) -> Option<Duration> {
        let started = self.to.started_at.unwrap_or(self.now);
        let end = started
            .checked_add(SignedDuration::from_secs(
                self.strategy.active_deadline_seconds,
            ))
            .unwrap_or(Timestamp::MAX);
        (self.now < end).then(|| end.duration_since(self.now).unsigned_abs())
    }

    /// Complete once the new revision has `n` pods, ready or not (its controller has created
    /// what it asks for): how OpenShift's deployer ends a rollout after the acceptance check,
    /// which it does not repeat. `on_timeout` is what happens when they are not there
    /// timeoutSeconds after the last scale.
    pub fn replicas_created(&mut self, n: i32, on_timeout: OnTimeout) -> Step {
        if self.to.settled && self.to.spec_replicas == n && self.to.replicas >= n {
            return Step::Complete;
        }
        if self.now < self.deadline() {
            return Step::Wait(Some(self.until_deadline()));
        }
        let message = format!(
            "{} of {n} pods of rc '{}/{}' were created within {} seconds",
            self.to.replicas, self.namespace, self.to.name, self.strategy.timeout_seconds
        );
        match on_timeout {
            OnTimeout::Fail => Step::Fail(format!("timed out waiting for replicas: {message}")),
            OnTimeout::Complete => {
                self.warn(
                    events::REPLICAS_NOT_CREATED,
                    format!("{message}; the rollout completes"),
                );
                Step::Complete
            }
        }
    }

    /// Scales the new revision to `n`, then accepts it.
    pub fn scale_and_accept(&mut self, n: i32) -> Step {
        self.scale_to(n);
        if self.progressed() {
            Step::Wait(None)
        } else {
            self.accept_or_wait(n)
        }
    }

    /// While the explicit updatePeriodSeconds since the last scale-up has not passed, old
    /// revisions are not scaled down.
    pub fn waiting_update_period(&self) -> bool {
        match (self.strategy.update_period_seconds, self.last_progress()) {
            (Some(p), Some(last)) => self.now < last + SignedDuration::from_secs(p),
            _ => false,
        }
    }

    pub fn update_period_requeue(&self) -> Option<Duration> {
        self.strategy
            .update_period_seconds
            .map(|p| Duration::from_secs(p.unsigned_abs()))
    }

    /// The actions of this pass: scale the old revisions down, the new one up (each scaled
    /// revision recording the time of progress), and events.
    pub fn into_actions(self) -> Vec<Action> {
        let mut actions = Vec::new();
        let now = Some(self.now.to_string());
        for o in &self.old {
            if let Some(&n) = self.old_replicas.get(o.name.as_str()) {
                actions.push(Action::Update(
                    RevisionUpdate::scale(o, n)
                        .annotate(keys::LAST_PROGRESS_ANNOTATION, now.clone()),
                ));
            }
        }
        if self.to_replicas.is_some() || !self.to_annotations.is_empty() {
            let mut update = match self.to_replicas {
                Some(n) => RevisionUpdate::scale(self.to, n),
                None => RevisionUpdate::new(&self.to.name),
            };
            if self.progressed() {
                update = update.annotate(keys::LAST_PROGRESS_ANNOTATION, now);
            }
            update.annotations.extend(self.to_annotations);
            actions.push(Action::Update(update));
        }
        for name in self.stale_jobs {
            actions.push(Action::DeleteJob { name });
        }
        for (name, manifest) in self.new_jobs {
            actions.push(Action::CreateJob { name, manifest });
        }
        for (point, tags) in self.tag_images {
            actions.push(Action::TagImages {
                revision: self.to.name.clone(),
                point,
                tags,
            });
        }
        actions.extend(self.events.into_iter().map(Action::Event));
        actions
    }
}
