//! Admitted: what the Gateway reported on the applied route, and transition times kept from the
//! status as it stood.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::Value;

use crate::api::conditions::route as reason;
use crate::api::route::{RouteIngressCondition, RouteStatus};

use super::manifest::Parent;

/// The Admitted condition.
pub(super) fn condition(status: &str, reason: &str, message: String) -> RouteIngressCondition {
    RouteIngressCondition {
        type_: reason::ADMITTED.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        last_transition_time: None,
    }
}

/// Admitted from the route's `status.parents`: True when every parent it names accepted it and
/// resolved its references for the current generation; False with the Gateway's reason when one
/// refused; Unknown until each has answered.
pub(super) fn admission(
    parents: &[Parent],
    applied: Option<&Value>,
    route_namespace: &str,
    note: Option<String>,
) -> RouteIngressCondition {
    let pending = |who: &str| {
        condition(
            "Unknown",
            reason::PENDING,
            format!("waiting for {who} to accept the route"),
        )
    };
    let Some(applied) = applied else {
        return pending("the Gateway");
    };
    let generation = applied["metadata"]["generation"].as_i64().unwrap_or(0);
    let reported = applied["status"]["parents"].as_array();
    for parent in parents {
        let Some(entry) = reported
            .into_iter()
            .flatten()
            .find(|p| parent.is(&p["parentRef"], route_namespace))
        else {
            return pending(&parent.describe());
        };
        let conditions = entry["conditions"].as_array();
        let find = |t: &str| {
            conditions
                .into_iter()
                .flatten()
                .find(|c| c["type"] == t)
                .cloned()
        };
        for (t, refused_reason) in [
            ("Accepted", reason::GATEWAY_NOT_ACCEPTED),
            ("ResolvedRefs", reason::GATEWAY_REFS_NOT_RESOLVED),
        ] {
            let Some(c) = find(t) else {
                return pending(&parent.describe());
            };
            if c["observedGeneration"]
                .as_i64()
                .is_some_and(|g| g < generation)
            {
                return pending(&parent.describe());
            }
            if c["status"] != "True" {
                return condition(
                    "False",
                    refused_reason,
                    format!(
                        "{}: {}: {}",
                        parent.describe(),
                        c["reason"].as_str().unwrap_or(""),
                        c["message"].as_str().unwrap_or("")
                    ),
                );
            }
        }
    }
    condition("True", "", note.unwrap_or_default())
}

/// A condition keeps its transition time while its status stays; a changed one transitions now.
pub(super) fn keep_transition_times(
    status: &mut RouteStatus,
    previous: Option<&RouteStatus>,
    now: Timestamp,
) {
    for ingress in &mut status.ingress {
        for c in &mut ingress.conditions {
            let old = previous
                .and_then(|p| {
                    p.ingress
                        .iter()
                        .find(|i| i.router_name == ingress.router_name)
                })
                .and_then(|i| {
                    i.conditions
                        .iter()
                        .find(|o| o.type_ == c.type_ && o.status == c.status)
                });
            c.last_transition_time = Some(
                old.and_then(|o| o.last_transition_time.clone())
                    .unwrap_or(Time(now)),
            );
        }
    }
}

/// The Route refused with `reason`: Admitted False says why, and nothing else.
pub(super) fn refuse(
    status: &mut RouteStatus,
    reason: &str,
    message: String,
    previous: Option<&RouteStatus>,
    now: Timestamp,
) {
    for ingress in &mut status.ingress {
        ingress.conditions = vec![condition("False", reason, message.clone())];
    }
    keep_transition_times(status, previous, now);
}
