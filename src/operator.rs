//! The `cutover run` process (the binary's, next to `main.rs`): flags and environment, logging,
//! the client, the health and metrics server, leader election and a graceful shutdown around
//! `controller::run`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use cutover::controller::{self, Scope};
use cutover::http::{self, Readiness};
use cutover::leader::{self, LeaseConfig};
use cutover::metrics::Metrics;

/// `cutover run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "CUTOVER_NAMESPACE", conflicts_with = "shard")]
    pub namespace: Option<String>,
    /// Serve only the namespaces labelled `cutover.io/shard=<SHARD>` (default: those without
    /// the label). Each shard elects its own leader, on the Lease `cutover-<SHARD>`.
    #[arg(long, env = "CUTOVER_SHARD", value_parser = shard_name)]
    pub shard: Option<String>,
    /// DeploymentConfigs reconciled at once.
    #[arg(long, env = "CUTOVER_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,
    /// Serve /healthz, /readyz and /metrics on this address (for example 0.0.0.0:8080 in a pod).
    #[arg(long, env = "CUTOVER_HTTP_ADDR", alias = "health-addr")]
    pub http_addr: Option<std::net::SocketAddr>,
    /// Elect a leader among replicas on a Lease; only the leader acts.
    #[arg(long, env = "CUTOVER_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// The Lease's namespace (default: this pod's namespace, else cutover-system; deploy/
    /// grants the Lease rights there).
    #[arg(long, env = "CUTOVER_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// The Lease's name (default: `cutover`, or `cutover-<SHARD>` with --shard).
    #[arg(long, env = "CUTOVER_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// Seconds a leader's Lease lasts unrenewed; a standby takes over after it. The leader
    /// renews every third of it and stops acting after two thirds without a renewal.
    #[arg(long, env = "CUTOVER_LEASE_DURATION", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub lease_duration: u64,
    /// Seconds to finish reconciles in flight after SIGTERM before giving up on them.
    #[arg(long, env = "CUTOVER_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace: u64,
    /// The parent Gateway (`namespace/name`) of Routes without a cutover.io/gateway annotation.
    #[arg(long, env = "CUTOVER_DEFAULT_GATEWAY")]
    pub default_gateway: Option<String>,
    /// The ingress domain (OpenShift's `ingresscontroller.spec.domain`): a Route without a
    /// host is served on `<name>-<namespace>.<domain>`, written into its spec.host; one with
    /// spec.subdomain on `<subdomain>.<domain>`.
    #[arg(long, env = "CUTOVER_ROUTE_DOMAIN")]
    pub route_domain: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "CUTOVER_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// The image of deployer Jobs whose customParams name none (it runs `cutover deploy`).
    #[arg(long, env = "CUTOVER_DEPLOYER_IMAGE", default_value = cutover::api::defaults::DEFAULT_DEPLOYER_IMAGE)]
    pub deployer_image: String,
    /// How often tags with `importPolicy.scheduled: true` are imported again (OpenShift's
    /// default: 15 minutes), as `15m`, `90s` or an ISO 8601 duration.
    #[arg(long, env = "CUTOVER_IMAGE_IMPORT_INTERVAL", default_value = "15m", value_parser = import_interval)]
    pub image_import_interval: jiff::SignedDuration,
    /// PEM certificates the importer trusts besides the system's, for registries with a
    /// private CA (OpenShift's image.config.openshift.io additionalTrustedCA).
    #[arg(long, env = "CUTOVER_REGISTRY_CA")]
    pub registry_ca: Option<std::path::PathBuf>,
    /// Honour `image.openshift.io/triggers` annotations on Deployments, StatefulSets,
    /// DaemonSets and CronJobs (needs RBAC to patch them; deploy/ grants it).
    #[arg(long, env = "CUTOVER_ANNOTATION_TRIGGERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub annotation_triggers: bool,
}

/// A shard name is a label value: what the namespaces carry and the Lease's name ends with.
fn shard_name(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 63
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if valid {
        Ok(text.to_string())
    } else {
        Err("must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit".into())
    }
}

fn import_interval(text: &str) -> Result<jiff::SignedDuration, String> {
    let interval: jiff::SignedDuration = text.parse().map_err(|e| format!("{e}"))?;
    if interval < jiff::SignedDuration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(interval)
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

impl RunArgs {
    /// Where the operator looks, and what it assumes where a Route or a trigger says nothing.
    fn scope(&self, registry_ca: Vec<u8>) -> Scope {
        Scope {
            namespace: self.namespace.clone(),
            served: controller::Served::new(self.namespace.is_some(), self.shard.as_deref()),
            concurrency: self.concurrency,
            default_gateway: self
                .default_gateway
                .as_deref()
                .and_then(cutover::route::GatewayRef::parse),
            route_domain: self.route_domain.clone(),
            deployer_image: Some(self.deployer_image.clone()),
            image_import_interval: self.image_import_interval,
            registry_ca,
            annotation_triggers: self.annotation_triggers,
        }
    }

    /// The Lease this replica competes for, when it elects a leader.
    fn lease(&self) -> Option<LeaseConfig> {
        self.leader_elect.then(|| LeaseConfig {
            namespace: self
                .lease_namespace
                .clone()
                .or_else(|| std::env::var("POD_NAMESPACE").ok())
                .unwrap_or_else(|| "cutover-system".into()),
            name: self
                .lease_name
                .clone()
                .unwrap_or_else(|| match &self.shard {
                    Some(shard) => format!("cutover-{shard}"),
                    None => "cutover".into(),
                }),
            identity: leader::default_identity(),
            duration: Duration::from_secs(self.lease_duration),
        })
    }

    fn registry_ca(&self) -> Result<Vec<u8>, String> {
        match &self.registry_ca {
            None => Ok(Vec::new()),
            Some(path) => std::fs::read(path)
                .map_err(|e| format!("cannot read --registry-ca {}: {e}", path.display())),
        }
    }
}

/// The operator process: everything that can be wrong with its set-up is said once, on stderr,
/// before anything runs; then the controllers run until SIGTERM or SIGINT.
pub async fn main(args: RunArgs) -> ExitCode {
    init_logging(args.log_format);
    match run(args).await {
        Ok(code) => code,
        Err(why) => {
            eprintln!("cutover: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> Result<ExitCode, String> {
    let scope = args.scope(args.registry_ca()?);
    let client = cutover::transport::client()
        .await
        .map_err(|e| format!("cannot reach the Kubernetes API: {e}"))?;
    tracing::info!(
        namespace = args.namespace.as_deref().unwrap_or("<all>"),
        shard = args.shard.as_deref().unwrap_or("<unlabelled namespaces>"),
        "cutover starting"
    );
    controller::check_crds(&client).await?;
    let readiness = Readiness::default();
    let metrics = Arc::new(Metrics::new());
    if let Some(addr) = args.http_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        tokio::spawn(http::serve(listener, readiness.clone(), metrics.clone()));
    }
    let (stop, stopping) = signalled()?;
    let run = controller::run(client, scope, args.lease(), readiness, metrics, stop);
    // After SIGTERM the reconciles in flight get `shutdown_grace` to finish; then they are
    // dropped (every step is idempotent, so the next leader redoes what was cut).
    let grace = args.shutdown_grace;
    let abandon = async move {
        let mut stopping = stopping;
        let _ = stopping.wait_for(|s| *s).await;
        tokio::time::sleep(Duration::from_secs(grace)).await;
    };
    Ok(tokio::select! {
        result = run => match result {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                // Exit at once: a replica that may not lead must not write anything.
                tracing::error!(error = %e, "stopping");
                ExitCode::FAILURE
            }
        },
        _ = abandon => {
            tracing::warn!(after_secs = grace, "reconciles still running at the end of the shutdown grace: abandoned");
            ExitCode::SUCCESS
        }
    })
}

/// A future that resolves at SIGINT or SIGTERM (the controllers' shutdown), and a flag that
/// turns true then (the start of the grace period).
fn signalled() -> Result<
    (
        impl std::future::Future<Output = ()> + Send + Sync + 'static,
        tokio::sync::watch::Receiver<bool>,
    ),
    String,
> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let stop = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        tracing::info!("shutting down: finishing the reconciles in flight");
        let _ = stopping_tx.send(true);
    };
    Ok((stop, stopping))
}
