//! JSONata engine timings (bench/jsonata.sh runs it on a release build): engine start, parse of
//! every distinct `{% %}` expression of the corpus and the oracle, and evaluation of a typical
//! `Output` object, first call and then repeated (compiled expressions are cached per thread).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sfn_operator::asl::jsonata;

fn expressions(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(body) = jsonata::expression_body(s) {
                out.push(body.to_string());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| expressions(x, out)),
        Value::Object(m) => m.values().for_each(|x| expressions(x, out)),
        _ => {}
    }
}

fn per(total: Duration, n: usize) -> String {
    format!("{:.1} µs", total.as_secs_f64() * 1e6 / n as f64)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut exprs = Vec::new();
    let oracle = std::fs::read_to_string(root.join("tests/oracle/executions.jsonl")).expect("oracle");
    for line in oracle.lines() {
        let case: Value = serde_json::from_str(line).expect("json line");
        expressions(&case["definition"], &mut exprs);
    }
    for entry in std::fs::read_dir(root.join("tests/corpus/asl")).expect("corpus") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "json")
            && let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&p).unwrap_or_default())
        {
            expressions(&v, &mut exprs);
        }
    }
    exprs.sort();
    exprs.dedup();

    let t = Instant::now();
    jsonata::parse("1").expect("engine starts");
    println!(
        "engine start (first call on a thread): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let rounds = 20;
    let t = Instant::now();
    let mut refused = 0;
    for _ in 0..rounds {
        refused = exprs.iter().filter(|e| jsonata::parse(e).is_err()).count();
    }
    println!(
        "parse: {} distinct expressions ({refused} refused), {} per parse",
        exprs.len(),
        per(t.elapsed(), rounds * exprs.len())
    );

    let states =
        json!({"input": {"values": [3, 1, 2], "name": "x"}, "context": {"Execution": {"Id": "arn"}}});
    let expr = "{'sum': $sum($states.input.values), 'max': $max($states.input.values), 'n': $count($states.input.values), 'names': $map($states.input.values, function($v) { $states.input.name & $v })}";
    let e = jsonata::parse(expr).expect("parses");
    let t = Instant::now();
    let out = jsonata::evaluate(&e, &Value::Null, &[("states", &states)]).expect("evaluates");
    println!(
        "evaluate, first call (compiles): {:.1} µs -> {}",
        t.elapsed().as_secs_f64() * 1e6,
        out.unwrap_or_default()
    );
    let n = 5_000;
    let t = Instant::now();
    for _ in 0..n {
        jsonata::evaluate(&e, &Value::Null, &[("states", &states)]).expect("evaluates");
    }
    println!(
        "evaluate, repeated: {} per evaluation ({n} runs)",
        per(t.elapsed(), n)
    );
    let simple = jsonata::parse("$states.input.values[0]").expect("parses");
    let t = Instant::now();
    for _ in 0..n {
        jsonata::evaluate(&simple, &Value::Null, &[("states", &states)]).expect("evaluates");
    }
    println!(
        "evaluate `$states.input.values[0]`, repeated: {} per evaluation",
        per(t.elapsed(), n)
    );
}
