//! The `kubectl dc` plugin: `oc rollout`'s verbs for cutover's DeploymentConfigs. The output
//! is made by pure functions (tested against golden text); the commands only fetch.

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::api::conditions::{RolloutState, rollout_state};
use crate::api::{DeploymentConfig, keys};
use crate::strategy::{HookPoint, Revision};

/// A plugin failure: one clear sentence for the user, and the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    User(String),
    #[error("{}", kube_message(.0))]
    Kube(#[from] kube::Error),
    /// The rollout ended without success (for `status`: exit 1, usable as a CI gate).
    #[error("{0}")]
    RolloutFailed(String),
}

/// The API server's own sentence for a refused call, not the whole debug dump.
fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// A progress bar of `done` out of `total`, for a terminal.
pub fn progress_bar(done: i32, total: i32) -> String {
    const WIDTH: i32 = 20;
    let filled = if total > 0 {
        (done.clamp(0, total) * WIDTH) / total
    } else {
        WIDTH
    };
    format!(
        "[{}{}]",
        "#".repeat(filled as usize),
        "-".repeat((WIDTH - filled) as usize)
    )
}

/// A DeploymentConfig, or the error kubectl would print for a missing one.
pub async fn get_dc(client: &Client, ns: &str, name: &str) -> Result<DeploymentConfig, CliError> {
    Api::<DeploymentConfig>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?
        .ok_or_else(|| {
            CliError::User(format!(
                "deploymentconfigs.apps.openshift.io {name:?} not found"
            ))
        })
}

/// A Route, or the error kubectl would print for a missing one.
pub async fn get_route(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<crate::api::route::Route, CliError> {
    Api::<crate::api::route::Route>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?
        .ok_or_else(|| CliError::User(format!("routes.route.openshift.io {name:?} not found")))
}

/// Revisions of a DeploymentConfig, oldest first.
pub async fn revisions(client: &Client, ns: &str, name: &str) -> Result<Vec<Revision>, CliError> {
    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let selector = format!("{}={name}", keys::CONFIG_LABEL);
    let list = rs.list(&ListParams::default().labels(&selector)).await?;
    let mut revs: Vec<Revision> = list
        .items
        .iter()
        .filter_map(|r| Revision::from_replica_set(r, 0))
        .collect();
    revs.sort_by_key(|r| r.version);
    Ok(revs)
}

/// `rollout history`: REVISION STATUS CAUSE, as `oc rollout history` prints it.
pub fn format_history(name: &str, revisions: &[Revision]) -> String {
    if revisions.is_empty() {
        return format!("No rollout history found for deploymentconfig {name:?}\n");
    }
    let rows: Vec<[String; 3]> = revisions
        .iter()
        .map(|r| {
            let cause = r
                .annotations
                .get(keys::CHANGE_CAUSE_ANNOTATION)
                .or(r.status_reason.as_ref())
                .cloned()
                .unwrap_or_else(|| "<unknown>".into());
            [r.version.to_string(), r.phase.as_str().to_string(), cause]
        })
        .collect();
    let w0 = rows
        .iter()
        .map(|r| r[0].len())
        .max()
        .unwrap_or(0)
        .max("REVISION".len());
    let w1 = rows
        .iter()
        .map(|r| r[1].len())
        .max()
        .unwrap_or(0)
        .max("STATUS".len());
    let mut out = format!(
        "deploymentconfigs {name:?}\n{:<w0$}  {:<w1$}  CAUSE\n",
        "REVISION", "STATUS"
    );
    for [v, s, c] in rows {
        out.push_str(&format!("{v:<w0$}  {s:<w1$}  {c}\n"));
    }
    out
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
    let mut report = |dc: &DeploymentConfig| -> Option<Result<String, CliError>> {
        let s = dc.status.clone().unwrap_or_default();
        let progress = (
            s.available_replicas.min(s.updated_replicas),
            dc.spec.replicas,
        );
        let end = |r: Result<String, CliError>| {
            if tty && !last.is_empty() {
                println!();
            }
            Some(r)
        };
        match rollout_state(dc) {
            RolloutState::Done(m) => end(Ok(m)),
            RolloutState::Failed(m) => end(Err(CliError::RolloutFailed(m))),
            RolloutState::Waiting(m) => {
                if m != last {
                    // A bar redrawn in place on a terminal; plain lines for logs and CI.
                    if tty {
                        print!("\r{} {m}\x1b[K", progress_bar(progress.0, progress.1));
                        let _ = std::io::Write::flush(&mut std::io::stdout());
                    } else {
                        println!("{m}");
                    }
                    last = m;
                }
                None
            }
        }
    };
    if let Some(end) = report(&dc) {
        return end;
    }
    if !watch {
        return Ok(String::new());
    }
    let wait = watch_until(api, name, report);
    match timeout {
        Some(t) => tokio::time::timeout(t, wait).await.unwrap_or_else(|_| {
            Err(CliError::RolloutFailed(format!(
                "timed out after {t:?} waiting for the rollout"
            )))
        }),
        None => wait.await,
    }
}

/// Watches one DeploymentConfig until `decide` has an answer for it.
async fn watch_until<T>(
    api: Api<DeploymentConfig>,
    name: &str,
    mut decide: impl FnMut(&DeploymentConfig) -> Option<Result<T, CliError>>,
) -> Result<T, CliError> {
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

/// Sends a request through the DeploymentConfig's request annotation (the same mechanism a
/// GitOps repository uses) and waits for the operator to record its outcome.
pub async fn request(
    client: &Client,
    ns: &str,
    name: &str,
    kind: crate::api::requests::RequestKind,
    extra: &[(&str, String)],
) -> Result<String, CliError> {
    use kube::api::{Patch, PatchParams};
    let api: Api<DeploymentConfig> = Api::namespaced(client.clone(), ns);
    get_dc(client, ns, name).await?;
    let token = jiff::Timestamp::now().to_string();
    let mut annotations = serde_json::Map::new();
    annotations.insert(kind.annotation(), token.clone().into());
    for (k, v) in extra {
        annotations.insert((*k).into(), v.clone().into());
    }
    let patch = serde_json::json!({"metadata": {"annotations": annotations}});
    let params = PatchParams {
        field_manager: Some("kubectl-dc".into()),
        ..Default::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    let wait = watch_until(api, name, |dc| {
        let r = dc
            .status
            .as_ref()?
            .requests
            .iter()
            .find(|r| r.kind == kind.as_str() && r.token == token)?;
        Some(if r.outcome == crate::api::requests::ACCEPTED {
            Ok(r.message.clone())
        } else {
            Err(CliError::User(r.message.clone()))
        })
    });
    tokio::time::timeout(Duration::from_secs(30), wait).await.unwrap_or_else(|_| {
        Err(CliError::User(format!(
            "the request was not handled within 30s: is the cutover operator running? (annotation {} = {token})",
            kind.annotation()
        )))
    })
}

/// `rollout pause` / `rollout resume`: spec.paused, with oc's refusals.
pub async fn set_paused(
    client: &Client,
    ns: &str,
    name: &str,
    paused: bool,
) -> Result<String, CliError> {
    use kube::api::{Patch, PatchParams};
    let api: Api<DeploymentConfig> = Api::namespaced(client.clone(), ns);
    let dc = get_dc(client, ns, name).await?;
    if dc.spec.paused == paused {
        let state = if paused {
            "is already paused"
        } else {
            "is not paused"
        };
        return Err(CliError::User(format!(
            "deploymentconfigs.apps.openshift.io {name:?} {state}"
        )));
    }
    let patch = serde_json::json!({"spec": {"paused": paused}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(format!(
        "deploymentconfig.apps.openshift.io/{name} {}",
        if paused { "paused" } else { "resumed" }
    ))
}

/// The pod template a revision recorded, as YAML (`history --revision N`, `undo --dry-run`).
pub fn format_template(rev: &Revision) -> Result<String, CliError> {
    let template = rev.template().ok_or_else(|| {
        CliError::User(format!("revision {} records no pod template", rev.version))
    })?;
    let yaml = serde_saphyr::to_string(template).map_err(|e| CliError::User(e.to_string()))?;
    Ok(format!(
        "deploymentconfigs with revision #{}\nPod Template:\n{}",
        rev.version,
        indent(&yaml, 2)
    ))
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// `describe`: the DeploymentConfig, its revisions with their hooks, conditions and events.
pub fn format_describe(
    dc: &DeploymentConfig,
    revisions: &[Revision],
    events: &[(String, String, String)],
) -> String {
    use std::fmt::Write;
    let status = dc.status.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t\t{}", dc.name_any());
    let _ = writeln!(out, "Namespace:\t{}", dc.namespace().unwrap_or_default());
    let _ = writeln!(out, "Latest Version:\t{}", status.latest_version);
    let _ = writeln!(
        out,
        "Selector:\t{}",
        status.selector.clone().unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "Replicas:\t{} desired, {} current, {} available",
        dc.spec.replicas, status.replicas, status.available_replicas
    );
    let _ = writeln!(
        out,
        "Triggers:\t{}",
        status
            .triggered_by
            .clone()
            .unwrap_or_else(|| "<none>".into())
    );
    let strategy = dc
        .spec
        .strategy
        .type_
        .clone()
        .unwrap_or_else(|| "Rolling".into());
    let _ = writeln!(
        out,
        "Strategy:\t{strategy}{}",
        if dc.spec.paused { " (paused)" } else { "" }
    );
    let images: Vec<String> = dc
        .spec
        .template
        .containers()
        .iter()
        .map(|c| format!("{}={}", c.name, c.image))
        .collect();
    let _ = writeln!(out, "Images:\t\t{}", images.join(", "));
    let _ = writeln!(out, "\nRevisions:");
    let _ = writeln!(
        out,
        "  REVISION  PHASE     REPLICAS  HOOKS                          CAUSE"
    );
    for r in revisions {
        let hooks: Vec<String> = [HookPoint::Pre, HookPoint::Mid, HookPoint::Post]
            .iter()
            .filter_map(|p| {
                r.annotations
                    .get(&p.outcome_annotation())
                    .map(|o| format!("{}={o}", p.as_str()))
            })
            .collect();
        let hooks = if hooks.is_empty() {
            "-".to_string()
        } else {
            hooks.join(",")
        };
        let cause = r
            .status_reason
            .clone()
            .unwrap_or_else(|| "<unknown>".into());
        let _ = writeln!(
            out,
            "  {:<8}  {:<8}  {:>3}/{:<4}  {:<29}  {cause}",
            r.version,
            r.phase.as_str(),
            r.replicas,
            r.spec_replicas,
            hooks
        );
    }
    let _ = writeln!(out, "\nConditions:");
    let _ = writeln!(out, "  TYPE                        STATUS   REASON");
    for c in &status.conditions {
        let _ = writeln!(
            out,
            "  {:<26}  {:<7}  {}",
            c.type_,
            c.status,
            if c.reason.is_empty() { "-" } else { &c.reason }
        );
    }
    let _ = writeln!(out, "\nEvents:");
    if events.is_empty() {
        let _ = writeln!(out, "  <none>");
    }
    for (type_, reason, note) in events {
        let _ = writeln!(out, "  {type_:<8} {reason:<28} {note}");
    }
    out
}

/// `route show`: each backend, its weight and its share of requests.
pub fn format_route(route: &crate::api::route::Route) -> String {
    let weights: Vec<(String, i32, bool)> = crate::route::backends(route)
        .iter()
        .map(|b| (b.name.clone(), b.effective_weight(), true))
        .collect();
    let mut out = format!(
        "route {:?} ({})\nSERVICE                 WEIGHT  SHARE\n",
        route.name_any(),
        route.spec.host.as_deref().unwrap_or("any host")
    );
    for s in crate::route::shares(&weights) {
        out.push_str(&format!(
            "{:<22}  {:>6}  {:>5}%\n",
            s.name, s.weight, s.percent
        ));
    }
    if let Some(c) = route
        .status
        .as_ref()
        .and_then(|s| s.ingress.first())
        .and_then(|i| i.conditions.first())
    {
        let why = if c.message.is_empty() {
            String::new()
        } else {
            format!(": {}", c.message)
        };
        out.push_str(&format!(
            "Admitted: {}{}{why}\n",
            c.status,
            if c.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.reason)
            }
        ));
    }
    out
}

/// The weights a `route set-weights` or `route switch` leaves: (service, weight) for each of the
/// Route's backends, in order; an unknown service is an error (a Route's backends are not
/// added or removed here).
pub fn new_weights(
    route: &crate::api::route::Route,
    set: &[(String, i32)],
) -> Result<Vec<(String, i32)>, CliError> {
    let names: Vec<String> = crate::route::backends(route)
        .iter()
        .map(|b| b.name.clone())
        .collect();
    for (name, weight) in set {
        if !names.contains(name) {
            return Err(CliError::User(format!(
                "service {name:?} is not a backend of route {:?} (backends: {})",
                route.name_any(),
                names.join(", ")
            )));
        }
        if !(0..=256).contains(weight) {
            return Err(CliError::User(format!(
                "weight {weight} for {name:?} is not between 0 and 256"
            )));
        }
    }
    Ok(crate::route::backends(route)
        .iter()
        .map(|b| {
            let w = set
                .iter()
                .find(|(n, _)| n == &b.name)
                .map_or(b.effective_weight(), |(_, w)| *w);
            (b.name.clone(), w)
        })
        .collect())
}

/// Writes new backend weights to a Route.
pub async fn set_route_weights(
    client: &Client,
    ns: &str,
    name: &str,
    set: &[(String, i32)],
) -> Result<String, CliError> {
    use kube::api::{Patch, PatchParams};
    let api: Api<crate::api::route::Route> = Api::namespaced(client.clone(), ns);
    let route = get_route(client, ns, name).await?;
    let weights = new_weights(&route, set)?;
    let mut to = route.spec.to.clone();
    to.weight = Some(weights[0].1);
    let alternates: Vec<_> = route
        .spec
        .alternate_backends
        .clone()
        .unwrap_or_default()
        .into_iter()
        .zip(weights.iter().skip(1))
        .map(|(mut b, (_, w))| {
            b.weight = Some(*w);
            b
        })
        .collect();
    let mut spec = serde_json::json!({"to": to});
    if !alternates.is_empty() {
        spec["alternateBackends"] = serde_json::json!(alternates);
    }
    let updated = api
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": spec})),
        )
        .await?;
    Ok(format_route(&updated))
}
