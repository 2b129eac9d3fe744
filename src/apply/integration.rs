//! API integrations (wave 2 of the pass): grouped by REST API so each API's resources are read
//! once; per API, record ownership (one TagResource), write each integration, prune the stale
//! integration records `prune.rs` chose on that API, then deploy each (API, stage) at most once.
//!
//! Must not: create, update or delete REST APIs themselves (`rest_api.rs`, `prune.rs`), or run an
//! integration whose dependency did not reconcile (the pass reports those `Skipped` first).

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;
use tracing::Instrument;

use super::prune::PruneRecord;
use super::rest_api::too_many_tags;
use super::{Engine, Mode, PassScope, failed, not_started, reconcile_span};
use crate::aws::{Aws, AwsError, create_once, delete_idempotent, retry};
use crate::desired::{Kind, Resource, ResourceKey};
use crate::ownership;
use crate::plan::{self, ResourcePlan};
use crate::report::{Action, Change, ResourceReport, Status};

/// The REST APIs the pass knows: listed at its start, and created by it since.
#[derive(Debug, Clone, Copy)]
pub(super) struct LiveApis<'a> {
    pub(super) listed: &'a [crate::aws::LiveApi],
    pub(super) created: &'a BTreeMap<String, crate::aws::LiveApi>,
}

/// What the whole desired set says beyond the integrations in scope: the integration records to
/// prune (by API id), every (method, path) a declared integration manages, and every stage a
/// declared integration deploys to (by API id).
#[derive(Debug, Clone, Copy)]
pub(super) struct Declared<'a> {
    pub(super) prunes: &'a BTreeMap<String, Vec<PruneRecord>>,
    pub(super) claimed: &'a BTreeSet<(String, String)>,
    pub(super) stages: &'a BTreeMap<String, BTreeSet<String>>,
}

/// [`Declared`] narrowed to one API, plus the API's live tags.
#[derive(Debug, Clone, Copy)]
struct OnApi<'a> {
    prunes: &'a [PruneRecord],
    claimed: &'a BTreeSet<(String, String)>,
    declared_stages: &'a BTreeSet<String>,
    live_tags: &'a BTreeMap<String, String>,
}

impl Engine {
    /// Reconciles integrations API by API (resources read once per API), prunes the integrations
    /// chosen for pruning on the same APIs, then deploys each (API, stage) at most once: when the
    /// API changed in this pass or the stage is missing. Returns the integrations' reports and the
    /// prunes' reports.
    pub(super) async fn reconcile_integrations(
        &self,
        integrations: &[&Resource],
        apis: LiveApis<'_>,
        done: &BTreeMap<ResourceKey, ResourceReport>,
        declared: Declared<'_>,
        scope: &PassScope,
    ) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
        let Declared {
            prunes,
            claimed,
            stages: declared_stages,
        } = declared;
        let mut out = Vec::new();
        let mut pruned = Vec::new();
        // API id (None: the API is still to be created, diff mode) → integrations on it.
        let mut by_api: BTreeMap<Option<String>, Vec<&crate::desired::ApiIntegration>> = BTreeMap::new();
        for r in integrations {
            let Resource::ApiIntegration(ai) = r else { continue };
            let id = match api_id_of(ai, done, apis.listed) {
                Ok(id) => id,
                Err(message) => {
                    out.push(failed(r.key(), message));
                    continue;
                }
            };
            by_api.entry(id).or_default().push(ai);
        }
        for id in prunes.keys() {
            by_api.entry(Some(id.clone())).or_default();
        }
        let no_prunes = Vec::new();
        for (api_id, ais) in by_api {
            let Some(api_id) = api_id else {
                for ai in ais {
                    let p = plan::plan_integration(ai, None);
                    out.push(ResourceReport {
                        kind: Kind::ApiIntegration,
                        name: ai.meta.name.clone(),
                        action: Action::Create,
                        status: Status::Pending,
                        changes: p.changes,
                        id: None,
                        message: None,
                    });
                }
                continue;
            };
            let live_tags = apis
                .created
                .get(&api_id)
                .or_else(|| apis.listed.iter().find(|a| a.id == api_id))
                .map(|a| a.tags.clone())
                .unwrap_or_default();
            let no_stages = BTreeSet::new();
            let (reps, gone) = self
                .integrations_on_api(
                    &api_id,
                    &ais,
                    OnApi {
                        prunes: prunes.get(&api_id).unwrap_or(&no_prunes),
                        claimed,
                        declared_stages: declared_stages.get(&api_id).unwrap_or(&no_stages),
                        live_tags: &live_tags,
                    },
                    scope,
                )
                .await;
            out.extend(reps);
            pruned.extend(gone);
        }
        (out, pruned)
    }

    /// One API: ownership records, integrations, prunes, then its deployments.
    async fn integrations_on_api(
        &self,
        api_id: &str,
        ais: &[&crate::desired::ApiIntegration],
        on_api: OnApi<'_>,
        scope: &PassScope,
    ) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
        let OnApi {
            prunes,
            claimed,
            declared_stages,
            live_tags,
        } = on_api;
        let aws = &self.aws;
        let deadline = scope.deadline;
        let apply = scope.mode == Mode::Apply;
        let mut resources = match retry(deadline, || aws.resources(api_id)).await {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("reading resources of REST API {api_id}: {e}");
                let reps = ais
                    .iter()
                    .map(|ai| {
                        failed(
                            ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()),
                            msg.clone(),
                        )
                    })
                    .collect();
                let gone = prunes
                    .iter()
                    .map(|p| {
                        let mut rep = failed(p.record.resource_key(), msg.clone());
                        rep.action = Action::Delete;
                        rep
                    })
                    .collect();
                return (reps, gone);
            }
        };
        let tags_path = crate::path::Path::root().key("restApi").key("tags");

        // Plan every integration, with its ownership record.
        let mut reps = Vec::new();
        let mut plans = Vec::new();
        let mut records: BTreeMap<String, String> = BTreeMap::new();
        // A record naming another method or path than the manifest now does: the integration moved,
        // and its old method (ours, by the record) goes unless another manifest manages it.
        let mut moves: Vec<Option<Moved>> = Vec::new();
        for ai in ais {
            let live = resources
                .iter()
                .find(|r| r.path == ai.path)
                .and_then(|r| r.methods.get(&ai.http_method));
            let p = plan::plan_integration(ai, live);
            let mut rep = ResourceReport {
                kind: Kind::ApiIntegration,
                name: ai.meta.name.clone(),
                action: p.action,
                status: Status::Synced,
                changes: p.changes.clone(),
                id: Some(format!("{api_id} {} {}", ai.http_method, ai.path)),
                message: None,
            };
            let record = ownership::IntegrationRecord::of(ai).owned_by(&self.owner);
            let foreign = live_tags
                .get(&record.tag_key())
                .and_then(|v| ownership::IntegrationRecord::parse(&record.tag_key(), v))
                .filter(|r| r.owner != self.owner);
            match record.tag() {
                Err(m) => {
                    rep.status = Status::Failed;
                    rep.message = Some(m);
                }
                Ok(_) if let Some(other) = foreign => {
                    rep.status = Status::Failed;
                    rep.message = Some(format!(
                        "{} on REST API {api_id} is owned by another sfn-operator instance (owner id \
                         {:?}, this one is {:?}); not touching it",
                        record.resource_key(),
                        other.owner,
                        self.owner
                    ));
                }
                Ok((k, v)) if live_tags.get(&k) != Some(&v) => {
                    rep.changes.push(Change {
                        path: tags_path.key(k.clone()).to_string(),
                        before: live_tags
                            .get(&k)
                            .map(|s| serde_json::Value::String(s.clone()))
                            .unwrap_or(serde_json::Value::Null),
                        after: v.clone().into(),
                    });
                    if rep.action == Action::Noop {
                        rep.action = Action::Update;
                    }
                    records.insert(k, v);
                }
                Ok(_) => {}
            }
            let moved = moved_from(ai, live_tags, &resources, claimed);
            if let Some(m) = &moved {
                rep.changes.push(Change {
                    path: "method".into(),
                    before: format!("{} {}", m.http_method, m.path).into(),
                    after: format!("{} {}", ai.http_method, ai.path).into(),
                });
                if rep.action == Action::Noop {
                    rep.action = Action::Update;
                }
            }
            if rep.action != Action::Noop && rep.status != Status::Failed && !apply {
                rep.status = Status::Pending;
            }
            reps.push(rep);
            plans.push(p);
            moves.push(moved);
        }

        // Apply: record ownership first (one TagResource per API), so nothing is created
        // unrecorded; then the integrations. `resources` follows every write, so that it ends
        // as the configuration a deployment now captures.
        if apply {
            // Moves first: the old method goes while its record still names it, so a failure
            // leaves the record (and a later pass retries) instead of an unrecorded method.
            for ((rep, ai), moved) in reps.iter_mut().zip(ais).zip(&moves) {
                let Some(m) = moved else { continue };
                if rep.status == Status::Failed || crate::shutdown::requested() {
                    records.remove(&ownership::IntegrationRecord::of(ai).tag_key());
                    continue;
                }
                let verb = m.http_method.as_str();
                match delete_idempotent(deadline, || aws.delete_method(api_id, &m.resource_id, verb)).await {
                    Ok(()) => {
                        if let Some(r) = resources.iter_mut().find(|r| r.id == m.resource_id) {
                            r.methods.remove(verb);
                        }
                    }
                    Err(e) => {
                        rep.status = Status::Failed;
                        rep.message = Some(format!(
                            "deleting the old method {verb} {} on REST API {api_id}: {e}",
                            m.path
                        ));
                        records.remove(&ownership::IntegrationRecord::of(ai).tag_key());
                    }
                }
            }
            if !records.is_empty() {
                let count = ownership::tag_count_after(live_tags, &records, &[]);
                let result = if count > ownership::MAX_TAGS {
                    Err(too_many_tags(api_id, count))
                } else {
                    retry(deadline, || aws.tag_api(api_id, &records))
                        .await
                        .map_err(|e| format!("recording ownership on REST API {api_id}: {e}"))
                };
                if let Err(m) = result {
                    for (rep, ai) in reps.iter_mut().zip(ais) {
                        if records.contains_key(&ownership::IntegrationRecord::of(ai).tag_key()) {
                            rep.status = Status::Failed;
                            rep.message = Some(m.clone());
                        }
                    }
                }
            }
            for ((rep, ai), p) in reps.iter_mut().zip(ais).zip(&plans) {
                if rep.status == Status::Failed || p.action == Action::Noop {
                    continue;
                }
                if crate::shutdown::requested() {
                    *rep = not_started(ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()));
                    continue;
                }
                match apply_integration(aws, api_id, ai, &mut resources, p, deadline)
                    .instrument(reconcile_span(Kind::ApiIntegration, &ai.meta.name))
                    .await
                {
                    Ok(()) => {}
                    Err(e) => {
                        rep.status = Status::Failed;
                        rep.message = Some(format!(
                            "{} {} on REST API {api_id}: {e}",
                            ai.http_method, ai.path
                        ));
                    }
                }
            }
        }

        if !apply {
            // What the API will hold once the plan is carried out, for the stage check below.
            for ((rep, ai), moved) in reps.iter().zip(ais).zip(&moves) {
                if rep.status == Status::Failed {
                    continue;
                }
                if let Some(m) = moved
                    && let Some(r) = resources.iter_mut().find(|r| r.id == m.resource_id)
                {
                    r.methods.remove(&m.http_method);
                }
                set_method(
                    &mut resources,
                    &ai.path,
                    &ai.http_method,
                    plan::integration_value(ai),
                );
            }
        }

        // Prune: delete the method (its integration and responses go with it), never the path
        // resources, which other methods may use; then drop the record. A method another manifest
        // now manages is left alone and only the stale record goes.
        let mut gone = Vec::new();
        let mut untag = Vec::new();
        let mut prune_stages: Vec<(usize, String)> = Vec::new();
        for prune in prunes {
            let rec = &prune.record;
            let key = rec.tag_key();
            let handed_over = prune.method_claimed
                || ais
                    .iter()
                    .any(|ai| ai.path == rec.path && ai.http_method == rec.http_method);
            let res_id = resources
                .iter()
                .find(|r| r.path == rec.path && r.methods.contains_key(&rec.http_method))
                .map(|r| r.id.clone())
                .filter(|_| !handed_over);
            let mut rep = ResourceReport {
                kind: Kind::ApiIntegration,
                name: rec.name.clone(),
                action: Action::Delete,
                status: Status::Synced,
                changes: Vec::new(),
                id: Some(format!("{api_id} {} {}", rec.http_method, rec.path)),
                message: handed_over.then(|| {
                    format!(
                        "{} {} is now managed by another ApiIntegration manifest: only the ownership record is removed",
                        rec.http_method, rec.path
                    )
                }),
            };
            if res_id.is_some() {
                rep.changes.push(Change {
                    path: "method".into(),
                    before: format!("{} {}", rec.http_method, rec.path).into(),
                    after: serde_json::Value::Null,
                });
            }
            rep.changes.push(Change {
                path: tags_path.key(key.clone()).to_string(),
                before: live_tags
                    .get(&key)
                    .map(|s| serde_json::Value::String(s.clone()))
                    .unwrap_or(serde_json::Value::Null),
                after: serde_json::Value::Null,
            });
            if !apply {
                rep.status = Status::Pending;
                if let Some(res_id) = &res_id
                    && let Some(r) = resources.iter_mut().find(|r| &r.id == res_id)
                {
                    r.methods.remove(&rec.http_method);
                }
                if res_id.is_some()
                    && let Some(stage) = &rec.stage
                {
                    prune_stages.push((gone.len(), stage.clone()));
                }
                gone.push(rep);
                continue;
            }
            if let Some(res_id) = res_id {
                let verb = rec.http_method.as_str();
                if let Err(e) = delete_idempotent(deadline, || aws.delete_method(api_id, &res_id, verb)).await
                {
                    rep.status = Status::Failed;
                    rep.message = Some(format!(
                        "deleting method {verb} {} on REST API {api_id}: {e}",
                        rec.path
                    ));
                    // The record stays, so a later pass tries again.
                    gone.push(rep);
                    continue;
                }
                if let Some(r) = resources.iter_mut().find(|r| r.id == res_id) {
                    r.methods.remove(verb);
                }
                if let Some(stage) = &rec.stage {
                    prune_stages.push((gone.len(), stage.clone()));
                }
            }
            untag.push((gone.len(), key));
            gone.push(rep);
        }
        if !untag.is_empty() {
            let keys: Vec<String> = untag.iter().map(|(_, k)| k.clone()).collect();
            if let Err(e) = retry(deadline, || aws.untag_api(api_id, &keys)).await {
                for (i, _) in &untag {
                    gone[*i].status = Status::Failed;
                    gone[*i].message =
                        Some(format!("removing ownership records from REST API {api_id}: {e}"));
                }
            }
        }

        // Deployments: a stage is in sync only when it serves a deployment of the configuration
        // the API holds now (SPEC §4), recognised by the fingerprint the operator writes in its
        // deployments' descriptions. One CreateDeployment per (API, stage) per pass, for a stage
        // that is stale or missing; a pruned integration's stage only if it exists.
        let mut stages: BTreeSet<&str> = ais.iter().filter_map(|ai| ai.stage.as_deref()).collect();
        stages.extend(declared_stages.iter().map(String::as_str));
        stages.extend(prune_stages.iter().map(|(_, s)| s.as_str()));
        if stages.is_empty() {
            return (reps, gone);
        }
        let stage_failed = |reps: &mut Vec<ResourceReport>,
                            gone: &mut Vec<ResourceReport>,
                            stage: Option<&str>,
                            msg: &str| {
            for rep in reps.iter_mut().filter(|r| {
                ais.iter().any(|ai| {
                    ai.meta.name == r.name
                        && ai.stage.is_some()
                        && stage.is_none_or(|s| ai.stage.as_deref() == Some(s))
                })
            }) {
                rep.status = Status::Failed;
                rep.message = Some(msg.to_owned());
            }
            for (i, s) in &prune_stages {
                if stage.is_none_or(|x| x == s) {
                    gone[*i].status = Status::Failed;
                    gone[*i].message = Some(msg.to_owned());
                }
            }
        };
        let live_stages = match retry(deadline, || aws.stages(api_id)).await {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("reading stages of REST API {api_id}: {e}");
                stage_failed(&mut reps, &mut gone, None, &msg);
                return (reps, gone);
            }
        };
        let configuration = plan::api_configuration(&resources);
        let description = plan::deployment_description(&configuration);
        let no_methods = resources.iter().all(|r| r.methods.is_empty());
        for stage in stages {
            let live = live_stages.iter().find(|s| s.name == stage);
            let declared =
                declared_stages.contains(stage) || ais.iter().any(|ai| ai.stage.as_deref() == Some(stage));
            let on_stage = |rep: &ResourceReport| {
                ais.iter()
                    .any(|ai| ai.meta.name == rep.name && ai.stage.as_deref() == Some(stage))
            };
            let pruned_here: Vec<usize> = prune_stages
                .iter()
                .filter(|(_, s)| s == stage)
                .map(|(i, _)| *i)
                .collect();
            if live.is_none() && !declared {
                continue;
            }
            // What the stage serves now: `None` when it is missing or serves something the
            // operator did not deploy (or an older configuration).
            let serving = match live.and_then(|l| l.deployment_id.clone()) {
                None => None,
                Some(dep) => match retry(deadline, || aws.deployment_description(api_id, &dep)).await {
                    Ok(d) => Some((dep, d)),
                    Err(e) => {
                        let msg = format!("reading deployment {dep} of REST API {api_id}: {e}");
                        stage_failed(&mut reps, &mut gone, Some(stage), &msg);
                        continue;
                    }
                },
            };
            if serving
                .as_ref()
                .is_some_and(|(_, d)| d.as_deref() == Some(description.as_str()))
            {
                continue;
            }
            let change = Change {
                path: format!("stage[{stage:?}]"),
                before: match (&live, &serving) {
                    (None, _) => serde_json::Value::Null,
                    (Some(_), Some((dep, _))) => {
                        format!("deployment {dep} (not the current configuration)").into()
                    }
                    (Some(_), None) => "no deployment".into(),
                },
                after: "a deployment of the current configuration".into(),
            };
            if scope.mode == Mode::Diff {
                for rep in reps.iter_mut().filter(|r| on_stage(r)) {
                    rep.changes.push(change.clone());
                    if rep.status != Status::Failed {
                        rep.status = Status::Pending;
                    }
                    if rep.action == Action::Noop {
                        rep.action = Action::Update;
                    }
                }
                for i in &pruned_here {
                    gone[*i].changes.push(change.clone());
                }
                continue;
            }
            if no_methods {
                // API Gateway refuses to deploy an API without methods; the stage keeps serving
                // its last deployment.
                for i in &pruned_here {
                    gone[*i].message = Some(format!(
                        "stage {stage} not redeployed: REST API {api_id} has no methods left to deploy"
                    ));
                }
                tracing::warn!(api = %api_id, %stage, "not redeployed: the API has no methods left");
                continue;
            }
            let deployed = create_once(
                deadline,
                || aws.deploy(api_id, stage, &description),
                || async {
                    // A deployment whose answer was lost is found on the stage by its description.
                    let Some(dep) = aws.stage_deployment(api_id, stage).await? else {
                        return Ok(None);
                    };
                    let d = aws.deployment_description(api_id, &dep).await?;
                    Ok((d.as_deref() == Some(description.as_str())).then_some(()))
                },
            )
            .await;
            match deployed {
                Err(e) => {
                    let msg = format!("deployment of REST API {api_id} to stage {stage}: {e}");
                    stage_failed(&mut reps, &mut gone, Some(stage), &msg);
                }
                Ok(()) => {
                    for rep in reps.iter_mut().filter(|r| on_stage(r)) {
                        if rep.action == Action::Noop {
                            rep.action = Action::Update;
                        }
                        rep.changes.push(change.clone());
                    }
                    for i in &pruned_here {
                        gone[*i].changes.push(change.clone());
                    }
                }
            }
        }
        (reps, gone)
    }
}

/// The id of the REST API an integration targets: a `ref`'s from the reports the pass knows
/// (`None` while it is still to be created, in diff mode), an `id` as given, a `name`'s from the
/// listing (none or several is an error).
pub(super) fn api_id_of(
    ai: &crate::desired::ApiIntegration,
    known: &BTreeMap<ResourceKey, ResourceReport>,
    listed: &[crate::aws::LiveApi],
) -> Result<Option<String>, String> {
    match &ai.rest_api {
        crate::desired::RestApiTarget::Ref(name) => Ok(known
            .get(&ResourceKey::new(Kind::RestApi, name.clone()))
            .and_then(|rep| rep.id.clone())),
        crate::desired::RestApiTarget::Id(id) => Ok(Some(id.clone())),
        crate::desired::RestApiTarget::Name(name) => {
            let found: Vec<_> = listed.iter().filter(|a| &a.name == name).collect();
            match found.as_slice() {
                [one] => Ok(Some(one.id.clone())),
                [] => Err(format!("NotFoundException: no live REST API named {name:?}")),
                _ => Err(format!("ambiguous: several live REST APIs are named {name:?}")),
            }
        }
    }
}

/// Sets the comparable value of `verb` on `path` in the local view of an API's resources,
/// adding the path if it is not there yet.
fn set_method(
    resources: &mut Vec<crate::aws::LiveResource>,
    path: &str,
    verb: &str,
    value: serde_json::Value,
) {
    match resources.iter_mut().find(|r| r.path == path) {
        Some(r) => {
            r.methods.insert(verb.to_owned(), value);
        }
        None => resources.push(crate::aws::LiveResource {
            id: String::new(),
            path: path.to_owned(),
            methods: BTreeMap::from([(verb.to_owned(), value)]),
        }),
    }
}

/// Writes what differs for one integration: missing path parts, method, integration, responses.
/// Where an integration was before its manifest moved it (another method or path on the same API).
#[derive(Debug)]
struct Moved {
    http_method: String,
    path: String,
    resource_id: String,
}

/// The old live method of an integration whose record on the API names another method or path,
/// when no declared integration manages that method and path any more.
fn moved_from(
    ai: &crate::desired::ApiIntegration,
    live_tags: &BTreeMap<String, String>,
    resources: &[crate::aws::LiveResource],
    claimed: &BTreeSet<(String, String)>,
) -> Option<Moved> {
    let key = ownership::IntegrationRecord::of(ai).tag_key();
    let old = ownership::IntegrationRecord::parse(&key, live_tags.get(&key)?)?;
    if (old.http_method == ai.http_method && old.path == ai.path)
        || claimed.contains(&(old.http_method.clone(), old.path.clone()))
    {
        return None;
    }
    let resource = resources
        .iter()
        .find(|r| r.path == old.path && r.methods.contains_key(&old.http_method))?;
    Some(Moved {
        http_method: old.http_method,
        path: old.path,
        resource_id: resource.id.clone(),
    })
}

/// Writes what differs for one integration: missing path parts, method, integration, responses
/// (the manifest's set exactly). Creates that are not safe to repeat go through [`create_once`],
/// so a lost answer never leaves a duplicate. On success the local view holds the method as the
/// manifest has it.
async fn apply_integration(
    aws: &Aws,
    api_id: &str,
    ai: &crate::desired::ApiIntegration,
    resources: &mut Vec<crate::aws::LiveResource>,
    p: &ResourcePlan,
    deadline: Instant,
) -> Result<(), AwsError> {
    // Missing path parts are created, parent first.
    let mut parent = resources
        .iter()
        .find(|r| r.path == "/")
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            AwsError::permanent(
                "apigateway",
                "GetResources",
                "NotFoundException",
                "the API has no root resource",
            )
        })?;
    let mut path = String::new();
    for part in ai.path.split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        path.push_str(part);
        if let Some(r) = resources.iter().find(|r| r.path == path && !r.id.is_empty()) {
            parent = r.id.clone();
            continue;
        }
        let id = create_once(
            deadline,
            || aws.create_resource(api_id, &parent, part),
            || async {
                // A ConflictException or a lost answer: the path part may exist; read it.
                let live = aws.resources(api_id).await?;
                Ok(live.into_iter().find(|r| r.path == path).map(|r| r.id))
            },
        )
        .await?;
        resources.retain(|r| r.path != path);
        resources.push(crate::aws::LiveResource {
            id: id.clone(),
            path: path.clone(),
            methods: BTreeMap::new(),
        });
        parent = id;
    }
    let res = parent;
    let live = resources
        .iter()
        .find(|r| r.id == res)
        .and_then(|r| r.methods.get(&ai.http_method))
        .cloned();
    let verb = ai.http_method.as_str();
    let changed = |prefix: &str| p.changes.iter().any(|c| c.path.starts_with(prefix));
    match &live {
        None => {
            create_once(
                deadline,
                || aws.put_method(api_id, &res, verb, &ai.authorization_type),
                || async { Ok(aws.method_exists(api_id, &res, verb).await?.then_some(())) },
            )
            .await?
        }
        Some(l) if l["authorizationType"] != serde_json::Value::String(ai.authorization_type.clone()) => {
            retry(deadline, || {
                aws.set_method_auth(api_id, &res, verb, &ai.authorization_type)
            })
            .await?
        }
        Some(_) => {}
    }
    // Responses the manifest no longer names go first, the integration response before the
    // method response, while the live read still describes them (a PutIntegration below drops
    // integration responses in the sandbox and moto, and moto fails deleting a missing one).
    for (code, has_integration_response) in plan::stale_responses(live.as_ref(), ai) {
        if has_integration_response {
            delete_idempotent(deadline, || {
                aws.delete_integration_response(api_id, &res, verb, &code)
            })
            .await?;
        }
        delete_idempotent(deadline, || aws.delete_method_response(api_id, &res, verb, &code)).await?;
    }
    let put_integration = live.is_none() || changed("integration");
    if put_integration {
        retry(deadline, || {
            aws.put_integration(api_id, &res, verb, &ai.integration)
        })
        .await?;
    }
    for r in &ai.responses {
        let work = plan::response_work(live.as_ref(), r, put_integration);
        if work.put_method_response {
            let code = r.status_code.as_str();
            create_once(
                deadline,
                || aws.put_method_response(api_id, &res, verb, code),
                || async {
                    Ok(aws
                        .method_response_exists(api_id, &res, verb, code)
                        .await?
                        .then_some(()))
                },
            )
            .await?;
        }
        if work.put_integration_response {
            retry(deadline, || aws.put_integration_response(api_id, &res, verb, r)).await?;
        }
    }
    if let Some(r) = resources.iter_mut().find(|r| r.id == res) {
        r.methods.insert(verb.to_owned(), plan::integration_value(ai));
    }
    Ok(())
}
