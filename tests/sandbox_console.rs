//! The sandbox's web console, `/_sandbox/ui/` (SPEC §13), over HTTP against a sandbox that ran
//! the reference system (reconciled by the real binary, started through the invoke URL) and a
//! STANDARD machine whose Task stand-in throws (created and started with the AWS SDK): the pages
//! list what the store holds, the machine page draws the graph, the execution pages mark the
//! states the run went through (succeeded, or the failing one) and show the error and cause.
//!
//! Not covered here: a real browser (no headless browser in this test suite yet); the HTML has
//! no script, so what is asserted is what a browser is given.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use sfn_operator::sandbox::{SandboxConfig, start};
use sfn_operator::standins::Functions;

mod common;

/// The reference stand-ins, and `Boom`, which throws.
fn functions() -> Functions {
    let reference = include_str!("../manifests/functions.json").trim_end();
    let text = format!(
        "{}, \"Boom\": {{\"throw\": {{\"error\": \"Boom.Error\", \"cause\": \"it <broke> & stopped\"}}}}}}",
        reference.strip_suffix('}').expect("a JSON object").trim_end()
    );
    Functions::parse(&text).expect("stand-ins")
}

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ctype, r.text().await.expect("body"))
}

/// The execution `arn` as `/_sandbox/executions` lists it, once it has ended.
async fn finished(url: &str, arn: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all: Value = reqwest::get(format!("{url}/_sandbox/executions"))
            .await
            .expect("GET /_sandbox/executions")
            .json()
            .await
            .expect("JSON");
        let found = all["executions"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["executionArn"] == arn))
            .cloned();
        if let Some(e) = found.filter(|e| e["status"] != "RUNNING") {
            return e;
        }
        assert!(Instant::now() < deadline, "{arn} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The classes of the state box `name` in a page's SVG.
fn state_classes(html: &str, name: &str) -> Vec<String> {
    let needle = format!("\" data-state=\"{name}\" data-type=");
    let at = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no state box {name}:\n{html}"));
    let start = html[..at].rfind("class=\"").expect("class") + "class=\"".len();
    html[start..at].split_whitespace().map(str::to_owned).collect()
}

fn link_to(kind: &str, arn: &str) -> String {
    let q: String = arn
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("/_sandbox/ui/{kind}?arn={q}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_machines_their_graphs_and_executions_on_the_graph() {
    let sandbox = start(SandboxConfig {
        functions: functions(),
        ..SandboxConfig::default()
    })
    .await
    .expect("start sandbox");
    let url = sandbox.endpoint_url();
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let u = url.clone();
    let out =
        tokio::task::spawn_blocking(move || common::run_binary(&manifests, &u, &["reconcile", "--once"]))
            .await
            .expect("join");
    assert!(out.status.success(), "reconcile failed: {out:?}");

    // The reference system, through the invoke URL (an EXPRESS execution).
    let conf = common::sdk_conf(&url).await;
    let apigw = aws_sdk_apigateway::Client::new(&conf);
    let api = apigw.get_rest_apis().send().await.expect("GetRestApis").items()[0]
        .id()
        .expect("id")
        .to_owned();
    let answer: Value = reqwest::Client::new()
        .post(format!("{url}/restapis/{api}/prod/_user_request_/execution"))
        .header("content-type", "application/json")
        .body(r#"{"values": [3, 1, 2]}"#)
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let express_arn = answer["executionArn"].as_str().expect("executionArn").to_owned();
    assert_eq!(finished(&url, &express_arn).await["status"], "SUCCEEDED");

    // A STANDARD machine whose Task throws.
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let definition = r#"{"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Explode"},
        "Explode": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "Boom", "Payload.$": "$"}, "End": true}}}"#;
    let boom = sfn
        .create_state_machine()
        .name("console-boom")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/r")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_owned();
    let failed_arn = sfn
        .start_execution()
        .state_machine_arn(&boom)
        .name("goes-boom")
        .input("{}")
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_owned();
    let failed = finished(&url, &failed_arn).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");

    // The index lists both machines, the REST API and both executions, as links.
    let (status, ctype, index) = get(&format!("{url}/_sandbox/ui/")).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(!index.contains("<script"), "{index}");
    let reference = "arn:aws:states:us-east-1:123456789012:stateMachine:ParallelProcessingMachine";
    for href in [
        link_to("machine", reference),
        link_to("machine", &boom),
        link_to("execution", &express_arn),
        link_to("execution", &failed_arn),
    ] {
        assert!(index.contains(&format!("href=\"{href}\"")), "{href} in\n{index}");
    }
    assert!(index.contains("API Gateway State Machine integration"), "{index}");
    assert!(index.contains("POST /execution"), "{index}");

    // The machine page: its graph, with the three branches inside the Parallel state.
    let (status, _, page) = get(&format!("{url}{}", link_to("machine", reference))).await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("<svg").count(), 1);
    for state in ["SumValues", "MaxMinValues", "AverageValues"] {
        assert!(
            page.contains(&format!(
                "data-state=\"{state}\" data-type=\"Task\" data-parent=\"Parallel\""
            )),
            "{state}:\n{page}"
        );
    }
    assert!(page.contains(&format!("href=\"{}\"", link_to("execution", &express_arn))));
    assert!(
        !page.contains(&link_to("execution", &failed_arn)),
        "only this machine's runs"
    );

    // The EXPRESS run: every state succeeded, with its input and output.
    let (status, _, page) = get(&format!("{url}{}", link_to("execution", &express_arn))).await;
    assert_eq!(status, 200);
    for state in ["Parallel", "SumValues", "MaxMinValues", "AverageValues"] {
        assert!(
            state_classes(&page, state).contains(&"succeeded".to_owned()),
            "{state}:\n{page}"
        );
    }
    assert!(page.contains("&quot;sum&quot;: 6"), "SumValues' output:\n{page}");

    // The failed run: Prepare succeeded, Explode failed; the error and the cause, escaped.
    let (status, _, page) = get(&format!("{url}{}", link_to("execution", &failed_arn))).await;
    assert_eq!(status, 200);
    assert!(
        state_classes(&page, "Prepare").contains(&"succeeded".to_owned()),
        "{page}"
    );
    assert!(
        state_classes(&page, "Explode").contains(&"failed".to_owned()),
        "{page}"
    );
    assert!(page.contains("<td class=\"error\">Boom.Error</td>"), "{page}");
    assert!(page.contains("it &lt;broke&gt; &amp; stopped"), "{page}");

    let (status, _, _) = get(&format!("{url}/_sandbox/ui/execution?arn=nope")).await;
    assert_eq!(status, 404);
    sandbox.shutdown().await;
}
