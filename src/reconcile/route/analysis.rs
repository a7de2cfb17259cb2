//! A traffic shift's check: one instant query to Prometheus, bounded in time. Whatever keeps
//! an answer from being a single number (unreachable, an error, no series, several, NaN) is an
//! inconclusive check, never a pass.

use std::time::Duration;

use prometheus_http_query::response::Data;

use crate::route::shift::{Analysis, CheckResult};

/// The longest a check waits for Prometheus.
const LONGEST: Duration = Duration::from_secs(10);

pub async fn check(analysis: &Analysis) -> CheckResult {
    let timeout = Duration::try_from(analysis.interval)
        .unwrap_or(LONGEST)
        .min(LONGEST);
    // reqwest's rustls takes the process-wide provider and panics without one: `cutover run`
    // installs ring at start; installing it again is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(http) => http,
        Err(e) => return CheckResult::Inconclusive(format!("no HTTP client: {e}")),
    };
    let client = match prometheus_http_query::Client::from(http, &analysis.prometheus) {
        Ok(client) => client,
        Err(e) => return CheckResult::Inconclusive(format!("{}: {e}", analysis.prometheus)),
    };
    let answer = match client.query(&analysis.query).get().await {
        Ok(answer) => answer,
        Err(e) => return CheckResult::Inconclusive(one_line(&e.to_string())),
    };
    let value = match answer.data() {
        Data::Scalar(sample) => sample.value(),
        Data::Vector(series) => match series.as_slice() {
            [one] => one.sample().value(),
            [] => return CheckResult::Inconclusive("no data".into()),
            many => {
                return CheckResult::Inconclusive(format!(
                    "{} series: the query must give one value",
                    many.len()
                ));
            }
        },
        _ => return CheckResult::Inconclusive("a range vector: use an instant query".into()),
    };
    if value.is_nan() {
        // No traffic in the window: a ratio of two zero rates.
        return CheckResult::Inconclusive("NaN (no traffic in the window?)".into());
    }
    CheckResult::Value(value)
}

fn one_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::shift::SuccessCondition;
    use jiff::SignedDuration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn analysis(url: String) -> Analysis {
        Analysis {
            prometheus: url,
            query: "up".into(),
            interval: SignedDuration::from_secs(2),
            success: SuccessCondition {
                at_least: Some(0.5),
                at_most: None,
            },
            failure_limit: 1,
            inconclusive_limit: 3,
        }
    }

    /// A one-shot HTTP server on 127.0.0.1 answering Prometheus's query API with `body`.
    async fn prometheus(body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    #[tokio::test]
    async fn one_value_is_the_answer() {
        let url = prometheus(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.97"]}]}}"#).await;
        assert_eq!(check(&analysis(url)).await, CheckResult::Value(0.97));
    }

    #[tokio::test]
    async fn no_series_several_or_nan_are_inconclusive() {
        let none =
            prometheus(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).await;
        assert_eq!(
            check(&analysis(none)).await,
            CheckResult::Inconclusive("no data".into())
        );
        let two = prometheus(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"1"]}]}}"#).await;
        assert_eq!(
            check(&analysis(two)).await,
            CheckResult::Inconclusive("2 series: the query must give one value".into())
        );
        let nan =
            prometheus(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}"#)
                .await;
        assert!(
            matches!(check(&analysis(nan)).await, CheckResult::Inconclusive(m) if m.starts_with("NaN"))
        );
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_is_inconclusive() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let result = check(&analysis(format!("http://127.0.0.1:{port}"))).await;
        assert!(matches!(result, CheckResult::Inconclusive(_)), "{result:?}");
    }
}
