//! Lambda stand-ins (SPEC §7): `--functions FILE` for the sandbox, `functions` in a
//! `WorkflowTest`. A stand-in answers the invocations of one function — by a JSONata expression
//! over the payload, by a program run with the payload on stdin, or with a fixed result or
//! error — in Lambda's result and error shapes, so that `ResultSelector`s and `Retry` blocks
//! written for AWS behave the same. [`Functions`] is the interpreter's [`Tasks`] for them.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::exec::{self, TaskCall, TaskFailure, Tasks};

/// How one function answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum StandIn {
    /// A JSONata expression over the payload; its value is the function's result.
    Jsonata(String),
    /// A program: payload on stdin, result (JSON) on stdout; a non-zero exit is a function
    /// error, `{"errorType", "errorMessage"}` on stdout.
    Command(Vec<String>),
    /// A fixed result.
    Return(Value),
    /// A fixed error.
    Throw(Thrown),
}

/// A fixed error: AWS's error name and cause.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thrown {
    pub error: String,
    #[serde(default)]
    pub cause: String,
}

/// The stand-ins, keyed by function name (ARNs in the file are reduced to the name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Functions {
    by_name: BTreeMap<String, StandIn>,
}

/// Why a functions file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a map of function → stand-in.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// The function name in a name, a full or partial ARN, with or without a qualifier.
pub fn function_name(reference: &str) -> &str {
    let rest = match reference.find("function:") {
        Some(i) => &reference[i + "function:".len()..],
        None => reference,
    };
    rest.split(':').next().unwrap_or(rest)
}

impl Functions {
    /// Reads a YAML map of function name or ARN → stand-in.
    pub fn load(path: &Path) -> Result<Functions, Error> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|message| Error::Invalid { path: shown, message })
    }

    /// Parses the YAML text of a functions file.
    pub fn parse(text: &str) -> Result<Functions, String> {
        let map: BTreeMap<String, StandIn> = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        Ok(Self::from_map(map))
    }

    /// Stand-ins from a map keyed by name or ARN.
    pub fn from_map(map: BTreeMap<String, StandIn>) -> Functions {
        Functions {
            by_name: map
                .into_iter()
                .map(|(k, v)| (function_name(&k).to_string(), v))
                .collect(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Invokes a function: its payload (what Lambda's `Payload` would hold) or Lambda's error.
    pub fn invoke(
        &self,
        function: &str,
        payload: &Value,
        timeout: Option<Duration>,
    ) -> Result<Value, TaskFailure> {
        let name = function_name(function);
        let Some(stand_in) = self.by_name.get(name) else {
            return Err(TaskFailure {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!(
                    "Function not found: {function} (the sandbox has no stand-in for '{name}'; give one with --functions)"
                ),
            });
        };
        match stand_in {
            StandIn::Return(v) => Ok(v.clone()),
            StandIn::Throw(t) => Err(TaskFailure {
                error: t.error.clone(),
                cause: t.cause.clone(),
            }),
            StandIn::Jsonata(expr) => {
                let body = exec::query::expression(expr).unwrap_or(expr);
                match exec::query::evaluate_on(body, payload) {
                    Ok(v) => Ok(v.unwrap_or(Value::Null)),
                    Err(message) => Err(function_error("JSONataError", &message)),
                }
            }
            StandIn::Command(argv) => run_command(argv, payload, timeout),
        }
    }
}

/// Lambda's shape of an unhandled function error: the name, and the error payload as cause.
fn function_error(error_type: &str, message: &str) -> TaskFailure {
    TaskFailure {
        error: error_type.to_string(),
        cause: json!({"errorType": error_type, "errorMessage": message}).to_string(),
    }
}

fn run_command(argv: &[String], payload: &Value, timeout: Option<Duration>) -> Result<Value, TaskFailure> {
    let Some((program, args)) = argv.split_first() else {
        return Err(function_error(
            "Runtime.InvalidEntrypoint",
            "the command stand-in is empty",
        ));
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| function_error("Runtime.InvalidEntrypoint", &format!("cannot run {program}: {e}")))?;
    let input = payload.to_string();
    if let Some(mut stdin) = child.stdin.take() {
        // A program that exits without reading its input is not an error here.
        let _ = stdin.write_all(input.as_bytes());
    }
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut out);
        }
        out
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                if timeout.is_some_and(|t| started.elapsed() >= t) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(TaskFailure {
                        error: "States.Timeout".into(),
                        cause: format!("{program} did not finish within the state's TimeoutSeconds"),
                    });
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(function_error("Runtime.ExitError", &format!("{program}: {e}"))),
        }
    };
    let out = reader.join().unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    let parsed: Option<Value> = serde_json::from_str(text.trim()).ok();
    if status.success() {
        return parsed.ok_or_else(|| {
            function_error(
                "Runtime.InvalidResponse",
                &format!("{program} did not print JSON on stdout: {:?}", text.trim()),
            )
        });
    }
    match parsed {
        Some(error) if error.get("errorType").is_some() => Err(TaskFailure {
            error: error["errorType"].as_str().unwrap_or("Error").to_string(),
            cause: error.to_string(),
        }),
        _ => Err(function_error(
            "Runtime.ExitError",
            &format!("{program} exited with {status}"),
        )),
    }
}

impl Tasks for Functions {
    fn call(&self, call: &TaskCall<'_>) -> Result<Value, TaskFailure> {
        let timeout = call.timeout_seconds.map(Duration::from_secs);
        let resource = call.resource;
        if let Some(action) = resource.strip_prefix("arn:aws:states:::lambda:invoke") {
            let function = call
                .payload
                .get("FunctionName")
                .and_then(Value::as_str)
                .ok_or_else(|| TaskFailure {
                    error: "States.Runtime".into(),
                    cause: "The lambda:invoke parameters need a FunctionName".into(),
                })?;
            let payload = call.payload.get("Payload").cloned().unwrap_or(json!({}));
            if action == ".waitForTaskToken" {
                return Err(TaskFailure {
                    error: "States.TaskFailed".into(),
                    cause: "The sandbox does not support .waitForTaskToken callbacks".into(),
                });
            }
            return self
                .invoke(function, &payload, timeout)
                .map(exec::lambda_invoke_result);
        }
        if resource.starts_with("arn:aws:lambda:") && resource.contains(":function:") {
            return self.invoke(resource, call.payload, timeout);
        }
        Err(TaskFailure {
            error: "States.TaskFailed".into(),
            cause: format!(
                "The sandbox has no stand-in for the resource '{resource}' (state {}): only Lambda functions given with --functions run locally",
                call.state_path
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(functions: &Functions, resource: &str, payload: Value) -> Result<Value, TaskFailure> {
        functions.call(&TaskCall {
            resource,
            payload: &payload,
            state_path: "S",
            timeout_seconds: None,
            heartbeat_seconds: None,
        })
    }

    #[test]
    fn return_throw_command_and_missing() {
        let f = Functions::parse(
            r#"
arn:aws:lambda:us-east-1:123456789012:function:Fixed: {return: {sum: 6}}
Broken: {throw: {error: Lambda.ServiceException, cause: down}}
Echo: {command: [cat]}
Fails: {command: [sh, -c, "echo '{\"errorType\":\"ValueError\",\"errorMessage\":\"bad\"}'; exit 1"]}
"#,
        )
        .unwrap();
        let r = call(
            &f,
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "Fixed:$LATEST", "Payload": {}}),
        )
        .unwrap();
        assert_eq!(
            (r["Payload"].clone(), r["StatusCode"].clone()),
            (json!({"sum": 6}), json!(200))
        );
        let e = call(
            &f,
            "arn:aws:lambda:us-east-1:123456789012:function:Broken",
            json!({}),
        )
        .unwrap_err();
        assert_eq!(
            (e.error.as_str(), e.cause.as_str()),
            ("Lambda.ServiceException", "down")
        );
        assert_eq!(
            call(&f, "arn:aws:lambda:us-east-1:1:function:Echo", json!({"a": [1]})).unwrap(),
            json!({"a": [1]})
        );
        let e = call(&f, "arn:aws:lambda:us-east-1:1:function:Fails", json!({})).unwrap_err();
        assert_eq!(e.error, "ValueError");
        assert_eq!(
            serde_json::from_str::<Value>(&e.cause).unwrap()["errorMessage"],
            "bad"
        );
        let e = call(
            &f,
            "arn:aws:states:::lambda:invoke",
            json!({"FunctionName": "Nope"}),
        )
        .unwrap_err();
        assert_eq!(e.error, "Lambda.ResourceNotFoundException");
        let e = call(&f, "arn:aws:states:::dynamodb:putItem", json!({})).unwrap_err();
        assert_eq!(e.error, "States.TaskFailed");
        assert!(e.cause.contains("dynamodb:putItem"), "{}", e.cause);
        assert!(Functions::parse("F: {shout: 1}").is_err());
    }
}
