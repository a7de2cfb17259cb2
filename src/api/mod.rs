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

fn with_schema_hash(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let hash = schema_hash(&crd);
    crd.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(SCHEMA_HASH_ANNOTATION.into(), hash);
    crd
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
