//! The pass: read live state, plan, and (in `Apply` mode) carry the plan out through `aws`, one
//! outcome per resource. The daemon calls [`Engine::pass`] in a loop; `diff` and
//! `reconcile --once` call it once.
//!
//! ```ignore
//! let engine = Engine::connect(&settings, 8, deadline).await?;
//! let report = engine.pass(&desired, &PassScope::new(Mode::Apply, deadline)).await;
//! ```
//!
//! Order (SPEC §4): state machines and REST APIs first, concurrently (bounded by `concurrency`),
//! then API integrations; a resource whose dependency failed is `Skipped`, unrelated ones go on.
//!
//! One file per concern:
//! - `mod.rs` (this file): the pass driver — scope, the two waves, the order of the report — and
//!   the small report helpers the others share. It decides *what* runs and in which order, never
//!   *how* a resource is written.
//! - `machine.rs`: one state machine (read, plan, create or update, tags).
//! - `rest_api.rs`: one REST API (which live API a manifest manages, create or update, tags).
//! - `integration.rs`: API integrations, API by API, with their ownership records, the pruning of
//!   stale integration records on those APIs, and deployments.
//! - `prune.rs`: what pruning removes, and the deletion of whole REST APIs and state machines.

mod integration;
mod machine;
mod prune;
mod rest_api;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::aws::{Aws, AwsError, Settings, retry};
use crate::desired::{DesiredSet, Kind, Resource, ResourceKey};
use crate::report::{Report, ResourceReport, Status};

use machine::reconcile_machine;
use prune::ApiPrunes;
use rest_api::{creation_records, reconcile_api};

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
    /// `PATH`s that hold no manifest at all: pruning is then held back unless `allow_empty`.
    pub empty_paths: Vec<PathBuf>,
    /// `--allow-empty`: prune even when a `PATH` holds no manifest.
    pub allow_empty: bool,
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
            empty_paths: Vec::new(),
            allow_empty: false,
            deadline,
        }
    }

    /// Why pruning, asked for in a full pass, must not run in this one (SPEC §5); `None` when it
    /// may (or was not asked for).
    pub fn prune_held_back(&self) -> Option<String> {
        if !self.prune || self.only.is_some() {
            return None;
        }
        if !self.manifests_valid {
            return Some("a manifest failed to load or validate; nothing was pruned".into());
        }
        if self.empty_paths.is_empty() || self.allow_empty {
            return None;
        }
        let paths: Vec<String> = self.empty_paths.iter().map(|p| p.display().to_string()).collect();
        Some(format!(
            "{} {} no manifest at all (an emptied directory, ConfigMap or git-sync checkout?); \
             nothing was pruned. If deleting everything this PATH managed is intended, pass --allow-empty",
            paths.join(", "),
            if paths.len() == 1 { "holds" } else { "hold" }
        ))
    }
}

/// Connected AWS clients plus pass settings; build once, run many passes.
#[derive(Debug, Clone)]
pub struct Engine {
    aws: Aws,
    concurrency: usize,
    /// This instance's owner id (SPEC §5): what it tags, and the only owner it updates or prunes.
    owner: String,
}

impl Engine {
    /// Connects to AWS (or the endpoint in `settings`), retrying transient failures until
    /// `deadline`.
    pub async fn connect(
        settings: &Settings,
        concurrency: usize,
        deadline: Instant,
    ) -> Result<Engine, AwsError> {
        Ok(Engine::new(Aws::connect(settings, deadline).await?, concurrency))
    }

    /// Wraps already connected clients.
    pub fn new(aws: Aws, concurrency: usize) -> Engine {
        Engine {
            aws,
            concurrency: concurrency.max(1),
            owner: crate::ownership::DEFAULT_OWNER.to_owned(),
        }
    }

    /// The same engine acting as the instance `owner` (`--owner-id`).
    #[must_use]
    pub fn with_owner(mut self, owner: impl Into<String>) -> Engine {
        self.owner = owner.into();
        self
    }

    /// The clients, region and account in use.
    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    /// Runs one pass and reports every resource in scope (in manifest order, prunes last), with
    /// the operations AWS's quotas slowed down ([`Report::rate_limited`]).
    pub async fn pass(&self, desired: &DesiredSet, scope: &PassScope) -> Report {
        let engine = Engine {
            aws: self.aws.fresh_pacing(),
            ..self.clone()
        };
        let report = engine.pass_paced(desired, scope).await;
        report.with_pacing(engine.aws.pacing())
    }

    /// The same engine whose calls also wait for `limits` (the daemon's resync: a share of every
    /// quota, so that other tools in the account keep the rest).
    #[must_use]
    pub fn with_quota_share(&self, limits: Arc<crate::aws::ratelimit::RateLimits>) -> Engine {
        Engine {
            aws: self.aws.with_quota_share(limits),
            ..self.clone()
        }
    }

    async fn pass_paced(&self, desired: &DesiredSet, scope: &PassScope) -> Report {
        let in_scope = scope_keys(desired, scope.only.as_ref());
        let invalid: BTreeSet<&ResourceKey> = scope.invalid.iter().collect();
        let sem = Arc::new(Semaphore::new(self.concurrency));
        let mut results: BTreeMap<ResourceKey, ResourceReport> = BTreeMap::new();

        // Pruning only in full passes with every manifest valid and no PATH empty (SPEC §5).
        let held_back = scope.prune_held_back();
        if let Some(why) = &held_back {
            tracing::warn!(reason = %why, "prune held back");
        }
        let pruning = scope.prune
            && held_back.is_none()
            && scope.manifests_valid
            && scope.only.is_none()
            && !crate::shutdown::requested();
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
            Ok(list) if pruning => {
                ApiPrunes::decide(desired, list, &declared, scope.manifests_valid, &self.owner)
            }
            Ok(_) => ApiPrunes::default(),
            Err(e) => {
                if pruning {
                    tracing::error!(error = %e, "listing REST APIs for pruning failed");
                }
                ApiPrunes::default()
            }
        };

        // The tags of every machine we manage, in one listing, when the pass reads or prunes
        // more than one (see `machine_listing`).
        let machines_in_scope = desired
            .resources
            .iter()
            .filter(|r| matches!(r, Resource::StateMachine(_)) && in_scope.contains(&r.key()))
            .count();
        let listing = if pruning || machines_in_scope >= BULK_TAGS_MIN {
            self.machine_listing(scope.deadline).await
        } else {
            None
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
                    let (aws, sm, owner, sem, mode, deadline) = (
                        self.aws.clone(),
                        sm.clone(),
                        self.owner.clone(),
                        sem.clone(),
                        scope.mode,
                        scope.deadline,
                    );
                    // Listed: its tags are known. Not listed: it does not exist or carries no
                    // managed-by tag (adoption), so it is read one by one.
                    let known = listing
                        .as_ref()
                        .and_then(|l| l.get(&aws.state_machine_arn(&sm.name)).cloned());
                    tasks.spawn(async move {
                        let _permit = sem.acquire_owned().await;
                        if crate::shutdown::requested() {
                            return not_started(ResourceKey::new(Kind::StateMachine, sm.meta.name.clone()));
                        }
                        let span = reconcile_span(Kind::StateMachine, &sm.meta.name);
                        reconcile_machine(&aws, &sm, known, &owner, mode, deadline)
                            .instrument(span)
                            .await
                    });
                }
                Resource::RestApi(api) => {
                    let rep = match &apis {
                        _ if crate::shutdown::requested() => not_started(r.key()),
                        Ok(list) => {
                            let records = creation_records(desired, &api.meta.name, &invalid, &self.owner);
                            let (rep, new) = reconcile_api(
                                &self.aws,
                                api,
                                list,
                                &records,
                                &self.owner,
                                scope.mode,
                                scope.deadline,
                            )
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
        // A scoped pass (the daemon's) resolves what its integrations depend on without
        // reconciling it: the REST API's id from the listing. (A state machine's ARN is
        // deterministic and already in the desired request template.)
        let mut known = results.clone();
        if let Ok(list) = &apis {
            for r in desired.resources.iter().filter(|r| in_scope.contains(&r.key())) {
                for dep in r.dependencies() {
                    if dep.kind != Kind::RestApi || known.contains_key(&dep) || invalid.contains(&dep) {
                        continue;
                    }
                    let Some(Resource::RestApi(api)) = desired.get(&dep) else {
                        continue;
                    };
                    let rep = match rest_api::match_api(&dep, &api.name, list, &self.owner) {
                        Ok(Some(live)) => ResourceReport {
                            id: Some(live.id.clone()),
                            ..ResourceReport::new(dep.clone(), Status::Synced)
                        },
                        Ok(None) => ResourceReport::new(dep.clone(), Status::Skipped)
                            .with_message("it does not exist yet (it is created by its own reconcile)"),
                        Err(m) => failed(dep.clone(), m),
                    };
                    known.insert(dep, rep);
                }
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
                let blocked = r.dependencies().into_iter().find_map(|d| {
                    if invalid.contains(&d) {
                        return Some(format!("skipped: depends on {d}, whose manifest is invalid"));
                    }
                    let rep = known.get(&d)?;
                    match rep.status {
                        Status::Failed | Status::Skipped | Status::Invalid => Some(format!(
                            "skipped: depends on {d}, which is {:?}{}",
                            rep.status,
                            rep.message
                                .as_deref()
                                .map(|m| format!(": {m}"))
                                .unwrap_or_default()
                        )),
                        _ => None,
                    }
                });
                let rep = match blocked {
                    Some(message) => ResourceReport::new(r.key(), Status::Skipped).with_message(message),
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
                // Every (method, path) a declared integration manages, in scope or not: a moved
                // integration's old method is deleted only if none of them claims it.
                let claimed: BTreeSet<(String, String)> = desired
                    .resources
                    .iter()
                    .filter_map(|r| match r {
                        Resource::ApiIntegration(ai) => Some((ai.http_method.clone(), ai.path.clone())),
                        _ => None,
                    })
                    .collect();
                // Every stage a declared integration deploys to, by API id, in scope or not: any
                // change to an API can leave each of its stages serving an older configuration.
                let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
                for r in &desired.resources {
                    let Resource::ApiIntegration(ai) = r else { continue };
                    let Some(stage) = &ai.stage else { continue };
                    let id = integration::api_id_of(ai, &known, list).ok().flatten();
                    if let Some(id) = id {
                        stages.entry(id).or_default().insert(stage.clone());
                    }
                }
                let (reps, gone) = self
                    .reconcile_integrations(
                        &integrations,
                        integration::LiveApis {
                            listed: list,
                            created: &created,
                        },
                        &known,
                        integration::Declared {
                            prunes: &api_prunes.integrations,
                            claimed: &claimed,
                            stages: &stages,
                        },
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
            out.extend(self.prune_machines(desired, scope, listing.as_ref()).await);
        }
        Report::new(out).with_prune_held_back(held_back)
    }
}

/// From this many state machines in a pass on, their tags come from one Tagging API listing
/// (`GetResources`, 100 a page, 15 a second) instead of one `ListTagsForResource` each (100, then
/// 1 a second). A single machine costs one call either way, and its own read sees no listing lag.
const BULK_TAGS_MIN: usize = 2;

impl Engine {
    /// The Tagging API listing of every state machine carrying our `managed-by` tag (any owner),
    /// ARN → tags; `None` when it failed (an IAM policy without `tag:GetResources`, say): the
    /// pass then reads each machine's tags itself, as before.
    async fn machine_listing(&self, deadline: Instant) -> Option<Arc<crate::aws::TagListing>> {
        match self
            .aws
            .list_managed(crate::aws::tagging::STATE_MACHINE_TYPE, deadline)
            .await
        {
            Ok(listing) => Some(Arc::new(listing)),
            Err(error) => {
                tracing::warn!(%error, "listing state machines with the Tagging API failed; reading their tags one by one");
                None
            }
        }
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

fn failed(key: ResourceKey, message: String) -> ResourceReport {
    ResourceReport::new(key, Status::Failed).with_message(message)
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
    ResourceReport::new(key, Status::Skipped).with_message("not started: shutting down")
}

/// The report of a resource whose manifest is invalid: untouched, marked `Invalid`.
fn invalid_report(key: &ResourceKey) -> ResourceReport {
    ResourceReport::new(key.clone(), Status::Invalid).with_message("manifest is invalid; nothing was changed")
}
