//! The operator's connection to the API server: kube's client stack, over HTTP/2.
//!
//! kube-rs speaks HTTP/1.1 only (kube-rs/kube#1923), so each request in flight needs a TLS
//! connection of its own, and one idle for 90 s is closed: a burst of writes after a quiet spell
//! opens connections and pays a handshake each (`make bench`: a fresh operator's first
//! ReplicaSet took 90 ms to create, the next one 19 ms). client-go, and so the Deployment
//! controller, sends every request over one HTTP/2 connection; so does this client, kept alive by
//! pings that also find a dead connection. The operator makes no upgrade requests (exec, attach,
//! port-forward), which HTTP/2 cannot carry.

use std::time::Duration;

use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use kube::{Client, Config};
use tower::{BoxError, ServiceBuilder};

/// How often an idle connection is pinged, and how long a ping may go unanswered (client-go's
/// HTTP/2 health check uses 30 s and 15 s).
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(15);
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 1 << 30;

/// A client for the cluster the environment points at (kubeconfig or in-cluster).
pub async fn client() -> Result<Client, kube::Error> {
    let mut config = Config::infer().await.map_err(kube::Error::InferConfig)?;
    identify(&mut config, crate::api::keys::FIELD_MANAGER);
    from_config(config)
}

/// Names a client to the API server as `<name>/<version>`, as client-go's programs do: the audit
/// log shows it, and a write that names no field manager is recorded under `<name>` (the server
/// takes the user agent up to its first `/`) rather than under `unknown`.
pub fn identify(config: &mut Config, name: &str) {
    let agent = format!("{name}/{}", env!("CARGO_PKG_VERSION"));
    if let Ok(value) = http::HeaderValue::from_str(&agent) {
        config.headers.push((http::header::USER_AGENT, value));
    }
}

/// kube's client stack (base URI, authentication, extra headers, timeouts) over a connector that
/// offers HTTP/2. A custom TLS server name or a proxy keep kube's own client, which handles both.
pub fn from_config(config: Config) -> Result<Client, kube::Error> {
    if config.tls_server_name.is_some() || config.proxy_url.is_some() {
        return Client::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Requests share the connection: a small frame must not wait for the previous one's ACK.
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let mut connector = TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let http_client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        // Every watch and request shares the one connection: with small flow-control windows
        // a burst on one stream (pod events) stalls the others until this process acknowledges
        // it, and under load that delayed our own ReplicaSet writes' watch events by seconds.
        // client-go's windows: 4 MiB per stream, 1 GiB per connection.
        .http2_initial_stream_window_size(STREAM_WINDOW)
        .http2_initial_connection_window_size(CONNECTION_WINDOW)
        .http2_keep_alive_interval(PING_INTERVAL)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .http2_keep_alive_while_idle(true)
        .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(http_client);
    Ok(Client::new(service, config.default_namespace))
}
