//! `TestState` in the sandbox (SPEC §10), `awsJson1_0`: the request's fields read as AWS reads
//! them (JSON strings for `definition`, `input`, `variables`, `context`, `mock.result`), the state
//! run by [`crate::exec::teststate`] (with the Lambda stand-ins for an unmocked Task, on a clock
//! that never sleeps), and the answer's data encoded as AWS encodes it.
//!
//! Must not: run a state itself or decide TestState's rules (exec's `teststate.rs` does both);
//! touch the sandbox's stored state (TestState creates nothing).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::clock::now_ms;
use super::protocol::{Outcome, Reply, ServiceError, json_input, validation};
use crate::encoding::random_uuid_v4;
use crate::exec::teststate::{self, Configuration, Level, Mock, StateResult, StateTest};
use crate::exec::{ExecutionInfo, FieldValidation, SimulatedClock, TaskFailure, ThreadRandom};
use crate::standins::Functions;

/// Answers one `TestState` call; the state runs on the blocking pool (a stand-in may run a
/// program).
pub async fn handle(body: &[u8], ctx: &RequestContext, functions: Arc<Functions>) -> Outcome {
    let input = json_input(body)?;
    let test = request(&input)?;
    let info = execution_info(ctx, test.role_arn.as_deref());
    let ran = tokio::task::spawn_blocking(move || {
        let clock = SimulatedClock::new(now_ms());
        teststate::test_state(&test, &info, functions.as_ref(), &clock, &ThreadRandom)
    })
    .await
    .map_err(|e| ServiceError::new(500, "InternalFailure", e.to_string()))?;
    match ran {
        Ok(result) => Ok(Reply::ok(answer(&result))),
        Err(refusal) => Err(ServiceError::bad(refusal.code, refusal.message)),
    }
}

/// The execution the default context object describes: an EXPRESS one of a machine made for
/// this test, as AWS's TestState reports it.
fn execution_info(ctx: &RequestContext, role_arn: Option<&str>) -> ExecutionInfo {
    let machine = format!("TestState-{}", random_uuid_v4());
    let name = random_uuid_v4();
    let (region, account) = (&ctx.region, &ctx.account_id);
    ExecutionInfo {
        execution_arn: format!("arn:aws:states:{region}:{account}:express:{machine}:{name}"),
        state_machine_arn: format!("arn:aws:states:{region}:{account}:stateMachine:{machine}"),
        state_machine_name: machine,
        name,
        role_arn: role_arn.map_or_else(
            || format!("arn:aws:iam::{account}:role/TestStateRole"),
            str::to_string,
        ),
        express: true,
        region: region.clone(),
    }
}

/// AWS's message for a value outside an enum.
fn not_in_enum(field: &str, value: &str, allowed: &[&str]) -> ServiceError {
    validation(super::protocol::enum_message(field, value, allowed))
}

fn text<'a>(input: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ServiceError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(validation(format!("{key} must be a string"))),
    }
}

/// A JSON-string field, parsed; `what` names it in the refusal.
fn json_field(input: &Map<String, Value>, key: &str, what: &str) -> Result<Option<Value>, ServiceError> {
    match text(input, key)? {
        None => Ok(None),
        Some(s) => serde_json::from_str(s)
            .map(Some)
            .map_err(|e| validation(format!("{what} is not valid JSON: {e}"))),
    }
}

/// The request as exec's [`StateTest`].
fn request(input: &Map<String, Value>) -> Result<StateTest, ServiceError> {
    let definition = match text(input, "definition")? {
        None => {
            return Err(validation(
                "1 validation error detected: Value null at 'definition' failed to satisfy constraint: Member must not be null",
            ));
        }
        Some(d) => serde_json::from_str(d).map_err(|e| {
            ServiceError::bad(
                "InvalidDefinition",
                format!(
                    "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: JSON parse error: {e}'"
                ),
            )
        })?,
    };
    let level = match text(input, "inspectionLevel")? {
        None => Level::Info,
        Some(l) => {
            Level::parse(l).ok_or_else(|| not_in_enum("inspectionLevel", l, &["INFO", "DEBUG", "TRACE"]))?
        }
    };
    let variables = match json_field(input, "variables", "The variables")? {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(validation("The variables must be a JSON object")),
    };
    Ok(StateTest {
        definition,
        state_name: text(input, "stateName")?.map(str::to_string),
        input: json_field(input, "input", "The input")?.unwrap_or_else(|| json!({})),
        variables,
        context: json_field(
            input,
            "context",
            "Invalid Context object provided: the context object",
        )?,
        mock: mock(input.get("mock"))?,
        configuration: configuration(input.get("stateConfiguration"))?,
        level,
        reveal_secrets: input
            .get("revealSecrets")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        role_arn: text(input, "roleArn")?.map(str::to_string),
    })
}

fn mock(value: Option<&Value>) -> Result<Option<Mock>, ServiceError> {
    let m = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(validation("mock must be an object")),
    };
    let field_validation = match text(m, "fieldValidationMode")? {
        None => FieldValidation::Strict,
        Some(mode) => FieldValidation::parse(mode)
            .ok_or_else(|| not_in_enum("mock.fieldValidationMode", mode, &["STRICT", "PRESENT", "NONE"]))?,
    };
    let error_output = match m.get("errorOutput") {
        None | Some(Value::Null) => None,
        Some(Value::Object(e)) => Some(TaskFailure {
            error: text(e, "error")?.unwrap_or_default().to_string(),
            cause: text(e, "cause")?.unwrap_or_default().to_string(),
        }),
        Some(_) => return Err(validation("mock.errorOutput must be an object")),
    };
    Ok(Some(Mock {
        result: text(m, "result")?.map(str::to_string),
        error_output,
        field_validation,
    }))
}

fn configuration(value: Option<&Value>) -> Result<Configuration, ServiceError> {
    let c = match value {
        None | Some(Value::Null) => return Ok(Configuration::default()),
        Some(Value::Object(c)) => c,
        Some(_) => return Err(validation("stateConfiguration must be an object")),
    };
    let int = |key: &str| match c.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| validation(format!("stateConfiguration.{key} must be an integer"))),
    };
    Ok(Configuration {
        retrier_retry_count: int("retrierRetryCount")?,
        error_caused_by_state: text(c, "errorCausedByState")?.map(str::to_string),
        map_iteration_failure_count: int("mapIterationFailureCount")?,
        map_item_reader_data: text(c, "mapItemReaderData")?.map(str::to_string),
    })
}

/// The answer as AWS encodes it: data as JSON strings, except the inspection's numbers and
/// `errorDetails`.
fn answer(result: &StateResult) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), json!(result.status.as_str()));
    if let Some(o) = &result.output {
        out.insert("output".into(), json!(o.to_string()));
    }
    if let Some(e) = &result.error {
        out.insert("error".into(), json!(e));
    }
    if let Some(c) = &result.cause {
        out.insert("cause".into(), json!(c));
    }
    if let Some(n) = &result.next_state {
        out.insert("nextState".into(), json!(n));
    }
    if let Some(data) = &result.inspection {
        let encoded: Map<String, Value> = data
            .iter()
            .map(|(k, v)| {
                let raw = matches!(
                    k.as_str(),
                    "maxConcurrency"
                        | "toleratedFailureCount"
                        | "toleratedFailurePercentage"
                        | "errorDetails"
                );
                (k.clone(), if raw { v.clone() } else { json!(v.to_string()) })
            })
            .collect();
        out.insert("inspectionData".into(), Value::Object(encoded));
    }
    Value::Object(out)
}
