//! The `cutover deploy` process (the binary's, next to `main.rs`): flags and environment, logging,
//! the client; `reconcile::deploy::run` is the loop it runs.

use kube::{Client, Config};

use cutover::api::keys;
use cutover::reconcile::deploy;
use cutover::strategy::Until;

/// `cutover deploy [--until=CONDITION]`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Stop once this is reached and exit 0: start, pre, mid, or a percentage (0%, N%, 100%).
    /// Anything else is ignored and the rollout runs to completion (as OpenShift's deployer).
    #[arg(long)]
    pub until: Option<String>,
    /// The revision (ReplicaSet `<dc>-<N>`) to deploy [default: $OPENSHIFT_DEPLOYMENT_NAME or
    /// $CUTOVER_DEPLOYMENT_NAME].
    #[arg(long)]
    pub deployment: Option<String>,
    /// Its namespace [default: $OPENSHIFT_DEPLOYMENT_NAMESPACE or $CUTOVER_DEPLOYMENT_NAMESPACE].
    #[arg(long)]
    pub namespace: Option<String>,
}

/// The first non-empty of a flag and environment variables.
fn flag_or_env(flag: Option<String>, vars: &[&str]) -> Option<String> {
    flag.into_iter()
        .chain(vars.iter().filter_map(|v| std::env::var(v).ok()))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

/// The `cutover deploy` process: reads its revision from the flags or the environment, connects
/// with the in-cluster ServiceAccount (or KUBECONFIG), and runs.
pub async fn main(args: DeployArgs) -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let Some(rc) = flag_or_env(args.deployment, &keys::ENV_DEPLOYMENT_NAME) else {
        eprintln!("error: --deployment or OPENSHIFT_DEPLOYMENT_NAME is required");
        return std::process::ExitCode::FAILURE;
    };
    let Some(namespace) = flag_or_env(args.namespace, &keys::ENV_DEPLOYMENT_NAMESPACE) else {
        eprintln!("error: --namespace or OPENSHIFT_DEPLOYMENT_NAMESPACE is required");
        return std::process::ExitCode::FAILURE;
    };
    let until = args.until.as_deref().and_then(|u| {
        let parsed = Until::parse(u);
        if parsed.is_none() {
            println!("--> Ignoring --until={u:?}: not a stop point; deploying to completion");
        }
        parsed
    });
    let client = match deployer_client().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot reach the Kubernetes API: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    std::process::ExitCode::from(deploy::run(client, &namespace, &rc, until).await)
}

/// The deployer's client, named `cutover-deployer` to the API server.
async fn deployer_client() -> Result<Client, kube::Error> {
    let mut config = Config::infer().await.map_err(kube::Error::InferConfig)?;
    cutover::transport::identify(&mut config, "cutover-deployer");
    Client::try_from(config)
}
