//! A mock API server for the shell's tests (as kube-rs's controller-rs example tests): a
//! `kube::Client` over a `tower_test` mock, and a scenario task that checks each request in
//! order and answers it. A request beyond them, or another than expected, fails the test.

use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tower_test::mock;

/// One exchange: ("METHOD /path", status of the answer, body of the answer).
pub type Exchange = (&'static str, u16, Value);

/// A request the scenario saw.
pub struct Seen {
    /// Its query string (field manager, force).
    pub query: String,
    pub content_type: String,
    /// Its JSON body (`Null` when empty).
    pub body: Value,
}

/// A client whose API server expects exactly `exchanges`, in order, and the scenario; `seen`
/// says what it was asked once every clone of the client is dropped.
pub fn serve(exchanges: Vec<Exchange>) -> (Client, JoinHandle<Vec<Seen>>) {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let scenario = tokio::spawn(async move {
        let mut seen = Vec::new();
        for (expected, code, answer) in exchanges {
            let (request, respond) = handle.next_request().await.expect("a request");
            let got = format!("{} {}", request.method(), request.uri().path());
            assert_eq!(got, expected, "request #{}", seen.len() + 1);
            let query = request.uri().query().unwrap_or_default().to_string();
            let content_type = request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            let bytes = request.into_body().collect_bytes().await.expect("body");
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            seen.push(Seen {
                query,
                content_type,
                body,
            });
            let response = Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&answer).expect("json")))
                .expect("response");
            respond.send_response(response);
        }
        // The client is gone once the pass is over: nothing else may have been asked.
        if let Some((request, _)) = handle.next_request().await {
            panic!("unexpected {} {}", request.method(), request.uri());
        }
        seen
    });
    (Client::new(service, "default"), scenario)
}

/// What the scenario saw, once the pass is over and its client dropped.
pub async fn seen(scenario: JoinHandle<Vec<Seen>>) -> Vec<Seen> {
    tokio::time::timeout(Duration::from_secs(10), scenario)
        .await
        .expect("the scenario ends")
        .expect("the scenario's assertions hold")
}

/// A client whose server is gone: for events, which are best effort, so that they never
/// interleave with a scenario.
pub fn gone() -> Client {
    let (service, _) = mock::pair::<Request<Body>, Response<Body>>();
    Client::new(service, "default")
}

/// The API server's refusal: a `Status` with `code` (404 is `NotFound`, which `get_opt` reads).
pub fn status(code: u16, message: &str) -> Value {
    let reason = if code == 404 { "NotFound" } else { "Whatever" };
    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
           "message": message, "reason": reason, "code": code})
}
