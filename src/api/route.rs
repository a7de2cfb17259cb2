//! `Route` (route.openshift.io/v1), schema-compatible with OpenShift's: a host and path sent to
//! up to four weighted Services. cutover realises each Route as a Gateway API route it owns.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Desired state of a Route.
// clippy reads the printcolumn attributes' repeated `type_ = "string"` as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "route.openshift.io",
    version = "v1",
    kind = "Route",
    plural = "routes",
    namespaced,
    status = "RouteStatus",
    printcolumn(name = "Host", type_ = "string", json_path = ".spec.host"),
    printcolumn(name = "Path", type_ = "string", json_path = ".spec.path"),
    printcolumn(name = "Services", type_ = "string", json_path = ".status.services"),
    printcolumn(
        name = "Termination",
        type_ = "string",
        json_path = ".spec.tls.termination"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.path) || !has(self.tls) || !has(self.tls.termination) || self.tls.termination.lowerAscii() != 'passthrough'")
        .message("passthrough termination does not support paths"),
    validation = Rule::new("!has(self.wildcardPolicy) || self.wildcardPolicy != 'Subdomain' || has(self.host)")
        .message("host name is required for a Subdomain wildcard policy"),
)]
pub struct RouteSpec {
    /// The public host name. Without one, the operator's `--route-domain` gives
    /// `<name>-<namespace>.<domain>` (written here, as OpenShift's API server does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(
            pattern = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
        )
    )]
    pub host: Option<String>,
    /// Served as `<subdomain>.<domain>` (`--route-domain`) when host is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// Path prefix the route matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new("self.startsWith('/')").message("path must begin with /"))]
    pub path: Option<String>,
    /// The primary backend.
    pub to: RouteTargetReference,
    /// Up to three more weighted backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 3))]
    pub alternate_backends: Option<Vec<RouteTargetReference>>,
    /// The Service port traffic goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<RoutePort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// `None` (default) or `Subdomain`; immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("self == 'None' || self == 'Subdomain'").message("wildcardPolicy must be None or Subdomain"),
        validation = Rule::new("self == oldSelf").message("wildcardPolicy is immutable")
    )]
    pub wildcard_policy: Option<String>,
    /// Header actions (OpenShift 4.14+): request and response Set/Delete, realised as
    /// HTTPRoute header filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::api::route::preserve_unknown")]
    pub http_headers: Option<serde_json::Value>,
}

/// A weighted Service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteTargetReference {
    /// Must be `Service` (the default).
    #[serde(default = "service_kind")]
    #[x_kube(validation = Rule::new("self == 'Service'").message("must be Service"))]
    pub kind: String,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// 0–256 (default 100); 0 sends this backend no new requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 256))]
    pub weight: Option<i32>,
}

fn service_kind() -> String {
    "Service".into()
}

pub const DEFAULT_WEIGHT: i32 = 100;

impl RouteTargetReference {
    pub fn effective_weight(&self) -> i32 {
        self.weight.unwrap_or(DEFAULT_WEIGHT)
    }
}

/// The Service port of a Route: a port number or name.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    #[x_kube(validation = Rule::new("string(self) != '0' && string(self) != ''").message("targetPort must be a port number or name, not empty or 0"))]
    pub target_port: IntOrString,
}

/// TLS of a Route.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.termination.lowerAscii() != 'passthrough' || !has(self.certificate) && !has(self.key) && !has(self.caCertificate) && !has(self.destinationCACertificate) && !has(self.externalCertificate)")
        .message("passthrough termination does not support certificates"),
    validation = Rule::new("self.termination.lowerAscii() != 'edge' || !has(self.destinationCACertificate)")
        .message("edge termination does not support destinationCACertificate"),
    validation = Rule::new("!has(self.certificate) || !has(self.externalCertificate)")
        .message("certificate and externalCertificate cannot both be specified"),
    validation = Rule::new("self.termination.lowerAscii() != 'passthrough' || !has(self.insecureEdgeTerminationPolicy) || self.insecureEdgeTerminationPolicy != 'Allow'")
        .message("insecureEdgeTerminationPolicy Allow is not supported with passthrough termination"),
)]
pub struct TlsConfig {
    /// `edge`, `passthrough` or `reencrypt` (capitalised forms accepted).
    #[x_kube(validation = Rule::new("self.lowerAscii() in ['edge', 'passthrough', 'reencrypt']").message("termination must be edge, passthrough or reencrypt"))]
    pub termination: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
    #[serde(
        rename = "destinationCACertificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_ca_certificate: Option<String>,
    /// `None`, `Allow` or `Redirect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self in ['None', 'Allow', 'Redirect', '']").message("insecureEdgeTerminationPolicy must be None, Allow or Redirect"))]
    pub insecure_edge_termination_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_certificate: Option<LocalObjectReference>,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct LocalObjectReference {
    pub name: String,
}

/// Observed state of a Route.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    /// One entry: cutover's, as OpenShift has one per router.
    #[serde(default)]
    pub ingress: Vec<RouteIngress>,
    /// The share of traffic each backend receives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendShare>,
    /// `name(percent%)` of each backend, for the SERVICES column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<String>,
    #[serde(default)]
    pub observed_generation: i64,
    /// The progressive traffic shift of `cutover.io/traffic-shift`, where it stands: the state
    /// an operator restart resumes from (cutover's; OpenShift's clients ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<ShiftStatus>,
    /// The backend a traffic shift promoted: it receives all traffic instead of the spec's
    /// weights until the next release shifts from it, or the spec's backends change (weights set
    /// by hand, or the promoted backend named primary; the record stays, no longer serving, until
    /// the next promotion). An edit or removal of the shift's declaration leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<Promotion>,
    /// Whether a client stays on the backend it first reached (a Route with weighted backends,
    /// or a traffic shift, is sticky by default as on OpenShift's router), and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<SessionAffinity>,
}

/// How a weighted Route keeps each client on one backend: a cookie the data plane sets.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinity {
    /// `TraefikService` (a weighted TraefikService with a sticky cookie, for Traefik),
    /// `SessionPersistence` (the HTTPRoute rule's, where the Gateway API's experimental channel
    /// is installed) or `None` (sessions are not sticky: `message` says why).
    pub mechanism: String,
    /// The cookie that carries the session: `router.openshift.io/cookie_name`, else one named
    /// after the Route.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cookie: String,
    /// Why sessions are not sticky, when they are not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// `status.sessionAffinity.mechanism` values.
pub mod affinity {
    pub const TRAEFIK_SERVICE: &str = "TraefikService";
    pub const SESSION_PERSISTENCE: &str = "SessionPersistence";
    pub const NONE: &str = "None";
}

/// A traffic shift's lasting result: the backend it promoted.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// The backend that receives all traffic.
    pub backend: String,
    /// A digest of the spec's backends and weights when it was promoted: a change of them ends
    /// the promotion (the spec's weights serve again).
    pub spec_backends: String,
    pub promoted_at: Time,
    /// The release it promoted, e.g. `deploymentconfig "blue" #4`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release: String,
}

/// Where a progressive traffic shift stands.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShiftStatus {
    /// Pending, Progressing, Paused, Succeeded, Failed, Aborted, or Invalid.
    pub phase: String,
    /// The backend traffic moves to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// A digest of the declaration this shift runs (an edit goes on with the same release).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub declaration: String,
    /// The step applied (1-based; 0 before the first), and the percent of traffic it sends to
    /// `to`.
    #[serde(default)]
    pub step: i32,
    #[serde(default)]
    pub weight: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_at: Option<Time>,
    /// Since when the shift holds at its step because nothing can be judged: the Route is not
    /// admitted (the step starts over once it is), or a newer rollout of the followed
    /// DeploymentConfig is in flight (the shift starts over once it completes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_since: Option<Time>,
    /// Why a Paused shift is paused: Requested (`pause`: no checks until `resume`) or
    /// InconclusiveCheck (checks go on; the next conclusive one, or `resume`, goes on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    /// Checks of the current step that passed; failed and inconclusive checks of the shift.
    #[serde(default)]
    pub passed_checks: i32,
    #[serde(default)]
    pub failed_checks: i32,
    #[serde(default)]
    pub inconclusive_checks: i32,
    /// Ready pods of the backends that served traffic when the shift started: a step to p% of
    /// traffic waits until `to` has ceil(p% × podsBefore) ready pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods_before: Option<i32>,
    /// The newest revision of each followed DeploymentConfig the shift has seen: a completed
    /// rollout newer than it is a release, and starts a shift to its backend.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deployment_config_versions: BTreeMap<String, i64>,
    /// Deprecated: what an earlier cutover wrote for its one followed DeploymentConfig, read as
    /// that DeploymentConfig's entry of `deploymentConfigVersions` and never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_config_version: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The latest checks, newest last (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<ShiftCheck>,
    /// The last request of each kind handled (promote, promote-full, pause, resume, abort).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<super::RequestStatus>,
}

/// One analysis check.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShiftCheck {
    pub time: Time,
    pub step: i32,
    /// Passed, Failed or Inconclusive.
    pub result: String,
    /// The query's value, or why there is none.
    pub value: String,
}

#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub router_name: String,
    #[serde(default)]
    pub conditions: Vec<RouteIngressCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard_policy: Option<String>,
    /// The Gateway's address, where DNS for the host should point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_canonical_hostname: Option<String>,
}

/// An OpenShift route condition (type Admitted; UnsupportedConfiguration is cutover's).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngressCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
}

/// A backend's weight and the share of requests it receives.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackendShare {
    pub name: String,
    pub weight: i32,
    /// Percent of requests, one decimal: weight / sum of weights.
    pub percent: String,
}

pub(crate) fn preserve_unknown(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}
