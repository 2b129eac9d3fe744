//! The API Gateway objects that are plain records (issue 23): API keys, usage plans and their
//! keys, custom domain names and their base path mappings, VPC links and the account settings;
//! per REST API, models, request validators, authorizers, gateway responses and documentation
//! parts. Each is kept in AWS's JSON shape in [`ApiGatewayState::records`], one list per
//! collection path (`apikeys`, `restapis/ID/models`, `domainnames/NAME/basepathmappings`), and
//! answered with AWS's status codes, list shape (`item`, `position`) and errors.
//!
//! Must not: touch REST APIs, resources, methods, deployments or stages (only read them, to
//! check a reference).

use serde_json::{Map, Value, json};

use super::patch::{Kind, apply_patches};
use super::read::page;
use super::*;

/// A record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rec {
    ApiKey,
    UsagePlan,
    UsagePlanKey,
    DomainName,
    BasePathMapping,
    VpcLink,
    Account,
    Model,
    RequestValidator,
    Authorizer,
    GatewayResponse,
    DocumentationPart,
}

/// The operations of a record type: create, get one, get the list, update, delete.
struct Ops {
    create: &'static str,
    get: &'static str,
    list: &'static str,
    update: &'static str,
    delete: &'static str,
}

impl Rec {
    fn ops(self) -> Ops {
        let o = |create, get, list, update, delete| Ops {
            create,
            get,
            list,
            update,
            delete,
        };
        match self {
            Rec::ApiKey => o(
                "CreateApiKey",
                "GetApiKey",
                "GetApiKeys",
                "UpdateApiKey",
                "DeleteApiKey",
            ),
            Rec::UsagePlan => o(
                "CreateUsagePlan",
                "GetUsagePlan",
                "GetUsagePlans",
                "UpdateUsagePlan",
                "DeleteUsagePlan",
            ),
            Rec::UsagePlanKey => o(
                "CreateUsagePlanKey",
                "GetUsagePlanKey",
                "GetUsagePlanKeys",
                "Unknown",
                "DeleteUsagePlanKey",
            ),
            Rec::DomainName => o(
                "CreateDomainName",
                "GetDomainName",
                "GetDomainNames",
                "UpdateDomainName",
                "DeleteDomainName",
            ),
            Rec::BasePathMapping => o(
                "CreateBasePathMapping",
                "GetBasePathMapping",
                "GetBasePathMappings",
                "UpdateBasePathMapping",
                "DeleteBasePathMapping",
            ),
            Rec::VpcLink => o(
                "CreateVpcLink",
                "GetVpcLink",
                "GetVpcLinks",
                "UpdateVpcLink",
                "DeleteVpcLink",
            ),
            Rec::Account => o("Unknown", "GetAccount", "Unknown", "UpdateAccount", "Unknown"),
            Rec::Model => o(
                "CreateModel",
                "GetModel",
                "GetModels",
                "UpdateModel",
                "DeleteModel",
            ),
            Rec::RequestValidator => o(
                "CreateRequestValidator",
                "GetRequestValidator",
                "GetRequestValidators",
                "UpdateRequestValidator",
                "DeleteRequestValidator",
            ),
            Rec::Authorizer => o(
                "CreateAuthorizer",
                "GetAuthorizer",
                "GetAuthorizers",
                "UpdateAuthorizer",
                "DeleteAuthorizer",
            ),
            Rec::GatewayResponse => o(
                "PutGatewayResponse",
                "GetGatewayResponse",
                "GetGatewayResponses",
                "UpdateGatewayResponse",
                "DeleteGatewayResponse",
            ),
            Rec::DocumentationPart => o(
                "CreateDocumentationPart",
                "GetDocumentationPart",
                "GetDocumentationParts",
                "UpdateDocumentationPart",
                "DeleteDocumentationPart",
            ),
        }
    }

    /// The field that names a record in its path.
    fn key(self) -> &'static str {
        match self {
            Rec::DomainName => "domainName",
            Rec::BasePathMapping => "basePath",
            Rec::Model => "name",
            Rec::GatewayResponse => "responseType",
            _ => "id",
        }
    }

    /// The error for a record that is not there.
    fn missing(self) -> ServiceError {
        match self {
            Rec::ApiKey => not_found("Invalid API Key identifier specified"),
            Rec::UsagePlan => not_found("Invalid Usage Plan ID specified"),
            Rec::UsagePlanKey => not_found("Invalid API Key identifier specified"),
            Rec::DomainName => not_found("Invalid domain name identifier specified"),
            Rec::BasePathMapping => not_found("Invalid base path mapping identifier specified"),
            Rec::VpcLink => not_found("VPCLink not found"),
            Rec::Account => not_found("Invalid account"),
            Rec::Model => not_found("Invalid Model Name specified"),
            Rec::RequestValidator => bad_request("Invalid Request Validator Id specified"),
            Rec::Authorizer => not_found("Invalid Authorizer identifier specified"),
            Rec::GatewayResponse => not_found("Invalid Gateway Response type specified"),
            Rec::DocumentationPart => not_found("Invalid Documentation part identifier specified"),
        }
    }

    /// The fields `UpdateX` takes, for the record types patched field by field.
    fn patchable(self) -> &'static [(&'static str, Kind)] {
        match self {
            Rec::DomainName => &[
                ("certificateName", Kind::Str),
                ("certificateArn", Kind::Str),
                ("regionalCertificateName", Kind::Str),
                ("regionalCertificateArn", Kind::Str),
                ("securityPolicy", Kind::Str),
            ],
            Rec::VpcLink => &[("name", Kind::Str), ("description", Kind::Str)],
            Rec::Model => &[("description", Kind::Str), ("schema", Kind::Str)],
            Rec::Authorizer => &[
                ("name", Kind::Str),
                ("type", Kind::Str),
                ("authType", Kind::Str),
                ("authorizerUri", Kind::Str),
                ("authorizerCredentials", Kind::Str),
                ("identitySource", Kind::Str),
                ("identityValidationExpression", Kind::Str),
                ("authorizerResultTtlInSeconds", Kind::Int),
                ("providerARNs", Kind::StrList),
            ],
            Rec::GatewayResponse => &[
                ("statusCode", Kind::Str),
                ("responseParameters", Kind::StrMap),
                ("responseTemplates", Kind::StrMap),
            ],
            Rec::DocumentationPart => &[("properties", Kind::Str)],
            _ => &[],
        }
    }
}

/// A request's record: its type, the collection's path in [`ApiGatewayState::records`], the
/// parent it hangs off (REST API, usage plan, domain name) and the record's own key, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecRoute {
    pub rec: Rec,
    collection: String,
    parent: Option<String>,
    id: Option<String>,
}

/// The record a path addresses (`None`: not a record path).
pub(super) fn route(path: &str) -> Option<RecRoute> {
    let path = path.split('?').next().unwrap_or("");
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(routes::percent_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let r = |rec, collection: String, parent: Option<&str>, id: Option<&str>| {
        Some(RecRoute {
            rec,
            collection,
            parent: parent.map(str::to_owned),
            id: id.map(str::to_owned),
        })
    };
    let top = |name: &str| match name {
        "apikeys" => Some(Rec::ApiKey),
        "usageplans" => Some(Rec::UsagePlan),
        "domainnames" => Some(Rec::DomainName),
        "vpclinks" => Some(Rec::VpcLink),
        _ => None,
    };
    let per_api = |name: &str| match name {
        "models" => Some(Rec::Model),
        "requestvalidators" => Some(Rec::RequestValidator),
        "authorizers" => Some(Rec::Authorizer),
        "gatewayresponses" => Some(Rec::GatewayResponse),
        _ => None,
    };
    match s.as_slice() {
        ["account"] => r(Rec::Account, "account".into(), None, None),
        [c] => r(top(c)?, (*c).into(), None, None),
        [c, id] => r(top(c)?, (*c).into(), None, Some(id)),
        ["usageplans", p, "keys"] => r(Rec::UsagePlanKey, format!("usageplans/{p}/keys"), Some(p), None),
        ["usageplans", p, "keys", k] => r(
            Rec::UsagePlanKey,
            format!("usageplans/{p}/keys"),
            Some(p),
            Some(k),
        ),
        ["domainnames", d, "basepathmappings"] => r(
            Rec::BasePathMapping,
            format!("domainnames/{d}/basepathmappings"),
            Some(d),
            None,
        ),
        ["domainnames", d, "basepathmappings", b] => r(
            Rec::BasePathMapping,
            format!("domainnames/{d}/basepathmappings"),
            Some(d),
            Some(b),
        ),
        ["restapis", a, "documentation", "parts"] => r(
            Rec::DocumentationPart,
            format!("restapis/{a}/documentation/parts"),
            Some(a),
            None,
        ),
        ["restapis", a, "documentation", "parts", p] => r(
            Rec::DocumentationPart,
            format!("restapis/{a}/documentation/parts"),
            Some(a),
            Some(p),
        ),
        ["restapis", a, c] => r(per_api(c)?, format!("restapis/{a}/{c}"), Some(a), None),
        ["restapis", a, c, id] => r(per_api(c)?, format!("restapis/{a}/{c}"), Some(a), Some(id)),
        _ => None,
    }
}

/// The operation a method on a record path is (`Unknown` when the method does not apply).
pub(super) fn op_name(method: &str, r: &RecRoute) -> &'static str {
    let ops = r.rec.ops();
    match (method, r.id.is_some(), r.rec) {
        ("GET", _, Rec::Account) => ops.get,
        ("PATCH", _, Rec::Account) => ops.update,
        ("PUT", true, Rec::GatewayResponse) => ops.create,
        ("POST", false, Rec::GatewayResponse) => "Unknown",
        ("POST", false, _) => ops.create,
        ("GET", false, _) => ops.list,
        ("GET", true, _) => ops.get,
        ("PATCH", true, _) => ops.update,
        ("DELETE", true, _) => ops.delete,
        _ => "Unknown",
    }
}

/// The response types of gateway responses, with the status code of each default response.
const GATEWAY_RESPONSE_TYPES: &[(&str, Option<&str>)] = &[
    ("ACCESS_DENIED", Some("403")),
    ("API_CONFIGURATION_ERROR", Some("500")),
    ("AUTHORIZER_CONFIGURATION_ERROR", Some("500")),
    ("AUTHORIZER_FAILURE", Some("500")),
    ("BAD_REQUEST_PARAMETERS", Some("400")),
    ("BAD_REQUEST_BODY", Some("400")),
    ("DEFAULT_4XX", None),
    ("DEFAULT_5XX", None),
    ("EXPIRED_TOKEN", Some("403")),
    ("INTEGRATION_FAILURE", Some("504")),
    ("INTEGRATION_TIMEOUT", Some("504")),
    ("INVALID_API_KEY", Some("403")),
    ("INVALID_SIGNATURE", Some("403")),
    ("MISSING_AUTHENTICATION_TOKEN", Some("403")),
    ("QUOTA_EXCEEDED", Some("429")),
    ("REQUEST_TOO_LARGE", Some("413")),
    ("RESOURCE_NOT_FOUND", Some("404")),
    ("THROTTLED", Some("429")),
    ("UNAUTHORIZED", Some("401")),
    ("UNSUPPORTED_MEDIA_TYPE", Some("415")),
    ("WAF_FILTERED", Some("403")),
];

/// The gateway response API Gateway answers for a type no `PutGatewayResponse` set.
fn default_gateway_response(response_type: &str) -> Option<Value> {
    let (_, status) = GATEWAY_RESPONSE_TYPES.iter().find(|(t, _)| *t == response_type)?;
    let mut out = json!({
        "responseType": response_type,
        "defaultResponse": true,
        "responseParameters": {},
        "responseTemplates": {"application/json": "{\"message\":$context.error.messageString}"},
    });
    if let Some(status) = status {
        out["statusCode"] = json!(status);
    }
    Some(out)
}

/// The account settings before any `UpdateAccount`.
fn default_account() -> Map<String, Value> {
    let account = json!({
        "throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0},
        "apiKeyVersion": "1",
    });
    account.as_object().cloned().unwrap_or_default()
}

fn list<'s>(state: &'s ApiGatewayState, collection: &str) -> &'s [Map<String, Value>] {
    state.records.get(collection).map(Vec::as_slice).unwrap_or(&[])
}

fn find<'s>(state: &'s ApiGatewayState, r: &RecRoute, id: &str) -> Option<&'s Map<String, Value>> {
    list(state, &r.collection)
        .iter()
        .find(|x| str_of(x, r.rec.key()) == id)
}

/// The parent of a record exists (REST API, usage plan, domain name).
fn check_parent(state: &ApiGatewayState, r: &RecRoute) -> Result<(), ServiceError> {
    let Some(parent) = &r.parent else {
        return Ok(());
    };
    match r.rec {
        Rec::UsagePlanKey => {
            let plans = list(state, "usageplans");
            match plans.iter().any(|p| str_of(p, "id") == parent) {
                true => Ok(()),
                false => Err(Rec::UsagePlan.missing()),
            }
        }
        Rec::BasePathMapping => {
            let domains = list(state, "domainnames");
            match domains.iter().any(|d| str_of(d, "domainName") == parent) {
                true => Ok(()),
                false => Err(Rec::DomainName.missing()),
            }
        }
        Rec::Model => find_api(state, parent)
            .map(|_| ())
            .map_err(|_| not_found("Invalid Rest API Id specified")),
        _ => find_api(state, parent).map(|_| ()),
    }
}

/// Answers a read of a record (`GetX`, `GetXs`).
pub(super) fn read(state: &ApiGatewayState, req: &ApigwRequest<'_>, r: &RecRoute) -> Res {
    let q = Query(req.query);
    if r.rec == Rec::Account {
        let account = list(state, "account")
            .first()
            .cloned()
            .unwrap_or_else(default_account);
        return ok(200, Value::Object(account), false);
    }
    check_parent(state, r)?;
    match &r.id {
        Some(id) => {
            let found = find(state, r, id).cloned();
            let found = match (found, r.rec) {
                (Some(x), _) => Value::Object(x),
                (None, Rec::GatewayResponse) => {
                    default_gateway_response(id).ok_or_else(|| Rec::GatewayResponse.missing())?
                }
                (None, Rec::UsagePlanKey)
                    if !list(state, "apikeys").iter().any(|k| str_of(k, "id") == id) =>
                {
                    return Err(Rec::ApiKey.missing());
                }
                (None, rec) => return Err(rec.missing()),
            };
            let include = q.first("includeValue") == Some("true");
            ok(200, view(r.rec, found, include), false)
        }
        None => {
            let include = q.first("includeValues") == Some("true");
            let mut items: Vec<Value> = list(state, &r.collection)
                .iter()
                .filter(|x| matches_query(state, r.rec, x, &q))
                .map(|x| view(r.rec, Value::Object(x.clone()), include))
                .collect();
            if r.rec == Rec::GatewayResponse {
                for (t, _) in GATEWAY_RESPONSE_TYPES {
                    if find(state, r, t).is_none() {
                        items.extend(default_gateway_response(t));
                    }
                }
            }
            page(items, &q)
        }
    }
}

/// A record as Get answers it: an API key's value only when asked for.
fn view(rec: Rec, mut x: Value, include_value: bool) -> Value {
    if rec == Rec::ApiKey
        && !include_value
        && let Some(m) = x.as_object_mut()
    {
        m.remove("value");
    }
    x
}

/// The list filters: `nameQuery` (the query's `name`, a prefix), `customerId`, `keyId`, and a
/// documentation part's `type`, `path`, `name`.
fn matches_query(state: &ApiGatewayState, rec: Rec, x: &Map<String, Value>, q: &Query<'_>) -> bool {
    if rec != Rec::DocumentationPart
        && let Some(prefix) = q.first("name")
        && !str_of(x, "name").starts_with(prefix)
    {
        return false;
    }
    if let Some(customer) = q.first("customerId")
        && str_of(x, "customerId") != customer
    {
        return false;
    }
    if rec == Rec::UsagePlan
        && let Some(key) = q.first("keyId")
    {
        let keys = list(state, &format!("usageplans/{}/keys", str_of(x, "id")));
        return keys.iter().any(|k| str_of(k, "id") == key);
    }
    if rec == Rec::DocumentationPart {
        let location = x.get("location").and_then(Value::as_object);
        let field = |f: &str| location.map(|l| str_of(l, f)).unwrap_or("");
        for f in ["type", "path", "name"] {
            if let Some(want) = q.first(f)
                && field(f) != want
            {
                return false;
            }
        }
    }
    true
}

/// Answers a write to a record (`CreateX`, `PutX`, `UpdateX`, `DeleteX`).
pub(super) fn write(state: &mut ApiGatewayState, req: &ApigwRequest<'_>, r: &RecRoute) -> Res {
    let op = op_name(req.method, r);
    let ops = r.rec.ops();
    let body = if req.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice::<Value>(req.body)
            .map_err(|e| bad_request(format!("Invalid JSON body: {e}")))?
    };
    if r.rec == Rec::Account {
        return update_account(state, &body);
    }
    if r.rec == Rec::UsagePlanKey && op == ops.create {
        // The key is checked before the plan, as AWS answers for a missing key on any plan.
        let key_id = body.get("keyId").and_then(Value::as_str).unwrap_or("");
        if !list(state, "apikeys").iter().any(|k| str_of(k, "id") == key_id) {
            return Err(Rec::ApiKey.missing());
        }
    }
    check_parent(state, r)?;
    if op == ops.create {
        let record = create(state, req, r, &body)?;
        let value = Value::Object(record.clone());
        let collection = state.records.entry(r.collection.clone()).or_default();
        let key = str_of(&record, r.rec.key()).to_owned();
        match collection.iter_mut().find(|x| str_of(x, r.rec.key()) == key) {
            Some(slot) => *slot = record,
            None => collection.push(record),
        }
        return ok(201, view(r.rec, value, true), true);
    }
    let id = r.id.clone().unwrap_or_default();
    if op == ops.delete {
        return delete(state, r, &id);
    }
    if op == ops.update {
        let existing = find(state, r, &id).cloned();
        let mut record = match (existing, r.rec) {
            (Some(x), _) => x,
            (None, Rec::GatewayResponse) => default_gateway_response(&id)
                .and_then(|v| v.as_object().cloned())
                .ok_or_else(|| Rec::GatewayResponse.missing())?,
            (None, rec) => return Err(rec.missing()),
        };
        update(state, r, &mut record, &body)?;
        let key = str_of(&record, r.rec.key()).to_owned();
        let collection = state.records.entry(r.collection.clone()).or_default();
        collection.retain(|x| str_of(x, r.rec.key()) != id && str_of(x, r.rec.key()) != key);
        collection.push(record.clone());
        return ok(200, view(r.rec, Value::Object(record), false), true);
    }
    Err(ServiceError::new(
        404,
        "UnknownOperationException",
        "Unknown operation",
    ))
}

fn delete(state: &mut ApiGatewayState, r: &RecRoute, id: &str) -> Res {
    let collection = state.records.entry(r.collection.clone()).or_default();
    let before = collection.len();
    collection.retain(|x| str_of(x, r.rec.key()) != id);
    if collection.len() == before {
        return Err(r.rec.missing());
    }
    match r.rec {
        // What hangs off a deleted record goes with it.
        Rec::UsagePlan => {
            state.records.remove(&format!("usageplans/{id}/keys"));
        }
        Rec::DomainName => {
            state
                .records
                .remove(&format!("domainnames/{id}/basepathmappings"));
        }
        Rec::ApiKey => {
            for (name, keys) in state.records.iter_mut() {
                if name.starts_with("usageplans/") {
                    keys.retain(|k| str_of(k, "id") != id);
                }
            }
        }
        _ => {}
    }
    empty(202)
}

/// The fields of `body` that are set (not null), copied.
fn fields(body: &Value, keys: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    copy_fields(body, &mut out, keys);
    out
}

fn text<'b>(body: &'b Value, key: &str) -> &'b str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

fn create(
    state: &mut ApiGatewayState,
    req: &ApigwRequest<'_>,
    r: &RecRoute,
    body: &Value,
) -> Result<Map<String, Value>, ServiceError> {
    let now = now();
    Ok(match r.rec {
        Rec::ApiKey => {
            let value = match body.get("value").and_then(Value::as_str) {
                Some(v) if v.chars().count() < 20 => {
                    return Err(bad_request("API Key value should be at least 20 characters"));
                }
                Some(v) => v.to_owned(),
                None => format!(
                    "{}{}{}{}",
                    next_id(state),
                    next_id(state),
                    next_id(state),
                    next_id(state)
                ),
            };
            if list(state, "apikeys").iter().any(|k| str_of(k, "value") == value) {
                return Err(conflict("API Key already exists"));
            }
            let mut key = fields(body, &["name", "customerId", "description"]);
            key.insert("id".into(), json!(next_id(state)));
            key.insert("value".into(), json!(value));
            key.insert(
                "enabled".into(),
                json!(body.get("enabled").and_then(Value::as_bool).unwrap_or(false)),
            );
            key.insert("createdDate".into(), json!(now));
            key.insert("lastUpdatedDate".into(), json!(now));
            let stage_keys: Vec<Value> = body
                .get("stageKeys")
                .and_then(Value::as_array)
                .map(|keys| {
                    keys.iter()
                        .map(|k| json!(format!("{}/{}", text(k, "restApiId"), text(k, "stageName"))))
                        .collect()
                })
                .unwrap_or_default();
            key.insert("stageKeys".into(), Value::Array(stage_keys));
            copy_fields(body, &mut key, &["tags"]);
            key
        }
        Rec::UsagePlan => {
            let mut plan = Map::new();
            plan.insert("id".into(), json!(next_id(state)));
            copy_fields(body, &mut plan, &["name", "description"]);
            plan.insert(
                "apiStages".into(),
                body.get("apiStages").cloned().unwrap_or_else(|| json!([])),
            );
            copy_fields(body, &mut plan, &["throttle", "quota", "productCode", "tags"]);
            plan
        }
        Rec::UsagePlanKey => {
            let key_id = text(body, "keyId");
            let key = list(state, "apikeys")
                .iter()
                .find(|k| str_of(k, "id") == key_id)
                .ok_or_else(|| Rec::ApiKey.missing())?;
            if find(state, r, key_id).is_some() {
                return Err(conflict(format!(
                    "Usage Plan {} cannot be added because API Key {key_id} cannot reference multiple Usage Plans with the same API Stage",
                    r.parent.as_deref().unwrap_or("")
                )));
            }
            let mut out = Map::new();
            out.insert("id".into(), json!(key_id));
            out.insert("type".into(), json!(text(body, "keyType")));
            copy_fields(&Value::Object(key.clone()), &mut out, &["value", "name"]);
            out
        }
        Rec::DomainName => {
            let name = text(body, "domainName");
            if name.is_empty() {
                return Err(bad_request("No Domain Name specified"));
            }
            if list(state, "domainnames")
                .iter()
                .any(|d| str_of(d, "domainName") == name)
            {
                return Err(conflict("The domain name you provided already exists."));
            }
            let mut out = fields(
                body,
                &[
                    "domainName",
                    "certificateName",
                    "certificateArn",
                    "regionalCertificateName",
                    "regionalCertificateArn",
                    "securityPolicy",
                    "tags",
                ],
            );
            let endpoint = body
                .get("endpointConfiguration")
                .cloned()
                .unwrap_or_else(|| json!({"types": ["EDGE"]}));
            let regional = endpoint["types"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "REGIONAL"));
            let id = next_id(state);
            if regional {
                let region = &req.ctx.region;
                out.insert(
                    "regionalDomainName".into(),
                    json!(format!("d-{id}.execute-api.{region}.amazonaws.com")),
                );
                out.insert("regionalHostedZoneId".into(), json!("Z1UJRXOUMOOFQ8"));
            } else {
                out.insert(
                    "distributionDomainName".into(),
                    json!(format!("d{id}.cloudfront.net")),
                );
                // CloudFront's own hosted zone, the same for every distribution.
                out.insert("distributionHostedZoneId".into(), json!("Z2FDTNDATAQYW2"));
                out.insert("certificateUploadDate".into(), json!(now));
            }
            out.insert("endpointConfiguration".into(), endpoint);
            out.insert("domainNameStatus".into(), json!("AVAILABLE"));
            out
        }
        Rec::BasePathMapping => {
            let base = match text(body, "basePath") {
                "" => "(none)",
                b => b,
            };
            if base.contains('/') {
                return Err(bad_request(
                    "API Gateway V1 doesn't support the slash character (/) in base path mappings. To create a multi-level base path mapping, use API Gateway V2.",
                ));
            }
            let api = text(body, "restApiId");
            check_stage_ref(state, api, body.get("stage").and_then(Value::as_str))?;
            // AWS refuses a second mapping of a base path; `(none)`, the empty base path, is
            // replaced as moto does (AWS's reference does not say).
            if base != "(none)" && find(state, r, base).is_some() {
                return Err(conflict("Base path already exists for this domain name"));
            }
            let mut out = Map::new();
            out.insert("basePath".into(), json!(base));
            out.insert("restApiId".into(), json!(api));
            copy_fields(body, &mut out, &["stage"]);
            out
        }
        Rec::VpcLink => {
            let mut out = Map::new();
            out.insert("id".into(), json!(next_id(state)));
            copy_fields(body, &mut out, &["name", "description", "targetArns", "tags"]);
            out.insert("status".into(), json!("AVAILABLE"));
            out.insert("statusMessage".into(), json!("Your vpc link is ready for use"));
            out
        }
        Rec::Model => {
            let name = text(body, "name");
            if name.is_empty() {
                return Err(bad_request("No Model Name specified"));
            }
            if find(state, r, name).is_some() {
                return Err(conflict("Model name already exists for this REST API"));
            }
            let mut out = Map::new();
            out.insert("id".into(), json!(next_id(state)));
            copy_fields(body, &mut out, &["name", "description", "schema", "contentType"]);
            out
        }
        Rec::RequestValidator => {
            let mut out = Map::new();
            out.insert("id".into(), json!(next_id(state)));
            copy_fields(body, &mut out, &["name"]);
            for f in ["validateRequestBody", "validateRequestParameters"] {
                out.insert(
                    f.into(),
                    json!(body.get(f).and_then(Value::as_bool).unwrap_or(false)),
                );
            }
            out
        }
        Rec::Authorizer => {
            let kind = text(body, "type");
            if !["TOKEN", "REQUEST", "COGNITO_USER_POOLS"].contains(&kind) {
                return Err(bad_request(format!("Invalid authorizer type specified: {kind}")));
            }
            if kind == "COGNITO_USER_POOLS" && body.get("providerARNs").is_none() {
                return Err(bad_request(
                    "ProviderARNs need to be specified for COGNITO_USER_POOLS",
                ));
            }
            if kind != "COGNITO_USER_POOLS" && text(body, "authorizerUri").is_empty() {
                return Err(bad_request("Invalid Authorizer URI specified"));
            }
            let mut out = Map::new();
            out.insert("id".into(), json!(next_id(state)));
            copy_fields(
                body,
                &mut out,
                &[
                    "name",
                    "type",
                    "providerARNs",
                    "authType",
                    "authorizerUri",
                    "authorizerCredentials",
                    "identitySource",
                    "identityValidationExpression",
                ],
            );
            let ttl = body
                .get("authorizerResultTtlInSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(300);
            out.insert("authorizerResultTtlInSeconds".into(), json!(ttl));
            out
        }
        Rec::GatewayResponse => {
            let kind = r.id.as_deref().unwrap_or("");
            if default_gateway_response(kind).is_none() {
                let types: Vec<&str> = GATEWAY_RESPONSE_TYPES.iter().map(|(t, _)| *t).collect();
                return Err(bad_request(enum_message("responseType", kind, &types)));
            }
            let mut out = Map::new();
            out.insert("responseType".into(), json!(kind));
            copy_fields(
                body,
                &mut out,
                &["statusCode", "responseParameters", "responseTemplates"],
            );
            out.insert("defaultResponse".into(), json!(false));
            out
        }
        Rec::DocumentationPart => {
            let location = body.get("location").cloned().unwrap_or(json!({}));
            if text(&location, "type").is_empty() {
                return Err(bad_request("Invalid documentation location: type is required"));
            }
            if list(state, &r.collection)
                .iter()
                .any(|p| p.get("location") == Some(&location))
            {
                return Err(conflict(
                    "Documentation part already exists for the specified location",
                ));
            }
            let mut out = Map::new();
            out.insert("id".into(), json!(next_id(state)));
            out.insert("location".into(), location);
            copy_fields(body, &mut out, &["properties"]);
            out
        }
        Rec::Account => return Err(bad_request("Account settings are updated, not created")),
    })
}

/// A base path mapping's REST API and stage exist (both `BadRequestException`, as AWS answers).
fn check_stage_ref(state: &ApiGatewayState, api: &str, stage: Option<&str>) -> Result<(), ServiceError> {
    let api = find_api(state, api).map_err(|_| bad_request(NO_API))?;
    if let Some(stage) = stage
        && !api.stages.iter().any(|s| str_of(s, "stageName") == stage)
    {
        return Err(bad_request("Invalid stage identifier specified"));
    }
    Ok(())
}

/// The `patchOperations` of an update, each as (op, path, value as text).
fn patch_ops(body: &Value) -> Vec<(String, String, Option<String>)> {
    let ops = body.get("patchOperations").and_then(Value::as_array);
    ops.map(|ops| {
        ops.iter()
            .map(|op| {
                let value = match op.get("value") {
                    Some(Value::String(s)) => Some(s.clone()),
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.to_string()),
                };
                (text(op, "op").to_owned(), text(op, "path").to_owned(), value)
            })
            .collect()
    })
    .unwrap_or_default()
}

fn number(path: &str, value: Option<&str>, float: bool) -> Result<Value, ServiceError> {
    let invalid = || bad_request(format!("Invalid patch value specified for {path}"));
    let v = value.ok_or_else(invalid)?;
    if float {
        v.parse::<f64>().map(|n| json!(n)).map_err(|_| invalid())
    } else {
        v.parse::<i64>().map(|n| json!(n)).map_err(|_| invalid())
    }
}

fn update(
    state: &ApiGatewayState,
    r: &RecRoute,
    record: &mut Map<String, Value>,
    body: &Value,
) -> Result<(), ServiceError> {
    let ops = patch_ops(body);
    let invalid_path = |path: &str| bad_request(format!("Invalid patch path {path}"));
    match r.rec {
        Rec::ApiKey => {
            for (op, path, value) in &ops {
                match (op.as_str(), path.as_str()) {
                    ("replace", "/name" | "/description" | "/customerId") => {
                        record.insert(path[1..].to_owned(), json!(value.clone().unwrap_or_default()));
                    }
                    ("replace", "/enabled") => {
                        let on = value.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"));
                        record.insert("enabled".into(), json!(on));
                    }
                    _ => return Err(invalid_path(path)),
                }
            }
            record.insert("lastUpdatedDate".into(), json!(now()));
        }
        Rec::UsagePlan => {
            for (op, path, value) in &ops {
                let stage_of = |v: &Option<String>| {
                    let v = v.as_deref().unwrap_or("");
                    let (api, stage) = v.split_once(':').unwrap_or((v, ""));
                    json!({"apiId": api, "stage": stage})
                };
                match (op.as_str(), path.as_str()) {
                    ("add", "/apiStages") => {
                        sub_list(record, "apiStages")
                            .into_iter()
                            .for_each(|l| l.push(stage_of(value)));
                    }
                    ("remove", "/apiStages") => {
                        let gone = stage_of(value);
                        if let Some(stages) = sub_list(record, "apiStages") {
                            stages.retain(|s| {
                                s.get("apiId") != gone.get("apiId") || s.get("stage") != gone.get("stage")
                            });
                        }
                    }
                    ("add" | "replace", "/name" | "/description" | "/productCode") => {
                        record.insert(path[1..].to_owned(), json!(value.clone().unwrap_or_default()));
                    }
                    ("remove", "/productCode" | "/quota" | "/throttle" | "/description") => {
                        record.remove(&path[1..]);
                    }
                    ("add" | "replace", "/quota/limit" | "/quota/offset") => {
                        let n = number(path, value.as_deref(), false)?;
                        sub_map(record, "quota")?.insert(path[7..].to_owned(), n);
                    }
                    ("add" | "replace", "/quota/period") => {
                        let v = value.clone().unwrap_or_default();
                        sub_map(record, "quota")?.insert("period".into(), json!(v));
                    }
                    ("add" | "replace", "/throttle/burstLimit") => {
                        let n = number(path, value.as_deref(), false)?;
                        sub_map(record, "throttle")?.insert("burstLimit".into(), n);
                    }
                    ("add" | "replace", "/throttle/rateLimit") => {
                        let n = number(path, value.as_deref(), true)?;
                        sub_map(record, "throttle")?.insert("rateLimit".into(), n);
                    }
                    _ => return Err(invalid_path(path)),
                }
            }
        }
        Rec::BasePathMapping => {
            let mut next = record.clone();
            for (op, path, value) in &ops {
                let v = value.clone().unwrap_or_default();
                match (op.as_str(), path.as_str()) {
                    ("replace", "/basePath") => next.insert("basePath".into(), json!(v)),
                    ("replace", "/restapiId") => next.insert("restApiId".into(), json!(v)),
                    ("replace", "/stage") => next.insert("stage".into(), json!(v)),
                    _ => return Err(invalid_path(path)),
                };
            }
            check_stage_ref(
                state,
                str_of(&next, "restApiId"),
                next.get("stage").and_then(Value::as_str),
            )?;
            *record = next;
        }
        Rec::RequestValidator => {
            for (op, path, value) in &ops {
                match (op.as_str(), path.as_str()) {
                    ("replace", "/name") => {
                        record.insert("name".into(), json!(value.clone().unwrap_or_default()));
                    }
                    ("replace", "/validateRequestBody" | "/validateRequestParameters") => {
                        let on = value.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"));
                        record.insert(path[1..].to_owned(), json!(on));
                    }
                    _ => return Err(invalid_path(path)),
                }
            }
        }
        Rec::UsagePlanKey | Rec::Account => return Err(invalid_path("/")),
        _ => apply_patches(record, body, r.rec.patchable())?,
    }
    if r.rec == Rec::GatewayResponse {
        record.insert("defaultResponse".into(), json!(false));
    }
    Ok(())
}

/// The list under `key` (created empty if missing or not a list).
fn sub_list<'m>(m: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Vec<Value>> {
    let slot = m.entry(key.to_owned()).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    slot.as_array_mut()
}

/// `UpdateAccount`: `/cloudwatchRoleArn` and `/features` (`UsagePlans` cannot be removed).
fn update_account(state: &mut ApiGatewayState, body: &Value) -> Res {
    let mut account = list(state, "account")
        .first()
        .cloned()
        .unwrap_or_else(default_account);
    for (op, path, value) in patch_ops(body) {
        let v = value.unwrap_or_default();
        match (op.as_str(), path.as_str()) {
            ("replace", "/cloudwatchRoleArn") => {
                account.insert("cloudwatchRoleArn".into(), json!(v));
            }
            ("add", "/features") => {
                if let Some(features) = sub_list(&mut account, "features")
                    && !features.contains(&json!(v))
                {
                    features.push(json!(v));
                }
            }
            ("remove", "/features") if v == "UsagePlans" => {
                return Err(bad_request("Usage Plans cannot be disabled once enabled"));
            }
            ("remove", "/features") => {
                if let Some(features) = sub_list(&mut account, "features") {
                    features.retain(|f| f != &json!(v));
                }
            }
            _ => return Err(bad_request(format!("Invalid patch path {path}"))),
        }
    }
    state.records.insert("account".into(), vec![account.clone()]);
    ok(200, Value::Object(account), true)
}
