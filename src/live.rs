//! The live state of what the operator manages, as typed data: what `aws/` reads and `plan/`
//! compares with the manifests. No I/O here and no decisions: `aws/` fills these, `plan/` judges
//! them.
//!
//! A method's comparable form ([`LiveMethod`]) serializes to the JSON shape the report's change
//! paths are written in (`integration.requestTemplates["application/json"]`,
//! `responses["200"].selectionPattern`) and that deployment fingerprints are computed from, so
//! the field order and names here are part of the report contract (SPEC §3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::asl::MachineType;
use crate::desired::{EncryptionConfiguration, LoggingConfiguration};

/// A state machine as it is live.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveMachine {
    pub arn: String,
    pub machine_type: MachineType,
    pub role_arn: String,
    /// The definition parsed as data (`Value::String` of the raw text if it is not JSON).
    pub definition: serde_json::Value,
    pub logging: LoggingConfiguration,
    pub tracing_enabled: bool,
    /// AWS-owned keys when AWS shows none.
    pub encryption: EncryptionConfiguration,
    pub tags: BTreeMap<String, String>,
    /// The configuration's revision (`None` where the endpoint gives none: moto).
    pub revision_id: Option<String>,
}

/// A REST API as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveApi {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `endpointConfiguration.types` as AWS lists them.
    pub endpoint_types: Vec<String>,
    pub settings: LiveApiSettings,
    pub tags: BTreeMap<String, String>,
}

/// A REST API's settings as live, AWS's defaults where it shows none.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveApiSettings {
    pub binary_media_types: Vec<String>,
    pub minimum_compression_size: Option<i64>,
    pub api_key_source: String,
    pub disable_execute_api_endpoint: bool,
    /// The resource policy parsed as data (`None`: none).
    pub policy: Option<serde_json::Value>,
}

impl Default for LiveApiSettings {
    /// AWS's defaults: no binary types, no compression, keys from the header, endpoint enabled.
    fn default() -> Self {
        LiveApiSettings {
            binary_media_types: Vec::new(),
            minimum_compression_size: None,
            api_key_source: "HEADER".into(),
            disable_execute_api_endpoint: false,
            policy: None,
        }
    }
}

/// A stage and the deployment it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStage {
    pub name: String,
    pub deployment_id: Option<String>,
    /// The stage's canary (`canarySettings`): its deployment and its share of traffic (0–100).
    pub canary: Option<(String, f64)>,
    /// The stage's variables.
    pub variables: BTreeMap<String, String>,
    /// The canary's `stageVariableOverrides`.
    pub canary_overrides: BTreeMap<String, String>,
    /// Description, tracing, method and access log settings (the variables are above).
    pub settings: LiveStageSettings,
}

/// A stage's settings as GetStage shows them, AWS's defaults where it shows none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveStageSettings {
    pub description: Option<String>,
    pub tracing_enabled: bool,
    /// `methodSettings` by AWS's key (`*/*`, `pets/GET`).
    pub method_settings: BTreeMap<String, LiveMethodSetting>,
    /// `accessLogSettings` (`None`: none).
    pub access_log: Option<crate::desired::AccessLogSettings>,
}

/// One `methodSettings` entry as live.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveMethodSetting {
    pub throttling_burst_limit: Option<i64>,
    pub throttling_rate_limit: Option<f64>,
    pub logging_level: Option<String>,
    pub metrics_enabled: Option<bool>,
    pub data_trace_enabled: Option<bool>,
}

/// A resource path with its methods.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveResource {
    pub id: String,
    pub path: String,
    /// HTTP method → the method with its integration and responses.
    pub methods: BTreeMap<String, LiveMethod>,
}

/// A method, its integration and its responses, in the form plan compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveMethod {
    pub authorization_type: Option<String>,
    /// `None` when false (AWS's default), so a method without it fingerprints as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_required: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, bool>,
    /// The validator's checks (`BODY`, `PARAMETERS`, `BODY_AND_PARAMETERS`); `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_validator: Option<String>,
    /// `None`: the method has no integration.
    pub integration: Option<LiveIntegration>,
    /// Status code → the method response and its integration response.
    pub responses: BTreeMap<String, LiveResponse>,
    /// Fields set on the method that the manifest format cannot express (for `import` to refuse
    /// by name). Never compared and never part of a fingerprint.
    #[serde(skip)]
    pub unexpressed: Unexpressed,
}

/// Names of live fields the manifest format cannot express (`integration.requestParameters`).
/// Equal to any other: what a manifest cannot say is never a difference the plan acts on.
#[derive(Debug, Clone, Default)]
pub struct Unexpressed(pub Vec<String>);

impl PartialEq for Unexpressed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A method's integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveIntegration {
    #[serde(rename = "type")]
    pub integration_type: Option<String>,
    pub uri: Option<String>,
    pub integration_http_method: Option<String>,
    pub credentials: Option<String>,
    pub request_templates: BTreeMap<String, String>,
    pub passthrough_behavior: Option<String>,
    pub timeout_in_millis: i32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling: Option<String>,
}

/// One method response with its integration response (when there is one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveResponse {
    /// Whether the integration has a response for this status code.
    pub integration_response: bool,
    pub selection_pattern: Option<String>,
    pub response_templates: BTreeMap<String, String>,
}

impl LiveMethod {
    /// The comparable JSON form (the shape change paths and fingerprints are written in).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// What an API's integrations are planned against: its resources with their methods, its stages,
/// and the descriptions of the deployments those stages serve (by deployment id; `None` when the
/// deployment has no description or is gone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveApiState {
    pub resources: Vec<LiveResource>,
    pub stages: Vec<LiveStage>,
    pub deployments: BTreeMap<String, Option<String>>,
}

impl LiveApiState {
    /// The live method `verb` on `path`, if both exist.
    pub fn method(&self, path: &str, verb: &str) -> Option<&LiveMethod> {
        self.resources
            .iter()
            .find(|r| r.path == path)
            .and_then(|r| r.methods.get(verb))
    }

    /// The resource holding `verb` on `path`, if the method exists.
    pub fn resource_with(&self, path: &str, verb: &str) -> Option<&LiveResource> {
        self.resources
            .iter()
            .find(|r| r.path == path && r.methods.contains_key(verb))
    }
}

/// A CloudWatch alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// `(version, weight)` pairs, as a Step Functions alias routes.
pub type Routing = Vec<(u32, u8)>;

/// A state machine alias as read (SPEC §9): its name, description and routing.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveAlias {
    pub name: String,
    pub description: Option<String>,
    pub routing: Routing,
}
