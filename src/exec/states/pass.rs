//! Pass: its output and assignments, all data flow ([`crate::exec::dataflow`]).

use serde_json::Value;

use crate::exec::cx::{Abort, Cx, Frame, Step};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn pass(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Result<Step, Abort> {
        cx.flow.pass(&self.env, cx, input, frame)
    }
}
