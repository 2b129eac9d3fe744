//! One REST API: find the live API its manifest manages (owned, or adopted by name), plan it, and
//! (in `Apply` mode) create it — with the ownership records of the integrations that will live on
//! it — or update its description, endpoint types and tags.
//!
//! Must not: list APIs itself (the pass lists them once and shares the list), touch the API's
//! resources, methods or deployments (`integration.rs`), or delete an API (`prune.rs`).

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;

use super::{Mode, failed};
use crate::aws::{Aws, AwsError, create_once, retry};
use crate::desired::{DesiredSet, Kind, Resource, ResourceKey};
use crate::ownership;
use crate::plan;
use crate::report::{Action, Change, ResourceReport, Status};

/// The ownership records of the (valid) integrations that target the `RestApi` manifest `api` by
/// `ref`, to be set when that API is created. Records too long to be tags are left out (their
/// integration fails on its own with the reason).
pub(super) fn creation_records(
    desired: &DesiredSet,
    api: &str,
    invalid: &BTreeSet<&ResourceKey>,
    owner: &str,
) -> BTreeMap<String, String> {
    desired
        .resources
        .iter()
        .filter(|r| !invalid.contains(&r.key()))
        .filter_map(|r| match r {
            Resource::ApiIntegration(ai)
                if matches!(&ai.rest_api, crate::desired::RestApiTarget::Ref(n) if n == api) =>
            {
                ownership::IntegrationRecord::of(ai).owned_by(owner).tag().ok()
            }
            _ => None,
        })
        .collect()
}

/// Finds the live API a `RestApi` manifest manages: the one tagged as its manifest by this
/// instance (`owner`), else the one unowned API of that name (adoption). Two candidates are an
/// error, never a guess; an API of that name that another instance owns fails the manifest.
pub(super) fn match_api<'a>(
    key: &ResourceKey,
    name: &str,
    apis: &'a [crate::aws::LiveApi],
    owner: &str,
) -> Result<Option<&'a crate::aws::LiveApi>, String> {
    let owned: Vec<_> = apis
        .iter()
        .filter(|a| ownership::owned_by(&a.tags, owner).as_ref() == Some(key))
        .collect();
    match owned.as_slice() {
        [one] => return Ok(Some(one)),
        [] => {}
        many => {
            return Err(format!(
                "ambiguous: {} live REST APIs are tagged as {key}",
                many.len()
            ));
        }
    }
    if let Some((a, why)) = apis
        .iter()
        .filter(|a| a.name == name)
        .find_map(|a| ownership::foreign_owner(&a.tags, owner).map(|why| (a, why)))
    {
        return Err(format!("REST API {name:?} ({}) is {why}", a.id));
    }
    let unowned: Vec<_> = apis
        .iter()
        .filter(|a| a.name == name && !a.tags.contains_key(ownership::MANAGED_BY))
        .collect();
    match unowned.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(format!(
            "ambiguous: {} live REST APIs are named {name:?} and no ownership tag tells them apart ({})",
            many.len(),
            many.iter().map(|a| a.id.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Reads (from the shared list), plans and applies one REST API. `records` are the ownership
/// records of the integrations that will live on it, set at creation with the other tags (so an
/// API created in this pass needs no TagResource for them). Returns the report and, for an API
/// created in this pass, its live form.
pub(super) async fn reconcile_api(
    aws: &Aws,
    api: &crate::desired::RestApi,
    apis: &[crate::aws::LiveApi],
    records: &BTreeMap<String, String>,
    owner: &str,
    mode: Mode,
    deadline: Instant,
) -> (ResourceReport, Option<crate::aws::LiveApi>) {
    let key = ResourceKey::new(Kind::RestApi, api.meta.name.clone());
    let mut tags = api.tags.clone();
    tags.extend(ownership::owner_tags(&key, api.deletion_policy, owner));
    let live = match match_api(&key, &api.name, apis, owner) {
        Ok(l) => l,
        Err(m) => return (failed(key, m), None),
    };
    let mut rep = ResourceReport {
        id: live.map(|l| l.id.clone()),
        ..ResourceReport::new(key.clone(), Status::Synced)
    };
    let Some(live) = live else {
        rep.action = Action::Create;
        rep.changes.push(Change {
            path: "name".into(),
            before: serde_json::Value::Null,
            after: api.name.clone().into(),
        });
        if mode == Mode::Diff {
            rep.status = Status::Pending;
            return (rep, None);
        }
        let mut all = tags.clone();
        all.extend(records.iter().map(|(k, v)| (k.clone(), v.clone())));
        if all.len() > ownership::MAX_TAGS {
            rep.status = Status::Failed;
            rep.message = Some(too_many_tags(&key.to_string(), all.len()));
            return (rep, None);
        }
        // CreateRestApi is not idempotent: after a lost answer, look for the API the first
        // attempt may have made (it carries this manifest's tag from birth) before sending again.
        let find = || async {
            let listed = aws.list_apis().await?;
            Ok(listed
                .into_iter()
                .find(|a| ownership::owned_by(&a.tags, owner).as_ref() == Some(&key))
                .map(|a| a.id))
        };
        match create_once(deadline, || aws.create_api(api, &all), find).await {
            Ok(id) => {
                rep.id = Some(id.clone());
                let created = crate::aws::LiveApi {
                    id,
                    name: api.name.clone(),
                    description: api.description.clone(),
                    endpoint_types: api
                        .endpoint_types
                        .as_deref()
                        .unwrap_or(&[crate::desired::EndpointType::Edge])
                        .iter()
                        .map(|t| t.as_str().to_owned())
                        .collect(),
                    tags: all,
                };
                return (rep, Some(created));
            }
            Err(e) => {
                rep.status = Status::Failed;
                rep.message = Some(format!("creating REST API {:?}: {e}", api.name));
            }
        }
        return (rep, None);
    };
    if let Some(d) = &api.description
        && live.description.as_ref() != Some(d)
    {
        rep.changes.push(Change {
            path: "description".into(),
            before: live
                .description
                .clone()
                .map(Into::into)
                .unwrap_or(serde_json::Value::Null),
            after: d.clone().into(),
        });
    }
    let endpoint = plan::endpoint_change(api.endpoint_types.as_deref(), &live.endpoint_types);
    rep.changes.extend(endpoint.clone());
    // Integration records belong to the integrations (wave 2), not to the API's own tags.
    let live_tags: BTreeMap<String, String> = live
        .tags
        .iter()
        .filter(|(k, _)| !ownership::is_integration_record(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    plan::diff_tags(&live_tags, &tags, &mut rep.changes);
    if rep.changes.is_empty() {
        return (rep, None);
    }
    rep.action = Action::Update;
    if mode == Mode::Diff {
        rep.status = Status::Pending;
        return (rep, None);
    }
    let result = async {
        if let Some(d) = &api.description
            && live.description.as_ref() != Some(d)
        {
            retry(deadline, || aws.set_api_description(&live.id, d)).await?;
        }
        if let Some(change) = &endpoint {
            let want: Vec<String> = change
                .after
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let replacements = plan::endpoint_replacements(&live.endpoint_types, &want)
                .map_err(|m| AwsError::permanent("apigateway", "UpdateRestApi", "BadRequestException", m))?;
            retry(deadline, || aws.set_api_endpoint_types(&live.id, &replacements)).await?;
        }
        let to_set: BTreeMap<String, String> = tags
            .iter()
            .filter(|(k, v)| live.tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let to_remove: Vec<String> = live_tags
            .keys()
            .filter(|k| k.starts_with("sfn-operator.dev/") && !tags.contains_key(*k))
            .cloned()
            .collect();
        let count = ownership::tag_count_after(&live.tags, &to_set, &to_remove);
        if !to_set.is_empty() && count > ownership::MAX_TAGS {
            return Err(AwsError::permanent(
                "apigateway",
                "TagResource",
                "BadRequestException",
                too_many_tags(&live.id, count),
            ));
        }
        if !to_set.is_empty() {
            retry(deadline, || aws.tag_api(&live.id, &to_set)).await?;
        }
        if !to_remove.is_empty() {
            retry(deadline, || aws.untag_api(&live.id, &to_remove)).await?;
        }
        Ok::<(), AwsError>(())
    }
    .await;
    if let Err(e) = result {
        rep.status = Status::Failed;
        rep.message = Some(format!("REST API {}: {e}", live.id));
    }
    (rep, None)
}

pub(super) fn too_many_tags(api: &str, count: usize) -> String {
    format!(
        "REST API {api} would carry {count} tags, over API Gateway's limit of {} (its manifest's tags, \
         3 ownership tags and one record per ApiIntegration on it)",
        ownership::MAX_TAGS
    )
}
