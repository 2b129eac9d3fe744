//! TestState's `fieldValidationMode`: a mocked Task `result` checked against the response shape of
//! the service integration the Task calls. The shapes are AWS's API models as botocore ships them,
//! generated into `integration_shapes.json` by `scripts/gen-integration-shapes.py` (its header
//! says the format) and embedded here; parsed once, on first use.
//!
//! STRICT checks every field the mock has against its type, enum and length or value range, and
//! that every required field is there; PRESENT checks only the fields the mock has; NONE nothing.
//! Fields the model does not know are accepted (AWS's forward compatibility). Field names are the
//! models' with the first letter in upper case, as Step Functions returns them
//! (`executionArn` → `ExecutionArn`).
//!
//! Must not: decide whether a state may be mocked (`teststate.rs` does).

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The generated shapes (see the module doc).
const SHAPES: &str = include_str!("integration_shapes.json");

/// How much of a mocked result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    #[default]
    Strict,
    Present,
    None,
}

impl FieldValidation {
    /// AWS's name (`STRICT`, `PRESENT`, `NONE`).
    pub fn parse(name: &str) -> Option<FieldValidation> {
        match name {
            "STRICT" => Some(FieldValidation::Strict),
            "PRESENT" => Some(FieldValidation::Present),
            "NONE" => Some(FieldValidation::None),
            _ => None,
        }
    }
}

fn shapes() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(SHAPES).unwrap_or(Value::Null))
}

/// The botocore service and operation a Task's `Resource` calls, when its response is the
/// operation's output: `None` for Lambda function ARNs, `apigateway:invoke`, `http:invoke` and the
/// `.sync` patterns (whose result is another call's), and for services the data file leaves out.
fn operation(resource: &str) -> Option<(&'static Map<String, Value>, String, bool)> {
    let rest = resource.split_once(":states:::")?.1;
    let (sdk, rest) = match rest.strip_prefix("aws-sdk:") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (service, action) = rest.split_once(':')?;
    let (action, pattern) = action.split_once('.').unwrap_or((action, ""));
    if pattern.starts_with("sync") || (!sdk && matches!(service, "apigateway" | "http")) {
        return None;
    }
    let data = shapes();
    let service = data["aliases"]
        .get(service)
        .and_then(Value::as_str)
        .unwrap_or(service);
    let model = data["services"].get(service)?.as_object()?;
    let mut chars = action.chars();
    let op = chars.next()?.to_uppercase().chain(chars).collect::<String>();
    let output = model.get("ops")?.get(&op)?.as_str()?.to_string();
    // The optimized `lambda:invoke` returns the function's payload as JSON, not as a blob.
    let lambda_invoke = !sdk && service == "lambda" && op == "Invoke";
    Some((model, output, lambda_invoke))
}

/// Checks a mocked `result` of a Task calling `resource`; `Err` is AWS's message.
pub fn check(resource: &str, result: &Value, mode: FieldValidation) -> Result<(), String> {
    if mode == FieldValidation::None {
        return Ok(());
    }
    let Some((model, output, lambda_invoke)) = operation(resource) else {
        return Ok(());
    };
    let checker = Checker {
        shapes: model.get("shapes").and_then(Value::as_object),
        strict: mode == FieldValidation::Strict,
        lambda_invoke,
    };
    checker
        .value(result, &output, "", 0)
        .map_err(|m| format!("Mock result schema validation error: {m}"))
}

struct Checker<'a> {
    shapes: Option<&'a Map<String, Value>>,
    strict: bool,
    lambda_invoke: bool,
}

/// Deeper than any AWS model nests (recursive shapes end here).
const MAX_DEPTH: usize = 64;

impl Checker<'_> {
    fn value(&self, v: &Value, shape: &str, field: &str, depth: usize) -> Result<(), String> {
        let Some(spec) = self.shapes.and_then(|s| s.get(shape)) else {
            return Ok(());
        };
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let kind = spec["t"].as_str().unwrap_or("a");
        let wrong = |what: &str| Err(format!("Field '{field}' must be {what}"));
        match kind {
            "o" => match v {
                Value::Object(m) => self.structure(m, spec, depth),
                _ if field.is_empty() => Err("The mocked result must be a JSON object".into()),
                _ => wrong("an object"),
            },
            "l" => match v {
                Value::Array(items) => {
                    let member = spec["m"].as_str().unwrap_or_default();
                    items
                        .iter()
                        .try_for_each(|x| self.value(x, member, field, depth + 1))
                }
                _ => wrong("an array"),
            },
            "m" => match v {
                Value::Object(m) => {
                    let member = spec["v"].as_str().unwrap_or_default();
                    m.values()
                        .try_for_each(|x| self.value(x, member, field, depth + 1))
                }
                _ => wrong("an object"),
            },
            "s" | "b" => match v {
                Value::String(s) => text(s, spec, field),
                _ => wrong("a string"),
            },
            "d" => match v {
                Value::String(_) | Value::Number(_) => Ok(()),
                _ => wrong("a string"),
            },
            "i" => match v.as_i64() {
                Some(n) => range(n, spec, field),
                None => wrong("a number"),
            },
            "f" => match v {
                Value::Number(_) => Ok(()),
                _ => wrong("a number"),
            },
            "z" => match v {
                Value::Bool(_) => Ok(()),
                _ => wrong("a boolean"),
            },
            _ => Ok(()),
        }
    }

    fn structure(&self, m: &Map<String, Value>, spec: &Value, depth: usize) -> Result<(), String> {
        let members = spec["m"].as_object();
        if self.strict {
            for required in spec["r"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let name = sfn_cased(required);
                if !m.contains_key(&name) {
                    return Err(format!("Required field '{name}' is missing"));
                }
            }
        }
        for (key, value) in m {
            if self.lambda_invoke && depth == 0 && key == "Payload" {
                continue;
            }
            let member = members.and_then(|ms| {
                ms.iter()
                    .find(|(name, _)| sfn_cased(name) == *key)
                    .and_then(|(_, shape)| shape.as_str())
            });
            if let Some(shape) = member {
                self.value(value, shape, key, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// A model's member name as Step Functions writes it: its first letter in upper case.
fn sfn_cased(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn text(s: &str, spec: &Value, field: &str) -> Result<(), String> {
    if let Some(values) = spec["e"].as_array()
        && !values.iter().any(|e| e.as_str() == Some(s))
    {
        return Err(format!("Field '{field}' is not an expected value"));
    }
    let len = s.chars().count() as i64;
    if spec["n"].as_i64().is_some_and(|min| len < min) {
        return Err(format!("Field '{field}' is smaller than the minimum length"));
    }
    if spec["x"].as_i64().is_some_and(|max| len > max) {
        return Err(format!("Field '{field}' exceeds the maximum length"));
    }
    Ok(())
}

fn range(n: i64, spec: &Value, field: &str) -> Result<(), String> {
    if spec["n"].as_i64().is_some_and(|min| n < min) {
        return Err(format!("Field '{field}' is less than the minimum value"));
    }
    if spec["x"].as_i64().is_some_and(|max| n > max) {
        return Err(format!("Field '{field}' exceeds the maximum value"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strict_wants_required_fields_present_ignores_unknown_ones() {
        let start = "arn:aws:states:::states:startExecution";
        assert_eq!(
            check(start, &json!({}), FieldValidation::Strict).unwrap_err(),
            "Mock result schema validation error: Required field 'ExecutionArn' is missing"
        );
        assert!(check(start, &json!({}), FieldValidation::Present).is_ok());
        let ok = json!({"ExecutionArn": "a", "StartDate": "2025-01-01T00:00:00Z", "extra": 1});
        assert!(check(start, &ok, FieldValidation::Strict).is_ok());
    }

    #[test]
    fn types_enums_and_ranges_in_nested_lists() {
        let put = "arn:aws:states:::events:putEvents";
        let bad = json!({"Entries": [{"EventId": "a"}, {"EventId": ["b"]}]});
        assert_eq!(
            check(put, &bad, FieldValidation::Present).unwrap_err(),
            "Mock result schema validation error: Field 'EventId' must be a string"
        );
        let s3 = "arn:aws:states:::aws-sdk:s3:getObject";
        let e = check(s3, &json!({"StorageClass": "Papyrus"}), FieldValidation::Strict).unwrap_err();
        assert!(
            e.ends_with("Field 'StorageClass' is not an expected value"),
            "{e}"
        );
        let kms = "arn:aws:states:::aws-sdk:kms:encrypt";
        let e = check(kms, &json!({"CiphertextBlob": ""}), FieldValidation::Strict).unwrap_err();
        assert!(e.ends_with("is smaller than the minimum length"), "{e}");
        let lambda = "arn:aws:states:::aws-sdk:lambda:getFunction";
        let e = check(
            lambda,
            &json!({"Configuration": {"MemorySize": 1}}),
            FieldValidation::Strict,
        )
        .unwrap_err();
        assert!(
            e.ends_with("Field 'MemorySize' is less than the minimum value"),
            "{e}"
        );
    }

    #[test]
    fn optimized_lambda_payload_is_json_and_unknown_services_pass() {
        let invoke = "arn:aws:states:::lambda:invoke";
        let ok = json!({"Payload": {"any": "json"}, "StatusCode": 200});
        assert!(check(invoke, &ok, FieldValidation::Strict).is_ok());
        let bad = json!({"StatusCode": "200"});
        assert!(check(invoke, &bad, FieldValidation::Strict).is_err());
        let other = "arn:aws:states:::aws-sdk:nosuchservice:doIt";
        assert!(check(other, &json!([1]), FieldValidation::Strict).is_ok());
        assert!(
            check(
                "arn:aws:lambda:us-east-1:1:function:f",
                &json!(1),
                FieldValidation::Strict
            )
            .is_ok()
        );
    }
}
