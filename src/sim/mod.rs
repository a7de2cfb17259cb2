//! The operator's planner over a simulated cluster: the world the planner tests run in
//! (`world`), and what it is for outside the tests, the rollout plan (`plan`): what the next
//! rollout of a DeploymentConfig would do, step by step, computed by the same `strategy::plan`
//! the operator runs.

pub mod plan;
mod world;

pub use world::*;
