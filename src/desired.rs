//! Desired state: manifests with substitutions done, references resolved and defaults applied.
//!
//! This is the contract between `manifest` (which builds it) and the reconciler (which makes AWS
//! match it). Fields that AWS fills with defaults are `Option`: `None` means "the manifest does not
//! care", so an adopted or AWS-defaulted value never makes a change.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The three manifest kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    StateMachine,
    RestApi,
    ApiIntegration,
}

impl Kind {
    /// The kind as written in manifests and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::StateMachine => "StateMachine",
            Kind::RestApi => "RestApi",
            Kind::ApiIntegration => "ApiIntegration",
        }
    }

    /// Parses a manifest `kind`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "StateMachine" => Some(Kind::StateMachine),
            "RestApi" => Some(Kind::RestApi),
            "ApiIntegration" => Some(Kind::ApiIntegration),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one managed resource: `Kind/metadata.name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    pub kind: Kind,
    pub name: String,
}

impl ResourceKey {
    /// Builds a key.
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        ResourceKey {
            kind,
            name: name.into(),
        }
    }

    /// Parses `Kind/name`, the form used in the `sfn-operator.dev/manifest` tag.
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, name) = s.split_once('/')?;
        Some(ResourceKey::new(Kind::parse(kind)?, name))
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// Where a document came from: the file and the position of its first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// `metadata`, plus where the document was and the operator controls every kind shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub source: SourceRef,
    /// `spec.driftPolicy`, `spec.ignoreDifferences` and the suspend annotation (SPEC §12).
    #[serde(default)]
    pub controls: Controls,
}

/// The annotation that suspends a resource: `"true"` means no read, no write, no prune.
pub const SUSPEND_ANNOTATION: &str = "sfn-operator.dev/suspend";

/// What a pass may do about a resource's drift (SPEC §12), the same fields on every kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    pub drift_policy: DriftPolicy,
    /// Change paths as the report prints them (`definition.States.Wait.Seconds`, `tags.team`), a
    /// trailing `*` for a subtree: never reported, never written back.
    pub ignore_differences: Vec<String>,
    /// `metadata.annotations["sfn-operator.dev/suspend"]` is `"true"`.
    pub suspended: bool,
}

/// `spec.driftPolicy`: what a pass does when a live resource differs from its manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriftPolicy {
    /// Write the manifest's values back (the default).
    #[default]
    Correct,
    /// Report the drift, never write it back.
    Report,
    /// Do not compare at all (a missing resource is still created).
    Ignore,
}

impl DriftPolicy {
    /// Parses `spec.driftPolicy`.
    pub fn parse(s: &str) -> Option<DriftPolicy> {
        match s {
            "Correct" => Some(DriftPolicy::Correct),
            "Report" => Some(DriftPolicy::Report),
            "Ignore" => Some(DriftPolicy::Ignore),
            _ => None,
        }
    }
}

/// What pruning does once the manifest is gone (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    Delete,
}

/// Step Functions workflow type (one type for the whole crate).
pub use crate::asl::MachineType;

/// `loggingConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggingConfiguration {
    /// `OFF`, `ALL`, `ERROR` or `FATAL`.
    pub level: String,
    pub include_execution_data: bool,
    /// CloudWatch Logs log group ARNs.
    pub destinations: Vec<String>,
}

/// `encryptionConfiguration` (SPEC §12): AWS-owned keys (AWS's default) or a customer-managed KMS
/// key with its data key reuse period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionConfiguration {
    /// `AWS_OWNED_KEY` or `CUSTOMER_MANAGED_KMS_KEY`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_data_key_reuse_period_seconds: Option<i64>,
}

impl EncryptionConfiguration {
    /// `type` of AWS's default.
    pub const AWS_OWNED_KEY: &'static str = "AWS_OWNED_KEY";
    /// `type` of a customer-managed key.
    pub const CUSTOMER_MANAGED_KMS_KEY: &'static str = "CUSTOMER_MANAGED_KMS_KEY";
    /// The reuse period AWS applies to a customer-managed key that names none (seconds).
    pub const DEFAULT_REUSE_SECONDS: i64 = 300;

    /// AWS's default: AWS-owned keys.
    pub fn aws_owned() -> Self {
        EncryptionConfiguration {
            kind: Self::AWS_OWNED_KEY.into(),
            kms_key_id: None,
            kms_data_key_reuse_period_seconds: None,
        }
    }

    /// The form two configurations are compared in: an AWS-owned key carries nothing else, a
    /// customer-managed key's unset reuse period is AWS's default.
    pub fn normalized(&self) -> Self {
        if self.kind == Self::AWS_OWNED_KEY {
            return Self::aws_owned();
        }
        EncryptionConfiguration {
            kind: self.kind.clone(),
            kms_key_id: self.kms_key_id.clone(),
            kms_data_key_reuse_period_seconds: Some(
                self.kms_data_key_reuse_period_seconds
                    .unwrap_or(Self::DEFAULT_REUSE_SECONDS),
            ),
        }
    }
}

/// Whether `name` is a valid Step Functions state machine name: 1–80 of `[A-Za-z0-9_-]` (the rule the
/// manifest loader enforces and the sandbox answers `InvalidName` for).
pub fn is_valid_machine_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A desired state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachine {
    pub meta: Meta,
    /// The AWS name.
    pub name: String,
    pub machine_type: MachineType,
    pub role_arn: String,
    /// The ASL definition as data (substitutions done).
    pub definition: serde_json::Value,
    /// `None`: AWS's default (level OFF) is fine.
    pub logging: Option<LoggingConfiguration>,
    /// `None`: AWS's default (disabled) is fine.
    pub tracing_enabled: Option<bool>,
    /// `None`: whatever is live is fine (AWS's default is AWS-owned keys).
    #[serde(default)]
    pub encryption: Option<EncryptionConfiguration>,
    /// The manifest's tags, without the operator's own (those are added by the reconciler).
    pub tags: BTreeMap<String, String>,
    pub deletion_policy: DeletionPolicy,
    /// Versions and aliases (SPEC §9); the default publishes nothing and declares no alias.
    #[serde(default)]
    pub versioning: Versioning,
}

/// `publish`, `versionDescription`, `versionRetention` and `aliases` of a state machine (SPEC §9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioning {
    /// Publish one version for every change of a versioned field (`true` when aliases are set).
    pub publish: bool,
    /// `None`: `sfn-operator <fingerprint>`.
    pub version_description: Option<String>,
    /// Keep this many newest versions beyond those an alias routes to or a rollout needs.
    pub version_retention: Option<u32>,
    pub aliases: Vec<Alias>,
}

/// One `aliases[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub description: Option<String>,
    pub target: AliasTarget,
}

/// How an alias is routed: by a rollout of each newly published version, or pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AliasTarget {
    Rollout(Rollout),
    /// `(version, weight)`: one or two entries, weights summing to 100.
    Routing(Vec<(u32, u8)>),
}

/// `aliases[].rollout` and `ApiIntegration.spec.rollout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub strategy: RolloutStrategy,
    /// 1–99 (unused by `AllAtOnce`).
    pub percent: u8,
    /// The bake time of each step, in seconds.
    pub interval_secs: u64,
    /// CloudWatch alarm names; any in `ALARM` during a rollout rolls it back.
    pub alarms: Vec<String>,
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            strategy: RolloutStrategy::AllAtOnce,
            percent: 10,
            interval_secs: 300,
            alarms: Vec::new(),
        }
    }
}

/// `rollout.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutStrategy {
    AllAtOnce,
    Canary,
    Linear,
}

/// API Gateway endpoint type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndpointType {
    Edge,
    Regional,
    Private,
}

impl EndpointType {
    /// As AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointType::Edge => "EDGE",
            EndpointType::Regional => "REGIONAL",
            EndpointType::Private => "PRIVATE",
        }
    }
}

/// A desired REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestApi {
    pub meta: Meta,
    /// The AWS name (what adoption matches on).
    pub name: String,
    /// `None`: leave whatever is live.
    pub description: Option<String>,
    /// `None`: `EDGE` at creation, and leave an adopted API's types alone.
    pub endpoint_types: Option<Vec<EndpointType>>,
    /// `binaryMediaTypes`, `minimumCompressionSize`, `apiKeySource`, `disableExecuteApiEndpoint`.
    #[serde(default)]
    pub settings: ApiSettings,
    /// `stages.NAME`: the settings of each named stage (SPEC §12), never part of a deployment.
    #[serde(default)]
    pub stages: BTreeMap<String, StageSettings>,
    pub tags: BTreeMap<String, String>,
    pub deletion_policy: DeletionPolicy,
}

/// One stage's settings (`stages.NAME`); each `None` (or absent key): leave whatever is live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSettings {
    pub description: Option<String>,
    /// The variables the manifest names; others on the stage are left alone.
    pub variables: BTreeMap<String, String>,
    pub tracing_enabled: Option<bool>,
    /// Keyed as AWS keys them: `*/*` for every method, `RESOURCE_PATH/VERB` (no leading `/`) for one.
    pub method_settings: BTreeMap<String, MethodSetting>,
    pub access_log: Option<AccessLogSettings>,
}

/// One `methodSettings` entry; each `None`: leave whatever is live.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodSetting {
    pub throttling_burst_limit: Option<i64>,
    /// Requests per second (a finite, non-negative number: validated).
    pub throttling_rate_limit: Option<f64>,
    /// `OFF`, `ERROR` or `INFO`.
    pub logging_level: Option<String>,
    pub metrics_enabled: Option<bool>,
    pub data_trace_enabled: Option<bool>,
}

// The rate limit is never NaN (the loader accepts finite numbers only), so equality is total.
impl Eq for MethodSetting {}

/// `accessLogSettings`; each `None`: leave whatever is live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogSettings {
    /// A CloudWatch Logs log group (or Firehose stream) ARN.
    pub destination_arn: Option<String>,
    /// The log line format (`$context` variables; AWS requires `$context.requestId` in it).
    pub format: Option<String>,
}

/// A REST API's settings (SPEC §12); each `None`: leave whatever is live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSettings {
    /// Compared as a set.
    pub binary_media_types: Option<Vec<String>>,
    pub minimum_compression_size: Option<i64>,
    /// `HEADER` or `AUTHORIZER`.
    pub api_key_source: Option<String>,
    pub disable_execute_api_endpoint: Option<bool>,
    /// The resource policy as data (key order and whitespace never a change).
    #[serde(default)]
    pub policy: Option<serde_json::Value>,
}

/// Which REST API an integration belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestApiTarget {
    /// A `RestApi` manifest's `metadata.name`.
    Ref(String),
    /// The name of a live API that no manifest manages.
    Name(String),
    /// The id of a live API that no manifest manages.
    Id(String),
}

/// One method response plus its integration response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub status_code: String,
    pub selection_pattern: Option<String>,
    /// Content type → Velocity template (never substituted).
    pub response_templates: BTreeMap<String, String>,
}

/// The integration of a method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// Always `AWS` for now.
    pub integration_type: String,
    /// `arn:aws:apigateway:{region}:{service}:action/{action}` or the manifest's `uri`.
    pub uri: String,
    pub integration_http_method: String,
    pub credentials: Option<String>,
    /// Content type → Velocity template (never substituted). Filled from `stateMachineRef` when
    /// the manifest gives none.
    pub request_templates: BTreeMap<String, String>,
    /// `WHEN_NO_MATCH`, `WHEN_NO_TEMPLATES` or `NEVER`.
    pub passthrough_behavior: String,
    pub timeout_in_millis: i32,
    /// Integration request parameter → its source (`method.request.header.x`, `'literal'`);
    /// `None`: leave whatever is live.
    #[serde(default)]
    pub request_parameters: Option<BTreeMap<String, String>>,
    /// `CONVERT_TO_TEXT` or `CONVERT_TO_BINARY`; `None`: leave whatever is live.
    #[serde(default)]
    pub content_handling: Option<String>,
}

/// A method's own fields (SPEC §12); each `None`: leave whatever is live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodFields {
    pub api_key_required: Option<bool>,
    /// `method.request.{path|querystring|header}.NAME` → required.
    pub request_parameters: Option<BTreeMap<String, bool>>,
    /// `NONE`, `BODY`, `PARAMETERS` or `BODY_AND_PARAMETERS`.
    pub request_validator: Option<String>,
}

/// A desired method + integration on a REST API resource path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiIntegration {
    pub meta: Meta,
    pub rest_api: RestApiTarget,
    /// Normalised: starts with `/`, no trailing `/` (except the root itself).
    pub path: String,
    /// `GET POST PUT PATCH DELETE HEAD OPTIONS ANY`.
    pub http_method: String,
    /// `NONE` or `AWS_IAM`.
    pub authorization_type: String,
    /// `apiKeyRequired`, the method's `requestParameters` and its `requestValidator`.
    #[serde(default)]
    pub method: MethodFields,
    pub integration: Integration,
    /// A `StateMachine` manifest's `metadata.name`; reconciled first.
    pub state_machine_ref: Option<String>,
    /// One of that machine's `aliases[].name`: the default template starts the alias.
    #[serde(default)]
    pub state_machine_alias: Option<String>,
    /// At least one (default: a `200` with no templates).
    pub responses: Vec<Response>,
    /// Deploy to this stage after any change to the API.
    pub stage: Option<String>,
    /// How a changed API configuration reaches `stage`: at once (none, or `AllAtOnce`) or through
    /// the stage's canary (`Canary`, `Linear`), watched by alarms (SPEC §9).
    #[serde(default)]
    pub rollout: Option<Rollout>,
    pub deletion_policy: DeletionPolicy,
}

/// The stage variable from which an integration that starts `alias` of the `machine` manifest
/// (its `metadata.name`) in a joint rollout reads the version to start (SPEC §9): `sfn_` and
/// both names, each character outside `A-Za-z0-9_` made `_`.
pub fn version_variable(machine: &str, alias: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("sfn_{}_{}", clean(machine), clean(alias))
}

impl ApiIntegration {
    /// The stage variable of its joint rollout: it starts an alias and has a `Canary` or `Linear`
    /// rollout (SPEC §9).
    pub fn joint_variable(&self) -> Option<String> {
        let rollout = self.rollout.as_ref()?;
        if rollout.strategy == RolloutStrategy::AllAtOnce {
            return None;
        }
        Some(version_variable(
            self.state_machine_ref.as_deref()?,
            self.state_machine_alias.as_deref()?,
        ))
    }
}

/// One desired resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Resource {
    StateMachine(StateMachine),
    RestApi(RestApi),
    ApiIntegration(ApiIntegration),
}

impl Resource {
    /// The resource's key.
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(self.kind(), self.meta().name.clone())
    }

    /// The resource's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Resource::StateMachine(_) => Kind::StateMachine,
            Resource::RestApi(_) => Kind::RestApi,
            Resource::ApiIntegration(_) => Kind::ApiIntegration,
        }
    }

    /// `metadata` and source.
    pub fn meta(&self) -> &Meta {
        match self {
            Resource::StateMachine(r) => &r.meta,
            Resource::RestApi(r) => &r.meta,
            Resource::ApiIntegration(r) => &r.meta,
        }
    }

    /// The operator controls of its manifest.
    pub fn controls(&self) -> &Controls {
        &self.meta().controls
    }

    /// The manifest's `deletionPolicy`.
    pub fn deletion_policy(&self) -> DeletionPolicy {
        match self {
            Resource::StateMachine(r) => r.deletion_policy,
            Resource::RestApi(r) => r.deletion_policy,
            Resource::ApiIntegration(r) => r.deletion_policy,
        }
    }

    /// Keys this resource must wait for (SPEC §4 ordering).
    pub fn dependencies(&self) -> Vec<ResourceKey> {
        match self {
            Resource::ApiIntegration(i) => {
                let mut deps = Vec::new();
                if let RestApiTarget::Ref(name) = &i.rest_api {
                    deps.push(ResourceKey::new(Kind::RestApi, name.clone()));
                }
                if let Some(sm) = &i.state_machine_ref {
                    deps.push(ResourceKey::new(Kind::StateMachine, sm.clone()));
                }
                deps
            }
            _ => Vec::new(),
        }
    }
}

/// Every valid desired resource, in manifest order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DesiredSet {
    /// The region placeholders were resolved with (`None` only for offline `validate`).
    pub region: Option<String>,
    /// The account placeholders were resolved with (`None` only for offline `validate`).
    pub account_id: Option<String>,
    pub resources: Vec<Resource>,
}

impl DesiredSet {
    /// Looks a resource up by key.
    pub fn get(&self, key: &ResourceKey) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.kind() == key.kind && r.meta().name == key.name)
    }
}
