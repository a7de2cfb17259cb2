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
