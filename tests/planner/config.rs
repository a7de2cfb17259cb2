//! ConfigMap and Secret triggers against the simulated cluster: a DeploymentConfig that opts in
//! rolls out when an object its template references changes (as the shell reads its hash),
//! records the hashes on each revision, and says when a followed object is missing.

use crate::sim::{World, dc};
use cutover::api::{DeploymentConfig, DeploymentConfigSpec, PodTemplate};
use serde_json::json;

const HASHES: &str = "cutover.io/config-hashes";

fn following(setting: Option<&str>) -> DeploymentConfig {
    let triggers = serde_json::from_value(json!([{"type": "ConfigChange"}])).expect("triggers");
    let mut d = dc(DeploymentConfigSpec {
        replicas: 2,
        template: PodTemplate(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "registry.test/app:1",
                "envFrom": [{"configMapRef": {"name": "settings"}}],
                "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}]}
        })),
        triggers: Some(triggers),
        ..Default::default()
    });
    if let Some(setting) = setting {
        d.metadata.annotations = Some(
            [(
                "cutover.io/config-triggers".to_string(),
                setting.to_string(),
            )]
            .into(),
        );
    }
    d
}

fn hashes(settings: &str, db: &str) -> cutover::strategy::config_triggers::ConfigHashes {
    [
        ("ConfigMap/settings".to_string(), Some(settings.to_string())),
        ("Secret/db".to_string(), Some(db.to_string())),
    ]
    .into()
}

#[test]
fn a_changed_config_map_rolls_out_a_revision_naming_it() {
    let mut w = World::new(following(Some("true")));
    w.configs = hashes("s1", "d1");
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    assert_eq!(
        w.annotation_of(1, HASHES).as_deref(),
        Some(r#"{"ConfigMap/settings":"s1","Secret/db":"d1"}"#),
        "the revision records what it runs with"
    );
    for _ in 0..3 {
        w.step();
    }
    assert_eq!(w.latest_version(), 1, "nothing changed, nothing rolls out");
    assert_eq!(
        w.condition("ConfigTriggers").map(|c| c.0),
        Some("True".into())
    );

    w.configs = hashes("s2", "d1");
    assert!(w.run_until(30, |w| w.phase(2).as_deref() == Some("Complete"), |_| {}));
    let details =
        w.dc.status
            .as_ref()
            .and_then(|s| s.details.clone())
            .expect("details");
    assert_eq!(details.message, "config change: ConfigMap settings changed");
    assert_eq!(details.causes[0].type_, "ConfigChange");
    assert_eq!(
        w.annotation_of(2, HASHES).as_deref(),
        Some(r#"{"ConfigMap/settings":"s2","Secret/db":"d1"}"#)
    );
    assert_eq!(w.latest_version(), 2, "exactly one new revision");
}

#[test]
fn only_the_named_objects_are_followed_and_not_opting_in_follows_none() {
    let mut w = World::new(following(Some("db")));
    w.configs = [("Secret/db".to_string(), Some("d1".to_string()))].into();
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    w.configs = [("Secret/db".to_string(), Some("d2".to_string()))].into();
    assert!(w.run_until(30, |w| w.phase(2).as_deref() == Some("Complete"), |_| {}));
    let details =
        w.dc.status
            .as_ref()
            .and_then(|s| s.details.clone())
            .expect("details");
    assert_eq!(details.message, "config change: Secret db changed");

    let mut w = World::new(following(None));
    w.configs = hashes("s1", "d1");
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    w.configs = hashes("s2", "d2");
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(w.latest_version(), 1);
    assert_eq!(w.condition("ConfigTriggers"), None);
}

#[test]
fn a_missing_object_is_a_condition_not_a_rollout() {
    let mut w = World::new(following(Some("true")));
    w.configs = hashes("s1", "d1");
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    w.configs.insert("ConfigMap/settings".into(), None);
    for _ in 0..5 {
        w.step();
    }
    assert_eq!(w.latest_version(), 1);
    let (status, reason, message) = w.condition("ConfigTriggers").expect("condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ConfigNotFound")
    );
    assert!(
        message.starts_with("ConfigMap/settings not found"),
        "{message}"
    );
    // Back, changed: it rolls out.
    w.configs = hashes("s3", "d1");
    assert!(w.run_until(30, |w| w.phase(2).as_deref() == Some("Complete"), |_| {}));
}

#[test]
fn a_revision_from_before_the_opt_in_records_a_baseline_rather_than_rolling_out() {
    let mut w = World::new(following(None));
    w.configs = hashes("s1", "d1");
    assert!(w.run_until(30, |w| w.phase(1).as_deref() == Some("Complete"), |_| {}));
    assert_eq!(w.annotation_of(1, HASHES), None);
    w.dc.metadata.annotations =
        Some([("cutover.io/config-triggers".to_string(), "true".to_string())].into());
    for _ in 0..3 {
        w.step();
    }
    assert_eq!(w.latest_version(), 1, "opting in is no change");
    assert!(w.annotation_of(1, HASHES).is_some(), "the baseline");
    w.configs = hashes("s2", "d1");
    assert!(w.run_until(30, |w| w.phase(2).as_deref() == Some("Complete"), |_| {}));
}
