//! API Gateway records: REST APIs with their resources, methods, deployments and stages, kept in
//! AWS's own JSON shapes (a Get answers the stored object).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every REST API and what hangs off it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGatewayState {
    /// How many ids were handed out: ids derive from it, so they are deterministic and persisted.
    #[serde(default)]
    pub id_counter: u64,
    /// REST APIs in creation order.
    #[serde(default)]
    pub rest_apis: Vec<RestApi>,
    /// The plain records (API keys, usage plans, domain names, models, ...), in AWS's shapes, by
    /// collection path (`apikeys`, `restapis/ID/models`), each list in creation order.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub records: std::collections::BTreeMap<String, Vec<Map<String, Value>>>,
}

/// One REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestApi {
    /// The RestApi object as GetRestApi answers it (`id`, `name`, `rootResourceId`, ...).
    pub info: Map<String, Value>,
    /// Resources in creation order; the first is the root `/`.
    pub resources: Vec<Resource>,
    /// Deployment objects (`id`, `description`, `createdDate`) in creation order.
    pub deployments: Vec<Map<String, Value>>,
    /// Stage objects as GetStage answers them, in creation order.
    pub stages: Vec<Map<String, Value>>,
    /// What each deployment froze: the resources and methods at `CreateDeployment`, by
    /// deployment id (the invoke URL runs a stage's deployment, not the current methods).
    #[serde(default)]
    pub snapshots: std::collections::BTreeMap<String, Vec<Resource>>,
}

/// One resource and its methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub id: String,
    pub parent_id: Option<String>,
    pub path_part: Option<String>,
    pub path: String,
    /// HTTP method → Method object as GetMethod answers it.
    pub methods: Map<String, Value>,
}
