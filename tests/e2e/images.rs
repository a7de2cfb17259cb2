//! ImageChange triggers through a real ImageStream on the real API server: an ImageStream
//! exported from OpenShift applies unchanged; a new image under its tag is written into the
//! DeploymentConfig under the trigger's own field manager and rolls out with its cause; a GitOps
//! re-apply of the placeholder image rolls nothing out. The test writes the ImageStream's status
//! as an importer would (a registry importer is not part of this change).

use std::time::Duration;

use cutover::api::image_stream::ImageStream;
use cutover::api::keys::IMAGE_TRIGGER_FIELD_MANAGER;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::common::*;

const MINUTE: Duration = Duration::from_secs(60);

/// As `oc get is app -o yaml` prints one (nulls included).
const IMAGE_STREAM: &str = r#"apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: app
spec:
  lookupPolicy:
    local: false
  tags:
    - name: v1
      annotations: null
      from:
        kind: DockerImage
        name: registry.test/team/app:v1
      generation: null
      importPolicy:
        importMode: Legacy
        scheduled: true
      referencePolicy:
        type: Source
"#;

const DC: &str = r#"apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: web
spec:
  replicas: 2
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: " "
  triggers:
    - type: ConfigChange
    - type: ImageChange
      imageChangeParams:
        automatic: true
        containerNames: [app]
        from:
          kind: ImageStreamTag
          name: app:v1
"#;

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

/// Records `digests` (newest first) as the tag's imported images, as an importer would.
async fn imported(ns: &TestNamespace, digests: &[String]) {
    let items: Vec<_> = digests
        .iter()
        .map(|d| json!({"created": "2026-12-01T00:00:00Z", "dockerImageReference": format!("registry.test/team/app@{d}"), "image": d, "generation": 1}))
        .collect();
    let patch =
        json!({"status": {"dockerImageRepository": "", "tags": [{"tag": "v1", "items": items}]}});
    ns.api::<ImageStream>()
        .patch_status("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("status written");
}

async fn image_of(ns: &TestNamespace) -> Option<String> {
    let dc = ns.dcs().get("web").await.ok()?;
    dc.spec
        .template
        .containers()
        .first()
        .map(|c| c.image.to_string())
}

#[tokio::test]
#[ignore = "needs the local cluster: make test"]
async fn a_new_image_under_the_tag_rolls_out_and_a_gitops_reapply_does_not() {
    let ns = TestNamespace::new("images").await;
    let _operator = Operator::start(&ns.name);
    let (ok, out) = apply(&ns.name, IMAGE_STREAM).await;
    assert!(ok, "an exported ImageStream applies unchanged: {out}");
    let (ok, out) = apply(&ns.name, DC).await;
    assert!(ok, "{out}");

    // Nothing imported: the placeholder image waits, saying for which tag.
    let message = eventually("WaitingForImage", MINUTE, || async {
        let dc = ns.dcs().get("web").await.ok()?;
        let c = dc
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Progressing")?;
        (c.reason == "WaitingForImage").then_some(c.message)
    })
    .await;
    assert!(message.contains("ImageStreamTag app:v1"), "{message}");

    // Imported: the trigger writes the pinned image, and revision 1 rolls it out.
    let first = format!("registry.test/team/app@{}", digest(0xaa));
    imported(&ns, &[digest(0xaa)]).await;
    wait_phase(&ns, "web-1", "Complete", MINUTE).await;
    assert_eq!(image_of(&ns).await.as_deref(), Some(first.as_str()));
    let dc = ns.dcs().get("web").await.expect("dc");
    let params = dc.spec.triggers.as_deref().unwrap_or_default()[1]
        .image_change_params
        .clone()
        .expect("params");
    assert_eq!(params.last_triggered_image.as_deref(), Some(first.as_str()));
    let managers: Vec<String> = dc
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.iter().any(|m| m == IMAGE_TRIGGER_FIELD_MANAGER),
        "{managers:?}"
    );

    // A new image under the tag: revision 2, caused by the image change.
    let second = format!("registry.test/team/app@{}", digest(0xbb));
    imported(&ns, &[digest(0xbb), digest(0xaa)]).await;
    wait_phase(&ns, "web-2", "Complete", MINUTE).await;
    let status = ns
        .dcs()
        .get("web")
        .await
        .expect("dc")
        .status
        .expect("status");
    let details = serde_json::to_value(status.details).expect("details");
    assert_eq!(details["message"], "image change");
    assert_eq!(
        details["causes"][0],
        json!({"type": "ImageChange", "imageTrigger": {"from": {"kind": "DockerImage", "name": second}}})
    );

    // A GitOps tool re-applies the manifest as written, under its own field manager: the image
    // goes back to the placeholder, the trigger puts it back, and nothing rolls out.
    let generation = |dc: &cutover::api::DeploymentConfig| dc.metadata.generation.unwrap_or(0);
    let before = generation(&ns.dcs().get("web").await.expect("dc"));
    let path = root()
        .join("target")
        .join("e2e-manifests")
        .join(format!("{}-gitops.yaml", ns.name));
    std::fs::write(&path, DC).expect("manifest");
    let (ok, _, err) = kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=argocd-controller",
        "-n",
        &ns.name,
        "-f",
        &path.to_string_lossy(),
    ])
    .await;
    assert!(ok, "{err}");
    eventually("the trigger restores the image", MINUTE, || async {
        (image_of(&ns).await.as_deref() == Some(second.as_str())).then_some(())
    })
    .await;
    // Two spec changes: the re-apply did put the placeholder back, and the trigger undid it.
    let after = generation(&ns.dcs().get("web").await.expect("dc"));
    assert!(after >= before + 2, "generation {before} -> {after}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dc = ns.dcs().get("web").await.expect("dc");
    assert_eq!(
        dc.status.expect("status").latest_version,
        2,
        "no third rollout"
    );
    assert!(phase(&ns, "web-3").await.is_none());
    ns.cleanup().await;
}
