//! Sticky sessions through a traffic shift, with real traffic through Traefik: 10% → 50% →
//! 100% to the new version, every client keeping its cookie jar. A client that reached the new
//! version never goes back to the old one; at each step new sessions split as the weights say.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cutover::api::route::Route;
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::common::*;
use crate::dataplane::{Traefik, backend, curl_requests, mapping_proxy, split_route};
use crate::routes::{backend_weights, http_routes, traefik_services};

const MINUTE: Duration = Duration::from_secs(60);
/// New sessions sampled at each step.
const NEW_SESSIONS: usize = 200;

/// One client with its own cookie jar, and every backend that answered it, in order.
struct Client {
    jar: PathBuf,
    answers: Vec<String>,
}

impl Client {
    /// Whether an answer of a followed one of b.
    fn flipped_back(&self) -> bool {
        self.answers
            .iter()
            .skip_while(|b| *b != "b")
            .any(|b| b == "a")
    }
}

/// `count` requests (one curl, one connection) keeping the cookies of `jar`; each body.
async fn session(web: u16, jar: &Path, count: usize) -> Vec<String> {
    let jar = jar.to_string_lossy().to_string();
    let cookies = vec!["-b".to_string(), jar.clone(), "-c".into(), jar];
    curl_requests(web, count, cookies)
        .await
        .into_iter()
        .map(|(body, code)| match code.as_str() {
            "200" => body,
            _ => format!("failed: {code} {body}"),
        })
        .collect()
}

/// Each client makes `count` more requests (sixteen at a time).
async fn round(web: u16, clients: &mut [Client], count: usize) {
    let answers: Vec<Vec<String>> = futures::stream::iter(clients.iter())
        .map(|c| session(web, &c.jar, count))
        .buffered(16)
        .collect()
        .await;
    for (c, a) in clients.iter_mut().zip(answers) {
        assert_eq!(a.len(), count, "every request answered: {a:?}");
        c.answers.extend(a);
    }
}

/// `n` new clients, with empty jars in `dir`, numbered from `first`.
fn new_clients(dir: &Path, first: usize, n: usize) -> Vec<Client> {
    (first..first + n)
        .map(|i| Client {
            jar: dir.join(format!("client-{i}.jar")),
            answers: Vec::new(),
        })
        .collect()
}

async fn route(ns: &TestNamespace) -> Route {
    ns.api::<Route>().get("split").await.expect("route")
}

async fn annotate(ns: &TestNamespace, key: &str, value: &str) {
    ns.api::<Route>()
        .patch(
            "split",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {key: value}}})),
        )
        .await
        .expect("annotate the route");
}

/// Until the shift stands at `step` and the data plane is given its weights; then Traefik's
/// reload (at most every 2 s) is waited out.
async fn at_step(ns: &TestNamespace, step: i32, percent: i64) {
    let want = vec![
        ("svc-a".to_string(), 100 - percent, 80),
        ("svc-b".to_string(), percent, 80),
    ];
    eventually(&format!("step {step} ({percent}%)"), 2 * MINUTE, || async {
        let shift = route(ns).await.status?.shift?;
        assert_ne!(shift.phase, "Failed", "{shift:?}");
        (shift.step == step && backend_weights(ns, "split").await? == want).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
}

#[tokio::test]
#[ignore = "needs the local cluster and Traefik: make test"]
async fn sessions_stay_on_the_new_version_through_a_traffic_shift() {
    let ns = TestNamespace::new("sessions").await;
    let _op = Operator::start(&ns.name);
    let (port_a, port_b) = (
        backend(Ipv4Addr::new(127, 0, 0, 2), "a").await,
        backend(Ipv4Addr::new(127, 0, 0, 3), "b").await,
    );
    let (proxy, web) = (mapping_proxy().await, free_port());
    let class = format!("cutover-{}", ns.name);
    let jars = root()
        .join("target")
        .join("e2e-logs")
        .join(format!("{}-jars", ns.name));
    std::fs::create_dir_all(&jars).expect("jar dir");

    let (ok, out) = apply(
        &ns.name,
        &split_route(&ns.name, &class, web, (port_a, 100), (port_b, 0)),
    )
    .await;
    assert!(ok, "{out}");
    // Steps taken by promote requests only: each is sampled as long as it takes.
    annotate(
        &ns,
        "cutover.io/traffic-shift",
        r#"{"to": "svc-b", "steps": [10, 50, 100], "pause": "1h"}"#,
    )
    .await;
    let traefik = Traefik::start(&ns.name, proxy, &[("web", web)]);

    // The Route says how its sessions stick, and the HTTPRoute goes through the TraefikService.
    let affinity = eventually("status.sessionAffinity", MINUTE, || async {
        route(&ns).await.status?.session_affinity
    })
    .await;
    assert_eq!(affinity.mechanism, "TraefikService", "{affinity:?}");
    assert_eq!(affinity.cookie.len(), 32, "{affinity:?}");
    let http_route = http_routes(&ns).get("split").await.expect("HTTPRoute");
    let refs = &http_route.data["spec"]["rules"][0]["backendRefs"];
    assert_eq!(
        (
            &refs[0]["kind"],
            &refs[0]["name"],
            refs.as_array().map(Vec::len)
        ),
        (&json!("TraefikService"), &json!("split-sticky"), Some(1)),
        "{refs}"
    );

    // Every client keeps its jar from the step it arrived at on.
    let mut clients: Vec<Client> = Vec::new();
    at_step(&ns, 1, 10).await;
    eventually("traffic through Traefik", MINUTE, || async {
        let probe = session(web, &jars.join("probe.jar"), 1).await;
        matches!(probe.first().map(String::as_str), Some("a" | "b")).then_some(())
    })
    .await;
    let jar = std::fs::read_to_string(jars.join("probe.jar")).unwrap_or_default();
    assert!(
        jar.contains(&affinity.cookie),
        "the session cookie {} is set: {jar}",
        affinity.cookie
    );

    for (step, percent) in [(1, 10), (2, 50), (3, 100)] {
        if step > 1 {
            annotate(
                &ns,
                "cutover.io/request-shift-promote",
                &format!("step-{step}"),
            )
            .await;
            at_step(&ns, step, percent).await;
        }
        // New sessions split as the weights say, each staying where it landed.
        let first = clients.len();
        let mut fresh = new_clients(&jars, first, NEW_SESSIONS);
        round(web, &mut fresh, 3).await;
        let on_b = fresh.iter().filter(|c| c.answers[0] == "b").count();
        let share = on_b as f64 * 100.0 / NEW_SESSIONS as f64;
        let moved = fresh
            .iter()
            .filter(|c| c.answers.iter().any(|a| *a != c.answers[0]))
            .count();
        eprintln!(
            "step {step} ({percent}%): {on_b} of {NEW_SESSIONS} new sessions on b ({share}%), {moved} moved within their session"
        );
        assert!(
            (share - percent as f64).abs() <= 5.0,
            "step {step}: {share}% of new sessions on b, wanted {percent} ± 5"
        );
        assert_eq!(moved, 0, "a new session changed backend at step {step}");
        // Every older client goes on with its jar.
        round(web, &mut clients, 3).await;
        clients.extend(fresh);
        let on_b = clients
            .iter()
            .filter(|c| c.answers.last().map(String::as_str) == Some("b"))
            .count();
        let flipped = clients.iter().filter(|c| c.flipped_back()).count();
        eprintln!(
            "step {step}: {} clients, {on_b} now on b, {flipped} went back from b to a",
            clients.len()
        );
        assert_eq!(
            flipped, 0,
            "clients went back from the new version to the old one"
        );
    }
    assert!(
        clients
            .iter()
            .all(|c| c.answers.last().map(String::as_str) == Some("b")),
        "at 100% every client is on the new version"
    );

    // disable_cookies: no TraefikService, the Services served directly, and the status says so.
    annotate(&ns, "haproxy.router.openshift.io/disable_cookies", "true").await;
    let affinity = eventually("sticky sessions disabled", MINUTE, || async {
        let a = route(&ns).await.status?.session_affinity?;
        let gone = traefik_services(&ns)
            .get_opt("split-sticky")
            .await
            .ok()?
            .is_none();
        (a.mechanism == "None" && gone).then_some(a)
    })
    .await;
    assert!(affinity.message.contains("disable_cookies"), "{affinity:?}");
    let http_route = http_routes(&ns).get("split").await.expect("HTTPRoute");
    assert_eq!(
        http_route.data["spec"]["rules"][0]["backendRefs"][0]["kind"],
        "Service"
    );

    traefik.stop().await;
    let _ = kubectl(&["delete", "gatewayclass", &class]).await;
    let _ = std::fs::remove_dir_all(&jars);
    ns.cleanup().await;
}
