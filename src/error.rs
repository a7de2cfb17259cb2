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
    /// a refused object or a name taken by someone else is not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Kube(kube::Error::Api(status)) => {
                status.code >= 500 || status.code == 409 || status.code == 429 || status.code == 404
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
