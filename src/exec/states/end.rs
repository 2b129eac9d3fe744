//! Succeed and Fail: the two states that end a machine or branch.

use serde_json::Value;

use crate::exec::cx::{Abort, Cx, Frame, Step};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn succeed(
        &mut self,
        cx: &Cx<'_>,
        input: Value,
        frame: &Frame,
    ) -> Result<Step, Abort> {
        Ok(Step {
            output: cx.flow.output(&self.env, cx, input, frame)?,
            next: None,
            assign: None,
        })
    }

    /// The failure a Fail state ends with (its `Error` and `Cause`, either may be absent).
    pub(in crate::exec) fn fail_state(&mut self, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Abort {
        let error = match cx.flow.fail_field(&self.env, cx, input, "Error", frame) {
            Ok(e) => e,
            Err(abort) => return abort,
        };
        let cause = match cx.flow.fail_field(&self.env, cx, input, "Cause", frame) {
            Ok(c) => c,
            Err(abort) => return abort,
        };
        Abort::Error { error, cause }
    }
}
