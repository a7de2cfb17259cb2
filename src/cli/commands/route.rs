//! `kubectl dc route`: a Route's backend weights, read and written, and its traffic shift.

use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};

use crate::api::keys;
use crate::api::route::Route;
use crate::cli::{CliError, format, view};

/// A Route, or the error kubectl would print for a missing one.
pub async fn get_route(client: &Client, ns: &str, name: &str) -> Result<Route, CliError> {
    Api::<Route>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?
        .ok_or_else(|| CliError::User(format::not_found::<Route>(name)))
}

/// `route show`.
pub async fn route_show(client: &Client, ns: &str, name: &str) -> Result<String, CliError> {
    Ok(format::format_route(&get_route(client, ns, name).await?))
}

/// `route set-weights`: new weights for some of a Route's backends.
pub async fn route_set_weights(
    client: &Client,
    ns: &str,
    name: &str,
    set: &[(String, i32)],
) -> Result<String, CliError> {
    let route = get_route(client, ns, name).await?;
    write_weights(client, ns, &route, &view::new_weights(&route, set)?).await
}

/// `route switch`: all traffic to one backend.
pub async fn route_switch(
    client: &Client,
    ns: &str,
    name: &str,
    service: &str,
) -> Result<String, CliError> {
    let route = get_route(client, ns, name).await?;
    write_weights(client, ns, &route, &view::switch_weights(&route, service)?).await
}

/// Writes the weights of each of the Route's backends, in order; returns it as `route show`.
async fn write_weights(
    client: &Client,
    ns: &str,
    route: &Route,
    weights: &[(String, i32)],
) -> Result<String, CliError> {
    let api: Api<Route> = Api::namespaced(client.clone(), ns);
    let mut to = route.spec.to.clone();
    to.weight = Some(weights[0].1);
    let alternates: Vec<_> = route
        .spec
        .alternate_backends
        .clone()
        .unwrap_or_default()
        .into_iter()
        .zip(weights.iter().skip(1))
        .map(|(mut b, (_, w))| {
            b.weight = Some(*w);
            b
        })
        .collect();
    let mut spec = serde_json::json!({"to": to});
    if !alternates.is_empty() {
        spec["alternateBackends"] = serde_json::json!(alternates);
    }
    let patch = serde_json::json!({"spec": spec});
    let updated = api
        .patch(
            &route.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(format::format_route(&updated))
}

/// `route shift promote [--full]|pause|resume|abort`: the request, through the Route's annotation (as a
/// GitOps repository would write it), and the operator's answer.
pub async fn shift_request(
    client: &Client,
    ns: &str,
    name: &str,
    verb: &str,
) -> Result<String, CliError> {
    get_route(client, ns, name).await?;
    let api: Api<Route> = Api::namespaced(client.clone(), ns);
    let key = format!("{}{verb}", keys::SHIFT_REQUEST_PREFIX);
    let message = super::send_request(api, name, verb, &key, &[], |route| {
        Some(&route.status.as_ref()?.shift.as_ref()?.requests)
    })
    .await?;
    Ok(format!("{message}\n"))
}

/// `route shift status`: the shift's progress, until it ends (with `watch`); an error when it
/// failed or was aborted.
pub async fn shift_status(
    client: &Client,
    ns: &str,
    name: &str,
    watch: bool,
    timeout: Option<std::time::Duration>,
) -> Result<String, CliError> {
    use std::io::Write;
    let api: Api<Route> = Api::namespaced(client.clone(), ns);
    let route = get_route(client, ns, name).await?;
    let mut last = String::new();
    let report = |route: &Route| -> Option<Result<String, CliError>> {
        let (line, end) = format::shift_progress(route);
        if let Some(end) = end {
            return Some(
                end.map(|m| format!("{m}\n"))
                    .map_err(CliError::RolloutFailed),
            );
        }
        if line != last {
            println!("{line}");
            let _ = std::io::stdout().flush();
            last = line;
        }
        None
    };
    super::follow(api, name, &route, report, watch, timeout, "the shift").await
}
