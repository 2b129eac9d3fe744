//! `sfn-operator reconcile`: with `--once`, one pass that makes live match the manifests;
//! without it, the daemon (SPEC §6), wired here from the controller's parts. Manifests are
//! validated completely (offline) before any AWS call; if any is invalid nothing is written.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::apply::{Mode, PassScope};
use crate::cli::{AwsOpts, ManifestOpts, OwnerOpts, PassOpts, ReconcileOpts};
use crate::controller::{RESYNC_QUOTA_SHARE, SHUTDOWN_GRACE, daemon, http, lock, status, watcher};
use crate::manifest;
use crate::report::{Report, Status};
use crate::setup::{self, Target};

/// Runs `reconcile --once`, or the daemon without `--once`.
pub async fn run(opts: ReconcileOpts) -> crate::Result<u8> {
    if !opts.once {
        return run_daemon(&opts).await;
    }
    let notifier = setup::notifier(&opts.notify, &opts.owner.owner_id)?;
    // Interrupted (Ctrl-C, a cancelled CI job): start nothing new, finish the calls in flight and
    // report; a second signal stops at once.
    tokio::spawn(async {
        crate::shutdown::signal().await;
        eprintln!("interrupted: finishing the AWS calls in flight (interrupt again to stop at once)");
        crate::shutdown::request();
        crate::shutdown::signal().await;
        std::process::exit(i32::from(crate::exit::FAILURE));
    });
    let run = PassRun {
        manifests: &opts.manifests,
        owner: &opts.owner,
        pass: &opts.pass,
        mode: Mode::Apply,
        prune: opts.prune,
        wait: opts.wait,
        notifier: notifier.as_ref(),
    };
    let report = run.run(&opts.aws).await?;
    setup::print_report(&report, opts.output)?;
    if let Some(n) = notifier {
        notify_once(&n, &report).await;
    }
    // A prune held back (SPEC §5) is a failure: what should be gone is not. A rollout in progress
    // is not (SPEC §9); one rolled back is. Drift left by `driftPolicy: Report` and a suspended
    // resource are not failures either (SPEC §12).
    let ok = report.resources.iter().all(|r| {
        matches!(
            r.status,
            Status::Synced | Status::Progressing | Status::Drifted | Status::Suspended
        )
    }) && report.prune_held_back.is_none();
    Ok(if ok { crate::exit::OK } else { crate::exit::FAILURE })
}

/// How long `--once` waits, after its report, for its notifications to be delivered.
const NOTIFY_FLUSH: Duration = Duration::from_secs(10);

/// How long the daemon, once stopped, waits for its last notifications to be delivered.
const DAEMON_NOTIFY_FLUSH: Duration = Duration::from_secs(1);

/// `--once --notify`: the events of the pass (a single pass cannot tell drift corrected from a
/// manifest applied, so it sends drift found, failures and a prune held back), delivered before
/// the process exits, for at most [`NOTIFY_FLUSH`].
async fn notify_once(n: &crate::controller::notify::Notifier, report: &Report) {
    use crate::controller::notify;
    for r in &report.resources {
        notify::events_of(r, None, false, n.owner())
            .into_iter()
            .for_each(|e| n.send(e));
    }
    if let Some(why) = &report.prune_held_back {
        n.send(notify::prune_held_back(why, n.owner()));
    }
    flush(n).await;
}

/// Waits, before the process exits, for its notifications to be delivered, for at most
/// [`NOTIFY_FLUSH`].
pub(crate) async fn flush(n: &crate::controller::notify::Notifier) {
    if !n.flush(NOTIFY_FLUSH).await {
        tracing::warn!(
            seconds = NOTIFY_FLUSH.as_secs(),
            "notifications still undelivered; exiting without them"
        );
    }
}

/// The rollout started, promoted and rolled back events of one pass.
pub(crate) fn send_rollout_events(n: &crate::controller::notify::Notifier, report: &Report) {
    use crate::controller::notify::{self, EventKind};
    for r in &report.resources {
        notify::events_of(r, None, false, n.owner())
            .into_iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::RolloutStarted | EventKind::RolloutPromoted | EventKind::RolloutRolledBack
                )
            })
            .for_each(|e| n.send(e));
    }
}

/// One `--once` run: a pass, and with `wait` the passes that follow rollouts to their end.
pub(crate) struct PassRun<'a> {
    pub manifests: &'a ManifestOpts,
    pub owner: &'a OwnerOpts,
    pub pass: &'a PassOpts,
    pub mode: Mode,
    pub prune: bool,
    pub wait: bool,
    /// `--notify` with `--wait`: the rollout events of the passes before the last are sent as
    /// they happen (the last pass's events are sent with its report).
    pub notifier: Option<&'a crate::controller::notify::Notifier>,
}

impl PassRun<'_> {
    /// Loads manifests (offline first, so nothing is read or written when one is bad), connects,
    /// and runs the pass(es).
    pub async fn run(&self, aws: &AwsOpts) -> crate::Result<Report> {
        let offline = manifest::load(&setup::load_options(self.manifests, None, None));
        for w in &offline.warnings {
            eprintln!("{w}");
        }
        invalid(&offline)?;
        let target = Target::from_opts(aws).await?;
        let report = self.connected(&target).await;
        target.shutdown().await;
        report
    }

    async fn connected(&self, target: &Target) -> crate::Result<Report> {
        let reconciler = target
            .connect(self.pass, &self.owner.owner_id, setup::deadline(self.pass))
            .await?;
        let (region, account) = (&reconciler.aws().region, &reconciler.aws().account_id);
        let loaded = manifest::load(&setup::load_options(
            self.manifests,
            Some(region.clone()),
            Some(account.clone()),
        ));
        invalid(&loaded)?;
        loop {
            let mut scope = setup::pass_scope(
                self.mode,
                self.prune,
                self.owner.allow_empty,
                setup::deadline(self.pass),
            );
            scope.empty_paths = loaded.empty_paths.clone();
            let report = reconciler.pass(&loaded.desired, &scope).await;
            let next = report
                .resources
                .iter()
                .filter(|r| r.status == Status::Progressing)
                .filter_map(|r| r.requeue_after)
                .min();
            match next {
                Some(after) if self.wait && !crate::shutdown::requested() => {
                    if let Some(n) = self.notifier {
                        send_rollout_events(n, &report);
                    }
                    tracing::info!(
                        seconds = after,
                        "rollout in progress; next pass when its step is due"
                    );
                    tokio::time::sleep(Duration::from_secs(after)).await;
                }
                _ => return Ok(report),
            }
        }
    }
}

/// Loads manifests, connects, and runs one pass in `mode` (`diff`).
pub(crate) async fn pass(
    manifests: &ManifestOpts,
    aws: &AwsOpts,
    owner: &OwnerOpts,
    pass: &PassOpts,
    mode: Mode,
    prune: bool,
) -> crate::Result<Report> {
    PassRun {
        manifests,
        owner,
        pass,
        mode,
        prune,
        wait: false,
        notifier: None,
    }
    .run(aws)
    .await
}

/// Prints the diagnostics of invalid manifests (they are the answer a person needs) and says
/// that nothing was changed.
fn invalid(loaded: &manifest::Loaded) -> crate::Result<()> {
    if loaded.diagnostics.is_empty() {
        return Ok(());
    }
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    Err(crate::Error::InvalidManifests {
        count: loaded.diagnostics.len(),
    })
}

/// `sfn-operator reconcile` without `--once`: the controller's loop with its lock, endpoints,
/// watcher and passes; runs until SIGINT/SIGTERM, then exits 0.
async fn run_daemon(opts: &ReconcileOpts) -> crate::Result<u8> {
    let notifier = setup::notifier(&opts.notify, &opts.owner.owner_id)?;
    // One daemon per manifest set, before anything else happens.
    let lock = lock::acquire(&opts.lock_file)?;
    tracing::info!(lock = %lock.path().display(), "lock taken");
    // `--sandbox`: the same in-process sandbox as `--once`, alive as long as the daemon.
    let target = Target::from_opts(&opts.aws).await?;
    let connect_deadline = setup::deadline(&opts.pass);
    let reconciler = match target
        .connect(&opts.pass, &opts.owner.owner_id, connect_deadline)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            target.shutdown().await;
            return Err(e);
        }
    };
    let load_opts = setup::load_options(
        &opts.manifests,
        Some(reconciler.aws().region.clone()),
        Some(reconciler.aws().account_id.clone()),
    );
    let load: daemon::LoadFn = Arc::new(move || manifest::load(&load_opts));
    let (prune, allow_empty, timeout) = (opts.prune, opts.owner.allow_empty, opts.pass.timeout);
    // One set of half-size buckets for every full pass, on top of the common ones: a resync
    // spreads its reads so that it never uses more than half of any quota, and edits reconciled
    // meanwhile keep the other half.
    let resync_limits = Arc::new(crate::aws::ratelimit::RateLimits::share_of_defaults(
        RESYNC_QUOTA_SHARE,
    ));
    let quota_share = reconciler.aws().rate_limited().then_some(RESYNC_QUOTA_SHARE);
    let reconciler_aws = reconciler.aws().clone();
    let pass: daemon::PassFn = Arc::new(move |desired, req: daemon::PassRequest| {
        let reconciler = if req.only.is_none() {
            reconciler.with_quota_share(Arc::clone(&resync_limits))
        } else {
            reconciler.clone()
        };
        Box::pin(async move {
            // The very pass of `--once`, scoped to what the daemon asks for.
            let scope = PassScope {
                only: req.only,
                invalid: req.invalid,
                manifests_valid: req.manifests_valid,
                empty_paths: req.empty_paths,
                ..setup::pass_scope(Mode::Apply, prune, allow_empty, Instant::now() + timeout)
            };
            reconciler.pass(&desired, &scope).await
        })
    });

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let shared = Arc::new(status::Shared::default());
    shared.set_resync_settings(opts.resync_interval, quota_share);
    let (addr, server) = http::bind(opts.listen, Arc::clone(&shared), stopped()).await?;
    tracing::info!(%addr, "serving /healthz /readyz /metrics /status");
    let server = tokio::spawn(server);
    let changes = watcher::spawn(&opts.manifests.paths, opts.debounce)?;

    tokio::spawn(async move {
        crate::shutdown::signal().await;
        tracing::info!("signal received; stopping");
        crate::shutdown::request();
        let _ = stop_tx.send(true);
    });
    let aws = reconciler_aws;
    let alarms: crate::controller::alarms::AlarmFn = Arc::new(move |names: Vec<String>| {
        let aws = aws.clone();
        Box::pin(async move { aws.alarm_states(&names).await.map_err(|e| e.to_string()) })
    });
    let cfg = daemon::LoopConfig {
        resync_interval: opts.resync_interval,
        concurrency: usize::from(opts.pass.concurrency),
        shutdown_grace: SHUTDOWN_GRACE,
        notifier: notifier.clone(),
        alarms: Some(alarms),
    };
    daemon::run_loop(cfg, shared, load, pass, changes, stopped()).await;
    // The last passes' events get the second the server has to stop, no more (SPEC §6: exit
    // within 10 s).
    let flush = async {
        if let Some(n) = &notifier
            && !n.flush(DAEMON_NOTIFY_FLUSH).await
        {
            tracing::warn!("notifications still undelivered; exiting without them");
        }
    };
    let _ = tokio::join!(tokio::time::timeout(DAEMON_NOTIFY_FLUSH, server), flush);
    target.shutdown().await;
    drop(lock);
    tracing::info!("stopped");
    Ok(crate::exit::OK)
}
