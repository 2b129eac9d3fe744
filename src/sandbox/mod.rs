//! The sandbox: a local, AWS-compatible Step Functions and API Gateway endpoint (SPEC §7).
//!
//! `mod.rs` and the server own HTTP, signatures, persistence, request counts and faults; the
//! service modules (`sfn`, `apigw`) are pure handlers over their part of the state.

pub mod apigw;

/// Who is calling: taken from the request's SigV4 signature and the sandbox's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The region in the signature's credential scope (`us-east-1` when unsigned).
    pub region: String,
    /// The account the sandbox reports.
    pub account_id: String,
}
