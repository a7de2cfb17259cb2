//! The admission rules (CEL in the CRD), evaluated client-side with kube's CEL validator: fast
//! feedback on the messages the API server gives. The e2e tests prove the same against the real
//! API server.

use cutover::api::DeploymentConfig;
use serde_json::{Value, json};

fn base() -> Value {
    json!({
        "apiVersion": "apps.openshift.io/v1",
        "kind": "DeploymentConfig",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"app": "web"},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]}
            }
        }
    })
}

type Mutation = Box<dyn FnOnce(&mut Value)>;

fn errors(mutate: impl FnOnce(&mut Value)) -> String {
    let mut v = base();
    mutate(&mut v);
    let dc: DeploymentConfig = serde_json::from_value(v).expect("deserialises");
    match kube::core::cel::validate_cel(&dc) {
        Ok(()) => String::new(),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn a_valid_config_passes() {
    assert_eq!(errors(|_| {}), "");
}

#[test]
fn each_rule_has_its_message() {
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|v| v["spec"]["replicas"] = json!(-1)),
            "replicas cannot be negative",
        ),
        (
            Box::new(|v| {
                v["spec"]["strategy"] =
                    json!({"rollingParams": {"maxSurge": 0, "maxUnavailable": "0%"}})
            }),
            "maxUnavailable cannot be 0 when maxSurge is 0 as well",
        ),
        (
            Box::new(|v| {
                v["spec"]["strategy"] = json!({"rollingParams": {"maxUnavailable": "150%"}})
            }),
            "maxUnavailable must not be more than 100%",
        ),
        (
            Box::new(|v| v["spec"]["strategy"] = json!({"type": "BlueGreen"})),
            "unsupported strategy type",
        ),
        (
            Box::new(|v| v["spec"]["strategy"] = json!({"type": "Custom"})),
            "customParams is required",
        ),
        (
            Box::new(|v| {
                v["spec"]["strategy"] = json!({"type": "Recreate", "recreateParams": {"pre": {"failurePolicy": "Abort"}}})
            }),
            "One of execNewPod or tagImages must be specified",
        ),
        (
            Box::new(|v| {
                v["spec"]["strategy"] = json!({"type": "Recreate", "recreateParams": {"post": {"failurePolicy": "Ignore",
                    "tagImages": [{"containerName": "app", "to": {"kind": "ImageStreamTag"}}]}}})
            }),
            "to.name: a destination tag name is required",
        ),
        (
            Box::new(|v| {
                v["spec"]["strategy"] =
                    json!({"rollingParams": {"timeoutSeconds": 600}, "activeDeadlineSeconds": 600})
            }),
            "activeDeadlineSeconds must be greater than timeoutSeconds",
        ),
        (
            Box::new(|v| v["spec"]["minReadySeconds"] = json!(600)),
            "minReadySeconds must be less than the deployment timeout",
        ),
        (
            Box::new(|v| v["spec"]["selector"] = json!({"app": "other"})),
            "selector does not match template labels",
        ),
        (
            Box::new(|v| v["spec"]["triggers"] = json!([{"type": "ImageChange"}])),
            "imageChangeParams is required for an ImageChange trigger",
        ),
    ];
    for (mutate, message) in cases {
        let got = errors(mutate);
        assert!(got.contains(message), "expected {message:?} in {got}");
    }
}

#[test]
fn surge_and_unavailable_are_integers_or_percentages() {
    for ok in [json!(0), json!(3), json!("25%"), json!("0%")] {
        let got = errors(|v| {
            v["spec"]["strategy"] = json!({"rollingParams": {"maxSurge": ok, "maxUnavailable": 1}})
        });
        assert_eq!(got, "", "{ok} is valid");
    }
    for bad in [json!(-1), json!("25"), json!("x%"), json!("2.5%")] {
        let got = errors(|v| {
            v["spec"]["strategy"] = json!({"rollingParams": {"maxSurge": bad, "maxUnavailable": 1}})
        });
        assert!(
            got.contains("must be an integer >= 0 or a percentage"),
            "{bad}: {got}"
        );
    }
}

/// As OpenShift: a hook's containerName may be left out only when the template has one
/// container; a name is not checked against the template (the rollout reports that).
#[test]
fn a_hook_container_name_is_required_only_with_several_containers() {
    let hook = |point: &str, container: Option<&str>| {
        let mut exec = json!({"command": ["migrate"]});
        if let Some(c) = container {
            exec["containerName"] = json!(c);
        }
        let params = if point == "mid" {
            "recreateParams"
        } else {
            "rollingParams"
        };
        let kind = if point == "mid" {
            "Recreate"
        } else {
            "Rolling"
        };
        json!({"type": kind, params: {point: {"failurePolicy": "Abort", "execNewPod": exec}}})
    };
    let two_containers = |v: &mut Value| {
        v["spec"]["template"]["spec"]["containers"] = json!([
            {"name": "app", "image": "app:1"},
            {"name": "side", "image": "side:1"}
        ])
    };
    for point in ["pre", "mid", "post"] {
        let strategy = hook(point, None);
        assert_eq!(
            errors(|v| v["spec"]["strategy"] = strategy),
            "",
            "{point}: one container"
        );
        let strategy = hook(point, Some("nope"));
        assert_eq!(
            errors(|v| v["spec"]["strategy"] = strategy),
            "",
            "{point}: not checked"
        );
        let strategy = hook(point, None);
        let got = errors(|v| {
            two_containers(v);
            v["spec"]["strategy"] = strategy;
        });
        assert!(
            got.contains("the template has more than one container"),
            "{point}: {got}"
        );
        let strategy = hook(point, Some("side"));
        let got = errors(|v| {
            two_containers(v);
            v["spec"]["strategy"] = strategy;
        });
        assert_eq!(got, "", "{point}: named");
    }
}

/// ImageStream tags: OpenShift's rules and messages.
#[test]
fn image_stream_tags_are_checked_with_openshifts_messages() {
    use cutover::api::image_stream::ImageStream;
    let check = |tag: Value| {
        let is: ImageStream = serde_json::from_value(json!({
            "apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
            "metadata": {"name": "app"}, "spec": {"tags": [tag]}
        }))
        .expect("deserialises");
        match kube::core::cel::validate_cel(&is) {
            Ok(()) => String::new(),
            Err(e) => format!("{e:?}"),
        }
    };
    let from = |kind: &str, name: &str| json!({"name": "v1", "from": {"kind": kind, "name": name}});
    for ok in [
        from("DockerImage", "registry.test:5000/team/app:v1"),
        from("DockerImage", "nginx"),
        from(
            "DockerImage",
            &format!("quay.io/a/b@sha256:{}", "ab".repeat(32)),
        ),
        from("ImageStreamTag", "v2"),
        from("ImageStreamTag", "other:v2"),
        from(
            "ImageStreamImage",
            &format!("other@sha256:{}", "ab".repeat(32)),
        ),
    ] {
        assert_eq!(check(ok.clone()), "", "{ok}");
    }
    let cases = [
        (
            from("Image", "x"),
            "valid values are 'DockerImage', 'ImageStreamImage', 'ImageStreamTag'",
        ),
        (
            from("DockerImage", "Registry.Test/App:v1/"),
            "from.name: invalid reference format",
        ),
        (
            from("ImageStreamTag", "a:b:c"),
            "must be of the form <tag>, <repo>:<tag>, <id>, or <repo>@<id>",
        ),
        (
            json!({"name": "v1", "from": {"kind": "ImageStreamTag", "name": "v2"}, "importPolicy": {"scheduled": true}}),
            "only tags pointing to Docker repositories may be scheduled for background import",
        ),
        (
            json!({"name": "v1", "referencePolicy": {"type": "Remote"}}),
            "valid values are \\\"Source\\\", \\\"Local\\\"",
        ),
        (
            json!({"name": "v1", "importPolicy": {"importMode": "All"}}),
            "invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal'",
        ),
    ];
    for (tag, message) in cases {
        let got = check(tag.clone());
        assert!(got.contains(message), "{tag}: {got}");
    }
}
