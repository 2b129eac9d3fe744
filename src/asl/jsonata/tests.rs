use serde_json::json;

use super::*;

fn eval(expr: &str, input: Value) -> Result<Option<Value>, JsonataError> {
    evaluate_str(expr, &input, &[])
}

#[test]
fn syntax_errors_carry_code_position_and_message() {
    let cases = [
        ("10 + * 2", "S0201", 8, "Syntax error: 2"),
        ("420.", "S0207", 4, "Unexpected end of expression"),
        (
            "$count([1,2",
            "S0203",
            11,
            "Expected \"]\" before end of expression",
        ),
        (
            "{'a': 1,}",
            "S0211",
            9,
            "The symbol \"}\" cannot be used as a unary operator",
        ),
        (
            "'abc",
            "S0101",
            4,
            "String literal must be terminated by a matching quote",
        ),
        ("$x := 1; $x", "S0201", 8, "Syntax error: \";\""),
    ];
    for (expr, code, position, message) in cases {
        let e = parse(expr).unwrap_err();
        assert_eq!(e.code.as_deref(), Some(code), "{expr}");
        assert_eq!(e.position, Some(position), "{expr}");
        assert_eq!(e.message, message, "{expr}");
        assert_eq!(e.to_string(), format!("{code}: {message}"));
    }
}

#[test]
fn valid_expressions_parse() {
    for expr in [
        "$states.input.a",
        "( $x := 1; $x + 1 )",
        "$contains('hello$world', /^hello\\$/)",
        "$.a.b",
        "`field name`",
        "/* comment */ 1",
    ] {
        parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    }
}

#[test]
fn evaluates_with_bindings_and_input() {
    let states = json!({"input": {"values": [3, 1, 2]}, "context": {"Execution": {"Id": "x"}}});
    let e = parse("{'sum': $sum($states.input.values), 'max': $max($states.input.values), 'id': $states.context.Execution.Id}").unwrap();
    assert_eq!(
        evaluate(&e, &Value::Null, &[("states", &states)]).unwrap(),
        Some(json!({"sum": 6, "max": 3, "id": "x"}))
    );
    assert_eq!(
        eval("a.b", json!({"a": [{"b": 1}, {"b": 2}]})).unwrap(),
        Some(json!([1, 2]))
    );
    assert_eq!(
        eval("$string(1/3)", json!(null)).unwrap(),
        Some(json!("0.333333333333333"))
    );
    assert_eq!(eval("1/3", json!(null)).unwrap(), Some(json!(0.3333333333333333)));
    assert_eq!(
        eval("$formatNumber(1234.5678, '#,##0.00')", json!(null)).unwrap(),
        Some(json!("1,234.57"))
    );
}

#[test]
fn undefined_is_none() {
    assert_eq!(eval("$doesNotExist", json!({})).unwrap(), None);
    assert_eq!(eval("nothing.here", json!({})).unwrap(), None);
}

#[test]
fn runtime_errors_match_jsonata() {
    let e = eval("$randomSeeded(1)", json!(null)).unwrap_err();
    assert_eq!(e.to_string(), "T1006: Attempted to invoke a non-function");
    let e = eval("'a' + 1", json!(null)).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("T2001"));
    assert_eq!(
        e.message,
        "The left side of the \"+\" operator must evaluate to a number"
    );
}

#[test]
fn step_functions_functions() {
    assert_eq!(
        eval("$partition([1,2,3,4,5], 2)", json!(null)).unwrap(),
        Some(json!([[1, 2], [3, 4], [5]]))
    );
    assert_eq!(
        eval("$range(0, 10, 5)", json!(null)).unwrap(),
        Some(json!([0, 5, 10]))
    );
    assert_eq!(
        eval("$parse('{\"a\": [1]}')", json!(null)).unwrap(),
        Some(json!({"a": [1]}))
    );
    assert_eq!(
        eval("$hash('abc', 'SHA-256')", json!(null)).unwrap(),
        Some(json!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        ))
    );
    assert_eq!(
        eval("$hash('abc', 'SHA-3')", json!(null))
            .unwrap_err()
            .code
            .as_deref(),
        Some("D3141")
    );
    let uuid = eval("$uuid()", json!(null)).unwrap().unwrap();
    assert_eq!(uuid.as_str().unwrap().len(), 36);
    assert_eq!(
        eval("$random(7) = $random(7)", json!(null)).unwrap(),
        Some(json!(true))
    );
    // Step Functions removes $eval.
    assert_eq!(
        eval("$eval('1 + 1')", json!(null)).unwrap_err().code.as_deref(),
        Some("T1006")
    );
}

#[test]
fn simulated_clock() {
    let e = parse("[$millis(), $now()]").unwrap();
    let options = Options {
        now_millis: Some(1_700_000_000_000),
        ..Options::default()
    };
    assert_eq!(
        evaluate_with(&e, &Value::Null, &[], &options).unwrap(),
        Some(json!([1_700_000_000_000_i64, "2023-11-14T22:13:20.000Z"]))
    );
}

#[test]
fn a_runaway_expression_hits_the_time_limit() {
    let e = parse("( $f := function($n){ $f($n + 1) + 1 }; $f(0) )").unwrap();
    let err = evaluate(&e, &Value::Null, &[]).unwrap_err();
    assert_eq!(err.code, None, "{err}");
    let e = parse("$count([1..10000000])").unwrap();
    let options = Options {
        timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let started = Instant::now();
    let err = evaluate_with(&e, &Value::Null, &[], &options);
    assert!(
        err.is_err() || started.elapsed() < Duration::from_secs(5),
        "{err:?}"
    );
}

#[test]
fn ast_exposes_top_level_shape() {
    let ast = parse("$states.input.a").unwrap().ast().unwrap();
    assert_eq!(ast["type"], json!("path"));
    assert_eq!(ast["steps"][0]["type"], json!("variable"));
    assert_eq!(ast["steps"][0]["value"], json!("states"));
}

#[test]
fn char_offset_counts_characters() {
    let e = parse("'é' + * 2").unwrap_err();
    assert_eq!(e.char_offset("'é' + * 2"), Some(9));
}

// --- The native subset (native.rs) against the reference engine ---

/// The native answer, if the subset answers.
fn native(expr: &str, input: &Value, bindings: &[(&str, &Value)]) -> Option<Option<Value>> {
    evaluate_natively(&parse(expr).unwrap(), input, bindings)
}

#[test]
fn the_native_subset_answers_the_reference_stand_ins_as_the_reference_does() {
    let input = json!({"values": [3, 1, 2]});
    for (expr, want) in [
        ("{'sum': $sum(values)}", json!({"sum": 6})),
        (
            "{'max': $max(values), 'min': $min(values)}",
            json!({"max": 3, "min": 1}),
        ),
        ("{'avg': $average(values)}", json!({"avg": 2})),
        ("$count(values) > 2 ? 'many' : 'few'", json!("many")),
    ] {
        let got = native(expr, &input, &[]).unwrap_or_else(|| panic!("{expr}: not answered natively"));
        assert_eq!(got, Some(want.clone()), "{expr}");
        let reference =
            evaluate_by_reference(&parse(expr).unwrap(), &input, &[], &Options::default()).unwrap();
        assert_eq!(reference, Some(want), "{expr}");
    }
}

#[test]
fn the_native_subset_keeps_javascripts_rules() {
    let cases = [
        // A singleton array from the last step stays an array; a singleton sequence does not.
        ("values", json!({"values": [3]}), json!([3])),
        ("a.b", json!({"a": [{"b": 1}, {"c": 2}]}), json!(1)),
        (
            "a.b",
            json!({"a": [{"b": [1]}, {"b": [2, [3]]}]}),
            json!([1, 2, [3]]),
        ),
        // Array-index keys come first, in numeric order, as JavaScript orders object keys.
        (
            "{'b': 1, '10': 2, '2': 3, 'a': 4}",
            json!({}),
            json!({"2": 3, "10": 2, "b": 1, "a": 4}),
        ),
        ("$", json!({"z": 1, "1": 2}), json!({"1": 2, "z": 1})),
        // Numbers come back as JSON.stringify prints them.
        ("x * 1", json!({"x": 2.0}), json!(2)),
        ("0.1 + 0.2", json!({}), json!(0.30000000000000004)),
        ("x", json!({"x": 9007199254740993u64}), json!(9007199254740992u64)),
        (
            "x * 7",
            json!({"x": 9007199254740993u64}),
            json!(63050394783186940u64),
        ),
        ("x * 1", json!({"x": 1e300}), json!(1e300)),
        ("[1, [2], [[3]]]", json!({}), json!([1, [2], [[3]]])),
        ("[a, b]", json!({"a": [1, 2], "b": 3}), json!([1, 2, 3])),
        ("'ab' < 'b' and 2 >= 2", json!({}), json!(true)),
    ];
    for (expr, input, want) in cases {
        let got = native(expr, &input, &[]).unwrap_or_else(|| panic!("{expr}: not answered natively"));
        let reference =
            evaluate_by_reference(&parse(expr).unwrap(), &input, &[], &Options::default()).unwrap();
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&reference).unwrap(),
            "{expr} on {input}"
        );
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&Some(want)).unwrap(),
            "{expr}"
        );
    }
    // Errors, and what the subset does not know, are the reference's to answer.
    for (expr, input) in [
        ("'a' + 1", json!({})),
        ("{'a': 1, 'a': 2}", json!({})),
        ("$sum(['x'])", json!({})),
        ("$string(1)", json!({})),
        ("values[0]", json!({"values": [1]})),
        ("constructor", json!({})),
        ("1 / 0", json!({})),
        ("$", json!([1, 2])),
    ] {
        assert_eq!(native(expr, &input, &[]), None, "{expr}");
    }
    // Deeply nested data is the reference's to walk.
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!({"a": deep});
    }
    assert_eq!(native("a.a", &deep, &[]), None);
    assert_eq!(native("$v.a", &json!({}), &[("v", &deep)]), None);
    assert!(native("a.a", &json!({"a": {"a": 1}}), &[]).is_some());
    // A variable named like a built-in shadows it.
    let f = json!(1);
    assert_eq!(native("$sum([1])", &json!({}), &[("sum", &f)]), None);
}

/// A seeded generator of expressions in and around the subset, and of inputs for them.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }

    fn name(&mut self) -> &'static str {
        self.pick(&["a", "b", "values", "x", "`1`", "`0`"])
    }

    fn expr(&mut self, depth: usize) -> String {
        if depth == 0 || self.below(4) == 0 {
            return match self.below(9) {
                0..=2 => (0..1 + self.below(3))
                    .map(|_| self.name())
                    .collect::<Vec<_>>()
                    .join("."),
                3 => self
                    .pick(&["$", "$$.a", "$v", "$v.a", "$v.values", "$w"])
                    .to_string(),
                4 | 5 => self
                    .pick(&["0", "1", "2.5", "-3", "0.1", "1e3", "9007199254740993", "7"])
                    .to_string(),
                6 | 7 => self.pick(&["'x'", "''", "'10'", "'a'", "\"b\""]).to_string(),
                _ => self.pick(&["true", "false", "null"]).to_string(),
            };
        }
        let d = depth - 1;
        match self.below(17) {
            0 => {
                let keys = ["'k'", "'a'", "'1'", "'0'", "'b'", "x", "'k'"];
                let n = 1 + self.below(3);
                let pairs: Vec<String> = (0..n)
                    .map(|_| format!("{}: {}", keys[self.below(keys.len())], self.expr(d)))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
            1 => format!("[{}, {}]", self.expr(d), self.expr(d)),
            2 => format!("[[{}]]", self.expr(d)),
            3 | 4 => {
                let op = self.pick(&["+", "-", "*", "/", "%"]);
                format!("({} {op} {})", self.expr(d), self.expr(d))
            }
            5 | 6 => {
                let op = self.pick(&["=", "!=", "<", "<=", ">", ">="]);
                format!("({} {op} {})", self.expr(d), self.expr(d))
            }
            7 => {
                let op = self.pick(&["and", "or", "&"]);
                format!("({} {op} {})", self.expr(d), self.expr(d))
            }
            8 => format!("({} ? {} : {})", self.expr(d), self.expr(d), self.expr(d)),
            9 => format!("({} ? {})", self.expr(d), self.expr(d)),
            10 => format!("({}; {})", self.expr(d), self.expr(d)),
            11 => format!("-{}", self.expr(d)),
            12..=14 => {
                let f = self.pick(&["sum", "max", "min", "average", "count"]);
                format!("${f}({})", self.expr(d))
            }
            15 => {
                // Outside the subset: the reference answers these.
                let f = self.pick(&["$string", "$length", "$keys", "$exists"]);
                format!("{f}({})", self.expr(d))
            }
            _ => format!("{}[0]", self.name()),
        }
    }

    fn value(&mut self, depth: usize) -> Value {
        match self.below(if depth == 0 { 6 } else { 9 }) {
            0 | 1 => json!([0, 1, 2, 3, -1, 7, 100][self.below(7)]),
            2 => json!([0.5, 2.5, -0.25, 1e21, 0.1][self.below(5)]),
            3 => json!(["x", "", "10", "a", "é"][self.below(5)]),
            4 => json!([true, false][self.below(2)]),
            5 => Value::Null,
            6 | 7 => Value::Array((0..self.below(4)).map(|_| self.value(depth - 1)).collect()),
            _ => self.object(depth - 1),
        }
    }

    fn object(&mut self, depth: usize) -> Value {
        let mut m = serde_json::Map::new();
        for _ in 0..self.below(4) {
            let k = self.pick(&["a", "b", "values", "x", "1", "0"]);
            m.insert(k.to_string(), self.value(depth));
        }
        Value::Object(m)
    }
}

/// Whatever the native subset answers, the reference answers the same, byte for byte.
/// `SFN_OPERATOR_JSONATA_SEED=N` repeats a run, `SFN_OPERATOR_JSONATA_CASES=N` sets its length.
#[test]
fn the_native_subset_agrees_with_the_reference_on_generated_expressions() {
    let seed = std::env::var("SFN_OPERATOR_JSONATA_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 | 1)
        });
    let cases: usize = std::env::var("SFN_OPERATOR_JSONATA_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    println!("seed {seed} ({cases} cases; SFN_OPERATOR_JSONATA_SEED={seed} repeats this run)");
    let mut g = Gen(seed);
    let (mut answered, mut valued) = (0, 0);
    for case in 0..cases {
        let text = g.expr(3);
        let Ok(expr) = parse(&text) else { continue };
        let input = g.object(2);
        let v = g.value(2);
        let bindings: Vec<(&str, &Value)> = vec![("v", &v)];
        let Some(got) = evaluate_natively(&expr, &input, &bindings) else {
            continue;
        };
        answered += 1;
        valued += usize::from(got.is_some());
        let reference = evaluate_by_reference(&expr, &input, &bindings, &Options::default());
        assert_eq!(
            reference.as_ref().map(|r| serde_json::to_string(r).unwrap()),
            Ok(serde_json::to_string(&got).unwrap()),
            "seed {seed}, case {case}: {text} on {input} with $v = {v}"
        );
    }
    println!("{answered} of {cases} answered natively ({valued} with a value)");
    assert!(
        answered * 4 >= cases,
        "seed {seed}: only {answered} of {cases} answered natively"
    );
    assert!(
        valued * 8 >= cases,
        "seed {seed}: only {valued} answers with a value"
    );
}
