//! The simulated cluster of the planner tests lives in the library (`cutover::sim`, which the
//! rollout plan drives too); this adds what only tests do with it: run a deployer Job's process
//! by hand and run `cutover deploy` to its end.

#![allow(dead_code)]

pub use cutover::sim::*;

use cutover::strategy::Until;
use cutover::strategy::deployer::plan::Outcome;
use cutover::strategy::describe::{Voice, describe};

pub trait Deployer {
    /// Ends a Job the test runs by hand (its process exited with success or not), now.
    fn exit_job(&mut self, name: &str, success: bool);
    /// Runs `cutover deploy` for `rc` until it exits (at most `limit` seconds), the cluster and
    /// the operator moving every second. Returns how it ended and the lines it printed.
    fn deploy(&mut self, rc: &str, until: Option<Until>, limit: i64) -> (Outcome, Vec<String>);
    /// `deploy`, checking `invariant` after every second.
    fn deploy_checked(
        &mut self,
        rc: &str,
        until: Option<Until>,
        limit: i64,
        invariant: impl FnMut(&World),
    ) -> (Outcome, Vec<String>);
}

impl Deployer for World {
    fn exit_job(&mut self, name: &str, success: bool) {
        assert!(self.end_job(name, success), "no Job {name}");
    }

    fn deploy(&mut self, rc: &str, until: Option<Until>, limit: i64) -> (Outcome, Vec<String>) {
        self.deploy_checked(rc, until, limit, |_| {})
    }

    fn deploy_checked(
        &mut self,
        rc: &str,
        until: Option<Until>,
        limit: i64,
        mut invariant: impl FnMut(&World),
    ) -> (Outcome, Vec<String>) {
        let mut lines = Vec::new();
        for _ in 0..limit {
            let decision = self.deploy_pass(rc, until);
            lines.extend(
                decision
                    .actions
                    .iter()
                    .flat_map(|a| describe(a, Voice::Deployer { revision: rc }))
                    .map(|said| said.to_string()),
            );
            match decision.outcome {
                Outcome::Continue(_) => {}
                Outcome::Done => {
                    lines.push("--> Success".into());
                    return (Outcome::Done, lines);
                }
                Outcome::Stopped(m) => {
                    lines.push(format!("--> {m}"));
                    return (Outcome::Stopped(m), lines);
                }
                other => return (other, lines),
            }
            self.step();
            invariant(self);
        }
        panic!("cutover deploy {rc} did not exit within {limit}s: {lines:#?}");
    }
}
