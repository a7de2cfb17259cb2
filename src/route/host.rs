//! A Route's host: the one it names, or the one OpenShift would generate; and who may claim it.
//!
//! OpenShift's API server fills an empty `spec.host` with `<name>-<namespace>.<domain>` (the
//! ingress domain); `spec.subdomain` makes the router serve `<subdomain>.<domain>` without
//! writing it. Its router admits the oldest Route of a host: later Routes in the same namespace
//! share the host on other paths, Routes in other namespaces are refused (HostAlreadyClaimed).

use std::cmp::Ordering;

use kube::ResourceExt;

use crate::api::route::Route;

/// The host a Route is served on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// Generated from the Route's name: written to `spec.host`, as OpenShift's API server does.
    pub generated: bool,
}

/// Why a Route has no usable host: (reason, message).
pub type HostError = (&'static str, String);

/// The host of `route`, given the ingress domain (`--route-domain`).
pub fn effective_host(route: &Route, domain: Option<&str>) -> Result<Host, HostError> {
    use crate::api::conditions::route::{INVALID_HOST, NO_HOST_VALUE};
    let spec = &route.spec;
    let domain = domain
        .map(|d| d.trim_matches('.'))
        .filter(|d| !d.is_empty());
    let host = match (
        spec.host.as_deref().filter(|h| !h.is_empty()),
        spec.subdomain.as_deref().filter(|s| !s.is_empty()),
        domain,
    ) {
        (Some(h), _, _) => Host {
            name: h.to_ascii_lowercase(),
            generated: false,
        },
        (None, Some(sub), Some(domain)) => Host {
            name: format!("{sub}.{domain}"),
            generated: false,
        },
        (None, None, Some(domain)) => Host {
            name: format!(
                "{}-{}.{domain}",
                route.name_any(),
                route.namespace().unwrap_or_default()
            ),
            generated: true,
        },
        (None, _, None) => {
            return Err((
                NO_HOST_VALUE,
                "no host value was defined for the route: set spec.host, or start the operator with --route-domain so that routes without one are served on <name>-<namespace>.<domain>".into(),
            ));
        }
    };
    let problems = host_problems(&host.name);
    if problems.is_empty() {
        Ok(host)
    } else {
        Err((
            INVALID_HOST,
            format!("host name validation errors: {}", problems.join(", ")),
        ))
    }
}

/// What makes `host` an invalid DNS name (labels of at most 63 characters, 253 in all).
fn host_problems(host: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if host.len() > 253 {
        problems.push(format!(
            "spec.host: Invalid value: {host:?}: must be no more than 253 characters"
        ));
    }
    if host.split('.').any(|label| label.len() > 63) {
        problems.push(format!(
            "spec.host: Invalid value: {host:?}: must be no more than 63 characters in each label"
        ));
    }
    problems
}

/// The key a Route claims: its host, or `*.domain` for a Subdomain wildcard Route.
pub fn claim_key(route: &Route, host: &str) -> String {
    match route.spec.wildcard_policy.as_deref() {
        Some("Subdomain") => format!("*.{}", host.split_once('.').map_or(host, |(_, d)| d)),
        _ => host.to_string(),
    }
}

/// OpenShift's order of claimants: older first, then by uid.
fn older(a: &Route, b: &Route) -> Ordering {
    let created = |r: &Route| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
    created(a)
        .cmp(&created(b))
        .then_with(|| a.metadata.uid.cmp(&b.metadata.uid))
}

/// Whether `route` may serve `host` against the other Routes claiming the same key; the
/// refusal's message when not. `claimants` holds every Route of the key, `route` included.
pub fn claim(route: &Route, host: &str, claimants: &[&Route]) -> Result<(), String> {
    let mut ordered: Vec<&Route> = claimants.to_vec();
    if !ordered.iter().any(|r| r.metadata.uid == route.metadata.uid) {
        ordered.push(route);
    }
    ordered.sort_by(|a, b| older(a, b));
    let owner_namespace = ordered[0].namespace();
    let path = |r: &Route| r.spec.path.clone().unwrap_or_default();
    let mut admitted: Vec<&Route> = Vec::new();
    for r in &ordered {
        let same_path = admitted.iter().any(|a| path(a) == path(r));
        if r.namespace() == owner_namespace && !same_path {
            admitted.push(r);
        } else if r.metadata.uid == route.metadata.uid {
            let holder = admitted
                .iter()
                .find(|a| path(a) == path(route))
                .unwrap_or(&ordered[0]);
            return Err(if holder.namespace() == route.namespace() {
                format!(
                    "route {} already exposes {host} and is older",
                    holder.name_any()
                )
            } else {
                format!(
                    "a route in another namespace holds {host} and is older than {}",
                    route.name_any()
                )
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::route::RouteSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn route(ns: &str, name: &str, age: i64, path: Option<&str>) -> Route {
        let mut r = Route::new(
            name,
            RouteSpec {
                host: Some("shop.example.com".into()),
                path: path.map(Into::into),
                ..Default::default()
            },
        );
        r.metadata.namespace = Some(ns.into());
        r.metadata.uid = Some(format!("{ns}-{name}"));
        r.metadata.creation_timestamp = Some(Time(
            jiff::Timestamp::from_second(1_000_000 - age).expect("time"),
        ));
        r
    }

    #[test]
    fn hosts_are_generated_from_name_and_namespace_or_subdomain() {
        let mut r = route("shop", "web", 0, None);
        r.spec.host = None;
        assert_eq!(
            effective_host(&r, Some("apps.example.com")),
            Ok(Host {
                name: "web-shop.apps.example.com".into(),
                generated: true
            })
        );
        r.spec.subdomain = Some("store".into());
        assert_eq!(
            effective_host(&r, Some(".apps.example.com.")),
            Ok(Host {
                name: "store.apps.example.com".into(),
                generated: false
            })
        );
        let err = effective_host(&r, None).expect_err("no domain");
        assert_eq!(err.0, "NoHostValue");
        r.spec.subdomain = None;
        r.metadata.name = Some("a".repeat(60));
        let err = effective_host(&r, Some("apps.example.com")).expect_err("label too long");
        assert_eq!(err.0, "InvalidHost");
        assert!(err.1.contains("63 characters"), "{}", err.1);
    }

    #[test]
    fn the_oldest_route_claims_a_host_and_its_namespace_shares_it_by_path() {
        let old = route("shop", "old", 10, None);
        let api = route("shop", "api", 5, Some("/api"));
        let twin = route("shop", "twin", 3, None);
        let thief = route("evil", "thief", 1, Some("/other"));
        let all = [&old, &api, &twin, &thief];
        assert_eq!(claim(&old, "shop.example.com", &all), Ok(()));
        assert_eq!(claim(&api, "shop.example.com", &all), Ok(()));
        assert_eq!(
            claim(&twin, "shop.example.com", &all),
            Err("route old already exposes shop.example.com and is older".into())
        );
        assert_eq!(
            claim(&thief, "shop.example.com", &all),
            Err(
                "a route in another namespace holds shop.example.com and is older than thief"
                    .into()
            )
        );
        // An older route in another namespace takes the host from all of them.
        let first = route("evil", "first", 20, None);
        let all = [&old, &api, &first];
        assert!(claim(&old, "shop.example.com", &all).is_err());
        assert!(claim(&api, "shop.example.com", &all).is_err());
        assert_eq!(claim(&first, "shop.example.com", &all), Ok(()));
    }
}
