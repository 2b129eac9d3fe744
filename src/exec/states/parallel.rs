//! Parallel: its branches, one after another in order, each with a copy of the variables.

use serde_json::{Value, json};

use crate::exec::cx::{Abort, Cx, Eval, Frame, Step, fail};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn parallel(&mut self, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Eval<Step> {
        let args = cx.flow.arguments(self.at(cx, frame), input)?;
        // TestState: the mock is the branches' result.
        if let Some(mocked) = self.probe.as_mut().and_then(|p| p.iterations.take()) {
            let result = mocked.map_err(|f| fail(&f.error, f.cause))?;
            return cx.flow.finish(self.at(cx, frame), input, result);
        }
        let branches = cx
            .field("Branches")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        self.push("ParallelStateStarted", None);
        let mut results = Vec::with_capacity(branches.len());
        for (i, branch) in branches.iter().enumerate() {
            let Some(def) = branch.as_object() else {
                return Err(cx.runtime("A branch must be an object"));
            };
            let child = Frame {
                vars: frame.vars.clone(),
                ql: cx.ql,
                prefix: format!("{}{}.Branches[{i}].", frame.prefix, cx.name),
            };
            match self.machine(def, args.clone(), &child) {
                Ok(out) => results.push(out),
                Err(e) => {
                    if let Abort::Error { error, cause } = &e {
                        self.push(
                            "ParallelStateFailed",
                            Some(json!({"error": error, "cause": cause})),
                        );
                    }
                    return Err(e);
                }
            }
        }
        self.push("ParallelStateSucceeded", None);
        cx.flow.finish(self.at(cx, frame), input, Value::Array(results))
    }
}
