//! `kind: RestApi` (SPEC §2, §12): name, description, endpoint types, settings, stage settings,
//! tags, deletion policy.
//!
//! Must not: look at other documents.

use super::Ctx;
use std::collections::BTreeMap;

use crate::desired::{
    AccessLogSettings, ApiSettings, EndpointType, Meta, MethodSetting, RestApi, StageSettings,
};
use crate::manifest::fields::{
    Diags, bool_field, check_keys, deletion_policy, describe, enum_field, int_field, string_field, string_map,
};
use crate::manifest::subst::substitute_tree;
use crate::manifest::yaml::{Node, Value};

pub(super) fn load_api(spec: &mut Node, meta: Meta, ctx: &Ctx<'_>, ds: &mut Diags<'_>) -> Option<RestApi> {
    if !check_keys(
        spec,
        "spec",
        &[
            "name",
            "description",
            "endpointConfiguration",
            "binaryMediaTypes",
            "minimumCompressionSize",
            "apiKeySource",
            "disableExecuteApiEndpoint",
            "policy",
            "stages",
            "tags",
            "deletionPolicy",
            "driftPolicy",
            "ignoreDifferences",
        ],
        ds,
    ) {
        return None;
    }
    substitute_tree(spec, &ctx.vars(None), &[], ds);
    let name = string_field(spec, "name", "spec", ds).unwrap_or_else(|| meta.name.clone());
    if name.is_empty() || name.len() > 1024 {
        let pos = spec.get("name").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(pos, "spec.name: must be 1–1024 characters");
    }
    let description = string_field(spec, "description", "spec", ds);
    let endpoint_types = spec.get("endpointConfiguration").and_then(|e| {
        if !check_keys(e, "spec.endpointConfiguration", &["types"], ds) {
            return None;
        }
        let types = e.get("types")?;
        let Value::Seq(items) = &types.value else {
            ds.at(
                types.pos,
                format!(
                    "spec.endpointConfiguration.types: expected a list, found {}",
                    describe(types)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        for it in items {
            match it.as_str() {
                Some("EDGE") => out.push(EndpointType::Edge),
                Some("REGIONAL") => out.push(EndpointType::Regional),
                Some("PRIVATE") => out.push(EndpointType::Private),
                _ => ds.at(
                    it.pos,
                    format!(
                        "spec.endpointConfiguration.types: expected EDGE, REGIONAL or PRIVATE, found {}",
                        describe(it)
                    ),
                ),
            }
        }
        Some(out)
    });
    let binary_media_types = spec.get("binaryMediaTypes").and_then(|b| {
        let Value::Seq(items) = &b.value else {
            ds.at(
                b.pos,
                format!("spec.binaryMediaTypes: expected a list of media types, found {}", describe(b)),
            );
            return None;
        };
        let mut out = Vec::new();
        for it in items {
            match it.as_str() {
                Some(t) if t.contains('/') => out.push(t.to_owned()),
                _ => ds.at(
                    it.pos,
                    format!(
                        "spec.binaryMediaTypes: expected a media type (type/subtype, e.g. image/png or */*), found {}",
                        describe(it)
                    ),
                ),
            }
        }
        Some(out)
    });
    let settings = ApiSettings {
        binary_media_types,
        // AWS's range: 0 bytes to 10 MiB.
        minimum_compression_size: int_field(spec, "minimumCompressionSize", "spec", 0..=10_485_760, ds),
        api_key_source: enum_field(spec, "apiKeySource", "spec", &["HEADER", "AUTHORIZER"], ds),
        disable_execute_api_endpoint: bool_field(spec, "disableExecuteApiEndpoint", "spec", ds),
        policy: spec.get("policy").and_then(|p| match &p.value {
            Value::Map(_) => Some(p.to_json()),
            // A JSON document in a string, as the console shows it.
            Value::String(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) if v.is_object() => Some(v),
                _ => {
                    ds.at(p.pos, "spec.policy: expected a policy document (a mapping, or a JSON object in a string)");
                    None
                }
            },
            _ => {
                ds.at(
                    p.pos,
                    format!("spec.policy: expected a policy document (a mapping), found {}", describe(p)),
                );
                None
            }
        }),
    };
    let stages = spec.get("stages").map(|s| load_stages(s, ds)).unwrap_or_default();
    let tags = string_map(spec, "tags", "spec", ds);
    let deletion_policy = deletion_policy(spec, ds);
    Some(RestApi {
        meta,
        name,
        description,
        endpoint_types,
        settings,
        stages,
        tags,
        deletion_policy,
    })
}

/// `spec.stages`: stage name → its settings (SPEC §12), each checked as AWS checks it.
fn load_stages(node: &Node, ds: &mut Diags<'_>) -> BTreeMap<String, StageSettings> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        ds.at(
            node.pos,
            format!(
                "spec.stages: expected a mapping of stage name to settings, found {}",
                describe(node)
            ),
        );
        return out;
    };
    for (k, stage) in entries {
        let name = &k.name;
        let what = format!("spec.stages.{name}");
        if name.is_empty()
            || name.len() > 128
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            ds.at(
                k.pos,
                format!("{what}: a stage name is 1–128 of a-z, A-Z, 0-9, _ and -"),
            );
        }
        if !check_keys(
            stage,
            &what,
            &[
                "description",
                "variables",
                "tracingEnabled",
                "methodSettings",
                "accessLogSettings",
            ],
            ds,
        ) {
            continue;
        }
        let variables = string_map(stage, "variables", &what, ds);
        if let Some(Value::Map(vars)) = stage.get("variables").map(|v| &v.value) {
            for (vk, vn) in vars {
                check_variable(&what, &vk.name, vk.pos, vn, ds);
            }
        }
        let settings = StageSettings {
            description: string_field(stage, "description", &what, ds),
            variables,
            tracing_enabled: bool_field(stage, "tracingEnabled", &what, ds),
            method_settings: stage
                .get("methodSettings")
                .map(|m| load_method_settings(m, &what, ds))
                .unwrap_or_default(),
            access_log: stage
                .get("accessLogSettings")
                .and_then(|a| load_access_log(a, &what, ds)),
        };
        out.insert(name.clone(), settings);
    }
    out
}

/// A stage variable as AWS takes it: the name of `A-Za-z0-9_` (not the operator's own `sfn_`
/// prefix, which its joint rollouts write), the value 1–512 of `A-Za-z0-9-._~:/?#&=,`.
fn check_variable(what: &str, name: &str, pos: crate::manifest::yaml::Pos, value: &Node, ds: &mut Diags<'_>) {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        ds.at(
            pos,
            format!("{what}.variables: {name:?} is not a stage variable name (A-Z, a-z, 0-9 and _)"),
        );
    } else if name.starts_with("sfn_") {
        ds.at(
            pos,
            format!(
                "{what}.variables.{name}: names starting with sfn_ are the operator's own (joint rollouts)"
            ),
        );
    }
    if let Some(v) = value.as_str()
        && (v.is_empty()
            || v.chars().count() > 512
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c)))
    {
        ds.at(
            value.pos,
            format!(
                "{what}.variables.{name}: a stage variable value is 1–512 of A-Z, a-z, 0-9 and -._~:/?#&=, (found {})",
                describe(value)
            ),
        );
    }
}

/// The HTTP verbs a method setting key may name (`*` for all).
const SETTING_VERBS: &[&str] = &[
    "*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Whether `key` is a method setting key as AWS keys them: `*/*`, or a resource path without its
/// leading `/` (or `*`) then `/` and a verb (`pets/GET`, `orders/{id}/DELETE`, `*/GET`).
pub(crate) fn is_setting_key(key: &str) -> bool {
    let Some((path, verb)) = key.rsplit_once('/') else {
        return false;
    };
    SETTING_VERBS.contains(&verb)
        && !path.is_empty()
        && !path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains("//")
}

fn load_method_settings(node: &Node, what: &str, ds: &mut Diags<'_>) -> BTreeMap<String, MethodSetting> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        ds.at(
            node.pos,
            format!("{what}.methodSettings: expected a mapping (\"*/*\" or \"RESOURCE_PATH/VERB\" to settings), found {}", describe(node)),
        );
        return out;
    };
    for (k, m) in entries {
        let at = format!("{what}.methodSettings[{:?}]", k.name);
        if !is_setting_key(&k.name) {
            ds.at(
                k.pos,
                format!(
                    "{what}.methodSettings: {:?} is not a method setting key (\"*/*\" for every method, or the resource path without its leading / then the verb: \"pets/GET\")",
                    k.name
                ),
            );
        }
        if !check_keys(
            m,
            &at,
            &[
                "throttlingBurstLimit",
                "throttlingRateLimit",
                "loggingLevel",
                "metricsEnabled",
                "dataTraceEnabled",
            ],
            ds,
        ) {
            continue;
        }
        let rate = m.get("throttlingRateLimit").and_then(|r| match &r.value {
            Value::Number(n) if n.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0) => n.as_f64(),
            _ => {
                ds.at(
                    r.pos,
                    format!("{at}.throttlingRateLimit: expected a number of requests per second (0 or more), found {}", describe(r)),
                );
                None
            }
        });
        out.insert(
            k.name.clone(),
            MethodSetting {
                throttling_burst_limit: int_field(
                    m,
                    "throttlingBurstLimit",
                    &at,
                    0..=i64::from(i32::MAX),
                    ds,
                ),
                throttling_rate_limit: rate,
                logging_level: enum_field(m, "loggingLevel", &at, &["OFF", "ERROR", "INFO"], ds),
                metrics_enabled: bool_field(m, "metricsEnabled", &at, ds),
                data_trace_enabled: bool_field(m, "dataTraceEnabled", &at, ds),
            },
        );
    }
    out
}

fn load_access_log(node: &Node, what: &str, ds: &mut Diags<'_>) -> Option<AccessLogSettings> {
    let at = format!("{what}.accessLogSettings");
    if !check_keys(node, &at, &["destinationArn", "format"], ds) {
        return None;
    }
    let destination_arn = string_field(node, "destinationArn", &at, ds);
    if let Some(arn) = &destination_arn
        && !arn.starts_with("arn:")
    {
        let pos = node.get("destinationArn").map_or(node.pos, |n| n.pos);
        ds.at(
            pos,
            format!("{at}.destinationArn: expected the ARN of a CloudWatch Logs log group or Firehose stream, found {arn:?}"),
        );
    }
    let format = string_field(node, "format", &at, ds);
    if let Some(f) = &format
        && !f.contains("$context.requestId")
        && !f.contains("$context.extendedRequestId")
    {
        let pos = node.get("format").map_or(node.pos, |n| n.pos);
        ds.at(
            pos,
            format!("{at}.format: must include $context.requestId or $context.extendedRequestId (AWS refuses it otherwise)"),
        );
    }
    Some(AccessLogSettings {
        destination_arn,
        format,
    })
}
