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
