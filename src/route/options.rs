//! The rest of what a Route asks of the router: header actions, and the router annotations
//! Gateway API can express (a timeout, HSTS, a path rewrite). The others are named on the Route:
//! those that restrict who may connect refuse it (serving it without them would be less safe than
//! OpenShift), the rest are reported as not realised.

use serde_json::{Value, json};

use crate::api::route::Route;

use super::sessions::{COOKIE_NAME_ANNOTATION, DISABLE_COOKIES_ANNOTATION};

const HAPROXY: &str = "haproxy.router.openshift.io/";
const ROUTER: &str = "router.openshift.io/";
pub const TIMEOUT_ANNOTATION: &str = "haproxy.router.openshift.io/timeout";
pub const HSTS_ANNOTATION: &str = "haproxy.router.openshift.io/hsts_header";
pub const REWRITE_ANNOTATION: &str = "haproxy.router.openshift.io/rewrite-target";
const BALANCE_ANNOTATION: &str = "haproxy.router.openshift.io/balance";
/// Annotations that limit who may reach the Route: without them the Route is not served.
const ACCESS_CONTROLS: [&str; 3] = [
    "haproxy.router.openshift.io/ip_whitelist",
    "haproxy.router.openshift.io/ip_allowlist",
    "haproxy.router.openshift.io/rate-limit-connections",
];

/// What the Route's options become on its HTTPRoute rule, and what could not be realised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// HTTPRoute filters (header modifiers, URL rewrite).
    pub filters: Vec<Value>,
    /// `timeouts.request` of the rule.
    pub request_timeout: Option<String>,
    /// Annotations (and header actions) that cutover cannot realise, reported on the Route.
    pub ignored: Vec<String>,
    /// Access controls that cannot be realised: the Route is refused.
    pub refused: Vec<String>,
}

/// Reads the Route's header actions and router annotations. `tls` says whether it is served
/// over TLS (HSTS applies only there, as in OpenShift).
pub fn options(route: &Route, tls: bool) -> Options {
    let mut out = Options::default();
    let annotations = route.metadata.annotations.clone().unwrap_or_default();
    let mut response_set: Vec<Value> = Vec::new();
    for (key, value) in &annotations {
        if !key.starts_with(HAPROXY) && !key.starts_with(ROUTER) {
            continue;
        }
        match key.as_str() {
            TIMEOUT_ANNOTATION => match gateway_duration(value) {
                Some(d) => out.request_timeout = Some(d),
                None => out
                    .ignored
                    .push(format!("{key} (not a duration: {value:?})")),
            },
            HSTS_ANNOTATION if tls => {
                response_set.push(json!({"name": "Strict-Transport-Security", "value": value}));
            }
            HSTS_ANNOTATION => {}
            REWRITE_ANNOTATION => out.filters.push(json!({
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": value}}
            })),
            BALANCE_ANNOTATION if value == "roundrobin" => {}
            // Sticky sessions (`sessions`): realised, or said in status.sessionAffinity.
            DISABLE_COOKIES_ANNOTATION | COOKIE_NAME_ANNOTATION => {}
            k if ACCESS_CONTROLS.iter().any(|a| k.starts_with(a)) => out.refused.push(k.into()),
            k => out.ignored.push(k.into()),
        }
    }
    let actions = route
        .spec
        .http_headers
        .as_ref()
        .map(|h| h["actions"].clone())
        .unwrap_or(Value::Null);
    for (side, filter, field, mut set) in [
        (
            "request",
            "RequestHeaderModifier",
            "requestHeaderModifier",
            Vec::new(),
        ),
        (
            "response",
            "ResponseHeaderModifier",
            "responseHeaderModifier",
            std::mem::take(&mut response_set),
        ),
    ] {
        let mut remove: Vec<Value> = Vec::new();
        for action in actions[side].as_array().into_iter().flatten() {
            let name = action["name"].as_str().unwrap_or_default();
            match action["action"]["type"].as_str() {
                Some("Set") => {
                    let value = action["action"]["set"]["value"].as_str().unwrap_or("");
                    // HAProxy's dynamic values (%[req.hdr(host)], ...) have no Gateway API form.
                    if value.contains("%[") {
                        out.ignored.push(format!(
                            "spec.httpHeaders.actions.{side} {name} (dynamic value {value:?})"
                        ));
                    } else {
                        set.push(json!({"name": name, "value": value}));
                    }
                }
                Some("Delete") => remove.push(json!(name)),
                _ => out
                    .ignored
                    .push(format!("spec.httpHeaders.actions.{side} {name}")),
            }
        }
        if !set.is_empty() || !remove.is_empty() {
            let mut modifier = json!({});
            if !set.is_empty() {
                modifier["set"] = json!(set);
            }
            if !remove.is_empty() {
                modifier["remove"] = json!(remove);
            }
            out.filters.push(json!({"type": filter, field: modifier}));
        }
    }
    out
}

/// An HAProxy time (`5000`, `30s`, `2m`, `1h`, `1d`; milliseconds when bare) as a Gateway API
/// duration (`1h2m3s4ms`: at most five digits a unit).
pub fn gateway_duration(haproxy: &str) -> Option<String> {
    let s = haproxy.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().ok()?;
    let ms = match &s[digits..] {
        "" | "ms" => n,
        "us" => n.div_ceil(1000),
        "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (sec, milli) = (rest / 1000, rest % 1000);
    if h > 99_999 {
        return None;
    }
    let mut out = String::new();
    for (v, unit) in [(h, "h"), (m, "m"), (sec, "s"), (milli, "ms")] {
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
        }
    }
    Some(if out.is_empty() { "0s".into() } else { out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::route::RouteSpec;

    #[test]
    fn haproxy_times_become_gateway_durations() {
        assert_eq!(gateway_duration("5000").as_deref(), Some("5s"));
        assert_eq!(gateway_duration("5500ms").as_deref(), Some("5s500ms"));
        assert_eq!(gateway_duration("90s").as_deref(), Some("1m30s"));
        assert_eq!(gateway_duration("2d").as_deref(), Some("48h"));
        assert_eq!(gateway_duration("1500us").as_deref(), Some("2ms"));
        assert_eq!(gateway_duration("0s").as_deref(), Some("0s"));
        assert_eq!(gateway_duration("5 minutes"), None);
        assert_eq!(gateway_duration("s"), None);
    }

    #[test]
    fn header_actions_and_annotations_are_realised_or_named() {
        let mut r = Route::new(
            "web",
            RouteSpec {
                http_headers: Some(serde_json::json!({"actions": {
                    "request": [
                        {"name": "X-Env", "action": {"type": "Set", "set": {"value": "prod"}}},
                        {"name": "X-Debug", "action": {"type": "Delete"}},
                        {"name": "X-Host", "action": {"type": "Set", "set": {"value": "%[req.hdr(host)]"}}}
                    ],
                    "response": [{"name": "Server", "action": {"type": "Delete"}}]
                }})),
                ..Default::default()
            },
        );
        r.metadata.annotations = Some(
            [
                (TIMEOUT_ANNOTATION, "2m"),
                (HSTS_ANNOTATION, "max-age=31536000"),
                ("haproxy.router.openshift.io/ip_whitelist", "10.0.0.0/8"),
                ("haproxy.router.openshift.io/balance", "leastconn"),
                ("router.openshift.io/cookie_name", "shop"),
                ("example.com/other", "x"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let o = options(&r, true);
        assert_eq!(o.request_timeout.as_deref(), Some("2m"));
        assert_eq!(o.refused, ["haproxy.router.openshift.io/ip_whitelist"]);
        assert_eq!(
            o.ignored,
            [
                "haproxy.router.openshift.io/balance",
                "spec.httpHeaders.actions.request X-Host (dynamic value \"%[req.hdr(host)]\")"
            ]
        );
        assert_eq!(
            o.filters,
            [
                json!({"type": "RequestHeaderModifier", "requestHeaderModifier": {
                    "set": [{"name": "X-Env", "value": "prod"}], "remove": ["X-Debug"]}}),
                json!({"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                    "set": [{"name": "Strict-Transport-Security", "value": "max-age=31536000"}],
                    "remove": ["Server"]}}),
            ]
        );
        // HSTS only over TLS.
        assert_eq!(options(&r, false).filters.len(), 2);
        assert!(
            !options(&r, false).filters[1]
                .to_string()
                .contains("Strict-Transport-Security")
        );
    }
}
