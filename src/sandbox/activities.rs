//! Step Functions activities in the sandbox (issue 23), `awsJson1_0`: `CreateActivity`,
//! `DescribeActivity`, `DeleteActivity`, `ListActivities`, `GetActivityTask`, and the tagging
//! operations on an activity's ARN, as plain records in [`SfnState::activities`].
//!
//! The sandbox's executions do not schedule activity tasks, so `GetActivityTask` answers at
//! once with no task (what AWS answers when its long poll ends without one).
//!
//! Must not: touch state machines or executions.

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::protocol::{Outcome, Reply, ServiceError, json_input, required, string, token, validation};
use super::sfn::{check_encryption, parse_tags, tags_json};
use super::store::SfnState;

const OPS: &[&str] = &[
    "CreateActivity",
    "DescribeActivity",
    "DeleteActivity",
    "ListActivities",
    "GetActivityTask",
];

/// The operation, when this module answers it: the activity operations, and `TagResource`,
/// `UntagResource`, `ListTagsForResource` on an activity's ARN.
pub fn operation(op: &str, body: &[u8]) -> Option<&'static str> {
    if let Some(op) = OPS.iter().find(|o| **o == op) {
        return Some(op);
    }
    let tagging = ["TagResource", "UntagResource", "ListTagsForResource"];
    let tag_op = tagging.iter().find(|o| **o == op)?;
    let input = json_input(body).ok()?;
    let arn = input.get("resourceArn").and_then(Value::as_str)?;
    arn.split(':')
        .nth(5)
        .is_some_and(|kind| kind == "activity")
        .then_some(tag_op)
}

/// Whether an operation (as [`operation`] names it) changes state.
pub fn is_write(op: &str) -> bool {
    matches!(
        op,
        "CreateActivity" | "DeleteActivity" | "TagResource" | "UntagResource"
    )
}

/// Answers a read under a shared borrow; `None` for a write.
pub fn read(state: &SfnState, op: &str, body: &[u8], ctx: &RequestContext) -> Option<Outcome> {
    if is_write(op) {
        return None;
    }
    let input = match json_input(body) {
        Ok(input) => input,
        Err(e) => return Some(Err(e)),
    };
    Some(match op {
        "DescribeActivity" => describe(state, &input),
        "ListActivities" => list(state, &input, ctx),
        "GetActivityTask" => get_task(state, &input),
        _ => list_tags(state, &input),
    })
}

/// Handles one activity operation.
pub fn handle(state: &mut SfnState, op: &str, body: &[u8], ctx: &RequestContext, now: f64) -> Outcome {
    let input = json_input(body)?;
    match op {
        "CreateActivity" => create(state, &input, ctx, now),
        "DeleteActivity" => delete(state, &input),
        "TagResource" => tag(state, &input),
        "UntagResource" => untag(state, &input),
        _ => read(state, op, body, ctx).unwrap_or_else(|| Err(validation("unknown activity operation"))),
    }
}

/// AWS's rule for activity names: 1-80 characters, none of whitespace, brackets, wildcards,
/// `"#%\^|~`$&,;:/` or control characters.
fn check_name(name: &str) -> Result<(), ServiceError> {
    super::protocol::check_name_length(name)?;
    let bad = |c: char| {
        c.is_whitespace()
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            || ('\u{0}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
    };
    if name.chars().any(bad) {
        return Err(ServiceError::bad(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ));
    }
    Ok(())
}

fn check_arn(arn: &str) -> Result<(), ServiceError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "activity";
    match ok {
        true => Ok(()),
        false => Err(ServiceError::bad("InvalidArn", format!("Invalid Arn: '{arn}'"))),
    }
}

fn missing(arn: &str) -> ServiceError {
    ServiceError::bad(
        "ActivityDoesNotExist",
        format!("Activity Does Not Exist: '{arn}'"),
    )
}

fn create(state: &mut SfnState, input: &Map<String, Value>, ctx: &RequestContext, now: f64) -> Outcome {
    let name = required(input, "name")?;
    check_name(name)?;
    let encryption = check_encryption(input.get("encryptionConfiguration"))?;
    let tags = parse_tags(input.get("tags"))?;
    let arn = format!("arn:aws:states:{}:{}:activity:{name}", ctx.region, ctx.account_id);
    if let Some(existing) = state.activities.get(&arn) {
        // Idempotent by name (tags of a repeat are ignored), but the encryption cannot change:
        // a repeat that names an encryption configuration is refused.
        if input.get("encryptionConfiguration").is_some_and(|e| !e.is_null()) {
            return Err(ServiceError::bad(
                "ActivityAlreadyExists",
                format!("Activity already exists: '{arn}'. EncryptionConfiguration may not be updated."),
            ));
        }
        return Ok(Reply::ok(
            json!({"activityArn": arn, "creationDate": existing["creationDate"]}),
        ));
    }
    let record = json!({
        "activityArn": arn,
        "name": name,
        "creationDate": now,
        "encryptionConfiguration": encryption,
        "tags": tags_json(&tags),
    });
    state.activities.insert(arn.clone(), record);
    Ok(Reply::changed(json!({"activityArn": arn, "creationDate": now})))
}

fn find<'s>(state: &'s SfnState, input: &Map<String, Value>, key: &str) -> Result<&'s Value, ServiceError> {
    let arn = required(input, key)?;
    check_arn(arn)?;
    state.activities.get(arn).ok_or_else(|| missing(arn))
}

fn describe(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    let a = find(state, input, "activityArn")?;
    Ok(Reply::ok(json!({
        "activityArn": a["activityArn"],
        "name": a["name"],
        "creationDate": a["creationDate"],
        "encryptionConfiguration": a["encryptionConfiguration"],
    })))
}

fn delete(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "activityArn")?;
    check_arn(arn)?;
    let removed = state.activities.shift_remove(arn).is_some();
    Ok(Reply {
        status: 200,
        body: Some(json!({})),
        mutated: removed,
    })
}

fn list(state: &SfnState, input: &Map<String, Value>, ctx: &RequestContext) -> Outcome {
    let max = match input.get("maxResults").and_then(Value::as_u64) {
        None | Some(0) => 100,
        Some(n) if n <= 1000 => n as usize,
        Some(n) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
            )));
        }
    };
    let prefix = format!("arn:aws:states:{}:{}:activity:", ctx.region, ctx.account_id);
    let items: Vec<&Value> = state
        .activities
        .iter()
        .filter(|(arn, _)| arn.starts_with(&prefix))
        .map(|(_, a)| a)
        .collect();
    let given = string(input, "nextToken")?;
    let invalid = |t: &str| ServiceError::bad("InvalidToken", format!("Invalid Token: '{t}'"));
    let after = match given {
        Some(t) => Some(token::decode(t).ok_or_else(|| invalid(t))?),
        None => None,
    };
    let key = |a: &&Value| a["activityArn"].as_str().unwrap_or("").to_owned();
    let (page, next) =
        token::page(&items, key, after.as_deref(), max).ok_or_else(|| invalid(given.unwrap_or("")))?;
    let activities: Vec<Value> = page
        .iter()
        .map(|a| json!({"activityArn": a["activityArn"], "name": a["name"], "creationDate": a["creationDate"]}))
        .collect();
    let mut body = json!({"activities": activities});
    if let Some(next) = next {
        body["nextToken"] = json!(next);
    }
    Ok(Reply::ok(body))
}

/// No execution of the sandbox schedules an activity task: the answer is AWS's "no task".
fn get_task(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    find(state, input, "activityArn")?;
    Ok(Reply::ok(json!({})))
}

fn tags_of<'s>(state: &'s mut SfnState, input: &Map<String, Value>) -> Result<&'s mut Value, ServiceError> {
    let arn = required(input, "resourceArn")?;
    check_arn(arn)?;
    let not_found = || ServiceError::bad("ResourceNotFound", format!("Resource not found: '{arn}'"));
    state
        .activities
        .get_mut(arn)
        .map(|a| &mut a["tags"])
        .ok_or_else(not_found)
}

fn tag(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    if input.get("tags").is_none_or(Value::is_null) {
        return Err(validation("tags must not be null"));
    }
    let new = parse_tags(input.get("tags"))?;
    let tags = tags_of(state, input)?;
    let mut merged = parse_tags(Some(tags))?;
    merged.extend(new);
    if merged.len() > 50 {
        return Err(ServiceError::bad("TooManyTags", "Too many tags (at most 50)"));
    }
    *tags = tags_json(&merged);
    Ok(Reply::changed(json!({})))
}

fn untag(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    let keys: Vec<&str> = match input.get("tagKeys") {
        Some(Value::Array(keys)) => keys.iter().filter_map(Value::as_str).collect(),
        _ => return Err(validation("tagKeys must be a list of strings")),
    };
    let tags = tags_of(state, input)?;
    let mut kept = parse_tags(Some(tags))?;
    kept.retain(|k, _| !keys.contains(&k.as_str()));
    *tags = tags_json(&kept);
    Ok(Reply::changed(json!({})))
}

fn list_tags(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "resourceArn")?;
    check_arn(arn)?;
    let a = state
        .activities
        .get(arn)
        .ok_or_else(|| ServiceError::bad("ResourceNotFound", format!("Resource not found: '{arn}'")))?;
    Ok(Reply::ok(json!({"tags": a["tags"]})))
}
