//! Step Functions versions and aliases in the sandbox (SPEC §9), `awsJson1_0`:
//! `PublishStateMachineVersion`, `ListStateMachineVersions`, `DeleteStateMachineVersion`,
//! `CreateStateMachineAlias`, `DescribeStateMachineAlias`, `UpdateStateMachineAlias`,
//! `DeleteStateMachineAlias`, `ListStateMachineAliases`: a pure handler over [`SfnState`], with
//! AWS's rules and AWS's error texts (those recorded in `tests/oracle/versions.jsonl` verbatim).
//!
//! `sfn`'s create and update publish through [`publish_current`]. Must not: start executions
//! (the runner resolves qualified ARNs through the store) or touch the network or the disk (the
//! server persists the state when `mutated` is set).

use serde_json::{Map, Value, json};

use super::protocol::{
    Outcome, Reply, ServiceError, invalid_arn, json_input, required, string, token, validation,
};
use super::store::{Alias, Qualifier, SfnState, StateMachine, split_machine_arn};

/// The operations this module serves.
pub const OPERATIONS: &[&str] = &[
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "DeleteStateMachineAlias",
    "ListStateMachineAliases",
];

use super::store::sfn::MAX_VERSIONS;
/// AWS's quota of aliases per state machine.
const MAX_ALIASES: usize = 100;

/// The operation's name if this module serves it.
pub fn operation(op: &str) -> Option<&'static str> {
    OPERATIONS.iter().find(|o| **o == op).copied()
}

type ReadOp = fn(&SfnState, &Map<String, Value>) -> Outcome;

/// Handles a read-only operation under a shared borrow; `None` when `op` is a write.
pub fn read(state: &SfnState, op: &str, body: &[u8]) -> Option<Outcome> {
    let read: ReadOp = match op {
        "ListStateMachineVersions" => list_versions,
        "DescribeStateMachineAlias" => describe_alias,
        "ListStateMachineAliases" => list_aliases,
        _ => return None,
    };
    Some(json_input(body).and_then(|input| read(state, &input)))
}

/// Handles one request for operation `op`.
pub fn handle(state: &mut SfnState, op: &str, body: &[u8], now: f64) -> Outcome {
    let input = json_input(body)?;
    match op {
        "PublishStateMachineVersion" => publish(state, &input, now),
        "DeleteStateMachineVersion" => delete_version(state, &input),
        "CreateStateMachineAlias" => create_alias(state, &input, now),
        "UpdateStateMachineAlias" => update_alias(state, &input, now),
        "DeleteStateMachineAlias" => delete_alias(state, &input),
        _ => read(state, op, body).unwrap_or_else(|| {
            Err(ServiceError::bad(
                "UnknownOperationException",
                format!("Unknown operation {op}"),
            ))
        }),
    }
}

fn machine_missing(arn: &str) -> ServiceError {
    ServiceError::bad(
        "StateMachineDoesNotExist",
        format!("State Machine Does Not Exist: '{arn}'"),
    )
}

fn resource_missing() -> ServiceError {
    ServiceError::bad(
        "ResourceNotFound",
        "Request references a resource that does not exist.",
    )
}

/// The unqualified machine `key` names in `input`.
fn machine<'a>(
    state: &'a SfnState,
    input: &Map<String, Value>,
    key: &str,
) -> Result<&'a StateMachine, ServiceError> {
    let arn = required(input, key)?;
    match split_machine_arn(arn) {
        Some((base, Qualifier::None)) => state.machines.get(base).ok_or_else(|| machine_missing(arn)),
        _ => Err(invalid_arn(arn)),
    }
}

fn description(input: &Map<String, Value>, key: &str) -> Result<Option<String>, ServiceError> {
    let text = string(input, key)?;
    if let Some(text) = text.filter(|t| t.chars().count() > 256) {
        return Err(validation(format!(
            "1 validation error detected: Value '{text}' at '{key}' failed to satisfy constraint: Member must have length less than or equal to 256"
        )));
    }
    Ok(text.map(str::to_string))
}

/// Publishes the machine's current revision (`PublishStateMachineVersion`, and `publish: true`
/// on create and update): the version's ARN, creation date, and whether it is new (publishing
/// an unchanged revision answers the version that holds it, as AWS does).
pub fn publish_current(
    machine: &mut StateMachine,
    description: Option<String>,
    now: f64,
) -> Result<(String, f64, bool), ServiceError> {
    let Some((number, created, new)) = machine.publish_current(description, now) else {
        return Err(ServiceError::new(
            402,
            "ServiceQuotaExceededException",
            format!(
                "Maximum number of versions ({MAX_VERSIONS}) reached for state machine '{}'",
                machine.arn
            ),
        ));
    };
    Ok((machine.version_arn(number), created, new))
}

fn publish(state: &mut SfnState, input: &Map<String, Value>, now: f64) -> Outcome {
    let arn = machine(state, input, "stateMachineArn")?.arn.clone();
    let wanted = string(input, "revisionId")?;
    let description = description(input, "description")?;
    let Some(m) = state.machines.get_mut(&arn) else {
        return Err(machine_missing(&arn));
    };
    let current = m.shown_revision().unwrap_or("INITIAL").to_string();
    if let Some(wanted) = wanted.filter(|w| *w != current) {
        return Err(ServiceError::bad(
            "ConflictException",
            format!(
                "Failed to publish the State Machine version for revision {wanted}. The current State Machine revision is {current}."
            ),
        ));
    }
    let (version_arn, created, new) = publish_current(m, description, now)?;
    let body = json!({"stateMachineVersionArn": version_arn, "creationDate": created});
    Ok(if new {
        Reply::changed(body)
    } else {
        Reply::ok(body)
    })
}

/// `maxResults` of a listing (0 or none: 100; AWS's maximum: 1000).
fn max_results(input: &Map<String, Value>) -> Result<usize, ServiceError> {
    match input.get("maxResults") {
        None | Some(Value::Null) => Ok(100),
        Some(v) => match v.as_u64() {
            Some(0) => Ok(100),
            Some(n) if n <= 1000 => Ok(n as usize),
            _ => Err(validation(format!(
                "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
            ))),
        },
    }
}

/// One page of `items` (ARN, creation date) as `{KEY: [{ARN_KEY, creationDate}], nextToken}`.
fn listing(items: &[(String, f64)], input: &Map<String, Value>, key: &str, arn_key: &str) -> Outcome {
    let max = max_results(input)?;
    let given = string(input, "nextToken")?;
    let invalid = || ServiceError::bad("InvalidToken", "Invalid Token: 'Invalid token'");
    let after = given.map(|t| token::decode(t).ok_or_else(invalid)).transpose()?;
    let (page, next) =
        token::page(items, |(arn, _)| arn.clone(), after.as_deref(), max).ok_or_else(invalid)?;
    let page: Vec<Value> = page
        .iter()
        .map(|(arn, date)| json!({arn_key: arn, "creationDate": date}))
        .collect();
    let mut body = json!({key: page});
    if let Some(next) = next {
        body["nextToken"] = json!(next);
    }
    Ok(Reply::ok(body))
}

fn list_versions(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    let m = machine(state, input, "stateMachineArn")?;
    let items: Vec<(String, f64)> = m
        .versions
        .values()
        .rev()
        .map(|v| (m.version_arn(v.number), v.creation_date))
        .collect();
    listing(&items, input, "stateMachineVersions", "stateMachineVersionArn")
}

fn delete_version(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "stateMachineVersionArn")?;
    let Some((base, Qualifier::Version(number))) = split_machine_arn(arn) else {
        return Err(invalid_arn(arn));
    };
    // Deleting a version that does not exist succeeds, as AWS answers it.
    let Some(m) = state.machines.get_mut(base) else {
        return Ok(Reply::ok(json!({})));
    };
    let holders: Vec<&str> = m
        .aliases
        .values()
        .filter(|a| a.routing.iter().any(|(v, _)| *v == number))
        .map(|a| a.name.as_str())
        .collect();
    if !holders.is_empty() {
        return Err(ServiceError::bad(
            "ConflictException",
            format!(
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                holders.join(", ")
            ),
        ));
    }
    let removed = m.versions.remove(&number).is_some();
    Ok(Reply {
        status: 200,
        body: Some(json!({})),
        mutated: removed,
    })
}

/// AWS's alias name rule: 1–80 of `[a-zA-Z0-9_.-]`, not only digits (a number names a version).
fn check_alias_name(name: &str) -> Result<(), ServiceError> {
    if name.chars().count() > 80 {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let ok = !name.is_empty() && name.chars().all(allowed) && !name.chars().all(|c| c.is_ascii_digit());
    if ok {
        return Ok(());
    }
    Err(validation(format!(
        "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"
    )))
}

/// One `routingConfiguration` entry as given: version ARN and weight.
fn routing_entries(value: Option<&Value>) -> Result<Vec<(String, i64)>, ServiceError> {
    let Some(Value::Array(items)) = value else {
        return Err(validation(
            "1 validation error detected: Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null",
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let arn = item.get("stateMachineVersionArn").and_then(Value::as_str);
            let weight = item.get("weight").and_then(Value::as_i64);
            match (arn, weight) {
                (Some(arn), Some(weight)) => Ok((arn.to_string(), weight)),
                (None, _) => Err(validation(format!(
                    "1 validation error detected: Value null at 'routingConfiguration.{}.member.stateMachineVersionArn' failed to satisfy constraint: Member must not be null",
                    i + 1
                ))),
                (_, None) => Err(validation(format!(
                    "1 validation error detected: Value null at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must not be null",
                    i + 1
                ))),
            }
        })
        .collect()
}

/// The entries' shape: one or two, distinct, weights 0–100 summing to 100 (AWS's texts).
fn check_routing_shape(entries: &[(String, i64)]) -> Result<(), ServiceError> {
    let arns: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
    let listed = format!("[{}]", arns.join(", "));
    if entries.is_empty() || entries.len() > 2 {
        let items: Vec<String> = entries
            .iter()
            .map(|(a, w)| format!("RoutingConfigurationListItem(stateMachineVersionArn={a}, weight={w})"))
            .collect();
        let bound = if entries.is_empty() {
            "greater than or equal to 1"
        } else {
            "less than or equal to 2"
        };
        return Err(validation(format!(
            "1 validation error detected: Value '[{}]' at 'routingConfiguration' failed to satisfy constraint: Member must have length {bound}",
            items.join(", ")
        )));
    }
    if entries.len() == 2 && arns[0] == arns[1] {
        return Err(validation(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: {listed}"
        )));
    }
    for (i, (_, w)) in entries.iter().enumerate() {
        if *w < 0 {
            return Err(validation(format!(
                "Invalid value for parameter routingConfiguration[{}].weight, value: {w}, valid min value: 0",
                i + 1
            )));
        }
        if *w > 100 {
            return Err(validation(format!(
                "1 validation error detected: Value '{w}' at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must have value less than or equal to 100",
                i + 1
            )));
        }
    }
    if entries.iter().map(|(_, w)| w).sum::<i64>() != 100 {
        let weights: Vec<String> = entries.iter().map(|(_, w)| w.to_string()).collect();
        return Err(validation(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            weights.join(", ")
        )));
    }
    Ok(())
}

/// A checked routing configuration: the machine its versions belong to (which must be `owner`
/// when given) and `(version, weight)` pairs. A version that does not exist is `ResourceNotFound`.
fn check_routing(
    state: &SfnState,
    value: Option<&Value>,
    owner: Option<&str>,
) -> Result<(String, Vec<(u64, u32)>), ServiceError> {
    let entries = routing_entries(value)?;
    check_routing_shape(&entries)?;
    let listed = format!(
        "[{}]",
        entries
            .iter()
            .map(|(a, _)| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut machine: Option<&str> = owner;
    let mut routing = Vec::new();
    for (arn, weight) in &entries {
        let Some((base, Qualifier::Version(number))) = split_machine_arn(arn) else {
            return Err(validation(format!(
                "Routing configuration must contain state machine version ARNs. Received: {listed}"
            )));
        };
        if machine.is_some_and(|m| m != base) {
            return Err(validation(format!(
                "Routing configuration must contain versions of the same state machine as the alias. Received: {listed}"
            )));
        }
        machine = Some(base);
        let exists = state
            .machines
            .get(base)
            .is_some_and(|m| m.versions.contains_key(&number));
        if !exists {
            return Err(resource_missing());
        }
        routing.push((number, *weight as u32));
    }
    Ok((machine.unwrap_or_default().to_string(), routing))
}

fn create_alias(state: &mut SfnState, input: &Map<String, Value>, now: f64) -> Outcome {
    let name = required(input, "name")?;
    check_alias_name(name)?;
    let description = description(input, "description")?;
    let (machine_arn, routing) = check_routing(state, input.get("routingConfiguration"), None)?;
    let Some(m) = state.machines.get_mut(&machine_arn) else {
        return Err(machine_missing(&machine_arn));
    };
    let arn = m.alias_arn(name);
    if let Some(existing) = m.aliases.get(name) {
        if existing.description == description && existing.routing == routing {
            return Ok(Reply::ok(
                json!({"stateMachineAliasArn": arn, "creationDate": existing.creation_date}),
            ));
        }
        return Err(ServiceError::bad(
            "ConflictException",
            "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
        ));
    }
    if m.aliases.len() >= MAX_ALIASES {
        return Err(ServiceError::new(
            402,
            "ServiceQuotaExceededException",
            format!("Maximum number of aliases ({MAX_ALIASES}) reached for state machine '{machine_arn}'"),
        ));
    }
    m.aliases.insert(
        name.to_string(),
        Alias {
            name: name.to_string(),
            description,
            routing,
            creation_date: now,
            update_date: now,
        },
    );
    Ok(Reply::changed(
        json!({"stateMachineAliasArn": arn, "creationDate": now}),
    ))
}

/// The machine ARN and alias name an alias ARN names (not checked for existence).
fn alias_arn(arn: &str) -> Result<(&str, &str), ServiceError> {
    match split_machine_arn(arn) {
        Some((base, Qualifier::Alias(name))) => Ok((base, name)),
        _ => Err(invalid_arn(arn)),
    }
}

fn find_alias<'a>(state: &'a SfnState, arn: &str) -> Result<(&'a StateMachine, &'a Alias), ServiceError> {
    let (base, name) = alias_arn(arn)?;
    let m = state.machines.get(base).ok_or_else(resource_missing)?;
    let alias = m.aliases.get(name).ok_or_else(resource_missing)?;
    Ok((m, alias))
}

/// An alias as `DescribeStateMachineAlias` answers it.
fn alias_json(m: &StateMachine, a: &Alias) -> Value {
    let routing: Vec<Value> = a
        .routing
        .iter()
        .map(|(v, w)| json!({"stateMachineVersionArn": m.version_arn(*v), "weight": w}))
        .collect();
    let mut body = json!({
        "stateMachineAliasArn": m.alias_arn(&a.name), "name": a.name,
        "routingConfiguration": routing, "creationDate": a.creation_date, "updateDate": a.update_date,
    });
    if let Some(d) = &a.description {
        body["description"] = json!(d);
    }
    body
}

fn describe_alias(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "stateMachineAliasArn")?;
    let (m, alias) = find_alias(state, arn)?;
    Ok(Reply::ok(alias_json(m, alias)))
}

fn update_alias(state: &mut SfnState, input: &Map<String, Value>, now: f64) -> Outcome {
    let arn = required(input, "stateMachineAliasArn")?;
    let (base, name) = alias_arn(arn)?;
    let description = description(input, "description")?;
    let routing_given = input.get("routingConfiguration").filter(|v| !v.is_null());
    if description.is_none() && routing_given.is_none() {
        return Err(ServiceError::bad(
            "MissingRequiredParameter",
            "Either the description or the RoutingConfiguration must be specified",
        ));
    }
    let routing = routing_given
        .map(|r| check_routing(state, Some(r), Some(base)).map(|(_, routing)| routing))
        .transpose()?;
    let alias = state
        .machines
        .get_mut(base)
        .and_then(|m| m.aliases.get_mut(name))
        .ok_or_else(resource_missing)?;
    if let Some(description) = description {
        alias.description = Some(description);
    }
    if let Some(routing) = routing {
        alias.routing = routing;
    }
    alias.update_date = now;
    Ok(Reply::changed(json!({"updateDate": now})))
}

fn delete_alias(state: &mut SfnState, input: &Map<String, Value>) -> Outcome {
    let arn = required(input, "stateMachineAliasArn")?;
    let (base, name) = alias_arn(arn)?;
    // Deleting an alias that does not exist succeeds, as AWS answers it.
    let removed = state
        .machines
        .get_mut(base)
        .and_then(|m| m.aliases.shift_remove(name))
        .is_some();
    Ok(Reply {
        status: 200,
        body: Some(json!({})),
        mutated: removed,
    })
}

fn list_aliases(state: &SfnState, input: &Map<String, Value>) -> Outcome {
    let m = machine(state, input, "stateMachineArn")?;
    let items: Vec<(String, f64)> = m
        .aliases
        .values()
        .map(|a| (m.alias_arn(&a.name), a.creation_date))
        .collect();
    listing(&items, input, "stateMachineAliases", "stateMachineAliasArn")
}
