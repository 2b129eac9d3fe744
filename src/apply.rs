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
                        reconcile_machine(&aws, &sm, mode, deadline).await
                    });
                }
                Resource::RestApi(_) => {
                    results.insert(r.key(), unsupported(r.key()));
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
                    None => unsupported(r.key()),
                };
                results.insert(r.key(), rep);
            }
        }

        let mut out = Vec::new();
        for r in &desired.resources {
            let key = r.key();
            if invalid.contains(&key) {
                out.push(ResourceReport {
                    kind: key.kind,
                    name: key.name.clone(),
                    action: Action::Noop,
                    status: Status::Invalid,
                    changes: Vec::new(),
                    id: None,
                    message: Some("manifest is invalid; nothing was changed".into()),
                });
            } else if let Some(rep) = results.remove(&key) {
                out.push(rep);
            }
        }
        for key in &scope.invalid {
            if desired.get(key).is_none() && scope.only.as_ref().is_none_or(|o| o.contains(key)) {
                out.push(ResourceReport {
                    kind: key.kind,
                    name: key.name.clone(),
                    action: Action::Noop,
                    status: Status::Invalid,
                    changes: Vec::new(),
                    id: None,
                    message: Some("manifest is invalid; nothing was changed".into()),
                });
            }
        }
        if scope.prune && scope.manifests_valid && scope.only.is_none() {
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
fn scope_keys(desired: &DesiredSet, only: Option<&BTreeSet<ResourceKey>>) -> BTreeSet<ResourceKey> {
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

fn unsupported(key: ResourceKey) -> ResourceReport {
    ResourceReport {
        kind: key.kind,
        name: key.name,
        action: Action::Noop,
        status: Status::Failed,
        changes: Vec::new(),
        id: None,
        message: Some(format!(
            "reconciling {} is not implemented yet in this build",
            key.kind
        )),
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
            if p.action == Action::Update {
                crate::metrics::global().drift_corrected(Kind::StateMachine.as_str());
            }
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
