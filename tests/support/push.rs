//! Pushes small images to a registry, built here as OCI layers (no Docker): one layer holding
//! `/hello.txt`, so each text is a different image with a different digest. Used by the image
//! e2e tests and, as `cargo run --example push-image`, by the image demo.

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, Config, ImageLayer};
use oci_client::manifest::OciImageIndex;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A client trusting `ca_pem` besides the system's roots.
pub fn client(ca_pem: &[u8]) -> Client {
    // reqwest takes rustls's process-wide provider (the operator installs the same one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::try_from(ClientConfig {
        extra_root_certificates: vec![Certificate {
            encoding: CertificateEncoding::Pem,
            data: ca_pem.to_vec(),
        }],
        ..ClientConfig::default()
    })
    .expect("registry client")
}

/// An uncompressed tar with `/hello.txt` holding `text`.
fn layer(text: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "hello.txt", text.as_bytes())
        .expect("tar entry");
    tar.into_inner().expect("tar")
}

fn config(layer: &ImageLayer, architecture: &str) -> Config {
    let json = serde_json::json!({
        "architecture": architecture, "os": "linux",
        "config": {"Cmd": ["/bin/cat", "/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.sha256_digest()]},
    });
    Config::oci_v1(json.to_string().into_bytes(), None)
}

/// Pushes a one-layer image of `text` for `architecture` under `reference`; its manifest's
/// digest and size.
async fn push_one(
    client: &Client,
    reference: &Reference,
    auth: &RegistryAuth,
    text: &str,
    architecture: &str,
) -> Result<(String, i64), String> {
    let layer = ImageLayer::oci_v1(layer(text), None);
    let config = config(&layer, architecture);
    client
        .push(reference, &[layer], config, auth, None)
        .await
        .map_err(|e| format!("push {reference}: {e}"))?;
    let (manifest, _) = client
        .pull_manifest_raw(reference, auth, &[OCI_MANIFEST])
        .await
        .map_err(|e| format!("read back {reference}: {e}"))?;
    Ok((digest_of(&manifest), manifest.len() as i64))
}

/// `sha256:<hex>` of what the registry stored, computed here (not taken from its headers).
fn digest_of(bytes: &[u8]) -> String {
    ImageLayer::new(bytes.to_vec(), String::new(), None).sha256_digest()
}

/// Pushes an image of `text` as `reference` (`host:port/repo:tag`); the digest the tag now has.
pub async fn push(
    client: &Client,
    reference: &str,
    auth: &RegistryAuth,
    text: &str,
) -> Result<String, String> {
    let reference: Reference = reference.parse().map_err(|e| format!("{reference}: {e}"))?;
    Ok(push_one(client, &reference, auth, text, "amd64").await?.0)
}

/// Pushes a multi-architecture image (an index of an amd64 and an arm64 image of `text`) as
/// `reference`; the index's digest.
pub async fn push_index(
    client: &Client,
    reference: &str,
    auth: &RegistryAuth,
    text: &str,
) -> Result<String, String> {
    let index_ref: Reference = reference.parse().map_err(|e| format!("{reference}: {e}"))?;
    let mut entries = Vec::new();
    for architecture in ["amd64", "arm64"] {
        let platform_ref = Reference::with_tag(
            index_ref.registry().to_string(),
            index_ref.repository().to_string(),
            format!("{}-{architecture}", index_ref.tag().unwrap_or("latest")),
        );
        let (digest, size) = push_one(client, &platform_ref, auth, text, architecture).await?;
        entries.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": digest, "size": size,
            "platform": {"architecture": architecture, "os": "linux"},
        }));
    }
    let index: OciImageIndex = serde_json::from_value(serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
    }))
    .map_err(|e| format!("index: {e}"))?;
    client
        .push_manifest_list(&index_ref, auth, index)
        .await
        .map_err(|e| format!("push {reference}: {e}"))?;
    let (stored, _) = client
        .pull_manifest_raw(&index_ref, auth, &[OCI_INDEX])
        .await
        .map_err(|e| format!("read back {reference}: {e}"))?;
    Ok(digest_of(&stored))
}
