//! Builds an image from directories, one OCI layer each, and pushes it to a registry: the real
//! node's images (hack/node-images.sh) are assembled with it, without a Docker daemon.
//!
//! `cargo run --example node-image -- REFERENCE [--layer DIR]... [--entrypoint ARG]...
//! [--cmd ARG]... [--env NAME=VALUE]... [--workdir DIR] [--user UID:GID]`
//!
//! Each layer is an uncompressed tar of DIR's contents in name order: owner root, a fixed mtime,
//! the permission bits kept, symbolic links as links. REGISTRY_CA (a PEM file) is trusted; with
//! REGISTRY_USER and REGISTRY_PASSWORD set it authenticates, else it pushes anonymously. Prints
//! the digest of the manifest the registry stored.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// A fixed mtime (2000-01-01), so the same directory always makes the same layer.
const MTIME: u64 = 946_684_800;

#[derive(Default)]
struct Spec {
    reference: String,
    layers: Vec<PathBuf>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<String>,
    workdir: Option<String>,
    user: Option<String>,
}

fn parse(args: &[String]) -> Result<Spec, String> {
    let mut spec = Spec::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--layer" => spec.layers.push(PathBuf::from(value("--layer")?)),
            "--entrypoint" => spec.entrypoint.push(value("--entrypoint")?),
            "--cmd" => spec.cmd.push(value("--cmd")?),
            "--env" => spec.env.push(value("--env")?),
            "--workdir" => spec.workdir = Some(value("--workdir")?),
            "--user" => spec.user = Some(value("--user")?),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other if spec.reference.is_empty() => spec.reference = other.to_string(),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    if spec.reference.is_empty() || spec.layers.is_empty() {
        return Err("usage: node-image REFERENCE --layer DIR... [--entrypoint ARG]... [--cmd ARG]... [--env NAME=VALUE]... [--workdir DIR] [--user UID:GID]".into());
    }
    Ok(spec)
}

/// The entries under `dir` (relative paths), parents before children, each level in name order.
fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let path = rel.join(name);
        let meta = std::fs::symlink_metadata(dir.join(&path))?;
        out.push(path.clone());
        if meta.is_dir() {
            walk(dir, &path, out)?;
        }
    }
    Ok(())
}

/// An uncompressed tar of `dir`'s contents.
fn layer(dir: &Path) -> Result<Vec<u8>, String> {
    let err = |e: std::io::Error| format!("{}: {e}", dir.display());
    let mut entries = Vec::new();
    walk(dir, Path::new(""), &mut entries).map_err(err)?;
    let mut tar = tar::Builder::new(Vec::new());
    for rel in entries {
        let full = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&full).map_err(err)?;
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(MTIME);
        header.set_mode(meta.mode() & 0o7777);
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(&full).map_err(err)?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, &rel, &target).map_err(err)?;
        } else if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, &rel, std::io::empty())
                .map_err(err)?;
        } else if kind.is_file() {
            let data = std::fs::read(&full).map_err(err)?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, &rel, data.as_slice())
                .map_err(err)?;
        } else {
            return Err(format!("{}: not a file, directory or link", full.display()));
        }
    }
    tar.into_inner().map_err(err)
}

fn client(ca_pem: &[u8]) -> Result<Client, String> {
    // reqwest takes rustls's process-wide provider (the operator installs the same one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::try_from(ClientConfig {
        extra_root_certificates: vec![Certificate {
            encoding: CertificateEncoding::Pem,
            data: ca_pem.to_vec(),
        }],
        ..ClientConfig::default()
    })
    .map_err(|e| format!("registry client: {e}"))
}

async fn build_and_push(spec: &Spec) -> Result<String, String> {
    let reference: Reference = spec
        .reference
        .parse()
        .map_err(|e| format!("{}: {e}", spec.reference))?;
    let layers = spec
        .layers
        .iter()
        .map(|dir| layer(dir).map(|tar| ImageLayer::oci_v1(tar, None)))
        .collect::<Result<Vec<_>, _>>()?;
    let diff_ids: Vec<String> = layers.iter().map(ImageLayer::sha256_digest).collect();
    let mut config = serde_json::json!({"Env": spec.env});
    if !spec.entrypoint.is_empty() {
        config["Entrypoint"] = serde_json::json!(spec.entrypoint);
    }
    if !spec.cmd.is_empty() {
        config["Cmd"] = serde_json::json!(spec.cmd);
    }
    if let Some(workdir) = &spec.workdir {
        config["WorkingDir"] = serde_json::json!(workdir);
    }
    if let Some(user) = &spec.user {
        config["User"] = serde_json::json!(user);
    }
    let image = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = Config::oci_v1(image.to_string().into_bytes(), None);

    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let ca = std::fs::read(var("REGISTRY_CA").unwrap_or_default())
        .map_err(|e| format!("REGISTRY_CA: {e}"))?;
    let auth = match (var("REGISTRY_USER"), var("REGISTRY_PASSWORD")) {
        (Some(user), Some(password)) => RegistryAuth::Basic(user, password),
        _ => RegistryAuth::Anonymous,
    };
    let client = client(&ca)?;
    client
        .push(&reference, &layers, config, &auth, None)
        .await
        .map_err(|e| format!("push {reference}: {e}"))?;
    let (manifest, _) = client
        .pull_manifest_raw(&reference, &auth, &[OCI_MANIFEST])
        .await
        .map_err(|e| format!("read back {reference}: {e}"))?;
    Ok(ImageLayer::new(manifest, String::new(), None).sha256_digest())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec = match parse(&args) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("node-image: {e}");
            return ExitCode::from(2);
        }
    };
    match build_and_push(&spec).await {
        Ok(digest) => {
            println!("{digest}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("node-image: {e}");
            ExitCode::FAILURE
        }
    }
}
