//! The I/O shell against a mock API server (`reconcile::mock_api`). What is covered here is
//! otherwise only covered end to end.

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;
use kube::runtime::events::Reporter;
use kube::{Client, Resource};
use serde_json::{Value, json};

use super::{CreateRefused, execute};
use crate::api::{DeploymentConfig, keys};
use crate::error::{Error, Result};
use crate::reconcile::deployment_config::{Context, Stores};
use crate::reconcile::mock_api::{self, Exchange, Seen, status};
use crate::reconcile::{cache, events};
use crate::strategy::{Action, RevisionUpdate, Scale};

/// The DeploymentConfig `ns/web`, uid `uid-web`.
fn dc() -> DeploymentConfig {
    let mut dc = DeploymentConfig::new("web", Default::default());
    dc.metadata.namespace = Some("ns".into());
    dc.metadata.uid = Some("uid-web".into());
    dc
}

/// A ReplicaSet `name` labelled for `label` (if any), controlled by the object of uid
/// `controller` (if any), at resourceVersion 7.
fn rs(name: &str, label: Option<&str>, controller: Option<&str>) -> Value {
    let labels = label.map_or(json!({}), |l| json!({ keys::CONFIG_LABEL: l }));
    let owners: Vec<Value> = controller
        .map(|uid| {
            json!({"apiVersion": "apps.openshift.io/v1", "kind": "DeploymentConfig",
                   "name": "web", "uid": uid, "controller": true, "blockOwnerDeletion": true})
        })
        .into_iter()
        .collect();
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7",
                     "labels": labels, "ownerReferences": owners},
        "spec": {"selector": {"matchLabels": {"app": "web"}}}
    })
}

/// The manifest of a Job `name`.
fn job(name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "ns"},
           "spec": {"template": {"spec": {"containers": [], "restartPolicy": "Never"}}}})
}

fn update(name: &str) -> Action {
    Action::Update(RevisionUpdate::new(name).annotate("k", Some("v".into())))
}

/// Runs `actions` for [`dc`] against an API server that expects exactly `exchanges`, in order:
/// ("METHOD /path", status of the answer, body of the answer). A request beyond them, or another
/// than expected, fails the test.
async fn run(
    actions: Vec<Action>,
    exchanges: Vec<Exchange>,
) -> (Result<Option<CreateRefused>>, Vec<Seen>) {
    let (client, scenario) = mock_api::serve(exchanges);
    let ctx = context(client);
    let result = tokio::time::timeout(Duration::from_secs(10), execute(&dc(), &actions, &ctx))
        .await
        .expect("the pass ends");
    drop(ctx);
    (result, mock_api::seen(scenario).await)
}

/// A context on `client` with empty caches. Its events go to a client of their own whose server
/// is gone (events are best effort), so they never interleave with the scenario.
fn context(client: Client) -> Context {
    fn none<K>(_: &K) -> Option<cache::Owner> {
        None
    }
    fn state<K>(_: &K) -> String {
        String::new()
    }
    let stores = Stores {
        replica_sets: cache::cache::<ReplicaSet>(none, state).0,
        pods: cache::cache::<PartialObjectMeta<Pod>>(none, state).0,
        jobs: cache::cache::<Job>(none, state).0,
    };
    let mut ctx = Context::new(
        client,
        stores,
        kube::runtime::reflector::store().0,
        std::sync::Arc::new(crate::metrics::Metrics::new()),
    );
    let reporter = Reporter {
        controller: "cutover".into(),
        instance: None,
    };
    ctx.events = events::Events::start(mock_api::gone(), reporter);
    ctx
}

fn create_revision(name: &str) -> Action {
    Action::CreateRevision {
        name: name.into(),
        manifest: rs(name, Some("web"), Some("uid-web")),
    }
}

#[tokio::test]
async fn created_revision_is_no_refusal() {
    let (result, seen) = run(
        vec![create_revision("web-2")],
        vec![(
            "POST /apis/apps/v1/namespaces/ns/replicasets",
            201,
            rs("web-2", Some("web"), Some("uid-web")),
        )],
    )
    .await;
    assert!(matches!(result, Ok(None)));
    assert_eq!(seen[0].body["metadata"]["name"], "web-2");
}

/// 409, and the ReplicaSet under that name is not a revision of ours: refused, and the pass
/// stops there (the Update after it is never sent).
async fn name_taken_by(existing: Value) {
    let (result, _) = run(
        vec![create_revision("web-2"), update("web-1")],
        vec![
            (
                "POST /apis/apps/v1/namespaces/ns/replicasets",
                409,
                status(409, "exists"),
            ),
            (
                "GET /apis/apps/v1/namespaces/ns/replicasets/web-2",
                200,
                existing,
            ),
        ],
    )
    .await;
    let Ok(Some(refused)) = result else {
        panic!("expected a refusal");
    };
    assert!(refused.message.contains("\"web-2\""), "{}", refused.message);
}

#[tokio::test]
async fn create_conflict_with_another_owners_replica_set_is_refused() {
    name_taken_by(rs("web-2", Some("web"), Some("uid-other"))).await;
}

#[tokio::test]
async fn create_conflict_with_an_unlabelled_replica_set_of_ours_is_refused() {
    name_taken_by(rs("web-2", Some("other"), Some("uid-web"))).await;
    name_taken_by(rs("web-2", None, Some("uid-web"))).await;
}

#[tokio::test]
async fn create_conflict_with_our_revision_is_a_stale_cache() {
    let (result, _) = run(
        vec![create_revision("web-2")],
        vec![
            (
                "POST /apis/apps/v1/namespaces/ns/replicasets",
                409,
                status(409, "exists"),
            ),
            (
                "GET /apis/apps/v1/namespaces/ns/replicasets/web-2",
                200,
                rs("web-2", Some("web"), Some("uid-web")),
            ),
        ],
    )
    .await;
    let Err(e) = result else {
        panic!("expected an error");
    };
    assert!(matches!(e, Error::StaleCache(_)), "{e}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn invalid_revision_is_refused_with_the_api_servers_message() {
    let message = "ReplicaSet.apps \"web-2\" is invalid: spec.template: Invalid value";
    let (result, _) = run(
        vec![create_revision("web-2"), update("web-1")],
        vec![(
            "POST /apis/apps/v1/namespaces/ns/replicasets",
            422,
            status(422, message),
        )],
    )
    .await;
    let Ok(Some(refused)) = result else {
        panic!("expected a refusal");
    };
    assert_eq!(refused.message, message);
}

#[tokio::test]
async fn deleting_what_is_already_gone_succeeds() {
    let (result, seen) = run(
        vec![
            Action::DeleteJob {
                name: "web-1-hook".into(),
            },
            Action::DeleteRevision {
                name: "web-1".into(),
            },
        ],
        vec![
            (
                "DELETE /apis/batch/v1/namespaces/ns/jobs/web-1-hook",
                404,
                status(404, "gone"),
            ),
            (
                "DELETE /apis/apps/v1/namespaces/ns/replicasets/web-1",
                404,
                status(404, "gone"),
            ),
        ],
    )
    .await;
    assert!(matches!(result, Ok(None)));
    // Their pods go with them.
    assert_eq!(seen[0].body["propagationPolicy"], "Background");
    assert_eq!(seen[1].body["propagationPolicy"], "Background");
}

#[tokio::test]
async fn an_existing_job_is_reattached_and_the_pass_goes_on() {
    let (result, _) = run(
        vec![
            Action::CreateJob {
                name: "web-2-hook".into(),
                manifest: job("web-2-hook"),
            },
            update("web-1"),
        ],
        vec![
            (
                "POST /apis/batch/v1/namespaces/ns/jobs",
                409,
                status(409, "exists"),
            ),
            (
                "PATCH /apis/apps/v1/namespaces/ns/replicasets/web-1",
                200,
                rs("web-1", Some("web"), Some("uid-web")),
            ),
        ],
    )
    .await;
    assert!(matches!(result, Ok(None)));
}

#[tokio::test]
async fn release_drops_our_owner_reference_as_a_compare_and_swap() {
    let relabelled = rs("web-1", Some("other"), Some("uid-web"));
    let (result, seen) = run(
        vec![Action::Release {
            name: "web-1".into(),
        }],
        vec![
            (
                "GET /apis/apps/v1/namespaces/ns/replicasets/web-1",
                200,
                relabelled.clone(),
            ),
            (
                "PATCH /apis/apps/v1/namespaces/ns/replicasets/web-1",
                200,
                relabelled,
            ),
        ],
    )
    .await;
    assert!(matches!(result, Ok(None)));
    let patch = &seen[1];
    assert_eq!(patch.content_type, "application/merge-patch+json");
    assert_eq!(patch.body["metadata"]["ownerReferences"], json!([]));
    assert_eq!(patch.body["metadata"]["resourceVersion"], "7");
}

#[tokio::test]
async fn release_leaves_a_replica_set_labelled_for_us_again() {
    let (result, _) = run(
        vec![Action::Release {
            name: "web-1".into(),
        }],
        vec![(
            "GET /apis/apps/v1/namespaces/ns/replicasets/web-1",
            200,
            rs("web-1", Some("web"), Some("uid-web")),
        )],
    )
    .await;
    assert!(matches!(result, Ok(None)));
}

#[tokio::test]
async fn adopt_takes_a_labelled_orphan_under_our_control() {
    let orphan = rs("web-1", Some("web"), None);
    let (result, seen) = run(
        vec![Action::Adopt {
            name: "web-1".into(),
        }],
        vec![
            (
                "GET /apis/apps/v1/namespaces/ns/replicasets/web-1",
                200,
                orphan.clone(),
            ),
            (
                "PATCH /apis/apps/v1/namespaces/ns/replicasets/web-1",
                200,
                orphan,
            ),
        ],
    )
    .await;
    assert!(matches!(result, Ok(None)));
    let owners = &seen[1].body["metadata"]["ownerReferences"];
    assert_eq!(owners[0]["uid"], dc().meta().uid.clone().expect("uid"));
    assert_eq!(owners[0]["controller"], true);
    assert_eq!(owners[0]["blockOwnerDeletion"], true);
    assert_eq!(seen[1].body["metadata"]["resourceVersion"], "7");
}

#[tokio::test]
async fn a_server_error_on_an_update_is_transient() {
    let (result, seen) = run(
        vec![update("web-1")],
        vec![(
            "PATCH /apis/apps/v1/namespaces/ns/replicasets/web-1",
            500,
            status(500, "etcd is down"),
        )],
    )
    .await;
    let Err(e) = result else {
        panic!("expected an error");
    };
    assert!(e.is_transient(), "{e}");
    assert_eq!(seen[0].body["metadata"]["annotations"]["k"], "v");
}

fn scale(name: &str, from: i32, to: i32) -> Action {
    let mut update = RevisionUpdate::new(name);
    update.scale = Some(Scale { from, to });
    Action::Update(update)
}

/// A pass's scale-up may use the room its scale-down makes, so it goes out only after the
/// scale-down succeeded: never when it failed.
#[tokio::test]
async fn a_scale_up_waits_for_the_scale_down_before_it() {
    let (result, seen) = run(
        vec![scale("web-1", 8, 5), scale("web-2", 3, 8)],
        vec![(
            "PATCH /apis/apps/v1/namespaces/ns/replicasets/web-1",
            409,
            status(409, "the object has been modified"),
        )],
    )
    .await;
    assert!(result.is_err(), "the failed scale-down is the pass's error");
    assert_eq!(seen.len(), 1, "the scale-up is not sent");
    assert_eq!(seen[0].body["spec"]["replicas"], 5);
}

/// A pass's scales are told in one event: OpenShift's message for the first, the others after.
#[test]
fn a_pass_tells_its_scales_in_one_message() {
    let (down, up) = (Scale { from: 8, to: 5 }, Scale { from: 3, to: 8 });
    assert_eq!(super::scaled_message(&[]), None);
    assert_eq!(
        super::scaled_message(&[("web-1", down)]).as_deref(),
        Some(r#"Scaled replication controller "web-1" from 8 to 5"#)
    );
    assert_eq!(
        super::scaled_message(&[("web-1", down), ("web-2", up)]).as_deref(),
        Some(r#"Scaled replication controller "web-1" from 8 to 5, "web-2" from 3 to 8"#)
    );
}
