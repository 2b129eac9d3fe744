//! `sfn-operator sandbox`: runs the local AWS-compatible endpoint until Ctrl-C or SIGTERM.

use crate::cli::SandboxOpts;
use crate::sandbox::{self, FaultConfig, SandboxConfig};
use crate::standins::Functions;

/// Starts the sandbox, prints its URL, and serves until interrupted.
pub async fn run(opts: SandboxOpts) -> crate::Result<u8> {
    let faults = match opts.faults.as_deref() {
        Some(text) => FaultConfig::parse(text).map_err(crate::Error::Usage)?,
        None => None,
    };
    let functions = match &opts.functions {
        Some(path) => Functions::load(path).map_err(|e| crate::Error::Input(e.to_string()))?,
        None => Functions::default(),
    };
    // `--state` alone names .sfn-operator/sandbox.json: its directory may not exist yet.
    if let Some(dir) = opts.state.as_deref().and_then(std::path::Path::parent)
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
    }
    let config = SandboxConfig {
        listen: opts.listen,
        state_file: opts.state,
        account_id: opts.account_id,
        faults,
        allow_remote: opts.allow_remote,
        functions,
        aws_quotas: opts.aws_quotas,
    };
    let handle = sandbox::start(config).await?;
    println!("{}", handle.endpoint_url());
    shutdown_signal().await;
    handle.shutdown().await;
    Ok(crate::exit::OK)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
