//! `kubectl dc`: rollout verbs for DeploymentConfigs, as a kubectl plugin.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cutover::cli::{self, CliError};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

#[derive(Parser)]
#[command(
    name = "kubectl dc",
    version,
    about = "Rollouts of DeploymentConfigs (cutover)"
)]
struct Cli {
    /// Namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// Kubeconfig context.
    #[arg(long, global = true)]
    context: Option<String>,
    /// Path to the kubeconfig file.
    #[arg(long, global = true)]
    kubeconfig: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage rollouts.
    #[command(subcommand)]
    Rollout(Rollout),
}

#[derive(Subcommand)]
enum Rollout {
    /// Show the revisions of a DeploymentConfig: REVISION STATUS CAUSE.
    History { name: String },
    /// Wait for the latest rollout to finish; exits non-zero when it failed or was cancelled.
    Status {
        name: String,
        /// Keep watching until the rollout ends.
        #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
        watch: bool,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
}

async fn client(cli: &Cli) -> Result<(Client, String), CliError> {
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    let config = match &cli.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| CliError::User(format!("cannot read {}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| CliError::User(format!("cannot load the kubeconfig: {e}")))?;
    let namespace = cli
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(CliError::Kube)?;
    Ok((client, namespace))
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let (client, ns) = client(&cli).await?;
    match cli.command {
        Command::Rollout(Rollout::History { name }) => {
            print!(
                "{}",
                cli::format_history(&name, &cli::revisions(&client, &ns, &name).await?)
            );
        }
        Command::Rollout(Rollout::Status {
            name,
            watch,
            timeout,
        }) => {
            let message =
                cli::status(&client, &ns, &name, watch, timeout.map(Duration::from_secs)).await?;
            if !message.is_empty() {
                println!("{message}");
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
