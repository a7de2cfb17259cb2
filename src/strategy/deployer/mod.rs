//! Rollouts run by a deployer Job: the Custom strategy, and Rolling or Recreate with
//! `customParams`. The operator creates the Job (`job`) and follows it (`follow`); inside the Job,
//! `cutover deploy` plans the rollout with the same code the operator runs (`plan`).

mod follow;
mod job;
pub mod plan;

pub use follow::{CREATE_TIMEOUT_REASON, DEPLOYER_GONE_REASON, follow};
pub use job::{DeployerContext, DeployerJob, access_manifests, job_manifest, job_name, role_rules};
