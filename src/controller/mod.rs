//! The daemon of SPEC §6: a loop around the same pass as `reconcile --once`. It decides *when*
//! and *what* to reconcile (file events, resync, retries); the engine decides *how*.

pub mod daemon;
pub mod http;
pub use crate::lock;
pub mod queue;
pub mod status;
pub mod watcher;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::apply::{Engine, Mode, PassScope};
use crate::aws::Settings;
use crate::cli::ReconcileOpts;
use crate::manifest::{self, LoadOptions};

/// How long in-flight reconciles may take to finish after SIGINT/SIGTERM (SPEC §6: exit within 10 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// The share of every AWS quota the daemon's full passes (the first one and every resync) keep
/// to: other tools in the account share the quotas, and a resync is never urgent.
pub const RESYNC_QUOTA_SHARE: f64 = 0.5;

/// `sfn-operator reconcile` without `--once`: runs until SIGINT/SIGTERM, then exits 0.
pub async fn run_daemon(opts: &ReconcileOpts) -> crate::Result<u8> {
    // One daemon per manifest set, before anything else happens.
    let lock = lock::acquire(&opts.lock_file)?;
    tracing::info!(lock = %lock.path().display(), "lock taken");

    let mut settings = Settings {
        region: opts.aws.region.clone(),
        endpoint_url: opts.aws.endpoint_url.clone(),
        account_id: opts.aws.account_id.clone(),
        rate_limits: opts.aws.rate_limits(),
        sandbox: opts.aws.sandbox,
    };
    // `--sandbox`: the same in-process sandbox as `--once`, alive as long as the daemon.
    let _sandbox = if opts.aws.sandbox {
        let handle = crate::commands::reconcile::start_local_sandbox().await?;
        tracing::info!(
            endpoint = %handle.endpoint_url(),
            state = ".sfn-operator/sandbox.json",
            "sandbox started in this process; reach it with --endpoint-url {} while the daemon runs",
            handle.endpoint_url()
        );
        settings.endpoint_url = Some(handle.endpoint_url());
        settings.account_id = Some(crate::sandbox::DEFAULT_ACCOUNT_ID.into());
        Some(handle)
    } else {
        None
    };
    let connect_deadline = Instant::now() + opts.timeout;
    let engine = match Engine::connect(&settings, usize::from(opts.concurrency), connect_deadline).await {
        Ok(e) => e.with_owner(opts.owner.owner_id.clone()),
        Err(e) => {
            eprintln!("error: cannot reach AWS: {e}");
            return Ok(crate::exit::FAILURE);
        }
    };
    let load_opts = LoadOptions {
        paths: opts.manifests.paths.clone(),
        vars: opts.manifests.vars.iter().cloned().collect(),
        var_files: opts.manifests.var_files.clone(),
        region: Some(engine.aws().region.clone()),
        account_id: Some(engine.aws().account_id.clone()),
    };
    let load: daemon::LoadFn = Arc::new(move || manifest::load(&load_opts));
    let prune = opts.prune;
    let allow_empty = opts.owner.allow_empty;
    let timeout = opts.timeout;
    // One set of half-size buckets for every full pass, on top of the common ones: a resync
    // spreads its reads so that it never uses more than half of any quota, and edits reconciled
    // meanwhile keep the other half.
    let resync_limits = Arc::new(crate::aws::ratelimit::RateLimits::share_of_defaults(
        RESYNC_QUOTA_SHARE,
    ));
    let quota_share = engine.aws().rate_limited().then_some(RESYNC_QUOTA_SHARE);
    let pass: daemon::PassFn = Arc::new(move |desired, req: daemon::PassRequest| {
        let engine = if req.only.is_none() {
            engine.with_quota_share(Arc::clone(&resync_limits))
        } else {
            engine.clone()
        };
        Box::pin(async move {
            // The very pass of `--once`, scoped to what the daemon asks for.
            let mut scope = PassScope::new(Mode::Apply, Instant::now() + timeout);
            scope.prune = prune;
            scope.only = req.only;
            scope.invalid = req.invalid;
            scope.manifests_valid = req.manifests_valid;
            scope.empty_paths = req.empty_paths;
            scope.allow_empty = allow_empty;
            engine.pass(&desired, &scope).await
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
    let cfg = daemon::LoopConfig {
        resync_interval: opts.resync_interval,
        concurrency: usize::from(opts.concurrency),
        shutdown_grace: SHUTDOWN_GRACE,
    };
    daemon::run_loop(cfg, shared, load, pass, changes, stopped()).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    drop(lock);
    tracing::info!("stopped");
    Ok(crate::exit::OK)
}
