//! A real registry for the image tests: the CNCF distribution registry (hack/build-registry.sh)
//! on 127.0.0.1, with TLS from the cluster's CA and htpasswd auth (hack/registry-config.sh),
//! one per test, ended with it.

use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use oci_client::secrets::RegistryAuth;
use tokio::process::{Child, Command};

use crate::common::*;
use crate::push;

const USER: &str = "ci";

pub struct Registry {
    pub port: u16,
    password: String,
    client: oci_client::Client,
    _process: Child,
    _dir: TempDir,
}

/// A directory removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Registry {
    pub async fn start(name: &str) -> Self {
        let port = free_port();
        let dir = TempDir(
            root()
                .join("target")
                .join("e2e-registries")
                .join(format!("{name}-{port}")),
        );
        let _ = std::fs::remove_dir_all(&dir.0);
        let password = format!("pw-{}-{port}", std::process::id());
        let mut config = Command::new(root().join("hack").join("registry-config.sh"))
            .args([&dir.0.to_string_lossy(), &*port.to_string(), USER])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("hack/registry-config.sh");
        {
            use tokio::io::AsyncWriteExt;
            let mut stdin = config.stdin.take().expect("stdin");
            stdin
                .write_all(password.as_bytes())
                .await
                .expect("password");
        }
        let out = config.wait_with_output().await.expect("registry-config");
        assert!(out.status.success(), "hack/registry-config.sh failed");
        let binary = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let log = std::fs::File::create(dir.0.join("registry.log")).expect("log");
        let process = Command::new(&binary)
            .args(["serve", &dir.0.join("config.yml").to_string_lossy()])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start the registry");
        let ca = std::fs::read(cluster_file("pki/ca.crt")).expect("cluster CA");
        let registry = Registry {
            port,
            password,
            client: push::client(&ca),
            _process: process,
            _dir: dir,
        };
        eventually("the registry listens", Duration::from_secs(30), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
        })
        .await;
        registry
    }

    /// `127.0.0.1:<port>/<path>`.
    pub fn image(&self, path: &str) -> String {
        format!("127.0.0.1:{}/{path}", self.port)
    }

    fn auth(&self) -> RegistryAuth {
        RegistryAuth::Basic(USER.into(), self.password.clone())
    }

    /// Pushes an image of `text` as `path` (`repo:tag`); its digest.
    pub async fn push(&self, path: &str, text: &str) -> String {
        push::push(&self.client, &self.image(path), &self.auth(), text)
            .await
            .expect("push")
    }

    /// Pushes a multi-architecture image of `text` as `path`; the index's digest.
    pub async fn push_index(&self, path: &str, text: &str) -> String {
        push::push_index(&self.client, &self.image(path), &self.auth(), text)
            .await
            .expect("push index")
    }

    /// A `kubernetes.io/dockerconfigjson` pull Secret for this registry, as `kubectl create
    /// secret docker-registry` makes one.
    pub fn pull_secret(&self, name: &str) -> Secret {
        let config = serde_json::json!({"auths": {format!("127.0.0.1:{}", self.port): {
            "username": USER, "password": self.password,
        }}});
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            type_: Some("kubernetes.io/dockerconfigjson".into()),
            data: Some(
                [(
                    ".dockerconfigjson".to_string(),
                    ByteString(config.to_string().into_bytes()),
                )]
                .into(),
            ),
            ..Default::default()
        }
    }
}
