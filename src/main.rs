//! The `cutover` process: `cutover run` (the operator), `cutover deploy` (the deployer of a
//! deployer Job), `cutover plan` (a rollout plan from manifests) and `cutover crd` (print the
//! CRDs).

use std::process::ExitCode;

mod deploy;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use std::sync::Arc;
use std::time::Duration;

use cutover::controller::{self, Scope};
use cutover::http::{self, Readiness};
use cutover::leader::{self, LeaseConfig};
use cutover::metrics::Metrics;

#[derive(Parser)]
#[command(
    name = "cutover",
    version,
    about = "OpenShift DeploymentConfig and Route for any Kubernetes cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator (uses KUBECONFIG, or the in-cluster service account).
    Run {
        /// Watch only this namespace (default: all namespaces).
        #[arg(long, env = "CUTOVER_NAMESPACE")]
        namespace: Option<String>,
        /// DeploymentConfigs reconciled at once.
        #[arg(long, env = "CUTOVER_CONCURRENCY", default_value_t = 16)]
        concurrency: u16,
        /// Serve /healthz, /readyz and /metrics on this address (for example 0.0.0.0:8080 in a pod).
        #[arg(long, env = "CUTOVER_HTTP_ADDR", alias = "health-addr")]
        http_addr: Option<std::net::SocketAddr>,
        /// Elect a leader among replicas on a Lease; only the leader acts.
        #[arg(long, env = "CUTOVER_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
        leader_elect: bool,
        /// The Lease's namespace (default: this pod's namespace, else cutover-system; deploy/
        /// grants the Lease rights there).
        #[arg(long, env = "CUTOVER_LEASE_NAMESPACE")]
        lease_namespace: Option<String>,
        /// The Lease's name.
        #[arg(long, env = "CUTOVER_LEASE_NAME", default_value = "cutover")]
        lease_name: String,
        /// Seconds a leader's Lease lasts unrenewed; a standby takes over after it. The leader
        /// renews every third of it and stops acting after two thirds without a renewal.
        #[arg(long, env = "CUTOVER_LEASE_DURATION", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=3600))]
        lease_duration: u64,
        /// Seconds to finish reconciles in flight after SIGTERM before giving up on them.
        #[arg(long, env = "CUTOVER_SHUTDOWN_GRACE", default_value_t = 20)]
        shutdown_grace: u64,
        /// The parent Gateway (`namespace/name`) of Routes without a cutover.io/gateway annotation.
        #[arg(long, env = "CUTOVER_DEFAULT_GATEWAY")]
        default_gateway: Option<String>,
        /// The ingress domain (OpenShift's `ingresscontroller.spec.domain`): a Route without a
        /// host is served on `<name>-<namespace>.<domain>`, written into its spec.host; one with
        /// spec.subdomain on `<subdomain>.<domain>`.
        #[arg(long, env = "CUTOVER_ROUTE_DOMAIN")]
        route_domain: Option<String>,
        /// Log format: text or json.
        #[arg(long, env = "CUTOVER_LOG_FORMAT", default_value = "text")]
        log_format: LogFormat,
        /// The image of deployer Jobs whose customParams name none (it runs `cutover deploy`).
        #[arg(long, env = "CUTOVER_DEPLOYER_IMAGE", default_value = cutover::api::defaults::DEFAULT_DEPLOYER_IMAGE)]
        deployer_image: String,
        /// How often tags with `importPolicy.scheduled: true` are imported again (OpenShift's
        /// default: 15 minutes), as `15m`, `90s` or an ISO 8601 duration.
        #[arg(long, env = "CUTOVER_IMAGE_IMPORT_INTERVAL", default_value = "15m", value_parser = import_interval)]
        image_import_interval: jiff::SignedDuration,
        /// PEM certificates the importer trusts besides the system's, for registries with a
        /// private CA (OpenShift's image.config.openshift.io additionalTrustedCA).
        #[arg(long, env = "CUTOVER_REGISTRY_CA")]
        registry_ca: Option<std::path::PathBuf>,
        /// Honour `image.openshift.io/triggers` annotations on Deployments, StatefulSets,
        /// DaemonSets and CronJobs (needs RBAC to patch them; deploy/ grants it).
        #[arg(long, env = "CUTOVER_ANNOTATION_TRIGGERS", default_value_t = true, action = clap::ArgAction::Set)]
        annotation_triggers: bool,
    },
    /// Run the rollout of one revision, as a deployer Job does (Custom strategies and
    /// customParams): until it is complete, failed, or at the --until stop point.
    Deploy(deploy::DeployArgs),
    /// Print the CustomResourceDefinitions as YAML, or write one file per CRD into a directory
    /// (what `crds/` holds).
    Crd {
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
    },
    /// Plan a rollout from manifests alone, no cluster: `-f dc.yaml` its first rollout;
    /// `-f old.yaml -f new.yaml` (or `-f dc.yaml --image C=IMG`) the rollout from the old one,
    /// running, to the new one. The operator's planner over a simulated cluster, step by step.
    Plan {
        /// A manifest holding the DeploymentConfig (once or twice: old, then new).
        #[arg(short = 'f', long = "filename", required = true, num_args = 1)]
        files: Vec<std::path::PathBuf>,
        #[command(flatten)]
        options: cutover::cli::plan::PlanOptions,
    },
}

fn import_interval(text: &str) -> Result<jiff::SignedDuration, String> {
    let interval: jiff::SignedDuration = text.parse().map_err(|e| format!("{e}"))?;
    if interval < jiff::SignedDuration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(interval)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
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

/// The command line, as `cutover` understands it. Invoked as `openshift-deploy` (the name
/// OpenShift's deployer has, which Custom strategy scripts call: `openshift-deploy --until=50%`),
/// the process is `cutover deploy`.
fn arguments(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut args: Vec<_> = args.collect();
    let invoked = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|name| name == "openshift-deploy");
    if invoked {
        args.splice(..1, ["cutover".into(), "deploy".into()]);
    }
    args
}

/// See Cargo.toml: glibc's malloc fragments under load, musl's is slow.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // The registry client (reqwest) takes rustls's process-wide provider: the same ring the
    // Kubernetes client uses. Installing fails only if one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse_from(arguments(std::env::args_os()));
    match cli.command {
        Command::Crd { dir } => match (cutover::api::crd_files(), dir) {
            (Ok(files), None) => {
                files.iter().for_each(|(_, yaml)| print!("{yaml}"));
                ExitCode::SUCCESS
            }
            (Ok(files), Some(dir)) => {
                for (name, yaml) in files {
                    if let Err(e) = std::fs::write(dir.join(&name), yaml) {
                        eprintln!("cutover: cannot write {}: {e}", dir.join(&name).display());
                        return ExitCode::FAILURE;
                    }
                }
                ExitCode::SUCCESS
            }
            (Err(e), _) => {
                eprintln!("cutover: cannot render the CRDs: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Deploy(args) => deploy::main(args).await,
        Command::Plan { files, options } => match cutover::cli::plan::offline(&files, &options) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cutover plan: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run {
            namespace,
            concurrency,
            http_addr,
            leader_elect,
            lease_namespace,
            lease_name,
            lease_duration,
            shutdown_grace,
            default_gateway,
            route_domain,
            log_format,
            deployer_image,
            image_import_interval,
            registry_ca,
            annotation_triggers,
        } => {
            init_logging(log_format);
            let registry_ca =
                match registry_ca.map(|path| std::fs::read(&path).map_err(|e| (path, e))) {
                    None => Vec::new(),
                    Some(Ok(pem)) => pem,
                    Some(Err((path, e))) => {
                        eprintln!("cutover: cannot read --registry-ca {}: {e}", path.display());
                        return ExitCode::FAILURE;
                    }
                };
            let client = match cutover::transport::client().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("cutover: cannot reach the Kubernetes API: {e}");
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(
                namespace = namespace.as_deref().unwrap_or("<all>"),
                "cutover starting"
            );
            if let Err(e) = controller::check_crds(&client).await {
                eprintln!("cutover: {e}");
                return ExitCode::FAILURE;
            }
            let readiness = Readiness::default();
            let metrics = Arc::new(Metrics::new());
            if let Some(addr) = http_addr {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(listener) => {
                        tokio::spawn(http::serve(listener, readiness.clone(), metrics.clone()));
                    }
                    Err(e) => {
                        eprintln!("cutover: cannot listen on {addr}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let lease = leader_elect.then(|| LeaseConfig {
                namespace: lease_namespace
                    .or_else(|| std::env::var("POD_NAMESPACE").ok())
                    .unwrap_or_else(|| "cutover-system".into()),
                name: lease_name,
                identity: leader::default_identity(),
                duration: Duration::from_secs(lease_duration),
            });
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("cutover: cannot handle SIGTERM: {e}");
                        return ExitCode::FAILURE;
                    }
                };
            let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
            let stop = async move {
                tokio::select! {
                    _ = shutdown => {},
                    _ = term.recv() => {},
                }
                tracing::info!("shutting down: finishing the reconciles in flight");
                let _ = stopping_tx.send(true);
            };
            let run = controller::run(
                client,
                Scope {
                    namespace,
                    concurrency,
                    default_gateway: default_gateway
                        .as_deref()
                        .and_then(cutover::route::GatewayRef::parse),
                    route_domain,
                    deployer_image: Some(deployer_image),
                    image_import_interval,
                    registry_ca,
                    annotation_triggers,
                },
                lease,
                readiness,
                metrics,
                stop,
            );
            // After SIGTERM the reconciles in flight get `shutdown_grace` to finish; then they
            // are dropped (every step is idempotent, so the next leader redoes what was cut).
            let grace = async move {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::sleep(Duration::from_secs(shutdown_grace)).await;
            };
            tokio::select! {
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
                _ = grace => {
                    tracing::warn!(after_secs = shutdown_grace, "reconciles still running at the end of the shutdown grace: abandoned");
                    ExitCode::SUCCESS
                }
            }
        }
    }
}
