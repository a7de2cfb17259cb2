//! `kubectl dc tag`, `import-image` and `describe is`: ImageStream tags written, imports asked
//! for and waited on, streams described (`cli::images` decides and words them).

use std::time::Duration;

use futures::TryStreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::FIELD_MANAGER;
use crate::api::image_stream::{FROM_DOCKER_IMAGE, ImageStream, TagFrom};
use crate::cli::images::{self, ImportPlan};
use crate::cli::{CliError, format};
use crate::client::image_tags::set_tag;

/// How long `import-image` waits for the operator's import.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of a tag written by `tag` or `import-image`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TagOptions {
    pub alias: bool,
    pub scheduled: bool,
    pub insecure: bool,
    pub reference: bool,
}

pub async fn get_stream(client: &Client, ns: &str, name: &str) -> Result<ImageStream, CliError> {
    Api::<ImageStream>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?
        .ok_or_else(|| CliError::User(format::not_found::<ImageStream>(name)))
}

/// Sets tag `tag` of `ns/stream` to follow `from` (the stream is created if missing), as the
/// plugin's field manager; the stream as written.
async fn write_tag(
    client: &Client,
    ns: &str,
    stream: &str,
    tag: &str,
    from: &TagFrom,
    options: TagOptions,
) -> Result<ImageStream, CliError> {
    let mut tag_ref = json!({"name": tag, "from": from});
    if from.kind == FROM_DOCKER_IMAGE {
        tag_ref["importPolicy"] =
            json!({"scheduled": options.scheduled, "insecure": options.insecure});
        if options.reference {
            tag_ref["reference"] = true.into();
        }
    }
    Ok(set_tag(client, ns, stream, &tag_ref, FIELD_MANAGER).await?)
}

/// `tag SOURCE DEST...`: each destination follows SOURCE, as `oc tag` sets it.
pub async fn tag(
    client: &Client,
    ns: &str,
    source: &str,
    destinations: &[String],
    options: TagOptions,
) -> Result<String, CliError> {
    let source = images::parse_source(source).map_err(CliError::User)?;
    let destinations = destinations
        .iter()
        .map(|d| images::parse_destination(d, ns))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError::User)?;
    if options.alias {
        let import_flags = options.scheduled || options.insecure;
        images::check_alias(&source, ns, &destinations, import_flags).map_err(CliError::User)?;
    }
    let source_stream = if source.stream.is_empty() || options.alias {
        None
    } else {
        let source_ns = source.namespace.as_deref().unwrap_or(ns);
        Some(get_stream(client, source_ns, &source.stream).await?)
    };
    let (from, shown) =
        images::tag_from(&source, options.alias, source_stream.as_ref()).map_err(CliError::User)?;
    let mut out = String::new();
    for (dest_ns, stream, tag) in destinations {
        write_tag(client, &dest_ns, &stream, &tag, &from, options).await?;
        let named = format!("{stream}:{tag}");
        out.push_str(&images::tag_message(
            &named,
            &dest_ns,
            ns,
            &shown,
            options.alias,
            options.scheduled,
        ));
    }
    Ok(out)
}

/// `import-image NAME[:TAG] [--from IMAGE] [--confirm]`: asks the operator to import the tag
/// now, waits for the outcome, and describes the stream.
pub async fn import_image(
    client: &Client,
    ns: &str,
    target: &str,
    from: Option<&str>,
    confirm: bool,
    options: TagOptions,
) -> Result<String, CliError> {
    let (name, tag) = target.split_once(':').unwrap_or((target, "latest"));
    let api: Api<ImageStream> = Api::namespaced(client.clone(), ns);
    let stream = api.get_opt(name).await?;
    let plan =
        images::import_plan(stream.as_ref(), name, tag, from, confirm).map_err(CliError::User)?;
    let written = match plan {
        ImportPlan::Create { from } => {
            let from = TagFrom {
                kind: FROM_DOCKER_IMAGE.into(),
                name: from,
                namespace: None,
            };
            write_tag(client, ns, name, tag, &from, options).await?
        }
        // A new generation of the tag asks for its re-import.
        ImportPlan::Again { index, .. } => {
            let generation = stream
                .as_ref()
                .map_or(0, crate::image::import::reimport_generation);
            let path = format!("/spec/tags/{index}");
            let patch: json_patch::Patch = serde_json::from_value(json!([
                {"op": "test", "path": format!("{path}/name"), "value": tag},
                {"op": "add", "path": format!("{path}/generation"), "value": generation},
            ]))
            .map_err(|e| CliError::User(e.to_string()))?;
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            };
            api.patch(name, &params, &Patch::<()>::Json(patch)).await?
        }
    };
    let generation = written.metadata.generation.unwrap_or(1);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let wait = async {
        let mut events = std::pin::pin!(watcher(api.clone(), config).applied_objects());
        while let Some(stream) = events
            .try_next()
            .await
            .map_err(|e| CliError::User(e.to_string()))?
        {
            if let Some(outcome) = images::import_outcome(&stream, tag, generation) {
                return outcome.map(|_| stream).map_err(CliError::User);
            }
        }
        Err(CliError::User("the watch ended".into()))
    };
    let imported = tokio::time::timeout(IMPORT_TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| {
            Err(CliError::User(format!(
                "the import was not done within {}s: is the cutover operator running?",
                IMPORT_TIMEOUT.as_secs()
            )))
        })?;
    Ok(format!(
        "{} imported\n\n{}",
        format::object_name::<ImageStream>(&imported.name_any()),
        format::format_image_stream(&imported)
    ))
}

/// `describe is NAME`.
pub async fn describe_image_stream(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<String, CliError> {
    Ok(format::format_image_stream(
        &get_stream(client, ns, name).await?,
    ))
}
