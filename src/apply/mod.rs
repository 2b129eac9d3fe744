//! The pass: read live state, plan (`plan/`), and in `Apply` mode carry the plan out through
//! `aws`, one outcome per resource. The daemon calls [`Reconciler::pass`] in a loop; `diff` and
//! `reconcile --once` call it once. Diff mode is "plan, don't apply": the same reads and plans,
//! no write.
//!
//! ```ignore
//! let reconciler = Reconciler::connect(&settings, 8, deadline).await?;
//! let report = reconciler.pass(&desired, &PassScope::new(Mode::Apply, deadline)).await;
//! ```
//!
//! Order (SPEC §4): state machines and REST APIs first, concurrently (bounded by `concurrency`),
//! then API integrations; a resource whose dependency failed is `Skipped`, unrelated ones go on.
//!
//! One file per concern:
//! - `mod.rs` (this file): the pass driver — scope, the two waves, the order of the report — and
//!   the small report helpers the others share. It decides *what* runs and in which order, never
//!   *how* a resource is written.
//! - `machine.rs`: one state machine (read, plan, carry out).
//! - `rest_api.rs`: one REST API (plan against the listing, carry out).
//! - `integrations.rs`: API integrations, API by API, with the pruning of stale integration
//!   records on those APIs and the deployments.
//! - `prune.rs`: the deletion of whole REST APIs and state machines.
//! - `rollout.rs`: a versioned machine's versions and aliases (SPEC §9), after its own writes.
//!
//! Must not: decide what differs or what to write (`plan/` does), or format reports for people.

mod integrations;
mod machine;
mod prune;
mod rest_api;
mod rollout;

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

use crate::live::LiveApi;
use crate::plan::integrations::{claimed_methods, declared_stages};
use crate::plan::prune::ApiPrunes;
use crate::plan::rest_api::creation_records;
use crate::plan::{Action, Change};
use integrations::{Declared, LiveApis};
use machine::reconcile_machine;
use rest_api::reconcile_api;

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
pub struct Reconciler {
    aws: Aws,
    concurrency: usize,
    /// This instance's owner id (SPEC §5): what it tags, and the only owner it updates or prunes.
    owner: String,
}

impl Reconciler {
    /// Connects to AWS (or the endpoint in `settings`), retrying transient failures until
    /// `deadline`.
    pub async fn connect(
        settings: &Settings,
        concurrency: usize,
        deadline: Instant,
    ) -> Result<Reconciler, AwsError> {
        Ok(Reconciler::new(
            Aws::connect(settings, deadline).await?,
            concurrency,
        ))
    }

    /// Wraps already connected clients.
    pub fn new(aws: Aws, concurrency: usize) -> Reconciler {
        Reconciler {
            aws,
            concurrency: concurrency.max(1),
            owner: crate::ownership::DEFAULT_OWNER.to_owned(),
        }
    }

    /// The same reconciler acting as the instance `owner` (`--owner-id`).
    #[must_use]
    pub fn with_owner(mut self, owner: impl Into<String>) -> Reconciler {
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
        let reconciler = Reconciler {
            aws: self.aws.fresh_pacing(),
            ..self.clone()
        };
        let report = reconciler.pass_paced(desired, scope).await;
        if scope.mode == Mode::Apply {
            report.resources.iter().for_each(log_applied);
        }
        report.with_pacing(reconciler.aws.pacing())
    }

    /// The same reconciler whose calls also wait for `limits` (the daemon's resync: a share of every
    /// quota, so that other tools in the account keep the rest).
    #[must_use]
    pub fn with_quota_share(&self, limits: Arc<crate::aws::ratelimit::RateLimits>) -> Reconciler {
        Reconciler {
            aws: self.aws.with_quota_share(limits),
            ..self.clone()
        }
    }

    async fn pass_paced(&self, desired: &DesiredSet, scope: &PassScope) -> Report {
        let in_scope = scope_keys(desired, scope.only.as_ref());
        let invalid: BTreeSet<&ResourceKey> = scope.invalid.iter().collect();
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

        // REST APIs are listed once per pass and shared (with pruning, too).
        let active = |r: &&Resource| in_scope.contains(&r.key()) && !r.controls().suspended;
        let needs_apis = pruning
            || desired
                .resources
                .iter()
                .filter(active)
                .any(|r| matches!(r, Resource::RestApi(_) | Resource::ApiIntegration(_)));
        let apis = if needs_apis {
            retry(scope.deadline, || self.aws.list_apis())
                .await
                .map_err(|e| format!("listing REST APIs: {e}"))
        } else {
            Ok(Vec::new())
        };
        let declared = |k: &ResourceKey| desired.get(k).is_some() || scope.invalid.contains(k);
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
            .filter(active)
            .filter(|r| matches!(r, Resource::StateMachine(_)))
            .count();
        let listing = if pruning || machines_in_scope >= BULK_TAGS_MIN {
            self.machine_listing(scope.deadline).await
        } else {
            None
        };

        let alarms = Arc::new(self.alarm_states(desired, &in_scope, scope.deadline).await);
        let wave = Wave {
            desired,
            scope,
            in_scope: &in_scope,
            invalid: &invalid,
            apis: &apis,
        };
        let (mut results, created) = self.wave_one(&wave, listing.as_ref(), &alarms).await;
        let known = wave.with_dependencies(&results, &self.owner);
        let (integration_reps, prunes) = self.wave_two(&wave, &known, &created, &api_prunes, &alarms).await;
        // Stage settings once the integrations' deployments have made the stages (SPEC §12).
        for r in wave.runnable() {
            let Resource::RestApi(api) = r else { continue };
            if let Some(rep) = results.get_mut(&r.key())
                && !matches!(rep.status, Status::Failed | Status::Skipped)
            {
                rest_api::reconcile_stage_settings(&self.aws, api, rep, scope.mode, scope.deadline)
                    .instrument(reconcile_span(Kind::RestApi, &api.meta.name))
                    .await;
            }
        }
        results.extend(
            integration_reps
                .into_iter()
                .map(|rep| (ResourceKey::new(rep.kind, rep.name.clone()), rep)),
        );

        let mut out = Vec::new();
        for r in &desired.resources {
            let key = r.key();
            if invalid.contains(&key) {
                out.push(invalid_report(&key));
            } else if r.controls().suspended && in_scope.contains(&key) {
                out.push(suspended_report(key));
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

    /// Wave 1: the resources with no dependencies (state machines concurrently, REST APIs from
    /// the shared listing). Their reports, and the REST APIs created (by id).
    async fn wave_one(
        &self,
        wave: &Wave<'_>,
        listing: Option<&Arc<crate::aws::TagListing>>,
        alarms: &Arc<rollout::Alarms>,
    ) -> (BTreeMap<ResourceKey, ResourceReport>, BTreeMap<String, LiveApi>) {
        let sem = Arc::new(Semaphore::new(self.concurrency));
        let mut results = BTreeMap::new();
        let mut created = BTreeMap::new();
        let mut tasks = JoinSet::new();
        for r in wave.runnable() {
            match r {
                Resource::StateMachine(sm) => {
                    let (aws, sm, owner, sem) =
                        (self.aws.clone(), sm.clone(), self.owner.clone(), sem.clone());
                    let (mode, deadline) = (wave.scope.mode, wave.scope.deadline);
                    let alarms = Arc::clone(alarms);
                    // Listed: its tags are known. Not listed: it does not exist or carries no
                    // managed-by tag (adoption), so it is read one by one.
                    let known = listing.and_then(|l| l.get(&aws.state_machine_arn(&sm.name)).cloned());
                    tasks.spawn(async move {
                        let _permit = sem.acquire_owned().await;
                        if crate::shutdown::requested() {
                            return not_started(ResourceKey::new(Kind::StateMachine, sm.meta.name.clone()));
                        }
                        let span = reconcile_span(Kind::StateMachine, &sm.meta.name);
                        reconcile_machine(&aws, &sm, known, &owner, mode, deadline, &alarms)
                            .instrument(span)
                            .await
                    });
                }
                Resource::RestApi(api) => {
                    let rep = match wave.apis {
                        _ if crate::shutdown::requested() => not_started(r.key()),
                        Ok(list) => {
                            let records =
                                creation_records(wave.desired, &api.meta.name, wave.invalid, &self.owner);
                            let (rep, new) = reconcile_api(
                                &self.aws,
                                api,
                                list,
                                &records,
                                &self.owner,
                                wave.scope.mode,
                                wave.scope.deadline,
                            )
                            .instrument(reconcile_span(Kind::RestApi, &api.meta.name))
                            .await;
                            if let Some(new) = new {
                                created.insert(new.id.clone(), new);
                            }
                            rep
                        }
                        Err(e) => failed(r.key(), e.clone()),
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
        (results, created)
    }

    /// Wave 2: the integrations, after what they depend on (those whose dependency failed are
    /// `Skipped`), with the pruning of stale integration records. Their reports, and the prunes'.
    async fn wave_two(
        &self,
        wave: &Wave<'_>,
        known: &BTreeMap<ResourceKey, ResourceReport>,
        created: &BTreeMap<String, LiveApi>,
        api_prunes: &ApiPrunes,
        alarms: &rollout::Alarms,
    ) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
        let mut out = Vec::new();
        let mut integrations = Vec::new();
        for r in wave.runnable() {
            let Resource::ApiIntegration(ai) = r else { continue };
            match wave.blocked(r, known) {
                Some(message) => {
                    out.push(ResourceReport::new(r.key(), Status::Skipped).with_message(message))
                }
                None => integrations.push(ai),
            }
        }
        let list = match wave.apis {
            Ok(list) => list,
            Err(e) => {
                out.extend(integrations.iter().map(|ai| {
                    failed(
                        ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()),
                        e.clone(),
                    )
                }));
                return (out, Vec::new());
            }
        };
        let api_ids: BTreeMap<String, String> = known
            .iter()
            .filter(|(k, _)| k.kind == Kind::RestApi)
            .filter_map(|(k, rep)| Some((k.name.clone(), rep.id.clone()?)))
            .collect();
        let known_id = |name: &str| api_ids.get(name).cloned();
        let claimed = claimed_methods(wave.desired);
        let stages = declared_stages(wave.desired, &known_id, list);
        let alias_views: BTreeMap<(String, String), crate::plan::rollout::RolloutView> = known
            .iter()
            .filter(|(k, _)| k.kind == Kind::StateMachine)
            .flat_map(|(k, rep)| {
                rep.rollouts
                    .iter()
                    .map(|v| ((k.name.clone(), v.alias.clone()), v.clone()))
            })
            .collect();
        let (reps, gone) = self
            .reconcile_integrations(
                &integrations,
                LiveApis {
                    listed: list,
                    created,
                },
                Declared {
                    api_ids: &api_ids,
                    prunes: &api_prunes.integrations,
                    claimed: &claimed,
                    stages: &stages,
                    alarms,
                    alias_views: &alias_views,
                },
                wave.scope,
            )
            .await;
        out.extend(reps);
        (out, gone)
    }
}

/// What both waves of one pass share.
struct Wave<'a> {
    desired: &'a DesiredSet,
    scope: &'a PassScope,
    in_scope: &'a BTreeSet<ResourceKey>,
    invalid: &'a BTreeSet<&'a ResourceKey>,
    /// The pass's one listing of REST APIs, or why it failed.
    apis: &'a Result<Vec<LiveApi>, String>,
}

impl Wave<'_> {
    /// The resources in scope whose manifests are valid and that are not suspended, in manifest
    /// order.
    fn runnable(&self) -> impl Iterator<Item = &Resource> {
        self.desired.resources.iter().filter(|r| {
            self.in_scope.contains(&r.key()) && !self.invalid.contains(&r.key()) && !r.controls().suspended
        })
    }

    /// The wave-1 reports plus what a scoped pass (the daemon's) knows of the dependencies it
    /// did not reconcile: a REST API's id from the listing, without reconciling it. (A state
    /// machine's ARN is deterministic and already in the desired request template.)
    fn with_dependencies(
        &self,
        results: &BTreeMap<ResourceKey, ResourceReport>,
        owner: &str,
    ) -> BTreeMap<ResourceKey, ResourceReport> {
        let mut known = results.clone();
        let Ok(list) = self.apis else { return known };
        for r in self
            .desired
            .resources
            .iter()
            .filter(|r| self.in_scope.contains(&r.key()))
        {
            for dep in r.dependencies() {
                if dep.kind != Kind::RestApi || known.contains_key(&dep) || self.invalid.contains(&dep) {
                    continue;
                }
                let Some(Resource::RestApi(api)) = self.desired.get(&dep) else {
                    continue;
                };
                let rep = match crate::plan::rest_api::match_api(&dep, &api.name, list, owner) {
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
        known
    }

    /// Why `r` must wait: a dependency whose manifest is invalid, or that failed or was skipped.
    fn blocked(&self, r: &Resource, known: &BTreeMap<ResourceKey, ResourceReport>) -> Option<String> {
        r.dependencies().into_iter().find_map(|d| {
            if self.invalid.contains(&d) {
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
        })
    }
}

/// From this many state machines in a pass on, their tags come from one Tagging API listing
/// (`GetResources`, 100 a page, 15 a second) instead of one `ListTagsForResource` each (100, then
/// 1 a second). A single machine costs one call either way, and its own read sees no listing lag.
const BULK_TAGS_MIN: usize = 2;

impl Reconciler {
    /// The states of every alarm the rollouts in scope name, read together (`DescribeAlarms`,
    /// up to 100 names a call) so that a pass costs one read per 100 alarms, however many
    /// rollouts are in flight; no call when none names an alarm.
    async fn alarm_states(
        &self,
        desired: &DesiredSet,
        in_scope: &BTreeSet<ResourceKey>,
        deadline: Instant,
    ) -> rollout::Alarms {
        let names: BTreeSet<String> = desired
            .resources
            .iter()
            .filter(|r| in_scope.contains(&r.key()))
            .filter_map(|r| match r {
                Resource::StateMachine(sm) => Some(sm),
                _ => None,
            })
            .flat_map(|sm| &sm.versioning.aliases)
            .filter_map(|a| match &a.target {
                crate::desired::AliasTarget::Rollout(r) => Some(r.alarms.iter().cloned()),
                crate::desired::AliasTarget::Routing(_) => None,
            })
            .flatten()
            .chain(
                desired
                    .resources
                    .iter()
                    .filter(|r| in_scope.contains(&r.key()))
                    .filter_map(|r| match r {
                        Resource::ApiIntegration(ai) => ai.rollout.as_ref(),
                        _ => None,
                    })
                    .flat_map(|r| r.alarms.iter().cloned()),
            )
            .collect();
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let names: Vec<String> = names.into_iter().collect();
        retry(deadline, || self.aws.alarm_states(&names))
            .await
            .map_err(|e| format!("reading the rollouts' CloudWatch alarms: {e}"))
    }

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

/// A resource's report from its plan: `Pending` in diff mode when anything changes, else `Synced`
/// (until an outcome says otherwise).
fn report_of(
    key: ResourceKey,
    action: Action,
    changes: Vec<Change>,
    id: Option<String>,
    mode: Mode,
) -> ResourceReport {
    let status = if mode == Mode::Diff && action != Action::Noop {
        Status::Pending
    } else {
        Status::Synced
    };
    ResourceReport {
        action,
        changes,
        id,
        ..ResourceReport::new(key, status)
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

/// One INFO line per resource a pass wrote (created, updated or deleted), from its report, so
/// every kind is logged the same way, in `--once` and in the daemon; in a `reconcile` span naming
/// kind and name.
fn log_applied(r: &ResourceReport) {
    if r.status != Status::Synced {
        return;
    }
    let action = match r.action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Noop => return,
    };
    reconcile_span(r.kind, &r.name).in_scope(|| tracing::info!(action = %action, "applied"));
}

/// The report of a resource not started because the process is shutting down; the next run
/// (or the daemon after a restart) picks it up.
fn not_started(key: ResourceKey) -> ResourceReport {
    ResourceReport::new(key, Status::Skipped).with_message("not started: shutting down")
}

/// The report of a suspended resource: not read, written or pruned (SPEC §12).
fn suspended_report(key: ResourceKey) -> ResourceReport {
    ResourceReport::new(key, Status::Suspended).with_message(format!(
        "suspended by its {} annotation; not read, written or pruned",
        crate::desired::SUSPEND_ANNOTATION
    ))
}

/// The report of a resource whose manifest is invalid: untouched, marked `Invalid`.
fn invalid_report(key: &ResourceKey) -> ResourceReport {
    ResourceReport::new(key.clone(), Status::Invalid).with_message("manifest is invalid; nothing was changed")
}
