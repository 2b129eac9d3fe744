//! sfn-operator: keeps AWS Step Functions state machines and the API Gateway integrations that
//! start them in line with YAML manifests.
//!
//! Data flows one way: manifests → desired state → (read live) → plan → apply → report. The
//! daemon is only a loop around that same pass.

pub mod apply;
pub mod asl;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod controller;
pub mod desired;
pub mod encoding;
pub mod exec;
pub mod lock;
pub mod manifest;
pub mod metrics;
pub mod ownership;
pub mod path;
pub mod plan;
pub mod report;
pub mod sandbox;
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

/// Errors that end a command (per-resource failures are reported, not raised).
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// A command-line value that parsed but cannot be used.
    #[error("{0}")]
    Usage(String),
    /// The daemon's lock is held by another process, or cannot be taken.
    #[error(transparent)]
    Lock(#[from] lock::Error),
    /// The daemon cannot watch its manifest paths.
    #[error(transparent)]
    Watch(#[from] controller::watcher::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
