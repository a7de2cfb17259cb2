//! Defaults that depend on other fields, resolved the way OpenShift's API server defaulted them.
//! A CRD schema can only default an absent field to a constant, so these are applied when the
//! operator reads a spec; what is stored stays exactly what the user wrote.

use super::deployment_config::*;
use super::int_or_percent::IntOrPercent;

/// OpenShift's default rollout timeout, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 600;
/// OpenShift's default deadline of deployer and hook pods, in seconds (6 h).
pub const DEFAULT_ACTIVE_DEADLINE_SECONDS: i64 = 21600;
/// The image of deployer Jobs whose customParams name none, unless the operator is told
/// otherwise (`cutover run --deployer-image`): the operator's own image, run as `cutover deploy`.
pub const DEFAULT_DEPLOYER_IMAGE: &str =
    concat!("ghcr.io/cutover/cutover:", env!("CARGO_PKG_VERSION"));

/// The kind of strategy, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyKind {
    Rolling,
    Recreate,
    Custom,
}

impl StrategyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Rolling => STRATEGY_ROLLING,
            StrategyKind::Recreate => STRATEGY_RECREATE,
            StrategyKind::Custom => STRATEGY_CUSTOM,
        }
    }
}

/// A strategy with every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveStrategy {
    pub kind: StrategyKind,
    /// No-progress deadline (Rolling), acceptance timeout and old-pod wait (Recreate), and
    /// stuck-in-New timeout (all).
    pub timeout_seconds: i64,
    pub active_deadline_seconds: i64,
    /// Only when set explicitly (watch-driven, no default sleep: docs/architecture.md).
    pub update_period_seconds: Option<i64>,
    pub max_surge: IntOrPercent,
    pub max_unavailable: IntOrPercent,
    pub pre: Option<LifecycleHook>,
    pub mid: Option<LifecycleHook>,
    pub post: Option<LifecycleHook>,
    /// The user's deployer (required for Custom; on Rolling and Recreate it runs the rollout).
    pub custom: Option<CustomDeploymentStrategyParams>,
    /// Whether terminating pods count toward maxSurge (Rolling).
    pub pod_replacement: PodReplacement,
}

/// When a Rolling rollout may start a replacement pod, as in Kubernetes' KEP-3973 (proposed for
/// Deployments, whose controller only knows `TerminationStarted`). Set per DeploymentConfig by
/// the annotation `cutover.io/pod-replacement-policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PodReplacement {
    /// Once the pod it replaces is terminating, as its ReplicaSet's status shows (OpenShift's
    /// deployer waits for that status too; the default): maxSurge bounds the replicas the
    /// revisions ask for and the pods not terminating, and rollouts do not wait for old pods to
    /// stop.
    #[default]
    TerminationStarted,
    /// Once the pod it replaces is gone: every pod that exists, terminating ones included, counts
    /// toward maxSurge, so the bound holds for what the nodes (and quotas that count terminating
    /// pods) carry. Each step waits for the old pods' termination before starting new ones.
    TerminationComplete,
}

impl PodReplacement {
    pub const ANNOTATION: &str = super::keys::POD_REPLACEMENT_POLICY_ANNOTATION;

    /// The policy a DeploymentConfig asks for; an unknown value is an error.
    pub fn of(dc: &DeploymentConfig) -> Result<PodReplacement, String> {
        use kube::ResourceExt;
        match dc.annotations().get(Self::ANNOTATION).map(String::as_str) {
            None | Some("TerminationStarted") => Ok(PodReplacement::TerminationStarted),
            Some("TerminationComplete") => Ok(PodReplacement::TerminationComplete),
            Some(other) => Err(format!(
                "metadata.annotations[{}]: unsupported value {other:?}: TerminationStarted (the default) or TerminationComplete",
                Self::ANNOTATION
            )),
        }
    }
}

impl DeploymentConfig {
    /// The strategy of this DeploymentConfig with every default applied, and its annotations'
    /// settings.
    pub fn effective_strategy(&self) -> Result<EffectiveStrategy, String> {
        let mut strategy = self.spec.strategy.effective()?;
        strategy.pod_replacement = PodReplacement::of(self)?;
        Ok(strategy)
    }
}

impl EffectiveStrategy {
    /// Whether the rollout runs in a deployer Job rather than in the operator: always for
    /// Custom, and for Rolling or Recreate with `customParams`.
    pub fn runs_in_deployer(&self) -> bool {
        self.kind == StrategyKind::Custom || self.custom.is_some()
    }
}

impl DeploymentStrategy {
    /// The strategy with OpenShift's defaults applied. An unknown type is an error (admission
    /// refuses it; this catches objects stored before the rule existed).
    pub fn effective(&self) -> Result<EffectiveStrategy, String> {
        let kind = match self.type_.as_deref().unwrap_or(STRATEGY_ROLLING) {
            STRATEGY_ROLLING | "" => StrategyKind::Rolling,
            STRATEGY_RECREATE => StrategyKind::Recreate,
            STRATEGY_CUSTOM => StrategyKind::Custom,
            other => {
                return Err(format!(
                    "unsupported strategy type {other:?}, use \"Custom\" instead and specify your own strategy"
                ));
            }
        };
        let rolling = self.rolling_params.clone().unwrap_or_default();
        let recreate = self.recreate_params.clone().unwrap_or_default();
        // Quirk 13 of the spec: a rolling timeout, when present, wins over the recreate one.
        let timeout_seconds = match kind {
            StrategyKind::Rolling => rolling.timeout_seconds,
            StrategyKind::Recreate => rolling.timeout_seconds.or(recreate.timeout_seconds),
            StrategyKind::Custom => None,
        }
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        let (max_surge, max_unavailable) =
            surge_defaults(rolling.max_surge.clone(), rolling.max_unavailable.clone());
        let (pre, mid, post) = match kind {
            StrategyKind::Rolling => (rolling.pre, None, rolling.post),
            StrategyKind::Recreate => (recreate.pre, recreate.mid, recreate.post),
            StrategyKind::Custom => (None, None, None),
        };
        Ok(EffectiveStrategy {
            kind,
            timeout_seconds,
            active_deadline_seconds: self
                .active_deadline_seconds
                .unwrap_or(DEFAULT_ACTIVE_DEADLINE_SECONDS),
            update_period_seconds: rolling.update_period_seconds,
            max_surge,
            max_unavailable,
            pre,
            mid,
            post,
            custom: self.custom_params.clone(),
            pod_replacement: PodReplacement::default(),
        })
    }
}

/// maxSurge/maxUnavailable defaulting, in OpenShift's order.
pub fn surge_defaults(
    surge: Option<IntOrPercent>,
    unavailable: Option<IntOrPercent>,
) -> (IntOrPercent, IntOrPercent) {
    let p25 = || IntOrPercent::percent(25);
    match (surge, unavailable) {
        (None, None) => (p25(), p25()),
        (Some(s), None) if s.is_zero() => (s, p25()),
        (None, Some(u)) if u.is_zero() => (p25(), u),
        (Some(s), None) => (s, IntOrPercent::Int(0)),
        (None, Some(u)) => (IntOrPercent::Int(0), u),
        (Some(s), Some(u)) => (s, u),
    }
}

impl DeploymentConfigSpec {
    /// `triggers` absent means `[ConfigChange]`; an explicit empty list means none.
    pub fn effective_triggers(&self) -> Vec<DeploymentTriggerPolicy> {
        match &self.triggers {
            Some(t) => t.clone(),
            None => vec![DeploymentTriggerPolicy {
                type_: TRIGGER_CONFIG_CHANGE.to_string(),
                image_change_params: None,
            }],
        }
    }

    pub fn has_trigger(&self, type_: &str) -> bool {
        self.effective_triggers().iter().any(|t| t.type_ == type_)
    }

    /// The parameters of each ImageChange trigger, as written.
    pub fn image_change_params(
        &self,
    ) -> impl Iterator<Item = &crate::api::DeploymentTriggerImageChangeParams> {
        self.triggers
            .iter()
            .flatten()
            .filter_map(|t| t.image_change_params.as_ref())
    }

    /// The pod selector: the spec's, or the template labels when it is empty.
    pub fn effective_selector(&self) -> std::collections::BTreeMap<String, String> {
        match &self.selector {
            Some(s) if !s.is_empty() => s.clone(),
            _ => self.template.labels(),
        }
    }

    pub fn effective_revision_history_limit(&self) -> i32 {
        self.revision_history_limit
            .unwrap_or(DEFAULT_REVISION_HISTORY_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(p: u32) -> IntOrPercent {
        IntOrPercent::percent(p)
    }

    #[test]
    fn surge_and_unavailable_default_in_openshifts_order() {
        assert_eq!(surge_defaults(None, None), (pct(25), pct(25)));
        assert_eq!(
            surge_defaults(Some(IntOrPercent::Int(0)), None),
            (IntOrPercent::Int(0), pct(25))
        );
        assert_eq!(surge_defaults(None, Some(pct(0))), (pct(25), pct(0)));
        assert_eq!(
            surge_defaults(Some(pct(50)), None),
            (pct(50), IntOrPercent::Int(0))
        );
        assert_eq!(
            surge_defaults(None, Some(IntOrPercent::Int(2))),
            (IntOrPercent::Int(0), IntOrPercent::Int(2))
        );
    }

    #[test]
    fn timeouts_default_and_rolling_wins_on_recreate() {
        let s = DeploymentStrategy::default().effective().expect("valid");
        assert_eq!(s.kind, StrategyKind::Rolling);
        assert_eq!(s.timeout_seconds, 600);
        assert_eq!(s.active_deadline_seconds, 21600);
        assert_eq!(s.update_period_seconds, None);

        let s = DeploymentStrategy {
            type_: Some("Recreate".into()),
            recreate_params: Some(RecreateDeploymentStrategyParams {
                timeout_seconds: Some(30),
                ..Default::default()
            }),
            rolling_params: Some(RollingDeploymentStrategyParams {
                timeout_seconds: Some(40),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(s.effective().expect("valid").timeout_seconds, 40);
    }

    #[test]
    fn unknown_strategy_type_is_an_error() {
        let s = DeploymentStrategy {
            type_: Some("BlueGreen".into()),
            ..Default::default()
        };
        assert!(s.effective().unwrap_err().contains("use \"Custom\""));
    }
}
