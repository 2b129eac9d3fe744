//! The integrations on one REST API: per integration, its ownership record, a move away from an
//! older method or path, and the writes on its method (path parts, method, integration,
//! responses); the stale integration records pruning removes from the API; and the stages that must
//! then be deployed so that each serves the configuration the API will hold (SPEC §4).
//!
//! Must not: plan the REST API itself (`rest_api.rs`) or decide which records are stale
//! (`prune.rs` does, from the whole desired set); it only places those decisions on this API.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::controls::effective_integration;
use super::prune::PruneRecord;
use super::rest_api::too_many_tags;
use super::rollout::{Progress, RolloutView};
use super::stage_rollout::{
    JointInput, StageInput, StageOp, StageRolloutPlan, applies, plan_joint, plan_stage, stage_tag_key,
};
use super::{Action, Change, diff_values, fingerprint};
use crate::desired::{ApiIntegration, DesiredSet, DriftPolicy, Kind, Resource, ResourceKey, RestApiTarget};
use crate::live::{
    AlarmState, LiveApi, LiveApiState, LiveIntegration, LiveMethod, LiveResource, LiveResponse,
};
use crate::ownership::{self, IntegrationRecord};
use crate::path::Path;

/// Everything known about one REST API when its integrations are planned.
#[derive(Debug, Clone, Copy)]
pub struct ApiInput<'a> {
    pub api_id: &'a str,
    /// The integrations in scope on this API, in manifest order.
    pub integrations: &'a [&'a ApiIntegration],
    pub live: &'a LiveApiState,
    /// The API's live tags (where the integrations' ownership records are kept).
    pub live_tags: &'a BTreeMap<String, String>,
    /// The stale records pruning removes from this API.
    pub prunes: &'a [PruneRecord],
    /// Every (method, path) a declared integration manages, in scope or not.
    pub claimed: &'a BTreeSet<(String, String)>,
    /// Every stage a declared integration deploys to on this API, in scope or not.
    pub declared_stages: &'a BTreeSet<String>,
    /// This instance's owner id.
    pub owner: &'a str,
    /// The states of the alarms the stages' rollouts name (`spec.rollout.alarms`).
    pub alarms: &'a BTreeMap<String, AlarmState>,
    /// Unix seconds, for the stages' rollouts.
    pub now: u64,
    /// The alias rollouts the pass's machines reported, by (StateMachine `metadata.name`, alias):
    /// a stage whose integration starts one that is rolling out follows it (SPEC §9).
    pub alias_views: &'a BTreeMap<(String, String), RolloutView>,
}

/// One write on an integration's method, in the order they are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodOp {
    /// CreateResource for this path under its parent (missing parts, parent first). Not safe to
    /// repeat blindly; skipped when an earlier write of the same pass made the path.
    CreateResource { path: String },
    /// PutMethod (not safe to repeat blindly).
    PutMethod,
    /// UpdateMethod `replace /authorizationType`.
    SetAuthorization,
    /// UpdateMethod with these changes of the method's own fields (SPEC §12).
    PatchMethod(Vec<MethodPatch>),
    /// DeleteIntegrationResponse of a response the manifest no longer names (before the method
    /// response, and before any PutIntegration).
    DeleteIntegrationResponse { status_code: String },
    /// DeleteMethodResponse of a response the manifest no longer names.
    DeleteMethodResponse { status_code: String },
    /// PutIntegration (it drops the integration responses, which are then put again).
    PutIntegration,
    /// PutMethodResponse (not safe to repeat blindly).
    PutMethodResponse { status_code: String },
    /// PutIntegrationResponse.
    PutIntegrationResponse { status_code: String },
}

/// One UpdateMethod change of a method's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodPatch {
    /// `replace /apiKeyRequired`.
    ApiKeyRequired(bool),
    /// `add /requestParameters/NAME` (required or not), or `remove` (`None`).
    Parameter(String, Option<bool>),
    /// `replace /requestValidatorId` with the API's validator of these checks (`BODY`,
    /// `PARAMETERS`, `BODY_AND_PARAMETERS`), or `""` (`None`: no validator).
    Validator(Option<String>),
}

/// Where an integration was before its manifest moved it (another method or path on the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub http_method: String,
    pub path: String,
    pub resource_id: String,
}

/// What to do for one integration.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationPlan {
    pub key: ResourceKey,
    /// `API_ID VERB PATH`, when the API exists.
    pub id: Option<String>,
    pub action: Action,
    pub changes: Vec<Change>,
    /// Why nothing may be written for it (another owner's, a record that cannot be a tag, a
    /// REST API out of tags).
    pub refusal: Option<String>,
    /// The tag key of its ownership record, when the record is among [`ApiIntegrationsPlan::records`].
    pub record: Option<String>,
    /// Its old method, deleted first (while the record still names it).
    pub moved: Option<Moved>,
    /// The writes on its method.
    pub writes: Vec<MethodOp>,
    /// The integration the writes send, when the fields it ignores (`spec.ignoreDifferences`)
    /// make it differ from the manifest's.
    pub write_as: Option<Box<ApiIntegration>>,
    /// Its method exists and its drift policy (`Report`, `Ignore`) writes nothing to it; a stage
    /// that only such integrations deploy to is never deployed.
    pub hands_off: bool,
    /// The changes are drift left in place (`driftPolicy: Report`).
    pub drifted: bool,
}

/// A stale integration record pruning removes, and its method unless another manifest took it.
#[derive(Debug, Clone, PartialEq)]
pub struct PrunePlan {
    pub key: ResourceKey,
    pub id: String,
    /// The record's tag key, removed once its method is gone.
    pub record_key: String,
    /// The method to delete (resource id, verb, path); `None` when another manifest manages it now
    /// or it is gone already.
    pub delete_method: Option<(String, String, String)>,
    /// The stage its removal is deployed to.
    pub stage: Option<String>,
    pub changes: Vec<Change>,
    pub message: Option<String>,
}

/// A stage that does not serve the configuration the API will hold, so it is deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePlan {
    pub name: String,
    pub change: Change,
    /// Indices into [`ApiIntegrationsPlan::integrations`] of those deployed to it.
    pub integrations: Vec<usize>,
    /// Indices into [`ApiIntegrationsPlan::prunes`] of those whose removal it deploys.
    pub prunes: Vec<usize>,
    /// The stage's canary rollout (`spec.rollout`), carried out instead of a plain deployment;
    /// it may write nothing (a bake in progress, a held roll back) and still judge the status.
    pub rollout: Option<StageRolloutPlan>,
}

/// Everything to do on one REST API, in order: moves, records (one TagResource), each
/// integration's writes, prunes (methods, then one UntagResource), then deployments.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiIntegrationsPlan {
    pub api_id: String,
    pub integrations: Vec<IntegrationPlan>,
    /// Ownership records to write before anything else, so nothing is created unrecorded.
    pub records: BTreeMap<String, String>,
    pub prunes: Vec<PrunePlan>,
    pub stages: Vec<StagePlan>,
    /// The description of a deployment of the configuration the API holds once this plan is
    /// carried out (its fingerprint).
    pub description: String,
    /// Whether that configuration has a method at all (API Gateway refuses to deploy none).
    pub deployable: bool,
}

impl ApiIntegrationsPlan {
    /// Whether the plan writes anything but deployments.
    pub fn writes(&self) -> bool {
        !self.records.is_empty()
            || !self.prunes.is_empty()
            || self
                .integrations
                .iter()
                .any(|i| i.refusal.is_none() && (i.moved.is_some() || !i.writes.is_empty()))
    }
}

/// The method an integration's manifest describes, in the form the live one is read in.
pub fn desired_method(ai: &ApiIntegration) -> LiveMethod {
    let i = &ai.integration;
    LiveMethod {
        authorization_type: Some(ai.authorization_type.clone()),
        api_key_required: ai.method.api_key_required.filter(|r| *r),
        request_parameters: ai.method.request_parameters.clone().unwrap_or_default(),
        request_validator: ai.method.request_validator.clone().filter(|v| v != "NONE"),
        integration: Some(LiveIntegration {
            integration_type: Some(i.integration_type.clone()),
            uri: Some(i.uri.clone()),
            integration_http_method: Some(i.integration_http_method.clone()),
            credentials: i.credentials.clone(),
            request_templates: i.request_templates.clone(),
            passthrough_behavior: Some(i.passthrough_behavior.clone()),
            timeout_in_millis: i.timeout_in_millis,
            request_parameters: i.request_parameters.clone().unwrap_or_default(),
            content_handling: i.content_handling.clone(),
        }),
        responses: ai
            .responses
            .iter()
            .map(|r| {
                (
                    r.status_code.clone(),
                    LiveResponse {
                        integration_response: true,
                        selection_pattern: r.selection_pattern.clone(),
                        response_templates: r.response_templates.clone(),
                    },
                )
            })
            .collect(),
        unexpressed: Default::default(),
    }
}

/// The changes that turn the live method (`None`: method or path missing) into `want`, the
/// manifest's ([`desired_method`]).
pub fn method_changes(want: &LiveMethod, live: Option<&LiveMethod>) -> Vec<Change> {
    let want = want.to_value();
    let mut changes = Vec::new();
    match live {
        None => {
            for (k, v) in want.as_object().into_iter().flatten() {
                diff_values(&Path::root().key(k.clone()), &Value::Null, v, &mut changes);
            }
        }
        Some(live) => diff_values(&Path::root(), &live.to_value(), &want, &mut changes),
    }
    changes
}

/// The id of the REST API an integration targets: a `ref`'s from `known_ids` (the ids of the
/// `RestApi` manifests the pass knows; `None` while one is still to be created, in diff mode), an
/// `id` as given, a `name`'s from the listing (none or several is an error).
pub fn api_id_of(
    ai: &ApiIntegration,
    known_ids: &dyn Fn(&str) -> Option<String>,
    listed: &[LiveApi],
) -> Result<Option<String>, String> {
    match &ai.rest_api {
        RestApiTarget::Ref(name) => Ok(known_ids(name)),
        RestApiTarget::Id(id) => Ok(Some(id.clone())),
        RestApiTarget::Name(name) => {
            let found: Vec<_> = listed.iter().filter(|a| &a.name == name).collect();
            match found.as_slice() {
                [one] => Ok(Some(one.id.clone())),
                [] => Err(format!("NotFoundException: no live REST API named {name:?}")),
                _ => Err(format!("ambiguous: several live REST APIs are named {name:?}")),
            }
        }
    }
}

/// Every (method, path) a declared integration manages, in scope or not: a moved integration's
/// old method is deleted only if none of them claims it.
pub fn claimed_methods(desired: &DesiredSet) -> BTreeSet<(String, String)> {
    desired
        .resources
        .iter()
        .filter_map(|r| match r {
            Resource::ApiIntegration(ai) => Some((ai.http_method.clone(), ai.path.clone())),
            _ => None,
        })
        .collect()
}

/// Every stage a declared integration deploys to, by API id, in scope or not: any change to an
/// API can leave each of its stages serving an older configuration.
pub fn declared_stages(
    desired: &DesiredSet,
    known_ids: &dyn Fn(&str) -> Option<String>,
    listed: &[LiveApi],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &desired.resources {
        let Resource::ApiIntegration(ai) = r else { continue };
        let Some(stage) = &ai.stage else { continue };
        if let Ok(Some(id)) = api_id_of(ai, known_ids, listed) {
            stages.entry(id).or_default().insert(stage.clone());
        }
    }
    stages
}

/// An integration on a REST API that does not exist yet (diff mode): everything is created.
pub fn plan_on_new_api(ai: &ApiIntegration) -> IntegrationPlan {
    IntegrationPlan {
        key: ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()),
        id: None,
        action: Action::Create,
        changes: method_changes(&desired_method(ai), None),
        refusal: None,
        record: None,
        moved: None,
        writes: Vec::new(),
        write_as: None,
        hands_off: false,
        drifted: false,
    }
}

/// The stages whose live state the plan needs (read GetStages and the deployments they serve
/// only for these): those the integrations deploy to, the declared ones, and those a prune
/// deploys its removal to. Needs only `input.live.resources`.
pub fn stages_to_check(input: &ApiInput<'_>) -> BTreeSet<String> {
    let mut stages: BTreeSet<String> = input
        .integrations
        .iter()
        .filter_map(|ai| ai.stage.clone())
        .collect();
    stages.extend(input.declared_stages.iter().cloned());
    stages.extend(plan_prunes(input).into_iter().filter_map(|p| p.stage));
    stages
}

/// Plans everything on one REST API (see [`ApiIntegrationsPlan`]).
pub fn plan_api(input: &ApiInput<'_>) -> ApiIntegrationsPlan {
    let mut records = BTreeMap::new();
    let mut integrations: Vec<IntegrationPlan> = input
        .integrations
        .iter()
        .map(|ai| plan_integration(input, ai, &mut records))
        .collect();
    let count = ownership::tag_count_after(input.live_tags, &records, &[]);
    if !records.is_empty() && count > ownership::MAX_TAGS {
        let message = too_many_tags(input.api_id, count);
        for p in integrations.iter_mut().filter(|p| p.record.is_some()) {
            p.refusal = Some(message.clone());
            p.record = None;
        }
        records.clear();
    }
    let prunes = plan_prunes(input);
    let configuration = planned_configuration(input, &integrations, &prunes);
    let deployable = configuration.as_object().is_some_and(|m| !m.is_empty());
    let mut plan = ApiIntegrationsPlan {
        api_id: input.api_id.to_owned(),
        stages: Vec::new(),
        description: deployment_description(&configuration),
        deployable,
        integrations: Vec::new(),
        records,
        prunes,
    };
    let (stages, adopted) = plan_stages(input, &plan, &mut integrations);
    plan.stages = stages;
    plan.records.extend(adopted);
    plan.integrations = integrations;
    for stage in plan.stages.iter().filter(|s| s.rollout.is_none()) {
        for &i in &stage.prunes {
            plan.prunes[i].changes.push(stage.change.clone());
        }
    }
    plan
}

/// One integration: its method's changes and writes, its record, a move. The manifest's
/// controls (SPEC §12) apply to a method that exists: ignored fields compare and write as live,
/// `Report` keeps the changes and drops the writes, `Ignore` compares nothing; neither adopts.
fn plan_integration(
    input: &ApiInput<'_>,
    ai: &ApiIntegration,
    records: &mut BTreeMap<String, String>,
) -> IntegrationPlan {
    let live = input.live.method(&ai.path, &ai.http_method);
    let policy = ai.meta.controls.drift_policy;
    let hands_off = live.is_some() && policy != DriftPolicy::Correct;
    let manifest_method = desired_method(ai);
    let (write_as, want) = match live.and_then(|l| effective_integration(ai, &manifest_method, l)) {
        Some((e, m)) => (Some(Box::new(e)), m),
        None => (None, manifest_method),
    };
    let (write_as, want) = match live {
        Some(l) => keep_unset(ai, write_as, want, l),
        None => (write_as, want),
    };
    let mut changes = if live.is_some() && policy == DriftPolicy::Ignore {
        Vec::new()
    } else {
        method_changes(&want, live)
    };
    for c in &mut changes {
        // A default the comparable form leaves out reads as the manifest wrote it.
        match c.path.as_str() {
            "apiKeyRequired" if c.after.is_null() => c.after = false.into(),
            "apiKeyRequired" if c.before.is_null() => c.before = false.into(),
            "requestValidator" if c.after.is_null() => c.after = "NONE".into(),
            "requestValidator" if c.before.is_null() => c.before = "NONE".into(),
            _ => {}
        }
    }
    let drifted = hands_off && !changes.is_empty();
    let mut action = match live {
        None => Action::Create,
        Some(_) => super::update_or_noop(&changes),
    };
    let record = IntegrationRecord::of(ai).owned_by(input.owner);
    let key = record.tag_key();
    let foreign = input
        .live_tags
        .get(&key)
        .and_then(|v| IntegrationRecord::parse(&key, v))
        .filter(|r| r.owner != input.owner);
    let mut refusal = None;
    let mut recorded = None;
    match record.tag() {
        Err(m) => refusal = Some(m),
        Ok(_) if let Some(other) = foreign => {
            refusal = Some(format!(
                "{} on REST API {} is owned by another sfn-operator instance (owner id {:?}, this one \
                 is {:?}); not touching it",
                record.resource_key(),
                input.api_id,
                other.owner,
                input.owner
            ));
        }
        // Adopting a method that is already as the manifest says (SPEC §11) writes the record
        // and changes nothing else: a `noop`.
        Ok((k, v))
            if !hands_off && live.is_some() && changes.is_empty() && !input.live_tags.contains_key(&k) =>
        {
            records.insert(k.clone(), v);
            recorded = Some(k);
        }
        Ok((k, v)) if !hands_off && input.live_tags.get(&k) != Some(&v) => {
            changes.push(Change::new(
                Path::root().key("restApi").key("tags").key(k.clone()).to_string(),
                input
                    .live_tags
                    .get(&k)
                    .map_or(Value::Null, |s| Value::from(s.clone())),
                v.clone(),
            ));
            records.insert(k.clone(), v);
            recorded = Some(k);
        }
        Ok(_) => {}
    }
    let moved = moved_from(ai, input);
    if let Some(m) = &moved {
        changes.push(Change::new(
            "method",
            format!("{} {}", m.http_method, m.path),
            format!("{} {}", ai.http_method, ai.path),
        ));
    }
    if action == Action::Noop && !changes.is_empty() {
        action = Action::Update;
    }
    let writes = if refusal.is_none() && !hands_off && live != Some(&want) {
        method_writes(
            write_as.as_deref().unwrap_or(ai),
            &want,
            &input.live.resources,
            live,
        )
    } else {
        Vec::new()
    };
    IntegrationPlan {
        key: ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()),
        id: Some(format!("{} {} {}", input.api_id, ai.http_method, ai.path)),
        action,
        changes,
        refusal,
        record: recorded,
        moved,
        writes,
        write_as,
        hands_off,
        drifted,
    }
}

/// The fields of SPEC §12 the manifest leaves unset take their live values, in what is compared
/// (`want`) and in what is written (a PutIntegration sends the whole integration): unset never
/// makes a change and never drops what someone else set.
fn keep_unset(
    ai: &ApiIntegration,
    write_as: Option<Box<ApiIntegration>>,
    mut want: LiveMethod,
    live: &LiveMethod,
) -> (Option<Box<ApiIntegration>>, LiveMethod) {
    fill_unset(ai, &mut want, live);
    let Some(l) = live.integration.as_ref() else {
        return (write_as, want);
    };
    let mut e = write_as.unwrap_or_else(|| Box::new(ai.clone()));
    if ai.integration.request_parameters.is_none() {
        e.integration.request_parameters = Some(l.request_parameters.clone()).filter(|p| !p.is_empty());
    }
    if ai.integration.content_handling.is_none() {
        e.integration.content_handling = l.content_handling.clone();
    }
    let changed = *e != *ai;
    (changed.then_some(e), want)
}

/// `method` (the manifest's) with the SPEC §12 fields the manifest leaves unset as `live` has them.
fn fill_unset(ai: &ApiIntegration, method: &mut LiveMethod, live: &LiveMethod) {
    let m = &ai.method;
    if m.api_key_required.is_none() {
        method.api_key_required = live.api_key_required;
    }
    if m.request_parameters.is_none() {
        method.request_parameters = live.request_parameters.clone();
    }
    if m.request_validator.is_none() {
        method.request_validator = live.request_validator.clone();
    }
    if let (Some(w), Some(l)) = (method.integration.as_mut(), live.integration.as_ref()) {
        if ai.integration.request_parameters.is_none() {
            w.request_parameters = l.request_parameters.clone();
        }
        if ai.integration.content_handling.is_none() {
            w.content_handling = l.content_handling.clone();
        }
    }
}

/// The UpdateMethod changes that turn the live method's own fields into `want`'s.
fn method_patches(want: &LiveMethod, live: &LiveMethod) -> Vec<MethodPatch> {
    let mut out = Vec::new();
    if want.api_key_required != live.api_key_required {
        out.push(MethodPatch::ApiKeyRequired(
            want.api_key_required.unwrap_or(false),
        ));
    }
    for (k, v) in &want.request_parameters {
        if live.request_parameters.get(k) != Some(v) {
            out.push(MethodPatch::Parameter(k.clone(), Some(*v)));
        }
    }
    for k in live.request_parameters.keys() {
        if !want.request_parameters.contains_key(k) {
            out.push(MethodPatch::Parameter(k.clone(), None));
        }
    }
    if want.request_validator != live.request_validator {
        out.push(MethodPatch::Validator(want.request_validator.clone()));
    }
    out
}

/// The writes that make the method at `ai.path` what the manifest says: missing path parts,
/// method, stale responses, integration, responses (the manifest's set exactly).
fn method_writes(
    ai: &ApiIntegration,
    want: &LiveMethod,
    resources: &[LiveResource],
    live: Option<&LiveMethod>,
) -> Vec<MethodOp> {
    let mut ops = Vec::new();
    let mut path = String::new();
    for part in ai.path.split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        path.push_str(part);
        if !resources.iter().any(|r| r.path == path && !r.id.is_empty()) {
            ops.push(MethodOp::CreateResource { path: path.clone() });
        }
    }
    match live {
        None => ops.push(MethodOp::PutMethod),
        Some(l) if l.authorization_type.as_deref() != Some(ai.authorization_type.as_str()) => {
            ops.push(MethodOp::SetAuthorization);
        }
        Some(_) => {}
    }
    if let Some(l) = live {
        let patches = method_patches(want, l);
        if !patches.is_empty() {
            ops.push(MethodOp::PatchMethod(patches));
        }
    }
    // Responses the manifest no longer names go first, the integration response before the
    // method response, while they are as read (a PutIntegration drops integration responses in
    // the sandbox and moto, and moto fails deleting a missing one).
    for (code, response) in live.map(|l| &l.responses).into_iter().flatten() {
        if ai.responses.iter().any(|r| &r.status_code == code) {
            continue;
        }
        if response.integration_response {
            ops.push(MethodOp::DeleteIntegrationResponse {
                status_code: code.clone(),
            });
        }
        ops.push(MethodOp::DeleteMethodResponse {
            status_code: code.clone(),
        });
    }
    let put_integration = live.is_none_or(|l| l.integration != want.integration);
    if put_integration {
        ops.push(MethodOp::PutIntegration);
    }
    for r in &ai.responses {
        let live_response = live.and_then(|l| l.responses.get(&r.status_code));
        if live_response.is_none() {
            ops.push(MethodOp::PutMethodResponse {
                status_code: r.status_code.clone(),
            });
        }
        if put_integration || live_response != want.responses.get(&r.status_code) {
            ops.push(MethodOp::PutIntegrationResponse {
                status_code: r.status_code.clone(),
            });
        }
    }
    ops
}

/// The old live method of an integration whose record on the API names another method or path,
/// when no declared integration manages that method and path any more.
fn moved_from(ai: &ApiIntegration, input: &ApiInput<'_>) -> Option<Moved> {
    let key = IntegrationRecord::of(ai).tag_key();
    let old = IntegrationRecord::parse(&key, input.live_tags.get(&key)?)?;
    if (old.http_method == ai.http_method && old.path == ai.path)
        || input
            .claimed
            .contains(&(old.http_method.clone(), old.path.clone()))
    {
        return None;
    }
    let resource = input.live.resource_with(&old.path, &old.http_method)?;
    Some(Moved {
        http_method: old.http_method,
        path: old.path,
        resource_id: resource.id.clone(),
    })
}

/// Each stale record on the API: its method goes (its integration and responses with it; never
/// the path resources, which other methods may use) unless another manifest manages it now, and
/// then the record.
fn plan_prunes(input: &ApiInput<'_>) -> Vec<PrunePlan> {
    let tags_path = Path::root().key("restApi").key("tags");
    input
        .prunes
        .iter()
        .map(|prune| {
            let rec = &prune.record;
            let record_key = rec.tag_key();
            let handed_over = prune.method_claimed
                || input
                    .integrations
                    .iter()
                    .any(|ai| ai.path == rec.path && ai.http_method == rec.http_method);
            let delete_method = input
                .live
                .resource_with(&rec.path, &rec.http_method)
                .filter(|_| !handed_over)
                .map(|r| (r.id.clone(), rec.http_method.clone(), rec.path.clone()));
            let mut changes = Vec::new();
            if delete_method.is_some() {
                changes.push(Change::new(
                    "method",
                    format!("{} {}", rec.http_method, rec.path),
                    Value::Null,
                ));
            }
            changes.push(Change::new(
                tags_path.key(record_key.clone()).to_string(),
                input
                    .live_tags
                    .get(&record_key)
                    .map_or(Value::Null, |s| Value::from(s.clone())),
                Value::Null,
            ));
            PrunePlan {
                key: rec.resource_key(),
                id: format!("{} {} {}", input.api_id, rec.http_method, rec.path),
                record_key,
                stage: rec.stage.clone().filter(|_| delete_method.is_some()),
                delete_method,
                changes,
                message: handed_over.then(|| {
                    format!(
                        "{} {} is now managed by another ApiIntegration manifest: only the ownership record is removed",
                        rec.http_method, rec.path
                    )
                }),
            }
        })
        .collect()
}

/// The configuration the API holds once the plan is carried out: live, with moved methods gone,
/// every planned integration's method as its manifest has it, and pruned methods gone.
fn planned_configuration(
    input: &ApiInput<'_>,
    integrations: &[IntegrationPlan],
    prunes: &[PrunePlan],
) -> Value {
    let mut resources = input.live.resources.clone();
    for (ai, p) in input.integrations.iter().zip(integrations) {
        if p.refusal.is_some() {
            continue;
        }
        if let Some(m) = &p.moved
            && let Some(r) = resources.iter_mut().find(|r| r.id == m.resource_id)
        {
            r.methods.remove(&m.http_method);
        }
        // The manifest's method, ignored fields and drift left in place included: a stage is
        // in sync when it serves what the manifests say (and, for a field they leave unset,
        // what is live).
        let mut method = desired_method(ai);
        if let Some(l) = input.live.method(&ai.path, &ai.http_method) {
            fill_unset(ai, &mut method, l);
        }
        match resources.iter_mut().find(|r| r.path == ai.path) {
            Some(r) => {
                r.methods.insert(ai.http_method.clone(), method);
            }
            None => resources.push(LiveResource {
                id: String::new(),
                path: ai.path.clone(),
                methods: BTreeMap::from([(ai.http_method.clone(), method)]),
            }),
        }
    }
    for (id, verb, _) in prunes.iter().filter_map(|p| p.delete_method.as_ref()) {
        if let Some(r) = resources.iter_mut().find(|r| &r.id == id) {
            r.methods.remove(verb);
        }
    }
    api_configuration(&resources)
}

/// The stages to deploy: each stage to check that exists or is declared and does not serve a
/// deployment of the planned configuration. The integrations deployed to it show the change.
/// Also the adopted-stage records to write: a stage adopted as it is (every integration deployed
/// to it adopted in this pass, nothing else written on the API, serving a deployment the operator
/// did not make) is taken to serve the API's configuration, and recorded so (SPEC §11).
fn plan_stages(
    input: &ApiInput<'_>,
    plan: &ApiIntegrationsPlan,
    integrations: &mut [IntegrationPlan],
) -> (Vec<StagePlan>, BTreeMap<String, String>) {
    let fingerprint = plan
        .description
        .strip_prefix(DEPLOYMENT_PREFIX)
        .unwrap_or(&plan.description);
    let writes_methods = !plan.prunes.is_empty()
        || integrations
            .iter()
            .any(|p| p.refusal.is_some() || p.moved.is_some() || !p.writes.is_empty());
    let mut adopted = BTreeMap::new();
    let mut stages = BTreeSet::new();
    stages.extend(input.integrations.iter().filter_map(|ai| ai.stage.as_deref()));
    stages.extend(input.declared_stages.iter().map(String::as_str));
    stages.extend(plan.prunes.iter().filter_map(|p| p.stage.as_deref()));
    let mut out = Vec::new();
    for stage in stages {
        let live = input.live.stages.iter().find(|s| s.name == stage);
        let declared = input.declared_stages.contains(stage)
            || input
                .integrations
                .iter()
                .any(|ai| ai.stage.as_deref() == Some(stage));
        if live.is_none() && !declared {
            continue;
        }
        let rollout = input
            .integrations
            .iter()
            .filter(|ai| ai.stage.as_deref() == Some(stage))
            .find_map(|ai| ai.rollout.as_ref())
            .filter(|r| applies(Some(r)));
        let deployed = live.filter(|l| l.deployment_id.is_some());
        if let Some(l) = deployed
            && plan.deployable
            && let Some(planned) = joint_stage(input, plan, l)
        {
            out.push(rollout_stage(input, integrations, l, planned));
            continue;
        }
        if let (Some(r), Some(l)) = (rollout, deployed) {
            if plan.deployable
                && let Some(planned) = plan_stage(&StageInput {
                    stage,
                    rollout: r,
                    live: l,
                    descriptions: &input.live.deployments,
                    target: &plan.description,
                    progress: input
                        .live_tags
                        .get(&stage_tag_key(stage))
                        .and_then(|t| Progress::parse(t))
                        .as_ref(),
                    alarms: input.alarms,
                    now: input.now,
                })
            {
                out.push(rollout_stage(input, integrations, l, planned));
            }
            continue;
        }
        let serving = live
            .and_then(|l| l.deployment_id.as_ref())
            .map(|dep| (dep, input.live.deployments.get(dep).cloned().flatten()));
        if serving
            .as_ref()
            .is_some_and(|(_, d)| d.as_deref() == Some(plan.description.as_str()))
        {
            continue;
        }
        if let Some((dep, description)) = &serving {
            let (record_key, record) = ownership::adopted_stage_tag(stage, dep, fingerprint);
            if input.live_tags.get(&record_key) == Some(&record) {
                continue;
            }
            let on_stage: Vec<&IntegrationPlan> = input
                .integrations
                .iter()
                .zip(integrations.iter())
                .filter(|(ai, _)| ai.stage.as_deref() == Some(stage))
                .map(|(_, p)| p)
                .collect();
            let adopting = !writes_methods
                && !on_stage.is_empty()
                && on_stage.iter().all(|p| {
                    p.action == Action::Noop
                        && p.record
                            .as_ref()
                            .is_some_and(|k| !input.live_tags.contains_key(k))
                })
                && !description
                    .as_deref()
                    .is_some_and(|d| d.starts_with(DEPLOYMENT_PREFIX));
            if adopting {
                adopted.insert(record_key, record);
                continue;
            }
        }
        let before = match (live, &serving) {
            (None, _) => Value::Null,
            (Some(_), Some((dep, _))) => format!("deployment {dep} (not the current configuration)").into(),
            (Some(_), None) => "no deployment".into(),
        };
        let change = Change::new(
            format!("stage[{stage:?}]"),
            before,
            "a deployment of the current configuration",
        );
        let on_stage: Vec<usize> = input
            .integrations
            .iter()
            .enumerate()
            .filter(|(_, ai)| ai.stage.as_deref() == Some(stage))
            .map(|(i, _)| i)
            .collect();
        let pruned_here = plan.prunes.iter().any(|p| p.stage.as_deref() == Some(stage));
        if !on_stage.is_empty() && !pruned_here && on_stage.iter().all(|&i| integrations[i].hands_off) {
            continue;
        }
        for &i in &on_stage {
            integrations[i].changes.push(change.clone());
            if integrations[i].action == Action::Noop {
                integrations[i].action = Action::Update;
            }
        }
        out.push(StagePlan {
            name: stage.to_owned(),
            change,
            integrations: on_stage,
            prunes: (0..plan.prunes.len())
                .filter(|&i| plan.prunes[i].stage.as_deref() == Some(stage))
                .collect(),
            rollout: None,
        });
    }
    (out, adopted)
}

/// The joint rollout of a stage (SPEC §9): an integration on it starts an alias whose rollout is
/// in flight (or ended in this pass); the stage follows the alias's steps.
fn joint_stage(
    input: &ApiInput<'_>,
    plan: &ApiIntegrationsPlan,
    live: &crate::live::LiveStage,
) -> Option<StageRolloutPlan> {
    let stage = live.name.as_str();
    input
        .integrations
        .iter()
        .filter(|ai| ai.stage.as_deref() == Some(stage))
        .find_map(|ai| {
            let variable = ai.joint_variable()?;
            let key = (ai.state_machine_ref.clone()?, ai.state_machine_alias.clone()?);
            let view = input.alias_views.get(&key)?;
            plan_joint(&JointInput {
                stage,
                live,
                descriptions: &input.live.deployments,
                target: &plan.description,
                variable: &variable,
                view,
                now: input.now,
            })
        })
}

/// A stage with a rollout (its own or its alias's): its step, shown as a change of the
/// integrations on it when it writes.
fn rollout_stage(
    input: &ApiInput<'_>,
    integrations: &mut [IntegrationPlan],
    live: &crate::live::LiveStage,
    planned: StageRolloutPlan,
) -> StagePlan {
    let stage = live.name.as_str();
    let on_stage: Vec<usize> = input
        .integrations
        .iter()
        .enumerate()
        .filter(|(_, ai)| ai.stage.as_deref() == Some(stage))
        .map(|(i, _)| i)
        .collect();
    let before = match &live.canary {
        Some((id, pct)) => format!(
            "deployment {}, canary {id} at {pct} %",
            live.deployment_id.as_deref().unwrap_or("none")
        ),
        None => format!("deployment {}", live.deployment_id.as_deref().unwrap_or("none")),
    };
    let after = if planned.ops.is_empty() {
        before.clone()
    } else {
        planned.ops.iter().map(describe_op).collect::<Vec<_>>().join("; ")
    };
    let change = Change::new(format!("stage[{stage:?}]"), before, after);
    if !planned.ops.is_empty() {
        for &i in &on_stage {
            integrations[i].changes.push(change.clone());
            if integrations[i].action == Action::Noop {
                integrations[i].action = Action::Update;
            }
        }
    }
    StagePlan {
        name: stage.to_owned(),
        change,
        integrations: on_stage,
        prunes: Vec::new(),
        rollout: Some(planned),
    }
}

fn describe_op(op: &StageOp) -> String {
    match op {
        StageOp::Deploy => "a deployment of the current configuration".to_owned(),
        StageOp::Canary(w) => format!("a canary deployment of the current configuration at {w} %"),
        StageOp::CanaryWith(w, k, v) => {
            format!("a canary deployment of the current configuration at {w} % with {k}={v}")
        }
        StageOp::Percent(w) => format!("the canary at {w} %"),
        StageOp::Promote(id) => format!("deployment {id} (the canary, promoted)"),
        StageOp::PromoteWith(id, k, v) => format!("deployment {id} (the canary, promoted) with {k}={v}"),
        StageOp::RemoveCanary => "the canary removed (rolled back)".to_owned(),
        StageOp::Variable(k, v) => format!("stage variable {k}={v}"),
    }
}

/// The configuration a deployment of an API captures, as comparable data: every resource path
/// with its methods. Paths without methods are left out; they change nothing a client can call.
pub fn api_configuration(resources: &[LiveResource]) -> Value {
    let mut paths: BTreeMap<&str, Value> = BTreeMap::new();
    for r in resources.iter().filter(|r| !r.methods.is_empty()) {
        let methods: serde_json::Map<String, Value> =
            r.methods.iter().map(|(k, v)| (k.clone(), v.to_value())).collect();
        paths.insert(&r.path, Value::Object(methods));
    }
    Value::Object(paths.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The description the operator writes on its deployments: a fingerprint of the configuration
/// deployed, so a later pass can tell whether a stage serves the current configuration (SPEC §4).
pub fn deployment_description(configuration: &Value) -> String {
    format!("{DEPLOYMENT_PREFIX}{}", fingerprint(configuration))
}

/// How the description of every deployment the operator makes begins.
const DEPLOYMENT_PREFIX: &str = "sfn-operator config ";

#[cfg(test)]
mod tests;
