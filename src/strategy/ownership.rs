//! Rung: which ReplicaSets are this DeploymentConfig's revisions is settled before anything is
//! decided, as the ControllerRefManager does: those it controls whose label no longer names it
//! are released, orphans that its label names are adopted. Either ends the pass.

use std::ops::ControlFlow;

use super::pass::Pass;
use super::{Action, Observed};

pub(super) fn claim(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    if obs.released.is_empty() && obs.orphans.is_empty() {
        return ControlFlow::Continue(());
    }
    let released = obs
        .released
        .iter()
        .map(|name| Action::Release { name: name.clone() });
    let adopted = obs
        .orphans
        .iter()
        .map(|name| Action::Adopt { name: name.clone() });
    pass.actions.extend(released.chain(adopted));
    ControlFlow::Break(())
}
