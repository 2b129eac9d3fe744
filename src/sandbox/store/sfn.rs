//! Step Functions records: state machines with their versions and aliases, and STANDARD
//! executions, as the state file keeps them; and how a (qualified) state machine ARN names them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exec::Event;

/// AWS's quota of versions per state machine.
pub const MAX_VERSIONS: usize = 1000;

/// Every state machine, keyed by ARN (sorted, which gives a stable listing order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SfnState {
    pub machines: BTreeMap<String, StateMachine>,
    /// Source of revision ids.
    pub next_revision: u64,
    /// STANDARD executions, keyed by ARN (see `sandbox::executions`).
    #[serde(default)]
    pub executions: BTreeMap<String, Execution>,
    /// Activities as `DescribeActivity` answers them plus their `tags`, keyed by ARN, in
    /// creation order (see `sandbox::activities`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub activities: IndexMap<String, Value>,
}

impl SfnState {
    /// What a start through `arn` runs: the machine, the version (for a version ARN, or the one
    /// an alias picks: `pick` answers a number in `0..100`, the weights summing to 100) and the
    /// alias ARN it went through. `None` when `arn` names nothing that exists.
    pub fn start_target(&self, arn: &str, pick: impl FnOnce() -> u32) -> Option<Target<'_>> {
        let (base, qualifier) = split_machine_arn(arn)?;
        let machine = self.machines.get(base)?;
        let (number, alias_arn) = match qualifier {
            Qualifier::None => {
                return Some(Target {
                    machine,
                    version: None,
                    alias_arn: None,
                });
            }
            Qualifier::Version(n) => (n, None),
            Qualifier::Alias(name) => (machine.aliases.get(name)?.pick(pick())?, Some(arn.to_string())),
        };
        let version = Some(machine.versions.get(&number)?);
        Some(Target {
            machine,
            version,
            alias_arn,
        })
    }
}

/// What one start runs (see [`SfnState::start_target`]).
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub machine: &'a StateMachine,
    pub version: Option<&'a Version>,
    pub alias_arn: Option<String>,
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
    /// `encryptionConfiguration` as `DescribeStateMachine` answers it.
    #[serde(default = "aws_owned_key")]
    pub encryption: Value,
    pub tags: IndexMap<String, String>,
    /// The current revision's id: unique per configuration, also for the one before any update.
    pub revision_id: String,
    /// Whether the machine changed since its creation: AWS shows a `revisionId` only then (the
    /// initial revision has none; `PublishStateMachineVersion` names it `INITIAL`).
    #[serde(default)]
    pub revised: bool,
    /// Published versions by number (AWS never reuses a number, even after a delete).
    #[serde(default)]
    pub versions: BTreeMap<u64, Version>,
    /// The last version number handed out.
    #[serde(default)]
    pub last_version: u64,
    /// Aliases by name, in creation order.
    #[serde(default)]
    pub aliases: IndexMap<String, Alias>,
}

impl StateMachine {
    /// The `revisionId` AWS shows for the current revision (none before the first change).
    pub fn shown_revision(&self) -> Option<&str> {
        self.revised.then_some(self.revision_id.as_str())
    }

    /// The version published from the current revision, if one still exists.
    pub fn current_version(&self) -> Option<&Version> {
        self.versions.values().find(|v| v.revision_id == self.revision_id)
    }

    /// The version holding the current revision, published now unless one exists: its number,
    /// creation date and whether it is new. `None` when [`MAX_VERSIONS`] are kept already.
    pub fn publish_current(&mut self, description: Option<String>, now: f64) -> Option<(u64, f64, bool)> {
        if let Some(v) = self.current_version() {
            return Some((v.number, v.creation_date, false));
        }
        if self.versions.len() >= MAX_VERSIONS {
            return None;
        }
        let v = self.publish(description, now);
        Some((v.number, v.creation_date, true))
    }

    /// Publishes the current revision as a new version.
    fn publish(&mut self, description: Option<String>, now: f64) -> &Version {
        self.last_version += 1;
        let number = self.last_version;
        let version = Version {
            number,
            description,
            creation_date: now,
            definition: self.definition.clone(),
            role_arn: self.role_arn.clone(),
            logging: self.logging.clone(),
            tracing: self.tracing.clone(),
            encryption: self.encryption.clone(),
            revision_id: self.revision_id.clone(),
            revised: self.revised,
        };
        self.versions.entry(number).or_insert(version)
    }

    /// The ARN of version `number` (`...:stateMachine:NAME:N`).
    pub fn version_arn(&self, number: u64) -> String {
        format!("{}:{number}", self.arn)
    }

    /// The ARN of alias `name` (`...:stateMachine:NAME:ALIAS`).
    pub fn alias_arn(&self, name: &str) -> String {
        format!("{}:{name}", self.arn)
    }
}

/// One published version: an immutable copy of the machine's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub number: u64,
    pub description: Option<String>,
    pub creation_date: f64,
    pub definition: String,
    pub role_arn: String,
    pub logging: Value,
    pub tracing: Value,
    #[serde(default = "aws_owned_key")]
    pub encryption: Value,
    /// The revision it was published from (see [`StateMachine::revision_id`]).
    pub revision_id: String,
    /// Whether that revision shows a `revisionId` (see [`StateMachine::revised`]).
    pub revised: bool,
}

impl Version {
    /// The `revisionId` AWS shows for this version (none when published from the initial revision).
    pub fn shown_revision(&self) -> Option<&str> {
        self.revised.then_some(self.revision_id.as_str())
    }
}

/// One alias: routes executions to one or two versions by weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub description: Option<String>,
    /// `(version number, weight)`, in the order given; weights sum to 100.
    pub routing: Vec<(u64, u32)>,
    pub creation_date: f64,
    pub update_date: f64,
}

impl Alias {
    /// The version `roll` (in `0..100`) lands on: each version takes its weight's share.
    pub fn pick(&self, roll: u32) -> Option<u64> {
        let mut sum = 0;
        self.routing
            .iter()
            .find(|(_, weight)| {
                sum += weight;
                roll < sum
            })
            .or(self.routing.last())
            .map(|(version, _)| *version)
    }
}

/// What a state machine ARN names: the machine, one of its versions, or one of its aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier<'a> {
    /// `...:stateMachine:NAME`
    None,
    /// `...:stateMachine:NAME:N`
    Version(u64),
    /// `...:stateMachine:NAME:ALIAS`
    Alias(&'a str),
}

/// Splits a state machine ARN into the machine's ARN and its qualifier; `None` when `arn` is
/// not a state machine ARN (`arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME[:QUALIFIER]`).
pub fn split_machine_arn(arn: &str) -> Option<(&str, Qualifier<'_>)> {
    let parts: Vec<&str> = arn.split(':').collect();
    let shape = (7..=8).contains(&parts.len())
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "states"
        && !parts[3].is_empty()
        && !parts[4].is_empty()
        && parts[5] == "stateMachine"
        && parts[6..].iter().all(|p| !p.is_empty());
    if !shape {
        return None;
    }
    let Some(qualifier) = parts.get(7) else {
        return Some((arn, Qualifier::None));
    };
    let base = &arn[..arn.len() - qualifier.len() - 1];
    if qualifier.bytes().all(|b| b.is_ascii_digit()) {
        return qualifier.parse().ok().map(|n| (base, Qualifier::Version(n)));
    }
    Some((base, Qualifier::Alias(qualifier)))
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
    /// The `revisionId` it ran (empty: the machine's initial revision, which AWS shows none for).
    pub revision_id: String,
    /// The version it ran, when started through a version or an alias ARN.
    #[serde(default)]
    pub version_arn: Option<String>,
    /// The alias it was started through.
    #[serde(default)]
    pub alias_arn: Option<String>,
}

/// AWS's default `encryptionConfiguration` (and what a store written before it existed holds).
pub fn aws_owned_key() -> Value {
    serde_json::json!({"type": "AWS_OWNED_KEY"})
}
