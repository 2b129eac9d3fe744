//! Pass: its output and assignments, all data flow ([`crate::exec::dataflow`]).

use serde_json::Value;

use crate::exec::cx::{Cx, Eval, Frame, Step};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn pass(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Eval<Step> {
        cx.flow.pass(self.at(cx, frame), input)
    }
}
