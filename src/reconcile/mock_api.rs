//! A mock API server for the shell's tests (as kube-rs's controller-rs example tests): a
//! `kube::Client` over a channel, and a scenario task that checks each request in order and
//! answers it. A request beyond them, or another than expected, fails the test.
//!
//! The channel is ours rather than `tower-test`'s: that crate turns on tokio's `test-util` in
//! test builds only, so `cargo build` after `cargo test` compiled tokio and everything above it
//! a second time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

type Pending = (Request<Body>, oneshot::Sender<Response<Body>>);

/// The client's side: each request goes to the scenario with a way back for its answer.
struct Channel(mpsc::UnboundedSender<Pending>);

impl tower::Service<Request<Body>> for Channel {
    type Response = Response<Body>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (respond, answer) = oneshot::channel();
        let sent = self.0.send((request, respond));
        Box::pin(async move {
            let gone = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "no server");
            sent.map_err(|_| gone())?;
            answer.await.map_err(|_| gone())
        })
    }
}

fn pair() -> (Client, mpsc::UnboundedReceiver<Pending>) {
    let (requests, handle) = mpsc::unbounded_channel();
    (Client::new(Channel(requests), "default"), handle)
}

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
    let (client, mut handle) = pair();
    let scenario = tokio::spawn(async move {
        let mut seen = Vec::new();
        for (expected, code, answer) in exchanges {
            let (request, respond) = handle.recv().await.expect("a request");
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
            // The client may have given up (a timeout): its answer then goes nowhere.
            let _ = respond.send(response);
        }
        // The client is gone once the pass is over: nothing else may have been asked.
        if let Some((request, _)) = handle.recv().await {
            panic!("unexpected {} {}", request.method(), request.uri());
        }
        seen
    });
    (client, scenario)
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
    pair().0
}

/// The API server's refusal: a `Status` with `code` (404 is `NotFound`, which `get_opt` reads).
pub fn status(code: u16, message: &str) -> Value {
    let reason = if code == 404 { "NotFound" } else { "Whatever" };
    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
           "message": message, "reason": reason, "code": code})
}
