//! The committed CRDs are exactly what `cutover crd` prints. Regenerate with `make crds`.

#[test]
fn committed_crds_match_the_types() {
    // crds/ for kubectl, and the Helm chart's own copy (Helm installs a chart's crds/ directory).
    for dir in ["crds", "deploy/helm/cutover/crds"] {
        for (file, generated) in cutover::api::crd_files().expect("CRDs render") {
            let path = format!("{}/{dir}/{file}", env!("CARGO_MANIFEST_DIR"));
            let committed =
                std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(
                generated == committed,
                "{dir}/{file} is stale: run `make crds` and commit the result"
            );
        }
    }
}

#[test]
fn crd_fits_server_side_apply_and_keeps_the_template_whole() {
    let yaml = cutover::api::crds_yaml().expect("CRDs render");
    // Comfortably below etcd's 1.5 MiB object limit (client-side apply's 256 KiB annotation
    // limit does not apply: the CRDs are installed with --server-side).
    assert!(yaml.len() < 256 * 1024, "CRD is {} bytes", yaml.len());
    let crd = &cutover::api::crds()[0];
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema");
    let template = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["template"];
    assert_eq!(template["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(
        template["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"],
        true
    );
}
