//! The Argo CD health checks in deploy/argocd/, run in Lua 5.1 as Argo CD runs them, against
//! DeploymentConfigs and Routes in every state the operator writes.

#[path = "support/argocd.rs"]
mod argocd;

use cutover::api::conditions::{RolloutState, rollout_state};
use serde_json::{Value, json};

fn dc(generation: i64, spec: Value, status: Option<Value>) -> Value {
    let mut obj = json!({
        "apiVersion": "apps.openshift.io/v1",
        "kind": "DeploymentConfig",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": spec,
    });
    if let Some(status) = status {
        obj["status"] = status;
    }
    obj
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message})
}

fn at_rest(available: i64, extra: Vec<Value>) -> Value {
    let mut conditions = vec![
        condition(
            "Available",
            "True",
            "",
            "Deployment config has minimum availability.",
        ),
        condition(
            "Progressing",
            "True",
            "NewReplicationControllerAvailable",
            "replication controller \"web-2\" successfully rolled out",
        ),
    ];
    conditions.extend(extra);
    json!({"observedGeneration": 2, "latestVersion": 2, "availableReplicas": available, "conditions": conditions})
}

fn dc_health(obj: &Value) -> (String, String) {
    argocd::health("deploymentconfig-health.lua", obj)
}

#[test]
fn deployment_config_states() {
    let spec = json!({"replicas": 3});
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "never observed",
            dc(1, spec.clone(), None),
            "Progressing",
            "observe the DeploymentConfig",
        ),
        (
            "spec newer than the status (observedGeneration)",
            dc(3, spec.clone(), Some(at_rest(3, vec![]))),
            "Progressing",
            "observe generation 3",
        ),
        (
            "rolling out (Reconciling)",
            dc(
                2,
                spec.clone(),
                Some(json!({"observedGeneration": 2, "conditions": [
                    condition("Progressing", "True", "ReplicationControllerUpdated", "replication controller \"web-2\" is progressing"),
                    condition("Reconciling", "True", "ReplicationControllerUpdated", "replication controller \"web-2\" is progressing"),
                ]})),
            ),
            "Progressing",
            "web-2\" is progressing",
        ),
        (
            "rolling out, as OpenShift itself writes it (no Reconciling)",
            dc(
                2,
                spec.clone(),
                Some(json!({"observedGeneration": 2, "conditions": [
                    condition("Available", "True", "", ""),
                    condition("Progressing", "True", "ReplicationControllerUpdated", "progressing"),
                ]})),
            ),
            "Progressing",
            "ReplicationControllerUpdated",
        ),
        (
            "failed (Stalled)",
            dc(
                2,
                spec.clone(),
                Some(json!({"observedGeneration": 2, "conditions": [
                    condition("Progressing", "False", "ProgressDeadlineExceeded", "replication controller \"web-2\" has failed progressing"),
                    condition("Stalled", "True", "ProgressDeadlineExceeded", "replication controller \"web-2\" has failed progressing"),
                ]})),
            ),
            "Degraded",
            "ProgressDeadlineExceeded: replication controller \"web-2\" has failed progressing",
        ),
        (
            "failed, as OpenShift writes it (Progressing=False only)",
            dc(
                2,
                spec.clone(),
                Some(json!({"observedGeneration": 2, "conditions": [
                    condition("Progressing", "False", "RolloutCancelled", "Rollout for \"shop/web-2\" cancelled"),
                ]})),
            ),
            "Degraded",
            "RolloutCancelled",
        ),
        (
            "a reconcile error",
            dc(
                2,
                spec.clone(),
                Some(at_rest(
                    3,
                    vec![condition(
                        "Stalled",
                        "True",
                        "ReconcileError",
                        "ReplicaSet \"web-3\" exists and is not a revision of this DeploymentConfig",
                    )],
                )),
            ),
            "Degraded",
            "ReconcileError: ReplicaSet",
        ),
        (
            "paused",
            dc(
                2,
                json!({"replicas": 3, "paused": true}),
                Some(at_rest(3, vec![])),
            ),
            "Suspended",
            "paused",
        ),
        (
            "at rest, all available",
            dc(2, spec.clone(), Some(at_rest(3, vec![]))),
            "Healthy",
            "Revision 2 rolled out: 3 of 3",
        ),
        (
            "at rest, a pod lost",
            dc(2, spec.clone(), Some(at_rest(2, vec![]))),
            "Progressing",
            "2 of 3 replicas available",
        ),
        (
            "test mode runs no pods at rest",
            dc(
                2,
                json!({"replicas": 3, "test": true}),
                Some(at_rest(0, vec![])),
            ),
            "Healthy",
            "0 of 0",
        ),
    ];
    for (what, obj, status, message) in cases {
        let (got_status, got_message) = dc_health(&obj);
        assert_eq!(got_status, status, "{what}: {got_message}");
        assert!(
            got_message.contains(message),
            "{what}: {got_message:?} lacks {message:?}"
        );
        // The Lua check and `rollout_state` (what `kubectl dc rollout status` answers) agree on
        // whether a rollout failed, and on a healthy one being done.
        let mut typed = obj.clone();
        typed["spec"]["template"] = json!({"spec": {"containers": []}});
        let dc: cutover::api::DeploymentConfig =
            serde_json::from_value(typed).expect("a DeploymentConfig");
        let state = rollout_state(&dc);
        assert_eq!(
            got_status == "Degraded",
            matches!(state, RolloutState::Failed(_)),
            "{what}: Argo CD says {got_status}, rollout_state {state:?}"
        );
        if got_status == "Healthy" {
            assert!(matches!(state, RolloutState::Done(_)), "{what}: {state:?}");
        }
    }
}

#[test]
fn route_states() {
    let route = |generation: i64, status: Option<Value>| {
        let mut obj = json!({
            "apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"name": "web", "namespace": "shop", "generation": generation},
            "spec": {"host": "web.example.com", "to": {"kind": "Service", "name": "web"}},
        });
        if let Some(s) = status {
            obj["status"] = s;
        }
        obj
    };
    let ingress_with = |cs: &[Value]| json!({"observedGeneration": 1, "ingress": [{"host": "web.example.com", "routerName": "cutover", "conditions": cs}]});
    let ingress = |c: Value| ingress_with(&[c]);
    let shifting = |phase: &str, message: &str| {
        let mut s = ingress(json!({"type": "Admitted", "status": "True"}));
        s["shift"] =
            json!({"phase": phase, "to": "green", "step": 2, "weight": 25, "message": message});
        s
    };
    let cases = vec![
        (
            "not yet admitted",
            route(1, None),
            "Progressing",
            "admitted",
        ),
        (
            "admitted",
            route(
                1,
                Some(ingress(json!({"type": "Admitted", "status": "True"}))),
            ),
            "Healthy",
            "Admitted: web.example.com",
        ),
        (
            "a backend Service is missing (admitted, as on OpenShift's router)",
            route(
                1,
                Some(ingress_with(&[
                    json!({"type": "Admitted", "status": "True"}),
                    json!({"type": "ResolvedRefs", "status": "False", "reason": "BackendNotFound", "message": "Service \"web-green\" not found"}),
                ])),
            ),
            "Degraded",
            "BackendNotFound: Service \"web-green\" not found",
        ),
        (
            "the Gateway has not answered yet",
            route(
                1,
                Some(ingress(
                    json!({"type": "Admitted", "status": "Unknown", "reason": "Pending", "message": "waiting for Gateway infra/public listener web to accept the route"}),
                )),
            ),
            "Progressing",
            "Pending: waiting for Gateway infra/public",
        ),
        (
            "a traffic shift in progress",
            route(
                1,
                Some(shifting(
                    "Progressing",
                    "step 2 of 4: 25% of traffic to green",
                )),
            ),
            "Progressing",
            "Traffic shift to green at 25% (step 2): step 2 of 4",
        ),
        (
            "a paused traffic shift",
            route(1, Some(shifting("Paused", "paused at step 2 (25%)"))),
            "Suspended",
            "Traffic shift paused: green at 25% (step 2)",
        ),
        (
            "a failed traffic shift",
            route(
                1,
                Some(shifting("Failed", "the check failed at step 2 (25%)")),
            ),
            "Degraded",
            "Traffic shift Failed: the check failed",
        ),
        (
            "a traffic shift that succeeded",
            route(1, Some(shifting("Succeeded", "every step passed"))),
            "Healthy",
            "Admitted",
        ),
        (
            "spec newer than the status",
            route(
                2,
                Some(ingress(json!({"type": "Admitted", "status": "True"}))),
            ),
            "Progressing",
            "observe generation 2",
        ),
    ];
    for (what, obj, status, message) in cases {
        let (got_status, got_message) = argocd::health("route-health.lua", &obj);
        assert_eq!(got_status, status, "{what}: {got_message}");
        assert!(
            got_message.contains(message),
            "{what}: {got_message:?} lacks {message:?}"
        );
    }
}
