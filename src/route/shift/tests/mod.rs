//! The shift's state machine over virtual time: a Route, its declaration, the DeploymentConfig
//! it follows and the checks' answers, pass after pass. The helpers are here; the cases are in
//! one module per subject.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::*;
use crate::api::keys;
use crate::api::route::{Route, RouteStatus, ShiftStatus};
use crate::strategy::Event;

mod capacity;
mod checks;
mod declaration;
mod following;
mod releases;
mod requests;
mod steps;

fn route(shift: &str) -> Route {
    let mut route: Route = serde_json::from_value(json!({
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": {"name": "shop", "namespace": "ns", "annotations": {keys::TRAFFIC_SHIFT_ANNOTATION: shift}},
        "spec": {"to": {"kind": "Service", "name": "blue", "weight": 100},
                 "alternateBackends": [{"kind": "Service", "name": "green", "weight": 0}]}
    }))
    .expect("route");
    route.status = Some(RouteStatus::default());
    route
}

const PLAIN: &str = "to: green\nsteps: [10, 50, 100]\npause: 30s\n";

const ANALYSED: &str = r#"
to: green
steps: [20, 100]
pause: 10s
deploymentConfig: green
onFailure: rollback
analysis:
  prometheus: http://127.0.0.1:9090
  query: sum(rate(requests{service="{{namespace}}-{{service}}",code!~"5.."}[{{interval}}]))
  interval: 5s
  successCondition: {atLeast: 0.95}
"#;

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("time")
}

/// A Route and its shift over virtual time: each pass applies the decision's status.
struct World {
    route: Route,
    shift: Shift,
    /// The DeploymentConfig of the shift's first release.
    followed: Option<Followed>,
    /// The other releases' DeploymentConfigs, by name.
    others: BTreeMap<String, Followed>,
    /// Why the Route is refused, when it is.
    refused: Option<String>,
    /// Ready pods behind each backend.
    ready: BTreeMap<String, i32>,
    now: Timestamp,
    finished: Vec<&'static str>,
    rollbacks: Vec<(String, String)>,
    events: Vec<Event>,
}

impl World {
    fn new(text: &str) -> Self {
        let route = route(text);
        let shift = declared(&route).expect("declared").expect("valid");
        World {
            route,
            shift,
            followed: None,
            others: BTreeMap::new(),
            refused: None,
            ready: BTreeMap::new(),
            now: t0(),
            finished: vec![],
            rollbacks: vec![],
            events: vec![],
        }
    }

    /// Every DeploymentConfig of the shift's releases there is, by name.
    fn deployment_configs(&self) -> BTreeMap<String, Followed> {
        let first = self.shift.deployment_configs().next().map(str::to_string);
        let mut all = self.others.clone();
        all.extend(first.zip(self.followed));
        all
    }

    /// One pass at `now`, with the check result `answer` gives when one is due; the Route's
    /// status as the planner writes it.
    fn pass(&mut self, answer: impl Fn() -> CheckResult) -> ShiftDecision {
        let status = self.route.status.as_ref().and_then(|s| s.shift.as_ref());
        let followed = self.deployment_configs();
        let check = check_due(
            &self.shift,
            status,
            self.refused.is_some(),
            &followed,
            self.now,
        )
        .map(|_| answer());
        let d = advance(&ShiftInputs {
            route: &self.route,
            shift: &self.shift,
            followed,
            check,
            refused: self.refused.clone(),
            ready: self.ready.clone(),
            now: self.now,
        });
        let promotion = promotion(&self.route, Some(&d));
        if let Some(s) = self.route.status.as_mut() {
            s.shift = Some(d.status.clone());
            s.promotion = promotion;
        }
        self.finished.extend(d.finished);
        self.rollbacks.extend(d.rollback.clone());
        self.events.extend(d.events.clone());
        d
    }

    /// Passes every second for `seconds`.
    fn run(&mut self, seconds: i64, answer: impl Fn() -> CheckResult) {
        for _ in 0..seconds {
            self.pass(&answer);
            self.now += SignedDuration::from_secs(1);
        }
    }

    /// The phase and step the shift is at.
    fn at(&self) -> (String, i32) {
        let s = self.status();
        (s.phase, s.step)
    }

    fn status(&self) -> ShiftStatus {
        self.route
            .status
            .as_ref()
            .and_then(|s| s.shift.clone())
            .expect("a shift status")
    }

    /// The weights the Route planner would realise now.
    fn serving(&self) -> Vec<(String, Option<i32>)> {
        let status = self.route.status.as_ref();
        let r = serving(
            &self.route,
            status.and_then(|s| s.promotion.as_ref()),
            status.and_then(|s| s.shift.as_ref()),
        );
        super::super::backends(&r)
            .iter()
            .map(|b| (b.name.clone(), b.weight))
            .collect()
    }

    /// The annotation rewritten with a new declaration, as a GitOps repository would.
    fn redeclare(&mut self, text: &str) {
        self.route
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(keys::TRAFFIC_SHIFT_ANNOTATION.into(), text.into());
        self.shift = declared(&self.route).expect("declared").expect("valid");
    }

    fn request(&mut self, verb: &str, token: &str) {
        self.route
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(
                format!("{}{verb}", keys::SHIFT_REQUEST_PREFIX),
                token.into(),
            );
    }
}

/// The followed DeploymentConfig: its latest revision, whether that completed, and whether it is
/// a rollback.
fn dc(latest_version: i64, complete: bool, rollback: bool) -> Option<Followed> {
    Some(Followed {
        latest_version,
        complete,
        rollback,
    })
}

fn weights_of(blue: i32, green: i32) -> Vec<(String, Option<i32>)> {
    vec![("blue".into(), Some(blue)), ("green".into(), Some(green))]
}

fn pass() -> CheckResult {
    CheckResult::Value(0.99)
}

fn started_by_a_rollout(text: &str) -> World {
    let mut w = World::new(text);
    w.followed = dc(1, true, false);
    w.run(3, pass);
    assert_eq!(
        w.status().phase,
        "Pending",
        "revision 1 was there before the shift"
    );
    assert_eq!(w.serving(), weights_of(100, 0));
    w.followed = dc(2, false, false);
    w.run(3, pass);
    assert_eq!(w.status().phase, "Pending", "{}", w.status().message);
    w.followed = dc(2, true, false);
    w.pass(pass);
    assert_eq!(w.at(), ("Progressing".to_string(), 1));
    assert_eq!(w.status().deployment_config_versions["green"], 2);
    w
}
