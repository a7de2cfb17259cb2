//! The `cutover` process: `cutover run` (the operator), `cutover deploy` (the deployer of a
//! deployer Job), `cutover plan` (a rollout plan from manifests) and `cutover crd` (print the
//! CRDs).

use std::process::ExitCode;

mod deploy;
mod operator;

use clap::{Parser, Subcommand};

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
    Run(operator::RunArgs),
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
        Command::Run(args) => operator::main(args).await,
    }
}
