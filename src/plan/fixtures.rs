//! Builders for desired resources in tests.

use std::collections::BTreeMap;

use crate::desired::{
    ApiIntegration, DeletionPolicy, Integration, MachineType, Meta, Response, RestApiTarget, SourceRef,
    StateMachine,
};

fn meta(name: &str) -> Meta {
    Meta {
        name: name.into(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        source: SourceRef {
            file: "test.yaml".into(),
            line: 1,
            column: 1,
        },
        controls: Default::default(),
    }
}

/// A minimal state machine named `name` with a one-state definition.
pub fn machine(name: &str) -> StateMachine {
    StateMachine {
        meta: meta(name),
        name: name.into(),
        machine_type: MachineType::Express,
        role_arn: "arn:aws:iam::123456789012:role/StepFunctionsIamRole".into(),
        definition: serde_json::json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
        logging: None,
        tracing_enabled: None,
        encryption: None,
        tags: BTreeMap::new(),
        deletion_policy: DeletionPolicy::Retain,
        versioning: Default::default(),
    }
}

/// An integration named `name`: `verb path` on the REST API manifest `api`, deployed to `prod`,
/// with one `200` response.
pub fn integration(name: &str, verb: &str, path: &str) -> ApiIntegration {
    ApiIntegration {
        meta: meta(name),
        rest_api: RestApiTarget::Ref("api".into()),
        path: path.into(),
        http_method: verb.into(),
        authorization_type: "NONE".into(),
        method: Default::default(),
        integration: Integration {
            integration_type: "AWS".into(),
            uri: "arn:aws:apigateway:us-east-1:states:action/StartExecution".into(),
            integration_http_method: "POST".into(),
            credentials: Some("arn:aws:iam::123456789012:role/IntegrationIamRole".into()),
            request_templates: BTreeMap::from([("application/json".to_owned(), "$input.body".to_owned())]),
            passthrough_behavior: "WHEN_NO_MATCH".into(),
            timeout_in_millis: 29000,
            request_parameters: None,
            content_handling: None,
        },
        state_machine_ref: None,
        state_machine_alias: None,
        rollout: None,
        responses: vec![Response {
            status_code: "200".into(),
            selection_pattern: None,
            response_templates: BTreeMap::new(),
        }],
        stage: Some("prod".into()),
        deletion_policy: DeletionPolicy::Delete,
    }
}
