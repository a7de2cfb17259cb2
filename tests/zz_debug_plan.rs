#[tokio::test]
#[ignore]
async fn debug_plan() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams};
    let ns = std::env::var("NS").unwrap();
    let name = std::env::var("DC").unwrap();
    let client = kube::Client::try_default().await.unwrap();
    let dc: cutover::api::DeploymentConfig = Api::namespaced(client.clone(), &ns)
        .get(&name)
        .await
        .unwrap();
    let rss = Api::<ReplicaSet>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let pods = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let obs = cutover::reconcile::observe::build(
        &dc,
        rss.iter(),
        pods.iter().map(|p| &p.metadata),
        std::iter::empty(),
        "img",
    );
    for r in &obs.revisions {
        println!(
            "{} phase={:?} spec={} pods={} avail={} settled={} desired={}",
            r.name, r.phase, r.spec_replicas, r.pods, r.available, r.settled, r.desired
        );
    }
    let d = cutover::strategy::plan(&obs, jiff::Timestamp::now());
    println!("{:#?}", d.actions);
    println!("requeue {:?}", d.requeue_after);
}
