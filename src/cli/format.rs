//! What `kubectl dc` prints: pure functions from data to text, no client. Golden-tested in
//! `tests/cli_output.rs` (stable, readable text: what users paste into tickets and CI logs).
//! A DeploymentConfig's output is here; a Route's and an ImageStream's in `route` and `images`,
//! as their commands are in `commands::route` and `commands::images`.

use std::fmt::Write;

use k8s_openapi::api::core::v1::Pod;
use kube::{Resource, ResourceExt};

mod images;
mod route;

pub use images::format_image_stream;
pub use route::{format_route, shift_progress};

use super::CliError;
use crate::api::hooks::HookPoint;
use crate::api::{DeploymentConfig, STRATEGY_ROLLING, keys};
use crate::sim::plan::RolloutPlan;
use crate::strategy::Revision;

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
        let hooks: Vec<String> = HookPoint::ALL
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
fn table<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.as_ref().get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.as_ref().iter().enumerate() {
            if i + 1 < columns {
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

/// `rollout plan` and `cutover plan`: the planned rollout as a table, one row per second in
/// which the operator acts (each action on its own line), and how it ends.
pub fn format_plan(plan: &RolloutPlan) -> String {
    let mut out = String::new();
    let change = match (&plan.from, &plan.to) {
        (Some(from), Some(to)) => format!(", {from} → {to}"),
        (None, Some(to)) => format!(", first rollout: {to}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "Plan for deploymentconfig {}: {}, {} replicas{change}",
        plan.deployment_config, plan.strategy, plan.replicas
    );
    if let Some(b) = plan.bounds {
        let _ = writeln!(
            out,
            "Bounds: at least {} pods available, at most {} pods",
            b.min_available, b.max_pods
        );
    }
    let a = plan.assumptions;
    let unready = match a.unready {
        0 => "every new pod becomes ready".to_string(),
        n => format!("{n} new pod(s) never become ready"),
    };
    let _ = writeln!(
        out,
        "Assuming pods are ready {}s after they start, hooks succeed after {}s, {unready}\n",
        a.ready_after_seconds, a.hook_seconds
    );
    let revisions: Vec<&String> =
        plan.steps
            .iter()
            .flat_map(|s| s.replicas.keys())
            .fold(Vec::new(), |mut seen, name| {
                if !seen.contains(&name) {
                    seen.push(name);
                }
                seen
            });
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["TIME".to_string()];
    header.extend(revisions.iter().map(|r| r.to_string()));
    header.extend(["PODS", "AVAILABLE", "STEP"].map(String::from));
    rows.push(header);
    for step in &plan.steps {
        let mut lines: Vec<String> = step.actions.clone();
        lines.extend(step.waits_for.iter().map(|w| format!("… waits for {w}")));
        for (i, line) in lines.into_iter().enumerate() {
            let mut row = vec![String::new(); revisions.len() + 3];
            if i == 0 {
                row[0] = format!("{}s", step.at);
                for (j, r) in revisions.iter().enumerate() {
                    row[j + 1] = step
                        .replicas
                        .get(*r)
                        .map(i32::to_string)
                        .unwrap_or_default();
                }
                row[revisions.len() + 1] = step.pods.to_string();
                row[revisions.len() + 2] = step.available.to_string();
            }
            row.push(line);
            rows.push(row);
        }
    }
    if plan.steps.is_empty() {
        out.push_str("No step.\n");
    } else {
        out.push_str(&table(&rows));
    }
    let e = &plan.ending;
    let at = e.at.map(|s| format!(" at {s}s")).unwrap_or_default();
    let _ = writeln!(out, "\n{}{at}: {}", e.result, e.message);
    if let Some(x) = plan.extremes {
        let _ = writeln!(
            out,
            "Over the rollout: at least {} pods available, at most {} pods",
            x.fewest_available, x.most_pods
        );
    }
    for anomaly in &plan.anomalies {
        let _ = writeln!(
            out,
            "warning: the planner asked for what the cluster could not do (please report): {anomaly}"
        );
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
