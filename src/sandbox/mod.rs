//! The sandbox: a local, AWS-compatible Step Functions and API Gateway endpoint (SPEC §7).
//!
//! One-way layers:
//! - [`store`]: every persisted record and the state file (its journal);
//! - [`protocol`]: the one error and one reply every handler answers, a wire encoder per
//!   protocol, request helpers, the page-token scheme;
//! - handlers over store + protocol, which never import one another: [`sfn`] (state
//!   machines), [`versions`] (versions and aliases), [`executions`], [`tagging`], [`apigw`],
//!   [`invoke`] (the invoke URL), [`cloudwatch`] (alarms and the `AWS/States` metrics),
//!   [`teststate`] (one state, AWS's `TestState`);
//! - `server`: HTTP, routes, request ids, persistence waits; its gate runs count → quota →
//!   fault → handler → lost once for every protocol, and `/_sandbox/*` are its admin routes.
//!
//! Beside them: [`faults`] and [`quotas`] (what the gate applies), `conn` (cuttable
//! connections), `clock` (the wall clock and the dice), [`cbor`] (the CBOR codec).

pub mod activities;
pub mod apigw;
pub mod cbor;
mod clock;
pub mod cloudwatch;
mod conn;
pub mod executions;
pub mod faults;
pub mod invoke;
pub mod protocol;
pub mod quotas;
mod server;
pub mod sfn;
pub mod store;
pub mod tagging;
pub mod teststate;
pub mod versions;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use clock::seed_dice;
pub use faults::FaultConfig;
pub use server::{SandboxHandle, start};

/// Who is calling: taken from the request's SigV4 signature and the sandbox's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The region in the signature's credential scope (`us-east-1` when unsigned).
    pub region: String,
    /// The account the sandbox reports.
    pub account_id: String,
}

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Keep state in this JSON file.
    pub state_file: Option<PathBuf>,
    /// The account id reported in ARNs and by STS.
    pub account_id: String,
    /// Faults injected from the start.
    pub faults: Option<FaultConfig>,
    /// Allow a non-loopback listen address.
    pub allow_remote: bool,
    /// Lambda stand-ins for Task states (`--functions`).
    pub functions: crate::standins::Functions,
    /// Enforce AWS's default control-plane quotas server-side (`--aws-quotas`, see [`quotas`]).
    pub aws_quotas: bool,
}

/// The account the sandbox reports unless told otherwise (SPEC §7).
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            account_id: DEFAULT_ACCOUNT_ID.into(),
            faults: None,
            allow_remote: false,
            functions: crate::standins::Functions::default(),
            aws_quotas: false,
        }
    }
}

/// Why the sandbox could not start or persist.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address is not loopback and `allow_remote` is off.
    #[error(
        "refusing to listen on non-loopback address {0} without --allow-remote (the sandbox accepts any credentials)"
    )]
    RemoteNotAllowed(SocketAddr),
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Another sandbox holds the state file's lock (SPEC §7).
    #[error(transparent)]
    Locked(#[from] crate::lock::Error),
    /// The state file cannot be read or written.
    #[error("state file {}: {source}", path.display())]
    StateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The state file is not a sandbox state (left untouched).
    #[error("state file {} is not valid sandbox state (left untouched): {source}", path.display())]
    CorruptState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Whether retrying could help (a busy port could free up; the rest needs a fix).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Bind { .. })
    }
}
