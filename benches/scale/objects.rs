//! The objects: identical DeploymentConfigs and Deployments, and when each is done rolling out.
#![allow(dead_code)] // shared by benches/scale.rs, fleet.rs and shards.rs, each uses a part

use cutover::api::DeploymentConfig;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

pub fn template(image: &str) -> serde_json::Value {
    json!({"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "app", "image": image}]}})
}

/// The pod replacement policy the DeploymentConfigs ask for (`None`: cutover's default).
pub fn pod_replacement() -> Option<String> {
    std::env::var("CUTOVER_BENCH_POD_REPLACEMENT")
        .ok()
        .filter(|p| !p.is_empty())
}

pub fn dc(name: &str, replicas: i32) -> DeploymentConfig {
    let annotations = match pod_replacement() {
        Some(policy) => json!({"cutover.io/pod-replacement-policy": policy}),
        None => json!({}),
    };
    serde_json::from_value(json!({
        "apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"replicas": replicas, "selector": {"app": "bench", "bench": name},
                 "template": {"metadata": {"labels": {"app": "bench", "bench": name}}, "spec": template("app:1")["spec"]},
                 "strategy": {"type": "Rolling", "rollingParams": {"maxSurge": "25%", "maxUnavailable": "25%"}}}
    }))
    .expect("dc")
}

pub fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench", "bench": name}},
                 "template": {"metadata": {"labels": {"app": "bench", "bench": name}}, "spec": template("app:1")["spec"]},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}
    }))
    .expect("deployment")
}

/// Which rollout of an object is done: the first (created) or the second (template change).
pub fn dc_done(dc: &DeploymentConfig, replicas: i32, round: i64) -> bool {
    dc.status.as_ref().is_some_and(|s| {
        s.latest_version == round
            && s.updated_replicas == replicas
            && s.replicas == replicas
            && s.available_replicas == replicas
            && s.conditions.iter().any(|c| {
                c.type_ == "Progressing" && c.reason == "NewReplicationControllerAvailable"
            })
    })
}

pub fn deployment_done(d: &Deployment, replicas: i32, round: i64) -> bool {
    let (Some(s), Some(g)) = (&d.status, d.metadata.generation) else {
        return false;
    };
    g >= round
        && s.observed_generation.unwrap_or(0) >= g
        // Counts of 0 are left out of the status.
        && s.updated_replicas.unwrap_or(0) == replicas
        && s.available_replicas.unwrap_or(0) == replicas
        && s.replicas.unwrap_or(0) == replicas
}
