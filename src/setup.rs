//! The one place that turns command-line options into ready objects (ripgrep's `hiargs.rs`):
//! loader options, how to reach AWS (or the in-process sandbox), the pass's scope, and the report
//! printer. Every command calls these; nobody else builds them.
//!
//! Must not: run a pass, load manifests or print anything but a report (the commands do), or be
//! imported by the library's layers below the commands (`apply`, `controller`, `plan`, ...).

use std::io::Write as _;

use tokio::time::Instant;

use crate::apply::{Mode, PassScope, Reconciler};
use crate::aws::Settings;
use crate::cli::{AwsOpts, ManifestOpts, OutputFormat, PassOpts};
use crate::manifest::LoadOptions;
use crate::report::Report;

/// Where the in-process sandbox of `--sandbox` keeps its state, so consecutive runs (and the
/// daemon) see the same "live" state.
pub const SANDBOX_STATE_DIR: &str = ".sfn-operator";

/// The loader's options for `manifests`, with the region and account to substitute (`None`:
/// left for a later load, once they are known).
pub fn load_options(
    manifests: &ManifestOpts,
    region: Option<String>,
    account_id: Option<String>,
) -> LoadOptions {
    LoadOptions {
        paths: manifests.paths.clone(),
        vars: manifests.vars.iter().cloned().collect(),
        var_files: manifests.var_files.clone(),
        region,
        account_id,
    }
}

/// The AWS endpoint a command talks to, and the in-process sandbox behind it with `--sandbox`
/// (stopped by [`Target::shutdown`], or when dropped).
#[derive(Debug)]
pub struct Target {
    pub settings: Settings,
    sandbox: Option<crate::sandbox::SandboxHandle>,
}

impl Target {
    /// Resolves `--region`, `--endpoint-url`, `--account-id` and rate limits; with `--sandbox`
    /// starts the built-in sandbox in this process, its state in `.sfn-operator/sandbox.json`.
    pub async fn from_opts(aws: &AwsOpts) -> crate::Result<Target> {
        let mut settings = Settings {
            region: aws.region.clone(),
            endpoint_url: aws.endpoint_url.clone(),
            account_id: aws.account_id.clone(),
            rate_limits: aws.rate_limits(),
            sandbox: aws.sandbox,
        };
        if !aws.sandbox {
            return Ok(Target {
                settings,
                sandbox: None,
            });
        }
        let handle = start_local_sandbox().await?;
        tracing::info!(
            endpoint = %handle.endpoint_url(),
            state = crate::cli::SANDBOX_STATE_FILE,
            "sandbox started in this process (it stops with it; `sfn-operator sandbox --state` \
             serves the same state)"
        );
        settings.endpoint_url = Some(handle.endpoint_url());
        settings.account_id = Some(crate::sandbox::DEFAULT_ACCOUNT_ID.into());
        Ok(Target {
            settings,
            sandbox: Some(handle),
        })
    }

    /// Connects a reconciler (retrying transient failures until `deadline`) acting as `owner`.
    pub async fn connect(
        &self,
        pass: &PassOpts,
        owner: &str,
        deadline: Instant,
    ) -> crate::Result<Reconciler> {
        Reconciler::connect(&self.settings, usize::from(pass.concurrency), deadline)
            .await
            .map(|r| r.with_owner(owner))
            .map_err(crate::Error::Connect)
    }

    /// Stops the in-process sandbox, if any, after its last answer.
    pub async fn shutdown(self) {
        if let Some(handle) = self.sandbox {
            handle.shutdown().await;
        }
    }
}

/// Starts the built-in endpoint in this process with its state in `.sfn-operator/sandbox.json`.
async fn start_local_sandbox() -> crate::Result<crate::sandbox::SandboxHandle> {
    let dir = std::path::Path::new(SANDBOX_STATE_DIR);
    std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
        context: format!("creating {}", dir.display()),
        source,
    })?;
    let config = crate::sandbox::SandboxConfig {
        state_file: Some(crate::cli::SANDBOX_STATE_FILE.into()),
        account_id: crate::sandbox::DEFAULT_ACCOUNT_ID.into(),
        ..Default::default()
    };
    crate::sandbox::start(config)
        .await
        .map_err(crate::Error::SandboxStart)
}

/// When a pass that starts now must end: `--timeout` from now.
pub fn deadline(pass: &PassOpts) -> Instant {
    Instant::now() + pass.timeout
}

/// A full pass in `mode` with `--prune` and `--allow-empty`, retrying transient failures until
/// `deadline`.
pub fn pass_scope(mode: Mode, prune: bool, allow_empty: bool, deadline: Instant) -> PassScope {
    let mut scope = PassScope::new(mode, deadline);
    scope.prune = prune;
    scope.allow_empty = allow_empty;
    scope
}

/// Prints a report on stdout in the chosen format.
pub fn print_report(report: &Report, format: OutputFormat) -> crate::Result<()> {
    let text = match format {
        OutputFormat::Text => report.to_text_coloured(crate::colour::stdout_enabled()),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(report).map_err(|e| crate::Error::Io {
                context: "writing the report".into(),
                source: e.into(),
            })?;
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

/// The notifier of `--notify` (`None` without a URL): every URL checked (http or https), each
/// named by its position only, never by its text (it holds a secret token).
pub fn notifier(
    opts: &crate::cli::NotifyOpts,
    owner: &str,
) -> crate::Result<Option<crate::controller::notify::Notifier>> {
    use crate::controller::notify::{Format, Notifier, Target};
    if opts.urls.is_empty() {
        return Ok(None);
    }
    let format = opts.format.map(|f| match f {
        crate::cli::NotifyFormat::Json => Format::Json,
        crate::cli::NotifyFormat::Slack => Format::Slack,
    });
    let mut targets = Vec::new();
    for (i, secret) in opts.urls.iter().enumerate() {
        match reqwest::Url::parse(&secret.0) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                targets.push(Target::new(url, format));
            }
            _ => {
                return Err(crate::Error::Usage(format!(
                    "--notify: URL #{} is not an http or https URL (not shown: it may hold a token)",
                    i + 1
                )));
            }
        }
    }
    let capacity = usize::try_from(opts.queue).unwrap_or(usize::MAX);
    Ok(Some(Notifier::start(targets, capacity, owner)))
}
