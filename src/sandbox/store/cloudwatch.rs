//! CloudWatch records: metric alarms, kept in AWS's `MetricAlarm` shape (a `DescribeAlarms`
//! item is the stored object), and the execution samples the `AWS/States` metrics are computed
//! from (in memory only, like EXPRESS executions).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every metric alarm, by name (sorted, which is the order `DescribeAlarms` lists them in).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudWatchState {
    #[serde(default)]
    pub alarms: BTreeMap<String, MetricAlarm>,
}

/// One metric alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricAlarm {
    /// The `MetricAlarm` object as `DescribeAlarms` answers it, state fields included.
    pub shape: Map<String, Value>,
    /// Until when a state set by `SetAlarmState` holds (epoch seconds): the next evaluation
    /// is one period later, as on AWS.
    #[serde(default)]
    pub manual_until: f64,
}

impl MetricAlarm {
    /// A member of the alarm's shape as text.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.shape.get(key).and_then(Value::as_str)
    }

    /// A member of the alarm's shape as a number.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.shape.get(key).and_then(Value::as_f64)
    }
}

/// One execution as the `AWS/States` metrics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The unqualified state machine ARN.
    pub machine_arn: String,
    /// The version it ran, when started through a version or an alias.
    pub version_arn: Option<String>,
    /// The alias it was started through.
    pub alias_arn: Option<String>,
    /// Epoch seconds.
    pub start: f64,
    /// Epoch seconds, once it ended.
    pub stop: Option<f64>,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
}

impl Sample {
    /// Whether the metric dimension `StateMachineArn = arn` counts this execution: the machine's
    /// ARN counts all of its executions, a version's ARN those that ran the version, an alias's
    /// ARN those started through the alias.
    pub fn counted_by(&self, arn: &str) -> bool {
        self.machine_arn == arn
            || self.version_arn.as_deref() == Some(arn)
            || self.alias_arn.as_deref() == Some(arn)
    }
}
