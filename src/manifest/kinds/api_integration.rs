//! `kind: ApiIntegration` (SPEC §2): the target REST API, path and method, the integration block,
//! the responses, the stage; and the request template a `stateMachineRef` with no templates gets.
//!
//! Must not: resolve references to other documents (the driver does, once all are read).

use std::collections::BTreeMap;

use super::{Ctx, Spec};
use crate::desired::{ApiIntegration, Integration, Meta, MethodFields, RestApiTarget};
use crate::manifest::fields::{
    Diags, bool_field, check_keys, deletion_policy, describe, enum_field, required_string, string_field,
    string_map,
};
use crate::manifest::subst::substitute_tree;
use crate::manifest::yaml::{Node, Value};

/// The `application/json` request template set for a `stateMachineRef` with no templates.
/// With an `alias`, the template starts the alias (`...:stateMachine:NAME:ALIAS`, SPEC §9); with a
/// joint rollout's stage `variable` too, the version that variable names when the stage sets it
/// (`...:NAME:3`), so a request the stage's canary serves runs the canary's version.
pub fn default_template(
    region: &str,
    account: &str,
    machine_name: &str,
    alias: Option<&str>,
    variable: Option<&str>,
) -> String {
    let qualifier = match (alias, variable) {
        (Some(a), Some(v)) => format!("#if($stageVariables.{v}):$stageVariables.{v}#else:{a}#end"),
        (Some(a), None) => format!(":{a}"),
        _ => String::new(),
    };
    format!(
        "{{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"stateMachineArn\": \"arn:aws:states:{region}:{account}:stateMachine:{machine_name}{qualifier}\"}}"
    )
}

const TEMPLATES: &[&str] = &["requestTemplates", "responseTemplates"];

pub(super) fn load_integration(
    spec: &mut Node,
    meta: Meta,
    ctx: &Ctx<'_>,
    ds: &mut Diags<'_>,
) -> Option<Spec> {
    const FIELDS: &[&str] = &[
        "restApi",
        "path",
        "httpMethod",
        "authorizationType",
        "apiKeyRequired",
        "requestParameters",
        "requestValidator",
        "integration",
        "stateMachineRef",
        "stateMachineAlias",
        "responses",
        "stage",
        "rollout",
        "deletionPolicy",
        "driftPolicy",
        "ignoreDifferences",
    ];
    if !check_keys(spec, "spec", FIELDS, ds) {
        return None;
    }
    substitute_tree(spec, &ctx.vars(None), TEMPLATES, ds);
    let mut api_ref = None;
    let rest_api = match spec.get("restApi") {
        None => {
            ds.at(spec.pos, "spec.restApi: required field missing");
            None
        }
        Some(r) => {
            if check_keys(r, "spec.restApi", &["ref", "name", "id"], ds) {
                let Value::Map(entries) = &r.value else {
                    return None;
                };
                if entries.len() != 1 {
                    ds.at(r.pos, "spec.restApi: exactly one of ref, name and id");
                    None
                } else {
                    let (k, v) = &entries[0];
                    match v.as_str() {
                        None => {
                            ds.at(
                                v.pos,
                                format!(
                                    "spec.restApi.{}: expected a string, found {}",
                                    k.name,
                                    describe(v)
                                ),
                            );
                            None
                        }
                        Some(s) => match k.name.as_str() {
                            "ref" => {
                                api_ref = Some((s.to_string(), v.pos));
                                Some(RestApiTarget::Ref(s.to_string()))
                            }
                            "name" => Some(RestApiTarget::Name(s.to_string())),
                            _ => Some(RestApiTarget::Id(s.to_string())),
                        },
                    }
                }
            } else {
                None
            }
        }
    };
    let raw_path = required_string(spec, "path", "spec", ds).unwrap_or_default();
    let path = normalize_path(&raw_path);
    if path.split('/').any(|p| p.contains(char::is_whitespace)) {
        let pos = spec.get("path").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(pos, "spec.path: must not contain whitespace");
    }
    const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];
    if spec.get("httpMethod").is_none() {
        ds.at(spec.pos, "spec.httpMethod: required field missing");
    }
    let http_method = enum_field(spec, "httpMethod", "spec", METHODS, ds).unwrap_or_default();
    let authorization_type = enum_field(spec, "authorizationType", "spec", &["NONE", "AWS_IAM"], ds)
        .unwrap_or_else(|| "NONE".into());
    let method = MethodFields {
        api_key_required: bool_field(spec, "apiKeyRequired", "spec", ds),
        request_parameters: spec.get("requestParameters").map(|p| method_parameters(p, ds)),
        request_validator: enum_field(
            spec,
            "requestValidator",
            "spec",
            &["NONE", "BODY", "PARAMETERS", "BODY_AND_PARAMETERS"],
            ds,
        ),
    };
    let sm_ref = spec.get("stateMachineRef").and_then(|n| match n.as_str() {
        Some(s) => Some((s.to_string(), n.pos)),
        None => {
            ds.at(
                n.pos,
                format!(
                    "spec.stateMachineRef: expected a StateMachine metadata.name, found {}",
                    describe(n)
                ),
            );
            None
        }
    });
    let sm_alias = spec.get("stateMachineAlias").and_then(|n| match n.as_str() {
        Some(s) => Some((s.to_string(), n.pos)),
        None => {
            ds.at(
                n.pos,
                format!(
                    "spec.stateMachineAlias: expected an alias name, found {}",
                    describe(n)
                ),
            );
            None
        }
    });
    if let (Some((_, pos)), None) = (&sm_alias, &sm_ref) {
        ds.at(
            *pos,
            "spec.stateMachineAlias: needs stateMachineRef (the machine whose alias it is)",
        );
    }
    let integration = match spec.get("integration") {
        None => {
            ds.at(spec.pos, "spec.integration: required field missing");
            None
        }
        Some(i) => load_integration_block(i, ctx, ds),
    };
    let mut responses = Vec::new();
    match spec.get("responses") {
        None => responses.push(crate::desired::Response {
            status_code: "200".into(),
            selection_pattern: None,
            response_templates: BTreeMap::new(),
        }),
        Some(r) => {
            match &r.value {
                Value::Seq(items) if !items.is_empty() => {
                    for it in items {
                        if !check_keys(
                            it,
                            "spec.responses[]",
                            &["statusCode", "selectionPattern", "responseTemplates"],
                            ds,
                        ) {
                            continue;
                        }
                        let status_code = match it.get("statusCode").map(|n| &n.value) {
                            Some(Value::String(s)) => s.clone(),
                            Some(Value::Number(n)) => n.to_string(),
                            _ => {
                                ds.at(it.pos, "spec.responses[].statusCode: required (e.g. \"200\")");
                                continue;
                            }
                        };
                        if !(status_code.len() == 3 && status_code.bytes().all(|b| b.is_ascii_digit())) {
                            let pos = it.get("statusCode").map(|n| n.pos).unwrap_or(it.pos);
                            ds.at(pos, format!("spec.responses[].statusCode: \"{status_code}\" is not an HTTP status code"));
                        }
                        responses.push(crate::desired::Response {
                            status_code,
                            selection_pattern: string_field(it, "selectionPattern", "spec.responses[]", ds),
                            response_templates: string_map(it, "responseTemplates", "spec.responses[]", ds),
                        });
                    }
                }
                _ => ds.at(
                    r.pos,
                    format!("spec.responses: expected a non-empty list, found {}", describe(r)),
                ),
            }
        }
    }
    let stage = string_field(spec, "stage", "spec", ds);
    let rollout = match spec.entry("rollout") {
        None => None,
        Some((key, node)) => {
            if stage.is_none() {
                ds.at(
                    key.pos,
                    "spec.rollout: needs spec.stage (the stage whose canary carries the rollout)",
                );
            }
            super::versioning::load_rollout(node, "spec.rollout", ds)
        }
    };
    let deletion_policy = deletion_policy(spec, ds);
    let state_machine_ref = sm_ref.as_ref().map(|(s, _)| s.clone());
    let state_machine_alias = sm_alias.as_ref().map(|(s, _)| s.clone());
    Some(Spec::Integration(
        Box::new(ApiIntegration {
            meta,
            rest_api: rest_api?,
            path,
            http_method,
            authorization_type,
            method,
            integration: integration?,
            state_machine_ref,
            state_machine_alias,
            responses,
            stage,
            rollout,
            deletion_policy,
        }),
        api_ref,
        sm_ref,
        sm_alias,
    ))
}

fn load_integration_block(i: &Node, ctx: &Ctx<'_>, ds: &mut Diags<'_>) -> Option<Integration> {
    const FIELDS: &[&str] = &[
        "type",
        "service",
        "action",
        "uri",
        "region",
        "integrationHttpMethod",
        "credentials",
        "requestTemplates",
        "passthroughBehavior",
        "timeoutInMillis",
        "requestParameters",
        "contentHandling",
    ];
    const W: &str = "spec.integration";
    if !check_keys(i, W, FIELDS, ds) {
        return None;
    }
    if let Some(t) = i.get("type")
        && t.as_str() != Some("AWS")
    {
        ds.at(
            t.pos,
            "spec.integration.type: only AWS (service integrations) is supported",
        );
    }
    let service = string_field(i, "service", W, ds);
    let action = string_field(i, "action", W, ds);
    let uri_field = string_field(i, "uri", W, ds);
    let region = string_field(i, "region", W, ds).unwrap_or_else(|| {
        ctx.region
            .map(str::to_string)
            .unwrap_or_else(|| "${AWS::Region}".into())
    });
    let uri = match (uri_field, service, action) {
        (Some(u), None, None) => Some(u),
        (None, Some(s), Some(a)) => Some(format!("arn:aws:apigateway:{region}:{s}:action/{a}")),
        _ => {
            ds.at(
                i.pos,
                "spec.integration: exactly one of uri, or service and action together",
            );
            None
        }
    };
    let timeout = match i.get("timeoutInMillis") {
        None => 29000,
        Some(n) => match &n.value {
            Value::Number(v) if v.as_i64().is_some_and(|t| (50..=29000).contains(&t)) => {
                v.as_i64().unwrap_or(29000) as i32
            }
            _ => {
                ds.at(
                    n.pos,
                    format!(
                        "spec.integration.timeoutInMillis: expected an integer from 50 to 29000, found {}",
                        describe(n)
                    ),
                );
                29000
            }
        },
    };
    Some(Integration {
        integration_type: "AWS".into(),
        uri: uri?,
        integration_http_method: string_field(i, "integrationHttpMethod", W, ds)
            .unwrap_or_else(|| "POST".into()),
        credentials: string_field(i, "credentials", W, ds),
        request_templates: string_map(i, "requestTemplates", W, ds),
        passthrough_behavior: enum_field(
            i,
            "passthroughBehavior",
            W,
            &["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"],
            ds,
        )
        .unwrap_or_else(|| "WHEN_NO_MATCH".into()),
        timeout_in_millis: timeout,
        request_parameters: i.get("requestParameters").map(|p| integration_parameters(p, ds)),
        content_handling: enum_field(
            i,
            "contentHandling",
            W,
            &["CONVERT_TO_TEXT", "CONVERT_TO_BINARY"],
            ds,
        ),
    })
}

/// Whether `name` is a method request parameter: `method.request.{path|querystring|header|multivaluequerystring|multivalueheader}.NAME`.
fn is_method_parameter(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("method.request.") else {
        return false;
    };
    [
        "path.",
        "querystring.",
        "header.",
        "multivaluequerystring.",
        "multivalueheader.",
    ]
    .iter()
    .any(|p| rest.strip_prefix(p).is_some_and(|n| !n.is_empty()))
}

/// `spec.requestParameters`: method request parameter → required (true or false).
fn method_parameters(node: &Node, ds: &mut Diags<'_>) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        ds.at(
            node.pos,
            format!("spec.requestParameters: expected a mapping of parameter to required (true or false), found {}", describe(node)),
        );
        return out;
    };
    for (k, v) in entries {
        if !is_method_parameter(&k.name) {
            ds.at(
                k.pos,
                format!(
                    "spec.requestParameters: {:?} is not a method request parameter (method.request.path.NAME, method.request.querystring.NAME or method.request.header.NAME)",
                    k.name
                ),
            );
        }
        match v.value {
            Value::Bool(b) => {
                out.insert(k.name.clone(), b);
            }
            _ => ds.at(
                v.pos,
                format!(
                    "spec.requestParameters.{}: expected true (required) or false, found {}",
                    k.name,
                    describe(v)
                ),
            ),
        }
    }
    out
}

/// `spec.integration.requestParameters`: integration request parameter
/// (`integration.request.{path|querystring|header}.NAME`) → its source (a method request
/// parameter, `context.…`, `stageVariables.…` or a quoted literal).
fn integration_parameters(node: &Node, ds: &mut Diags<'_>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = &node.value else {
        ds.at(
            node.pos,
            format!(
                "spec.integration.requestParameters: expected a mapping of parameter to source, found {}",
                describe(node)
            ),
        );
        return out;
    };
    for (k, v) in entries {
        let target_ok = k.name.strip_prefix("integration.request.").is_some_and(|rest| {
            [
                "path.",
                "querystring.",
                "header.",
                "multivaluequerystring.",
                "multivalueheader.",
            ]
            .iter()
            .any(|p| rest.strip_prefix(p).is_some_and(|n| !n.is_empty()))
        });
        if !target_ok {
            ds.at(
                k.pos,
                format!(
                    "spec.integration.requestParameters: {:?} is not an integration request parameter (integration.request.path.NAME, integration.request.querystring.NAME or integration.request.header.NAME)",
                    k.name
                ),
            );
        }
        match v.as_str() {
            Some(src)
                if is_method_parameter(src)
                    || src.starts_with("context.")
                    || src.starts_with("stageVariables.")
                    || (src.len() >= 2 && src.starts_with('\'') && src.ends_with('\'')) =>
            {
                out.insert(k.name.clone(), src.to_owned());
            }
            _ => ds.at(
                v.pos,
                format!(
                    "spec.integration.requestParameters.{}: expected a source (method.request.…, context.…, stageVariables.… or a quoted 'literal'), found {}",
                    k.name,
                    describe(v)
                ),
            ),
        }
    }
    out
}

/// `execution/` → `/execution`; `/` stays `/`.
fn normalize_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}
