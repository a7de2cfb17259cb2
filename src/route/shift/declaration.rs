//! A shift's declaration: the annotation parsed and checked into a `Shift` the state machine
//! runs, with the digest that tells one declaration from the next.

use jiff::SignedDuration;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::api::keys;
use crate::api::route::Route;

/// The declaration, as written in the annotation: `to` (and optionally the `deploymentConfig`
/// whose rollouts start the shift), or `releases`, one per backend a release may shift to.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Declaration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default = "default_steps")]
    steps: Vec<i32>,
    #[serde(default)]
    pause: Option<String>,
    #[serde(default)]
    deployment_config: Option<String>,
    #[serde(default)]
    on_failure: Option<String>,
    #[serde(default)]
    analysis: Option<AnalysisDeclaration>,
    /// Omitted when absent, so declarations written before it keep their digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<HeaderPin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mirror: Option<MirrorDeclaration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    releases: Vec<Release>,
}

/// A copy of `percent`% of the requests goes to `to` too, its answers dropped: the new version
/// sees real traffic before it serves any.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct MirrorDeclaration {
    percent: i32,
}

/// A release: a completed rollout of `deploymentConfig` shifts traffic to `to`, from wherever
/// the last release left it. Two of them (blue and green) run blue-green release after release
/// without a change to the Route.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Release {
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_config: Option<String>,
}

/// A request header (exact name and value) that always reaches `to`: testers and synthetic
/// checks see the new version from the start, before any user does.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderPin {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnalysisDeclaration {
    prometheus: String,
    query: String,
    #[serde(default)]
    interval: Option<String>,
    success_condition: SuccessCondition,
    #[serde(default)]
    failure_limit: Option<i32>,
    #[serde(default)]
    inconclusive_limit: Option<i32>,
}

/// The value a check must reach: `atLeast: 0.99` (a success rate) or `atMost: 0.5` (a latency).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuccessCondition {
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub at_most: Option<f64>,
}

impl SuccessCondition {
    pub fn holds(&self, value: f64) -> bool {
        self.at_least.is_none_or(|min| value >= min) && self.at_most.is_none_or(|max| value <= max)
    }
    pub(super) fn describe(&self) -> String {
        match (self.at_least, self.at_most) {
            (Some(min), Some(max)) => format!("between {min} and {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => "anything".into(),
        }
    }
}

fn default_steps() -> Vec<i32> {
    vec![10, 25, 50, 100]
}

/// A valid shift: what the state machine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    /// Where traffic may move, and (with a DeploymentConfig) what starts it: one release for
    /// `to`, the declared ones for `releases`.
    pub releases: Vec<Release>,
    /// Ascending percentages, the last 100.
    pub steps: Vec<i32>,
    pub pause: SignedDuration,
    /// Roll the release's DeploymentConfig back when the shift fails.
    pub rollback_on_failure: bool,
    pub analysis: Option<Analysis>,
    /// Requests carrying this header reach the release's backend whatever the step.
    pub header: Option<HeaderPin>,
    /// The percentage of requests mirrored to the release's backend while the shift runs.
    pub mirror: Option<i32>,
    /// A digest of the declaration.
    pub digest: String,
}

impl Shift {
    /// The release that shifts traffic to `to`.
    pub fn release_to(&self, to: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.to == to)
    }

    /// The DeploymentConfigs whose rollouts start it.
    pub fn deployment_configs(&self) -> impl Iterator<Item = &str> {
        self.releases
            .iter()
            .filter_map(|r| r.deployment_config.as_deref())
    }

    /// The DeploymentConfig behind `to`, if one starts its shifts.
    pub fn deployment_config_of(&self, to: &str) -> Option<&str> {
        self.release_to(to)?.deployment_config.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub prometheus: String,
    /// With `{{namespace}}` and `{{interval}}` in place; `{{service}}` is the release's
    /// backend (`query_for`).
    pub query: String,
    pub interval: SignedDuration,
    pub success: SuccessCondition,
    pub failure_limit: i32,
    pub inconclusive_limit: i32,
}

impl Analysis {
    /// The query of a check of the shift to `to`.
    pub fn query_for(&self, to: &str) -> String {
        self.query.replace("{{service}}", to)
    }
}

/// The Route's shift: `None` without the annotation, `Err` (why) for one that cannot run.
pub fn declared(route: &Route) -> Option<Result<Shift, String>> {
    let text = route.annotations().get(keys::TRAFFIC_SHIFT_ANNOTATION)?;
    Some(parse(route, text))
}

fn parse(route: &Route, text: &str) -> Result<Shift, String> {
    let d: Declaration = serde_saphyr::from_str(text).map_err(|e| {
        let first = e.to_string();
        let first = first.lines().next().unwrap_or_default().to_string();
        format!(
            "{} is not a valid shift: {first}",
            keys::TRAFFIC_SHIFT_ANNOTATION
        )
    })?;
    let backends: Vec<&str> = crate::route::backends(route)
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    let releases = releases(&d)?;
    for r in &releases {
        if !backends.contains(&r.to.as_str()) {
            return Err(format!(
                "to: {:?} is not a backend of the route (backends: {})",
                r.to,
                backends.join(", ")
            ));
        }
    }
    if backends.len() < 2 {
        return Err("a shift needs a second backend to move traffic from".into());
    }
    let ascending = d.steps.windows(2).all(|w| w[0] < w[1]);
    let in_range = d.steps.iter().all(|s| (1..=100).contains(s));
    if d.steps.is_empty() || !ascending || !in_range || d.steps.last() != Some(&100) {
        return Err(format!(
            "steps: {:?} must be ascending percentages from 1 to 100, ending at 100",
            d.steps
        ));
    }
    let pause = duration("pause", d.pause.as_deref(), 30)?;
    let rollback_on_failure = match d.on_failure.as_deref() {
        None | Some("none") => false,
        Some("rollback") => true,
        Some(other) => return Err(format!("onFailure: {other:?} must be none or rollback")),
    };
    if rollback_on_failure && releases.iter().any(|r| r.deployment_config.is_none()) {
        return Err("onFailure: rollback needs deploymentConfig: the one to roll back".into());
    }
    // Of what it says, not how it is written: reformatted, commented or as JSON, the same
    // declaration is the same shift.
    let digest = digest(&serde_json::to_string(&d).unwrap_or_default());
    let analysis = d.analysis.map(|a| analysis(route, a)).transpose()?;
    if let Some(h) = &d.header {
        header_pin(h)?;
    }
    let mirror = d.mirror.as_ref().map(|m| m.percent);
    if let Some(percent) = mirror.filter(|p| !(1..=100).contains(p)) {
        return Err(format!(
            "mirror.percent: {percent} must be a percentage from 1 to 100"
        ));
    }
    Ok(Shift {
        digest,
        releases,
        steps: d.steps,
        pause,
        rollback_on_failure,
        analysis,
        header: d.header,
        mirror,
    })
}

/// A header the Gateway API can match: an HTTP token as its name (what HTTPRoute's
/// `matches[].headers[].name` admits), and a value.
fn header_pin(h: &HeaderPin) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if h.name.is_empty() || h.name.len() > 256 || !h.name.chars().all(token) {
        return Err(format!(
            "header.name: {:?} is not an HTTP header name",
            h.name
        ));
    }
    if h.value.is_empty() || h.value.len() > 4096 {
        return Err("header.value: must be 1 to 4096 characters".into());
    }
    Ok(())
}

/// `to` with its `deploymentConfig`, or `releases`: each to a backend of its own, each with a
/// DeploymentConfig (what else would tell one release from the next).
fn releases(d: &Declaration) -> Result<Vec<Release>, String> {
    match (&d.to, d.releases.as_slice()) {
        (Some(to), []) => Ok(vec![Release {
            to: to.clone(),
            deployment_config: d.deployment_config.clone(),
        }]),
        (None, []) => Err("a shift needs to: the backend traffic moves to (or releases)".into()),
        (None, releases) if d.deployment_config.is_none() => {
            for (i, r) in releases.iter().enumerate() {
                if r.deployment_config.is_none() {
                    return Err(format!(
                        "releases[{i}] needs deploymentConfig: the one whose rollouts shift traffic to {:?}",
                        r.to
                    ));
                }
                if releases[..i].iter().any(|o| o.to == r.to) {
                    return Err(format!("releases: {:?} is named twice", r.to));
                }
            }
            Ok(releases.to_vec())
        }
        _ => Err("releases replaces to and deploymentConfig: give one or the other".into()),
    }
}

fn analysis(route: &Route, a: AnalysisDeclaration) -> Result<Analysis, String> {
    if !(a.prometheus.starts_with("http://") || a.prometheus.starts_with("https://")) {
        return Err(format!(
            "analysis.prometheus: {:?} must be an http:// or https:// URL",
            a.prometheus
        ));
    }
    if a.success_condition.at_least.is_none() && a.success_condition.at_most.is_none() {
        return Err("analysis.successCondition needs atLeast or atMost".into());
    }
    let interval = duration("analysis.interval", a.interval.as_deref(), 30)?;
    let query = a
        .query
        .replace("{{namespace}}", &route.namespace().unwrap_or_default())
        .replace("{{interval}}", &format!("{}s", interval.as_secs()));
    let limit = |name: &str, v: Option<i32>, default: i32| match v.unwrap_or(default) {
        n if n >= 1 => Ok(n),
        n => Err(format!("analysis.{name}: {n} must be at least 1")),
    };
    Ok(Analysis {
        prometheus: a.prometheus,
        query,
        interval,
        success: a.success_condition,
        failure_limit: limit("failureLimit", a.failure_limit, 1)?,
        inconclusive_limit: limit("inconclusiveLimit", a.inconclusive_limit, 3)?,
    })
}

fn duration(
    field: &str,
    text: Option<&str>,
    default_seconds: i64,
) -> Result<SignedDuration, String> {
    let Some(text) = text else {
        return Ok(SignedDuration::from_secs(default_seconds));
    };
    let d: SignedDuration = text
        .parse()
        .map_err(|_| format!("{field}: {text:?} is not a duration (30s, 2m, 1h)"))?;
    if d < SignedDuration::from_secs(1) {
        return Err(format!("{field}: {text:?} must be at least 1s"));
    }
    Ok(d)
}

pub(super) fn digest(text: &str) -> String {
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
