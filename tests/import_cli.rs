//! Issue 21 (SPEC §11): `sfn-operator import` brings a system built by hand under GitOps. The AWS
//! CLI builds the reference system the way the console tutorial does (Workflow Studio's
//! definition, the REST API, `POST /execution` with an AWS service integration and no template, a
//! deployment); then `import` → `validate` passes → `diff` exits 0, every resource `noop` →
//! `reconcile --once` writes only the ownership tags (counted by the endpoint) → the next pass
//! writes nothing. Against the sandbox and against moto; bad inputs; 200 generated machines.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use std::path::Path;
use std::process::{Command, Output};

use common::{Sandbox, aws_cli, report};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

/// Runs the binary with test credentials and region `us-east-1`; the output is echoed for failing tests.
fn run(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run sfn-operator");
    eprintln!(
        "{args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `import ARGS -o DIR --endpoint-url URL`.
fn import(url: &str, dir: &Path, args: &[&str]) -> Output {
    let dir = dir.to_str().unwrap();
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", dir, "--endpoint-url", url, "-q"]);
    run(&all)
}

/// `diff`/`reconcile --once` of DIR at URL with a JSON report.
fn pass(url: &str, dir: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&[dir.to_str().unwrap(), "--endpoint-url", url, "-o", "json", "-q"]);
    run(&all)
}

fn cli(url: &str, args: &[&str]) -> Value {
    aws_cli(url, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

/// The definition Workflow Studio generates for the tutorial: three Lambda invokes in a Parallel
/// state, with the console's default Retry block and the tutorial's ResultSelectors.
fn tutorial_definition() -> Value {
    let task = |name: &str, function: &str, selector: Value| {
        json!({"StartAt": name, "States": {name: {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "Payload.$": "$",
                "FunctionName": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}:$LATEST")
            },
            "Retry": [{
                "ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                                "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
                "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL"
            }],
            "End": true,
            "ResultSelector": selector
        }}})
    };
    json!({
        "Comment": "A step functions workflow that executes tasks in parallel.",
        "StartAt": "Parallel",
        "States": {"Parallel": {"Type": "Parallel", "End": true, "Branches": [
            task("SumValues", "SumFunction", json!({"sum.$": "$.Payload.sum"})),
            task("MaxMinValues", "MaxMinFunction", json!({"max.$": "$.Payload.max", "min.$": "$.Payload.min"})),
            task("AverageValues", "AvgFunction", json!({"avg.$": "$.Payload.avg"}))
        ]}}
    })
}

/// Creates a state machine with the AWS CLI.
fn create_machine(url: &str, name: &str, kind: &str, definition: &Value, extra: &[&str]) -> String {
    let def = definition.to_string();
    let role = format!("arn:aws:iam::{ACCOUNT}:role/StepFunctionsIamRole");
    let mut args = vec![
        "stepfunctions",
        "create-state-machine",
        "--name",
        name,
        "--type",
        kind,
        "--role-arn",
        &role,
        "--definition",
        &def,
    ];
    args.extend_from_slice(extra);
    cli(url, &args)["stateMachineArn"].as_str().unwrap().to_owned()
}

/// One method with an AWS service integration to Step Functions, as the console makes it:
/// method, integration (with `template` when given), method response and integration response.
fn put_states_method(url: &str, api: &str, resource: &str, verb: &str, action: &str, template: Option<&str>) {
    cli(
        url,
        &[
            "apigateway",
            "put-method",
            "--rest-api-id",
            api,
            "--resource-id",
            resource,
            "--http-method",
            verb,
            "--authorization-type",
            "NONE",
        ],
    );
    let uri = format!("arn:aws:apigateway:us-east-1:states:action/{action}");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/IntegrationIamRole");
    let templates = template.map(|t| json!({"application/json": t}).to_string());
    let mut args = vec![
        "apigateway",
        "put-integration",
        "--rest-api-id",
        api,
        "--resource-id",
        resource,
        "--http-method",
        verb,
        "--type",
        "AWS",
        "--integration-http-method",
        "POST",
        "--uri",
        &uri,
        "--credentials",
        &role,
        "--passthrough-behavior",
        "WHEN_NO_MATCH",
    ];
    if let Some(t) = &templates {
        args.extend_from_slice(&["--request-templates", t]);
    }
    cli(url, &args);
    cli(
        url,
        &[
            "apigateway",
            "put-method-response",
            "--rest-api-id",
            api,
            "--resource-id",
            resource,
            "--http-method",
            verb,
            "--status-code",
            "200",
            "--response-models",
            "application/json=Empty",
        ],
    );
    cli(
        url,
        &[
            "apigateway",
            "put-integration-response",
            "--rest-api-id",
            api,
            "--resource-id",
            resource,
            "--http-method",
            verb,
            "--status-code",
            "200",
            "--selection-pattern",
            "",
        ],
    );
}

/// The REST API of the tutorial with `POST /execution` (no template: the caller sends
/// `{"input", "stateMachineArn"}`), deployed to `prod`. Returns the API id and `/execution`'s id.
fn create_tutorial_api(url: &str) -> (String, String) {
    let api = cli(
        url,
        &[
            "apigateway",
            "create-rest-api",
            "--name",
            "API Gateway State Machine integration",
            "--endpoint-configuration",
            "types=REGIONAL",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = cli(url, &["apigateway", "get-resources", "--rest-api-id", &api])["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let execution = cli(
        url,
        &[
            "apigateway",
            "create-resource",
            "--rest-api-id",
            &api,
            "--parent-id",
            &root,
            "--path-part",
            "execution",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    put_states_method(url, &api, &execution, "POST", "StartExecution", None);
    (api, execution)
}

fn deploy(url: &str, api: &str) {
    cli(
        url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            api,
            "--stage-name",
            "prod",
        ],
    );
}

/// The round trip of SPEC §11 on the manifests imported into `dir`: validate, diff all noop,
/// one reconcile writing only tags (`tag_writes` of them), a second writing nothing. `writes` reads
/// the endpoint's write calls since the last reset, by operation.
async fn round_trip(
    url: &str,
    dir: &Path,
    extra: &[&str],
    tag_writes: u64,
    writes: impl AsyncFn() -> Vec<(String, u64)>,
    reset: impl AsyncFn(),
) {
    let out = run(&[
        "validate",
        dir.to_str().unwrap(),
        "--region",
        "us-east-1",
        "--account-id",
        ACCOUNT,
    ]);
    assert_eq!(out.status.code(), Some(0), "validate");
    let out = pass(url, dir, &[&["diff"], extra].concat());
    assert_eq!(out.status.code(), Some(0), "diff right after import");
    let r = report(&out);
    for e in r["resources"].as_array().unwrap() {
        assert_eq!(e["action"], "noop", "{e}");
    }
    assert!(!r["resources"].as_array().unwrap().is_empty());
    reset().await;
    let out = pass(url, dir, &[&["reconcile", "--once"], extra].concat());
    assert_eq!(out.status.code(), Some(0), "first reconcile");
    let written = writes().await;
    let tags: u64 = written
        .iter()
        .filter(|(op, _)| op == "TagResource")
        .map(|(_, n)| n)
        .sum();
    let others: Vec<_> = written.iter().filter(|(op, _)| op != "TagResource").collect();
    assert!(others.is_empty(), "adoption wrote more than tags: {others:?}");
    assert_eq!(tags, tag_writes, "{written:?}");
    reset().await;
    let out = pass(url, dir, &[&["reconcile", "--once"], extra].concat());
    assert_eq!(out.status.code(), Some(0), "second reconcile");
    assert_eq!(writes().await, vec![], "the pass after adoption writes nothing");
    let out = pass(url, dir, &[&["diff"], extra].concat());
    assert_eq!(out.status.code(), Some(0));
}

/// The sandbox's write calls by operation (`GET /_sandbox/requests`).
async fn sandbox_writes(sb: &Sandbox) -> Vec<(String, u64)> {
    let r = sb.requests().await.0;
    let mut out = Vec::new();
    for service in ["sfn", "apigateway", "tagging"] {
        for (op, n) in r[service].as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            let read = ["Describe", "Get", "List", "Validate"]
                .iter()
                .any(|p| op.starts_with(p));
            if n > 0 && !read {
                out.push((op.clone(), n));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_tutorial_comes_under_gitops_against_the_sandbox() {
    let sb = Sandbox::start().await;
    let url = sb.url();
    create_machine(
        &url,
        "ParallelProcessingMachine",
        "EXPRESS",
        &tutorial_definition(),
        &[],
    );
    let (api, _) = create_tutorial_api(&url);
    // A Lambda proxy method on the same API: not imported, and named.
    let root = cli(&url, &["apigateway", "get-resources", "--rest-api-id", &api])["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lambda = cli(
        &url,
        &[
            "apigateway",
            "create-resource",
            "--rest-api-id",
            &api,
            "--parent-id",
            &root,
            "--path-part",
            "lambda",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(
        &url,
        &[
            "apigateway",
            "put-method",
            "--rest-api-id",
            &api,
            "--resource-id",
            &lambda,
            "--http-method",
            "ANY",
            "--authorization-type",
            "NONE",
        ],
    );
    let fn_uri = format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:{ACCOUNT}:function:SumFunction/invocations"
    );
    cli(
        &url,
        &[
            "apigateway",
            "put-integration",
            "--rest-api-id",
            &api,
            "--resource-id",
            &lambda,
            "--http-method",
            "ANY",
            "--type",
            "AWS_PROXY",
            "--integration-http-method",
            "POST",
            "--uri",
            &fn_uri,
        ],
    );
    deploy(&url, &api);

    let dir = tempfile::tempdir().unwrap();
    let out = import(
        &url,
        dir.path(),
        &[
            "--state-machine",
            "ParallelProcessingMachine",
            "--rest-api",
            "API Gateway State Machine integration",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("not imported: ANY /lambda on REST API {api}")),
        "{stdout}"
    );
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "api-gateway-state-machine-integration.yaml",
            "parallel-processing-machine.asl.yaml",
            "parallel-processing-machine.yaml"
        ]
    );
    let api_text =
        std::fs::read_to_string(dir.path().join("api-gateway-state-machine-integration.yaml")).unwrap();
    assert!(
        !api_text.contains("requestTemplates") && !api_text.contains("stateMachineRef"),
        "{api_text}"
    );
    assert!(
        api_text.contains("credentials: \"arn:aws:iam::${AWS::AccountId}:role/IntegrationIamRole\""),
        "{api_text}"
    );
    assert!(api_text.contains("stage: prod"), "{api_text}");
    let asl = std::fs::read_to_string(dir.path().join("parallel-processing-machine.asl.yaml")).unwrap();
    assert!(asl.contains("function:SumFunction:$LATEST"), "{asl}");
    assert!(asl.contains("${AWS::AccountId}"), "{asl}");

    // Three tags writes: the machine's, the API's, the integration's record (with the stage's).
    round_trip(&url, dir.path(), &[], 3, || sandbox_writes(&sb), || sb.reset()).await;
    // The adopted API still has the Lambda method nobody manages.
    let resources = cli(&url, &["apigateway", "get-resources", "--rest-api-id", &api]);
    assert!(resources.to_string().contains("/lambda"));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jsonata_unicode_logging_custom_templates_and_two_methods_on_one_path_round_trip() {
    let sb = Sandbox::start().await;
    let url = sb.url();
    let jsonata = json!({
        "QueryLanguage": "JSONata",
        "Comment": "Variables — ünïcödé, and a literal ${placeholder}",
        "StartAt": "Première étape",
        "States": {
            "Première étape": {"Type": "Pass", "Assign": {"total": "{% $sum($states.input.values) %}"}, "Next": "終わり"},
            "終わり": {"Type": "Pass", "Output": {"total": "{% $total %}", "ratio": 0.5}, "End": true}
        }
    });
    create_machine(
        &url,
        "JsonataVars",
        "EXPRESS",
        &jsonata,
        &[
            "--tags",
            r#"[{"key": "team", "value": "payments"}, {"key": "note", "value": "${literal}"}]"#,
        ],
    );
    let logging = json!({"level": "ALL", "includeExecutionData": true, "destinations": [
        {"cloudWatchLogsLogGroup": {"logGroupArn": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/vendedlogs/states/Orders:*")}}
    ]})
    .to_string();
    create_machine(
        &url,
        "Orders",
        "STANDARD",
        &json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        &[
            "--logging-configuration",
            &logging,
            "--tracing-configuration",
            "enabled=true",
        ],
    );
    // An API with two integrations on /orders: POST with the operator's default template for
    // JsonataVars (becomes stateMachineRef), GET with a custom template (kept as it is).
    let api = cli(
        &url,
        &[
            "apigateway",
            "create-rest-api",
            "--name",
            "Orders API",
            "--description",
            "by hand",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = cli(&url, &["apigateway", "get-resources", "--rest-api-id", &api])["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let orders = cli(
        &url,
        &[
            "apigateway",
            "create-resource",
            "--rest-api-id",
            &api,
            "--parent-id",
            &root,
            "--path-part",
            "orders",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let default = sfn_operator::manifest::default_template("us-east-1", ACCOUNT, "JsonataVars", None, None);
    put_states_method(&url, &api, &orders, "POST", "StartExecution", Some(&default));
    let custom = format!(
        "#set($body = $input.path('$'))\n{{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"name\": \"$context.requestId\", \"stateMachineArn\": \"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:Orders\"}}"
    );
    put_states_method(&url, &api, &orders, "GET", "StartSyncExecution", Some(&custom));
    // The production fields of issue 23 on the GET method, set by hand: an API key, a required
    // header passed on to the integration, a body validator and a content handling.
    let validator = cli(
        &url,
        &[
            "apigateway",
            "create-request-validator",
            "--rest-api-id",
            &api,
            "--name",
            "Validate body",
            "--validate-request-body",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(
        &url,
        &[
            "apigateway",
            "update-method",
            "--rest-api-id",
            &api,
            "--resource-id",
            &orders,
            "--http-method",
            "GET",
            "--patch-operations",
            "op=replace,path=/apiKeyRequired,value=true",
            "op=add,path=/requestParameters/method.request.header.X-Trace,value=true",
            &format!("op=replace,path=/requestValidatorId,value={validator}"),
        ],
    );
    cli(
        &url,
        &[
            "apigateway",
            "update-integration",
            "--rest-api-id",
            &api,
            "--resource-id",
            &orders,
            "--http-method",
            "GET",
            "--patch-operations",
            "op=add,path=/requestParameters/integration.request.header.X-Trace,value=method.request.header.X-Trace",
            "op=replace,path=/contentHandling,value=CONVERT_TO_TEXT",
        ],
    );
    cli(
        &url,
        &[
            "apigateway",
            "create-deployment",
            "--rest-api-id",
            &api,
            "--stage-name",
            "live",
        ],
    );
    // The REST API and stage settings of issue 23, set by hand.
    cli(
        &url,
        &[
            "apigateway",
            "update-rest-api",
            "--rest-api-id",
            &api,
            "--patch-operations",
            "op=add,path=/binaryMediaTypes/image~1png",
            "op=replace,path=/minimumCompressionSize,value=1024",
        ],
    );
    cli(
        &url,
        &[
            "apigateway",
            "update-stage",
            "--rest-api-id",
            &api,
            "--stage-name",
            "live",
            "--patch-operations",
            "op=replace,path=/variables/env,value=prod",
            "op=replace,path=/tracingEnabled,value=true",
            "op=replace,path=/*/*/metrics/enabled,value=true",
            "op=replace,path=/*/*/throttling/rateLimit,value=50",
        ],
    );
    let (tutorial, _) = create_tutorial_api(&url);
    deploy(&url, &tutorial);
    create_machine(
        &url,
        "ParallelProcessingMachine",
        "EXPRESS",
        &tutorial_definition(),
        &[],
    );

    let dir = tempfile::tempdir().unwrap();
    let out = import(
        &url,
        dir.path(),
        &[
            "--state-machine",
            "JsonataVars",
            "--state-machine",
            "Orders",
            "--state-machine",
            &format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:ParallelProcessingMachine"),
            "--rest-api",
            &api,
            "--rest-api",
            "API Gateway State Machine integration",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let orders_text = std::fs::read_to_string(dir.path().join("orders-api.yaml")).unwrap();
    assert!(
        orders_text.contains("stateMachineRef: jsonata-vars"),
        "{orders_text}"
    );
    assert!(
        orders_text.contains("StartSyncExecution") && orders_text.contains("requestTemplates"),
        "{orders_text}"
    );
    assert!(orders_text.contains("stage: live"), "{orders_text}");
    for field in [
        "apiKeyRequired: true",
        "method.request.header.X-Trace: true",
        "requestValidator: BODY",
        "integration.request.header.X-Trace: method.request.header.X-Trace",
        "contentHandling: CONVERT_TO_TEXT",
        "binaryMediaTypes:",
        "image/png",
        "minimumCompressionSize: 1024",
        "stages:",
        "env: prod",
        "tracingEnabled: true",
        "metricsEnabled: true",
        "throttlingRateLimit: 50",
    ] {
        assert!(orders_text.contains(field), "{field} missing from {orders_text}");
    }
    // The custom template starts Orders: kept, and the machine referenced.
    assert!(orders_text.contains("stateMachineRef: orders"), "{orders_text}");
    let machine_text = std::fs::read_to_string(dir.path().join("jsonata-vars.yaml")).unwrap();
    assert!(machine_text.contains("note: \"$${literal}\""), "{machine_text}");
    let std_text = std::fs::read_to_string(dir.path().join("orders.yaml")).unwrap();
    assert!(
        std_text.contains("type: STANDARD") && std_text.contains("level: ALL"),
        "{std_text}"
    );
    assert!(std_text.contains("enabled: true"), "{std_text}");

    // Tags: 3 machines, 2 APIs, and one TagResource per API for its integrations' records.
    round_trip(&url, dir.path(), &[], 7, || sandbox_writes(&sb), || sb.reset()).await;
    let tags = cli(
        &url,
        &[
            "stepfunctions",
            "list-tags-for-resource",
            "--resource-arn",
            &format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:JsonataVars"),
        ],
    );
    assert!(tags.to_string().contains("${literal}"), "{tags}");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_exit_1_and_write_nothing() {
    let sb = Sandbox::start().await;
    let url = sb.url();
    create_machine(
        &url,
        "ParallelProcessingMachine",
        "EXPRESS",
        &tutorial_definition(),
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let listing = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };

    // A name that does not exist.
    let out = import(
        &url,
        dir.path(),
        &[
            "--state-machine",
            "ParallelProcessingMachine",
            "--state-machine",
            "Nope",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("StateMachineDoesNotExist: "), "{stderr}");
    assert!(stderr.contains("stateMachine:Nope"), "{stderr}");
    assert_eq!(listing(dir.path()), Vec::<String>::new());
    let out = import(
        &url,
        dir.path(),
        &[
            "--state-machine",
            "ParallelProcessingMachine",
            "--rest-api",
            "Nope",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NotFoundException: "));
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    // An existing file: not overwritten without --force, and nothing else written either.
    std::fs::write(dir.path().join("parallel-processing-machine.yaml"), "# mine\n").unwrap();
    let out = import(
        &url,
        dir.path(),
        &["--state-machine", "ParallelProcessingMachine"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(listing(dir.path()), ["parallel-processing-machine.yaml"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("parallel-processing-machine.yaml")).unwrap(),
        "# mine\n"
    );
    let out = import(
        &url,
        dir.path(),
        &["--state-machine", "ParallelProcessingMachine", "--force"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        listing(dir.path()),
        [
            "parallel-processing-machine.asl.yaml",
            "parallel-processing-machine.yaml"
        ]
    );

    // -o naming a file.
    let file = dir.path().join("parallel-processing-machine.yaml");
    let before = std::fs::read_to_string(&file).unwrap();
    let out = import(&url, &file, &["--state-machine", "ParallelProcessingMachine"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    // A field no manifest can express: refused by name, nothing written.
    let api = cli(&url, &["apigateway", "create-rest-api", "--name", "Params API"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = cli(&url, &["apigateway", "get-resources", "--rest-api-id", &api])["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    put_states_method(&url, &api, &root, "POST", "StartExecution", None);
    cli(
        &url,
        &[
            "apigateway",
            "update-integration",
            "--rest-api-id",
            &api,
            "--resource-id",
            &root,
            "--http-method",
            "POST",
            "--patch-operations",
            "op=add,path=/cacheKeyParameters/method.request.header.X-Trace",
        ],
    );
    let empty = tempfile::tempdir().unwrap();
    let out = import(
        &url,
        empty.path(),
        &[
            "--state-machine",
            "ParallelProcessingMachine",
            "--rest-api",
            "Params API",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "POST / on REST API {api} (Params API): integration.cacheKeyParameters"
        )),
        "{stderr}"
    );
    assert_eq!(listing(empty.path()), Vec::<String>::new());

    // Nothing to import: a usage error.
    let out = run(&["import", "--endpoint-url", &url]);
    assert_eq!(out.status.code(), Some(64));
    sb.shutdown().await;
}

/// The proxy's forwarded writes by operation (API Gateway's `PUT /tags/...` counted as `TagResource`).
fn proxy_writes(proxy: &fault_proxy::FaultProxy) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for w in proxy.writes() {
        let op = if w.operation.contains(" /tags/") {
            "TagResource".to_owned()
        } else {
            w.operation.clone()
        };
        match out.iter_mut().find(|(o, _)| *o == op) {
            Some((_, n)) => *n += 1,
            None => out.push((op, 1)),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_tutorial_comes_under_gitops_against_moto() {
    let moto = common::start_moto().await;
    let proxy = fault_proxy::FaultProxy::start(&moto.url).await;
    let url = moto.url.clone();
    create_machine(
        &url,
        "ParallelProcessingMachine",
        "EXPRESS",
        &tutorial_definition(),
        &[],
    );
    let (api, _) = create_tutorial_api(&url);
    deploy(&url, &api);
    let logging = json!({"level": "ERROR", "includeExecutionData": false, "destinations": [
        {"cloudWatchLogsLogGroup": {"logGroupArn": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:orders:*")}}
    ]})
    .to_string();
    create_machine(
        &url,
        "Orders",
        "STANDARD",
        &json!({"QueryLanguage": "JSONata", "StartAt": "Étape", "States": {"Étape": {"Type": "Pass", "Output": "{% $states.input %}", "End": true}}}),
        &[
            "--logging-configuration",
            &logging,
            "--tracing-configuration",
            "enabled=true",
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let out = import(
        &proxy.url,
        dir.path(),
        &[
            "--state-machine",
            "ParallelProcessingMachine",
            "--state-machine",
            "Orders",
            "--rest-api",
            "API Gateway State Machine integration",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let api_text =
        std::fs::read_to_string(dir.path().join("api-gateway-state-machine-integration.yaml")).unwrap();
    assert!(
        api_text.contains("stage: prod") && !api_text.contains("requestTemplates"),
        "{api_text}"
    );
    // Everything imported is in sync as moto sees it.
    let out = pass(&proxy.url, dir.path(), &["diff"]);
    assert_eq!(out.status.code(), Some(0), "diff right after import");
    for e in report(&out)["resources"].as_array().unwrap() {
        assert_eq!(e["action"], "noop", "{e}");
    }
    // moto has no API Gateway TagResource (`PUT /tags/...` answers 404), so the REST API's
    // adoption cannot be written there (the sandbox tests cover it); the machines' can.
    let machines = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap();
        let name = f.file_name().to_string_lossy().into_owned();
        if !name.starts_with("api-") {
            std::fs::copy(f.path(), machines.path().join(&name)).unwrap();
        }
    }
    round_trip(
        &proxy.url,
        machines.path(),
        &[],
        2,
        async || proxy_writes(&proxy),
        async || proxy.reset(),
    )
    .await;
    let tags = cli(
        &url,
        &[
            "stepfunctions",
            "list-tags-for-resource",
            "--resource-arn",
            &format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:Orders"),
        ],
    );
    assert!(tags.to_string().contains("sfn-operator.dev/managed-by"), "{tags}");
}

/// A machine with two published versions and two aliases, made with the AWS CLI (`--publish`
/// on create and update, then `create-state-machine-alias`): its ARN.
fn create_versioned_machine(url: &str) -> String {
    let pass = |v: &str| json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": v, "End": true}}});
    let arn = create_machine(url, "Checkout", "STANDARD", &pass("one"), &["--publish"]);
    update_definition(url, &arn, &pass("two"), &["--publish"]);
    let routing = |items: &[(u32, u32)]| {
        Value::Array(
            items
                .iter()
                .map(|(v, w)| json!({"stateMachineVersionArn": format!("{arn}:{v}"), "weight": w}))
                .collect(),
        )
        .to_string()
    };
    for (name, description, items) in [
        ("live", None, routing(&[(1, 90), (2, 10)])),
        ("stable", Some("the one we trust"), routing(&[(1, 100)])),
    ] {
        let mut args = vec![
            "stepfunctions",
            "create-state-machine-alias",
            "--name",
            name,
            "--routing-configuration",
            &items,
        ];
        if let Some(d) = description {
            args.extend_from_slice(&["--description", d]);
        }
        cli(url, &args);
    }
    arn
}

/// `update-state-machine --definition` with the AWS CLI.
fn update_definition(url: &str, arn: &str, definition: &Value, extra: &[&str]) {
    let def = definition.to_string();
    let mut args = vec![
        "stepfunctions",
        "update-state-machine",
        "--state-machine-arn",
        arn,
        "--definition",
        &def,
    ];
    args.extend_from_slice(extra);
    cli(url, &args);
}

/// The aliases of a machine as the AWS CLI reads them: `name → [(version, weight)]`, sorted.
fn aliases_read_back(url: &str, arn: &str) -> Vec<(String, Vec<(String, u64)>)> {
    let listed = cli(
        url,
        &[
            "stepfunctions",
            "list-state-machine-aliases",
            "--state-machine-arn",
            arn,
        ],
    );
    let mut out = Vec::new();
    for a in listed["stateMachineAliases"].as_array().unwrap() {
        let alias_arn = a["stateMachineAliasArn"].as_str().unwrap();
        let d = cli(
            url,
            &[
                "stepfunctions",
                "describe-state-machine-alias",
                "--state-machine-alias-arn",
                alias_arn,
            ],
        );
        let mut routing: Vec<(String, u64)> = d["routingConfiguration"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["stateMachineVersionArn"].as_str().unwrap().to_owned(),
                    r["weight"].as_u64().unwrap(),
                )
            })
            .collect();
        routing.sort();
        out.push((d["name"].as_str().unwrap().to_owned(), routing));
    }
    out.sort();
    out
}

/// Versions and aliases (SPEC §11 with §9): each alias is imported with its live routing pinned
/// (and its description); the round trip then writes only the ownership tag, and the AWS CLI reads
/// the aliases unchanged. A machine changed after its newest version is refused by name (its
/// manifest would publish a version), with `--no-aliases` as the way out. `url` is the sandbox or
/// moto (through the write-counting proxy at `via`).
async fn versioned_round_trip(
    url: &str,
    via: &str,
    writes: impl AsyncFn() -> Vec<(String, u64)>,
    reset: impl AsyncFn(),
) {
    let arn = create_versioned_machine(url);
    let before = aliases_read_back(url, &arn);
    assert_eq!(before.len(), 2, "{before:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = import(via, dir.path(), &["--state-machine", "Checkout"]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("checkout.yaml")).unwrap();
    for expected in [
        "  aliases:\n",
        "    - name: live\n",
        "- version: 1\n          weight: 90\n",
        "- version: 2\n          weight: 10\n",
        "    - name: stable\n      description: the one we trust\n",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
    round_trip(via, dir.path(), &[], 1, writes, reset).await;
    assert_eq!(
        aliases_read_back(url, &arn),
        before,
        "the aliases route as before"
    );
    let third = aws_cli(
        url,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            &format!("{arn}:3"),
        ],
    );
    assert!(
        third
            .as_ref()
            .is_err_and(|e| e.contains("StateMachineDoesNotExist")),
        "no third version was published: {third:?}"
    );

    // Changed in the console after the newest version: a manifest with the aliases would publish.
    let three = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "three", "End": true}}});
    update_definition(url, &arn, &three, &[]);
    let again = tempfile::tempdir().unwrap();
    let out = import(via, again.path(), &["--state-machine", "Checkout"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state machine Checkout: aliases live, stable route to published versions")
            && err.contains("(version 2)")
            && err.contains("--no-aliases"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(again.path()).unwrap().count(),
        0,
        "nothing written"
    );
    let out = import(
        via,
        again.path(),
        &["--state-machine", "Checkout", "--no-aliases"],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(again.path().join("checkout.yaml")).unwrap();
    assert!(!text.contains("aliases"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_and_aliases_import_pinned_against_the_sandbox() {
    let sb = Sandbox::start().await;
    let url = sb.url();
    versioned_round_trip(&url, &url, || sandbox_writes(&sb), || sb.reset()).await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_and_aliases_import_pinned_against_moto() {
    let moto = common::start_moto().await;
    let proxy = fault_proxy::FaultProxy::start(&moto.url).await;
    versioned_round_trip(
        &moto.url,
        &proxy.url,
        async || proxy_writes(&proxy),
        async || proxy.reset(),
    )
    .await;
}

/// A seeded definition: a chain of Pass and Wait states ending in Succeed, whose names, keys and
/// values are drawn from strings that YAML, placeholders and JSON numbers make tricky.
fn generated_definition(rng: &mut fastrand::Rng, i: usize) -> Value {
    const TEXT: &[&str] = &[
        "plain",
        "a: b",
        "x #y",
        "${x}",
        "$${y}",
        "$.path",
        "$$.Execution.Id",
        "{% $states.input %}",
        "true",
        "007",
        "",
        "é ü 終わり",
        "line\nbreak",
        "\"q\"",
        "- dash",
        "[1]",
        "null",
        "1e3",
        "  lead",
        "trail ",
        "*star",
        "&anchor",
        "!tag",
        "% pct",
        "@at",
        "`tick`",
        "arn:aws:lambda:us-east-1:123456789012:function:F",
    ];
    const NAMES: &[&str] = &["Step", "Étape", "終わり", "Wait here", "Passe-partout", "a_b"];
    let value = |rng: &mut fastrand::Rng, depth: u32| -> Value {
        match rng.u8(0..6) {
            0 => json!(rng.i64(-1000..1000)),
            1 => json!(f64::from(rng.i32(-1000..1000)) / 8.0),
            2 => json!(rng.bool()),
            3 if depth < 2 => {
                json!({TEXT[rng.usize(..TEXT.len())]: TEXT[rng.usize(..TEXT.len())], "n": [1, 2.5, null]})
            }
            _ => json!(TEXT[rng.usize(..TEXT.len())]),
        }
    };
    let n = rng.usize(1..6);
    let names: Vec<String> = (0..n)
        .map(|k| format!("{} {k}", NAMES[rng.usize(..NAMES.len())]))
        .collect();
    let mut states = serde_json::Map::new();
    for (k, name) in names.iter().enumerate() {
        let mut state = if rng.u8(0..4) == 0 {
            json!({"Type": "Wait", "Seconds": rng.u32(1..100)})
        } else {
            json!({"Type": "Pass", "Result": value(rng, 0), "Comment": TEXT[rng.usize(..TEXT.len())]})
        };
        state["Next"] = json!(names.get(k + 1).cloned().unwrap_or_else(|| "Done".into()));
        states.insert(name.clone(), state);
    }
    states.insert("Done".into(), json!({"Type": "Succeed"}));
    json!({"Comment": format!("generated {i}"), "StartAt": names[0], "States": states})
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_generated_machines_round_trip() {
    let seed: u64 = std::env::var("IMPORT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("seed {seed} (IMPORT_SEED={seed} repeats this run)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let sb = Sandbox::start().await;
    let url = sb.url();
    let sfn = aws_sdk_sfn::Client::new(&common::sdk_conf(&url).await);
    let mut names = Vec::new();
    for i in 0..200 {
        let name = format!("Generated_{i:03}");
        let kind = if rng.bool() {
            aws_sdk_sfn::types::StateMachineType::Express
        } else {
            aws_sdk_sfn::types::StateMachineType::Standard
        };
        let definition = generated_definition(&mut rng, i);
        let tags = (i % 7 == 0).then(|| {
            aws_sdk_sfn::types::Tag::builder()
                .key("gen")
                .value(format!("{i}: ${{x}} #{}", rng.u32(..)))
                .build()
        });
        sfn.create_state_machine()
            .name(&name)
            .r#type(kind)
            .set_tags(tags.map(|t| vec![t]))
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/StepFunctionsIamRole"))
            .definition(definition.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: creating {name} with {definition}: {e:?}"));
        names.push(name);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for n in &names {
        args.extend_from_slice(&["--state-machine", n.as_str()]);
    }
    // With the default rate limits: the tags come from the Tagging API listing, not from one
    // ListTagsForResource each (100, then 1 a second on AWS). Without aliases, whose listing costs
    // one ListStateMachineAliases each (the same quota: 100 s more for 200 machines).
    sb.reset().await;
    let out = import(&url, dir.path(), &[&args[..], &["--no-aliases"]].concat());
    assert_eq!(out.status.code(), Some(0), "seed {seed}");
    // Its stderr is a pipe, not a terminal: no progress lines (they are for people).
    assert!(!String::from_utf8_lossy(&out.stderr).contains("read 100 of"));
    let calls = sb.requests().await;
    assert_eq!(calls.count("ListTagsForResource"), 0, "{:?}", calls.0);
    assert_eq!(calls.count("ListStateMachineAliases"), 0, "{:?}", calls.0);
    assert_eq!(calls.count("DescribeStateMachine"), 200, "{:?}", calls.0);
    assert!(calls.count("GetResources") >= 1, "{:?}", calls.0);
    for i in [0, 7, 196] {
        let text = std::fs::read_to_string(dir.path().join(format!("generated-{i:03}.yaml"))).unwrap();
        assert!(
            text.contains(&format!("gen: \"{i}: $${{x}} #")),
            "seed {seed}: {text}"
        );
    }
    // On a terminal (util-linux `script` gives it one), a progress line per 100 machines.
    let on_tty = tempfile::tempdir().unwrap();
    let mut line = format!(
        "{} import -q --no-rate-limits -o {} --endpoint-url {url}",
        env!("CARGO_BIN_EXE_sfn-operator"),
        on_tty.path().display()
    );
    for n in &names {
        line.push_str(&format!(" --state-machine {n}"));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("util-linux `script` runs the import on a terminal");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("read 100 of 200 state machines") && shown.contains("read 200 of 200 state machines"),
        "no progress lines on a terminal:\n{shown}"
    );
    let untagged = std::fs::read_to_string(dir.path().join("generated-001.yaml")).unwrap();
    assert!(!untagged.contains("tags:"), "{untagged}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 400, "seed {seed}");
    // A pass reads each machine not yet managed with ListTagsForResource (100, then 1 a second):
    // the sandbox does not enforce AWS's quotas, so the client-side limits are off for the passes.
    round_trip(
        &url,
        dir.path(),
        &["--no-rate-limits"],
        200,
        || sandbox_writes(&sb),
        || sb.reset(),
    )
    .await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_operator_manages_already_imports_under_its_manifest_names() {
    let sb = Sandbox::start().await;
    let url = sb.url();
    // The reference system, made by the operator from manifests/ (then the files are lost).
    let original = common::ManifestDir::reference();
    let out = pass(&url, original.path(), &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));

    let dir = tempfile::tempdir().unwrap();
    let out = import(
        &url,
        dir.path(),
        &[
            "--state-machine",
            "ParallelProcessingMachine",
            "--rest-api",
            "API Gateway State Machine integration",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let machine = std::fs::read_to_string(dir.path().join("parallel-processing.yaml")).unwrap();
    assert!(machine.contains("name: parallel-processing\n"), "{machine}");
    let api = std::fs::read_to_string(dir.path().join("state-machine-api.yaml")).unwrap();
    assert!(api.contains("name: start-execution\n"), "{api}");
    assert!(api.contains("stateMachineRef: parallel-processing\n"), "{api}");
    // Already owned: nothing at all to write, not even tags.
    round_trip(&url, dir.path(), &[], 0, || sandbox_writes(&sb), || sb.reset()).await;
    sb.shutdown().await;
}

#[test]
fn import_with_the_in_process_sandbox() {
    // `--sandbox` everywhere, state in .sfn-operator/sandbox.json of the working directory.
    let cwd = tempfile::tempdir().unwrap();
    let manifests = cwd.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    for f in ["state-machine.yaml", "parallel-processing.asl.yaml", "api.yaml"] {
        std::fs::copy(root.join(f), manifests.join(f)).unwrap();
    }
    let limit = std::time::Duration::from_secs(60);
    let out = common::run_clean(
        cwd.path(),
        &["reconcile", "--once", "--sandbox", "-q"],
        &[],
        limit,
    );
    assert_eq!(out.status.code(), Some(0));
    let out = common::run_clean(
        cwd.path(),
        &[
            "import",
            "--sandbox",
            "-q",
            "-o",
            "imported",
            "--state-machine",
            "ParallelProcessingMachine",
            "--rest-api",
            "API Gateway State Machine integration",
        ],
        &[],
        limit,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote imported/parallel-processing.yaml"));
    let out = common::run_clean(
        cwd.path(),
        &["diff", "--sandbox", "imported", "-o", "json"],
        &[],
        limit,
    );
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    assert_eq!(r["summary"]["noop"], 3, "{r}");
}
