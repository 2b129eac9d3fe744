//! sfn-operator: keeps AWS Step Functions state machines and the API Gateway integrations that
//! start them in line with YAML manifests.
//!
//! Data flows one way: manifests → desired state → (read live) → plan → apply → report. The
//! daemon is only a loop around that same pass.

pub mod asl;
pub mod cli;
pub mod commands;
pub mod desired;
pub mod manifest;
pub mod report;
pub mod sandbox;

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
