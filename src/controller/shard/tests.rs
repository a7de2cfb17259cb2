use super::*;

fn seen(names: &[&str], joins: u64) -> Seen {
    Seen {
        labelled: names.iter().map(|n| n.to_string()).collect(),
        joins,
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn a_shard_serves_its_labelled_namespaces_and_the_unlabelled_operator_the_rest() {
    let shard = Rule::Shard("a".into());
    let rest = Rule::Unlabelled;
    // What each watches: its own label value; every labelled namespace.
    assert_eq!(shard.selector().as_deref(), Some("cutover.io/shard=a"));
    assert_eq!(rest.selector().as_deref(), Some("cutover.io/shard"));
    assert_eq!(Rule::All.selector(), None);

    let a = seen(&["team-a"], 0);
    assert!(shard.serves(&a, "team-a"));
    assert!(!shard.serves(&a, "team-b"));
    // The unlabelled operator's set is every labelled namespace, a's and b's.
    let labelled = seen(&["team-a", "team-b"], 0);
    assert!(!rest.serves(&labelled, "team-a"));
    assert!(rest.serves(&labelled, "default"));
    assert!(Rule::All.serves(&labelled, "team-a"));
}

#[test]
fn a_namespace_that_starts_being_served_is_a_join_and_one_that_leaves_or_goes_is_not() {
    let shard = Rule::Shard("a".into());
    let before = seen(&["team-a"], 3);
    // Labelled to this shard: a join (the watches list again to bring its objects in).
    assert_eq!(
        shard.next(&before, set(&["team-a", "team-b"]), None),
        seen(&["team-a", "team-b"], 4)
    );
    // Relabelled away, or deleted: served no more, nothing to list.
    assert_eq!(shard.next(&before, set(&[]), None), seen(&[], 3));
    assert_eq!(shard.next(&before, set(&["team-a"]), None), before);

    let rest = Rule::Unlabelled;
    let before = seen(&["team-a", "team-b"], 0);
    // Unlabelled: it comes back to the unlabelled operator.
    assert_eq!(
        rest.next(&before, set(&["team-b"]), None),
        seen(&["team-b"], 1)
    );
    // Deleted while labelled: no join.
    assert_eq!(
        rest.next(&before, set(&["team-b"]), Some("team-a")),
        seen(&["team-b"], 0)
    );
    // Newly labelled for some shard: it leaves the unlabelled operator, no join.
    assert_eq!(
        rest.next(&before, set(&["team-a", "team-b", "team-c"]), None),
        seen(&["team-a", "team-b", "team-c"], 0)
    );
}

fn served(rule: Rule, names: &[&str]) -> (Served, watch::Sender<Seen>) {
    let (tx, rx) = watch::channel(seen(names, 0));
    (
        Served {
            rule,
            seen: Some(rx),
        },
        tx,
    )
}

fn pod(namespace: &str) -> k8s_openapi::api::core::v1::Pod {
    let mut pod = k8s_openapi::api::core::v1::Pod::default();
    pod.metadata.name = Some("p".into());
    pod.metadata.namespace = Some(namespace.into());
    pod
}

#[test]
fn a_watch_keeps_served_objects_and_turns_a_change_in_a_namespace_that_left_into_a_deletion() {
    let (served, _tx) = served(Rule::Shard("a".into()), &["team-a"]);
    let kept = |e| served.kept(Ok(e)).map(|r| r.ok());
    assert!(matches!(
        kept(watcher::Event::Apply(pod("team-a"))),
        Some(Some(watcher::Event::Apply(_)))
    ));
    assert!(kept(watcher::Event::InitApply(pod("team-b"))).is_none());
    assert!(matches!(
        kept(watcher::Event::Apply(pod("team-b"))),
        Some(Some(watcher::Event::Delete(_)))
    ));
    assert!(matches!(
        kept(watcher::Event::Delete(pod("team-b"))),
        Some(Some(watcher::Event::Delete(_)))
    ));
    assert!(matches!(
        kept(watcher::Event::InitDone),
        Some(Some(watcher::Event::InitDone))
    ));
    // Cluster-scoped objects, and an operator that is not sharded: everything.
    assert!(served.serves(None));
    assert!(Served::new(true, None).serves(Some("team-b")));
}

#[tokio::test]
async fn the_next_join_waits_past_changes_that_are_no_join() {
    let (served, tx) = served(Rule::Shard("a".into()), &["team-a"]);
    let mut rx = served.seen.clone().expect("watched");
    rx.borrow_and_update();
    let waiting = tokio::spawn(async move { next_join(&mut rx, 0).await });
    tx.send_replace(seen(&[], 0));
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "a namespace leaving is no join");
    tx.send_replace(seen(&["team-b"], 1));
    assert_eq!(waiting.await.ok().flatten(), Some(1));
    drop(tx);
}
