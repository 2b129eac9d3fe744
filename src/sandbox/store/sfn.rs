//! Step Functions records: state machines and STANDARD executions, as the state file keeps them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exec::Event;

/// Every state machine, keyed by ARN (sorted, which gives a stable listing order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SfnState {
    pub machines: BTreeMap<String, StateMachine>,
    /// Source of revision ids.
    pub next_revision: u64,
    /// STANDARD executions, keyed by ARN (see `sandbox::executions`).
    #[serde(default)]
    pub executions: BTreeMap<String, Execution>,
}

/// One state machine as AWS describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachine {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    #[serde(rename = "type")]
    pub kind: crate::asl::MachineType,
    pub creation_date: f64,
    pub logging: Value,
    pub tracing: Value,
    pub tags: IndexMap<String, String>,
    pub revision_id: String,
}

/// One execution, with its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    /// STANDARD or EXPRESS.
    #[serde(rename = "type")]
    pub kind: crate::asl::MachineType,
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: f64,
    pub stop_date: Option<f64>,
    pub events: Vec<Event>,
    /// The machine as it was when the execution started (`DescribeStateMachineForExecution`).
    pub definition: String,
    pub role_arn: String,
    pub revision_id: String,
}
