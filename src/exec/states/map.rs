//! Map: items (inline, from a path or an expression), `ItemSelector`, `ItemBatcher`, then the
//! processor over each item, one after another in order, with tolerated failures.

use serde_json::{Map, Value, json};

use crate::exec::cx::{Abort, Cx, Eval, Frame, Step, fail};
use crate::exec::dataflow::number_of;
use crate::exec::interpreter::Interpreter;
use crate::exec::payload;

impl Interpreter<'_> {
    pub(in crate::exec) fn map(&mut self, cx: &Cx<'_>, input: &Value, frame: &Frame) -> Eval<Step> {
        let effective = cx.flow.effective(self.at(cx, frame), input)?;
        let items = match cx.field("ItemReader") {
            None => cx.flow.map_items(self.at(cx, frame), input, &effective)?,
            // TestState's `mapItemReaderData` stands for what the reader would read.
            Some(_) => match self.probe.as_ref().and_then(|p| p.reader_items.clone()) {
                Some(items) => items,
                // Items from S3 need a service the interpreter does not have: say so, never guess.
                None => {
                    return Err(fail(
                        "States.TaskFailed",
                        format!(
                            "The Map state '{}' reads its items with ItemReader, which the local interpreter does not support (give the items inline)",
                            cx.name
                        ),
                    ));
                }
            },
        };
        let number = |key| cx.flow.map_number(self.at(cx, frame), key, input, &effective);
        let max_concurrency = number("MaxConcurrency")?;
        if max_concurrency.is_some_and(|n| n < 0.0) {
            return Err(cx.runtime("MaxConcurrency cannot be negative."));
        }
        let tolerated_count = number("ToleratedFailureCount")?;
        if tolerated_count.is_some_and(|n| n < 0.0) {
            return Err(cx.runtime("ToleratedFailureCount cannot be negative."));
        }
        let tolerated_pct = number("ToleratedFailurePercentage")?;
        if tolerated_pct.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(cx.runtime("ToleratedFailurePercentage must be between 0 and 100."));
        }
        self.env
            .note("maxConcurrency", || json!(max_concurrency.unwrap_or(0.0) as i64));
        if let Some(n) = tolerated_count {
            self.env.note("toleratedFailureCount", || json!(n as i64));
        }
        if let Some(p) = tolerated_pct {
            self.env.note("toleratedFailurePercentage", || json!(p));
        }
        let selector_key = if cx.field("ItemSelector").is_some() {
            "ItemSelector"
        } else {
            "Parameters"
        };
        let mut selected = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Some(selector) = cx.field(selector_key) else {
                selected.push(item.clone());
                continue;
            };
            let mut context = cx.context.clone();
            context["Map"] = json!({"Item": {"Index": index, "Value": item}});
            let item_cx = Cx { context, ..*cx };
            selected.push(
                cx.flow
                    .select_item(self.at(&item_cx, frame), selector, input, &effective)?,
            );
        }
        let batches = match cx.field("ItemBatcher").and_then(Value::as_object) {
            Some(batcher) => self.batch(cx, batcher, selected, &effective, input, frame)?,
            None => selected,
        };
        let processor = cx
            .field("ItemProcessor")
            .or_else(|| cx.field("Iterator"))
            .and_then(Value::as_object)
            .ok_or_else(|| cx.runtime("A Map state needs an ItemProcessor"))?;
        let tolerated = (tolerated_count, tolerated_pct);
        let results = match self.probe.as_mut().and_then(|p| p.iterations.take()) {
            Some(mocked) => self.mocked_iterations(mocked, tolerated)?,
            None => Value::Array(self.iterate(cx, processor, batches, tolerated, frame)?),
        };
        cx.flow.finish(self.at(cx, frame), input, results)
    }

    /// TestState's mocked Map result: the mock is the Map's result (the iterations' outputs, or
    /// the `ResultWriter` object); `mapIterationFailureCount` of the iterations failed, which
    /// fails the state past `ToleratedFailure*` (a Map that tolerates no failure ignores it, as
    /// AWS does).
    fn mocked_iterations(
        &self,
        mocked: Result<Value, crate::exec::TaskFailure>,
        (tolerated_count, tolerated_pct): (Option<f64>, Option<f64>),
    ) -> Eval<Value> {
        let result = mocked.map_err(|f| fail(&f.error, f.cause))?;
        let failures = self.probe.as_ref().map_or(0, |p| p.map_failures) as f64;
        let total = result.as_array().map_or(0, Vec::len) as f64;
        let over_count = tolerated_count.is_some_and(|c| failures > c);
        let over_pct = tolerated_pct.is_some_and(|p| total > 0.0 && failures * 100.0 / total > p);
        let limited = tolerated_count.is_some() || tolerated_pct.is_some();
        if limited
            && failures > 0.0
            && (over_count || tolerated_count.is_none())
            && (over_pct || tolerated_pct.is_none())
        {
            return Err(fail(
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded",
            ));
        }
        Ok(result)
    }

    /// Runs the processor over each item, in order; failures up to the tolerated count or
    /// percentage become `{"Error", "Cause"}` results.
    fn iterate(
        &mut self,
        cx: &Cx<'_>,
        processor: &Map<String, Value>,
        batches: Vec<Value>,
        (tolerated_count, tolerated_pct): (Option<f64>, Option<f64>),
        frame: &Frame,
    ) -> Eval<Vec<Value>> {
        self.push("MapStateStarted", Some(json!({"length": batches.len()})));
        let total = batches.len();
        let mut results = Vec::with_capacity(total);
        let mut failures = 0usize;
        let tolerant = tolerated_count.is_some() || tolerated_pct.is_some();
        for (index, item) in batches.into_iter().enumerate() {
            self.push(
                "MapIterationStarted",
                Some(json!({"name": cx.name, "index": index})),
            );
            let child = Frame {
                vars: frame.vars.clone(),
                ql: cx.ql,
                prefix: format!("{}{}.ItemProcessor.", frame.prefix, cx.name),
            };
            match self.machine(processor, item, &child) {
                Ok(out) => {
                    self.push(
                        "MapIterationSucceeded",
                        Some(json!({"name": cx.name, "index": index})),
                    );
                    results.push(out);
                }
                Err(Abort::Error { error, cause }) => {
                    self.push(
                        "MapIterationFailed",
                        Some(json!({"name": cx.name, "index": index})),
                    );
                    if !tolerant {
                        self.push("MapStateFailed", None);
                        return Err(Abort::Error { error, cause });
                    }
                    failures += 1;
                    results.push(json!({"Error": error, "Cause": cause}));
                }
                Err(other) => return Err(other),
            }
        }
        if failures > 0 {
            let over_count = tolerated_count.is_none_or(|c| failures as f64 > c);
            let over_pct = tolerated_pct.is_none_or(|p| (failures as f64) * 100.0 / (total as f64) > p);
            if over_count && over_pct {
                self.push("MapStateFailed", None);
                return Err(fail(
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                ));
            }
        }
        self.push("MapStateSucceeded", None);
        Ok(results)
    }

    fn batch(
        &self,
        cx: &Cx<'_>,
        batcher: &Map<String, Value>,
        items: Vec<Value>,
        effective: &Value,
        input: &Value,
        frame: &Frame,
    ) -> Eval<Vec<Value>> {
        let sc = self.at(cx, frame).scope(effective);
        let number = |key: &str| -> Option<u64> {
            batcher.get(key).and_then(Value::as_u64).or_else(|| {
                let p = batcher.get(&format!("{key}Path"))?.as_str()?;
                payload::select(p, &sc)
                    .ok()
                    .and_then(|v| number_of(&v, false))
                    .map(|n| n as u64)
            })
        };
        let max_items = number("MaxItemsPerBatch").filter(|n| *n > 0).unwrap_or(u64::MAX) as usize;
        let max_bytes = number("MaxInputBytesPerBatch")
            .filter(|n| *n > 0)
            .unwrap_or(256 * 1024) as usize;
        let batch_input = match batcher.get("BatchInput") {
            None => None,
            Some(t) => Some(cx.flow.batch_input(self.at(cx, frame), t, input, effective)?),
        };
        let mut out = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0usize;
        for item in items {
            let size = item.to_string().len();
            if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
                out.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            out.push(current);
        }
        Ok(out
            .into_iter()
            .map(|items| {
                let mut b = Map::new();
                if let Some(bi) = &batch_input {
                    b.insert("BatchInput".into(), bi.clone());
                }
                b.insert("Items".into(), Value::Array(items));
                Value::Object(b)
            })
            .collect())
    }
}
