//! sfn-operator: keeps AWS Step Functions state machines and the API Gateway integrations that
//! start them in line with YAML manifests.
//!
//! Data flows one way: manifests → desired state → (read live) → plan → apply → report. The
//! daemon is only a loop around that same pass.

pub mod apply;
pub mod asl;
pub mod aws;
pub mod cli;
pub mod colour;
pub mod commands;
pub mod controller;
pub mod desired;
pub mod encoding;
pub mod exec;
pub mod graph;
pub mod import;
pub mod live;
pub mod lock;
pub mod manifest;
pub mod metrics;
pub mod ownership;
pub mod path;
pub mod plan;
pub mod report;
pub mod sandbox;
pub mod setup;
pub mod shutdown;
pub mod standins;
pub mod vtl;

/// Process exit codes of SPEC §3.
pub mod exit {
    /// Success: valid, in sync.
    pub const OK: u8 = 0;
    /// Something invalid, an error, or a failed resource.
    pub const FAILURE: u8 = 1;
    /// `diff` only: changes are pending.
    pub const CHANGES_PENDING: u8 = 2;
    /// Usage error (BSD `EX_USAGE`).
    pub const USAGE: u8 = 64;
}

/// Errors that end a command (per-resource failures are reported, not raised). Printed once, by
/// `main`, which exits with [`Error::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Manifests failed to load or validate; their diagnostics were printed, nothing was read
    /// from or written to AWS.
    #[error("manifests are invalid; nothing was changed")]
    InvalidManifests { count: usize },
    /// AWS (or the endpoint given) could not be reached, or refused the caller's identity.
    #[error("cannot reach AWS: {0}")]
    Connect(aws::AwsError),
    /// The in-process sandbox of `--sandbox` could not start.
    #[error("cannot start the sandbox: {0}")]
    SandboxStart(sandbox::Error),
    /// A file the command was given cannot be used (a `--functions` file, say).
    #[error("{0}")]
    Input(String),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The sandbox could not start or keep its state.
    #[error(transparent)]
    Sandbox(#[from] sandbox::Error),
    /// A command-line value that parsed but cannot be used (exit 64, BSD `EX_USAGE`).
    #[error("{0}")]
    Usage(String),
    /// The daemon's lock is held by another process, or cannot be taken.
    #[error(transparent)]
    Lock(#[from] lock::Error),
    /// The daemon cannot watch its manifest paths.
    #[error(transparent)]
    Watch(#[from] controller::watcher::Error),
}

impl Error {
    /// The process exit code of SPEC §3 for this error: 64 for a usage error, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            _ => exit::FAILURE,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
