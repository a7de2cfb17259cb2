//! The `kubectl dc` plugin: `oc rollout`'s verbs for cutover's DeploymentConfigs.
//!
//! - [`format`]: the output, pure functions from data to text (golden-tested in
//!   `tests/cli_output.rs`), a Route's and an ImageStream's in `format::route` and
//!   `format::images`;
//! - [`view`]: the other pure decisions, what a command shows or acts on, chosen from what was
//!   read (the operator's own observation of revisions, the weights a Route is left with);
//! - [`images`]: the same for ImageStreams (`tag`, `import-image`);
//! - [`plan`]: rollout plans, from the live state or from manifests (`sim::plan` plans);
//! - [`commands`]: the verbs, which talk to the cluster: fetch, write a request annotation and
//!   wait for its outcome, patch, stream logs. Each returns the text to print. What they write
//!   the same way as the operator (an ImageStream tag) is `crate::client`'s.

pub mod commands;
pub mod format;
pub mod images;
pub mod plan;
pub mod view;

pub use commands::{
    connect, describe, events, get_dc, get_route, history, logs, request, revisions,
    route_set_weights, route_show, route_switch, set_paused, set_triggers, status, undo,
};
pub use format::{
    disabled_triggers_warning, format_describe, format_history, format_plan, format_route,
    format_template, format_triggers, progress_bar, status_update,
};
pub use view::{new_weights, observed_revisions, reset_triggers, switch_weights, undo_target};

/// A plugin failure: one clear sentence for the user, and the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    User(String),
    #[error("{}", kube_message(.0))]
    Kube(#[from] kube::Error),
    /// The rollout ended without success (for `status`: exit 1, usable as a CI gate).
    #[error("{0}")]
    RolloutFailed(String),
}

/// The API server's own sentence for a refused call, not the whole debug dump.
fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}
