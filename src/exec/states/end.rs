//! Succeed and Fail: the two states that end a machine or branch.

use serde_json::Value;

use crate::exec::cx::{Abort, Cx, Eval, Frame, Step};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn succeed(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Eval<Step> {
        Ok(Step {
            output: cx.flow.output(self.at(cx, frame), input)?,
            next: None,
            assign: None,
        })
    }

    /// The failure a Fail state ends with (its `Error` and `Cause`, either may be absent).
    pub(in crate::exec) fn fail_state(&mut self, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Abort {
        let error = match cx.flow.fail_field(self.at(cx, frame), input, "Error") {
            Ok(e) => e,
            Err(abort) => return abort,
        };
        let cause = match cx.flow.fail_field(self.at(cx, frame), input, "Cause") {
            Ok(c) => c,
            Err(abort) => return abort,
        };
        Abort::Error { error, cause }
    }
}
