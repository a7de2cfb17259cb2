//! Registry credentials as OpenShift's importer finds them: every `kubernetes.io/dockerconfigjson`
//! and `kubernetes.io/dockercfg` Secret of the stream's namespace (but those annotated
//! `openshift.io/image.excludeSecret: "true"`), matched to an image the way the kubelet's keyring
//! matches: a key is `host[:port][/path]` (scheme and `/v1/` or `/v2/` dropped), hosts compare
//! part by part with globs (`*.example.com`), ports exactly, and the key's path is a prefix of
//! the image's; the most specific key (reverse lexical order) wins. Docker Hub images also
//! match the `index.docker.io` key that `docker login` writes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;

use crate::api::keys::EXCLUDE_SECRET_ANNOTATION;

pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
pub const DOCKER_CFG: &str = "kubernetes.io/dockercfg";

const DOCKER_HUB_KEYS: [&str; 2] = ["index.docker.io", "docker.io"];

#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, <redacted>)", self.username)
    }
}

/// Credentials by registry key, most specific first.
#[derive(Debug, Default)]
pub struct Keyring {
    entries: Vec<(String, Credential)>,
}

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

#[derive(Deserialize, Default)]
struct Entry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// base64 of `username:password`, when the two are not given apart.
    #[serde(default)]
    auth: String,
}

impl Entry {
    fn credential(self) -> Option<Credential> {
        if !self.username.is_empty() {
            return Some(Credential {
                username: self.username,
                password: self.password,
            });
        }
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(self.auth.trim())
            .ok()?;
        let (username, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        Some(Credential {
            username: username.into(),
            password: password.into(),
        })
    }
}

/// `host[:port][/path]` of a key as written in a docker config.
fn normalize_key(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let path = path
        .strip_prefix("v1/")
        .or_else(|| path.strip_prefix("v2/"))
        .unwrap_or(path);
    let path = path.trim_end_matches('/');
    if path.is_empty() || path == "v1" || path == "v2" {
        host.to_string()
    } else {
        format!("{host}/{path}")
    }
}

impl Keyring {
    /// The credentials of these Secrets; ones of other types, excluded ones and unreadable
    /// ones are skipped.
    pub fn from_secrets<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut entries = Vec::new();
        for secret in secrets {
            let excluded = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(EXCLUDE_SECRET_ANNOTATION))
                .is_some_and(|v| v == "true");
            let data = secret.data.as_ref();
            let parsed: Option<BTreeMap<String, Entry>> = match secret.type_.as_deref() {
                _ if excluded => None,
                Some(DOCKER_CONFIG_JSON) => data
                    .and_then(|d| d.get(".dockerconfigjson"))
                    .and_then(|b| serde_json::from_slice::<DockerConfigJson>(&b.0).ok())
                    .map(|c| c.auths),
                Some(DOCKER_CFG) => data
                    .and_then(|d| d.get(".dockercfg"))
                    .and_then(|b| serde_json::from_slice(&b.0).ok()),
                _ => None,
            };
            for (key, entry) in parsed.into_iter().flatten() {
                if let Some(credential) = entry.credential() {
                    entries.push((normalize_key(&key), credential));
                }
            }
        }
        // Most specific first; among equal keys, the first Secret read.
        entries.sort_by(|a, b| b.0.cmp(&a.0));
        Keyring { entries }
    }

    /// The credential for an image in `registry` (`host[:port]`) under `repository`.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<&Credential> {
        let found = self
            .entries
            .iter()
            .find(|(key, _)| key_matches(key, registry, repository));
        found
            .or_else(|| {
                DOCKER_HUB_KEYS.contains(&registry).then(|| {
                    self.entries
                        .iter()
                        .find(|(key, _)| DOCKER_HUB_KEYS.contains(&key.as_str()))
                })?
            })
            .map(|(_, c)| c)
    }
}

fn key_matches(key: &str, registry: &str, repository: &str) -> bool {
    let (key_authority, key_path) = key.split_once('/').unwrap_or((key, ""));
    let split_port = |a: &str| match a.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h.to_string(), p.to_string())
        }
        _ => (a.to_string(), String::new()),
    };
    let (key_host, key_port) = split_port(key_authority);
    let (host, port) = split_port(registry);
    let key_parts: Vec<&str> = key_host.split('.').collect();
    let parts: Vec<&str> = host.split('.').collect();
    key_port == port
        && key_parts.len() == parts.len()
        && key_parts
            .iter()
            .zip(&parts)
            .all(|(g, p)| glob(g.as_bytes(), p.as_bytes()))
        && format!("{repository}/").starts_with(format!("{key_path}/").trim_start_matches('/'))
}

/// `*` (any run) and `?` (one character), as the keyring's per-part matching.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p.eq_ignore_ascii_case(t) => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use serde_json::json;

    fn secret(type_: &str, key: &str, config: serde_json::Value) -> Secret {
        Secret {
            type_: Some(type_.into()),
            data: Some([(key.to_string(), ByteString(config.to_string().into_bytes()))].into()),
            ..Default::default()
        }
    }

    fn user(keyring: &Keyring, registry: &str, repository: &str) -> Option<String> {
        keyring
            .lookup(registry, repository)
            .map(|c| c.username.clone())
    }

    #[test]
    fn keys_match_by_host_port_and_path_most_specific_first() {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.encode("team:secret");
        let keyring = Keyring::from_secrets(&[
            secret(
                DOCKER_CONFIG_JSON,
                ".dockerconfigjson",
                json!({"auths": {
                    "https://registry.test/v2/": {"username": "all", "password": "p"},
                    "registry.test/team": {"auth": auth},
                    "*.corp.test": {"username": "glob", "password": "p"},
                    "127.0.0.1:5000": {"username": "local", "password": "p"},
                }}),
            ),
            secret(
                DOCKER_CFG,
                ".dockercfg",
                json!({"https://index.docker.io/v1/": {"username": "hub", "password": "p"}}),
            ),
        ]);
        assert_eq!(
            user(&keyring, "registry.test", "team/app").as_deref(),
            Some("team")
        );
        assert_eq!(
            keyring
                .lookup("registry.test", "team/app")
                .map(|c| c.password.as_str()),
            Some("secret")
        );
        assert_eq!(
            user(&keyring, "registry.test", "teams/app").as_deref(),
            Some("all"),
            "path prefix by segment"
        );
        assert_eq!(
            user(&keyring, "registry.test", "other/app").as_deref(),
            Some("all")
        );
        assert_eq!(
            user(&keyring, "registry.test:443", "team/app"),
            None,
            "ports compare exactly"
        );
        assert_eq!(
            user(&keyring, "eu.corp.test", "app").as_deref(),
            Some("glob")
        );
        assert_eq!(
            user(&keyring, "a.eu.corp.test", "app"),
            None,
            "a glob is one part"
        );
        assert_eq!(
            user(&keyring, "127.0.0.1:5000", "team/app").as_deref(),
            Some("local")
        );
        assert_eq!(
            user(&keyring, "docker.io", "library/nginx").as_deref(),
            Some("hub")
        );
        assert_eq!(user(&keyring, "quay.test", "app"), None);
    }

    #[test]
    fn excluded_unreadable_and_other_secrets_are_skipped() {
        let mut excluded = secret(
            DOCKER_CONFIG_JSON,
            ".dockerconfigjson",
            json!({"auths": {"r.test": {"username": "x", "password": "p"}}}),
        );
        excluded.metadata.annotations =
            Some([(EXCLUDE_SECRET_ANNOTATION.to_string(), "true".to_string())].into());
        let keyring = Keyring::from_secrets(&[
            excluded,
            secret(
                "Opaque",
                ".dockerconfigjson",
                json!({"auths": {"r.test": {"username": "x"}}}),
            ),
            secret(
                DOCKER_CONFIG_JSON,
                ".dockerconfigjson",
                json!("not a config"),
            ),
        ]);
        assert_eq!(user(&keyring, "r.test", "app"), None);
        assert_eq!(
            format!(
                "{:?}",
                Credential {
                    username: "u".into(),
                    password: "p".into()
                }
            ),
            "Credential(u, <redacted>)"
        );
    }
}
