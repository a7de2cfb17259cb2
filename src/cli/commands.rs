//! The verbs of `kubectl dc`, which talk to the cluster. Each returns the text to print (whole
//! lines, or nothing); `rollout status` and `logs` also print as they go.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, Resource, ResourceExt};

use super::{CliError, format, view};
use crate::api::conditions::{RolloutState, rollout_state};
use crate::api::requests::{ACCEPTED, RequestKind};
use crate::api::{DeploymentConfig, RequestStatus, keys};
use crate::strategy::Revision;

mod images;
mod route;
pub use images::{TagOptions, describe_image_stream, get_stream, import_image, tag};
pub use route::{
    get_route, route_set_weights, route_show, route_switch, shift_request, shift_status,
};

/// The field manager of the plugin's request annotations.
const FIELD_MANAGER: &str = "kubectl-dc";
/// How long a request waits for the operator to record its outcome.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client from the kubeconfig (`path`, or the default one) and its `context`, and the
/// namespace to work in (`namespace`, or the context's).
pub async fn connect(
    context: Option<String>,
    path: Option<&Path>,
    namespace: Option<String>,
) -> Result<(Client, String), CliError> {
    let options = KubeConfigOptions {
        context,
        ..Default::default()
    };
    let config = match path {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| CliError::User(format!("cannot read {}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| CliError::User(format!("cannot load the kubeconfig: {e}")))?;
    let namespace = namespace.unwrap_or_else(|| config.default_namespace.clone());
    let mut config = config;
    crate::transport::identify(&mut config, FIELD_MANAGER);
    let client = Client::try_from(config).map_err(CliError::Kube)?;
    Ok((client, namespace))
}

/// A DeploymentConfig, or the error kubectl would print for a missing one.
pub async fn get_dc(client: &Client, ns: &str, name: &str) -> Result<DeploymentConfig, CliError> {
    Api::<DeploymentConfig>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?
        .ok_or_else(|| CliError::User(format::not_found::<DeploymentConfig>(name)))
}

/// The revisions of `dc` as the operator observes them (ReplicaSets it controls and labels),
/// oldest first.
pub async fn revisions(client: &Client, dc: &DeploymentConfig) -> Result<Vec<Revision>, CliError> {
    let ns = dc.namespace().unwrap_or_default();
    let selector = format!("{}={}", keys::CONFIG_LABEL, dc.name_any());
    let list = Api::<ReplicaSet>::namespaced(client.clone(), &ns)
        .list(&ListParams::default().labels(&selector))
        .await?;
    Ok(view::observed_revisions(dc, &list.items))
}

/// The DeploymentConfig's events, oldest first, as (type, reason, note).
pub async fn events(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<Vec<(String, String, String)>, CliError> {
    let fields = format!(
        "regarding.kind={},regarding.name={name}",
        DeploymentConfig::kind(&())
    );
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

/// `rollout status`: prints progress until the rollout ends; an error when it failed.
pub async fn status(
    client: &Client,
    ns: &str,
    name: &str,
    watch: bool,
    timeout: Option<Duration>,
) -> Result<String, CliError> {
    let api: Api<DeploymentConfig> = Api::namespaced(client.clone(), ns);
    let dc = get_dc(client, ns, name).await?;
    let mut last = String::new();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let report = |dc: &DeploymentConfig| -> Option<Result<String, CliError>> {
        let end = |r: Result<String, CliError>| {
            if tty && !last.is_empty() {
                println!();
            }
            Some(r.map(|m| if m.is_empty() { m } else { format!("{m}\n") }))
        };
        match rollout_state(dc) {
            RolloutState::Done(m) => end(Ok(m)),
            RolloutState::Failed(m) => end(Err(CliError::RolloutFailed(m))),
            RolloutState::Waiting(m) => {
                if m != last {
                    print!("{}", format::status_update(dc, &m, tty));
                    let _ = std::io::stdout().flush();
                    last = m;
                }
                None
            }
        }
    };
    follow(api, name, &dc, report, watch, timeout, "the rollout").await
}

/// Reports `first`, then (with `watch`) each change of the object, until `report` has an
/// answer; gives up after `timeout` waiting for `what`.
pub(crate) async fn follow<K>(
    api: Api<K>,
    name: &str,
    first: &K,
    mut report: impl FnMut(&K) -> Option<Result<String, CliError>>,
    watch: bool,
    timeout: Option<Duration>,
    what: &str,
) -> Result<String, CliError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    if let Some(end) = report(first) {
        return end;
    }
    if !watch {
        return Ok(String::new());
    }
    let wait = watch_until(api, name, report);
    match timeout {
        Some(t) => tokio::time::timeout(t, wait).await.unwrap_or_else(|_| {
            Err(CliError::RolloutFailed(format!(
                "timed out after {t:?} waiting for {what}"
            )))
        }),
        None => wait.await,
    }
}

/// Watches one object until `decide` has an answer for it.
pub(crate) async fn watch_until<K, T>(
    api: Api<K>,
    name: &str,
    mut decide: impl FnMut(&K) -> Option<Result<T, CliError>>,
) -> Result<T, CliError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(api, config).applied_objects());
    while let Some(dc) = stream
        .try_next()
        .await
        .map_err(|e| CliError::User(e.to_string()))?
    {
        if let Some(answer) = decide(&dc) {
            return answer;
        }
    }
    Err(CliError::User("the watch ended".into()))
}

/// `rollout latest`, `cancel`, `retry`: the request, and the operator's answer.
pub async fn request(
    client: &Client,
    ns: &str,
    name: &str,
    kind: RequestKind,
) -> Result<String, CliError> {
    Ok(format!("{}\n", send(client, ns, name, kind, &[]).await?))
}

/// Sends a request through the DeploymentConfig's request annotation (the same mechanism a
/// GitOps repository uses) and waits for the operator to record its outcome, its message.
async fn send(
    client: &Client,
    ns: &str,
    name: &str,
    kind: RequestKind,
    extra: &[(&str, String)],
) -> Result<String, CliError> {
    get_dc(client, ns, name).await?;
    let api: Api<DeploymentConfig> = Api::namespaced(client.clone(), ns);
    let key = kind.annotation();
    send_request(api, name, kind.as_str(), &key, extra, |dc| {
        Some(&dc.status.as_ref()?.requests)
    })
    .await
}

/// Writes a new token into the request annotation `key` of object `name` (with `extra`
/// annotations) and waits until the operator records the request `kind` with that token in
/// `handled(object)`: its message, or the refusal as an error.
pub(crate) async fn send_request<K>(
    api: Api<K>,
    name: &str,
    kind: &str,
    key: &str,
    extra: &[(&str, String)],
    handled: fn(&K) -> Option<&Vec<RequestStatus>>,
) -> Result<String, CliError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let token = jiff::Timestamp::now().to_string();
    let mut annotations = serde_json::Map::new();
    annotations.insert(key.into(), token.clone().into());
    for (k, v) in extra {
        annotations.insert((*k).into(), v.clone().into());
    }
    let patch = serde_json::json!({"metadata": {"annotations": annotations}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    let wait = watch_until(api, name, |object| {
        let r = handled(object)?
            .iter()
            .find(|r| r.kind == kind && r.token == token)?;
        Some(if r.outcome == ACCEPTED {
            Ok(r.message.clone())
        } else {
            Err(CliError::User(r.message.clone()))
        })
    });
    tokio::time::timeout(REQUEST_TIMEOUT, wait).await.unwrap_or_else(|_| {
        Err(CliError::User(format!(
            "the request was not handled within {}s: is the cutover operator running? (annotation {key} = {token})",
            REQUEST_TIMEOUT.as_secs(),
        )))
    })
}

/// `rollout undo`: a rollback request; with `dry_run`, the template it would go back to, chosen
/// as the operator chooses it.
pub async fn undo(
    client: &Client,
    ns: &str,
    name: &str,
    to: i64,
    dry_run: bool,
    force_past_migration: bool,
) -> Result<String, CliError> {
    if dry_run {
        let dc = get_dc(client, ns, name).await?;
        let revisions = revisions(client, &dc).await?;
        return format::format_template(view::undo_target(&dc, &revisions, to)?);
    }
    let extra = crate::api::requests::rollback_parameters(to, force_past_migration, false);
    let message = send(client, ns, name, RequestKind::Rollback, &extra).await?;
    let dc = get_dc(client, ns, name).await?;
    Ok(format!(
        "{message}\n{}",
        format::disabled_triggers_warning(&dc)
    ))
}

/// `set triggers`: the table of triggers, or (`auto`: Some) all made automatic or manual, as
/// `oc set triggers --auto|--manual` does.
pub async fn set_triggers(
    client: &Client,
    ns: &str,
    name: &str,
    auto: Option<bool>,
) -> Result<String, CliError> {
    let dc = get_dc(client, ns, name).await?;
    let Some(auto) = auto else {
        return Ok(format::format_triggers(&dc));
    };
    let triggers = view::reset_triggers(&dc, auto);
    // The whole list, guarded by the version it was computed from.
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": dc.resource_version()},
        "spec": {"triggers": triggers},
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let api: Api<DeploymentConfig> = Api::namespaced(client.clone(), ns);
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(format::triggers_updated(name))
}

/// `rollout pause` / `rollout resume`: spec.paused, with oc's refusals.
pub async fn set_paused(
    client: &Client,
    ns: &str,
    name: &str,
    paused: bool,
) -> Result<String, CliError> {
    let api: Api<DeploymentConfig> = Api::namespaced(client.clone(), ns);
    let dc = get_dc(client, ns, name).await?;
    if dc.spec.paused == paused {
        return Err(CliError::User(format::pause_refusal(name, paused)));
    }
    let patch = serde_json::json!({"spec": {"paused": paused}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(format::pause_done(name, paused))
}

/// `rollout history`: the revisions, or the pod template of one.
pub async fn history(
    client: &Client,
    ns: &str,
    name: &str,
    revision: Option<i64>,
) -> Result<String, CliError> {
    let dc = get_dc(client, ns, name).await?;
    let revisions = revisions(client, &dc).await?;
    let Some(v) = revision else {
        return Ok(format::format_history(name, &revisions));
    };
    let rev = revisions
        .iter()
        .find(|r| r.version == v)
        .ok_or_else(|| CliError::User(format!("unable to find the specified revision {v}")))?;
    format::format_template(rev)
}

/// `describe`: the DeploymentConfig, its revisions, conditions and events.
pub async fn describe(client: &Client, ns: &str, name: &str) -> Result<String, CliError> {
    let dc = get_dc(client, ns, name).await?;
    let revisions = revisions(client, &dc).await?;
    let events = events(client, ns, name).await?;
    Ok(format::format_describe(&dc, &revisions, &events))
}

/// `logs`: prints the log of each hook and deployer pod of a revision (default: the latest) as
/// it is read; returns the revision's events.
pub async fn logs(
    client: &Client,
    ns: &str,
    name: &str,
    version: Option<i64>,
) -> Result<String, CliError> {
    let dc = get_dc(client, ns, name).await?;
    let version = version.unwrap_or_else(|| dc.status.as_ref().map_or(0, |s| s.latest_version));
    if version <= 0 {
        return Err(CliError::User(format!(
            "no deployment exists for deploymentConfig {name:?}"
        )));
    }
    let rc = keys::revision_name(name, version);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let selector = format!("{}={rc}", keys::DEPLOYER_POD_FOR_LABEL);
    let mut hook_pods = pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    hook_pods.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
    for pod in &hook_pods {
        print!("{}", format::log_heading(pod));
        match pods.logs(&pod.name_any(), &LogParams::default()).await {
            Ok(text) => print!("{text}"),
            Err(e) => print!("{}", format::no_logs(&e)),
        }
    }
    Ok(format::revision_events(
        &rc,
        &events(client, ns, name).await?,
    ))
}
