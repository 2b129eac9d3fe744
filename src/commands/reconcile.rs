//! `sfn-operator reconcile --once`: one pass that makes live match the manifests. Manifests are
//! validated completely (offline) before any AWS call; if any is invalid nothing is written.

use std::io::Write as _;

use tokio::time::Instant;

use crate::apply::{Engine, Mode, PassScope};
use crate::aws::Settings;
use crate::cli::{AwsOpts, ManifestOpts, OutputFormat, OwnerOpts, ReconcileOpts};
use crate::manifest::{self, LoadOptions};
use crate::report::{Report, Status};

/// Runs `reconcile --once` (the daemon lives elsewhere).
pub async fn run(opts: ReconcileOpts) -> crate::Result<u8> {
    if !opts.once {
        return crate::controller::run_daemon(&opts).await;
    }
    // Interrupted (Ctrl-C, a cancelled CI job): start nothing new, finish the calls in flight and
    // report; a second signal stops at once.
    tokio::spawn(async {
        crate::shutdown::signal().await;
        eprintln!("interrupted: finishing the AWS calls in flight (interrupt again to stop at once)");
        crate::shutdown::request();
        crate::shutdown::signal().await;
        std::process::exit(i32::from(crate::exit::FAILURE));
    });
    let deadline = Instant::now() + opts.timeout;
    let outcome = pass(
        &opts.manifests,
        &opts.aws,
        &opts.owner,
        Mode::Apply,
        opts.prune,
        deadline,
        usize::from(opts.concurrency),
    )
    .await?;
    let Some(report) = outcome else {
        return Ok(crate::exit::FAILURE);
    };
    print(&report, opts.output)?;
    // A prune held back (SPEC §5) is a failure: what should be gone is not.
    let ok = report.resources.iter().all(|r| r.status == Status::Synced) && report.prune_held_back.is_none();
    Ok(if ok { crate::exit::OK } else { crate::exit::FAILURE })
}

/// Loads manifests (offline first), connects, and runs one pass. `None`: manifests were invalid
/// or AWS could not be reached (already told on stderr).
pub(crate) async fn pass(
    manifests: &ManifestOpts,
    aws: &AwsOpts,
    owner: &OwnerOpts,
    mode: Mode,
    prune: bool,
    deadline: Instant,
    concurrency: usize,
) -> crate::Result<Option<Report>> {
    let load = LoadOptions {
        paths: manifests.paths.clone(),
        vars: manifests.vars.iter().cloned().collect(),
        var_files: manifests.var_files.clone(),
        region: None,
        account_id: None,
    };
    // Offline validation before any AWS call: nothing is read or written when a manifest is bad.
    let offline = manifest::load(&load);
    // AWS's WARNING findings: printed once, here, never failing the pass.
    for w in &offline.warnings {
        eprintln!("{w}");
    }
    if !offline.diagnostics.is_empty() {
        for d in &offline.diagnostics {
            eprintln!("{d}");
        }
        eprintln!("error: manifests are invalid; nothing was changed");
        return Ok(None);
    }
    let mut settings = Settings {
        region: aws.region.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        account_id: aws.account_id.clone(),
        rate_limits: aws.rate_limits(),
        sandbox: aws.sandbox,
    };
    // `--sandbox`: the built-in endpoint, its state kept in `.sfn-operator/sandbox.json` so
    // consecutive runs see the same "live" state.
    let sandbox = if aws.sandbox {
        let handle = match start_local_sandbox().await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: cannot start the sandbox: {e}");
                return Ok(None);
            }
        };
        tracing::info!(
            endpoint = %handle.endpoint_url(),
            state = ".sfn-operator/sandbox.json",
            "sandbox started in this process (it stops with it; `sfn-operator sandbox --state .sfn-operator/sandbox.json` serves the same state)"
        );
        settings.endpoint_url = Some(handle.endpoint_url());
        settings.account_id = Some(crate::sandbox::DEFAULT_ACCOUNT_ID.into());
        Some(handle)
    } else {
        None
    };
    let report = connect_and_pass(load, &settings, owner, mode, prune, deadline, concurrency).await;
    if let Some(handle) = sandbox {
        handle.shutdown().await;
    }
    Ok(report)
}

async fn connect_and_pass(
    mut load: LoadOptions,
    settings: &Settings,
    owner: &OwnerOpts,
    mode: Mode,
    prune: bool,
    deadline: Instant,
    concurrency: usize,
) -> Option<Report> {
    let engine = match Engine::connect(settings, concurrency, deadline).await {
        Ok(e) => e.with_owner(owner.owner_id.clone()),
        Err(e) => {
            eprintln!("error: cannot reach AWS: {e}");
            return None;
        }
    };
    load.region = Some(engine.aws().region.clone());
    load.account_id = Some(engine.aws().account_id.clone());
    let loaded = manifest::load(&load);
    if !loaded.diagnostics.is_empty() {
        for d in &loaded.diagnostics {
            eprintln!("{d}");
        }
        eprintln!("error: manifests are invalid; nothing was changed");
        return None;
    }
    let mut scope = PassScope::new(mode, deadline);
    scope.prune = prune;
    scope.allow_empty = owner.allow_empty;
    scope.empty_paths = loaded.empty_paths.clone();
    Some(engine.pass(&loaded.desired, &scope).await)
}

/// Prints a report on stdout in the chosen format.
pub(crate) fn print(report: &Report, format: OutputFormat) -> crate::Result<()> {
    let text = match format {
        OutputFormat::Text => report.to_text(),
        OutputFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(report).map_err(|e| crate::Error::Usage(e.to_string()))?;
            s.push('\n');
            s
        }
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|source| crate::Error::Io {
            context: "writing the report".into(),
            source,
        })
}

/// `--sandbox`: starts the built-in endpoint in this process, its state kept in
/// `.sfn-operator/sandbox.json` so consecutive runs (and the daemon) see the same "live" state.
pub(crate) async fn start_local_sandbox() -> crate::Result<crate::sandbox::SandboxHandle> {
    let dir = std::path::Path::new(".sfn-operator");
    std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
        context: format!("creating {}", dir.display()),
        source,
    })?;
    let config = crate::sandbox::SandboxConfig {
        state_file: Some(dir.join("sandbox.json")),
        account_id: crate::sandbox::DEFAULT_ACCOUNT_ID.into(),
        ..Default::default()
    };
    Ok(crate::sandbox::start(config).await?)
}
