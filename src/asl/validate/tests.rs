use super::*;
use crate::asl::AslError;
use serde_json::json;

/// The errors (not the warnings) as (path, message).
fn errs(def: &Value) -> Vec<(String, String)> {
    validate(def)
        .into_iter()
        .filter(AslError::is_error)
        .map(|e| (e.path.to_string(), e.message))
        .collect()
}

#[test]
fn minimal_machine_is_valid() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    assert_eq!(errs(&def), vec![]);
}

/// A one-state machine around `state` (named "S").
fn one(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

/// Asserts exactly these (path, message) errors.
fn expect(def: Value, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want.iter().map(|(p, m)| (p.to_string(), m.to_string())).collect();
    assert_eq!(errs(&def), want);
}

#[test]
fn top_level_rules() {
    expect(
        json!([]),
        &[("", "a definition must be an object, found an array")],
    );
    expect(
        json!({"States": {"A": {"Type": "Succeed"}}}),
        &[("", "missing required field \"StartAt\"")],
    );
    expect(
        json!({"StartAt": "A"}),
        &[("", "missing required field \"States\"")],
    );
    expect(
        json!({"StartAt": "A", "States": {}}),
        &[("States", "States must not be empty")],
    );
    expect(
        json!({"StartAt": "Ghost", "States": {"A": {"Type": "Succeed"}}}),
        &[("StartAt", "no state named \"Ghost\"")],
    );
    expect(
        json!({"StartAt": "A", "Foo": 1, "States": {"A": {"Type": "Succeed"}}}),
        &[("Foo", "unknown field \"Foo\"")],
    );
    expect(
        json!({"StartAt": "A", "QueryLanguage": "XPath", "States": {"A": {"Type": "Succeed"}}}),
        &[(
            "QueryLanguage",
            "QueryLanguage must be \"JSONPath\" or \"JSONata\", found \"XPath\"",
        )],
    );
    expect(
        json!({"StartAt": "A", "TimeoutSeconds": 0, "States": {"A": {"Type": "Succeed"}}}),
        &[("TimeoutSeconds", "TimeoutSeconds must be an integer ≥ 1, found 0")],
    );
    expect(
        json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "QueryLanguage": "JSONata"}}),
        &[("States.QueryLanguage", "expected a state object, found a string")],
    );
}

#[test]
fn state_rules() {
    let long = "x".repeat(81);
    expect(
        json!({"StartAt": long.clone(), "States": {long.clone(): {"Type": "Succeed"}}}),
        &[(
            &format!("States.{long}"),
            "state name is longer than 80 characters",
        )],
    );
    expect(
        one(json!({"End": true})),
        &[("States.S", "missing required field \"Type\"")],
    );
    expect(
        one(json!({"Type": "Sleep"})),
        &[(
            "States.S.Type",
            "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
        )],
    );
    expect(
        one(json!({"Type": "Pass", "End": true, "Resource": "x"})),
        &[(
            "States.S.Resource",
            "field \"Resource\" is not allowed in a Pass state",
        )],
    );
    expect(
        one(json!({"Type": "Pass"})),
        &[("States.S", "missing \"Next\" or \"End\": exactly one is required")],
    );
    expect(
        json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true, "Next": "T"}, "T": {"Type": "Succeed"}}}),
        &[("States.S", "a state cannot have both \"Next\" and \"End\"")],
    );
    expect(
        json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "Next": "T"}, "T": {"Type": "Succeed"}}}),
        &[
            (
                "States.S.Next",
                "field \"Next\" is not allowed in a Succeed state",
            ),
            ("States.T", "state \"T\" is not reachable from StartAt"),
        ],
    );
    expect(
        one(json!({"Type": "Fail", "End": true})),
        &[("States.S.End", "field \"End\" is not allowed in a Fail state")],
    );
    expect(
        one(json!({"Type": "Pass", "Next": "Ghost"})),
        &[("States.S.Next", "no state named \"Ghost\"")],
    );
    expect(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}),
        &[(
            "States",
            "no terminal state (End, Succeed or Fail) is reachable from StartAt",
        )],
    );
}

#[test]
fn nested_scopes() {
    let def = json!({"StartAt": "Parallel", "States": {"Parallel": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}},
        {"StartAt": "MaxMinValues", "States": {"MaxMinValues": {"Type": "Pass", "Next": "Ghost"}}}
    ]}}});
    expect(
        def,
        &[(
            "States.Parallel.Branches[1].States.MaxMinValues.Next",
            "no state named \"Ghost\"",
        )],
    );
    // Targets cannot cross scopes.
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Out", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Out"}}}]},
        "Out": {"Type": "Succeed"}}});
    expect(
        def,
        &[("States.P.Branches[0].States.A.Next", "no state named \"Out\"")],
    );
    expect(
        one(json!({"Type": "Parallel", "End": true, "Branches": []})),
        &[("States.S.Branches", "Branches must not be empty")],
    );
    expect(
        one(json!({"Type": "Map", "End": true})),
        &[("States.S", "missing required field \"ItemProcessor\"")],
    );
    expect(
        one(json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "REMOTE", "ExecutionType": "FAST"},
            "StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}})),
        &[
            (
                "States.S.ItemProcessor.ProcessorConfig.Mode",
                "Mode must be \"INLINE\" or \"DISTRIBUTED\", found \"REMOTE\"",
            ),
            (
                "States.S.ItemProcessor.ProcessorConfig.ExecutionType",
                "ExecutionType must be \"STANDARD\" or \"EXPRESS\", found \"FAST\"",
            ),
            (
                "States.S.ItemProcessor.States.B",
                "state \"B\" is not reachable from StartAt",
            ),
        ],
    );
    let inner = json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
    let inner2 = json!({"StartAt": "A2", "States": {"A2": {"Type": "Succeed"}}});
    expect(
        one(json!({"Type": "Map", "End": true, "ItemProcessor": inner, "Iterator": inner2})),
        &[(
            "States.S.Iterator",
            "cannot have both \"ItemProcessor\" and \"Iterator\"",
        )],
    );
    expect(
        one(
            json!({"Type": "Map", "End": true, "Iterator": inner, "ItemsPath": "$..a", "MaxConcurrency": -1,
            "ToleratedFailurePercentage": 150, "Label": "x".repeat(41)}),
        ),
        &[
            (
                "States.S.ItemsPath",
                "invalid JSONPath \"$..a\": a reference path cannot use \"..\"",
            ),
            (
                "States.S.MaxConcurrency",
                "MaxConcurrency must be an integer ≥ 0, found -1",
            ),
            (
                "States.S.ToleratedFailurePercentage",
                "ToleratedFailurePercentage must be a number from 0 to 100, found 150",
            ),
            (
                "States.S.Label",
                &format!(
                    "Label must be at most 40 characters, found \"{}\"",
                    "x".repeat(41)
                ),
            ),
        ],
    );
}

#[test]
fn choice_rules() {
    let choice = |choices: Value| json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": choices, "Default": "T"}, "T": {"Type": "Succeed"}}});
    expect(
        choice(json!([])),
        &[("States.C.Choices", "Choices must not be empty")],
    );
    expect(
        choice(json!([{"Variable": "$.a", "StringEquals": "x"}])),
        &[("States.C.Choices[0]", "missing required field \"Next\"")],
    );
    expect(
        choice(json!([{"Variable": "$.a", "StringEquals": "x", "IsPresent": true, "Next": "T"}])),
        &[(
            "States.C.Choices[0]",
            "a choice rule must have exactly one operator, found StringEquals, IsPresent",
        )],
    );
    expect(
        choice(json!([{"StringEquals": "x", "Next": "T"}])),
        &[("States.C.Choices[0]", "missing required field \"Variable\"")],
    );
    expect(
        choice(json!([{"Variable": "$.a", "NumericEquals": "1", "Next": "T"}])),
        &[(
            "States.C.Choices[0].NumericEquals",
            "NumericEquals must be a number, found a string",
        )],
    );
    expect(
        choice(json!([{"Variable": "a", "StringEqualsPath": "$..x", "Next": "T"}])),
        &[(
            "States.C.Choices[0].Variable",
            "invalid JSONPath \"a\": must start with \"$\"",
        )],
    );
    expect(
        choice(json!([{"Variable": "$.a", "Foo": 1, "Next": "T"}])),
        &[
            (
                "States.C.Choices[0].Foo",
                "unknown field \"Foo\" in a choice rule",
            ),
            (
                "States.C.Choices[0]",
                "a choice rule needs a comparison operator (e.g. \"StringEquals\") or And/Or/Not",
            ),
        ],
    );
    expect(
        choice(json!([{"And": [], "Next": "T"}])),
        &[(
            "States.C.Choices[0].And",
            "And must be a non-empty array of choice rules",
        )],
    );
    expect(
        choice(json!([{"Not": {"Variable": "$.a", "IsNull": true, "Next": "T"}, "Next": "T"}])),
        &[(
            "States.C.Choices[0].Not.Next",
            "a nested choice rule cannot have \"Next\"",
        )],
    );
    expect(
        choice(
            json!([{"Or": [{"Variable": "$.a", "BooleanEquals": true}, {"Variable": "$.b"}], "Next": "Ghost"}]),
        ),
        &[
            (
                "States.C.Choices[0].Or[1]",
                "a choice rule needs a comparison operator (e.g. \"StringEquals\") or And/Or/Not",
            ),
            ("States.C.Choices[0].Next", "no state named \"Ghost\""),
        ],
    );
    expect(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "T"}], "Default": "Nowhere"}, "T": {"Type": "Succeed"}}}),
        &[("States.C.Default", "no state named \"Nowhere\"")],
    );
    let jsonata = |rule: Value| json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [rule]}, "T": {"Type": "Succeed"}}});
    expect(
        jsonata(json!({"Next": "T"})),
        &[("States.C.Choices[0]", "missing required field \"Condition\"")],
    );
    expect(
        jsonata(json!({"Condition": "$.a", "Next": "T"})),
        &[(
            "States.C.Choices[0].Condition",
            "Condition must be a JSONata expression \"{% ... %}\", found \"$.a\"",
        )],
    );
    expect(
        jsonata(json!({"Condition": "{% $f( %}", "Variable": "$.a", "Next": "T"})),
        &[
            (
                "States.C.Choices[0].Condition",
                "invalid JSONata expression \"{% $f( %}\": S0203: Expected \")\" before end of expression (at position 5)",
            ),
            (
                "States.C.Choices[0].Variable",
                "field \"Variable\" is not allowed in a JSONata choice rule",
            ),
        ],
    );
}

#[test]
fn wait_fail_task_rules() {
    expect(
        one(json!({"Type": "Wait", "End": true})),
        &[(
            "States.S",
            "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath; found none",
        )],
    );
    expect(
        one(json!({"Type": "Wait", "End": true, "Seconds": 1, "TimestampPath": "$.t"})),
        &[(
            "States.S",
            "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath; found Seconds, TimestampPath",
        )],
    );
    expect(
        one(json!({"Type": "Wait", "End": true, "Seconds": -5})),
        &[("States.S.Seconds", "Seconds must be an integer ≥ 0, found -5")],
    );
    expect(
        one(json!({"Type": "Wait", "End": true, "SecondsPath": "$.a[*]"})),
        &[(
            "States.S.SecondsPath",
            "invalid JSONPath \"$.a[*]\": a reference path allows only [index] and ['name'] steps",
        )],
    );
    expect(
        one(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e", "Cause": 3})),
        &[
            (
                "States.S.ErrorPath",
                "cannot have both \"Error\" and \"ErrorPath\"",
            ),
            ("States.S.Cause", "Cause must be a string, found a number"),
        ],
    );
    expect(
        one(json!({"Type": "Fail", "CausePath": "States.Nope()"})),
        &[(
            "States.S.CausePath",
            "invalid intrinsic function \"States.Nope()\": unknown function \"States.Nope\"",
        )],
    );
    expect(
        one(json!({"Type": "Task", "End": true})),
        &[("States.S", "missing required field \"Resource\"")],
    );
    expect(
        one(
            json!({"Type": "Task", "End": true, "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "TimeoutSeconds": 10, "HeartbeatSeconds": 10}),
        ),
        &[(
            "States.S.HeartbeatSeconds",
            "HeartbeatSeconds (10) must be smaller than TimeoutSeconds (10)",
        )],
    );
    expect(
        one(
            json!({"Type": "Task", "End": true, "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "TimeoutSeconds": 0, "TimeoutSecondsPath": "$.t"}),
        ),
        &[
            (
                "States.S.TimeoutSecondsPath",
                "cannot have both \"TimeoutSeconds\" and \"TimeoutSecondsPath\"",
            ),
            (
                "States.S.TimeoutSeconds",
                "TimeoutSeconds must be an integer ≥ 1, found 0",
            ),
        ],
    );
    expect(
        one(
            json!({"Type": "Task", "End": true, "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Credentials": "role"}),
        ),
        &[(
            "States.S.Credentials",
            "Credentials must be an object, found a string",
        )],
    );
}

#[test]
fn retry_and_catch_rules() {
    let task = |extra: Value| {
        let mut t = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Next": "T"});
        if let (Some(t), Some(e)) = (t.as_object_mut(), extra.as_object()) {
            t.extend(e.clone());
        }
        json!({"StartAt": "S", "States": {"S": t, "T": {"Type": "Succeed"}}})
    };
    expect(
        task(json!({"Retry": [{"ErrorEquals": []}]})),
        &[("States.S.Retry[0].ErrorEquals", "ErrorEquals must not be empty")],
    );
    expect(
        task(json!({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]})),
        &[(
            "States.S.Retry[0].ErrorEquals[0]",
            "\"States.ALL\" must be the only error name in ErrorEquals",
        )],
    );
    expect(
        task(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})),
        &[(
            "States.S.Retry[0].ErrorEquals[0]",
            "\"States.ALL\" must be in the last retrier or catcher",
        )],
    );
    expect(
        task(
            json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0, "MaxAttempts": -1, "BackoffRate": 0.5,
            "MaxDelaySeconds": 0, "JitterStrategy": "SOME", "Foo": 1}]}),
        ),
        &[
            (
                "States.S.Retry[0].IntervalSeconds",
                "IntervalSeconds must be an integer ≥ 1, found 0",
            ),
            (
                "States.S.Retry[0].MaxAttempts",
                "MaxAttempts must be an integer ≥ 0, found -1",
            ),
            (
                "States.S.Retry[0].BackoffRate",
                "BackoffRate must be a number ≥ 1.0, found 0.5",
            ),
            (
                "States.S.Retry[0].MaxDelaySeconds",
                "MaxDelaySeconds must be an integer ≥ 1, found 0",
            ),
            (
                "States.S.Retry[0].JitterStrategy",
                "JitterStrategy must be \"FULL\" or \"NONE\", found \"SOME\"",
            ),
            ("States.S.Retry[0].Foo", "unknown field \"Foo\" in a retrier"),
        ],
    );
    expect(
        task(json!({"Catch": [{"ErrorEquals": ["X"]}]})),
        &[("States.S.Catch[0]", "missing required field \"Next\"")],
    );
    expect(
        task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "Ghost", "ResultPath": "$.a[*]"}]})),
        &[
            ("States.S.Catch[0].Next", "no state named \"Ghost\""),
            (
                "States.S.Catch[0].ResultPath",
                "invalid JSONPath \"$.a[*]\": a reference path allows only [index] and ['name'] steps",
            ),
        ],
    );
    expect(
        task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "T", "Output": {}}]})),
        &[(
            "States.S.Catch[0].Output",
            "field \"Output\" is not allowed in a JSONPath state (set QueryLanguage to JSONata)",
        )],
    );
    // A state reachable only through a catcher is reachable.
    let def = json!({"StartAt": "S", "States": {
        "S": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "F": {"Type": "Fail"}}});
    expect(def, &[]);
}

#[test]
fn query_language_rules() {
    expect(
        json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Pass", "End": true, "InputPath": "$.a", "Parameters": {}}}}),
        &[
            (
                "States.S.InputPath",
                "field \"InputPath\" is not allowed in a JSONata state",
            ),
            (
                "States.S.Parameters",
                "field \"Parameters\" is not allowed in a JSONata state",
            ),
        ],
    );
    expect(
        one(
            json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true, "Arguments": {}}),
        ),
        &[(
            "States.S.Arguments",
            "field \"Arguments\" is not allowed in a JSONPath state (set QueryLanguage to JSONata)",
        )],
    );
    // A state can opt into JSONata on its own.
    expect(
        one(
            json!({"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true, "Arguments": {"a": "{% $states.input %}"}}),
        ),
        &[],
    );
    expect(
        json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Pass", "End": true,
            "Output": {"a": "{% $x ", "b": ["{% [1, 2 %}"]}, "Assign": {"v": "{% %}"}}}}),
        &[
            ("States.S.Assign.v", "empty JSONata expression"),
            (
                "States.S.Output.b[0]",
                "invalid JSONata expression \"{% [1, 2 %}\": S0203: Expected \"]\" before end of expression (at position 7)",
            ),
            (
                "States.S.Output.a",
                "JSONata expression \"{% $x \" must end with \"%}\"",
            ),
        ],
    );
}

#[test]
fn jsonpath_rules() {
    expect(
        one(
            json!({"Type": "Pass", "End": true, "InputPath": "a.b", "OutputPath": null, "ResultPath": "$..x"}),
        ),
        &[
            (
                "States.S.InputPath",
                "invalid JSONPath \"a.b\": must start with \"$\"",
            ),
            (
                "States.S.ResultPath",
                "invalid JSONPath \"$..x\": a reference path cannot use \"..\"",
            ),
        ],
    );
    expect(
        one(json!({"Type": "Pass", "End": true, "Parameters": {
            "ok.$": "States.Format('{} {}', $.a, States.JsonToString($$.Execution.Input))",
            "var.$": "$myVar",
            "nested": [{"bad.$": "States.Format('x', $.a"}],
            "num.$": 3,
            "plain": "$.not-checked"}})),
        &[
            (
                "States.S.Parameters[\"num.$\"]",
                "a \".$\" field must hold a JSONPath or intrinsic function string, found a number",
            ),
            (
                "States.S.Parameters.nested[0][\"bad.$\"]",
                "invalid intrinsic function \"States.Format('x', $.a\": expected \",\" or \")\"",
            ),
        ],
    );
    expect(
        one(json!({"Type": "Pass", "End": true, "Assign": {"x.$": "hello"}})),
        &[(
            "States.S.Assign[\"x.$\"]",
            "\"hello\" is neither a JSONPath (starting with \"$\") nor an intrinsic function call",
        )],
    );
}

#[test]
fn choice_rule_depth_is_bounded() {
    let mut rule = json!({"Variable": "$.a", "IsNull": true});
    for _ in 0..150 {
        rule = json!({"Not": rule});
    }
    let def = json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Not": rule, "Next": "T"}]}, "T": {"Type": "Succeed"}}});
    let e = errs(&def);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].1, "choice rules nested more than 100 levels deep");
}

/// AWS accepted `" {% states.input %} "` (spaces around it) in `Arguments` and in `Output`:
/// for AWS it is no JSONata expression but a string (issue 20).
#[test]
fn a_string_with_space_before_the_braces_is_text_not_jsonata() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {
        "Type": "Pass", "Output": {"x": " {% states.input %} "}, "End": true}}});
    assert_eq!(errs(&def), vec![]);
    let task = json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"Payload": " {% states.input %} "}, "End": true}}});
    assert_eq!(errs(&task), vec![]);
}
