//! The crate-wide error: typed, and each knows whether retrying can help.

/// Errors of a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),

    /// An object could not be (de)serialised.
    #[error("serialisation: {0}")]
    Serde(#[from] serde_json::Error),

    /// A revision exists under the expected name but this DeploymentConfig does not control it.
    #[error("ReplicaSet {0:?} exists and is not a revision of this DeploymentConfig")]
    NameTaken(String),

    /// The informer caches are behind what the API server has (the next event catches up).
    #[error("caches are stale: {0}")]
    StaleCache(String),
}

impl Error {
    /// Whether a retry can succeed: API availability, conflicts and throttling are transient;
    /// a refused object or a name taken by someone else is not. So are authentication and
    /// authorization, which change with no event on our objects: an API server that just
    /// started denies requests until its RBAC cache is filled, and an admin fixes a Role.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Kube(kube::Error::Api(status)) => {
                status.code >= 500 || matches!(status.code, 401 | 403 | 404 | 409 | 429)
            }
            Error::Kube(_) | Error::StaleCache(_) => true,
            Error::Serde(_) | Error::NameTaken(_) => false,
        }
    }

    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Serde(_) => "serde",
            Error::NameTaken(_) => "name_taken",
            Error::StaleCache(_) => "stale_cache",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        let status = kube::core::Status::failure("refused", "Reason").with_code(code);
        Error::Kube(kube::Error::Api(Box::new(status)))
    }

    #[test]
    fn refusals_that_change_without_an_event_are_retried() {
        for code in [401, 403, 404, 409, 429, 500, 503] {
            assert!(api(code).is_transient(), "{code}");
        }
        for code in [400, 410, 422] {
            assert!(!api(code).is_transient(), "{code}");
        }
    }
}
