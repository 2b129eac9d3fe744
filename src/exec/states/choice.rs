//! Choice: the first rule that matches, else `Default`, else `States.NoChoiceMatched`.

use serde_json::{Map, Value};

use crate::exec::cx::{Cx, Eval, Frame, Step, fail};
use crate::exec::interpreter::Interpreter;

impl Interpreter<'_> {
    pub(in crate::exec) fn choice(&mut self, cx: &Cx<'_>, input: Value, frame: &Frame) -> Eval<Step> {
        let rules = cx
            .field("Choices")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let effective = cx.flow.effective(self.at(cx, frame), &input)?;
        let mut chosen: Option<(&Map<String, Value>, Option<String>)> = None;
        for rule in rules.iter().filter_map(Value::as_object) {
            if cx.flow.condition(self.at(cx, frame), rule, &input, &effective)? {
                let next = rule.get("Next").and_then(Value::as_str).map(str::to_string);
                chosen = Some((rule, next));
                break;
            }
        }
        let (holder, next) = match chosen {
            Some(c) => c,
            None => match cx.field("Default").and_then(Value::as_str) {
                Some(d) => (cx.st, Some(d.to_string())),
                None => return Err(fail("States.NoChoiceMatched", "No Matches!")),
            },
        };
        let (output, assign) = cx.flow.pass_on(self.at(cx, frame), holder, &input, &effective)?;
        Ok(Step { output, next, assign })
    }
}
