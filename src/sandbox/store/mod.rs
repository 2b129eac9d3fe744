//! The sandbox's persisted state: every record it remembers ([`SandboxState`] and the records
//! under it) and the state file that holds them ([`journal`]).
//!
//! The records are plain data in AWS's own shapes, shared by the handlers (`sfn`, `versions`, `executions`,
//! `apigw`, `tagging`, `invoke`, `cloudwatch`) that read and change them. Must not: answer requests, decide
//! AWS's rules, or import a handler module (handlers import the store, never the reverse).

pub mod apigw;
pub mod cloudwatch;
pub mod journal;
pub mod sfn;

use serde::{Deserialize, Serialize};

pub use apigw::{ApiGatewayState, Resource, RestApi};
pub use cloudwatch::{CloudWatchState, MetricAlarm, Sample};
pub(crate) use journal::Journal;
pub use journal::{load, save};
pub use sfn::{Alias, Execution, Qualifier, SfnState, StateMachine, Target, Version, split_machine_arn};

/// Everything the sandbox remembers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SandboxState {
    #[serde(default)]
    pub sfn: SfnState,
    #[serde(default)]
    pub apigw: ApiGatewayState,
    #[serde(default)]
    pub cloudwatch: CloudWatchState,
}
