//! Rung: revisions still in flight that are not the latest are cancelled and end Failed; the new
//! revision starts only once none is left in flight (at most one rollout runs at a time).

use std::ops::ControlFlow;

use crate::api::events;

use super::pass::Pass;
use super::{Event, Observed};

pub(super) fn cancel_superseded(obs: &Observed, pass: &mut Pass) -> ControlFlow<()> {
    let latest = pass.status.latest_version;
    let mut any = false;
    for rev in obs.in_flight().filter(|r| r.version != latest) {
        any = true;
        let reason_text = if rev.cancelled {
            rev.status_reason
                .clone()
                .unwrap_or_else(|| "cancelled".into())
        } else {
            pass.event(Event::normal(
                events::DEPLOYMENT_CANCELLED,
                format!(
                    "Cancelled deployment {:?} superceded by version {latest}",
                    rev.name
                ),
            ));
            "newer deployment was found running".into()
        };
        pass.cancel(obs, rev, Some(reason_text));
    }
    if any {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}
