//! Tags on REST APIs and stages: finding the tag map an ARN names, and AWS's tag rules.

use serde_json::{Map, Value};

use super::*;

/// API Gateway's tag rules: at most 50 per resource; keys 1–128 characters, values at most 256,
/// both only letters, digits, spaces and `_ . : / = + - @`; keys may not start with `aws:`.
pub(super) fn check_tags(
    existing: &Map<String, Value>,
    new: &Map<String, Value>,
) -> Result<(), ServiceError> {
    const MAX_TAGS: usize = 50;
    let allowed =
        |c: char| c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c);
    for (k, v) in new {
        if k.is_empty() || k.chars().count() > 128 || !k.chars().all(allowed) || k.starts_with("aws:") {
            return Err(bad_request(format!(
                "Invalid tag key {k:?}: 1 to 128 letters, digits, spaces or _ . : / = + - @, not starting with aws:"
            )));
        }
        let v = v
            .as_str()
            .ok_or_else(|| bad_request(format!("Invalid tag value for key {k:?}: expected a string")))?;
        if v.chars().count() > 256 || !v.chars().all(allowed) {
            return Err(bad_request(format!(
                "Invalid tag value {v:?} for key {k:?}: at most 256 letters, digits, spaces or _ . : / = + - @"
            )));
        }
    }
    let total = existing
        .keys()
        .chain(new.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if total > MAX_TAGS {
        return Err(bad_request(format!(
            "Too many tags: a resource can have at most {MAX_TAGS}, this request would make {total}"
        )));
    }
    Ok(())
}

/// What a tagging ARN names: a REST API, or one of its stages.
enum Tagged<'a> {
    Api(&'a str),
    Stage(&'a str, &'a str),
}

const INVALID: &str = "Invalid resource identifier specified";

/// Reads `arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]`.
fn tagged(arn: &str) -> Result<Tagged<'_>, ServiceError> {
    let rest = arn
        .strip_prefix("arn:aws:apigateway:")
        .and_then(|r| r.split_once("::"))
        .map(|(_, p)| p)
        .ok_or_else(|| bad_request(format!("Invalid ARN specified in the request: {arn}")))?;
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["restapis", a] => Ok(Tagged::Api(a)),
        ["restapis", a, "stages", n] => Ok(Tagged::Stage(a, n)),
        _ => Err(not_found(INVALID)),
    }
}

/// The tags of a REST API or stage ARN, read-only.
pub(super) fn tags_ref(state: &ApiGatewayState, arn: &str) -> Result<Map<String, Value>, ServiceError> {
    let owner = match tagged(arn)? {
        Tagged::Api(a) => &find_api(state, a).map_err(|_| not_found(INVALID))?.info,
        Tagged::Stage(a, n) => {
            let api = find_api(state, a).map_err(|_| not_found(INVALID))?;
            let stage = api.stages.iter().find(|s| str_of(s, "stageName") == n);
            stage.ok_or_else(|| not_found(INVALID))?
        }
    };
    Ok(owner
        .get("tags")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default())
}

/// The tag map of a REST API or stage ARN.
pub(super) fn tags_mut<'s>(
    state: &'s mut ApiGatewayState,
    arn: &str,
) -> Result<&'s mut Map<String, Value>, ServiceError> {
    match tagged(arn)? {
        Tagged::Api(a) => {
            let api = find_api_mut(state, a).map_err(|_| not_found(INVALID))?;
            sub_map(&mut api.info, "tags")
        }
        Tagged::Stage(a, n) => {
            let api = find_api_mut(state, a).map_err(|_| not_found(INVALID))?;
            let stage = api.stages.iter_mut().find(|s| str_of(s, "stageName") == n);
            sub_map(stage.ok_or_else(|| not_found(INVALID))?, "tags")
        }
    }
}
