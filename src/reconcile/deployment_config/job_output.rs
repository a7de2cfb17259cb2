//! What the pod of a failed hook or deployer Job said, recorded on the Job before the pass that
//! records the failure: so "why did my rollout fail" is answered by the revision, the Failed event
//! and the Progressing condition, without hunting for the pod (which may be gone by then).
//!
//! The shell reads it (the operator caches pods by metadata only) and writes it as the Job's
//! `cutover.io/output` annotation; the write's watch event brings the pass that plans, and the
//! planner reads it from the cached Job (`strategy::rollout::hooks::job_output`).

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use tracing::debug;

use crate::api::DeploymentConfig;
use crate::api::keys::{self, JOB_OUTPUT_ANNOTATION, JOB_OUTPUT_LIMIT};
use crate::error::Result;

use super::Context;
use crate::strategy::rollout::hooks::{JobState, job_state};

/// The label the Job controller puts on a Job's pods.
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// Records the output of this DeploymentConfig's failed Jobs that have none yet; whether it
/// wrote any (then the pass stops: the Job's watch event brings the next). Only a failure's
/// output is read (`hooks::job_state`): a Job that succeeded costs no pod list and no write.
pub async fn record(dc: &DeploymentConfig, ctx: &Context) -> Result<bool> {
    let ns = dc.namespace().unwrap_or_default();
    let unread: Vec<_> = ctx
        .stores
        .jobs
        .of(&ObjectRef::from(dc))
        .into_iter()
        .filter(|job| failed(job) && !job.annotations().contains_key(JOB_OUTPUT_ANNOTATION))
        .collect();
    if unread.is_empty() {
        return Ok(false);
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    for job in unread {
        let name = job.name_any();
        let selector = format!("{JOB_NAME_LABEL}={name}");
        let said = output(
            &pods
                .list(&ListParams::default().labels(&selector))
                .await?
                .items,
        );
        debug!(
            job = name,
            bytes = said.len(),
            "recording a finished Job's output"
        );
        let patch = json!({"metadata": {"annotations": {JOB_OUTPUT_ANNOTATION: said}}});
        match jobs
            .patch(
                &name,
                &PatchParams {
                    field_manager: Some(keys::FIELD_MANAGER.into()),
                    ..Default::default()
                },
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {}
            // Gone meanwhile (a retry deletes the Jobs of the attempt before): nothing to say.
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

fn failed(job: &Job) -> bool {
    matches!(job_state(job, ""), JobState::Failed(_))
}

/// What the newest pod that ended said: its first container's termination message (the log's
/// tail under FallbackToLogsOnError), the last `JOB_OUTPUT_LIMIT` bytes of it; "" when none.
pub fn output(pods: &[Pod]) -> String {
    let said = |pod: &Pod| {
        let status = pod.status.as_ref()?.container_statuses.as_ref()?.first()?;
        let terminated = status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .or_else(|| status.last_state.as_ref()?.terminated.as_ref())?;
        terminated.message.clone().filter(|m| !m.trim().is_empty())
    };
    let mut ended: Vec<&Pod> = pods.iter().filter(|p| said(p).is_some()).collect();
    ended.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let message = ended.last().and_then(|p| said(p)).unwrap_or_default();
    tail(message.trim(), JOB_OUTPUT_LIMIT).to_string()
}

/// The last `limit` bytes of `s`, cut at a character boundary.
fn tail(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut start = s.len() - limit;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(created: &str, message: Option<&str>, last: bool) -> Pod {
        let terminated = json!({"exitCode": 1, "message": message});
        let status = if last {
            json!({"name": "lifecycle", "ready": false, "restartCount": 1, "image": "x", "imageID": "",
                   "lastState": {"terminated": terminated}})
        } else {
            json!({"name": "lifecycle", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                   "state": {"terminated": terminated}})
        };
        serde_json::from_value(json!({
            "metadata": {"name": format!("p-{created}"), "creationTimestamp": created},
            "status": {"containerStatuses": [status]}
        }))
        .expect("pod")
    }

    #[test]
    fn the_newest_pod_that_said_something_speaks() {
        let pods = [
            pod(
                "2026-01-01T00:00:02Z",
                Some("second try: relation exists"),
                false,
            ),
            pod("2026-01-01T00:00:01Z", Some("first try"), false),
            pod("2026-01-01T00:00:03Z", None, false),
        ];
        assert_eq!(output(&pods), "second try: relation exists");
        assert_eq!(
            output(&[pod("2026-01-01T00:00:01Z", Some("restarted"), true)]),
            "restarted"
        );
        assert_eq!(output(&[]), "");
    }

    #[test]
    fn output_is_bounded_to_its_tail() {
        let long = format!("{}é{}", "x".repeat(2000), "the end");
        let said = output(&[pod("2026-01-01T00:00:01Z", Some(&long), false)]);
        assert!(said.len() <= JOB_OUTPUT_LIMIT);
        assert!(said.ends_with("the end"));
    }
}
