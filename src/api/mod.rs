//! The API: CRD types, their defaults and validation, names and keys. No I/O.

pub mod conditions;
pub mod defaults;
pub mod deployment_config;
pub mod events;
pub mod hooks;
pub mod image_stream;
pub mod int_or_percent;
pub mod keys;
pub mod requests;
pub mod route;
pub mod shift;
pub mod template;

pub use deployment_config::*;
pub use int_or_percent::{IntOrPercent, Rounding};
pub use template::PodTemplate;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD cutover serves, in the order `cutover crd` prints them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        with_schema_hash(DeploymentConfig::crd()),
        with_schema_hash(route::Route::crd()),
        with_schema_hash(image_stream::ImageStream::crd()),
    ]
}

/// The annotation on each CRD carrying a hash of its schema. The operator compares it at start:
/// an older CRD would silently prune status fields this operator relies on (such as the requests
/// it has handled), so it refuses to run against one and says how to update it.
pub use keys::SCHEMA_HASH_ANNOTATION;

/// A stable hash (FNV-1a 64) of a CRD's spec.
pub fn schema_hash(crd: &CustomResourceDefinition) -> String {
    let bytes = serde_json::to_vec(&crd.spec).unwrap_or_default();
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The earlier schemas each CRD still serves: a release whose CRD only adds to the previous
/// one's (new optional fields, nothing renamed, removed or retyped, no new validation an
/// existing object could fail) lists the previous hash here, so operators of that release keep
/// running against the new CRD (an upgrade canaried on one shard, docs/sharding.md). Empty
/// while no CRD has changed since 0.1.0.
const SERVES_EARLIER: &[(&str, &[&str])] = &[];

fn with_schema_hash(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let hash = schema_hash(&crd);
    let name = crd.metadata.name.clone().unwrap_or_default();
    let annotations = crd
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    annotations.insert(SCHEMA_HASH_ANNOTATION.into(), hash);
    if let Some((_, earlier)) = SERVES_EARLIER.iter().find(|(crd, _)| *crd == name) {
        annotations.insert(keys::SERVES_SCHEMAS_ANNOTATION.into(), earlier.join(","));
    }
    crd
}

/// Whether an operator built for schema `want` may run against an installed CRD with these
/// annotations: the same schema, or a later one that serves it.
pub fn runs_against(installed: &std::collections::BTreeMap<String, String>, want: &str) -> bool {
    installed.get(SCHEMA_HASH_ANNOTATION).map(String::as_str) == Some(want)
        || installed
            .get(keys::SERVES_SCHEMAS_ANNOTATION)
            .is_some_and(|served| served.split(',').any(|h| h.trim() == want))
}

/// Each CRD as a YAML document, with the file name it has in `crds/` (`<plural>.yaml`).
pub fn crd_files() -> Result<Vec<(String, String)>, serde_saphyr::ser::Error> {
    crds()
        .into_iter()
        .map(|crd| {
            Ok((
                format!("{}.yaml", crd.spec.names.plural),
                format!("---\n{}", serde_saphyr::to_string(&crd)?),
            ))
        })
        .collect()
}

/// The CRDs as one multi-document YAML stream (what `cutover crd` prints).
pub fn crds_yaml() -> Result<String, serde_saphyr::ser::Error> {
    Ok(crd_files()?.into_iter().map(|(_, yaml)| yaml).collect())
}

#[cfg(test)]
mod schema_tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn an_operator_runs_against_its_own_schema_or_a_later_one_that_serves_it() {
        let crd = |hash: &str, serves: Option<&str>| {
            let mut a = BTreeMap::from([(SCHEMA_HASH_ANNOTATION.to_string(), hash.to_string())]);
            if let Some(s) = serves {
                a.insert(keys::SERVES_SCHEMAS_ANNOTATION.to_string(), s.to_string());
            }
            a
        };
        assert!(runs_against(&crd("aaa", None), "aaa"));
        // A later CRD that lists the earlier schema (a canary shard still on the old version).
        assert!(runs_against(&crd("bbb", Some("aaa, 999")), "aaa"));
        // A later one that does not, or an earlier one (new operator, old CRD): refused.
        assert!(!runs_against(&crd("bbb", None), "aaa"));
        assert!(!runs_against(&crd("aaa", None), "bbb"));
        assert!(!runs_against(&BTreeMap::new(), "aaa"));
    }
}
