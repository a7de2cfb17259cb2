//! cutover: OpenShift's DeploymentConfig and Route for any Kubernetes cluster.
//!
//! - `api`: the CRD types, their defaults and validation (no I/O);
//! - `strategy`: the pure planner, `plan(&Observed, now) -> Decision`;
//! - `image`: ImageStream tag resolution and what image triggers write (pure);
//! - `sim`: the planner over a simulated cluster (the planner tests' world, rollout plans);
//! - `reconcile`: the thin I/O shell that observes, plans and acts;
//! - `client`: the API writes the shell and the plugin (`cli`) share;
//! - `controller`: the wiring of the kube-runtime controllers;
//! - `leader`, `metrics`, `http`: leader election, Prometheus metrics, probes.

pub mod api;
pub mod cli;
pub mod client;
pub mod controller;
pub mod error;
pub mod http;
pub mod image;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod route;
pub mod sim;
pub mod strategy;
pub mod transport;
