//! Wait: until `Seconds`, `Timestamp` (or their paths or expressions) on the caller's clock.

use serde_json::Value;

use crate::exec::cx::{Abort, Cx, Frame, Step};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn wait(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        let now = self.env.clock.now_ms();
        let effective = cx.flow.effective(&self.env, cx, &input, frame)?;
        let until = cx.flow.wait_until(&self.env, cx, &effective, now, frame)?;
        let (output, assign) = cx.flow.pass_on(&self.env, cx, cx.st, &input, &effective, frame)?;
        if until > now {
            self.sleep_until(until)?;
        }
        Ok(Step {
            output,
            next: None,
            assign,
        })
    }
}
