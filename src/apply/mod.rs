//! The pass: read live state, plan, and (in `Apply` mode) carry the plan out through `aws`, one
//! outcome per resource. The daemon calls [`Engine::pass`] in a loop; `diff` and
//! `reconcile --once` call it once.
//!
//! ```ignore
//! let engine = Engine::connect(&settings, 8).await?;
//! let report = engine.pass(&desired, &PassScope::apply(deadline)).await;
//! ```
//!
//! Order (SPEC §4): state machines and REST APIs first, concurrently (bounded by `concurrency`),
//! then API integrations; a resource whose dependency failed is `Skipped`, unrelated ones go on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::aws::{Aws, AwsError, Settings, retry};
use crate::desired::{DesiredSet, Kind, Resource, ResourceKey, StateMachine};
use crate::ownership;
use crate::plan::{self, ResourcePlan};
use crate::report::{Action, Change, Report, ResourceReport, Status};

/// Whether a pass only looks (`diff`) or also writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Diff,
    Apply,
}

/// What one pass covers.
#[derive(Debug, Clone)]
pub struct PassScope {
    pub mode: Mode,
    /// Delete owned resources whose manifest is gone (SPEC §5).
    pub prune: bool,
    /// Only these keys (plus their dependants); `None` means everything.
    pub only: Option<BTreeSet<ResourceKey>>,
    /// Keys whose manifests are invalid: reported `Invalid`, never touched, never pruned.
    pub invalid: Vec<ResourceKey>,
    /// False when any manifest failed to load or validate: pruning is then off.
    pub manifests_valid: bool,
    /// Transient failures are retried until then.
    pub deadline: Instant,
}

impl PassScope {
    /// A full pass in `mode` with every manifest valid and no pruning.
    pub fn new(mode: Mode, deadline: Instant) -> Self {
        PassScope {
            mode,
            prune: false,
            only: None,
            invalid: Vec::new(),
            manifests_valid: true,
            deadline,
        }
    }
}

/// Connected AWS clients plus pass settings; build once, run many passes.
#[derive(Debug, Clone)]
pub struct Engine {
    aws: Aws,
    concurrency: usize,
}

impl Engine {
    /// Connects to AWS (or the endpoint in `settings`).
    pub async fn connect(settings: &Settings, concurrency: usize) -> Result<Engine, AwsError> {
        Ok(Engine::new(Aws::connect(settings).await?, concurrency))
    }

    /// Wraps already connected clients.
    pub fn new(aws: Aws, concurrency: usize) -> Engine {
        Engine {
            aws,
            concurrency: concurrency.max(1),
        }
    }

    /// The clients, region and account in use.
    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    /// Runs one pass and reports every resource in scope (in manifest order, prunes last).
    pub async fn pass(&self, desired: &DesiredSet, scope: &PassScope) -> Report {
        let in_scope = scope_keys(desired, scope.only.as_ref());
        let invalid: BTreeSet<&ResourceKey> = scope.invalid.iter().collect();
        let sem = Arc::new(Semaphore::new(self.concurrency));
        let mut results: BTreeMap<ResourceKey, ResourceReport> = BTreeMap::new();

        // Pruning only in full passes with every manifest valid (SPEC §5).
        let pruning =
            scope.prune && scope.manifests_valid && scope.only.is_none() && !crate::shutdown::requested();
        let declared = |k: &ResourceKey| desired.get(k).is_some() || scope.invalid.contains(k);

        // REST APIs are listed once per pass and shared (with pruning, too).
        let needs_apis = pruning
            || desired.resources.iter().any(|r| {
                in_scope.contains(&r.key()) && matches!(r, Resource::RestApi(_) | Resource::ApiIntegration(_))
            });
        let apis = if needs_apis {
            retry(scope.deadline, || self.aws.list_apis()).await
        } else {
            Ok(Vec::new())
        };
        let api_prunes = match &apis {
            Ok(list) if pruning => ApiPrunes::decide(desired, list, &declared, scope.manifests_valid),
            Ok(_) => ApiPrunes::default(),
            Err(e) => {
                if pruning {
                    tracing::error!(error = %e, "listing REST APIs for pruning failed");
                }
                ApiPrunes::default()
            }
        };

        // Wave 1: resources with no dependencies.
        let mut tasks = JoinSet::new();
        let mut created: BTreeMap<String, crate::aws::LiveApi> = BTreeMap::new();
        for r in desired
            .resources
            .iter()
            .filter(|r| in_scope.contains(&r.key()) && !invalid.contains(&r.key()))
        {
            match r {
                Resource::StateMachine(sm) => {
                    let (aws, sm, sem, mode, deadline) = (
                        self.aws.clone(),
                        sm.clone(),
                        sem.clone(),
                        scope.mode,
                        scope.deadline,
                    );
                    tasks.spawn(async move {
                        let _permit = sem.acquire_owned().await;
                        if crate::shutdown::requested() {
                            return not_started(ResourceKey::new(Kind::StateMachine, sm.meta.name.clone()));
                        }
                        let span = reconcile_span(Kind::StateMachine, &sm.meta.name);
                        reconcile_machine(&aws, &sm, mode, deadline)
                            .instrument(span)
                            .await
                    });
                }
                Resource::RestApi(api) => {
                    let rep = match &apis {
                        _ if crate::shutdown::requested() => not_started(r.key()),
                        Ok(list) => {
                            let records = creation_records(desired, &api.meta.name, &invalid);
                            let (rep, new) =
                                reconcile_api(&self.aws, api, list, &records, scope.mode, scope.deadline)
                                    .instrument(reconcile_span(Kind::RestApi, &api.meta.name))
                                    .await;
                            if let Some(new) = new {
                                created.insert(new.id.clone(), new);
                            }
                            rep
                        }
                        Err(e) => failed(r.key(), format!("listing REST APIs: {e}")),
                    };
                    results.insert(r.key(), rep);
                }
                Resource::ApiIntegration(_) => {}
            }
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(rep) = done {
                results.insert(ResourceKey::new(rep.kind, rep.name.clone()), rep);
            }
        }
        // Wave 2: integrations, after what they depend on.
        let mut integrations = Vec::new();
        for r in desired
            .resources
            .iter()
            .filter(|r| in_scope.contains(&r.key()) && !invalid.contains(&r.key()))
        {
            if let Resource::ApiIntegration(_) = r {
                let blocked = r.dependencies().into_iter().find(|d| {
                    invalid.contains(d)
                        || results.get(d).is_some_and(|rep| {
                            matches!(rep.status, Status::Failed | Status::Skipped | Status::Invalid)
                        })
                });
                let rep = match blocked {
                    Some(dep) => ResourceReport {
                        kind: r.kind(),
                        name: r.meta().name.clone(),
                        action: Action::Noop,
                        status: Status::Skipped,
                        changes: Vec::new(),
                        id: None,
                        message: Some(format!("skipped: depends on {dep}, which did not reconcile")),
                    },
                    None => {
                        integrations.push(r);
                        continue;
                    }
                };
                results.insert(r.key(), rep);
            }
        }
        let mut prunes = Vec::new();
        let reps = match &apis {
            Ok(list) => {
                let (reps, gone) = self
                    .reconcile_integrations(
                        &integrations,
                        list,
                        &created,
                        &results,
                        &api_prunes.integrations,
                        scope,
                    )
                    .await;
                prunes.extend(gone);
                reps
            }
            Err(e) => integrations
                .iter()
                .map(|r| failed(r.key(), format!("listing REST APIs: {e}")))
                .collect(),
        };
        for rep in reps {
            results.insert(ResourceKey::new(rep.kind, rep.name.clone()), rep);
        }

        let mut out = Vec::new();
        for r in &desired.resources {
            let key = r.key();
            if invalid.contains(&key) {
                out.push(invalid_report(&key));
            } else if let Some(rep) = results.remove(&key) {
                out.push(rep);
            }
        }
        for key in &scope.invalid {
            if desired.get(key).is_none() && scope.only.as_ref().is_none_or(|o| o.contains(key)) {
                out.push(invalid_report(key));
            }
        }
        // Prunes last, integrations before the APIs they were on, then state machines.
        out.extend(prunes);
        if pruning {
            out.extend(self.prune_apis(&api_prunes.apis, scope).await);
            out.extend(self.prune_machines(desired, scope).await);
        }
        Report::new(out)
    }

    async fn prune_machines(&self, desired: &DesiredSet, scope: &PassScope) -> Vec<ResourceReport> {
        let mut out = Vec::new();
        let machines = match retry(scope.deadline, || self.aws.list_machines()).await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "listing state machines for pruning failed");
                return out;
            }
        };
        let wanted: BTreeSet<&str> = desired
            .resources
            .iter()
            .filter_map(|r| match r {
                Resource::StateMachine(sm) => Some(sm.name.as_str()),
                _ => None,
            })
            .collect();
        let declared = |k: &ResourceKey| desired.get(k).is_some() || scope.invalid.contains(k);
        for (name, arn) in machines.into_iter().filter(|(n, _)| !wanted.contains(n.as_str())) {
            let tags = match retry(scope.deadline, || self.aws.machine_tags(&arn)).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, %name, "reading tags for pruning failed");
                    continue;
                }
            };
            let Some(key) = ownership::prunable(&tags, &declared, scope.manifests_valid) else {
                continue;
            };
            if key.kind != Kind::StateMachine {
                continue;
            }
            let (status, message) = match scope.mode {
                Mode::Diff => (Status::Pending, None),
                Mode::Apply => match retry(scope.deadline, || self.aws.delete_machine(&arn)).await {
                    Ok(()) => (Status::Synced, None),
                    Err(e) => (Status::Failed, Some(e.to_string())),
                },
            };
            out.push(ResourceReport {
                kind: key.kind,
                name: key.name,
                action: Action::Delete,
                status,
                changes: vec![Change {
                    path: "stateMachine".into(),
                    before: arn.clone().into(),
                    after: serde_json::Value::Null,
                }],
                id: Some(arn),
                message,
            });
        }
        out
    }
}

/// The ownership records of the (valid) integrations that target the `RestApi` manifest `api` by
/// `ref`, to be set when that API is created. Records too long to be tags are left out (their
/// integration fails on its own with the reason).
fn creation_records(
    desired: &DesiredSet,
    api: &str,
    invalid: &BTreeSet<&ResourceKey>,
) -> BTreeMap<String, String> {
    desired
        .resources
        .iter()
        .filter(|r| !invalid.contains(&r.key()))
        .filter_map(|r| match r {
            Resource::ApiIntegration(ai)
                if matches!(&ai.rest_api, crate::desired::RestApiTarget::Ref(n) if n == api) =>
            {
                ownership::IntegrationRecord::of(ai).tag().ok()
            }
            _ => None,
        })
        .collect()
}

/// The keys in scope: `only` plus everything that depends on them, transitively.
pub(crate) fn scope_keys(
    desired: &DesiredSet,
    only: Option<&BTreeSet<ResourceKey>>,
) -> BTreeSet<ResourceKey> {
    let all: BTreeSet<ResourceKey> = desired.resources.iter().map(Resource::key).collect();
    let Some(only) = only else { return all };
    let mut set: BTreeSet<ResourceKey> = only.iter().filter(|k| all.contains(k)).cloned().collect();
    loop {
        let before = set.len();
        for r in &desired.resources {
            if r.dependencies().iter().any(|d| set.contains(d)) {
                set.insert(r.key());
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

/// Reads, plans and (in `Apply` mode) applies one state machine.
async fn reconcile_machine(aws: &Aws, sm: &StateMachine, mode: Mode, deadline: Instant) -> ResourceReport {
    let key = ResourceKey::new(Kind::StateMachine, sm.meta.name.clone());
    let arn = aws.state_machine_arn(&sm.name);
    let mut tags = sm.tags.clone();
    tags.extend(ownership::owner_tags(&key, sm.deletion_policy));
    let mut rep = ResourceReport {
        kind: key.kind,
        name: key.name.clone(),
        action: Action::Noop,
        status: Status::Synced,
        changes: Vec::new(),
        id: Some(arn.clone()),
        message: None,
    };
    let live = match retry(deadline, || aws.describe_machine(&arn)).await {
        Ok(l) => l,
        Err(e) => {
            rep.status = Status::Failed;
            rep.message = Some(e.to_string());
            return rep;
        }
    };
    let p: ResourcePlan = plan::plan_state_machine(sm, &tags, live.as_ref());
    rep.action = p.action;
    rep.changes = p.changes.clone();
    if let Some(err) = &p.error {
        rep.status = Status::Failed;
        rep.message = Some(err.clone());
        return rep;
    }
    if p.action == Action::Noop {
        return rep;
    }
    if mode == Mode::Diff {
        rep.status = Status::Pending;
        return rep;
    }
    let result = match (&live, p.action) {
        (None, _) => retry(deadline, || aws.create_machine(sm, &tags))
            .await
            .map(|arn| rep.id = Some(arn)),
        (Some(live), _) => apply_machine_update(aws, &arn, sm, &tags, live, &p, deadline).await,
    };
    match result {
        Ok(()) => {
            tracing::info!(action = ?p.action, "applied");
        }
        Err(e) => {
            tracing::error!(error = %e, "apply failed");
            rep.status = Status::Failed;
            rep.message = Some(e.to_string());
        }
    }
    rep
}

async fn apply_machine_update(
    aws: &Aws,
    arn: &str,
    sm: &StateMachine,
    tags: &BTreeMap<String, String>,
    live: &crate::aws::LiveMachine,
    p: &ResourcePlan,
    deadline: Instant,
) -> Result<(), AwsError> {
    if plan::needs_machine_update(p) {
        retry(deadline, || aws.update_machine(arn, sm)).await?;
    }
    let to_set: BTreeMap<String, String> = tags
        .iter()
        .filter(|(k, v)| live.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !to_set.is_empty() {
        retry(deadline, || aws.tag_machine(arn, &to_set)).await?;
    }
    let to_remove: Vec<String> = live
        .tags
        .keys()
        .filter(|k| k.starts_with("sfn-operator.dev/") && !tags.contains_key(*k))
        .cloned()
        .collect();
    if !to_remove.is_empty() {
        retry(deadline, || aws.untag_machine(arn, &to_remove)).await?;
    }
    Ok(())
}

/// Finds the live API a `RestApi` manifest manages: the one tagged as its manifest, else the one
/// unowned API of that name (adoption). Two candidates are an error, never a guess.
fn match_api<'a>(
    key: &ResourceKey,
    name: &str,
    apis: &'a [crate::aws::LiveApi],
) -> Result<Option<&'a crate::aws::LiveApi>, String> {
    let owned: Vec<_> = apis
        .iter()
        .filter(|a| ownership::owner(&a.tags).as_ref() == Some(key))
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
async fn reconcile_api(
    aws: &Aws,
    api: &crate::desired::RestApi,
    apis: &[crate::aws::LiveApi],
    records: &BTreeMap<String, String>,
    mode: Mode,
    deadline: Instant,
) -> (ResourceReport, Option<crate::aws::LiveApi>) {
    let key = ResourceKey::new(Kind::RestApi, api.meta.name.clone());
    let mut tags = api.tags.clone();
    tags.extend(ownership::owner_tags(&key, api.deletion_policy));
    let live = match match_api(&key, &api.name, apis) {
        Ok(l) => l,
        Err(m) => return (failed(key, m), None),
    };
    let mut rep = ResourceReport {
        kind: key.kind,
        name: key.name.clone(),
        action: Action::Noop,
        status: Status::Synced,
        changes: Vec::new(),
        id: live.map(|l| l.id.clone()),
        message: None,
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
        match retry(deadline, || aws.create_api(api, &all)).await {
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

fn too_many_tags(api: &str, count: usize) -> String {
    format!(
        "REST API {api} would carry {count} tags, over API Gateway's limit of {} (its manifest's tags, \
         3 ownership tags and one record per ApiIntegration on it)",
        ownership::MAX_TAGS
    )
}

/// What pruning removes from API Gateway in a pass, decided from the one listing of REST APIs.
#[derive(Debug, Default)]
struct ApiPrunes {
    /// Owned REST APIs whose manifest is gone and whose last known policy is `Delete`.
    apis: Vec<(ResourceKey, crate::aws::LiveApi)>,
    /// API id → the prunable integration records on it (APIs not pruned themselves: deleting an
    /// API removes its integrations with it).
    integrations: BTreeMap<String, Vec<PruneRecord>>,
}

/// A prunable integration record, and whether a remaining manifest (reconciled in this pass or
/// not, e.g. skipped because a dependency failed) may manage the same method on the same API: then
/// only the stale record goes, never the method.
#[derive(Debug, Clone)]
struct PruneRecord {
    record: ownership::IntegrationRecord,
    method_claimed: bool,
}

impl ApiPrunes {
    fn decide(
        desired: &DesiredSet,
        apis: &[crate::aws::LiveApi],
        declared: &dyn Fn(&ResourceKey) -> bool,
        manifests_valid: bool,
    ) -> Self {
        let mut out = ApiPrunes::default();
        // An API a declared integration targets by id or name stays, whatever its tags say.
        let targeted = |a: &crate::aws::LiveApi| {
            desired.resources.iter().any(|r| match r {
                Resource::ApiIntegration(ai) => match &ai.rest_api {
                    crate::desired::RestApiTarget::Id(id) => *id == a.id,
                    crate::desired::RestApiTarget::Name(name) => *name == a.name,
                    crate::desired::RestApiTarget::Ref(_) => false,
                },
                _ => false,
            })
        };
        for a in apis {
            if let Some(key) = ownership::prunable(&a.tags, declared, manifests_valid)
                && key.kind == Kind::RestApi
                && !targeted(a)
            {
                out.apis.push((key, a.clone()));
                continue;
            }
            // Could a declared integration target this API? (Conservative: by id, by name, or by a
            // RestApi manifest that owns it or would adopt it.)
            let may_target = |ai: &crate::desired::ApiIntegration| match &ai.rest_api {
                crate::desired::RestApiTarget::Id(id) => *id == a.id,
                crate::desired::RestApiTarget::Name(name) => *name == a.name,
                crate::desired::RestApiTarget::Ref(r) => ownership::owner(&a.tags)
                    == Some(ResourceKey::new(Kind::RestApi, r.clone()))
                    || desired.resources.iter().any(
                        |x| matches!(x, Resource::RestApi(api) if api.meta.name == *r && api.name == a.name),
                    ),
            };
            let records: Vec<_> = ownership::integration_records(&a.tags)
                .into_iter()
                .filter(|r| ownership::integration_prunable(r, declared, manifests_valid))
                .map(|record| PruneRecord {
                    method_claimed: desired.resources.iter().any(|r| match r {
                        Resource::ApiIntegration(ai) => {
                            ai.path == record.path && ai.http_method == record.http_method && may_target(ai)
                        }
                        _ => false,
                    }),
                    record,
                })
                .collect();
            if !records.is_empty() {
                out.integrations.insert(a.id.clone(), records);
            }
        }
        out
    }
}

impl Engine {
    /// Deletes the REST APIs pruning chose (after their integrations' pass).
    async fn prune_apis(
        &self,
        apis: &[(ResourceKey, crate::aws::LiveApi)],
        scope: &PassScope,
    ) -> Vec<ResourceReport> {
        let mut out = Vec::new();
        for (key, api) in apis {
            let (status, message) = match scope.mode {
                Mode::Diff => (Status::Pending, None),
                Mode::Apply => match retry(scope.deadline, || self.aws.delete_api(&api.id)).await {
                    Ok(()) => (Status::Synced, None),
                    Err(e) => (Status::Failed, Some(format!("deleting REST API {}: {e}", api.id))),
                },
            };
            out.push(ResourceReport {
                kind: key.kind,
                name: key.name.clone(),
                action: Action::Delete,
                status,
                changes: vec![Change {
                    path: "restApi".into(),
                    before: api.id.clone().into(),
                    after: serde_json::Value::Null,
                }],
                id: Some(api.id.clone()),
                message,
            });
        }
        out
    }

    /// Reconciles integrations API by API (resources read once per API), prunes the integrations
    /// chosen for pruning on the same APIs, then deploys each (API, stage) at most once: when the
    /// API changed in this pass or the stage is missing. Returns the integrations' reports and the
    /// prunes' reports.
    async fn reconcile_integrations(
        &self,
        integrations: &[&Resource],
        apis: &[crate::aws::LiveApi],
        created: &BTreeMap<String, crate::aws::LiveApi>,
        done: &BTreeMap<ResourceKey, ResourceReport>,
        prunes: &BTreeMap<String, Vec<PruneRecord>>,
        scope: &PassScope,
    ) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
        let mut out = Vec::new();
        let mut pruned = Vec::new();
        // API id (None: the API is still to be created, diff mode) → integrations on it.
        let mut by_api: BTreeMap<Option<String>, Vec<&crate::desired::ApiIntegration>> = BTreeMap::new();
        for r in integrations {
            let Resource::ApiIntegration(ai) = r else { continue };
            let id = match &ai.rest_api {
                crate::desired::RestApiTarget::Ref(name) => done
                    .get(&ResourceKey::new(Kind::RestApi, name.clone()))
                    .and_then(|rep| rep.id.clone()),
                crate::desired::RestApiTarget::Id(id) => Some(id.clone()),
                crate::desired::RestApiTarget::Name(name) => {
                    let found: Vec<_> = apis.iter().filter(|a| &a.name == name).collect();
                    match found.as_slice() {
                        [one] => Some(one.id.clone()),
                        [] => {
                            out.push(failed(
                                r.key(),
                                format!("NotFoundException: no live REST API named {name:?}"),
                            ));
                            continue;
                        }
                        _ => {
                            out.push(failed(
                                r.key(),
                                format!("ambiguous: several live REST APIs are named {name:?}"),
                            ));
                            continue;
                        }
                    }
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
            let live_tags = created
                .get(&api_id)
                .or_else(|| apis.iter().find(|a| a.id == api_id))
                .map(|a| a.tags.clone())
                .unwrap_or_default();
            let (reps, gone) = self
                .integrations_on_api(
                    &api_id,
                    &ais,
                    prunes.get(&api_id).unwrap_or(&no_prunes),
                    &live_tags,
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
        prunes: &[PruneRecord],
        live_tags: &BTreeMap<String, String>,
        scope: &PassScope,
    ) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
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
            match ownership::IntegrationRecord::of(ai).tag() {
                Err(m) => {
                    rep.status = Status::Failed;
                    rep.message = Some(m);
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
            if rep.action != Action::Noop && rep.status != Status::Failed && !apply {
                rep.status = Status::Pending;
            }
            reps.push(rep);
            plans.push(p);
        }

        // Apply: record ownership first (one TagResource per API), so nothing is created
        // unrecorded; then the integrations.
        let mut changed = false;
        if apply {
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
                    Ok(()) => changed = true,
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
                gone.push(rep);
                continue;
            }
            if let Some(res_id) = res_id {
                let verb = rec.http_method.as_str();
                if let Err(e) = retry(deadline, || aws.delete_method(api_id, &res_id, verb)).await {
                    rep.status = Status::Failed;
                    rep.message = Some(format!(
                        "deleting method {verb} {} on REST API {api_id}: {e}",
                        rec.path
                    ));
                    // The record stays, so a later pass tries again.
                    gone.push(rep);
                    continue;
                }
                changed = true;
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

        // Deployments: one per (API, stage), only if the API changed or a manifest's stage is
        // missing; a pruned integration's stage is redeployed only if it exists.
        let mut stages: BTreeSet<&str> = ais.iter().filter_map(|ai| ai.stage.as_deref()).collect();
        stages.extend(prune_stages.iter().map(|(_, s)| s.as_str()));
        if stages.is_empty() {
            return (reps, gone);
        }
        let live_stages = match retry(deadline, || aws.stages(api_id)).await {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("reading stages of REST API {api_id}: {e}");
                for rep in reps.iter_mut() {
                    rep.status = Status::Failed;
                    rep.message = Some(msg.clone());
                }
                for (i, _) in &prune_stages {
                    gone[*i].status = Status::Failed;
                    gone[*i].message = Some(msg.clone());
                }
                return (reps, gone);
            }
        };
        // (Methods created in this pass are not in `resources`: only an API with no manifest's
        // integration on it can be left empty, by pruning.)
        let no_methods = ais.is_empty() && resources.iter().all(|r| r.methods.is_empty());
        for stage in stages {
            let missing = !live_stages.iter().any(|s| s == stage);
            let declared = ais.iter().any(|ai| ai.stage.as_deref() == Some(stage));
            let on_stage = |rep: &ResourceReport| {
                ais.iter()
                    .any(|ai| ai.meta.name == rep.name && ai.stage.as_deref() == Some(stage))
            };
            let pruned_here: Vec<usize> = prune_stages
                .iter()
                .filter(|(_, s)| s == stage)
                .map(|(i, _)| *i)
                .collect();
            if !(changed || missing) || (missing && !declared) {
                continue;
            }
            if scope.mode == Mode::Diff {
                for rep in reps.iter_mut().filter(|r| on_stage(r)) {
                    if missing {
                        rep.changes.push(Change {
                            path: format!("stage[{stage:?}]"),
                            before: serde_json::Value::Null,
                            after: "deployed".into(),
                        });
                        rep.status = Status::Pending;
                        if rep.action == Action::Noop {
                            rep.action = Action::Update;
                        }
                    }
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
            if let Err(e) = retry(deadline, || aws.deploy(api_id, stage)).await {
                let msg = format!("deployment of REST API {api_id} to stage {stage}: {e}");
                for rep in reps.iter_mut().filter(|r| on_stage(r)) {
                    rep.status = Status::Failed;
                    rep.message = Some(msg.clone());
                }
                for i in &pruned_here {
                    gone[*i].status = Status::Failed;
                    gone[*i].message = Some(msg.clone());
                }
            } else if missing {
                for rep in reps
                    .iter_mut()
                    .filter(|r| on_stage(r) && r.action == Action::Noop)
                {
                    rep.action = Action::Update;
                    rep.changes.push(Change {
                        path: format!("stage[{stage:?}]"),
                        before: serde_json::Value::Null,
                        after: "deployed".into(),
                    });
                }
            }
        }
        (reps, gone)
    }
}

/// Writes what differs for one integration: missing path parts, method, integration, responses.
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
        if let Some(r) = resources.iter().find(|r| r.path == path) {
            parent = r.id.clone();
            continue;
        }
        let id = retry(deadline, || aws.create_resource(api_id, &parent, part)).await?;
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
            retry(deadline, || {
                aws.put_method(api_id, &res, verb, &ai.authorization_type)
            })
            .await?
        }
        Some(_) if changed("authorizationType") => {
            retry(deadline, || {
                aws.set_method_auth(api_id, &res, verb, &ai.authorization_type)
            })
            .await?
        }
        Some(_) => {}
    }
    let put_integration = live.is_none() || changed("integration");
    if put_integration {
        retry(deadline, || {
            aws.put_integration(api_id, &res, verb, &ai.integration)
        })
        .await?;
    }
    for r in &ai.responses {
        let live_resp = live.as_ref().and_then(|l| l["responses"].get(&r.status_code));
        if live_resp.is_none() {
            retry(deadline, || {
                aws.put_method_response(api_id, &res, verb, &r.status_code)
            })
            .await?;
        }
        let resp_path = format!(
            "responses{}",
            crate::path::Path::root().key(r.status_code.clone())
        );
        if put_integration || live_resp.is_none() || changed(&resp_path) {
            retry(deadline, || aws.put_integration_response(api_id, &res, verb, r)).await?;
        }
    }
    Ok(())
}

fn failed(key: ResourceKey, message: String) -> ResourceReport {
    ResourceReport {
        kind: key.kind,
        name: key.name,
        action: Action::Noop,
        status: Status::Failed,
        changes: Vec::new(),
        id: None,
        message: Some(message),
    }
}

/// The span around everything done for one resource (SPEC §6: one span per reconcile, with kind
/// and name). The name field is `resource`: JSON logs already use `name` for the span's own name,
/// and a duplicate key would be lost by most log pipelines. Attached with `.instrument`, never
/// entered across an `.await`.
fn reconcile_span(kind: Kind, name: &str) -> tracing::Span {
    tracing::info_span!("reconcile", kind = %kind, resource = %name)
}

/// The report of a resource not started because the process is shutting down; the next run
/// (or the daemon after a restart) picks it up.
fn not_started(key: ResourceKey) -> ResourceReport {
    ResourceReport {
        kind: key.kind,
        name: key.name,
        action: Action::Noop,
        status: Status::Skipped,
        changes: Vec::new(),
        id: None,
        message: Some("not started: shutting down".into()),
    }
}

/// The report of a resource whose manifest is invalid: untouched, marked `Invalid`.
fn invalid_report(key: &ResourceKey) -> ResourceReport {
    ResourceReport {
        kind: key.kind,
        name: key.name.clone(),
        action: Action::Noop,
        status: Status::Invalid,
        changes: Vec::new(),
        id: None,
        message: Some("manifest is invalid; nothing was changed".into()),
    }
}
