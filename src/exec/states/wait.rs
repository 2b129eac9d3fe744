//! Wait: until `Seconds`, `Timestamp` (or their paths or expressions) on the caller's clock.

use serde_json::Value;

use crate::exec::cx::{Cx, Eval, Frame, Step};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn wait(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Eval<Step> {
        let now = self.env.clock.now_ms();
        let effective = cx.flow.effective(self.at(cx, frame), &input)?;
        let until = cx.flow.wait_until(self.at(cx, frame), &effective, now)?;
        let (output, assign) = cx.flow.pass_on(self.at(cx, frame), cx.st, &input, &effective)?;
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
