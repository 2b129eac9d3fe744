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

        // REST APIs are listed once per pass and shared.
        let needs_apis = desired.resources.iter().any(|r| {
            in_scope.contains(&r.key()) && matches!(r, Resource::RestApi(_) | Resource::ApiIntegration(_))
        });
        let apis = if needs_apis {
            retry(scope.deadline, || self.aws.list_apis()).await
        } else {
            Ok(Vec::new())
        };

        // Wave 1: resources with no dependencies.
        let mut tasks = JoinSet::new();
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
                        reconcile_machine(&aws, &sm, mode, deadline).await
                    });
                }
                Resource::RestApi(api) => {
                    let rep = match &apis {
                        _ if crate::shutdown::requested() => not_started(r.key()),
                        Ok(list) => reconcile_api(&self.aws, api, list, scope.mode, scope.deadline).await,
                        Err(e) => failed(r.key(), e.to_string()),
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
        let reps = match &apis {
            Ok(list) => {
                self.reconcile_integrations(&integrations, list, &results, scope)
                    .await
            }
            Err(e) => integrations
                .iter()
                .map(|r| failed(r.key(), e.to_string()))
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
        if scope.prune && scope.manifests_valid && scope.only.is_none() && !crate::shutdown::requested() {
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
    let span = tracing::info_span!("reconcile", kind = %key.kind, name = %key.name);
    let _guard = span.enter();
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

/// Reads (from the shared list), plans and applies one REST API.
async fn reconcile_api(
    aws: &Aws,
    api: &crate::desired::RestApi,
    apis: &[crate::aws::LiveApi],
    mode: Mode,
    deadline: Instant,
) -> ResourceReport {
    let key = ResourceKey::new(Kind::RestApi, api.meta.name.clone());
    let mut tags = api.tags.clone();
    tags.extend(ownership::owner_tags(&key, api.deletion_policy));
    let live = match match_api(&key, &api.name, apis) {
        Ok(l) => l,
        Err(m) => return failed(key, m),
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
            return rep;
        }
        match retry(deadline, || aws.create_api(api, &tags)).await {
            Ok(id) => rep.id = Some(id),
            Err(e) => {
                rep.status = Status::Failed;
                rep.message = Some(e.to_string());
            }
        }
        return rep;
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
    plan::diff_tags(&live.tags, &tags, &mut rep.changes);
    if rep.changes.is_empty() {
        return rep;
    }
    rep.action = Action::Update;
    if mode == Mode::Diff {
        rep.status = Status::Pending;
        return rep;
    }
    let result = async {
        if let Some(d) = &api.description
            && live.description.as_ref() != Some(d)
        {
            retry(deadline, || aws.set_api_description(&live.id, d)).await?;
        }
        let to_set: BTreeMap<String, String> = tags
            .iter()
            .filter(|(k, v)| live.tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !to_set.is_empty() {
            retry(deadline, || aws.tag_api(&live.id, &to_set)).await?;
        }
        Ok::<(), AwsError>(())
    }
    .await;
    if let Err(e) = result {
        rep.status = Status::Failed;
        rep.message = Some(e.to_string());
    }
    rep
}

impl Engine {
    /// Reconciles integrations API by API (resources read once per API), then deploys each
    /// (API, stage) at most once: when the API changed in this pass or the stage is missing.
    async fn reconcile_integrations(
        &self,
        integrations: &[&Resource],
        apis: &[crate::aws::LiveApi],
        done: &BTreeMap<ResourceKey, ResourceReport>,
        scope: &PassScope,
    ) -> Vec<ResourceReport> {
        let aws = &self.aws;
        let deadline = scope.deadline;
        let mut out = Vec::new();
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
            let mut resources = match retry(deadline, || aws.resources(&api_id)).await {
                Ok(r) => r,
                Err(e) => {
                    out.extend(ais.iter().map(|ai| {
                        failed(
                            ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()),
                            e.to_string(),
                        )
                    }));
                    continue;
                }
            };
            let mut changed = false;
            let mut reps = Vec::new();
            for ai in &ais {
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
                if p.action != Action::Noop {
                    if scope.mode == Mode::Diff {
                        rep.status = Status::Pending;
                    } else if crate::shutdown::requested() {
                        rep = not_started(ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()));
                    } else {
                        match apply_integration(aws, &api_id, ai, &mut resources, &p, deadline).await {
                            Ok(()) => changed = true,
                            Err(e) => {
                                rep.status = Status::Failed;
                                rep.message = Some(e.to_string());
                            }
                        }
                    }
                }
                reps.push(rep);
            }
            // Deployments: one per (API, stage), only if the API changed or the stage is missing.
            let stages: BTreeSet<&str> = ais.iter().filter_map(|ai| ai.stage.as_deref()).collect();
            if !stages.is_empty() {
                let live_stages = match retry(deadline, || aws.stages(&api_id)).await {
                    Ok(s) => s,
                    Err(e) => {
                        for rep in &mut reps {
                            rep.status = Status::Failed;
                            rep.message = Some(e.to_string());
                        }
                        out.extend(reps);
                        continue;
                    }
                };
                for stage in stages {
                    let missing = !live_stages.iter().any(|s| s == stage);
                    if !(changed || missing) {
                        continue;
                    }
                    let on_stage = |rep: &ResourceReport| {
                        ais.iter()
                            .any(|ai| ai.meta.name == rep.name && ai.stage.as_deref() == Some(stage))
                    };
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
                    if let Err(e) = retry(deadline, || aws.deploy(&api_id, stage)).await {
                        for rep in reps.iter_mut().filter(|r| on_stage(r)) {
                            rep.status = Status::Failed;
                            rep.message = Some(format!("deployment to stage {stage}: {e}"));
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
            }
            out.extend(reps);
        }
        out
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
