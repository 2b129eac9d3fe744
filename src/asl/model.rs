//! The vocabulary of a definition: query languages, machine types, scopes, state types and the
//! fields each takes, and a walk over every state of every scope (Parallel branches and Map
//! processors included), each with its [`Path`]. Shared by the validator and the interpreter.

use serde_json::{Map, Value};

use crate::path::Path;

/// `STANDARD` or `EXPRESS`: the one machine type of the crate (the manifest's `spec.type`, the
/// live machine's, the sandbox's records); immutable in AWS. EXPRESS machines may not use `.sync`,
/// `.waitForTaskToken` or activities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MachineType {
    #[default]
    Standard,
    Express,
}

impl MachineType {
    /// As AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineType::Standard => "STANDARD",
            MachineType::Express => "EXPRESS",
        }
    }

    /// AWS's spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<MachineType> {
        match s {
            "STANDARD" => Some(MachineType::Standard),
            "EXPRESS" => Some(MachineType::Express),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// A state's query language (`QueryLanguage`, inherited from the top level; default JSONPath).
pub enum QueryLanguage {
    JsonPath,
    Jsonata,
}

impl QueryLanguage {
    /// The language a `QueryLanguage` field names, or `inherited` when it is absent (or not one
    /// of the two: the validator reports that).
    pub fn of(field: Option<&Value>, inherited: QueryLanguage) -> QueryLanguage {
        match field.and_then(Value::as_str) {
            Some("JSONata") => QueryLanguage::Jsonata,
            Some("JSONPath") => QueryLanguage::JsonPath,
            _ => inherited,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Which kind of state machine scope a set of states belongs to.
pub enum Scope {
    /// The definition itself.
    Top,
    /// A Parallel state's branch.
    Branch,
    /// A Map state's `ItemProcessor`.
    ItemProcessor,
    /// A Map state's older `Iterator` (same fields as `ItemProcessor`, `ProcessorConfig` included).
    Iterator,
}

/// "a string", "an object", ...: a value's JSON type, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The state types of the ASL.
pub const STATE_TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Fields only JSONPath states may have.
pub const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
    "Result",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
    "Iterator",
];
/// Fields only JSONata states may have.
pub const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

/// The fields a state of type `ty` may have besides `Type`, `Comment` and `QueryLanguage`.
pub fn allowed_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Result",
            "Assign",
            "Output",
        ],
        "Task" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Resource",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Arguments",
            "Output",
            "Assign",
        ],
        "Choice" => &[
            "InputPath",
            "OutputPath",
            "Choices",
            "Default",
            "Assign",
            "Output",
        ],
        "Wait" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
            "Output",
        ],
        "Succeed" => &["InputPath", "OutputPath", "Output"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Branches",
            "Retry",
            "Catch",
            "Arguments",
            "Output",
            "Assign",
        ],
        "Map" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ItemSelector",
            "ResultSelector",
            "ItemsPath",
            "Items",
            "ItemProcessor",
            "Iterator",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
            "Retry",
            "Catch",
            "Arguments",
            "Output",
            "Assign",
        ],
        _ => &[],
    }
}

/// Choice rule operators.
pub const STRING_OPS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
];
/// Choice rule operators.
pub const NUMERIC_OPS: &[&str] = &[
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
];
/// Choice rule operators.
pub const TIMESTAMP_OPS: &[&str] = &[
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
];
/// Choice rule operators.
pub const TYPE_OPS: &[&str] = &[
    "BooleanEquals",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];
/// Choice rule operators.
pub const PATH_OPS: &[&str] = &[
    "StringEqualsPath",
    "StringLessThanPath",
    "StringGreaterThanPath",
    "StringLessThanEqualsPath",
    "StringGreaterThanEqualsPath",
    "NumericEqualsPath",
    "NumericLessThanPath",
    "NumericGreaterThanPath",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEqualsPath",
    "BooleanEqualsPath",
    "TimestampEqualsPath",
    "TimestampLessThanPath",
    "TimestampGreaterThanPath",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEqualsPath",
];

/// Whether `k` is a JSONPath choice rule comparison operator.
pub fn is_operator(k: &str) -> bool {
    STRING_OPS.contains(&k)
        || NUMERIC_OPS.contains(&k)
        || TIMESTAMP_OPS.contains(&k)
        || TYPE_OPS.contains(&k)
        || PATH_OPS.contains(&k)
}

/// One state found by [`states`].
#[derive(Debug, Clone)]
pub struct StateRef<'a> {
    pub name: &'a str,
    pub state: &'a Map<String, Value>,
    /// `States.NAME` below its scope's path.
    pub path: Path,
    pub scope: Scope,
}

/// Every state object of the definition, in every scope, in document order (a scope's states,
/// then each nested scope after the state that holds it). Malformed parts are skipped; nesting is
/// followed to `max_depth` scopes.
pub fn states(definition: &Value, max_depth: usize) -> Vec<StateRef<'_>> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Map<String, Value>, Path, Scope, usize)> = Vec::new();
    if let Some(obj) = definition.as_object() {
        stack.push((obj, Path::root(), Scope::Top, 0));
    }
    while let Some((scope_obj, path, scope, depth)) = stack.pop() {
        let Some(Value::Object(sts)) = scope_obj.get("States") else {
            continue;
        };
        let sp = path.key("States");
        let mut nested = Vec::new();
        for (name, st) in sts {
            let Some(st) = st.as_object() else { continue };
            let p = sp.key(name);
            if depth < max_depth {
                if let Some(Value::Array(bs)) = st.get("Branches") {
                    for (i, b) in bs.iter().enumerate() {
                        if let Some(b) = b.as_object() {
                            nested.push((b, p.key("Branches").index(i), Scope::Branch, depth + 1));
                        }
                    }
                }
                for (f, sc) in [
                    ("ItemProcessor", Scope::ItemProcessor),
                    ("Iterator", Scope::Iterator),
                ] {
                    if let Some(Value::Object(ip)) = st.get(f) {
                        nested.push((ip, p.key(f), sc, depth + 1));
                    }
                }
            }
            out.push(StateRef {
                name,
                state: st,
                path: p,
                scope,
            });
        }
        stack.extend(nested.into_iter().rev());
    }
    out
}
