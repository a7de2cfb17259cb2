//! Rollout plans on the command line: `kubectl dc rollout plan NAME` from the live state, and
//! `cutover plan -f old.yaml [-f new.yaml]` from manifests alone (a pull request's review). The
//! options, the manifests they read and the output are shared; the plan is `sim::plan`'s.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use super::CliError;
use super::format::format_plan;
use crate::api::{DeploymentConfig, keys};
use crate::sim::plan::{self, Assumptions, Change, RolloutPlan};

/// What both commands take besides the change's source.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanOptions {
    /// A new image for a container, as CONTAINER=IMAGE (repeatable). A container an
    /// ImageChange trigger governs is planned as that image arriving in its ImageStreamTag.
    #[arg(long = "image", value_name = "CONTAINER=IMAGE", value_parser = parse_image)]
    pub images: Vec<(String, String)>,
    /// Pods of the new revision that never become ready: how the rollout fails, and what is
    /// left serving after the automatic rollback.
    #[arg(long, default_value_t = Assumptions::default().unready, value_parser = clap::value_parser!(i32).range(0..))]
    pub unready: i32,
    /// Seconds a pod takes to become ready once started (minReadySeconds come on top).
    #[arg(long, default_value_t = Assumptions::default().ready_after_seconds, value_parser = clap::value_parser!(i64).range(0..=86_400))]
    pub ready_after: i64,
    /// Seconds a hook runs before it succeeds.
    #[arg(long, default_value_t = Assumptions::default().hook_seconds, value_parser = clap::value_parser!(i64).range(0..=86_400))]
    pub hook_seconds: i64,
    /// Output format.
    #[arg(short, long, default_value = "table")]
    pub output: PlanFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
}

impl PlanOptions {
    fn assumptions(&self) -> Assumptions {
        Assumptions {
            ready_after_seconds: self.ready_after,
            hook_seconds: self.hook_seconds,
            unready: self.unready,
        }
    }
}

fn parse_image(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((container, image)) if !container.is_empty() && !image.trim().is_empty() => {
            Ok((container.to_string(), image.to_string()))
        }
        _ => Err(format!("{s:?}: expected CONTAINER=IMAGE")),
    }
}

/// The plan as the user asked to see it.
pub fn render(plan: &RolloutPlan, format: PlanFormat) -> Result<String, CliError> {
    match format {
        PlanFormat::Table => Ok(format_plan(plan)),
        PlanFormat::Json => serde_json::to_string_pretty(plan)
            .map(|json| json + "\n")
            .map_err(|e| CliError::User(format!("cannot encode the plan: {e}"))),
    }
}

/// The DeploymentConfig of a manifest file (other documents, such as the ImageStream or the
/// Service beside it, are skipped).
pub fn read_manifest(path: &Path) -> Result<DeploymentConfig, CliError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::User(format!("cannot read {shown}: {e}")))?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| CliError::User(format!("{shown} is not YAML: {e}")))?;
    let mut configs = documents
        .into_iter()
        .filter(|d| d["kind"] == "DeploymentConfig");
    let (Some(dc), None) = (configs.next(), configs.next()) else {
        return Err(CliError::User(format!(
            "{shown} must hold exactly one DeploymentConfig"
        )));
    };
    serde_json::from_value(dc)
        .map_err(|e| CliError::User(format!("{shown}: not a valid DeploymentConfig: {e}")))
}

/// `cutover plan -f old.yaml [-f new.yaml]`: the first rollout of a single manifest (without
/// --image), or the rollout from the old manifest, running, to the new one (or to its images).
pub fn offline(files: &[PathBuf], options: &PlanOptions) -> Result<String, CliError> {
    let (old, new) = match files {
        [old] => (read_manifest(old)?, None),
        [old, new] => (read_manifest(old)?, Some(read_manifest(new)?)),
        _ => {
            return Err(CliError::User(
                "give one manifest (-f dc.yaml) or two (-f old.yaml -f new.yaml)".into(),
            ));
        }
    };
    let a = options.assumptions();
    let first_rollout = new.is_none() && options.images.is_empty();
    let plan = if first_rollout {
        plan::plan(plan::unstarted(old, &a), &Change::default(), &a)
    } else {
        let world = plan::from_manifest(old, &a);
        let change = Change {
            manifest: new,
            images: options.images.clone(),
            latest: false,
        };
        plan::plan(world, &change, &a)
    }
    .map_err(|e| CliError::User(e.to_string()))?;
    render(&plan, options.output)
}

/// `kubectl dc rollout plan NAME [-f new.yaml] [--image C=IMG]`: the next rollout from the
/// live state (without a change: what `rollout latest` would do).
pub async fn live(
    client: &Client,
    ns: &str,
    name: &str,
    file: Option<&Path>,
    options: &PlanOptions,
) -> Result<String, CliError> {
    let dc = super::get_dc(client, ns, name).await?;
    let selector = format!("{}={}", keys::CONFIG_LABEL, dc.name_any());
    let params = ListParams::default().labels(&selector);
    let replica_sets = Api::<ReplicaSet>::namespaced(client.clone(), ns)
        .list(&params)
        .await?
        .items;
    let jobs = Api::<Job>::namespaced(client.clone(), ns)
        .list(&params)
        .await?
        .items;
    let a = options.assumptions();
    let manifest = file.map(read_manifest).transpose()?;
    let change = Change {
        latest: manifest.is_none() && options.images.is_empty(),
        manifest,
        images: options.images.clone(),
    };
    let world = plan::from_cluster(dc, &replica_sets, &jobs, Timestamp::now(), &a);
    let plan = plan::plan(world, &change, &a).map_err(|e| CliError::User(e.to_string()))?;
    render(&plan, options.output)
}
