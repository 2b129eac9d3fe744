//! Step Functions versions and aliases (SPEC §9), returning our own types: version numbers and
//! `(version, weight)` routings.

use aws_sdk_sfn::types::RoutingConfigurationListItem;

use super::{Aws, AwsError};
use crate::live::{LiveAlias, Routing};

const SVC: &str = "states";

/// The number of a version ARN (`...:stateMachine:NAME:7` → 7).
pub fn version_of(arn: &str) -> Option<u32> {
    arn.rsplit(':').next()?.parse().ok()
}

fn routing_items(machine_arn: &str, routing: &Routing) -> Vec<RoutingConfigurationListItem> {
    routing
        .iter()
        .filter_map(|(v, w)| {
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(format!("{machine_arn}:{v}"))
                .weight(i32::from(*w))
                .build()
                .ok()
        })
        .collect()
}

impl Aws {
    /// PublishStateMachineVersion of the machine's current revision (`revision_id`, when AWS
    /// gave one: a repeat of a lost call then answers the same version instead of a second one).
    pub async fn publish_version(
        &self,
        arn: &str,
        revision_id: Option<&str>,
        description: &str,
    ) -> Result<u32, AwsError> {
        let out = self
            .call(
                SVC,
                "PublishStateMachineVersion",
                self.sfn
                    .publish_state_machine_version()
                    .state_machine_arn(arn)
                    .set_revision_id(revision_id.map(str::to_owned))
                    .description(description)
                    .send(),
            )
            .await?;
        version_of(out.state_machine_version_arn()).ok_or_else(|| {
            AwsError::permanent(
                SVC,
                "PublishStateMachineVersion",
                "BadAnswer",
                "no version number in the answer",
            )
        })
    }

    /// The newest version of the machine: ListStateMachineVersions (newest first), or, where that
    /// is not served (moto), DescribeStateMachine of `hint + 1`, `hint + 2`, … until one is missing.
    pub async fn newest_version(&self, arn: &str, hint: u32) -> Result<Option<u32>, AwsError> {
        let listed = self
            .call(
                SVC,
                "ListStateMachineVersions",
                self.sfn
                    .list_state_machine_versions()
                    .state_machine_arn(arn)
                    .max_results(1)
                    .send(),
            )
            .await;
        if let Ok(out) = listed {
            return Ok(out
                .state_machine_versions()
                .iter()
                .filter_map(|v| version_of(v.state_machine_version_arn()))
                .max());
        }
        let mut newest = (hint > 0).then_some(hint);
        let mut next = hint + 1;
        while self
            .describe_machine(&format!("{arn}:{next}"), Some(&Default::default()))
            .await?
            .is_some()
        {
            newest = Some(next);
            next += 1;
        }
        Ok(newest)
    }

    /// Every version number of the machine (ListStateMachineVersions, every page).
    pub async fn list_versions(&self, arn: &str) -> Result<Vec<u32>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .call(
                    SVC,
                    "ListStateMachineVersions",
                    self.sfn
                        .list_state_machine_versions()
                        .state_machine_arn(arn)
                        .set_next_token(token.take())
                        .send(),
                )
                .await?;
            all.extend(
                out.state_machine_versions()
                    .iter()
                    .filter_map(|v| version_of(v.state_machine_version_arn())),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(all),
            }
        }
    }

    /// DeleteStateMachineVersion.
    pub async fn delete_version(&self, arn: &str, version: u32) -> Result<(), AwsError> {
        self.call(
            SVC,
            "DeleteStateMachineVersion",
            self.sfn
                .delete_state_machine_version()
                .state_machine_version_arn(format!("{arn}:{version}"))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// DescribeStateMachineAlias: its routing, or `None` when it does not exist.
    pub async fn describe_alias(&self, arn: &str, alias: &str) -> Result<Option<Routing>, AwsError> {
        Ok(self.read_alias(arn, alias).await?.map(|a| a.routing))
    }

    /// DescribeStateMachineAlias: its routing and description, or `None` when it does not exist.
    pub async fn read_alias(&self, arn: &str, alias: &str) -> Result<Option<LiveAlias>, AwsError> {
        let out = match self
            .call(
                SVC,
                "DescribeStateMachineAlias",
                self.sfn
                    .describe_state_machine_alias()
                    .state_machine_alias_arn(format!("{arn}:{alias}"))
                    .send(),
            )
            .await
        {
            Ok(out) => out,
            Err(e) if e.is_code("ResourceNotFound") || e.is_code("StateMachineDoesNotExist") => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(LiveAlias {
            name: alias.to_owned(),
            description: out.description().filter(|d| !d.is_empty()).map(str::to_owned),
            routing: out
                .routing_configuration()
                .iter()
                .filter_map(|r| {
                    Some((
                        version_of(r.state_machine_version_arn())?,
                        r.weight().clamp(0, 100) as u8,
                    ))
                })
                .collect(),
        }))
    }

    /// The names of the machine's aliases (ListStateMachineAliases, every page).
    pub async fn list_aliases(&self, arn: &str) -> Result<Vec<String>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .call(
                    SVC,
                    "ListStateMachineAliases",
                    self.sfn
                        .list_state_machine_aliases()
                        .state_machine_arn(arn)
                        .set_next_token(token.take())
                        .send(),
                )
                .await?;
            all.extend(
                out.state_machine_aliases()
                    .iter()
                    .filter_map(|a| a.state_machine_alias_arn().rsplit(':').next())
                    .map(str::to_owned),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(all),
            }
        }
    }

    /// CreateStateMachineAlias.
    pub async fn create_alias(
        &self,
        arn: &str,
        alias: &str,
        description: Option<&str>,
        routing: &Routing,
    ) -> Result<(), AwsError> {
        let call = self
            .sfn
            .create_state_machine_alias()
            .name(alias)
            .set_description(description.map(str::to_owned))
            .set_routing_configuration(Some(routing_items(arn, routing)));
        self.call(SVC, "CreateStateMachineAlias", call.send())
            .await
            .map(|_| ())
    }

    /// UpdateStateMachineAlias (idempotent: the same routing again is no change).
    pub async fn update_alias(
        &self,
        arn: &str,
        alias: &str,
        description: Option<&str>,
        routing: &Routing,
    ) -> Result<(), AwsError> {
        let call = self
            .sfn
            .update_state_machine_alias()
            .state_machine_alias_arn(format!("{arn}:{alias}"))
            .set_description(description.map(str::to_owned))
            .set_routing_configuration(Some(routing_items(arn, routing)));
        self.call(SVC, "UpdateStateMachineAlias", call.send())
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_numbers_come_from_the_arn() {
        assert_eq!(
            super::version_of("arn:aws:states:us-east-1:1:stateMachine:m:7"),
            Some(7)
        );
        assert_eq!(
            super::version_of("arn:aws:states:us-east-1:1:stateMachine:m"),
            None
        );
    }
}
