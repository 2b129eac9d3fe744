//! The daemon loop: load → first full pass → ready; file changes → reload → queue the keys whose
//! desired state changed (the pass adds their dependants); resync → a full pass that reads
//! everything and corrects drift; failures → per-key backoff. Every reconcile is the same pass as
//! `reconcile --once`, handed in as [`PassFn`]; this module only decides when and what.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{RwLock, mpsc};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::alarms::{self, AlarmFn};
use super::notify::{self, Notifier};
use super::queue::Queue;
use super::status::{Shared, result_name};
use super::watcher::Change;
use crate::desired::{DesiredSet, Resource, ResourceKey};
use crate::manifest::Loaded;
use crate::report::{Action, Report, ResourceReport, Status};

/// What one pass covers, in the daemon's terms (the wiring turns it into the engine's scope).
#[derive(Debug, Clone)]
pub struct PassRequest {
    /// Only these keys (plus dependants); `None` for a full pass (the only kind that may prune).
    pub only: Option<BTreeSet<ResourceKey>>,
    /// Keys whose manifests are invalid now: reported `Invalid`, never touched.
    pub invalid: Vec<ResourceKey>,
    /// False when any manifest failed to load or validate (pruning is then off, SPEC §5).
    pub manifests_valid: bool,
    /// `PATH`s holding no manifest at all (pruning holds back unless `--allow-empty`, SPEC §5).
    pub empty_paths: Vec<std::path::PathBuf>,
}

/// A boxed future of a pass report.
pub type PassFuture = Pin<Box<dyn Future<Output = Report> + Send>>;
/// Runs one pass (the very pass of `--once`) over a desired set.
pub type PassFn = Arc<dyn Fn(Arc<DesiredSet>, PassRequest) -> PassFuture + Send + Sync>;
/// Loads every manifest (blocking file I/O; run off the async threads).
pub type LoadFn = Arc<dyn Fn() -> Loaded + Send + Sync>;

/// Loop settings.
#[derive(Clone)]
pub struct LoopConfig {
    pub resync_interval: Duration,
    pub concurrency: usize,
    /// How long in-flight work may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Where the outcomes' events go (`--notify`), if anywhere.
    pub notifier: Option<Notifier>,
    /// Reads rollout alarms for the alarm watch ([`super::alarms`]); `None`: no watch, and each
    /// progressing machine polls its own alarms at its requeue.
    pub alarms: Option<AlarmFn>,
}

/// One queued unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Work {
    /// Reconcile one resource (and its dependants).
    Key(ResourceKey),
    /// A full pass: resync, or pruning after a manifest disappeared.
    Full,
}

/// The desired state the daemon works from: the last *valid* state of every resource.
#[derive(Debug, Default)]
struct Desired {
    set: Arc<DesiredSet>,
    invalid: Vec<ResourceKey>,
    manifests_valid: bool,
    empty_paths: Vec<std::path::PathBuf>,
}

/// Merges a fresh load into the current desired state. Returns the keys whose desired state
/// changed (added or modified) and whether any resource disappeared.
fn merge(current: &Desired, mut loaded: Loaded) -> (Desired, BTreeSet<ResourceKey>, bool) {
    let old: BTreeMap<ResourceKey, &Resource> = current.set.resources.iter().map(|r| (r.key(), r)).collect();
    // A file that stopped parsing (a YAML syntax error) names no resource: those it held before
    // are invalid, not gone, until it parses again.
    let broken: BTreeSet<&std::path::Path> = loaded.diagnostics.iter().map(|d| d.file.as_path()).collect();
    let loaded_keys: BTreeSet<ResourceKey> = loaded.desired.resources.iter().map(Resource::key).collect();
    for (k, r) in &old {
        if broken.contains(r.meta().source.file.as_path())
            && !loaded_keys.contains(k)
            && !loaded.invalid.contains(k)
        {
            loaded.invalid.push(k.clone());
        }
    }
    let mut resources: Vec<Resource> = loaded.desired.resources;
    let mut changed = BTreeSet::new();
    for r in &resources {
        if old.get(&r.key()).is_none_or(|o| *o != r) {
            changed.insert(r.key());
        }
    }
    // An invalid manifest keeps its last valid desired state.
    let present: BTreeSet<ResourceKey> = resources.iter().map(Resource::key).collect();
    for k in &loaded.invalid {
        if !present.contains(k)
            && let Some(r) = old.get(k)
        {
            resources.push((*r).clone());
        }
    }
    let now: BTreeSet<ResourceKey> = resources.iter().map(Resource::key).collect();
    let removed = old.keys().any(|k| !now.contains(k));
    let manifests_valid = loaded.diagnostics.is_empty() && loaded.invalid.is_empty();
    let set = DesiredSet {
        region: loaded.desired.region,
        account_id: loaded.desired.account_id,
        resources,
    };
    (
        Desired {
            set: Arc::new(set),
            invalid: loaded.invalid,
            manifests_valid,
            empty_paths: loaded.empty_paths,
        },
        changed,
        removed,
    )
}

struct Ctx {
    queue: Queue<Work>,
    shared: Arc<Shared>,
    desired: std::sync::Mutex<Arc<Desired>>,
    /// Full passes take it exclusively, per-key passes shared: no resource runs in both at once.
    full: RwLock<()>,
    pass: PassFn,
    /// Keys whose manifest changed (or that depend on one that did) since their last successful
    /// reconcile: a write to them is the manifest being applied, not drift being corrected.
    dirty: std::sync::Mutex<BTreeSet<ResourceKey>>,
    /// Keys some per-key pass is reconciling now (a pass covers its key's dependants too).
    held: KeyLocks,
    notifier: Option<Notifier>,
    /// Each key's last outcome, the one its next outcome's events are judged against: `/status`
    /// marks a key `Pending` over its outcome when its manifest changes, and a pending mark is
    /// no outcome (it would tell the same drift again, or miss a recovery).
    outcomes: std::sync::Mutex<BTreeMap<ResourceKey, ResourceReport>>,
    /// Whether the alarm watch runs: a progressing machine then comes back at its step's due
    /// time only, not to poll its alarms.
    alarm_watch: bool,
}

/// Exclusive hold of a set of keys: a per-key pass takes every key it will reconcile, so no
/// resource is reconciled by two passes at once (SPEC §6).
#[derive(Debug, Default)]
struct KeyLocks {
    held: std::sync::Mutex<BTreeSet<ResourceKey>>,
    released: tokio::sync::Notify,
}

/// Releases its keys when dropped.
struct Held<'a> {
    locks: &'a KeyLocks,
    keys: BTreeSet<ResourceKey>,
}

impl KeyLocks {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<ResourceKey>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until none of `keys` is held, then holds them all.
    async fn acquire(&self, keys: BTreeSet<ResourceKey>) -> Held<'_> {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut held = self.lock();
                if keys.iter().all(|k| !held.contains(k)) {
                    held.extend(keys.iter().cloned());
                    return Held { locks: self, keys };
                }
            }
            released.await;
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut held = self.locks.lock();
        for k in &self.keys {
            held.remove(k);
        }
        drop(held);
        self.locks.released.notify_waiters();
    }
}

impl Ctx {
    fn desired(&self) -> Arc<Desired> {
        Arc::clone(
            &self
                .desired
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn set_desired(&self, d: Desired) {
        *self
            .desired
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(d);
    }

    fn outcomes(&self) -> std::sync::MutexGuard<'_, BTreeMap<ResourceKey, ResourceReport>> {
        self.outcomes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dirty(&self) -> std::sync::MutexGuard<'_, BTreeSet<ResourceKey>> {
        self.dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks `changed` and everything depending on them as changed by their manifests.
    fn mark_dirty(&self, changed: &BTreeSet<ResourceKey>) {
        let desired = self.desired();
        let keys = crate::apply::scope_keys(&desired.set, Some(changed));
        self.dirty().extend(keys);
    }

    /// The queue depth gauge: work waiting plus work under way, so it reads 0 only when nothing
    /// is left to do.
    fn depth(&self) {
        crate::metrics::global().set_queue_depth(self.queue.pending() + self.queue.running());
    }

    /// Runs one unit of work and records its outcome.
    async fn run(&self, work: &Work) {
        let desired = self.desired();
        let request = PassRequest {
            only: match work {
                Work::Key(k) => Some(BTreeSet::from([k.clone()])),
                Work::Full => None,
            },
            invalid: desired.invalid.clone(),
            manifests_valid: desired.manifests_valid,
            empty_paths: desired.empty_paths.clone(),
        };
        let started = std::time::Instant::now();
        let report = match work {
            Work::Key(k) => {
                let _shared = self.full.read().await;
                // The pass also reconciles k's dependants: never while another pass has them.
                // Passes writing to the same REST API (and deploying its stages) also take turns:
                // each holds the APIs its integrations are on.
                let mut keys = crate::apply::scope_keys(&desired.set, Some(&BTreeSet::from([k.clone()])));
                let apis: Vec<ResourceKey> = keys
                    .iter()
                    .filter_map(|k| desired.set.get(k))
                    .flat_map(Resource::dependencies)
                    .filter(|d| d.kind == crate::desired::Kind::RestApi)
                    .collect();
                keys.extend(apis);
                let _held = self.held.acquire(keys).await;
                // The engine opens a `reconcile` span per resource inside the pass.
                let span = tracing::info_span!("pass", only = %k);
                (self.pass)(Arc::clone(&desired.set), request)
                    .instrument(span)
                    .await
            }
            Work::Full => {
                let _exclusive = self.full.write().await;
                let span = tracing::info_span!("pass", full = true);
                (self.pass)(Arc::clone(&desired.set), request)
                    .instrument(span)
                    .await
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let own = self.record(&report, work, seconds);
        if matches!(work, Work::Full) {
            if let (Some(n), Some(why)) = (&self.notifier, &report.prune_held_back)
                && self.shared.prune_held_back().as_ref() != Some(why)
            {
                n.send(notify::prune_held_back(why, n.owner()));
            }
            self.shared.set_prune_held_back(report.prune_held_back.clone());
            self.shared
                .record_full_pass(seconds, SystemTime::now(), &report.calls);
        }
        // Free the work's slot; a key no longer in the set (deleted meanwhile) has nothing to retry.
        match (work, own) {
            (Work::Key(k), Some(_)) => self.queue.release(&Work::Key(k.clone())),
            (other, _) => {
                let _ = self.queue.done(other, true);
            }
        }
        self.depth();
    }

    /// Records every outcome of a pass; returns the outcome of the work's own key, if it is in
    /// the report (its slot is freed by the caller). Other keys' outcomes never free a slot: one
    /// of them may be running in another worker.
    fn record(&self, report: &Report, work: &Work, seconds: f64) -> Option<bool> {
        let now = SystemTime::now();
        let mut own = None;
        for r in &report.resources {
            let key = ResourceKey::new(r.kind, r.name.clone());
            crate::metrics::global().reconcile(r.kind.as_str(), result_name(r.status), seconds);
            let corrected = self.corrected_drift(&key, r);
            if corrected {
                tracing::info!(kind = %r.kind, name = %r.name, "drift corrected");
                crate::metrics::global().drift_corrected(r.kind.as_str());
            }
            if let Some(n) = &self.notifier {
                let prev = self.outcomes().insert(key.clone(), r.clone());
                for event in notify::events_of(r, prev.as_ref(), corrected, n.owner()) {
                    n.send(event);
                }
            }
            if r.status == Status::Drifted {
                tracing::warn!(kind = %r.kind, name = %r.name, paths = %changed_paths(r), "drift found; left in place (driftPolicy: Report)");
                crate::metrics::global().drift_found(r.kind.as_str());
            }
            if matches!(r.status, Status::Synced | Status::Drifted) {
                self.dirty().remove(&key);
            }
            // Invalid resources are never retried by backoff: fixing the manifest queues them. A
            // resource skipped because a dependency failed is not retried on its own either: the
            // dependency's retry covers its dependants, and until then it stays `Skipped` with
            // the reason (rather than running alone past its failed dependency).
            // A rollout in progress is fine, and one rolled back is held (SPEC §9): neither is
            // retried by backoff. A rollout's next step comes back at its due time.
            let ok = matches!(
                r.status,
                Status::Synced
                    | Status::Invalid
                    | Status::Skipped
                    | Status::Progressing
                    | Status::Degraded
                    | Status::Drifted
                    | Status::Suspended
            );
            if *work == Work::Key(key.clone()) {
                own = Some(ok);
            }
            let retry = self.queue.outcome(&Work::Key(key.clone()), ok);
            if let Some(after) = self.requeue_after(r) {
                self.queue.schedule_at(
                    Work::Key(key.clone()),
                    tokio::time::Instant::now() + Duration::from_secs(after),
                );
            }
            let failures = self.queue.key_state(&Work::Key(key)).map_or(0, |s| s.failures);
            let next_retry = retry.map(|at| now + at.saturating_duration_since(tokio::time::Instant::now()));
            match r.status {
                Status::Failed | Status::Skipped => {
                    tracing::warn!(kind = %r.kind, name = %r.name, message = r.message.as_deref().unwrap_or(""), failures, "reconcile failed; will retry");
                }
                _ => tracing::debug!(kind = %r.kind, name = %r.name, status = ?r.status, "reconciled"),
            }
            self.shared.record(r.clone(), now, failures, next_retry);
        }
        own
    }
}

/// A report's changed paths, comma-separated (for logs).
impl Ctx {
    /// When `r`'s machine comes back: with the alarm watch, at its rollouts' next step only
    /// (the watch catches an alarm sooner); without, when the pass asked.
    fn requeue_after(&self, r: &ResourceReport) -> Option<u64> {
        if !self.alarm_watch {
            return r.requeue_after;
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        r.rollouts
            .iter()
            .filter(|v| v.phase == crate::plan::rollout::Phase::Progressing)
            .filter_map(|v| v.next_step_at)
            .min()
            .map(|at| at.saturating_sub(now))
            .or(r.requeue_after)
    }

    /// One look at the alarms of every rollout in flight: a machine whose alarm is in `ALARM`
    /// is reconciled now (unless it is backing off after failures: its retry comes anyway).
    async fn watch_alarms(&self, read: &AlarmFn) {
        let watched = alarms::watched(&self.shared);
        if watched.is_empty() {
            return;
        }
        match read(alarms::names(&watched)).await {
            Ok(states) => {
                for key in alarms::tripped(&watched, &states) {
                    let work = Work::Key(key.clone());
                    let state = self.queue.key_state(&work);
                    if state.is_some_and(|s| s.failures > 0 || s.running) {
                        continue;
                    }
                    tracing::info!(kind = %key.kind, name = %key.name, "a rollout's alarm is in ALARM; reconciling it now");
                    self.queue.schedule(work);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the rollouts' alarms failed; the next look retries")
            }
        }
    }
}

fn changed_paths(r: &ResourceReport) -> String {
    r.changes
        .iter()
        .map(|c| c.path.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Ctx {
    /// Whether this outcome put back what someone changed out of band: a write to a resource that
    /// was in sync with a manifest that has not changed since. Creating a resource for the first
    /// time, applying a manifest edit and pruning are not drift.
    fn corrected_drift(&self, key: &ResourceKey, r: &ResourceReport) -> bool {
        matches!(r.action, Action::Create | Action::Update)
            && r.status == Status::Synced
            && !self.dirty().contains(key)
            && self
                .shared
                .get(key)
                .is_some_and(|s| s.report.status == Status::Synced && s.last_reconcile_time.is_some())
    }
}

/// Runs the daemon loop until `shutdown` resolves; returns after in-flight work finished (or the
/// grace period ran out).
pub async fn run_loop(
    cfg: LoopConfig,
    shared: Arc<Shared>,
    load: LoadFn,
    pass: PassFn,
    mut changes: mpsc::Receiver<Change>,
    shutdown: impl Future<Output = ()>,
) {
    let ctx = Arc::new(Ctx {
        queue: Queue::new(cfg.concurrency),
        shared: Arc::clone(&shared),
        desired: std::sync::Mutex::new(Arc::new(Desired::default())),
        full: RwLock::new(()),
        pass,
        dirty: std::sync::Mutex::default(),
        held: KeyLocks::default(),
        notifier: cfg.notifier.clone(),
        outcomes: std::sync::Mutex::default(),
        alarm_watch: cfg.alarms.is_some(),
    });
    tokio::pin!(shutdown);

    // Load and the first full pass; ready after it.
    let first = async {
        let loaded = load_blocking(&load).await;
        report_diagnostics(&shared, &loaded);
        let (d, _, _) = merge(&Desired::default(), loaded);
        ctx.set_desired(d);
        ctx.run(&Work::Full).await;
    };
    tokio::pin!(first);
    tokio::select! {
        () = &mut first => {}
        () = &mut shutdown => {
            // The pass starts nothing new now (crate::shutdown); let the calls in flight finish.
            tracing::info!("shutdown during the first pass; finishing the calls in flight");
            if tokio::time::timeout(cfg.shutdown_grace, first).await.is_err() {
                tracing::warn!("the first pass did not finish within the grace period; stopping it");
            }
            return;
        }
    }
    shared.set_ready();
    tracing::info!("first full pass done; ready");

    let mut workers = JoinSet::new();
    for _ in 0..cfg.concurrency.max(1) {
        let ctx = Arc::clone(&ctx);
        workers.spawn(async move {
            while let Some(work) = ctx.queue.next().await {
                ctx.depth();
                ctx.run(&work).await;
            }
        });
    }

    let watch = cfg.alarms.clone().map(|read| {
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(alarms::WATCH_PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                ctx.watch_alarms(&read).await;
            }
        })
    });

    let mut next_resync = tokio::time::Instant::now() + jitter(cfg.resync_interval);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep_until(next_resync) => {
                tracing::info!("resync");
                ctx.queue.schedule(Work::Full);
                ctx.depth();
                next_resync = tokio::time::Instant::now() + jitter(cfg.resync_interval);
            }
            change = changes.recv() => {
                let Some(change) = change else {
                    tracing::warn!("file watcher stopped");
                    // Keep resyncing; only the watcher is gone.
                    changes = mpsc::channel(1).1;
                    continue;
                };
                let loaded = load_blocking(&load).await;
                report_diagnostics(&shared, &loaded);
                let current = ctx.desired();
                let (d, changed, removed) = merge(&current, loaded);
                let invalid: Vec<ResourceKey> = d.invalid.clone();
                let removed_keys: Vec<ResourceKey> = current.set.resources.iter().map(Resource::key)
                    .filter(|k| d.set.get(k).is_none()).collect();
                ctx.set_desired(d);
                for k in &invalid {
                    shared.mark_invalid(k, "manifest is invalid; keeping its last valid desired state".into());
                }
                for k in removed_keys {
                    ctx.queue.forget(&Work::Key(k.clone()));
                    ctx.outcomes().remove(&k);
                    shared.remove(&k);
                }
                tracing::info!(?change, changed = changed.len(), removed, "manifests reloaded");
                ctx.mark_dirty(&changed);
                // Until their reconcile reports, /status must not call them Synced.
                let affected = crate::apply::scope_keys(&ctx.desired().set, Some(&changed));
                for k in affected.iter().filter(|k| !invalid.contains(k)) {
                    shared.mark_pending(k, "manifest changed; reconcile queued");
                }
                for k in changed {
                    ctx.queue.retry_now(Work::Key(k));
                }
                // A prune held back while a manifest was invalid can happen now (SPEC §5).
                let valid_again = !current.manifests_valid && ctx.desired().manifests_valid;
                // A PATH emptied or filled again: the next full pass holds back or prunes.
                let emptiness_changed = current.empty_paths != ctx.desired().empty_paths;
                if removed || valid_again || emptiness_changed || change == Change::Rebuilt {
                    ctx.queue.schedule(Work::Full);
                }
                ctx.depth();
            }
        }
    }

    tracing::info!("shutting down: no new work; waiting for in-flight reconciles");
    if let Some(w) = watch {
        w.abort();
    }
    ctx.queue.close();
    let drained = tokio::time::timeout(cfg.shutdown_grace, async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("in-flight reconciles did not finish within the grace period; stopping them");
        workers.abort_all();
    }
}

async fn load_blocking(load: &LoadFn) -> Loaded {
    let load = Arc::clone(load);
    tokio::task::spawn_blocking(move || load())
        .await
        .unwrap_or_default()
}

/// Logs the problems of a load and publishes them (`/status`'s `invalidManifests`, the
/// `sfn_operator_manifest_errors` gauge).
fn report_diagnostics(shared: &Shared, loaded: &Loaded) {
    for d in &loaded.diagnostics {
        tracing::error!(diagnostic = %d, "invalid manifest");
    }
    shared.set_invalid_manifests(loaded.diagnostics.iter().map(Into::into).collect());
}

/// `d` with ±10 % jitter.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.9 + fastrand::f64() * 0.2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{DeletionPolicy, Kind, MachineType, Meta, SourceRef, StateMachine};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn machine(name: &str, version: u64) -> Resource {
        Resource::StateMachine(StateMachine {
            meta: Meta {
                name: name.into(),
                labels: Default::default(),
                annotations: Default::default(),
                source: SourceRef {
                    file: format!("{name}.yaml").into(),
                    line: 1,
                    column: 1,
                },
                controls: Default::default(),
            },
            name: name.into(),
            machine_type: MachineType::Standard,
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            definition: serde_json::json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "Result": version, "End": true}}}),
            logging: None,
            tracing_enabled: None,
            encryption: None,
            tags: Default::default(),
            deletion_policy: DeletionPolicy::Retain,
            versioning: Default::default(),
        })
    }

    fn loaded(resources: Vec<Resource>) -> Loaded {
        Loaded {
            desired: DesiredSet {
                region: None,
                account_id: None,
                resources,
            },
            ..Default::default()
        }
    }

    async fn until(what: &str, mut cond: impl FnMut() -> bool) {
        for _ in 0..100_000 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition never held: {what}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_resource_backs_off_while_others_converge_and_a_fix_retries_at_once() {
        let source = Arc::new(Mutex::new(loaded(vec![machine("a", 1), machine("b", 1)])));
        let fail_b = Arc::new(AtomicBool::new(true));
        let calls: Arc<Mutex<Vec<Option<BTreeSet<ResourceKey>>>>> = Arc::default();
        let load: LoadFn = {
            let source = Arc::clone(&source);
            Arc::new(move || source.lock().map(|l| l.clone()).unwrap_or_default())
        };
        let pass: PassFn = {
            let (fail_b, calls) = (Arc::clone(&fail_b), Arc::clone(&calls));
            Arc::new(move |set: Arc<DesiredSet>, req: PassRequest| {
                let (fail_b, calls) = (Arc::clone(&fail_b), Arc::clone(&calls));
                Box::pin(async move {
                    if let Ok(mut c) = calls.lock() {
                        c.push(req.only.clone());
                    }
                    let resources = set
                        .resources
                        .iter()
                        .filter(|r| req.only.as_ref().is_none_or(|o| o.contains(&r.key())))
                        .map(|r| {
                            let failing = r.meta().name == "b" && fail_b.load(Ordering::SeqCst);
                            ResourceReport {
                                kind: r.kind(),
                                name: r.meta().name.clone(),
                                action: Action::Noop,
                                status: if failing { Status::Failed } else { Status::Synced },
                                health: Default::default(),
                                changes: vec![],
                                id: None,
                                message: failing.then(|| "ThrottlingException: slow down".into()),
                                rollouts: Vec::new(),
                                requeue_after: None,
                            }
                        })
                        .collect();
                    Report::new(resources)
                }) as PassFuture
            })
        };
        let shared = Arc::new(Shared::default());
        let (change_tx, change_rx) = mpsc::channel(4);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = LoopConfig {
            resync_interval: Duration::from_secs(3600),
            concurrency: 2,
            shutdown_grace: Duration::from_secs(9),
            notifier: None,
            alarms: None,
        };
        let daemon = tokio::spawn(run_loop(cfg, Arc::clone(&shared), load, pass, change_rx, async {
            let _ = stop_rx.await;
        }));

        until("ready", || shared.is_ready()).await;
        let a = ResourceKey::new(Kind::StateMachine, "a");
        let b = ResourceKey::new(Kind::StateMachine, "b");
        assert_eq!(shared.get(&a).map(|s| s.report.status), Some(Status::Synced));
        until("b retried with growing backoff", || {
            shared.get(&b).is_some_and(|s| s.failures >= 4)
        })
        .await;
        let only_b = calls.lock().map(|c| {
            c.iter()
                .filter(|o| o.as_ref() == Some(&BTreeSet::from([b.clone()])))
                .count()
        });
        assert!(only_b.is_ok_and(|n| n >= 3), "retries are per key");
        let only_a = calls.lock().map(|c| {
            c.iter()
                .filter(|o| o.as_ref() == Some(&BTreeSet::from([a.clone()])))
                .count()
        });
        assert_eq!(only_a.ok(), Some(0), "a converged; never retried");
        assert!(shared.get(&b).is_some_and(|s| s.next_retry_time.is_some()));

        // Fix b's manifest: it is retried at once (not after its multi-second backoff).
        fail_b.store(false, Ordering::SeqCst);
        if let Ok(mut s) = source.lock() {
            *s = loaded(vec![machine("a", 1), machine("b", 2)]);
        }
        let before = tokio::time::Instant::now();
        let _ = change_tx.send(Change::Files).await;
        until("b synced after the fix", || {
            shared.get(&b).is_some_and(|s| s.report.status == Status::Synced)
        })
        .await;
        assert!(
            before.elapsed() < Duration::from_secs(1),
            "retried at once, not after the backoff"
        );
        assert_eq!(shared.get(&b).map(|s| s.failures), Some(0));

        let _ = stop_tx.send(());
        assert!(daemon.await.is_ok());
    }

    #[test]
    fn merge_keeps_the_last_valid_state_of_an_invalid_manifest() {
        let (d, changed, removed) = merge(
            &Desired::default(),
            loaded(vec![machine("a", 1), machine("b", 1)]),
        );
        assert_eq!(changed.len(), 2);
        assert!(!removed);
        let mut l = loaded(vec![machine("a", 2)]);
        l.invalid = vec![ResourceKey::new(Kind::StateMachine, "b")];
        let (d2, changed, removed) = merge(&d, l);
        assert_eq!(
            changed,
            BTreeSet::from([ResourceKey::new(Kind::StateMachine, "a")])
        );
        assert!(!removed, "b is invalid, not gone");
        assert_eq!(
            d2.set.get(&ResourceKey::new(Kind::StateMachine, "b")),
            Some(&machine("b", 1))
        );
        assert!(!d2.manifests_valid);
        let (_, _, removed) = merge(&d2, loaded(vec![machine("a", 2)]));
        assert!(removed);
    }

    #[test]
    fn merge_keeps_the_resources_of_a_file_that_stopped_parsing_as_invalid() {
        let (d, _, _) = merge(
            &Desired::default(),
            loaded(vec![machine("a", 1), machine("b", 1)]),
        );
        // b.yaml has a syntax error now: nothing in it is readable, b is invalid, not gone.
        let mut l = loaded(vec![machine("a", 1)]);
        l.diagnostics = vec![crate::manifest::Diagnostic {
            file: "b.yaml".into(),
            line: 3,
            column: 7,
            message: "did not find expected key".into(),
        }];
        let (d2, changed, removed) = merge(&d, l);
        let b = ResourceKey::new(Kind::StateMachine, "b");
        assert!(changed.is_empty());
        assert!(!removed, "b's file does not parse; b is not gone");
        assert_eq!(d2.invalid, vec![b.clone()]);
        assert_eq!(d2.set.get(&b), Some(&machine("b", 1)));
        assert!(!d2.manifests_valid);
        // Fixed: valid again.
        let (d3, _, removed) = merge(&d2, loaded(vec![machine("a", 1), machine("b", 1)]));
        assert!(!removed && d3.invalid.is_empty() && d3.manifests_valid);
    }
}
