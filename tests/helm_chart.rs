//! The Helm chart (deploy/helm/cutover), rendered by the real `helm template`: with default values
//! it is exactly the plain manifests in deploy/, and each value changes what it says. `make test`
//! builds helm from the Go module proxy and runs these with CUTOVER_HELM set.

use std::process::Command;

use serde_json::Value;

fn chart() -> String {
    format!("{}/deploy/helm/cutover", env!("CARGO_MANIFEST_DIR"))
}

fn helm(args: &[&str]) -> String {
    let helm = std::env::var("CUTOVER_HELM").expect(
        "CUTOVER_HELM names the helm binary: run `make test` (hack/build-helm.sh builds it)",
    );
    let out = Command::new(helm).args(args).output().expect("run helm");
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The objects `helm template` renders with these `--set` values, Helm's own labels removed.
fn render(set: &[&str]) -> Vec<Value> {
    render_with(set, &[])
}

/// The same, with more arguments for `helm template`.
fn render_with(set: &[&str], more: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut args = vec![
        "template",
        "cutover",
        chart.as_str(),
        "--namespace",
        "cutover-system",
    ];
    for s in set {
        args.extend(["--set", s]);
    }
    args.extend(more);
    let text = helm(&args);
    let mut docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("rendered YAML");
    docs.retain(|d| !d.is_null());
    for d in &mut docs {
        if let Some(labels) = d
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            for helm_label in [
                "helm.sh/chart",
                "app.kubernetes.io/managed-by",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/version",
            ] {
                labels.remove(helm_label);
            }
        }
    }
    docs
}

fn plain(file: &str) -> Vec<Value> {
    let path = format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key(d: &Value) -> String {
    format!(
        "{}/{}/{}",
        d["kind"].as_str().unwrap_or_default(),
        d["metadata"]["namespace"].as_str().unwrap_or_default(),
        d["metadata"]["name"].as_str().unwrap_or_default()
    )
}

fn find<'a>(docs: &'a [Value], k: &str) -> Option<&'a Value> {
    docs.iter().find(|d| key(d) == k)
}

fn args(docs: &[Value]) -> Vec<String> {
    let deployment = find(docs, "Deployment/cutover-system/cutover").expect("the Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string").to_string())
        .collect()
}

#[test]
#[ignore = "needs helm: make test"]
fn the_chart_lints() {
    helm(&["lint", "--strict", &chart()]);
}

#[test]
#[ignore = "needs helm: make test"]
fn default_values_render_exactly_the_plain_manifests() {
    let mut rendered = render(&[]);
    let mut manifests: Vec<Value> = plain("10-rbac.yaml")
        .into_iter()
        .chain(plain("15-flow-schema.yaml"))
        .chain(plain("20-deployment.yaml"))
        .collect();
    rendered.sort_by_key(key);
    manifests.sort_by_key(key);
    assert_eq!(
        rendered.iter().map(key).collect::<Vec<_>>(),
        manifests.iter().map(key).collect::<Vec<_>>()
    );
    for (r, m) in rendered.iter().zip(&manifests) {
        assert_eq!(r, m, "{} differs between the chart and deploy/", key(m));
    }
}

/// Where the cluster serves MutatingAdmissionPolicy v1, the chart adds exactly the policies of
/// deploy/30-image-lookup.yaml and deploy/31-tag-generations.yaml; the values leave them out.
#[test]
#[ignore = "needs helm: make test"]
fn the_image_lookup_policies_render_where_the_cluster_serves_them() {
    let served = [
        "--api-versions",
        "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy",
    ];
    let lookup = |docs: Vec<Value>| -> Vec<Value> {
        let mut docs: Vec<Value> = docs
            .into_iter()
            .filter(|d| {
                d["kind"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("MutatingAdmissionPolicy"))
            })
            .collect();
        docs.sort_by_key(key);
        docs
    };
    let mut plain_policies: Vec<Value> = plain("30-image-lookup.yaml")
        .into_iter()
        .chain(plain("31-tag-generations.yaml"))
        .filter(|d| !d.is_null())
        .collect();
    plain_policies.sort_by_key(key);
    assert_eq!(plain_policies.len(), 8);
    assert_eq!(lookup(render_with(&[], &served)), plain_policies);
    let without = lookup(render_with(
        &["imageLookup=false", "tagGenerations=false"],
        &served,
    ));
    assert!(without.is_empty());
    assert!(lookup(render(&[])).is_empty(), "not served: not rendered");
}

#[test]
#[ignore = "needs helm: make test"]
fn namespace_scope_grants_rights_in_that_namespace_only() {
    let docs = render(&["watchNamespace=shop"]);
    let cluster_role = find(&docs, "ClusterRole//cutover").expect("ClusterRole");
    let rules = cluster_role["rules"].as_array().expect("rules");
    assert_eq!(
        rules.len(),
        1,
        "only the CRD check stays cluster-wide: {rules:?}"
    );
    assert_eq!(rules[0]["resources"][0], "customresourcedefinitions");
    let role = find(&docs, "Role/shop/cutover").expect("a Role in shop");
    assert!(role["rules"].as_array().expect("rules").len() > 5);
    assert!(find(&docs, "RoleBinding/shop/cutover").is_some());
    assert!(args(&docs).contains(&"--namespace=shop".to_string()));
}

#[test]
#[ignore = "needs helm: make test"]
fn values_reach_the_deployment() {
    let docs = render(&[
        "replicas=3",
        "image.tag=v9.9.9",
        "defaultGateway=infra/public",
        "routeDomain=apps.example.com",
        "logFormat=text",
        "leaderElection.leaseDuration=30",
        "resources.limits.memory=1Gi",
    ]);
    let deployment = find(&docs, "Deployment/cutover-system/cutover").expect("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "ghcr.io/cutover/cutover:v9.9.9");
    assert_eq!(container["resources"]["limits"]["memory"], "1Gi");
    let args = args(&docs);
    for want in [
        "--default-gateway=infra/public",
        "--route-domain=apps.example.com",
        "--log-format=text",
        "--lease-duration=30",
    ] {
        assert!(
            args.contains(&want.to_string()),
            "{want} missing from {args:?}"
        );
    }

    let single = render(&[
        "replicas=1",
        "leaderElection.enabled=false",
        "metrics.service=false",
    ]);
    assert!(self::args(&single).contains(&"--leader-elect=false".to_string()));

    let images = render(&[
        "images.importInterval=5m",
        "images.registryCAConfigMap=registry-ca",
        "images.annotationTriggers=false",
    ]);
    let image_args = self::args(&images);
    for want in [
        "--image-import-interval=5m",
        "--registry-ca=/etc/cutover/registry-ca/ca.crt",
        "--annotation-triggers=false",
    ] {
        assert!(
            image_args.contains(&want.to_string()),
            "{want} missing from {image_args:?}"
        );
    }
    let pod = &find(&images, "Deployment/cutover-system/cutover").expect("Deployment")["spec"]["template"]
        ["spec"];
    assert_eq!(pod["volumes"][0]["configMap"]["name"], "registry-ca");
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0]["mountPath"],
        "/etc/cutover/registry-ca"
    );
    let role = find(&images, "ClusterRole//cutover").expect("ClusterRole");
    let resources = role["rules"].to_string();
    assert!(
        !resources.contains("deployments"),
        "no rights on workloads without annotation triggers"
    );
    assert!(find(&single, "Role/cutover-system/cutover-leader-election").is_none());
    assert!(find(&single, "Service/cutover-system/cutover-metrics").is_none());
}

#[test]
#[ignore = "needs helm: make test"]
fn no_rendering_grants_a_wildcard() {
    for set in [&[][..], &["watchNamespace=shop"][..]] {
        for doc in render(set) {
            if !matches!(doc["kind"].as_str(), Some("Role" | "ClusterRole")) {
                continue;
            }
            for rule in doc["rules"].as_array().expect("rules") {
                for field in ["apiGroups", "resources", "verbs"] {
                    for v in rule[field].as_array().expect("list") {
                        assert!(
                            !v.as_str().expect("string").contains('*'),
                            "wildcard in {}: {rule}",
                            key(&doc)
                        );
                    }
                }
            }
        }
    }
}

/// `shards`: one more Deployment (and metrics Service) per shard, each with `--shard`, its
/// own pods (no selector matches another's) and the same rights; the unsharded one unchanged.
#[test]
#[ignore = "needs helm: make test"]
fn shards_render_one_operator_each_beside_the_unlabelled_namespaces_one() {
    let plain_docs = render(&[]);
    let docs = render(&["shards={eu,us}"]);
    assert_eq!(
        find(&docs, "Deployment/cutover-system/cutover"),
        find(&plain_docs, "Deployment/cutover-system/cutover"),
        "the operator of the unlabelled namespaces is the one of an unsharded install"
    );
    let selector = |d: &Value| d["spec"]["selector"]["matchLabels"].clone();
    let pod_labels = |d: &Value| d["spec"]["template"]["metadata"]["labels"].clone();
    let mut selectors = vec![selector(
        find(&docs, "Deployment/cutover-system/cutover").expect("Deployment"),
    )];
    for shard in ["eu", "us"] {
        let d = find(&docs, &format!("Deployment/cutover-system/cutover-{shard}"))
            .unwrap_or_else(|| panic!("shard {shard}'s Deployment"));
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        let args: Vec<&str> = (container["args"].as_array().expect("args").iter())
            .filter_map(Value::as_str)
            .collect();
        assert!(
            args.contains(&format!("--shard={shard}").as_str()),
            "{args:?}"
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["serviceAccountName"],
            "cutover"
        );
        assert_eq!(selector(d), pod_labels(d));
        let service = find(
            &docs,
            &format!("Service/cutover-system/cutover-{shard}-metrics"),
        )
        .unwrap_or_else(|| panic!("shard {shard}'s metrics Service"));
        assert_eq!(service["spec"]["selector"], selector(d));
        selectors.push(selector(d));
    }
    // No Deployment's selector matches another's pods.
    for (i, s) in selectors.iter().enumerate() {
        for (j, other) in selectors.iter().enumerate() {
            let matches = s
                .as_object()
                .expect("labels")
                .iter()
                .all(|(k, v)| other.get(k) == Some(v));
            assert_eq!(matches, i == j, "{s} against {other}");
        }
    }
    // Shards serve labelled namespaces cluster-wide: with watchNamespace, refused.
    let helm_bin = std::env::var("CUTOVER_HELM").expect("CUTOVER_HELM");
    let out = Command::new(helm_bin)
        .args(["template", "cutover", &chart(), "--set", "shards={eu}"])
        .args(["--set", "watchNamespace=team"])
        .output()
        .expect("run helm");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("leave watchNamespace empty"));
}
