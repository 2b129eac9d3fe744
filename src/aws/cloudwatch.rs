//! CloudWatch alarms (SPEC §9): the states of a rollout's alarms, read together, up to 100 names
//! per `DescribeAlarms`.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::StateValue;

use super::{Aws, AwsError};
use crate::live::AlarmState;

const SVC: &str = "monitoring";

/// The most alarm names one `DescribeAlarms` takes.
pub const ALARMS_PER_CALL: usize = 100;

impl Aws {
    /// The states of the alarms among `names` that exist (metric and composite alarms); a name
    /// missing from the answer does not exist.
    pub async fn alarm_states(&self, names: &[String]) -> Result<BTreeMap<String, AlarmState>, AwsError> {
        let mut states = BTreeMap::new();
        for chunk in names.chunks(ALARMS_PER_CALL) {
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .call(
                        SVC,
                        "DescribeAlarms",
                        self.cloudwatch
                            .describe_alarms()
                            .set_alarm_names(Some(chunk.to_vec()))
                            // One page for the whole chunk (the default page is 50).
                            .max_records(ALARMS_PER_CALL as i32)
                            .set_next_token(token.take())
                            .send(),
                    )
                    .await?;
                let metric = out
                    .metric_alarms()
                    .iter()
                    .map(|a| (a.alarm_name(), a.state_value()));
                let composite = out
                    .composite_alarms()
                    .iter()
                    .map(|a| (a.alarm_name(), a.state_value()));
                for (name, state) in metric.chain(composite) {
                    if let Some(name) = name {
                        states.insert(name.to_owned(), state_of(state));
                    }
                }
                match out.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(states)
    }
}

fn state_of(s: Option<&StateValue>) -> AlarmState {
    match s {
        Some(StateValue::Alarm) => AlarmState::Alarm,
        Some(StateValue::Ok) => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    }
}
