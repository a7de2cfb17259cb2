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
