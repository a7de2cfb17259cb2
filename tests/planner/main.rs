//! The planner driven against the simulated cluster (`sim`), with a virtual clock. One test
//! binary, one link, a module per part of the planner:
//! - `rollouts`: rollouts end to end, the invariants checked after every step;
//! - `openshift`: OpenShift's rules a migrating team's rollouts depend on;
//! - `hooks`, `custom`, `until`: lifecycle hooks, deployer Jobs, `cutover deploy [--until]`;
//! - `requests`, `images`, `config`: rollout requests, ImageChange and ConfigMap/Secret triggers;
//! - `properties`: random rollouts, the invariants after every step.

// The bench (benches/planner.rs) shares the simulated cluster's test helpers.
#[path = "../sim/mod.rs"]
mod sim;

mod config;
mod custom;
mod hooks;
mod images;
mod openshift;
mod properties;
mod requests;
mod rollouts;
mod until;
