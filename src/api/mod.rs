//! The API: CRD types, their defaults and validation, names and keys. No I/O.

pub mod defaults;
pub mod deployment_config;
pub mod int_or_percent;
pub mod keys;
pub mod template;

pub use deployment_config::*;
pub use int_or_percent::{IntOrPercent, Rounding};
pub use template::PodTemplate;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD cutover serves, in the order `cutover crd` prints them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![DeploymentConfig::crd()]
}

/// The CRDs as one multi-document YAML stream (what `crds/` holds).
pub fn crds_yaml() -> Result<String, serde_saphyr::ser::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}
