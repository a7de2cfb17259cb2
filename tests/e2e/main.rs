//! End-to-end tests against the real local control plane (`make test` starts it): the real
//! kube-apiserver, ReplicaSet, Job and garbage-collector controllers, with kwok simulating nodes.
//! They are `#[ignore]`d so `cargo test` alone needs no cluster; `make test` runs them.

#[path = "../support/argocd.rs"]
mod argocd;
mod certificates;
mod common;
mod config_triggers;
mod custom;
mod dataplane;
mod faults;
mod fidelity;
mod foundation;
mod gitops;
mod hooks;
mod images;
mod operations;
mod plans;
#[path = "../support/push.rs"]
mod push;
mod real_node;
mod registry;
mod routes;
mod sessions;
mod shards;
mod shift;
mod strategies;
mod upgrade;
