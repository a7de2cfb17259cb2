//! The install manifests: the operator's ClusterRole grants no wildcard, and the Deployment
//! runs non-root on a read-only root filesystem with probes.

fn docs(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_cluster_role_grants_no_wildcard() {
    let role = docs("10-rbac.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let rules = role["rules"].as_array().expect("rules");
    assert!(!rules.is_empty());
    for rule in rules {
        for key in ["apiGroups", "resources", "verbs"] {
            let values = rule[key]
                .as_array()
                .unwrap_or_else(|| panic!("{key} in {rule}"));
            assert!(
                values
                    .iter()
                    .all(|v| v.as_str().is_some_and(|s| !s.contains('*'))),
                "wildcard in {rule}"
            );
        }
    }
}

#[test]
fn the_operator_runs_locked_down() {
    let deployment = docs("20-deployment.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
}

#[test]
fn the_deployer_image_is_the_operators_own() {
    let deployment = docs("20-deployment.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    let deployer = c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "CUTOVER_DEPLOYER_IMAGE")
        .expect("CUTOVER_DEPLOYER_IMAGE");
    assert_eq!(deployer["value"], c["image"]);
}

/// The operator creates the deployer's Role, so it must hold every right that Role grants
/// (Kubernetes refuses to let a subject grant what it does not have).
#[test]
fn the_operator_holds_every_right_it_grants_the_deployer() {
    let role = docs("10-rbac.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let held = |group: &str, resource: &str, verb: &str| {
        role["rules"].as_array().into_iter().flatten().any(|r| {
            let has = |key: &str, v: &str| {
                r[key]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(v)))
            };
            has("apiGroups", group)
                && has("resources", resource)
                && has("verbs", verb)
                && r.get("resourceNames").is_none()
        })
    };
    for rule in cutover::strategy::deployer::role_rules()
        .as_array()
        .expect("rules")
    {
        for group in rule["apiGroups"].as_array().expect("groups") {
            for resource in rule["resources"].as_array().expect("resources") {
                for verb in rule["verbs"].as_array().expect("verbs") {
                    let (g, r, v) = (
                        group.as_str().expect("str"),
                        resource.as_str().expect("str"),
                        verb.as_str().expect("str"),
                    );
                    assert!(held(g, r, v), "the operator cannot grant {v} {g}/{r}");
                }
            }
        }
    }
}
