//! The caches' index and what each watch event concerns.

use super::*;
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;

fn pod(name: &str, dc: &str, rv: &str, terminating: bool) -> PartialObjectMeta<Pod> {
    let mut meta: PartialObjectMeta<Pod> = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                     "resourceVersion": rv, "labels": {"deploymentconfig": dc},
                     "managedFields": [{"manager": "kubelet", "operation": "Update"}]}
    }))
    .expect("pod");
    if terminating {
        meta.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
    }
    meta
}

fn owner(p: &PartialObjectMeta<Pod>) -> Option<Owner> {
    owner_by_label(p, "deploymentconfig")
}

fn presence(p: &PartialObjectMeta<Pod>) -> String {
    format!("{}", p.metadata.deletion_timestamp.is_some())
}

fn dc(name: &str) -> Owner {
    ObjectRef::new(name).within("ns")
}

fn names(cache: &Cache<PartialObjectMeta<Pod>>, of: &str) -> Vec<String> {
    cache.of(&dc(of)).iter().map(|p| p.name_any()).collect()
}

#[test]
fn a_revision_is_filed_under_its_controller_before_its_label() {
    let rs = |owners: serde_json::Value| -> k8s_openapi::api::apps::v1::ReplicaSet {
        serde_json::from_value(serde_json::json!({"metadata": {
            "name": "web-1", "namespace": "ns",
            "labels": {"openshift.io/deployment-config.name": "elsewhere"},
            "ownerReferences": owners
        }}))
        .expect("rs")
    };
    let label = "openshift.io/deployment-config.name";
    let controlled = rs(serde_json::json!([{"apiVersion": "apps.openshift.io/v1",
        "kind": "DeploymentConfig", "name": "web", "uid": "u", "controller": true}]));
    assert_eq!(
        owner_by_controller_or_label(&controlled, label),
        Some(dc("web"))
    );
    let other = rs(serde_json::json!([{"apiVersion": "apps/v1",
        "kind": "Deployment", "name": "web", "uid": "u", "controller": true}]));
    assert_eq!(
        owner_by_controller_or_label(&other, label),
        Some(dc("elsewhere"))
    );
    let orphan = rs(serde_json::json!([]));
    assert_eq!(
        owner_by_controller_or_label(&orphan, label),
        Some(dc("elsewhere"))
    );
}

#[test]
fn objects_are_read_by_their_deployment_config() {
    let (cache, mut w) = cache(owner, presence);
    w.apply(watcher::Event::Apply(pod("web-1-a", "web", "1", false)));
    w.apply(watcher::Event::Apply(pod("web-1-b", "web", "1", false)));
    w.apply(watcher::Event::Apply(pod("db-1-a", "db", "1", false)));
    assert_eq!(names(&cache, "web"), ["web-1-a", "web-1-b"]);
    assert_eq!(names(&cache, "db"), ["db-1-a"]);
    assert!(cache.get(&dc("web"), "db-1-a").is_none());
    assert_eq!(cache.state().len(), 3);
    assert!(
        cache
            .state()
            .iter()
            .all(|p| p.metadata.managed_fields.is_none()),
        "managed fields are not kept"
    );
    w.apply(watcher::Event::Delete(pod("web-1-a", "web", "2", true)));
    assert_eq!(names(&cache, "web"), ["web-1-b"]);
}

#[test]
fn a_pod_wakes_its_deployment_config_on_birth_state_change_and_death_only() {
    let (_, mut w) = cache(owner, presence);
    let fire = |w: &mut Writer<_>, e| w.apply(e).len();
    assert_eq!(
        fire(&mut w, watcher::Event::Apply(pod("a", "web", "1", false))),
        1,
        "new"
    );
    assert_eq!(
        fire(&mut w, watcher::Event::Apply(pod("a", "web", "2", false))),
        0,
        "same state"
    );
    assert_eq!(
        fire(&mut w, watcher::Event::Apply(pod("a", "web", "3", true))),
        1,
        "terminating"
    );
    assert_eq!(
        fire(&mut w, watcher::Event::Delete(pod("a", "web", "4", true))),
        1,
        "gone"
    );
}

#[test]
fn a_deletion_of_an_object_never_cached_wakes_nothing() {
    // What a shard sees of another shard's namespaces: each change arrives as a deletion.
    let (_cache, mut w) = cache(owner, presence);
    assert!(
        w.apply(watcher::Event::Delete(pod("a", "web", "1", false)))
            .is_empty()
    );
}

#[test]
fn a_relabelled_object_moves_and_concerns_both_owners() {
    let (cache, mut w) = cache(owner, presence);
    w.apply(watcher::Event::Apply(pod("a", "web", "1", false)));
    let concerned = w.apply(watcher::Event::Apply(pod("a", "db", "2", false)));
    assert_eq!(concerned, [dc("web"), dc("db")]);
    assert!(names(&cache, "web").is_empty());
    assert_eq!(names(&cache, "db"), ["a"]);
}

#[test]
fn an_object_deleted_while_the_watch_was_down_still_wakes_its_deployment_config() {
    let (cache, mut w) = cache(owner, presence);
    w.apply(watcher::Event::Init);
    w.apply(watcher::Event::InitApply(pod("a", "web", "1", false)));
    w.apply(watcher::Event::InitApply(pod("b", "db", "1", false)));
    assert!(
        names(&cache, "web").is_empty(),
        "a relist is swapped in whole"
    );
    assert!(w.apply(watcher::Event::InitDone).is_empty());
    assert_eq!(names(&cache, "web"), ["a"]);

    assert!(w.apply(watcher::Event::Init).is_empty());
    assert!(
        w.apply(watcher::Event::InitApply(pod("a", "web", "5", false)))
            .is_empty()
    );
    assert_eq!(
        w.apply(watcher::Event::InitDone),
        [dc("db")],
        "b vanished during the outage"
    );
    assert!(names(&cache, "db").is_empty());
    assert_eq!(
        w.apply(watcher::Event::Apply(pod("b", "db", "6", false))),
        [dc("db")],
        "b is new again"
    );
}

#[test]
fn ready_after_the_first_list_only() {
    use futures::FutureExt;
    let (cache, mut w) = cache(owner, presence);
    w.apply(watcher::Event::Init);
    w.apply(watcher::Event::InitApply(pod("a", "web", "1", false)));
    assert!(
        cache.wait_until_ready().now_or_never().is_none(),
        "not ready mid-list"
    );
    w.apply(watcher::Event::InitDone);
    assert!(matches!(
        cache.wait_until_ready().now_or_never(),
        Some(Ok(()))
    ));
    drop(w);
    assert!(
        matches!(cache.wait_until_ready().now_or_never(), Some(Ok(()))),
        "stays ready once its watch ends"
    );

    let (never, w) = super::cache(owner, presence);
    drop(w);
    assert!(
        matches!(
            never.wait_until_ready().now_or_never(),
            Some(Err(NeverFilled))
        ),
        "a watch that ended before its first list says so"
    );
}
