//! Task: one call through the caller's [`crate::exec::Tasks`], with its history events (Lambda's
//! own event names for a function ARN, `Task*` for service integrations).

use serde_json::{Value, json};

use crate::exec::TaskCall;
use crate::exec::cx::{Cx, Eval, Frame, Step, fail};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn task(
        &mut self,
        cx: &Cx<'_>,
        input: &Value,
        frame: &Frame,
        attempt: u32,
    ) -> Eval<Step> {
        let mut cx_retry;
        let cx = if attempt > 0 {
            cx_retry = Cx {
                context: cx.context.clone(),
                ..*cx
            };
            cx_retry.context["State"]["RetryCount"] = json!(attempt);
            &cx_retry
        } else {
            cx
        };
        let resource = cx
            .field("Resource")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let args = cx.flow.arguments(self.at(cx, frame), input)?;
        let timeout_seconds = cx.flow.seconds(self.at(cx, frame), input, "TimeoutSeconds")?;
        let heartbeat_seconds = cx.flow.seconds(self.at(cx, frame), input, "HeartbeatSeconds")?;
        let lambda_arn = resource.starts_with("arn:aws:lambda:")
            || resource.contains(":lambda:") && resource.contains(":function:");
        let (resource_type, short) = service_parts(&resource);
        if lambda_arn {
            self.push(
                "LambdaFunctionScheduled",
                Some(json!({"resource": resource, "input": args.to_string(), "inputDetails": {"truncated": false}})),
            );
            self.push("LambdaFunctionStarted", None);
        } else {
            let mut d = json!({
                "resourceType": resource_type, "resource": short, "region": self.info.region,
                "parameters": args.to_string(),
            });
            if let Some(t) = timeout_seconds {
                d["timeoutInSeconds"] = json!(t);
            }
            if let Some(h) = heartbeat_seconds {
                d["heartbeatInSeconds"] = json!(h);
            }
            self.push("TaskScheduled", Some(d));
            self.push(
                "TaskStarted",
                Some(json!({"resourceType": resource_type, "resource": short})),
            );
        }
        let state_path = format!("{}{}", frame.prefix, cx.name);
        let call = TaskCall {
            resource: &resource,
            payload: &args,
            state_path: &state_path,
            timeout_seconds,
            heartbeat_seconds,
        };
        match self.tasks.call(&call) {
            Ok(result) => {
                if lambda_arn {
                    self.push(
                        "LambdaFunctionSucceeded",
                        Some(json!({"output": result.to_string(), "outputDetails": {"truncated": false}})),
                    );
                } else {
                    self.push(
                        "TaskSucceeded",
                        Some(json!({
                            "resourceType": resource_type, "resource": short,
                            "output": result.to_string(), "outputDetails": {"truncated": false},
                        })),
                    );
                }
                self.check_time()?;
                self.env.note("result", || result.clone());
                cx.flow.finish(self.at(cx, frame), input, result)
            }
            Err(failure) => {
                if lambda_arn {
                    self.push(
                        "LambdaFunctionFailed",
                        Some(json!({"error": failure.error, "cause": failure.cause})),
                    );
                } else {
                    self.push(
                        "TaskFailed",
                        Some(json!({
                            "resourceType": resource_type, "resource": short,
                            "error": failure.error, "cause": failure.cause,
                        })),
                    );
                }
                Err(fail(&failure.error, failure.cause))
            }
        }
    }
}

/// `arn:aws:states:::lambda:invoke` → (`lambda`, `invoke`).
fn service_parts(resource: &str) -> (String, String) {
    let rest = resource.strip_prefix("arn:aws:states:::").unwrap_or(resource);
    match rest.split_once(':') {
        Some((service, action)) => (service.to_string(), action.to_string()),
        None => (rest.to_string(), String::new()),
    }
}
