//! PATCH semantics: AWS `patchOperations` (`add`, `remove`, `replace` on JSON-pointer paths)
//! applied to a stored object, per field kind, with the patchable fields of each object type.

use serde_json::{Map, Value, json};

use super::*;

/// How a patchable field's value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Str,
    Bool,
    Int,
    /// A map of strings; `/field/key` addresses one entry.
    StrMap,
    /// A map of booleans (`requestParameters` of methods).
    BoolMap,
    /// A list of strings; `/field/value` adds or removes one.
    StrList,
    /// `endpointConfiguration`: `/endpointConfiguration/types/EDGE` replaced by the value.
    Endpoint,
}

pub(super) const REST_API_PATCH: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("description", Kind::Str),
    ("apiKeySource", Kind::Str),
    ("policy", Kind::Str),
    ("version", Kind::Str),
    ("disableExecuteApiEndpoint", Kind::Bool),
    ("minimumCompressionSize", Kind::Int),
    ("binaryMediaTypes", Kind::StrList),
    ("endpointConfiguration", Kind::Endpoint),
];
pub(super) const METHOD_PATCH: &[(&str, Kind)] = &[
    ("authorizationType", Kind::Str),
    ("authorizerId", Kind::Str),
    ("apiKeyRequired", Kind::Bool),
    ("operationName", Kind::Str),
    ("requestValidatorId", Kind::Str),
    ("requestParameters", Kind::BoolMap),
    ("requestModels", Kind::StrMap),
    ("authorizationScopes", Kind::StrList),
];
pub(super) const METHOD_RESPONSE_PATCH: &[(&str, Kind)] = &[
    ("responseParameters", Kind::BoolMap),
    ("responseModels", Kind::StrMap),
];
pub(super) const INTEGRATION_PATCH: &[(&str, Kind)] = &[
    ("type", Kind::Str),
    ("httpMethod", Kind::Str),
    ("uri", Kind::Str),
    ("credentials", Kind::Str),
    ("connectionType", Kind::Str),
    ("connectionId", Kind::Str),
    ("passthroughBehavior", Kind::Str),
    ("contentHandling", Kind::Str),
    ("cacheNamespace", Kind::Str),
    ("timeoutInMillis", Kind::Int),
    ("requestTemplates", Kind::StrMap),
    ("requestParameters", Kind::StrMap),
    ("cacheKeyParameters", Kind::StrList),
];
pub(super) const INTEGRATION_RESPONSE_PATCH: &[(&str, Kind)] = &[
    ("selectionPattern", Kind::Str),
    ("contentHandling", Kind::Str),
    ("responseTemplates", Kind::StrMap),
    ("responseParameters", Kind::StrMap),
];
pub(super) const STAGE_PATCH: &[(&str, Kind)] = &[
    ("description", Kind::Str),
    ("deploymentId", Kind::Str),
    ("tracingEnabled", Kind::Bool),
    ("cacheClusterEnabled", Kind::Bool),
    ("variables", Kind::StrMap),
];

/// JSON-pointer unescaping of one path segment (`~1` → `/`, `~0` → `~`).
pub(super) fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

pub(super) fn convert(kind: Kind, value: Option<&Value>, path: &str) -> Result<Value, ServiceError> {
    let invalid = || bad_request(format!("Invalid patch value specified for {path}"));
    let text = match value {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    match kind {
        Kind::Bool | Kind::BoolMap => match text.as_deref() {
            Some("true") => Ok(json!(true)),
            Some("false") | None => Ok(json!(false)),
            _ => Err(invalid()),
        },
        Kind::Int => text
            .and_then(|t| t.parse::<i64>().ok())
            .map(|n| json!(n))
            .ok_or_else(invalid),
        _ => Ok(json!(text.unwrap_or_default())),
    }
}

/// Applies AWS `patchOperations` to an object; unknown paths are a `BadRequestException`.
pub(super) fn apply_patches(
    obj: &mut Map<String, Value>,
    body: &Value,
    fields: &[(&str, Kind)],
) -> Result<(), ServiceError> {
    let ops = match body.get("patchOperations") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(ops)) => ops,
        Some(_) => return Err(bad_request("patchOperations must be a list")),
    };
    for op in ops {
        let kind_of_op = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value");
        let invalid_path = || bad_request(format!("Invalid patch path {path}"));
        if !matches!(kind_of_op, "add" | "remove" | "replace") {
            return Err(bad_request(format!(
                "Invalid patch operation specified: {kind_of_op}"
            )));
        }
        let segs: Vec<String> = path
            .strip_prefix('/')
            .ok_or_else(invalid_path)?
            .split('/')
            .map(unescape)
            .collect();
        let field = segs.first().map(String::as_str).unwrap_or("");
        let kind = fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, k)| *k)
            .ok_or_else(invalid_path)?;
        let remove = kind_of_op == "remove";
        match (kind, segs.len()) {
            (Kind::Str | Kind::Bool | Kind::Int, 1) => {
                if remove {
                    obj.remove(field);
                } else {
                    obj.insert(field.to_owned(), convert(kind, value, path)?);
                }
            }
            (Kind::StrMap | Kind::BoolMap, 1) if remove => {
                obj.remove(field);
            }
            (Kind::StrMap | Kind::BoolMap, n) if n >= 2 => {
                let key = segs[1..].join("/");
                let map = sub_map(obj, field)?;
                if remove {
                    if map.remove(&key).is_none() {
                        return Err(invalid_path());
                    }
                } else {
                    map.insert(key, convert(kind, value, path)?);
                }
                if map.is_empty() {
                    obj.remove(field);
                }
            }
            (Kind::StrList, 1) if remove => {
                obj.remove(field);
            }
            (Kind::StrList, n) if n >= 2 => {
                let item = segs[1..].join("/");
                let slot = obj.entry(field.to_owned()).or_insert_with(|| json!([]));
                if !slot.is_array() {
                    *slot = json!([]);
                }
                if let Value::Array(list) = slot {
                    list.retain(|v| v.as_str() != Some(item.as_str()));
                    if !remove {
                        list.push(json!(item));
                    }
                }
            }
            (Kind::Endpoint, 3) if segs[1] == "types" => {
                let types = obj
                    .get("endpointConfiguration")
                    .and_then(|e| e.get("types"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let target = &segs[2];
                let mut new_types: Vec<Value> = types
                    .into_iter()
                    .enumerate()
                    .filter(|(i, t)| t.as_str() != Some(target.as_str()) && i.to_string() != *target)
                    .map(|(_, t)| t)
                    .collect();
                if !remove {
                    let v = convert(Kind::Str, value, path)?;
                    if !["EDGE", "REGIONAL", "PRIVATE"].contains(&v.as_str().unwrap_or("")) {
                        return Err(bad_request(format!("Invalid endpoint type specified: {v}")));
                    }
                    if kind_of_op == "add" {
                        new_types.push(json!(target));
                    }
                    new_types.retain(|t| t != &v);
                    new_types.push(v);
                }
                sub_map(obj, "endpointConfiguration")?.insert("types".into(), Value::Array(new_types));
            }
            _ => return Err(invalid_path()),
        }
    }
    Ok(())
}

/// A `methodSettings` field: its UpdateStage path after the key, its name in GetStage, its kind.
const METHOD_SETTING_FIELDS: &[(&str, &str, Kind)] = &[
    ("metrics/enabled", "metricsEnabled", Kind::Bool),
    ("logging/loglevel", "loggingLevel", Kind::Str),
    ("logging/dataTrace", "dataTraceEnabled", Kind::Bool),
    ("throttling/burstLimit", "throttlingBurstLimit", Kind::Int),
    ("throttling/rateLimit", "throttlingRateLimit", Kind::Str),
    ("caching/enabled", "cachingEnabled", Kind::Bool),
    ("caching/ttlInSeconds", "cacheTtlInSeconds", Kind::Int),
    ("caching/dataEncrypted", "cacheDataEncrypted", Kind::Bool),
    (
        "caching/requireAuthorizationForCacheControl",
        "requireAuthorizationForCacheControl",
        Kind::Bool,
    ),
    (
        "caching/unauthorizedCacheControlHeaderStrategy",
        "unauthorizedCacheControlHeaderStrategy",
        Kind::Str,
    ),
];

/// A new `methodSettings` entry with AWS's defaults (the account's throttling: 10,000 requests a
/// second, a burst of 5,000).
fn default_method_setting() -> Value {
    json!({
        "metricsEnabled": false,
        "loggingLevel": "OFF",
        "dataTraceEnabled": false,
        "throttlingBurstLimit": 5000,
        "throttlingRateLimit": 10000.0,
        "cachingEnabled": false,
        "cacheTtlInSeconds": 300,
        "cacheDataEncrypted": false,
        "requireAuthorizationForCacheControl": true,
        "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER"
    })
}

/// UpdateStage's paths for `accessLogSettings` and `methodSettings`, as AWS takes them:
/// `replace /accessLogSettings/destinationArn|format`, `remove /accessLogSettings`, `replace
/// /{key}/{setting}` (`/*/*/throttling/rateLimit`, `/pets/GET/metrics/enabled`; the key as
/// GetStage lists it, `~1` also read as `/`), `remove /{key}`. `Ok(false)`: not one of these.
pub(super) fn patch_stage_setting(
    stage: &mut Map<String, Value>,
    verb: &str,
    path: &str,
    value: Option<&Value>,
) -> Result<bool, ServiceError> {
    let invalid_value = || bad_request(format!("Invalid patch value specified for {path}"));
    if path == "/accessLogSettings" {
        if verb != "remove" {
            return Err(bad_request(format!(
                "Invalid patch operation specified: {verb} {path}"
            )));
        }
        stage.remove("accessLogSettings");
        return Ok(true);
    }
    if let Some(field) = path.strip_prefix("/accessLogSettings/") {
        if !matches!(field, "destinationArn" | "format") || verb == "remove" {
            return Err(bad_request(format!("Invalid patch path {path}")));
        }
        let text = convert(Kind::Str, value, path)?;
        let t = text.as_str().unwrap_or("");
        if field == "destinationArn" && !t.starts_with("arn:") {
            return Err(bad_request(format!("Invalid ARN specified in the request: {t}")));
        }
        if field == "format" && !t.contains("$context.requestId") && !t.contains("$context.extendedRequestId")
        {
            return Err(bad_request(
                "Access Log format must contain at least one of $context.requestId or $context.extendedRequestId",
            ));
        }
        sub_map(stage, "accessLogSettings")?.insert(field.into(), text);
        return Ok(true);
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(false);
    };
    let Some((key, setting)) = METHOD_SETTING_FIELDS.iter().find_map(|f| {
        rest.strip_suffix(f.0)
            .and_then(|k| k.strip_suffix('/'))
            .map(|k| (k, f))
    }) else {
        // `remove /{key}`: a whole entry, when the stage has one under that key.
        let key = unescape(rest);
        if verb == "remove"
            && let Some(settings) = stage.get_mut("methodSettings").and_then(Value::as_object_mut)
            && settings.remove(&key).is_some()
        {
            return Ok(true);
        }
        return Ok(false);
    };
    let key = unescape(key);
    if !is_method_setting_key(&key) {
        return Err(bad_request(format!("Invalid method setting path: {path}")));
    }
    if verb != "replace" {
        return Err(bad_request(format!(
            "Invalid patch operation specified: {verb} {path}"
        )));
    }
    let (_, name, kind) = *setting;
    let converted = match (name, kind) {
        ("throttlingRateLimit", _) => {
            let text = convert(Kind::Str, value, path)?;
            let rate = text
                .as_str()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .filter(|r| r.is_finite() && *r >= 0.0)
                .ok_or_else(invalid_value)?;
            json!(rate)
        }
        ("throttlingBurstLimit", _) => {
            let n = convert(Kind::Int, value, path)?;
            if n.as_i64().is_none_or(|n| !(0..=i64::from(i32::MAX)).contains(&n)) {
                return Err(invalid_value());
            }
            n
        }
        ("loggingLevel", _) => {
            let level = convert(Kind::Str, value, path)?;
            if !["OFF", "ERROR", "INFO"].contains(&level.as_str().unwrap_or("")) {
                return Err(bad_request(format!(
                    "Invalid logging level: {}. Valid values are OFF, ERROR, INFO",
                    level.as_str().unwrap_or("")
                )));
            }
            level
        }
        (_, kind) => convert(kind, value, path)?,
    };
    let settings = sub_map(stage, "methodSettings")?;
    let entry = settings.entry(key).or_insert_with(default_method_setting);
    if let Value::Object(entry) = entry {
        entry.insert(name.into(), converted);
    }
    Ok(true)
}

/// `*/*`, or a resource path (no leading `/`, or `*`) then `/` and a verb (or `*`).
fn is_method_setting_key(key: &str) -> bool {
    let Some((path, verb)) = key.rsplit_once('/') else {
        return false;
    };
    [
        "*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ]
    .contains(&verb)
        && !path.is_empty()
        && !path.starts_with('/')
}
