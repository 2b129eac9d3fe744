//! The rules Step Functions enforces at CreateStateMachine, through the manifest loader as
//! `validate` runs them: each refused definition yields exactly one error naming
//! `FILE:LINE:COLUMN`, the state path and AWS's diagnostic code; warnings are reported apart and
//! never fail; definitions AWS runs are accepted.
//!
//! A case marks the offending node with `^` right before it; the expected location is that spot.

use sfn_operator::manifest::{self, Diagnostic, LoadOptions, Loaded};

/// Loads one StateMachine manifest whose `definition` is `def` (YAML, indented as written here,
/// `^` marking where the finding must point). Returns what the loader found and the marked spot.
fn load(machine_type: &str, def: &str) -> (Loaded, Option<(u64, u64)>) {
    let mut text = format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {{name: m}}\nspec:\n  type: {machine_type}\n  roleArn: arn:aws:iam::123456789012:role/r\n  definition:\n"
    );
    let mut mark = None;
    let header_lines = text.lines().count() as u64;
    for (i, line) in def.lines().enumerate() {
        let line = format!("    {line}");
        if let Some(col) = line.find('^') {
            mark = Some((
                header_lines + i as u64 + 1,
                line[..col].chars().count() as u64 + 1,
            ));
        }
        text.push_str(&line.replace('^', ""));
        text.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.yaml"), &text).unwrap();
    let loaded = manifest::load(&LoadOptions {
        paths: vec![dir.path().to_path_buf()],
        ..LoadOptions::default()
    });
    (loaded, mark)
}

/// Asserts exactly one error, at the marked spot, `definition.PATH: CODE: ...`.
fn refused(machine_type: &str, def: &str, path: &str, code: &str) -> Diagnostic {
    let (loaded, mark) = load(machine_type, def);
    assert_eq!(
        loaded.diagnostics.len(),
        1,
        "expected one error for {path} {code}, got:\n{}",
        loaded
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let d = loaded.diagnostics[0].clone();
    let (line, column) = mark.expect("case has a ^ mark");
    assert_eq!((d.line, d.column), (line, column), "location of {d}");
    assert!(d.file.ends_with("m.yaml"), "{d}");
    let prefix = format!("definition.{path}: {code}: ");
    assert!(
        d.message.starts_with(&prefix),
        "expected {prefix:?}…, got {:?}",
        d.message
    );
    d
}

fn accepted(machine_type: &str, def: &str) -> Loaded {
    let (loaded, _) = load(machine_type, def);
    assert!(
        loaded.diagnostics.is_empty(),
        "false refusal:\n{}",
        loaded
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    loaded
}

/// A one-Task machine whose Resource is `resource` (marked).
fn task(resource: &str) -> String {
    format!("StartAt: A\nStates:\n  A:\n    Type: Task\n    Resource: ^{resource}\n    End: true\n")
}

#[test]
fn resource_must_be_an_arn() {
    let d = refused(
        "STANDARD",
        &task("not-an-arn"),
        "States.A.Resource",
        "SCHEMA_VALIDATION_FAILED",
    );
    assert!(d.message.contains("Value is not a valid resource ARN"), "{d}");
}

#[test]
fn resource_must_be_a_known_optimized_integration() {
    let d = refused(
        "STANDARD",
        &task("arn:aws:states:::dynamodb:query"),
        "States.A.Resource",
        "INVALID_RESOURCE",
    );
    assert!(
        d.message.contains("aws-sdk:dynamodb:query"),
        "suggests the SDK integration: {d}"
    );
    refused(
        "STANDARD",
        &task("arn:aws:ecs:us-east-1:123456789012:cluster/c"),
        "States.A.Resource",
        "INVALID_RESOURCE",
    );
    accepted("STANDARD", &task("arn:aws:states:::aws-sdk:dynamodb:query"));
}

#[test]
fn integration_patterns_are_those_the_integration_supports() {
    refused(
        "STANDARD",
        &task("arn:aws:states:::dynamodb:putItem.sync"),
        "States.A.Resource",
        "INVALID_RESOURCE",
    );
    refused(
        "STANDARD",
        &task("arn:aws:states:::lambda:invoke.sync"),
        "States.A.Resource",
        "INVALID_RESOURCE",
    );
    refused(
        "STANDARD",
        &task("arn:aws:states:::aws-sdk:s3:getObject.sync"),
        "States.A.Resource",
        "INVALID_RESOURCE",
    );
    refused(
        "STANDARD",
        &task("arn:aws:states:::sqs:sendMessage.waitForTaskTokens"),
        "States.A.Resource",
        "INVALID_RESOURCE",
    );
    for ok in [
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::ecs:runTask.sync",
        "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
        "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
        "arn:aws:lambda:us-east-1:123456789012:function:f:live",
        "arn:aws:states:us-east-1:123456789012:activity:a",
    ] {
        accepted("STANDARD", &task(ok));
    }
}

#[test]
fn express_machines_refuse_sync_callbacks_and_activities() {
    for r in [
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:us-east-1:123456789012:activity:a",
    ] {
        let d = refused(
            "EXPRESS",
            &task(r),
            "States.A.Resource",
            "SCHEMA_VALIDATION_FAILED",
        );
        assert!(
            d.message.contains(
                "Express state machines (and a distributed Map's EXPRESS child executions) do not support"
            ),
            "{d}"
        );
        accepted("STANDARD", &task(r));
    }
    accepted("EXPRESS", &task("arn:aws:states:::lambda:invoke"));
    // A distributed Map's EXPRESS children are Express workflows too; STANDARD children are not.
    let dmap = |exec: &str| {
        format!(
            "StartAt: M\nStates:\n  M:\n    Type: Map\n    End: true\n    ItemProcessor:\n      ProcessorConfig: {{Mode: DISTRIBUTED, ExecutionType: {exec}}}\n      StartAt: T\n      States:\n        T:\n          Type: Task\n          Resource: ^arn:aws:states:::lambda:invoke.waitForTaskToken\n          End: true\n"
        )
    };
    refused(
        "STANDARD",
        &dmap("EXPRESS"),
        "States.M.ItemProcessor.States.T.Resource",
        "SCHEMA_VALIDATION_FAILED",
    );
    accepted("STANDARD", &dmap("STANDARD"));
}

/// A one-Pass JSONata machine whose Output is `output` (marked).
fn jsonata_output(output: &str) -> String {
    format!(
        "QueryLanguage: JSONata\nStartAt: A\nStates:\n  A:\n    Type: Pass\n    Output: ^\"{output}\"\n    End: true\n"
    )
}

#[test]
fn jsonata_is_parsed() {
    let d = refused(
        "STANDARD",
        &jsonata_output("{% 10 + * 2 %}"),
        "States.A.Output",
        "INVALID_JSONATA",
    );
    assert!(d.message.contains("S0201: Syntax error: 2"), "{d}");
    let d = refused(
        "STANDARD",
        &jsonata_output("{% 420. %}"),
        "States.A.Output",
        "INVALID_JSONATA",
    );
    assert!(d.message.contains("S0207"), "{d}");
    accepted("STANDARD", &jsonata_output("{% $states.input.a + 2 %}"));
}

#[test]
fn jsonata_refuses_a_jsonpath_query() {
    for q in ["{% $.a %}", "{% $$.Execution.Id %}", "{% a.b %}", "{% $ %}"] {
        let d = refused(
            "STANDARD",
            &jsonata_output(q),
            "States.A.Output",
            "INVALID_JSONATA",
        );
        assert!(d.message.contains("$states.input"), "{d}");
    }
    // Inside a function or a lambda, `$` is the context item: fine.
    accepted(
        "STANDARD",
        &jsonata_output("{% $map($states.input.xs, function($v) { $v.a }) %}"),
    );
    accepted("STANDARD", &jsonata_output("{% $states.input.xs[$ > 1] %}"));
}

#[test]
fn wait_timestamp_is_rfc3339() {
    let wait = |ts: &str| {
        format!("StartAt: W\nStates:\n  W:\n    Type: Wait\n    Timestamp: ^\"{ts}\"\n    End: true\n")
    };
    for bad in [
        "2016-12-05 21:29:29Z",
        "05-12-2016T21:29:29Z",
        "2016-12-05T21:29:29",
        "2016-13-05T21:29:29Z",
    ] {
        let d = refused(
            "STANDARD",
            &wait(bad),
            "States.W.Timestamp",
            "SCHEMA_VALIDATION_FAILED",
        );
        assert!(
            d.message.contains("String does not match RFC3339 timestamp"),
            "{d}"
        );
    }
    for ok in [
        "2016-12-05T21:29:29Z",
        "2016-12-05T21:29:29.123+02:00",
        "2026-01-01t00:00:00z",
    ] {
        accepted("STANDARD", &wait(ok));
    }
}

#[test]
fn state_names_are_unique_in_the_whole_machine() {
    let parallel = "StartAt: P\nStates:\n  P:\n    Type: Parallel\n    End: true\n    Branches:\n      - StartAt: X\n        States:\n          X: {Type: Succeed}\n      - StartAt: X\n        States:\n          X: ^{Type: Succeed}\n";
    let d = refused(
        "STANDARD",
        parallel,
        "States.P.Branches[1].States.X",
        "DUPLICATE_STATE_NAME",
    );
    assert!(
        d.message.contains("States.P.Branches[0].States.X"),
        "names the first: {d}"
    );
    let map = "StartAt: M\nStates:\n  M:\n    Type: Map\n    End: true\n    ItemProcessor:\n      StartAt: M\n      States:\n        M: ^{Type: Succeed}\n";
    refused(
        "STANDARD",
        map,
        "States.M.ItemProcessor.States.M",
        "DUPLICATE_STATE_NAME",
    );
}

#[test]
fn a_field_twice_is_refused() {
    let dollar = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Parameters:\n      a: 1\n      a.$: ^$.b\n    End: true\n";
    refused(
        "STANDARD",
        dollar,
        "States.A.Parameters[\"a.$\"]",
        "SCHEMA_VALIDATION_FAILED",
    );
    let reader = "StartAt: M\nStates:\n  M:\n    Type: Map\n    End: true\n    ItemReader:\n      Resource: arn:aws:states:::s3:getObject\n      ReaderConfig:\n        InputType: CSV\n        MaxItems: 10\n        MaxItemsPath: ^$.max\n      Parameters: {Bucket: b, Key: k}\n    ItemProcessor:\n      ProcessorConfig: {Mode: DISTRIBUTED, ExecutionType: STANDARD}\n      StartAt: I\n      States:\n        I: {Type: Succeed}\n";
    refused(
        "STANDARD",
        reader,
        "States.M.ItemReader.ReaderConfig.MaxItemsPath",
        "SCHEMA_VALIDATION_FAILED",
    );
    let batcher = "StartAt: M\nStates:\n  M:\n    Type: Map\n    End: true\n    ItemBatcher:\n      MaxItemsPerBatch: 10\n      MaxItemsPerBatchPath: ^$.n\n    ItemProcessor:\n      ProcessorConfig: {Mode: DISTRIBUTED, ExecutionType: STANDARD}\n      StartAt: I\n      States:\n        I: {Type: Succeed}\n";
    refused(
        "STANDARD",
        batcher,
        "States.M.ItemBatcher.MaxItemsPerBatchPath",
        "SCHEMA_VALIDATION_FAILED",
    );
}

#[test]
fn result_path_cannot_be_a_variable() {
    let def = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    ResultPath: ^$myVar\n    End: true\n";
    refused("STANDARD", def, "States.A.ResultPath", "INVALID_JSON_PATH");
    accepted(
        "STANDARD",
        "StartAt: A\nStates:\n  A:\n    Type: Pass\n    ResultPath: $.x\n    End: true\n",
    );
}

#[test]
fn assign_must_be_an_object() {
    let def = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Assign: ^[1, 2]\n    End: true\n";
    refused("STANDARD", def, "States.A.Assign", "SCHEMA_VALIDATION_FAILED");
    let jsonata = "QueryLanguage: JSONata\nStartAt: A\nStates:\n  A:\n    Type: Pass\n    Assign: ^\"{% $states.input %}\"\n    End: true\n";
    refused("STANDARD", jsonata, "States.A.Assign", "SCHEMA_VALIDATION_FAILED");
}

#[test]
fn a_jsonata_machine_has_no_jsonpath_states() {
    let def = "QueryLanguage: JSONata\nStartAt: A\nStates:\n  A:\n    Type: Pass\n    QueryLanguage: ^JSONPath\n    End: true\n";
    refused(
        "STANDARD",
        def,
        "States.A.QueryLanguage",
        "SCHEMA_VALIDATION_FAILED",
    );
    // The other way round is how a JSONPath machine adopts JSONata state by state.
    accepted(
        "STANDARD",
        "StartAt: A\nStates:\n  A:\n    Type: Pass\n    QueryLanguage: JSONata\n    Output: \"{% 1 %}\"\n    End: true\n",
    );
}

#[test]
fn credentials_need_a_role_arn() {
    let def = "StartAt: A\nStates:\n  A:\n    Type: Task\n    Resource: arn:aws:states:::lambda:invoke\n    Credentials: ^{Role: x}\n    End: true\n";
    refused(
        "STANDARD",
        def,
        "States.A.Credentials",
        "SCHEMA_VALIDATION_FAILED",
    );
    accepted(
        "STANDARD",
        "StartAt: A\nStates:\n  A:\n    Type: Task\n    Resource: arn:aws:states:::lambda:invoke\n    Credentials: {RoleArn.$: $.role}\n    End: true\n",
    );
}

#[test]
fn intrinsic_strings_refuse_escaped_double_quotes() {
    let def = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Parameters:\n      m.$: ^'States.Format(''say \\\"{}\\\"'', $.a)'\n    End: true\n";
    let d = refused(
        "STANDARD",
        def,
        "States.A.Parameters[\"m.$\"]",
        "SCHEMA_VALIDATION_FAILED",
    );
    assert!(d.message.contains("not a valid escape"), "{d}");
    accepted(
        "STANDARD",
        "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Parameters:\n      m.$: \"States.Format('say \\\\'{}\\\\'', $.a)\"\n    End: true\n",
    );
}

#[test]
fn warnings_are_reported_and_do_not_fail() {
    let def = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Parameters:\n      literal: ^$.looks.like.a.path\n    Next: B\n  B:\n    Type: Pass\n    Result: {x.$: $.a}\n    End: true\n";
    let loaded = accepted("STANDARD", def);
    let (_, mark) = load("STANDARD", def);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    let (line, column) = mark.unwrap();
    assert!(
        warnings[0].contains(&format!(
            "m.yaml:{line}:{column}: warning: definition.States.A.Parameters.literal: NO_DOLLAR: "
        )),
        "{warnings:#?}"
    );
    assert!(
        warnings[1].contains("warning: definition.States.B.Result[\"x.$\"]: PASS_RESULT_IS_STATIC: "),
        "{warnings:#?}"
    );
}

#[test]
fn false_refusals_of_the_past_are_accepted() {
    // A Map with the older Iterator holding a ProcessorConfig.
    accepted(
        "STANDARD",
        "StartAt: M\nStates:\n  M:\n    Type: Map\n    End: true\n    Iterator:\n      ProcessorConfig: {Mode: INLINE}\n      StartAt: I\n      States:\n        I: {Type: Succeed}\n",
    );
    // A Comment in a JSONata state is text, not an expression.
    accepted(
        "STANDARD",
        "QueryLanguage: JSONata\nStartAt: A\nStates:\n  A:\n    Type: Pass\n    Comment: \"{% not an expression, just a note\"\n    End: true\n",
    );
}

#[test]
fn map_labels_are_valid_and_unique() {
    let map = |name: &str, label: &str, next: &str| {
        format!(
            "  {name}:\n    Type: Map\n    Label: {label}\n    {next}\n    ItemProcessor:\n      ProcessorConfig: {{Mode: DISTRIBUTED, ExecutionType: STANDARD}}\n      StartAt: I{name}\n      States:\n        I{name}: {{Type: Succeed}}\n"
        )
    };
    let bad = format!("StartAt: M\nStates:\n{}", map("M", "^\"my label\"", "End: true"));
    refused("STANDARD", &bad, "States.M.Label", "INVALID_LABEL_NAME");
    let twice = format!(
        "StartAt: M\nStates:\n{}{}",
        map("M", "Batch", "Next: N"),
        map("N", "^Batch", "End: true")
    );
    let d = refused("STANDARD", &twice, "States.N.Label", "DUPLICATE_LABEL_NAME");
    assert!(d.message.contains("States.M.Label"), "{d}");
    accepted(
        "STANDARD",
        &format!("StartAt: M\nStates:\n{}", map("M", "Batch-1_ok", "End: true")),
    );
}

#[test]
fn validate_prints_warnings_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {name: m}\nspec:\n  roleArn: arn:aws:iam::123456789012:role/r\n  definition:\n    StartAt: A\n    States:\n      A: {Type: Pass, Parameters: {p: $.x}, End: true}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains("m.yaml:9:39: warning: definition.States.A.Parameters.p: NO_DOLLAR: "),
        "stderr: {stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1 manifest valid");
}

#[test]
fn jsonata_arguments_and_items_have_their_types() {
    let args = "QueryLanguage: JSONata\nStartAt: A\nStates:\n  A:\n    Type: Task\n    Resource: arn:aws:states:::lambda:invoke\n    Arguments: ^[1, 2]\n    End: true\n";
    refused("STANDARD", args, "States.A.Arguments", "SCHEMA_VALIDATION_FAILED");
    let items = "QueryLanguage: JSONata\nStartAt: M\nStates:\n  M:\n    Type: Map\n    Items: ^{a: 1}\n    End: true\n    ItemProcessor:\n      StartAt: I\n      States:\n        I: {Type: Succeed}\n";
    refused("STANDARD", items, "States.M.Items", "SCHEMA_VALIDATION_FAILED");
    accepted(
        "STANDARD",
        "QueryLanguage: JSONata\nStartAt: M\nStates:\n  M:\n    Type: Map\n    Items: \"{% $states.input.xs %}\"\n    End: true\n    ItemProcessor:\n      StartAt: I\n      States:\n        I: {Type: Succeed}\n",
    );
}

#[test]
fn reconcile_prints_warnings_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    std::fs::write(
        dir.path().join("manifests/m.yaml"),
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {name: m}\nspec:\n  roleArn: arn:aws:iam::123456789012:role/r\n  definition:\n    StartAt: A\n    States:\n      A: {Type: Pass, Parameters: {p: $.x}, End: true}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .current_dir(dir.path())
        .args(["reconcile", "--once", "--sandbox", "manifests", "-q"])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(
        stderr
            .matches("warning: definition.States.A.Parameters.p: NO_DOLLAR: ")
            .count(),
        1,
        "printed once: {stderr}"
    );
}
