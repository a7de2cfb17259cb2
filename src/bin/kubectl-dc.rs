//! `kubectl dc`: `oc rollout`'s verbs for cutover's DeploymentConfigs, as a kubectl plugin.
//! Requests (latest, cancel, retry, undo) go through the same annotations a GitOps repository
//! uses; the operator acts on them and records the outcome, which this command waits for.

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use cutover::api::requests::RequestKind;
use cutover::cli::{CliError, commands};
use kube::Client;

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
    /// Show a DeploymentConfig: revisions, phases, hooks and their outcomes, conditions, events;
    /// or, as `describe is NAME`, an ImageStream: its tags, their sources and images.
    Describe {
        name: String,
        /// With `is` (or `imagestream`) as the first argument: the ImageStream's name.
        stream: Option<String>,
    },
    /// Point ImageStream tags at an image or another tag: `tag SOURCE DEST...`, as `oc tag`.
    /// SOURCE is a pull spec (DockerImage), `stream:tag` or `stream@digest`.
    Tag {
        source: String,
        #[arg(required = true)]
        destinations: Vec<String>,
        /// Follow SOURCE's tag as it moves, instead of copying its image now.
        #[arg(long)]
        alias: bool,
        /// Import the pull spec again every --image-import-interval.
        #[arg(long)]
        scheduled: bool,
        /// Allow plain HTTP or an unverified certificate for this registry.
        #[arg(long)]
        insecure: bool,
        /// Point at the pull spec as written, without importing it.
        #[arg(long)]
        reference: bool,
    },
    /// Import an ImageStream tag now and show the stream: `import-image NAME[:TAG]`, as
    /// `oc import-image`.
    ImportImage {
        name: String,
        /// The pull spec to import from (a new tag or stream).
        #[arg(long)]
        from: Option<String>,
        /// Create the stream if it does not exist.
        #[arg(long)]
        confirm: bool,
        #[arg(long)]
        scheduled: bool,
        #[arg(long)]
        insecure: bool,
    },
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
    /// Change a DeploymentConfig's settings.
    #[command(subcommand)]
    Set(SetCmd),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completion { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum SetCmd {
    /// Show the triggers, or make them all automatic (`--auto`: ConfigChange added, every
    /// ImageChange trigger automatic) or manual (`--manual`), as `oc set triggers` does.
    Triggers {
        name: String,
        #[arg(long, conflicts_with = "manual")]
        auto: bool,
        #[arg(long)]
        manual: bool,
    },
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
    /// A progressive traffic shift (`cutover.io/traffic-shift`): its progress, or a request.
    #[command(subcommand)]
    Shift(ShiftCmd),
}

#[derive(Subcommand)]
enum ShiftCmd {
    /// Show the shift's progress until it ends; exits non-zero when it failed or was aborted.
    Status {
        route: String,
        #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
        watch: bool,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Take the next step now (as Argo Rollouts' promote); with --full, send all traffic to the
    /// new backend now: the shift succeeds.
    Promote {
        route: String,
        /// All of it at once, not the next step.
        #[arg(long)]
        full: bool,
    },
    /// Hold the shift at its step: no step and no check until resumed.
    Pause { route: String },
    /// Go on with a paused shift; the step's pause counts from now.
    Resume { route: String },
    /// Give the Route its stable weights back now (the last promotion's, else the spec's).
    Abort { route: String },
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
        /// Go back to a revision older than one whose irreversible hook succeeded
        /// (cutover.io/irreversible-hooks), recorded in the request's outcome.
        #[arg(long)]
        force_past_migration: bool,
    },
    /// What the next rollout would do, step by step, planned by the operator's own planner from
    /// the live state: with -f, the rollout to that manifest; with --image, to those images;
    /// with neither, what `rollout latest` would do. Changes nothing.
    Plan {
        name: String,
        /// A manifest holding the new DeploymentConfig.
        #[arg(short = 'f', long = "filename")]
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        options: cutover::cli::plan::PlanOptions,
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
    let (client, ns) =
        commands::connect(cli.context, cli.kubeconfig.as_deref(), cli.namespace).await?;
    let (c, ns) = (&client, ns.as_str());
    let out = match cli.command {
        Command::Completion { .. } => String::new(),
        Command::Rollout(rollout) => run_rollout(c, ns, rollout).await?,
        Command::Route(route) => run_route(c, ns, route).await?,
        Command::Set(SetCmd::Triggers { name, auto, manual }) => {
            let mode = (auto || manual).then_some(auto);
            commands::set_triggers(c, ns, &name, mode).await?
        }
        Command::Describe { name, stream } => match (name.as_str(), stream) {
            ("is" | "imagestream" | "imagestreams", Some(stream)) => {
                commands::describe_image_stream(c, ns, &stream).await?
            }
            (_, Some(extra)) => {
                return Err(CliError::User(format!(
                    "unexpected argument {extra:?}: describe NAME, or describe is NAME"
                )));
            }
            (_, None) => commands::describe(c, ns, &name).await?,
        },
        Command::Tag {
            source,
            destinations,
            alias,
            scheduled,
            insecure,
            reference,
        } => {
            let options = commands::TagOptions {
                alias,
                scheduled,
                insecure,
                reference,
            };
            commands::tag(c, ns, &source, &destinations, options).await?
        }
        Command::ImportImage {
            name,
            from,
            confirm,
            scheduled,
            insecure,
        } => {
            let options = commands::TagOptions {
                scheduled,
                insecure,
                ..Default::default()
            };
            commands::import_image(c, ns, &name, from.as_deref(), confirm, options).await?
        }
        Command::Logs { name, version } => commands::logs(c, ns, &name, version).await?,
    };
    print!("{out}");
    Ok(())
}

/// `rollout …`: the verbs of `oc rollout`, and `plan`.
async fn run_rollout(c: &Client, ns: &str, rollout: Rollout) -> Result<String, CliError> {
    Ok(match rollout {
        Rollout::Latest { name } => commands::request(c, ns, &name, RequestKind::Latest).await?,
        Rollout::Cancel { name } => commands::request(c, ns, &name, RequestKind::Cancel).await?,
        Rollout::Retry { name } => commands::request(c, ns, &name, RequestKind::Retry).await?,
        Rollout::Pause { name } => commands::set_paused(c, ns, &name, true).await?,
        Rollout::Resume { name } => commands::set_paused(c, ns, &name, false).await?,
        Rollout::Undo {
            name,
            to_revision,
            dry_run,
            force_past_migration,
        } => commands::undo(c, ns, &name, to_revision, dry_run, force_past_migration).await?,
        Rollout::Plan {
            name,
            file,
            options,
        } => cutover::cli::plan::live(c, ns, &name, file.as_deref(), &options).await?,
        Rollout::History { name, revision } => commands::history(c, ns, &name, revision).await?,
        Rollout::Status {
            name,
            watch,
            timeout,
        } => commands::status(c, ns, &name, watch, timeout.map(Duration::from_secs)).await?,
    })
}

/// `route …`: weights, and the traffic shift.
async fn run_route(c: &Client, ns: &str, route: RouteCmd) -> Result<String, CliError> {
    Ok(match route {
        RouteCmd::SetWeights { route, weights } => {
            commands::route_set_weights(c, ns, &route, &weights).await?
        }
        RouteCmd::Switch { route, service } => {
            commands::route_switch(c, ns, &route, &service).await?
        }
        RouteCmd::Show { route } => commands::route_show(c, ns, &route).await?,
        RouteCmd::Shift(ShiftCmd::Status {
            route,
            watch,
            timeout,
        }) => {
            let timeout = timeout.map(Duration::from_secs);
            commands::shift_status(c, ns, &route, watch, timeout).await?
        }
        RouteCmd::Shift(ShiftCmd::Promote { route, full }) => {
            let verb = if full { "promote-full" } else { "promote" };
            commands::shift_request(c, ns, &route, verb).await?
        }
        RouteCmd::Shift(ShiftCmd::Pause { route }) => {
            commands::shift_request(c, ns, &route, "pause").await?
        }
        RouteCmd::Shift(ShiftCmd::Resume { route }) => {
            commands::shift_request(c, ns, &route, "resume").await?
        }
        RouteCmd::Shift(ShiftCmd::Abort { route }) => {
            commands::shift_request(c, ns, &route, "abort").await?
        }
    })
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
