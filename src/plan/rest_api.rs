//! A REST API: which live API its manifest manages (owned, or adopted by name), and its create or
//! update (description, endpoint types, tags).
//!
//! Must not: plan the API's resources, methods or deployments (`integrations.rs`), or its deletion
//! (`prune.rs`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::controls::{effective_api, overlay_tags};
use super::{Action, Change, diff_tags, is_adoption, tag_writes};
use crate::desired::{DesiredSet, DriftPolicy, EndpointType, Resource, ResourceKey, RestApi, RestApiTarget};
use crate::live::LiveApi;
use crate::ownership;

/// One write to a REST API, in the order they are made.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiOp {
    /// CreateRestApi with every tag (the manifest's, ownership, and the records of the
    /// integrations that will live on it); not safe to repeat blindly (SPEC §4).
    Create { tags: BTreeMap<String, String> },
    /// UpdateRestApi `replace /description`.
    SetDescription(String),
    /// UpdateRestApi `replace /endpointConfiguration/types/<old>` with `<new>`, per pair.
    ReplaceEndpointTypes(Vec<(String, String)>),
    /// UpdateRestApi with these operations (the settings, SPEC §12).
    Patch(Vec<Patch>),
    /// TagResource.
    Tag(BTreeMap<String, String>),
    /// UntagResource (the operator's own keys only).
    Untag(Vec<String>),
}

/// One UpdateRestApi patch operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// `add`, `remove` or `replace`.
    pub op: &'static str,
    pub path: String,
    pub value: Option<String>,
}

impl Patch {
    fn replace(path: &str, value: String) -> Patch {
        Patch {
            op: "replace",
            path: path.into(),
            value: Some(value),
        }
    }
}

/// The settings' changes and the patch operations that make them: each only when the manifest
/// sets it and it differs from live; `binaryMediaTypes` compared as a set and changed one type at
/// a time (`add`/`remove /binaryMediaTypes/<type>`, `/` escaped as `~1`, as AWS takes it).
pub fn settings_changes(
    want: &crate::desired::ApiSettings,
    live: &crate::live::LiveApiSettings,
) -> (Vec<Change>, Vec<Patch>) {
    let (mut changes, mut patches) = (Vec::new(), Vec::new());
    if let Some(types) = &want.binary_media_types {
        let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
        let (w, l) = (set(types), set(&live.binary_media_types));
        if w != l {
            changes.push(Change::new(
                "binaryMediaTypes",
                l.iter().cloned().collect::<Vec<_>>(),
                w.iter().cloned().collect::<Vec<_>>(),
            ));
            let esc = |t: &str| format!("/binaryMediaTypes/{}", t.replace('~', "~0").replace('/', "~1"));
            for t in l.difference(&w) {
                patches.push(Patch {
                    op: "remove",
                    path: esc(t),
                    value: None,
                });
            }
            for t in w.difference(&l) {
                patches.push(Patch {
                    op: "add",
                    path: esc(t),
                    value: None,
                });
            }
        }
    }
    if let Some(n) = want.minimum_compression_size
        && live.minimum_compression_size != Some(n)
    {
        changes.push(Change::new(
            "minimumCompressionSize",
            live.minimum_compression_size.map_or(Value::Null, Value::from),
            n,
        ));
        patches.push(Patch::replace("/minimumCompressionSize", n.to_string()));
    }
    if let Some(s) = &want.api_key_source
        && *s != live.api_key_source
    {
        changes.push(Change::new(
            "apiKeySource",
            live.api_key_source.clone(),
            s.clone(),
        ));
        patches.push(Patch::replace("/apiKeySource", s.clone()));
    }
    if let Some(b) = want.disable_execute_api_endpoint
        && b != live.disable_execute_api_endpoint
    {
        changes.push(Change::new(
            "disableExecuteApiEndpoint",
            live.disable_execute_api_endpoint,
            b,
        ));
        patches.push(Patch::replace("/disableExecuteApiEndpoint", b.to_string()));
    }
    if let Some(p) = &want.policy
        && live.policy.as_ref() != Some(p)
    {
        let before = live.policy.clone().unwrap_or(Value::Null);
        super::diff_values(&crate::path::Path::root().key("policy"), &before, p, &mut changes);
        patches.push(Patch::replace("/policy", p.to_string()));
    }
    (changes, patches)
}

/// What to do to one REST API.
#[derive(Debug, Clone, PartialEq)]
pub struct RestApiPlan {
    /// The live API the manifest manages (`None`: it is to be created).
    pub live: Option<LiveApi>,
    pub action: Action,
    pub changes: Vec<Change>,
    /// Why nothing may be written.
    pub refusal: Option<String>,
    pub ops: Vec<ApiOp>,
    /// The changes are drift left in place (`driftPolicy: Report`).
    pub drifted: bool,
    /// The plan only adopts the API: a `noop` whose ops write the ownership tags (SPEC §11).
    pub adopted: bool,
}

/// The ownership records of the (valid) integrations that target the `RestApi` manifest `api` by
/// `ref`, to be set when that API is created. Records too long to be tags are left out (their
/// integration fails on its own with the reason).
pub fn creation_records(
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
            Resource::ApiIntegration(ai) if matches!(&ai.rest_api, RestApiTarget::Ref(n) if n == api) => {
                ownership::IntegrationRecord::of(ai).owned_by(owner).tag().ok()
            }
            _ => None,
        })
        .collect()
}

/// Finds the live API a `RestApi` manifest manages: the one tagged as its manifest by this
/// instance (`owner`), else the one unowned API of that name (adoption). Two candidates are an
/// error, never a guess; an API of that name that another instance owns fails the manifest.
pub fn match_api<'a>(
    key: &ResourceKey,
    name: &str,
    apis: &'a [LiveApi],
    owner: &str,
) -> Result<Option<&'a LiveApi>, String> {
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

/// Plans one REST API against the pass's listing. `records` are the ownership records of the
/// integrations that will live on it, set at creation with the other tags.
pub fn plan_rest_api(
    key: &ResourceKey,
    api: &RestApi,
    listed: &[LiveApi],
    records: &BTreeMap<String, String>,
    owner: &str,
) -> RestApiPlan {
    let mut tags = api.tags.clone();
    tags.extend(ownership::owner_tags(key, api.deletion_policy, owner));
    let refused = |message: String, live: Option<LiveApi>| RestApiPlan {
        live,
        action: Action::Noop,
        changes: Vec::new(),
        refusal: Some(message),
        ops: Vec::new(),
        drifted: false,
        adopted: false,
    };
    let live = match match_api(key, &api.name, listed, owner) {
        Ok(l) => l.cloned(),
        Err(m) => return refused(m, None),
    };
    let Some(live) = live else {
        let mut all = tags;
        all.extend(records.iter().map(|(k, v)| (k.clone(), v.clone())));
        let changes = vec![Change::new("name", Value::Null, api.name.clone())];
        if all.len() > ownership::MAX_TAGS {
            let mut p = refused(too_many_tags(&key.to_string(), all.len()), None);
            (p.action, p.changes) = (Action::Create, changes);
            return p;
        }
        return RestApiPlan {
            live: None,
            action: Action::Create,
            changes,
            refusal: None,
            ops: vec![ApiOp::Create { tags: all }],
            drifted: false,
            adopted: false,
        };
    };
    let policy = api.meta.controls.drift_policy;
    if policy == DriftPolicy::Ignore {
        return RestApiPlan {
            live: Some(live),
            action: Action::Noop,
            changes: Vec::new(),
            refusal: None,
            ops: Vec::new(),
            drifted: false,
            adopted: false,
        };
    }
    let api = &effective_api(api, live.description.as_deref(), &live.tags);
    let tags = overlay_tags(&tags, &live.tags, &api.meta.controls.ignore_differences);
    let mut changes = Vec::new();
    let mut ops = Vec::new();
    if let Some(d) = &api.description
        && live.description.as_ref() != Some(d)
    {
        changes.push(Change::new(
            "description",
            live.description.clone().map_or(Value::Null, Value::from),
            d.clone(),
        ));
        ops.push(ApiOp::SetDescription(d.clone()));
    }
    let mut refusal = None;
    if let Some(change) = endpoint_change(api.endpoint_types.as_deref(), &live.endpoint_types) {
        let want: Vec<String> = change
            .after
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        match endpoint_replacements(&live.endpoint_types, &want) {
            Ok(pairs) => ops.push(ApiOp::ReplaceEndpointTypes(pairs)),
            Err(m) => {
                refusal = Some(format!(
                    "REST API {}: BadRequestException: {m} (UpdateRestApi)",
                    live.id
                ));
            }
        }
        changes.push(change);
    }
    let (settings, patches) = settings_changes(&api.settings, &live.settings);
    changes.extend(settings);
    if !patches.is_empty() {
        ops.push(ApiOp::Patch(patches));
    }
    // Integration and stage records belong to the integrations (their own plan), not to the API's tags.
    let own_tags: BTreeMap<String, String> = live
        .tags
        .iter()
        .filter(|(k, _)| !ownership::is_api_record(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (set, remove) = tag_writes(&own_tags, &tags);
    let adopted = changes.is_empty() && refusal.is_none() && is_adoption(&own_tags, &set, &remove);
    if !adopted {
        diff_tags(&own_tags, &tags, &mut changes);
    }
    let count = ownership::tag_count_after(&live.tags, &set, &remove);
    if !set.is_empty() && count > ownership::MAX_TAGS {
        refusal = Some(format!(
            "REST API {}: BadRequestException: {} (TagResource)",
            live.id,
            too_many_tags(&live.id, count)
        ));
    }
    if !set.is_empty() {
        ops.push(ApiOp::Tag(set));
    }
    if !remove.is_empty() {
        ops.push(ApiOp::Untag(remove));
    }
    let drifted = policy == DriftPolicy::Report && !changes.is_empty();
    RestApiPlan {
        live: Some(live),
        action: super::update_or_noop(&changes),
        changes,
        ops: if refusal.is_some() || drifted {
            Vec::new()
        } else {
            ops
        },
        refusal,
        drifted,
        adopted,
    }
}

/// The `endpointConfiguration.types` change of a REST API, if the manifest sets the types and
/// they differ from live (compared as sets: order never makes a change). `None` in the manifest
/// is never compared, so AWS's default (`EDGE`) and an adopted API's types make no change.
pub fn endpoint_change(desired: Option<&[EndpointType]>, live: &[String]) -> Option<Change> {
    let want: Vec<String> = desired?.iter().map(|t| t.as_str().to_owned()).collect();
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    if set(&want) == set(live) {
        return None;
    }
    Some(Change::new("endpointConfiguration.types", live.to_vec(), want))
}

/// The `(old, new)` pairs of `replace /endpointConfiguration/types/<old>` patch operations that
/// turn `live` into `want`, the only way UpdateRestApi changes endpoint types. AWS holds one type
/// per API, so a change in the number of types cannot be patched and is an error.
pub fn endpoint_replacements(live: &[String], want: &[String]) -> Result<Vec<(String, String)>, String> {
    let old: Vec<&String> = live.iter().filter(|t| !want.contains(t)).collect();
    let new: Vec<&String> = want.iter().filter(|t| !live.contains(t)).collect();
    if old.len() != new.len() {
        return Err(format!(
            "endpointConfiguration.types: cannot change {live:?} into {want:?} (AWS takes one endpoint type per REST API and changes it by replacement)"
        ));
    }
    Ok(old.into_iter().cloned().zip(new.into_iter().cloned()).collect())
}

/// Why a REST API cannot carry the tags it would need.
pub fn too_many_tags(api: &str, count: usize) -> String {
    format!(
        "REST API {api} would carry {count} tags, over API Gateway's limit of {} (its manifest's tags, \
         3 ownership tags and one record per ApiIntegration on it)",
        ownership::MAX_TAGS
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::desired::EndpointType::{Edge, Regional};
    use crate::desired::{DeletionPolicy, Kind};

    fn api(name: &str) -> RestApi {
        RestApi {
            meta: crate::plan::fixtures::integration(name, "POST", "/x").meta,
            name: name.into(),
            description: Some("d".into()),
            endpoint_types: None,
            settings: Default::default(),
            stages: BTreeMap::new(),
            tags: BTreeMap::new(),
            deletion_policy: DeletionPolicy::Retain,
        }
    }

    fn live(id: &str, name: &str, tags: BTreeMap<String, String>) -> LiveApi {
        LiveApi {
            id: id.into(),
            name: name.into(),
            description: Some("d".into()),
            endpoint_types: vec!["EDGE".into()],
            settings: Default::default(),
            tags,
        }
    }

    #[test]
    fn endpoint_types_compare_as_sets_and_unset_never_changes() {
        let live = vec!["EDGE".to_owned()];
        assert_eq!(endpoint_change(None, &live), None);
        assert_eq!(endpoint_change(Some(&[Edge]), &live), None);
        let c = endpoint_change(Some(&[Regional]), &live).unwrap();
        assert_eq!(c.path, "endpointConfiguration.types");
        assert_eq!((c.before, c.after), (json!(["EDGE"]), json!(["REGIONAL"])));
        assert_eq!(
            endpoint_replacements(&live, &["REGIONAL".to_owned()]),
            Ok(vec![("EDGE".to_owned(), "REGIONAL".to_owned())])
        );
        assert!(endpoint_replacements(&live, &["EDGE".to_owned(), "REGIONAL".to_owned()]).is_err());
    }

    #[test]
    fn an_unowned_api_of_that_name_is_adopted_by_tagging_it() {
        let key = ResourceKey::new(Kind::RestApi, "api");
        let p = plan_rest_api(
            &key,
            &api("api"),
            &[live("a1", "api", BTreeMap::new())],
            &BTreeMap::new(),
            "default",
        );
        // Nothing but the ownership tags: a noop (SPEC §11) that writes them.
        assert_eq!((p.action, p.adopted), (Action::Noop, true), "{:?}", p.changes);
        assert!(p.changes.is_empty());
        assert!(matches!(p.ops.as_slice(), [ApiOp::Tag(t)] if t.contains_key(ownership::MANAGED_BY)));
        // With a description to change too, the tags are shown with it.
        let mut changed = api("api");
        changed.description = Some("new".into());
        let p = plan_rest_api(
            &key,
            &changed,
            &[live("a1", "api", BTreeMap::new())],
            &BTreeMap::new(),
            "default",
        );
        assert_eq!(p.action, Action::Update);
        assert!(p.changes.iter().any(|c| c.path.starts_with("tags")));
    }

    #[test]
    fn an_api_another_owner_holds_is_refused_and_two_unowned_are_ambiguous() {
        let key = ResourceKey::new(Kind::RestApi, "api");
        let theirs = ownership::owner_tags(&key, DeletionPolicy::Retain, "team-b");
        let p = plan_rest_api(
            &key,
            &api("api"),
            &[live("a1", "api", theirs)],
            &BTreeMap::new(),
            "team-a",
        );
        assert!(
            p.refusal.as_deref().is_some_and(|m| m.contains("team-b")),
            "{p:?}"
        );
        let twins = [
            live("a1", "api", BTreeMap::new()),
            live("a2", "api", BTreeMap::new()),
        ];
        let p = plan_rest_api(&key, &api("api"), &twins, &BTreeMap::new(), "default");
        assert!(p.refusal.as_deref().is_some_and(|m| m.starts_with("ambiguous")));
        assert!(p.ops.is_empty());
    }

    #[test]
    fn a_missing_api_is_created_with_the_records_of_its_integrations() {
        let key = ResourceKey::new(Kind::RestApi, "api");
        let records = BTreeMap::from([(
            "sfn-operator.dev/integration/x".to_owned(),
            "v1 POST /x Delete".to_owned(),
        )]);
        let p = plan_rest_api(&key, &api("api"), &[], &records, "default");
        assert_eq!(p.action, Action::Create);
        let [ApiOp::Create { tags }] = p.ops.as_slice() else {
            panic!("{:?}", p.ops)
        };
        assert!(
            tags.contains_key("sfn-operator.dev/integration/x") && tags.contains_key(ownership::MANAGED_BY)
        );
    }
}
