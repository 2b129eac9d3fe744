//! The Resource Groups Tagging API (`awsJson1_1`, `X-Amz-Target:
//! ResourceGroupsTaggingAPI_20170126.<Operation>`) over the sandbox's own resources: Step Functions
//! state machines (`states:stateMachine`) and API Gateway REST APIs (`apigateway:restapis`).
//! `GetResources` only, read-only, a pure function of the state.
//!
//! As on AWS (and moto): only resources with at least one tag are listed; `ResourceTypeFilters`
//! entries are `service` or `service:type`; every `TagFilters` entry must match (a key, and one of
//! its `Values` when any are given); pages hold `ResourcesPerPage` resources (1–100, default 50)
//! and end with an empty `PaginationToken`.

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::protocol::{Outcome, Reply, ServiceError, json_input, token};
use super::store::SandboxState;

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::bad("InvalidParameterException", message)
}

/// The operation name for counting: known operations as themselves, others as `Unknown`.
pub fn operation(target_op: &str) -> &'static str {
    match target_op {
        "GetResources" => "GetResources",
        "GetTagKeys" => "GetTagKeys",
        "GetTagValues" => "GetTagValues",
        "TagResources" => "TagResources",
        "UntagResources" => "UntagResources",
        _ => "Unknown",
    }
}

/// Answers one Tagging API request from the state.
pub fn handle(state: &SandboxState, op: &str, body: &[u8], ctx: &RequestContext) -> Outcome {
    let input = json_input(body)
        .map_err(|_| ServiceError::bad("SerializationException", "Request body is not a JSON object"))?;
    match op {
        "GetResources" => get_resources(state, &input, ctx),
        _ => Err(ServiceError::bad(
            "UnknownOperationException",
            format!("The sandbox's Tagging API supports GetResources only, not {op}"),
        )),
    }
}

/// One listed resource: ARN, Tagging API resource type, tags in their stored order.
type Listed = (String, &'static str, Vec<(String, String)>);

fn get_resources(state: &SandboxState, input: &Map<String, Value>, ctx: &RequestContext) -> Outcome {
    let per_page = match input.get("ResourcesPerPage") {
        None | Some(Value::Null) => 50,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => return Err(invalid("ResourcesPerPage must be between 1 and 100")),
        },
    };
    let tags_per_page = match input.get("TagsPerPage") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n @ 100..=500) => Some(n as usize),
            _ => return Err(invalid("TagsPerPage must be between 100 and 500")),
        },
    };
    let types = strings(input, "ResourceTypeFilters")?;
    if types.iter().any(|t| t.is_empty() || t.split(':').count() > 2) {
        return Err(invalid(
            "ResourceTypeFilters entries are service or service:resourceType",
        ));
    }
    let filters = tag_filters(input)?;
    let arns = strings(input, "ResourceARNList")?;
    if !arns.is_empty() && (!filters.is_empty() || !types.is_empty()) {
        return Err(invalid(
            "ResourceARNList can't be combined with TagFilters or ResourceTypeFilters",
        ));
    }
    let after =
        match input.get("PaginationToken").and_then(Value::as_str) {
            None | Some("") => None,
            Some(token) => Some(token::decode(token).ok_or_else(|| {
                ServiceError::bad("PaginationTokenExpiredException", "Token does not exist")
            })?),
        };

    let type_matches = |kind: &str| {
        types.is_empty()
            || types
                .iter()
                .any(|t| t == kind || kind.split_once(':').is_some_and(|(service, _)| t == service))
    };
    let tags_match = |tags: &[(String, String)]| {
        filters.iter().all(|(key, values)| {
            tags.iter()
                .any(|(k, v)| k == key && (values.is_empty() || values.contains(v)))
        })
    };
    let mut all: Vec<Listed> = listed(state, ctx)
        .into_iter()
        .filter(|(arn, kind, tags)| {
            !tags.is_empty()
                && type_matches(kind)
                && tags_match(tags)
                && (arns.is_empty() || arns.contains(arn))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));

    let mut page = Vec::new();
    let mut tag_count = 0;
    let mut more = false;
    for (arn, _, tags) in all
        .iter()
        .filter(|(arn, _, _)| after.as_ref().is_none_or(|a| arn > a))
    {
        let full = page.len() == per_page
            || tags_per_page.is_some_and(|max| !page.is_empty() && tag_count + tags.len() > max);
        if full {
            more = true;
            break;
        }
        tag_count += tags.len();
        page.push((arn, tags));
    }
    let token = match (more, page.last()) {
        (true, Some((arn, _))) => token::encode(arn),
        _ => String::new(),
    };
    let list: Vec<Value> = page
        .into_iter()
        .map(|(arn, tags)| {
            json!({
                "ResourceARN": arn,
                "Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"PaginationToken": token, "ResourceTagMappingList": list}),
    ))
}

/// Every resource the sandbox can list in the caller's region and account.
fn listed(state: &SandboxState, ctx: &RequestContext) -> Vec<Listed> {
    let prefix = format!("arn:aws:states:{}:{}:stateMachine:", ctx.region, ctx.account_id);
    let mut out: Vec<Listed> = state
        .sfn
        .machines
        .values()
        .filter(|m| m.arn.starts_with(&prefix))
        .map(|m| {
            let tags = m.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            (m.arn.clone(), "states:stateMachine", tags)
        })
        .collect();
    for api in &state.apigw.rest_apis {
        let Some(id) = api.info.get("id").and_then(Value::as_str) else {
            continue;
        };
        let tags = api
            .info
            .get("tags")
            .and_then(Value::as_object)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let arn = format!("arn:aws:apigateway:{}::/restapis/{id}", ctx.region);
        out.push((arn, "apigateway:restapis", tags));
    }
    out
}

fn strings(input: &Map<String, Value>, key: &str) -> Result<Vec<String>, ServiceError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{key} must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(invalid(format!("{key} must be a list of strings"))),
    }
}

/// `TagFilters`: at most 50 of `{Key, Values}` (up to 20 values each).
fn tag_filters(input: &Map<String, Value>) -> Result<Vec<(String, Vec<String>)>, ServiceError> {
    let Some(list) = input.get("TagFilters").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(invalid("TagFilters must be a list"));
    };
    if list.len() > 50 {
        return Err(invalid("TagFilters can hold at most 50 filters"));
    }
    list.iter()
        .map(|f| {
            let f = f
                .as_object()
                .ok_or_else(|| invalid("each TagFilter must be an object"))?;
            let key = f
                .get("Key")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| invalid("each TagFilter needs a Key"))?;
            let values = strings(f, "Values")?;
            if values.len() > 20 {
                return Err(invalid("a TagFilter can hold at most 20 Values"));
            }
            Ok((key.to_owned(), values))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::protocol::Wire;
    use super::*;

    /// An answer as the awsJson 1.1 wire carries it.
    struct TaggingResponse {
        status: u16,
        body: Value,
    }

    fn handle(state: &SandboxState, op: &str, body: &[u8], ctx: &RequestContext) -> TaggingResponse {
        let (status, body) = Wire::AwsJson11.json(&super::handle(state, op, body, ctx));
        TaggingResponse { status, body }
    }

    fn ctx() -> RequestContext {
        RequestContext {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }

    fn state(n: usize) -> SandboxState {
        let mut s = SandboxState::default();
        for i in 0..n {
            let body = json!({
                "name": format!("m{i:03}"),
                "definition": r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#,
                "roleArn": "arn:aws:iam::123456789012:role/StepFunctionsIamRole",
                "tags": if i % 2 == 0 {
                    json!([{"key": "team", "value": "a"}, {"key": "n", "value": i.to_string()}])
                } else {
                    json!([])
                },
            });
            let r = super::super::sfn::handle(
                &mut s.sfn,
                "CreateStateMachine",
                body.to_string().as_bytes(),
                &ctx(),
                0.0,
            );
            assert!(r.is_ok(), "{r:?}");
        }
        s
    }

    fn call(s: &SandboxState, input: Value) -> TaggingResponse {
        handle(s, "GetResources", input.to_string().as_bytes(), &ctx())
    }

    #[test]
    fn pages_walk_every_tagged_machine_once_and_skip_untagged_ones() {
        let s = state(25);
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let r = call(
                &s,
                json!({"ResourcesPerPage": 5, "PaginationToken": token, "ResourceTypeFilters": ["states:stateMachine"]}),
            );
            assert_eq!(r.status, 200, "{:?}", r.body);
            let list = r.body["ResourceTagMappingList"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(list.len() <= 5);
            seen.extend(
                list.iter()
                    .map(|m| m["ResourceARN"].as_str().unwrap_or("").to_owned()),
            );
            token = r.body["PaginationToken"].as_str().unwrap_or("").to_owned();
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen.len(), 13, "the 13 tagged of 25: {seen:?}");
        let mut sorted = seen.clone();
        sorted.dedup();
        assert_eq!(sorted, seen);
    }

    #[test]
    fn tag_filters_and_type_filters_narrow_and_bad_input_is_refused() {
        let s = state(6);
        let r = call(&s, json!({"TagFilters": [{"Key": "n", "Values": ["0", "4"]}]}));
        let arns: Vec<&str> = r.body["ResourceTagMappingList"]
            .as_array()
            .map(|l| l.iter().filter_map(|m| m["ResourceARN"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            arns,
            [
                "arn:aws:states:us-east-1:123456789012:stateMachine:m000",
                "arn:aws:states:us-east-1:123456789012:stateMachine:m004"
            ]
        );
        let r = call(&s, json!({"ResourceTypeFilters": ["apigateway:restapis"]}));
        assert_eq!(r.body["ResourceTagMappingList"], json!([]));
        let r = call(
            &s,
            json!({"ResourceTypeFilters": ["states"], "TagFilters": [{"Key": "team"}]}),
        );
        assert_eq!(r.body["ResourceTagMappingList"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            call(&s, json!({"ResourcesPerPage": 101})).body["__type"],
            "InvalidParameterException"
        );
        assert_eq!(call(&s, json!({"TagFilters": [{"Values": ["x"]}]})).status, 400);
        assert_eq!(
            call(&s, json!({"PaginationToken": "zz"})).body["__type"],
            "PaginationTokenExpiredException"
        );
        assert_eq!(handle(&s, "TagResources", b"{}", &ctx()).status, 400);
    }
}
