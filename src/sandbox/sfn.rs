//! Step Functions in the sandbox, `awsJson1_0`: a pure handler over [`SfnState`].
//! It never touches the network or the disk; the server persists the state when `mutated` is set.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::RequestContext;
use super::protocol::{
    Outcome, Reply, ServiceError, enum_message, invalid_arn, json_input, required, string, token, validation,
};
use super::store::{Qualifier, SfnState, StateMachine, Version, split_machine_arn};
use super::versions::publish_current;
use crate::asl::MachineType;

/// Whether an operation changes state (used for request counts and fault targeting).
pub fn is_write(operation: &str) -> bool {
    !(operation.starts_with("Describe")
        || operation.starts_with("List")
        || operation.starts_with("Get")
        || operation == "ValidateStateMachineDefinition"
        || operation == "TestState")
}

/// Known operations, so an unknown target counts as `Unknown` and answers `UnknownOperationException`.
pub fn operation(target_op: &str) -> &'static str {
    const OPS: &[&str] = &[
        "CreateStateMachine",
        "DescribeStateMachine",
        "UpdateStateMachine",
        "DeleteStateMachine",
        "ListStateMachines",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "ValidateStateMachineDefinition",
        "StartExecution",
        "StartSyncExecution",
        "DescribeExecution",
        "ListExecutions",
        "StopExecution",
        "GetExecutionHistory",
        "DescribeStateMachineForExecution",
        "TestState",
    ];
    OPS.iter()
        .find(|op| **op == target_op)
        .copied()
        .unwrap_or("Unknown")
}

/// Handles a read-only operation under a shared borrow; `None` when `op` is not one.
pub fn read(state: &SfnState, op: &str, body: &[u8], ctx: &RequestContext) -> Option<Outcome> {
    if is_write(op) || operation(op) == "Unknown" {
        return None;
    }
    let input = match json_input(body) {
        Ok(input) => input,
        Err(e) => return Some(Err(e)),
    };
    let result = match op {
        "DescribeStateMachine" => describe(state, &input),
        "ListStateMachines" => list(state, &input, ctx),
        "ListTagsForResource" => list_tags(state, &input),
        _ => validate_definition(&input),
    };
    Some(result)
}

/// Handles one request for operation `op` (the part after `AWSStepFunctions.`).
pub fn handle(state: &mut SfnState, op: &str, body: &[u8], ctx: &RequestContext, now: f64) -> Outcome {
    let input = json_input(body)?;
    match operation(op) {
        "CreateStateMachine" => create(state, &input, ctx, now),
        "DescribeStateMachine" => describe(state, &input),
        "UpdateStateMachine" => update(state, &input, now),
        "DeleteStateMachine" => delete(state, &input),
        "ListStateMachines" => list(state, &input, ctx),
        "TagResource" => tag(state, &input),
        "UntagResource" => untag(state, &input),
        "ListTagsForResource" => list_tags(state, &input),
        "ValidateStateMachineDefinition" => validate_definition(&input),
        _ => Err(ServiceError::bad(
            "UnknownOperationException",
            format!("Unknown operation {op}"),
        )),
    }
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    super::protocol::check_name_length(name)?;
    if crate::desired::is_valid_machine_name(name) {
        Ok(())
    } else {
        Err(ServiceError::bad(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ))
    }
}

fn check_role_arn(arn: &str) -> Result<(), ServiceError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        // An IAM ARN's account is 12 digits (IAM User Guide, "IAM ARNs").
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5;
    if ok {
        Ok(())
    } else {
        Err(ServiceError::bad(
            "InvalidArn",
            format!("Invalid Role Arn: '{arn}'"),
        ))
    }
}

/// Checks an unqualified state machine ARN's shape (`arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`).
fn check_machine_arn(arn: &str) -> Result<(), ServiceError> {
    match split_machine_arn(arn) {
        Some((_, Qualifier::None)) => Ok(()),
        _ => Err(invalid_arn(arn)),
    }
}

/// `publish` and `versionDescription` of a create or update (a description needs `publish`).
fn publish_request(input: &Map<String, Value>) -> Result<Option<Option<String>>, ServiceError> {
    let publish = match input.get("publish") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(validation("publish must be a boolean")),
    };
    let description = string(input, "versionDescription")?;
    if !publish && description.is_some() {
        return Err(validation(
            "Version description can only be set when publish is true",
        ));
    }
    if let Some(d) = description.filter(|d| d.chars().count() > 256) {
        return Err(validation(format!(
            "1 validation error detected: Value '{d}' at 'versionDescription' failed to satisfy constraint: Member must have length less than or equal to 256"
        )));
    }
    Ok(publish.then(|| description.map(str::to_string)))
}

/// The validator's findings (errors and warnings) about a definition for a machine of `kind`.
fn definition_problems(definition: &str, kind: MachineType) -> Vec<crate::asl::AslError> {
    match serde_json::from_str::<Value>(definition) {
        Err(err) => vec![crate::asl::AslError {
            path: crate::path::Path::root(),
            code: crate::asl::Code::SchemaValidationFailed,
            severity: crate::asl::Severity::Error,
            message: format!("JSON parse error: {err}"),
        }],
        Ok(value) => {
            let options = crate::asl::Options { machine_type: kind };
            crate::asl::validate_with(&value, &options)
        }
    }
}

/// Refuses a definition AWS would refuse (warnings do not refuse), in AWS's words.
fn check_definition(definition: &str, kind: MachineType) -> Result<(), ServiceError> {
    match crate::asl::refusal(&definition_problems(definition, kind)) {
        None => Ok(()),
        Some(message) => Err(ServiceError::bad("InvalidDefinition", message)),
    }
}

fn check_logging(value: Option<&Value>) -> Result<Value, ServiceError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(json!({"level": "OFF", "includeExecutionData": false}));
    };
    let Value::Object(map) = value else {
        return Err(validation("loggingConfiguration must be an object"));
    };
    let level = match map.get("level") {
        None => "OFF",
        Some(Value::String(level)) if ["ALL", "ERROR", "FATAL", "OFF"].contains(&level.as_str()) => level,
        Some(other) => return Err(validation(format!("Invalid logging level {other}"))),
    };
    let include = match map.get("includeExecutionData") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(validation("includeExecutionData must be a boolean")),
    };
    let mut out = json!({"level": level, "includeExecutionData": include});
    if let Some(destinations) = map.get("destinations") {
        if !destinations.is_array() {
            return Err(validation("destinations must be a list"));
        }
        if destinations.as_array().is_some_and(|d| !d.is_empty()) {
            out["destinations"] = destinations.clone();
        }
    }
    if level != "OFF" && out.get("destinations").is_none() {
        return Err(ServiceError::bad(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        ));
    }
    Ok(out)
}

fn check_tracing(value: Option<&Value>) -> Result<Value, ServiceError> {
    match value.filter(|v| !v.is_null()) {
        None => Ok(json!({"enabled": false})),
        Some(Value::Object(map)) => match map.get("enabled") {
            None => Ok(json!({"enabled": false})),
            Some(Value::Bool(b)) => Ok(json!({"enabled": b})),
            Some(_) => Err(validation("tracingConfiguration.enabled must be a boolean")),
        },
        Some(_) => Err(validation("tracingConfiguration must be an object")),
    }
}

/// `encryptionConfiguration` with AWS's rules: `type` required and one of the two; a
/// customer-managed key needs `kmsKeyId` (1-2048 characters) and keeps its data keys 60-900
/// seconds (300 when unset); an AWS-owned key takes neither.
pub(super) fn check_encryption(value: Option<&Value>) -> Result<Value, ServiceError> {
    const ERROR: &str = "InvalidEncryptionConfiguration";
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(super::store::sfn::aws_owned_key());
    };
    let Value::Object(map) = value else {
        return Err(validation("encryptionConfiguration must be an object"));
    };
    let kind = match map.get("type") {
        None | Some(Value::Null) => {
            return Err(validation(
                "1 validation error detected: Value null at 'encryptionConfiguration.type' failed to satisfy constraint: Member must not be null",
            ));
        }
        Some(Value::String(t)) if t == "AWS_OWNED_KEY" || t == "CUSTOMER_MANAGED_KMS_KEY" => t.as_str(),
        Some(other) => {
            let shown = other.as_str().map_or_else(|| other.to_string(), str::to_owned);
            return Err(validation(enum_message(
                "encryptionConfiguration.type",
                &shown,
                &["AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY"],
            )));
        }
    };
    let key = match map.get("kmsKeyId") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) if (1..=2048).contains(&k.chars().count()) => Some(k.clone()),
        Some(_) => {
            return Err(validation(
                "1 validation error detected: Value at 'encryptionConfiguration.kmsKeyId' failed to satisfy constraint: Member must have length between 1 and 2048",
            ));
        }
    };
    let reuse = match map.get("kmsDataKeyReusePeriodSeconds") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(n) if (60..=900).contains(&n) => Some(n),
            Some(n) if n < 60 => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{n}' at 'encryptionConfiguration.kmsDataKeyReusePeriodSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"
                )));
            }
            Some(n) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{n}' at 'encryptionConfiguration.kmsDataKeyReusePeriodSeconds' failed to satisfy constraint: Member must have value less than or equal to 900"
                )));
            }
            None => return Err(validation("kmsDataKeyReusePeriodSeconds must be an integer")),
        },
    };
    if kind == "AWS_OWNED_KEY" {
        if key.is_some() || reuse.is_some() {
            return Err(ServiceError::bad(
                ERROR,
                "Invalid Encryption Configuration: kmsKeyId and kmsDataKeyReusePeriodSeconds apply only to type CUSTOMER_MANAGED_KMS_KEY.",
            ));
        }
        return Ok(super::store::sfn::aws_owned_key());
    }
    let Some(key) = key else {
        return Err(ServiceError::bad(
            ERROR,
            "Invalid Encryption Configuration: 'kmsKeyId' is required when 'type' is 'CUSTOMER_MANAGED_KMS_KEY'",
        ));
    };
    Ok(json!({
        "type": kind,
        "kmsKeyId": key,
        "kmsDataKeyReusePeriodSeconds": reuse.unwrap_or(300),
    }))
}

pub(super) fn parse_tags(value: Option<&Value>) -> Result<IndexMap<String, String>, ServiceError> {
    let mut tags = IndexMap::new();
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(tags);
    };
    let Value::Array(items) = value else {
        return Err(validation("tags must be a list"));
    };
    for item in items {
        let key = item.get("key").and_then(Value::as_str);
        let val = item.get("value").and_then(Value::as_str).unwrap_or("");
        match key {
            Some(key) if (1..=128).contains(&key.chars().count()) && val.chars().count() <= 256 => {
                tags.insert(key.to_string(), val.to_string());
            }
            _ => {
                return Err(validation(
                    "Each tag needs a key of 1-128 characters and a value of at most 256",
                ));
            }
        }
    }
    if tags.len() > 50 {
        return Err(ServiceError::bad("TooManyTags", "Too many tags (at most 50)"));
    }
    Ok(tags)
}

pub(super) fn tags_json(tags: &IndexMap<String, String>) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
}

fn new_revision(state: &mut SfnState) -> String {
    state.next_revision += 1;
    // Revision ids look like AWS's (a UUID); only uniqueness matters.
    format!("00000000-0000-4000-8000-{:012x}", state.next_revision)
}

fn create(state: &mut SfnState, input: &Map<String, Value>, ctx: &RequestContext, now: f64) -> Outcome {
    let name = required(input, "name")?;
    let definition = required(input, "definition")?;
    let role_arn = required(input, "roleArn")?;
    check_name(name)?;
    check_role_arn(role_arn)?;
    let given = string(input, "type")?.unwrap_or("STANDARD");
    let Some(kind) = MachineType::parse(given) else {
        return Err(validation(enum_message("type", given, &["STANDARD", "EXPRESS"])));
    };
    check_definition(definition, kind)?;
    let logging = check_logging(input.get("loggingConfiguration"))?;
    let tracing = check_tracing(input.get("tracingConfiguration"))?;
    let encryption = check_encryption(input.get("encryptionConfiguration"))?;
    let tags = parse_tags(input.get("tags"))?;
    let publish = publish_request(input)?;
    let arn = format!(
        "arn:aws:states:{}:{}:stateMachine:{name}",
        ctx.region, ctx.account_id
    );
    if let Some(existing) = state.machines.get_mut(&arn) {
        let same = existing.definition == definition
            && existing.role_arn == role_arn
            && existing.kind == kind
            && existing.logging == logging
            && existing.tracing == tracing
            && existing.encryption == encryption;
        if !same {
            return Err(ServiceError::bad(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        let mut body = json!({"stateMachineArn": arn, "creationDate": existing.creation_date});
        let mut mutated = false;
        if let Some(description) = publish {
            let (version_arn, _, new) = publish_current(existing, description, now)?;
            body["stateMachineVersionArn"] = json!(version_arn);
            mutated = new;
        }
        return Ok(Reply {
            mutated,
            ..Reply::ok(body)
        });
    }
    let revision_id = new_revision(state);
    let mut machine = StateMachine {
        arn: arn.clone(),
        name: name.to_string(),
        definition: definition.to_string(),
        role_arn: role_arn.to_string(),
        kind,
        creation_date: now,
        logging,
        tracing,
        encryption,
        tags,
        revision_id,
        revised: false,
        versions: Default::default(),
        last_version: 0,
        aliases: Default::default(),
    };
    let mut body = json!({"stateMachineArn": arn, "creationDate": now});
    if let Some(description) = publish {
        body["stateMachineVersionArn"] = json!(publish_current(&mut machine, description, now)?.0);
    }
    state.machines.insert(arn, machine);
    Ok(Reply::changed(body))
}

fn lookup<'a>(state: &'a SfnState, input: &Map<String, Value>) -> Result<&'a StateMachine, ServiceError> {
    let arn = required(input, "stateMachineArn")?;
    check_machine_arn(arn)?;
    state.machines.get(arn).ok_or_else(|| {
        ServiceError::bad(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    })
}

/// A machine's configuration as `DescribeStateMachine` answers it (`revisionId` only once the
/// machine changed, as AWS shows it).
fn describe_json(m: &StateMachine) -> Value {
    let mut body = json!({
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m.definition,
        "roleArn": m.role_arn,
        "type": m.kind,
        "creationDate": m.creation_date,
        "loggingConfiguration": m.logging,
        "tracingConfiguration": m.tracing,
        "encryptionConfiguration": m.encryption,
    });
    if let Some(revision) = m.shown_revision() {
        body["revisionId"] = json!(revision);
    }
    body
}

/// A version as `DescribeStateMachine` answers it for the version's ARN.
fn describe_version(m: &StateMachine, v: &Version) -> Value {
    let mut body = describe_json(m);
    body["stateMachineArn"] = json!(m.version_arn(v.number));
    body["definition"] = json!(v.definition);
    body["roleArn"] = json!(v.role_arn);
    body["creationDate"] = json!(v.creation_date);
    body["loggingConfiguration"] = v.logging.clone();
    body["tracingConfiguration"] = v.tracing.clone();
    body["encryptionConfiguration"] = v.encryption.clone();
    match v.shown_revision() {
        Some(revision) => body["revisionId"] = json!(revision),
        None => {
            body.as_object_mut().map(|b| b.remove("revisionId"));
        }
    }
    if let Some(d) = &v.description {
        body["description"] = json!(d);
    }
    body
}

/// `DescribeStateMachine`: the machine, or the version a version ARN names.
fn describe(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "stateMachineArn")?;
    let missing = || {
        ServiceError::bad(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    };
    let (base, qualifier) = split_machine_arn(arn).ok_or_else(|| invalid_arn(arn))?;
    let m = state.machines.get(base).ok_or_else(missing)?;
    match qualifier {
        Qualifier::None => Ok(Reply::ok(describe_json(m))),
        Qualifier::Version(n) => {
            let v = m.versions.get(&n).ok_or_else(missing)?;
            Ok(Reply::ok(describe_version(m, v)))
        }
        Qualifier::Alias(_) => Err(missing()),
    }
}

fn update(state: &mut SfnState, input: &Map<String, Value>, now: f64) -> Outcome {
    let machine = lookup(state, input)?;
    let (arn, kind) = (machine.arn.clone(), machine.kind);
    let definition = string(input, "definition")?;
    let role_arn = string(input, "roleArn")?;
    let logging = input.get("loggingConfiguration").filter(|v| !v.is_null());
    let tracing = input.get("tracingConfiguration").filter(|v| !v.is_null());
    let encryption = input.get("encryptionConfiguration").filter(|v| !v.is_null());
    if definition.is_none()
        && role_arn.is_none()
        && logging.is_none()
        && tracing.is_none()
        && encryption.is_none()
    {
        return Err(ServiceError::bad(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, the EncryptionConfiguration or the TracingConfiguration must be specified",
        ));
    }
    if let Some(definition) = definition {
        check_definition(definition, kind)?;
    }
    if let Some(role_arn) = role_arn {
        check_role_arn(role_arn)?;
    }
    let logging = logging.map(|l| check_logging(Some(l))).transpose()?;
    let tracing = tracing.map(|t| check_tracing(Some(t))).transpose()?;
    let encryption = encryption.map(|e| check_encryption(Some(e))).transpose()?;
    let publish = publish_request(input)?;
    let next_revision = new_revision(state);
    let Some(m) = state.machines.get_mut(&arn) else {
        return Err(ServiceError::bad(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        ));
    };
    let changed = apply_update(m, definition, role_arn, logging, tracing);
    let changed = match encryption.filter(|e| *e != m.encryption) {
        Some(e) => {
            m.encryption = e;
            true
        }
        None => changed,
    };
    if changed {
        m.revision_id = next_revision;
        m.revised = true;
    }
    let mut body = json!({"updateDate": now});
    if let Some(revision) = m.shown_revision() {
        body["revisionId"] = json!(revision);
    }
    let mut published = false;
    if let Some(description) = publish {
        let (version_arn, _, new) = publish_current(m, description, now)?;
        body["stateMachineVersionArn"] = json!(version_arn);
        published = new;
    }
    Ok(Reply {
        mutated: changed || published,
        ..Reply::ok(body)
    })
}

/// Applies an update's fields to `m`; whether any changed (a definition that is the same JSON
/// is no change, as AWS sees it: no new revision).
fn apply_update(
    m: &mut StateMachine,
    definition: Option<&str>,
    role_arn: Option<&str>,
    logging: Option<Value>,
    tracing: Option<Value>,
) -> bool {
    let mut changed = false;
    let parse = |d: &str| serde_json::from_str::<Value>(d).ok();
    if let Some(definition) = definition.filter(|d| parse(d).is_none() || parse(d) != parse(&m.definition)) {
        m.definition = definition.to_string();
        changed = true;
    }
    if let Some(role_arn) = role_arn.filter(|r| *r != m.role_arn) {
        m.role_arn = role_arn.to_string();
        changed = true;
    }
    if let Some(logging) = logging.filter(|l| *l != m.logging) {
        m.logging = logging;
        changed = true;
    }
    if let Some(tracing) = tracing.filter(|t| *t != m.tracing) {
        m.tracing = tracing;
        changed = true;
    }
    changed
}

fn delete(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "stateMachineArn")?;
    if let Some((_, Qualifier::Version(_) | Qualifier::Alias(_))) = split_machine_arn(arn) {
        return Err(validation(format!(
            "Invalid Arn: '{arn}' is a version or alias ARN: delete it with DeleteStateMachineVersion or DeleteStateMachineAlias"
        )));
    }
    check_machine_arn(arn)?;
    // AWS answers success for a machine that does not exist (deletion is idempotent). Its
    // versions and aliases go with it, as AWS deletes them.
    let removed = state.machines.remove(arn).is_some();
    Ok(Reply {
        status: 200,
        body: Some(json!({})),
        mutated: removed,
    })
}

fn list(state: &SfnState, input: &Map<String, Value>, ctx: &RequestContext) -> Outcome {
    let max = match input.get("maxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            // AWS treats 0 as "the default".
            Some(0) => 100,
            Some(n) if n <= 1000 => n as usize,
            _ => return Err(validation("maxResults must be between 0 and 1000")),
        },
    };
    let prefix = format!("arn:aws:states:{}:{}:stateMachine:", ctx.region, ctx.account_id);
    let start = match string(input, "nextToken")? {
        None => None,
        Some(token) => match token::decode(token) {
            Some(after) if after.starts_with(&prefix) => Some(after),
            _ => {
                return Err(ServiceError::bad(
                    "InvalidToken",
                    format!("Invalid Token: '{token}'"),
                ));
            }
        },
    };
    let range = match &start {
        Some(after) => state
            .machines
            .range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
        None => state.machines.range::<String, _>(..),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (arn, m) in range.filter(|(arn, _)| arn.starts_with(&prefix)) {
        if items.len() == max {
            more = true;
            break;
        }
        items.push(json!({
            "stateMachineArn": arn,
            "name": m.name,
            "type": m.kind,
            "creationDate": m.creation_date,
        }));
        last = Some(arn);
    }
    let mut body = json!({"stateMachines": items});
    if let (true, Some(last)) = (more, last) {
        body["nextToken"] = Value::String(token::encode(last));
    }
    Ok(Reply::ok(body))
}

/// Versions and aliases carry no tags of their own: AWS answers `ResourceNotFound` for them.
fn check_tag_arn(arn: &str) -> Result<(), ServiceError> {
    match split_machine_arn(arn) {
        Some((_, Qualifier::Version(_) | Qualifier::Alias(_))) => Err(ServiceError::bad(
            "ResourceNotFound",
            format!("Resource not found: '{arn}'"),
        )),
        _ => check_machine_arn(arn),
    }
}

fn resource<'a>(
    state: &'a mut SfnState,
    input: &Map<String, Value>,
) -> Result<&'a mut StateMachine, ServiceError> {
    let arn = required(input, "resourceArn")?;
    check_tag_arn(arn)?;
    state
        .machines
        .get_mut(arn)
        .ok_or_else(|| ServiceError::bad("ResourceNotFound", format!("Resource not found: '{arn}'")))
}

fn tag(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    let tags = parse_tags(input.get("tags"))?;
    if input.get("tags").is_none_or(Value::is_null) {
        return Err(validation("tags must not be null"));
    }
    let m = resource(state, input)?;
    let mut merged = m.tags.clone();
    merged.extend(tags);
    if merged.len() > 50 {
        return Err(ServiceError::bad("TooManyTags", "Too many tags (at most 50)"));
    }
    m.tags = merged;
    Ok(Reply::changed(json!({})))
}

fn untag(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    let keys: Vec<String> = match input.get("tagKeys") {
        Some(Value::Array(keys)) => keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => return Err(validation("tagKeys must be a list of strings")),
    };
    let m = resource(state, input)?;
    let before = m.tags.len();
    m.tags.retain(|k, _| !keys.contains(k));
    let mutated = m.tags.len() != before;
    Ok(Reply {
        status: 200,
        body: Some(json!({})),
        mutated,
    })
}

fn list_tags(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "resourceArn")?;
    check_tag_arn(arn)?;
    let m = state
        .machines
        .get(arn)
        .ok_or_else(|| ServiceError::bad("ResourceNotFound", format!("Resource not found: '{arn}'")))?;
    Ok(Reply::ok(json!({"tags": tags_json(&m.tags)})))
}

fn validate_definition(input: &Map<String, Value>) -> Outcome {
    let definition = required(input, "definition")?;
    let kind = string(input, "type")?
        .and_then(MachineType::parse)
        .unwrap_or_default();
    let problems = definition_problems(definition, kind);
    let diagnostics: Vec<Value> = problems
        .iter()
        .map(|e| {
            let severity = if e.is_error() { "ERROR" } else { "WARNING" };
            let mut d = json!({"severity": severity, "code": e.code.as_str(), "message": e.message});
            if !e.path.0.is_empty() {
                d["location"] = Value::String(crate::asl::aws_location(&e.path));
            }
            d
        })
        .collect();
    let result = if problems.iter().any(|e| e.is_error()) {
        "FAIL"
    } else {
        "OK"
    };
    Ok(Reply::ok(
        json!({"result": result, "diagnostics": diagnostics, "truncated": false}),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::protocol::Wire;
    use super::*;

    /// An answer as the awsJson 1.0 wire carries it.
    struct Answer {
        body: Value,
        mutated: bool,
    }

    fn handle(state: &mut SfnState, op: &str, body: &[u8], ctx: &RequestContext, now: f64) -> Answer {
        let outcome = super::handle(state, op, body, ctx, now);
        let mutated = outcome.as_ref().is_ok_and(|r| r.mutated);
        Answer {
            body: Wire::AwsJson10.json(&outcome).1,
            mutated,
        }
    }

    fn ctx() -> RequestContext {
        RequestContext {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }

    const DEF: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;

    fn create_body(name: &str) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"name": name, "definition": DEF, "roleArn": "arn:aws:iam::123456789012:role/r"}),
        )
        .unwrap_or_default()
    }

    #[test]
    fn create_is_idempotent_and_conflicts_on_change() {
        let mut s = SfnState::default();
        let a = handle(&mut s, "CreateStateMachine", &create_body("m"), &ctx(), 1.0);
        assert!(a.mutated);
        let b = handle(&mut s, "CreateStateMachine", &create_body("m"), &ctx(), 2.0);
        assert_eq!(a.body, b.body);
        assert!(!b.mutated);
        let other =
            json!({"name": "m", "definition": DEF, "roleArn": "arn:aws:iam::123456789012:role/other"});
        let c = handle(
            &mut s,
            "CreateStateMachine",
            other.to_string().as_bytes(),
            &ctx(),
            3.0,
        );
        assert_eq!(c.body["__type"], "StateMachineAlreadyExists");
    }

    #[test]
    fn pagination_walks_every_machine_once() {
        let mut s = SfnState::default();
        for i in 0..5 {
            handle(
                &mut s,
                "CreateStateMachine",
                &create_body(&format!("m{i}")),
                &ctx(),
                1.0,
            );
        }
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = json!({"maxResults": 2});
            if let Some(t) = &token {
                req["nextToken"] = json!(t);
            }
            let r = handle(
                &mut s,
                "ListStateMachines",
                req.to_string().as_bytes(),
                &ctx(),
                1.0,
            );
            for m in r.body["stateMachines"].as_array().into_iter().flatten() {
                seen.push(m["name"].as_str().unwrap_or_default().to_string());
            }
            match r.body.get("nextToken").and_then(Value::as_str) {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4"]);
        let bad = handle(&mut s, "ListStateMachines", br#"{"nextToken":"zz"}"#, &ctx(), 1.0);
        assert_eq!(bad.body["__type"], "InvalidToken");
    }
}
