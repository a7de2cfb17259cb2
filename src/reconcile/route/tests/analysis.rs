//! A shift's Prometheus check against a one-shot server: one value is the answer, anything else
//! is inconclusive, never a pass.

use jiff::SignedDuration;

use super::*;
use crate::reconcile::route::analysis::check;
use crate::route::shift::{Analysis, CheckResult, SuccessCondition};

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
