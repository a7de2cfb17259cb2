//! `kubectl dc`: `oc rollout`'s verbs for cutover's DeploymentConfigs, as a kubectl plugin.
//! Requests (latest, cancel, retry, undo) go through the same annotations a GitOps repository
//! uses; the operator acts on them and records the outcome, which this command waits for.

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use cutover::api::keys;
use cutover::api::requests::{ROLLBACK_TO_ANNOTATION, RequestKind};
use cutover::cli::{self, CliError};
use cutover::strategy::requests::rollback_target;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, LogParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};

#[derive(Parser)]
#[command(
    name = "kubectl dc",
    version,
    about = "Rollouts of DeploymentConfigs (cutover), with oc rollout's verbs"
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
    /// Show a DeploymentConfig: revisions, phases, hooks and their outcomes, conditions, events.
    Describe { name: String },
    /// Print the logs of a revision's deployer and hook Jobs and its event timeline.
    Logs {
        name: String,
        /// The revision (default: the latest).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Traffic between a Route's Services: weights, blue-green switch, shares.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completion { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum RouteCmd {
    /// Set backend weights: `kubectl dc route set-weights ROUTE svc-a=90 svc-b=10`.
    SetWeights {
        route: String,
        #[arg(required = true, value_parser = parse_weight)]
        weights: Vec<(String, i32)>,
    },
    /// Blue-green: all traffic to SERVICE, every other backend kept at weight 0.
    Switch { route: String, service: String },
    /// Each backend's weight and share of requests.
    Show { route: String },
}

fn parse_weight(s: &str) -> Result<(String, i32), String> {
    let (name, weight) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected SERVICE=WEIGHT"))?;
    let weight = weight
        .parse()
        .map_err(|_| format!("{s:?}: the weight must be a number from 0 to 256"))?;
    Ok((name.to_string(), weight))
}

#[derive(Subcommand)]
enum Rollout {
    /// Start a new rollout now, even if nothing changed.
    Latest { name: String },
    /// Cancel the rollout in progress; the previous revision is restored.
    Cancel { name: String },
    /// Retry the latest rollout, which failed; its hooks run again.
    Retry { name: String },
    /// Pause: no rollout starts and replicas are left alone until resumed.
    Pause { name: String },
    /// Resume a paused DeploymentConfig.
    Resume { name: String },
    /// Roll back to an earlier revision's pod template, as a new revision.
    Undo {
        name: String,
        /// The revision to go back to (default: the newest Complete one before the latest).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
        to_revision: i64,
        /// Print the template that would be rolled back to, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show the revisions: REVISION STATUS CAUSE.
    History {
        name: String,
        /// Print the pod template of this revision.
        #[arg(long)]
        revision: Option<i64>,
    },
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

/// The DeploymentConfig's events, oldest first, as (type, reason, note).
async fn events(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<Vec<(String, String, String)>, CliError> {
    let fields = format!("regarding.kind=DeploymentConfig,regarding.name={name}");
    let mut list = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default().fields(&fields))
        .await?
        .items;
    list.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
    Ok(list
        .into_iter()
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
            )
        })
        .collect())
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Completion { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "kubectl-dc",
            &mut std::io::stdout(),
        );
        return Ok(());
    }
    let (client, ns) = client(&cli).await?;
    let say = |m: String| println!("{m}");
    match cli.command {
        Command::Completion { .. } => {}
        Command::Rollout(Rollout::Latest { name }) => {
            say(cli::request(&client, &ns, &name, RequestKind::Latest, &[]).await?)
        }
        Command::Rollout(Rollout::Cancel { name }) => {
            say(cli::request(&client, &ns, &name, RequestKind::Cancel, &[]).await?)
        }
        Command::Rollout(Rollout::Retry { name }) => {
            say(cli::request(&client, &ns, &name, RequestKind::Retry, &[]).await?)
        }
        Command::Rollout(Rollout::Pause { name }) => {
            say(cli::set_paused(&client, &ns, &name, true).await?)
        }
        Command::Rollout(Rollout::Resume { name }) => {
            say(cli::set_paused(&client, &ns, &name, false).await?)
        }
        Command::Rollout(Rollout::Undo {
            name,
            to_revision,
            dry_run,
        }) => {
            if dry_run {
                let dc = cli::get_dc(&client, &ns, &name).await?;
                let revisions = cli::revisions(&client, &ns, &name).await?;
                let latest = dc.status.as_ref().map_or(0, |s| s.latest_version);
                let target = rollback_target(&name, &ns, latest, &revisions, to_revision)
                    .map_err(CliError::User)?;
                print!("{}", cli::format_template(target)?);
            } else {
                let extra = [(ROLLBACK_TO_ANNOTATION, to_revision.to_string())];
                say(cli::request(&client, &ns, &name, RequestKind::Rollback, &extra).await?);
            }
        }
        Command::Rollout(Rollout::History { name, revision }) => {
            let revisions = cli::revisions(&client, &ns, &name).await?;
            match revision {
                None => print!("{}", cli::format_history(&name, &revisions)),
                Some(v) => {
                    let rev = revisions.iter().find(|r| r.version == v).ok_or_else(|| {
                        CliError::User(format!("unable to find the specified revision {v}"))
                    })?;
                    print!("{}", cli::format_template(rev)?);
                }
            }
        }
        Command::Rollout(Rollout::Status {
            name,
            watch,
            timeout,
        }) => {
            let message =
                cli::status(&client, &ns, &name, watch, timeout.map(Duration::from_secs)).await?;
            if !message.is_empty() {
                say(message);
            }
        }
        Command::Route(RouteCmd::SetWeights { route, weights }) => {
            print!(
                "{}",
                cli::set_route_weights(&client, &ns, &route, &weights).await?
            );
        }
        Command::Route(RouteCmd::Switch { route, service }) => {
            let r = cli::get_route(&client, &ns, &route).await?;
            let current = cutover::route::backends(&r)
                .iter()
                .find(|b| b.name == service)
                .map(|b| b.effective_weight());
            let weight = match current {
                Some(w) if w > 0 => w,
                _ => 100,
            };
            let set: Vec<(String, i32)> = cutover::route::backends(&r)
                .iter()
                .map(|b| (b.name.clone(), if b.name == service { weight } else { 0 }))
                .collect();
            if current.is_none() {
                // Let new_weights name the backends in its error.
                cli::new_weights(&r, &[(service.clone(), weight)])?;
            }
            print!(
                "{}",
                cli::set_route_weights(&client, &ns, &route, &set).await?
            );
        }
        Command::Route(RouteCmd::Show { route }) => {
            let r = cli::get_route(&client, &ns, &route).await?;
            print!("{}", cli::format_route(&r));
        }
        Command::Describe { name } => {
            let dc = cli::get_dc(&client, &ns, &name).await?;
            let revisions = cli::revisions(&client, &ns, &name).await?;
            print!(
                "{}",
                cli::format_describe(&dc, &revisions, &events(&client, &ns, &name).await?)
            );
        }
        Command::Logs { name, version } => {
            let dc = cli::get_dc(&client, &ns, &name).await?;
            let version =
                version.unwrap_or_else(|| dc.status.as_ref().map_or(0, |s| s.latest_version));
            if version <= 0 {
                return Err(CliError::User(format!(
                    "no deployment exists for deploymentConfig {name:?}"
                )));
            }
            let rc = format!("{name}-{version}");
            let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let selector = format!("{}={rc}", keys::DEPLOYER_POD_FOR_LABEL);
            let mut hook_pods = pods
                .list(&ListParams::default().labels(&selector))
                .await?
                .items;
            hook_pods.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
            for pod in &hook_pods {
                let kind = pod
                    .labels()
                    .get(keys::DEPLOYER_POD_TYPE_LABEL)
                    .cloned()
                    // The deployer Job's pod (Custom strategies, customParams) has no type.
                    .unwrap_or_else(|| "deployer".into());
                println!("--> {kind}: pod/{}", pod.name_any());
                match pods.logs(&pod.name_any(), &LogParams::default()).await {
                    Ok(text) => print!("{text}"),
                    Err(e) => println!("    (no logs: {e})"),
                }
            }
            println!("--> events of {rc}:");
            for (type_, reason, note) in events(&client, &ns, &name)
                .await?
                .into_iter()
                .filter(|e| e.2.contains(&rc))
            {
                println!("    {type_:<8} {reason:<28} {note}");
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
