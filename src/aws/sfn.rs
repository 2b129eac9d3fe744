//! Step Functions calls, returning our own types.

use std::collections::BTreeMap;

use aws_sdk_sfn::types::{
    CloudWatchLogsLogGroup, EncryptionConfiguration as SdkEncryption, EncryptionType, LogDestination,
    LogLevel, LoggingConfiguration as SdkLogging, StateMachineType, Tag, TracingConfiguration,
};

use super::{Aws, AwsError};
use crate::desired::{EncryptionConfiguration, LoggingConfiguration, StateMachine};
use crate::live::LiveMachine;

const SVC: &str = "states";

fn tags_of(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn sdk_logging(l: &LoggingConfiguration) -> SdkLogging {
    SdkLogging::builder()
        .level(LogLevel::from(l.level.as_str()))
        .include_execution_data(l.include_execution_data)
        .set_destinations(Some(
            l.destinations
                .iter()
                .map(|arn| {
                    LogDestination::builder()
                        .cloud_watch_logs_log_group(
                            CloudWatchLogsLogGroup::builder().log_group_arn(arn).build(),
                        )
                        .build()
                })
                .collect(),
        ))
        .build()
}

fn sdk_encryption(e: &EncryptionConfiguration, op: &'static str) -> Result<SdkEncryption, AwsError> {
    SdkEncryption::builder()
        .r#type(EncryptionType::from(e.kind.as_str()))
        .set_kms_key_id(e.kms_key_id.clone())
        .set_kms_data_key_reuse_period_seconds(
            e.kms_data_key_reuse_period_seconds
                .and_then(|s| i32::try_from(s).ok()),
        )
        .build()
        .map_err(|err| AwsError::permanent(SVC, op, "InvalidEncryptionConfiguration", err.to_string()))
}

impl Aws {
    /// DescribeStateMachine + ListTagsForResource (unless its tags are `known`, from a Tagging
    /// API listing); `None` when it does not exist.
    pub async fn describe_machine(
        &self,
        arn: &str,
        known: Option<&BTreeMap<String, String>>,
    ) -> Result<Option<LiveMachine>, AwsError> {
        let out = match self
            .call(
                SVC,
                "DescribeStateMachine",
                self.sfn.describe_state_machine().state_machine_arn(arn).send(),
            )
            .await
        {
            Ok(out) => out,
            Err(e) if e.code == "StateMachineDoesNotExist" => return Ok(None),
            Err(e) => return Err(e),
        };
        let definition = serde_json::from_str(out.definition())
            .unwrap_or_else(|_| serde_json::Value::String(out.definition().to_owned()));
        let logging = match out.logging_configuration() {
            Some(l) => LoggingConfiguration {
                level: l
                    .level()
                    .map(|x| x.as_str().to_owned())
                    .unwrap_or_else(|| "OFF".into()),
                include_execution_data: l.include_execution_data(),
                destinations: l
                    .destinations()
                    .iter()
                    .filter_map(|d| {
                        d.cloud_watch_logs_log_group()
                            .and_then(|g| g.log_group_arn())
                            .map(str::to_owned)
                    })
                    .collect(),
            },
            None => LoggingConfiguration {
                level: "OFF".into(),
                include_execution_data: false,
                destinations: vec![],
            },
        };
        let tracing_enabled = out.tracing_configuration().map(|t| t.enabled()).unwrap_or(false);
        let encryption = match out.encryption_configuration() {
            Some(e) => EncryptionConfiguration {
                kind: e.r#type().as_str().to_owned(),
                kms_key_id: e.kms_key_id().map(str::to_owned),
                kms_data_key_reuse_period_seconds: e.kms_data_key_reuse_period_seconds().map(i64::from),
            },
            None => EncryptionConfiguration::aws_owned(),
        };
        let tags = match known {
            Some(tags) => tags.clone(),
            None => self.machine_tags(arn).await?,
        };
        Ok(Some(LiveMachine {
            arn: out.state_machine_arn().to_owned(),
            machine_type: match out.r#type() {
                StateMachineType::Express => crate::asl::MachineType::Express,
                _ => crate::asl::MachineType::Standard,
            },
            role_arn: out.role_arn().to_owned(),
            definition,
            logging,
            tracing_enabled,
            encryption,
            tags,
            revision_id: out.revision_id().map(str::to_owned),
        }))
    }

    /// ListTagsForResource.
    pub async fn machine_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .call(
                SVC,
                "ListTagsForResource",
                self.sfn.list_tags_for_resource().resource_arn(arn).send(),
            )
            .await?;
        Ok(out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect())
    }

    /// CreateStateMachine with every tag (ownership included), publishing its first version when
    /// the manifest versions it (`description`); returns the ARN and the version published.
    pub async fn create_machine(
        &self,
        sm: &StateMachine,
        tags: &BTreeMap<String, String>,
        description: Option<&str>,
    ) -> Result<(String, Option<u32>), AwsError> {
        let definition = serde_json::to_string(&sm.definition).map_err(|e| {
            AwsError::permanent(SVC, "CreateStateMachine", "InvalidDefinition", e.to_string())
        })?;
        let mut req = self
            .sfn
            .create_state_machine()
            .name(&sm.name)
            .definition(definition)
            .role_arn(&sm.role_arn)
            .r#type(StateMachineType::from(sm.machine_type.as_str()))
            .set_tags(Some(tags_of(tags)));
        if let Some(d) = description {
            req = req.publish(true).version_description(d);
        }
        if let Some(l) = &sm.logging {
            req = req.logging_configuration(sdk_logging(l));
        }
        if let Some(t) = sm.tracing_enabled {
            req = req.tracing_configuration(TracingConfiguration::builder().enabled(t).build());
        }
        if let Some(e) = &sm.encryption {
            req = req.encryption_configuration(sdk_encryption(e, "CreateStateMachine")?);
        }
        let out = self.call(SVC, "CreateStateMachine", req.send()).await?;
        let version = out
            .state_machine_version_arn()
            .and_then(super::versions::version_of);
        Ok((out.state_machine_arn().to_owned(), version))
    }

    /// UpdateStateMachine with the fields the manifest sets, publishing a version when
    /// `description` is given; returns the version published.
    pub async fn update_machine(
        &self,
        arn: &str,
        sm: &StateMachine,
        description: Option<&str>,
    ) -> Result<Option<u32>, AwsError> {
        let definition = serde_json::to_string(&sm.definition).map_err(|e| {
            AwsError::permanent(SVC, "UpdateStateMachine", "InvalidDefinition", e.to_string())
        })?;
        let mut req = self
            .sfn
            .update_state_machine()
            .state_machine_arn(arn)
            .definition(definition)
            .role_arn(&sm.role_arn);
        if let Some(d) = description {
            req = req.publish(true).version_description(d);
        }
        if let Some(l) = &sm.logging {
            req = req.logging_configuration(sdk_logging(l));
        }
        if let Some(t) = sm.tracing_enabled {
            req = req.tracing_configuration(TracingConfiguration::builder().enabled(t).build());
        }
        if let Some(e) = &sm.encryption {
            req = req.encryption_configuration(sdk_encryption(e, "UpdateStateMachine")?);
        }
        let out = self.call(SVC, "UpdateStateMachine", req.send()).await?;
        Ok(out
            .state_machine_version_arn()
            .and_then(super::versions::version_of))
    }

    /// TagResource.
    pub async fn tag_machine(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.call(
            SVC,
            "TagResource",
            self.sfn
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags_of(tags)))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// UntagResource.
    pub async fn untag_machine(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.call(
            SVC,
            "UntagResource",
            self.sfn
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys.to_vec()))
                .send(),
        )
        .await
        .map(|_| ())
    }

    /// DeleteStateMachine.
    pub async fn delete_machine(&self, arn: &str) -> Result<(), AwsError> {
        self.call(
            SVC,
            "DeleteStateMachine",
            self.sfn.delete_state_machine().state_machine_arn(arn).send(),
        )
        .await
        .map(|_| ())
    }

    /// ListStateMachines, every page: (name, arn).
    pub async fn list_machines(&self) -> Result<Vec<(String, String)>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .call(
                    SVC,
                    "ListStateMachines",
                    self.sfn.list_state_machines().set_next_token(token.take()).send(),
                )
                .await?;
            all.extend(
                out.state_machines()
                    .iter()
                    .map(|m| (m.name().to_owned(), m.state_machine_arn().to_owned())),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(all),
            }
        }
    }
}
