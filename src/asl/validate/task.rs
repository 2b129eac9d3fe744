//! The Task state: `Resource` (ARNs, optimized integrations and their patterns, EXPRESS limits),
//! timeouts and heartbeats, `Credentials`.

use serde_json::{Map, Value};

use super::super::jsonata;
use super::super::jsonpath::PathKind;
use super::super::model::{MachineType, QueryLanguage as Ql, kind};
use super::Validator;
use crate::asl::Code;
use crate::path::Path;

impl Validator {
    pub(super) fn task(&mut self, st: &Map<String, Value>, path: &Path, ql: Ql, machine: MachineType) {
        match st.get("Resource") {
            None => self.err(path, "missing required field \"Resource\""),
            Some(Value::String(r)) => self.resource(r, &path.key("Resource"), machine),
            Some(r) => self.err(
                &path.key("Resource"),
                format!("Resource must be a string, found {}", kind(r)),
            ),
        }
        for (f, fp) in [
            ("TimeoutSeconds", "TimeoutSecondsPath"),
            ("HeartbeatSeconds", "HeartbeatSecondsPath"),
        ] {
            if st.contains_key(f) && st.contains_key(fp) {
                self.err(&path.key(fp), format!("cannot have both {f:?} and {fp:?}"));
            }
            if let Some(v) = st.get(f) {
                self.positive_int(v, &path.key(f), f, 1);
            }
            if let (Some(v), Ql::JsonPath) = (st.get(fp), ql) {
                self.path_field(v, &path.key(fp), PathKind::Reference, false);
            }
        }
        if let (Some(t), Some(h)) = (
            st.get("TimeoutSeconds").and_then(Value::as_u64),
            st.get("HeartbeatSeconds").and_then(Value::as_u64),
        ) && h >= t
        {
            self.err(
                &path.key("HeartbeatSeconds"),
                format!("HeartbeatSeconds ({h}) must be smaller than TimeoutSeconds ({t})"),
            );
        }
        match st.get("Credentials") {
            Some(Value::Object(c)) if !c.contains_key("RoleArn") && !c.contains_key("RoleArn.$") => {
                self.err(&path.key("Credentials"), "Credentials must have a \"RoleArn\"");
            }
            Some(Value::Object(_)) | None => {}
            Some(c) if !c.as_str().is_some_and(jsonata::is_expression) => self.err(
                &path.key("Credentials"),
                format!("Credentials must be an object, found {}", kind(c)),
            ),
            Some(_) => {}
        }
    }

    /// A Task's `Resource`: a Lambda function, an activity, an optimized integration with an
    /// integration pattern it supports, or an AWS SDK integration. EXPRESS machines: request and
    /// response only, no activities.
    fn resource(&mut self, r: &str, path: &Path, machine: MachineType) {
        // A deployment placeholder (`${FunctionArn}`) is substituted before AWS sees it.
        if r.contains("${") {
            return;
        }
        let parts: Vec<&str> = r.splitn(6, ':').collect();
        let valid_arn = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && !parts[2].is_empty()
            && !parts[5].is_empty();
        if !valid_arn {
            self.err(path, format!("Value is not a valid resource ARN: {r:?}"));
            return;
        }
        let (service, region, account, rest) = (parts[2], parts[3], parts[4], parts[5]);
        let express = machine == MachineType::Express;
        match service {
            "lambda" if rest.starts_with("function:") && rest.len() > "function:".len() => {}
            "states" if rest.starts_with("activity:") && !region.is_empty() && !account.is_empty() => {
                if express {
                    self.err(path, "Express state machines (and a distributed Map's EXPRESS child executions) do not support activities");
                }
            }
            // AWS takes a region and account in integration ARNs too.
            "states" => {
                let (integration, pattern) = match rest.find('.') {
                    Some(i) => (&rest[..i], &rest[i..]),
                    None => (rest, ""),
                };
                let pattern = match pattern {
                    "" => Pattern::RequestResponse,
                    ".sync" => Pattern::Sync,
                    ".sync:2" if integration == "states:startExecution" => Pattern::Sync,
                    ".waitForTaskToken" => Pattern::Callback,
                    other => {
                        self.fail(
                            Code::InvalidResource,
                            path,
                            format!("unknown integration pattern {other:?} in {r:?} (use .sync or .waitForTaskToken)"),
                        );
                        return;
                    }
                };
                let Some(supported) = integration_patterns(integration) else {
                    self.fail(
                        Code::InvalidResource,
                        path,
                        format!("{integration:?} is not a Step Functions optimized integration; call it through the AWS SDK integration \"arn:aws:states:::aws-sdk:{integration}\""),
                    );
                    return;
                };
                if !supported.contains(&pattern) {
                    self.fail(
                        Code::InvalidResource,
                        path,
                        format!("{integration:?} does not support the {} integration pattern", pattern.name()),
                    );
                } else if express && pattern != Pattern::RequestResponse {
                    self.err(
                        path,
                        format!("Express state machines (and a distributed Map's EXPRESS child executions) do not support the {} integration pattern", pattern.name()),
                    );
                }
            }
            _ => self.fail(
                Code::InvalidResource,
                path,
                format!("{r:?} is not a resource a Task can call (a Lambda function, an activity or an arn:aws:states::: integration)"),
            ),
        }
    }
}

/// How a Task waits for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    RequestResponse,
    /// `.sync` (Run a Job).
    Sync,
    /// `.waitForTaskToken` (Wait for Callback).
    Callback,
}

impl Pattern {
    fn name(self) -> &'static str {
        match self {
            Pattern::RequestResponse => "request-response",
            Pattern::Sync => ".sync (Run a Job)",
            Pattern::Callback => ".waitForTaskToken (Wait for Callback)",
        }
    }
}

use Pattern::{Callback as W, RequestResponse as R, Sync as S};

/// The optimized integrations (developer guide, "Integrating optimized services"): per service,
/// its actions and the patterns the service supports.
const OPTIMIZED: &[(&str, &[&str], &[Pattern])] = &[
    ("apigateway", &["invoke"], &[R, W]),
    (
        "athena",
        &[
            "startQueryExecution",
            "stopQueryExecution",
            "getQueryExecution",
            "getQueryResults",
        ],
        &[R, S],
    ),
    ("batch", &["submitJob"], &[R, S]),
    (
        "bedrock",
        &["invokeModel", "createModelCustomizationJob"],
        &[R, S, W],
    ),
    (
        "codebuild",
        &[
            "startBuild",
            "stopBuild",
            "batchDeleteBuilds",
            "batchGetReports",
            "startBuildBatch",
            "stopBuildBatch",
            "retryBuildBatch",
            "deleteBuildBatch",
        ],
        &[R, S],
    ),
    (
        "dynamodb",
        &["getItem", "putItem", "deleteItem", "updateItem"],
        &[R],
    ),
    ("ecs", &["runTask"], &[R, S, W]),
    (
        "eks",
        &[
            "createCluster",
            "deleteCluster",
            "createFargateProfile",
            "deleteFargateProfile",
            "createNodegroup",
            "deleteNodegroup",
            "runJob",
            "call",
        ],
        &[R, S, W],
    ),
    (
        "elasticmapreduce",
        &[
            "createCluster",
            "terminateCluster",
            "addStep",
            "cancelStep",
            "setClusterTerminationProtection",
            "modifyInstanceFleetByName",
            "modifyInstanceGroupByName",
        ],
        &[R, S],
    ),
    (
        "emr-containers",
        &["createVirtualCluster", "deleteVirtualCluster", "startJobRun"],
        &[R, S],
    ),
    (
        "emr-serverless",
        &[
            "createApplication",
            "startApplication",
            "stopApplication",
            "deleteApplication",
            "startJobRun",
            "cancelJobRun",
        ],
        &[R, S],
    ),
    ("events", &["putEvents"], &[R, W]),
    ("glue", &["startJobRun"], &[R, S]),
    ("databrew", &["startJobRun"], &[R, S]),
    ("http", &["invoke"], &[R]),
    ("lambda", &["invoke"], &[R, W]),
    ("mediaconvert", &["createJob"], &[R, S]),
    (
        "sagemaker",
        &[
            "createEndpoint",
            "createEndpointConfig",
            "createHyperParameterTuningJob",
            "createLabelingJob",
            "createModel",
            "createProcessingJob",
            "createTrainingJob",
            "createTransformJob",
            "updateEndpoint",
        ],
        &[R, S],
    ),
    ("sns", &["publish"], &[R, W]),
    ("sqs", &["sendMessage"], &[R, W]),
    ("states", &["startExecution"], &[R, S, W]),
];

/// The patterns `SERVICE:ACTION` supports, `None` when Step Functions does not know it. The AWS
/// SDK integrations (`aws-sdk:SERVICE:ACTION`) take request-response and callbacks.
fn integration_patterns(integration: &str) -> Option<&'static [Pattern]> {
    if let Some(sdk) = integration.strip_prefix("aws-sdk:") {
        let mut it = sdk.split(':');
        let ok = matches!((it.next(), it.next(), it.next()), (Some(s), Some(a), None) if !s.is_empty() && !a.is_empty());
        return ok.then_some(&[R, W]);
    }
    let (service, action) = integration.split_once(':')?;
    OPTIMIZED
        .iter()
        .find(|(s, actions, _)| *s == service && actions.contains(&action))
        .map(|(_, _, p)| *p)
}
