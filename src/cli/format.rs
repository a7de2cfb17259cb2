//! What `kubectl dc` prints: pure functions from data to text, no client. Golden-tested in
//! `tests/cli_output.rs` (stable, readable text: what users paste into tickets and CI logs).

use std::fmt::Write;

use k8s_openapi::api::core::v1::Pod;
use kube::{Resource, ResourceExt};

use super::CliError;
use crate::api::route::Route;
use crate::api::{DeploymentConfig, STRATEGY_ROLLING, keys};
use crate::strategy::{HookPoint, Revision};

/// A resource's name as kubectl qualifies it: `deploymentconfigs.apps.openshift.io`.
pub fn resource_name<K: Resource<DynamicType = ()>>() -> String {
    format!("{}.{}", K::plural(&()), K::group(&()))
}

/// An object as kubectl names it in its messages: `deploymentconfig.apps.openshift.io/web`.
pub fn object_name<K: Resource<DynamicType = ()>>(name: &str) -> String {
    format!("{}.{}/{name}", K::kind(&()).to_lowercase(), K::group(&()))
}

/// The error kubectl prints for a missing object.
pub fn not_found<K: Resource<DynamicType = ()>>(name: &str) -> String {
    format!("{} {name:?} not found", resource_name::<K>())
}

/// `rollout pause` / `rollout resume`: oc's refusal when there is nothing to change.
pub fn pause_refusal(name: &str, paused: bool) -> String {
    let state = if paused {
        "is already paused"
    } else {
        "is not paused"
    };
    format!("{} {name:?} {state}", resource_name::<DeploymentConfig>())
}

/// `rollout pause` / `rollout resume`: what was done, `deploymentconfig.apps.openshift.io/web
/// paused`.
pub fn pause_done(name: &str, paused: bool) -> String {
    let done = if paused { "paused" } else { "resumed" };
    format!("{} {done}\n", object_name::<DeploymentConfig>(name))
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

/// `rollout status`: the text for a new progress message. On a terminal, a bar redrawn in place
/// (no newline); otherwise a plain line, for logs and CI.
pub fn status_update(dc: &DeploymentConfig, message: &str, tty: bool) -> String {
    if !tty {
        return format!("{message}\n");
    }
    let s = dc.status.clone().unwrap_or_default();
    let done = s.available_replicas.min(s.updated_replicas);
    format!("\r{} {message}\x1b[K", progress_bar(done, dc.spec.replicas))
}

/// `rollout history`: REVISION STATUS CAUSE, as `oc rollout history` prints it.
pub fn format_history(name: &str, revisions: &[Revision]) -> String {
    if revisions.is_empty() {
        return format!("No rollout history found for deploymentconfig {name:?}\n");
    }
    let mut rows = vec![["REVISION", "STATUS", "CAUSE", "IMAGES"].map(String::from)];
    rows.extend(revisions.iter().map(|r| {
        let cause = r
            .annotations
            .get(keys::CHANGE_CAUSE_ANNOTATION)
            .or(r.status_reason.as_ref())
            .cloned()
            .unwrap_or_else(|| "<unknown>".into());
        // The images the revision ran: its containers' (init containers are not listed).
        let images = r.template().map_or(String::new(), |t| {
            let template = crate::api::PodTemplate(t.clone());
            let images: Vec<&str> = template
                .containers()
                .into_iter()
                .filter(|c| !c.init)
                .map(|c| c.image)
                .collect();
            images.join(",")
        });
        [
            r.version.to_string(),
            r.phase.as_str().to_string(),
            cause,
            images,
        ]
    }));
    format!("deploymentconfigs {name:?}\n{}", table(&rows))
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
    let status = dc.status.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "Name:\t\t{}", dc.name_any());
    let _ = writeln!(out, "Namespace:\t{}", dc.namespace().unwrap_or_default());
    let _ = writeln!(out, "Latest Version:\t{}", status.latest_version);
    let selector = status.selector.clone().unwrap_or_default();
    let _ = writeln!(out, "Selector:\t{selector}");
    let _ = writeln!(
        out,
        "Replicas:\t{} desired, {} current, {} available",
        dc.spec.replicas, status.replicas, status.available_replicas
    );
    let triggers = status.triggered_by.as_deref().unwrap_or("<none>");
    let _ = writeln!(out, "Triggers:\t{triggers}");
    let strategy = dc
        .spec
        .strategy
        .type_
        .as_deref()
        .unwrap_or(STRATEGY_ROLLING);
    let paused = if dc.spec.paused { " (paused)" } else { "" };
    let _ = writeln!(out, "Strategy:\t{strategy}{paused}");
    let images: Vec<String> = dc
        .spec
        .template
        .containers()
        .iter()
        .map(|c| format!("{}={}", c.name, c.image))
        .collect();
    let _ = writeln!(out, "Images:\t\t{}", images.join(", "));
    out.push_str(&describe_revisions(revisions));
    let _ = writeln!(out, "\nConditions:");
    let _ = writeln!(out, "  TYPE                        STATUS   REASON");
    for c in &status.conditions {
        let reason = if c.reason.is_empty() { "-" } else { &c.reason };
        let _ = writeln!(out, "  {:<26}  {:<7}  {reason}", c.type_, c.status);
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

/// `describe`'s table of revisions, with the outcome of each hook that ran.
fn describe_revisions(revisions: &[Revision]) -> String {
    let mut out = String::new();
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
        let cause = r.status_reason.as_deref().unwrap_or("<unknown>");
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
    out
}

/// `route show`: each backend, its weight and its share of requests.
pub fn format_route(route: &Route) -> String {
    let weights: Vec<(String, i32, bool)> = crate::route::backends(route)
        .iter()
        .map(|b| (b.name.clone(), b.effective_weight(), true))
        .collect();
    let ingress = route.status.as_ref().and_then(|s| s.ingress.first());
    let host = route
        .spec
        .host
        .as_deref()
        .filter(|h| !h.is_empty())
        .or_else(|| ingress.and_then(|i| i.host.as_deref()))
        .unwrap_or("no host");
    let mut out = format!(
        "route {:?} ({host})\nSERVICE                 WEIGHT  SHARE\n",
        route.name_any()
    );
    for s in crate::route::shares(&weights) {
        let _ = writeln!(out, "{:<22}  {:>6}  {:>5}%", s.name, s.weight, s.percent);
    }
    for c in ingress.iter().flat_map(|i| &i.conditions) {
        let reason = if c.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.reason)
        };
        let why = if c.message.is_empty() {
            String::new()
        } else {
            format!(": {}", c.message)
        };
        let _ = writeln!(out, "{}: {}{reason}{why}", c.type_, c.status);
    }
    out
}

/// `logs`: the heading of a hook or deployer pod's log.
pub fn log_heading(pod: &Pod) -> String {
    let kind = pod
        .labels()
        .get(keys::DEPLOYER_POD_TYPE_LABEL)
        .map_or("deployer", String::as_str); // a deployer Job's pod has no type
    format!("--> {kind}: pod/{}\n", pod.name_any())
}

/// `logs`: in place of a pod's log that could not be read.
pub fn no_logs(error: &impl std::fmt::Display) -> String {
    format!("    (no logs: {error})\n")
}

/// `logs`: the DeploymentConfig's events (type, reason, note) that name revision `rc`.
pub fn revision_events(rc: &str, events: &[(String, String, String)]) -> String {
    let mut out = format!("--> events of {rc}:\n");
    for (type_, reason, note) in events.iter().filter(|e| e.2.contains(rc)) {
        let _ = writeln!(out, "    {type_:<8} {reason:<28} {note}");
    }
    out
}

/// `set triggers` without a flag: oc's table, `NAME TYPE VALUE AUTO`.
pub fn format_triggers(dc: &DeploymentConfig) -> String {
    let name = format!("{}/{}", DeploymentConfig::plural(&()), dc.name_any());
    let own = dc.namespace().unwrap_or_default();
    let mut rows = vec![[
        "NAME".to_string(),
        "TYPE".into(),
        "VALUE".into(),
        "AUTO".into(),
    ]];
    let config = dc.spec.has_trigger(crate::api::TRIGGER_CONFIG_CHANGE);
    rows.push([
        name.clone(),
        "config".into(),
        String::new(),
        config.to_string(),
    ]);
    for p in dc.spec.image_change_params() {
        let from = p.from.name.clone().unwrap_or_default();
        let from = match p.from.namespace.as_deref() {
            Some(ns) if !ns.is_empty() && ns != own => format!("{ns}/{from}"),
            _ => from,
        };
        let value = if p.container_names.is_empty() {
            from
        } else {
            format!("{from} ({})", p.container_names.join(", "))
        };
        rows.push([name.clone(), "image".into(), value, p.automatic.to_string()]);
    }
    table(&rows)
}

/// Columns padded to their widest cell, two spaces apart.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < N {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `set triggers --auto|--manual`: `deploymentconfig.apps.openshift.io/web triggers updated`.
pub fn triggers_updated(name: &str) -> String {
    format!(
        "{} triggers updated\n",
        object_name::<DeploymentConfig>(name)
    )
}

/// After `rollout undo`: oc's warning for each ImageChange trigger the rollback left manual, so
/// nobody wonders why a push no longer rolls out.
pub fn disabled_triggers_warning(dc: &DeploymentConfig) -> String {
    let mut out = String::new();
    for p in dc.spec.image_change_params() {
        if !p.automatic {
            let _ = write!(
                out,
                "\nWarning: the following images triggers were disabled: {}\n  You can re-enable them with: kubectl dc set triggers {} --auto\n",
                p.from.name.as_deref().unwrap_or_default(),
                dc.name_any()
            );
        }
    }
    out
}
