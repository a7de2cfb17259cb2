//! Rung: ConfigMap and Secret triggers (opt-in, cutover's own). With
//! `cutover.io/config-triggers: "true"` (or a comma-separated list of names) a DeploymentConfig
//! rolls out when a ConfigMap or Secret its template references changes: each revision records
//! the hashes of the objects' data it was created with, and a hash that differs from the latest
//! revision's is a config change naming the object. Reloader's job, done by the planner, so the
//! rollout is an ordinary revision with hooks, strategy and history.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::conditions::reason;
use crate::api::keys;
use crate::api::{DeploymentCause, DeploymentConfig, TRIGGER_CONFIG_CHANGE};

use super::pass::Pass;
use super::status::{condition, remove_condition, set_condition};
use super::{Observed, RevisionUpdate};

/// Which objects a template names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigKind {
    ConfigMap,
    Secret,
}

impl ConfigKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::ConfigMap => "ConfigMap",
            ConfigKind::Secret => "Secret",
        }
    }
}

/// A ConfigMap or Secret of the DeploymentConfig's namespace its template references.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigRef {
    pub kind: ConfigKind,
    pub name: String,
    /// Every reference to it says `optional: true`: its absence is no problem.
    pub optional: bool,
}

impl ConfigRef {
    /// `ConfigMap/name`: the key of its hash.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.name)
    }
}

/// The hashes the shell read of the followed objects (`None`: the object does not exist).
pub type ConfigHashes = BTreeMap<String, Option<String>>;

/// The objects the DeploymentConfig follows: none unless it opted in.
pub fn followed(dc: &DeploymentConfig) -> Vec<ConfigRef> {
    let Some(setting) = dc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(keys::CONFIG_TRIGGERS_ANNOTATION))
        .map(|s| s.trim())
    else {
        return Vec::new();
    };
    let all = references(&dc.spec.template.0);
    match setting {
        "" | "false" => Vec::new(),
        "true" => all,
        names => {
            let names: Vec<&str> = names.split(',').map(str::trim).collect();
            all.into_iter()
                .filter(|r| names.contains(&r.name.as_str()))
                .collect()
        }
    }
}

/// Every ConfigMap and Secret a pod template references: env, envFrom, volumes and projected
/// volumes, of containers and init containers.
pub fn references(template: &Value) -> Vec<ConfigRef> {
    let spec = &template["spec"];
    let mut found: BTreeMap<(ConfigKind, String), bool> = BTreeMap::new();
    let mut add = |kind, reference: &Value, name_field: &str| {
        if let Some(name) = reference[name_field].as_str().filter(|n| !n.is_empty()) {
            let optional = reference["optional"].as_bool().unwrap_or(false);
            let entry = found.entry((kind, name.to_string())).or_insert(true);
            *entry = *entry && optional;
        }
    };
    for list in ["containers", "initContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            for e in c["env"].as_array().into_iter().flatten() {
                add(
                    ConfigKind::ConfigMap,
                    &e["valueFrom"]["configMapKeyRef"],
                    "name",
                );
                add(ConfigKind::Secret, &e["valueFrom"]["secretKeyRef"], "name");
            }
            for e in c["envFrom"].as_array().into_iter().flatten() {
                add(ConfigKind::ConfigMap, &e["configMapRef"], "name");
                add(ConfigKind::Secret, &e["secretRef"], "name");
            }
        }
    }
    for v in spec["volumes"].as_array().into_iter().flatten() {
        add(ConfigKind::ConfigMap, &v["configMap"], "name");
        add(ConfigKind::Secret, &v["secret"], "secretName");
        for source in v["projected"]["sources"].as_array().into_iter().flatten() {
            add(ConfigKind::ConfigMap, &source["configMap"], "name");
            add(ConfigKind::Secret, &source["secret"], "name");
        }
    }
    found
        .into_iter()
        .map(|((kind, name), optional)| ConfigRef {
            kind,
            name,
            optional,
        })
        .collect()
}

/// The hashes a new revision records: those of the followed objects that exist, as JSON.
pub(super) fn revision_hashes(obs: &Observed) -> Option<String> {
    let followed: Vec<String> = followed(&obs.dc).iter().map(ConfigRef::key).collect();
    let present: BTreeMap<&String, &String> = obs
        .configs
        .iter()
        .filter(|(k, _)| followed.contains(k))
        .filter_map(|(k, h)| h.as_ref().map(|h| (k, h)))
        .collect();
    (!present.is_empty()).then(|| serde_json::to_string(&present).unwrap_or_default())
}

/// Fires (when `may_fire`: no other trigger did this pass) when a followed object's hash differs
/// from the one the latest revision recorded; says on the ConfigTriggers condition which followed
/// objects are missing. Returns whether it started a rollout.
pub(super) fn fire(obs: &Observed, pass: &mut Pass, may_fire: bool) -> bool {
    let followed = followed(&obs.dc);
    let conditions = &mut pass.status.conditions;
    if followed.is_empty() {
        remove_condition(conditions, keys::CONFIG_TRIGGERS_CONDITION);
        return false;
    }
    let missing: Vec<String> = followed
        .iter()
        .filter(|r| !r.optional && obs.configs.get(&r.key()).is_none_or(Option::is_none))
        .map(ConfigRef::key)
        .collect();
    let c = if missing.is_empty() {
        condition(keys::CONFIG_TRIGGERS_CONDITION, "True", "", "")
    } else {
        condition(
            keys::CONFIG_TRIGGERS_CONDITION,
            "False",
            reason::CONFIG_NOT_FOUND,
            format!(
                "{} not found: no rollout until it exists (the pods could not start without it)",
                missing.join(", ")
            ),
        )
    };
    set_condition(conditions, c, pass.now);
    if !may_fire || !missing.is_empty() || pass.status.latest_version == 0 {
        return false;
    }
    let Some(latest) = pass.latest(obs) else {
        return false;
    };
    let current = revision_hashes(obs);
    let recorded = latest.annotations.get(keys::CONFIG_HASHES_ANNOTATION);
    let Some(recorded) = recorded else {
        // A revision from before the opt-in: it records what it runs with now, the baseline.
        if let Some(current) = current {
            pass.actions.push(super::Action::Update(
                RevisionUpdate::new(&latest.name)
                    .annotate(keys::CONFIG_HASHES_ANNOTATION, Some(current)),
            ));
        }
        return false;
    };
    let recorded: BTreeMap<String, String> = serde_json::from_str(recorded).unwrap_or_default();
    let changed: Vec<String> = followed
        .iter()
        .filter_map(|r| {
            let now = obs.configs.get(&r.key())?.as_ref()?;
            (recorded.get(&r.key()) != Some(now)).then(|| format!("{} {}", r.kind.as_str(), r.name))
        })
        .collect();
    if changed.is_empty() {
        return false;
    }
    pass.bump(
        &format!("config change: {} changed", changed.join(", ")),
        vec![DeploymentCause::of(TRIGGER_CONFIG_CHANGE)],
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_come_from_env_env_from_volumes_and_projections() {
        let template = json!({"spec": {
            "containers": [{"name": "app",
                "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}}},
                        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": true}}}],
                "envFrom": [{"configMapRef": {"name": "common"}}]}],
            "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "db"}}]}],
            "volumes": [{"name": "v", "configMap": {"name": "files"}},
                        {"name": "s", "secret": {"secretName": "tls", "optional": true}},
                        {"name": "p", "projected": {"sources": [{"configMap": {"name": "settings"}}, {"secret": {"name": "token"}}]}}]
        }});
        let refs: Vec<(String, bool)> = references(&template)
            .into_iter()
            .map(|r| (r.key(), r.optional))
            .collect();
        assert_eq!(
            refs,
            [
                ("ConfigMap/common".to_string(), false),
                ("ConfigMap/files".into(), false),
                ("ConfigMap/settings".into(), false),
                ("Secret/db".into(), false),
                ("Secret/tls".into(), true),
                ("Secret/token".into(), false),
            ],
            "db is optional in one reference only, so it is required"
        );
    }
}
