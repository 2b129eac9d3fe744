//! Step Functions versions and aliases in the sandbox (SPEC §9): the 17 scenarios recorded
//! against real AWS (tests/oracle/versions.jsonl) replayed through the Rust SDK, alias routing
//! by weight observed over many starts, AWS's errors for the edge cases, and the AWS CLI as an
//! independent client.

#[path = "common/mod.rs"]
mod common;
#[path = "common/host_prefix.rs"]
mod host_prefix;
#[path = "oracle/masks.rs"]
mod masks;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sfn::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_sfn::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{RoutingConfigurationListItem, StateMachineType};
use serde_json::{Map, Value, json};

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";
const PASS: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"old","End":true}}}"#;
const PASS_NEW: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"new","End":true}}}"#;

/// Keeps the raw body of the last answer the SDK deserialized.
#[derive(Debug, Clone, Default)]
struct LastBody(Arc<Mutex<Vec<u8>>>);

impl Intercept for LastBody {
    fn name(&self) -> &'static str {
        "LastBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        let bytes = context.response().body().bytes().unwrap_or_default().to_vec();
        if let Ok(mut last) = self.0.lock() {
            *last = bytes;
        }
        Ok(())
    }
}

impl LastBody {
    fn json(&self) -> Value {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        if bytes.is_empty() {
            return json!({});
        }
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("answer is not JSON: {e}"))
    }
}

async fn client(url: &str, last: &LastBody) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::config::Builder::from(&common::sdk_conf(url).await)
        .interceptor(host_prefix::NoHostPrefix)
        .interceptor(last.clone())
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled());
    aws_sdk_sfn::Client::from_conf(conf.build())
}

/// What one call answered: the raw JSON body, or AWS's error code and message.
type Answer = Result<Value, (String, String)>;

fn failed<E: ProvideErrorMetadata + std::fmt::Debug>(e: aws_sdk_sfn::error::SdkError<E>) -> (String, String) {
    let meta = e.as_service_error().map(|s| (s.code(), s.message()));
    match meta {
        Some((code, message)) => (
            code.unwrap_or("?").to_string(),
            message.unwrap_or_default().to_string(),
        ),
        None => (format!("{e:?}"), String::new()),
    }
}

fn s<'a>(p: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    p.get(k).and_then(Value::as_str)
}

fn routing(p: &Map<String, Value>) -> Option<Vec<RoutingConfigurationListItem>> {
    let items = p.get("routingConfiguration")?.as_array()?;
    Some(
        items
            .iter()
            .map(|i| {
                RoutingConfigurationListItem::builder()
                    .state_machine_version_arn(i["stateMachineVersionArn"].as_str().unwrap_or_default())
                    .weight(i["weight"].as_i64().unwrap_or_default() as i32)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect(),
    )
}

/// Sends one recorded call through the SDK.
async fn call(sfn: &aws_sdk_sfn::Client, last: &LastBody, op: &str, p: &Map<String, Value>) -> Answer {
    macro_rules! send {
        ($req:expr) => {
            $req.send().await.map(|_| last.json()).map_err(failed)
        };
    }
    let arn = s(p, "stateMachineArn");
    match op {
        "CreateStateMachine" => send!(
            sfn.create_state_machine()
                .name(s(p, "name").unwrap_or_default())
                .definition(s(p, "definition").unwrap_or_default())
                .role_arn(s(p, "roleArn").unwrap_or_default())
                .set_publish(p.get("publish").and_then(Value::as_bool))
                .set_version_description(s(p, "versionDescription").map(str::to_string))
        ),
        "UpdateStateMachine" => send!(
            sfn.update_state_machine()
                .set_state_machine_arn(arn.map(str::to_string))
                .set_definition(s(p, "definition").map(str::to_string))
                .set_publish(p.get("publish").and_then(Value::as_bool))
                .set_version_description(s(p, "versionDescription").map(str::to_string))
        ),
        "DescribeStateMachine" => send!(
            sfn.describe_state_machine()
                .set_state_machine_arn(arn.map(str::to_string))
        ),
        "PublishStateMachineVersion" => send!(
            sfn.publish_state_machine_version()
                .set_state_machine_arn(arn.map(str::to_string))
                .set_revision_id(s(p, "revisionId").map(str::to_string))
                .set_description(s(p, "description").map(str::to_string))
        ),
        "ListStateMachineVersions" => send!(
            sfn.list_state_machine_versions()
                .set_state_machine_arn(arn.map(str::to_string))
        ),
        "DeleteStateMachineVersion" => send!(
            sfn.delete_state_machine_version()
                .set_state_machine_version_arn(s(p, "stateMachineVersionArn").map(str::to_string))
        ),
        "StartExecution" => send!(
            sfn.start_execution()
                .set_state_machine_arn(arn.map(str::to_string))
                .set_input(s(p, "input").map(str::to_string))
        ),
        "ListExecutions" => send!(
            sfn.list_executions()
                .set_state_machine_arn(arn.map(str::to_string))
        ),
        "DescribeExecution" => send!(
            sfn.describe_execution()
                .set_execution_arn(s(p, "executionArn").map(str::to_string))
        ),
        "DescribeStateMachineForExecution" => send!(
            sfn.describe_state_machine_for_execution()
                .set_execution_arn(s(p, "executionArn").map(str::to_string))
        ),
        "CreateStateMachineAlias" => send!(
            sfn.create_state_machine_alias()
                .set_name(s(p, "name").map(str::to_string))
                .set_description(s(p, "description").map(str::to_string))
                .set_routing_configuration(routing(p))
        ),
        "UpdateStateMachineAlias" => send!(
            sfn.update_state_machine_alias()
                .set_state_machine_alias_arn(s(p, "stateMachineAliasArn").map(str::to_string))
                .set_description(s(p, "description").map(str::to_string))
                .set_routing_configuration(routing(p))
        ),
        "DescribeStateMachineAlias" => send!(
            sfn.describe_state_machine_alias()
                .set_state_machine_alias_arn(s(p, "stateMachineAliasArn").map(str::to_string))
        ),
        "DeleteStateMachineAlias" => send!(
            sfn.delete_state_machine_alias()
                .set_state_machine_alias_arn(s(p, "stateMachineAliasArn").map(str::to_string))
        ),
        "ListStateMachineAliases" => send!(
            sfn.list_state_machine_aliases()
                .set_state_machine_arn(arn.map(str::to_string))
        ),
        other => panic!("the replay does not know {other}"),
    }
}

/// `params` with `${role_arn}`, `${uidN}` and `${sN.field}` filled in.
fn fill(value: &Value, answers: &[Value], uid: &str) -> Value {
    match value {
        Value::String(text) => {
            let mut out = text.replace("${role_arn}", ROLE);
            for n in 1..=3 {
                out = out.replace(&format!("${{uid{n}}}"), &format!("{uid}{n}"));
            }
            while let Some(start) = out.find("${s") {
                let Some(len) = out[start..].find('}') else { break };
                let reference = &out[start + 3..start + len];
                let (step, field) = reference.split_once('.').unwrap_or((reference, ""));
                let index: usize = step.parse().unwrap_or(usize::MAX);
                let found = answers
                    .get(index)
                    .and_then(|a| a.get(field))
                    .and_then(Value::as_str);
                let found = found
                    .unwrap_or_else(|| panic!("no ${{s{reference}}} yet"))
                    .to_string();
                out.replace_range(start..=start + len, &found);
            }
            Value::String(out)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), fill(v, answers, uid)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| fill(v, answers, uid)).collect()),
        other => other.clone(),
    }
}

/// Waits (up to 20 s) for a condition a recorded `@await` step names.
async fn await_condition(sfn: &aws_sdk_sfn::Client, last: &LastBody, kind: &str, args: &Map<String, Value>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = match kind {
            "execution_terminated" => {
                let p = json!({"executionArn": args["execution_arn"]});
                let a = call(
                    sfn,
                    last,
                    "DescribeExecution",
                    p.as_object().unwrap_or(&Map::new()),
                )
                .await;
                a.is_ok_and(|d| d["status"] != "RUNNING")
            }
            "execution_lists_terminated" => {
                let p = json!({"stateMachineArn": args["state_machine_arn"]});
                let a = call(sfn, last, "ListExecutions", p.as_object().unwrap_or(&Map::new())).await;
                a.is_ok_and(|l| {
                    l["executions"].as_array().is_some_and(|list| {
                        list.iter()
                            .any(|e| e["executionArn"] == args["execution_arn"] && e["status"] != "RUNNING")
                    })
                })
            }
            _ => {
                let (op, list, key, arn) = if kind.contains("alias") {
                    (
                        "ListStateMachineAliases",
                        "stateMachineAliases",
                        "stateMachineAliasArn",
                        "state_machine_alias_arn",
                    )
                } else {
                    (
                        "ListStateMachineVersions",
                        "stateMachineVersions",
                        "stateMachineVersionArn",
                        "state_machine_version_arn",
                    )
                };
                let p = json!({"stateMachineArn": args["state_machine_arn"]});
                let a = call(sfn, last, op, p.as_object().unwrap_or(&Map::new())).await;
                let listed = a.is_ok_and(|l| {
                    l[list]
                        .as_array()
                        .is_some_and(|items| items.iter().any(|i| i[key] == args[arn]))
                });
                listed != (kind.ends_with("not_listed") || kind.ends_with("is_deleted"))
            }
        };
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "@await {kind} {args:?} never came true"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Replays one scenario; `None` when every answer matched, else the first difference.
async fn replay(sfn: &aws_sdk_sfn::Client, last: &LastBody, scenario: &Value, uid: &str) -> Option<String> {
    let tokens: Vec<String> = scenario["maskTokens"]
        .as_array()
        .map(|t| t.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut masks = masks::Bindings::new(&tokens);
    let mut answers: Vec<Value> = Vec::new();
    let steps = scenario["steps"].as_array().cloned().unwrap_or_default();
    for (i, step) in steps.iter().enumerate() {
        let op = step["operation"].as_str().unwrap_or_default();
        let mut answer = Value::Null;
        match op {
            "@sleep" => {}
            "@await" => {
                let args = fill(&step["args"], &answers, uid);
                await_condition(
                    sfn,
                    last,
                    step["kind"].as_str().unwrap_or_default(),
                    args.as_object().unwrap_or(&Map::new()),
                )
                .await;
            }
            _ => {
                let params = fill(&step["params"], &answers, uid);
                let got = call(sfn, last, op, params.as_object().unwrap_or(&Map::new())).await;
                if let Some(d) = judge(&mut masks, step, &got) {
                    return Some(format!("step {i} {op}: {d}"));
                }
                answer = got.unwrap_or(Value::Null);
            }
        }
        answers.push(answer);
    }
    None
}

/// `None` when `got` is what the step recorded.
fn judge(masks: &mut masks::Bindings, step: &Value, got: &Answer) -> Option<String> {
    match (got, step.get("expectError")) {
        (Err((code, message)), Some(e)) => {
            if e["code"] != json!(code) {
                return Some(format!("error {} → {code}: {message}", e["code"]));
            }
            masks.compare("message", &e["message"], &json!(message))
        }
        (Err((code, message)), None) => Some(format!("failed: {code}: {message}")),
        (Ok(body), Some(e)) => Some(format!("succeeded ({body}) where AWS answered {e}")),
        (Ok(body), None) => step
            .get("expect")
            .and_then(|expect| masks.compare("answer", expect, body)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_version_and_alias_scenario_matches_aws() {
    let sandbox = common::Sandbox::start().await;
    let last = LastBody::default();
    let sfn = client(&sandbox.url(), &last).await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/versions.jsonl");
    let text = std::fs::read_to_string(path).expect("read versions.jsonl");
    let scenarios: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a scenario"))
        .collect();
    let mut mismatches = Vec::new();
    for (n, scenario) in scenarios.iter().enumerate() {
        let id = scenario["id"].as_str().unwrap_or_default();
        if let Some(diff) = replay(&sfn, &last, scenario, &format!("o{n}x")).await {
            eprintln!("MISMATCH {id}: {diff}");
            mismatches.push(format!("{id}: {diff}"));
        }
    }
    let matched = scenarios.len() - mismatches.len();
    println!(
        "versions oracle: {matched}/{} scenarios match AWS",
        scenarios.len()
    );
    assert_eq!(scenarios.len(), 17);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    sandbox.shutdown().await;
}

async fn machine(sfn: &aws_sdk_sfn::Client, name: &str, kind: StateMachineType) -> (String, String) {
    let created = sfn
        .create_state_machine()
        .name(name)
        .definition(PASS)
        .role_arn(ROLE)
        .r#type(kind)
        .publish(true)
        .version_description("first")
        .send()
        .await
        .expect("CreateStateMachine");
    let v1 = created
        .state_machine_version_arn()
        .unwrap_or_default()
        .to_string();
    (created.state_machine_arn().to_string(), v1)
}

async fn publish_new(sfn: &aws_sdk_sfn::Client, arn: &str, definition: &str) -> String {
    sfn.update_state_machine()
        .state_machine_arn(arn)
        .definition(definition)
        .publish(true)
        .send()
        .await
        .expect("UpdateStateMachine")
        .state_machine_version_arn()
        .unwrap_or_default()
        .to_string()
}

fn route(version: &str, weight: i32) -> RoutingConfigurationListItem {
    RoutingConfigurationListItem::builder()
        .state_machine_version_arn(version)
        .weight(weight)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn code<E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<impl std::fmt::Debug, aws_sdk_sfn::error::SdkError<E>>,
) -> String {
    match r {
        Ok(ok) => panic!("expected an error, got {ok:?}"),
        Err(e) => {
            let (code, message) = failed(e);
            format!("{code}: {message}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_routes_starts_by_weight_and_executions_name_version_and_alias() {
    let seed = 19;
    println!("dice seed {seed}");
    sfn_operator::sandbox::seed_dice(seed);
    let sandbox = common::Sandbox::start().await;
    let last = LastBody::default();
    let sfn = client(&sandbox.url(), &last).await;
    let (arn, v1) = machine(&sfn, "weighted", StateMachineType::Express).await;
    let v2 = publish_new(&sfn, &arn, PASS_NEW).await;
    let alias = sfn
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(route(&v1, 90))
        .routing_configuration(route(&v2, 10))
        .send()
        .await
        .expect("CreateStateMachineAlias")
        .state_machine_alias_arn()
        .to_string();
    let mut new = 0;
    for _ in 0..1000 {
        let out = sfn
            .start_sync_execution()
            .state_machine_arn(&alias)
            .send()
            .await
            .expect("StartSyncExecution");
        if out.output() == Some("\"new\"") {
            new += 1;
        }
    }
    println!("{new} of 1000 starts through a 90/10 alias ran the new version");
    assert!(
        (70..=130).contains(&new),
        "{new} of 1000 landed on the 10 % version"
    );
    let all: Value = reqwest::get(format!("{}/_sandbox/executions", sandbox.url()))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let on_v2 = all["executions"].as_array().map_or(0, |l| {
        l.iter()
            .filter(|e| e["stateMachineVersionArn"] == json!(v2) && e["stateMachineAliasArn"] == json!(alias))
            .count()
    });
    assert_eq!(
        on_v2, new,
        "/_sandbox/executions names the version and alias of each"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_aliases_refuse_what_aws_refuses() {
    let sandbox = common::Sandbox::start().await;
    let last = LastBody::default();
    let sfn = client(&sandbox.url(), &last).await;
    let (arn, v1) = machine(&sfn, "edges", StateMachineType::Standard).await;
    let (other, other_v1) = machine(&sfn, "other", StateMachineType::Standard).await;
    let v2 = publish_new(&sfn, &arn, PASS_NEW).await;
    let v3 = publish_new(&sfn, &arn, r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#).await;
    let alias = |routes: Vec<RoutingConfigurationListItem>| {
        sfn.create_state_machine_alias()
            .name("live")
            .set_routing_configuration(Some(routes))
            .send()
    };
    let three = code(alias(vec![route(&v1, 30), route(&v2, 30), route(&v3, 40)]).await);
    assert!(
        three.starts_with("ValidationException: 1 validation error detected:")
            && three.contains("Member must have length less than or equal to 2"),
        "{three}"
    );
    let sum = code(alias(vec![route(&v1, 50), route(&v2, 60)]).await);
    assert_eq!(
        sum,
        "ValidationException: Sum of routing configuration weights must equal 100. Received: [50, 60]"
    );
    let mixed = code(alias(vec![route(&v1, 50), route(&other_v1, 50)]).await);
    assert!(
        mixed.starts_with(
            "ValidationException: Routing configuration must contain versions of the same state machine"
        ),
        "{mixed}"
    );
    let gone = code(alias(vec![route(&format!("{arn}:9"), 100)]).await);
    assert_eq!(
        gone,
        "ResourceNotFound: Request references a resource that does not exist."
    );
    let numeric = code(
        sfn.create_state_machine_alias()
            .name("123")
            .routing_configuration(route(&v1, 100))
            .send()
            .await,
    );
    assert!(
        numeric.starts_with("ValidationException: 1 validation error detected: Value '123' at 'name'"),
        "{numeric}"
    );
    let live = alias(vec![route(&v1, 80), route(&v2, 20)])
        .await
        .expect("alias")
        .state_machine_alias_arn()
        .to_string();
    let held = code(
        sfn.delete_state_machine_version()
            .state_machine_version_arn(&v2)
            .send()
            .await,
    );
    assert_eq!(
        held,
        "ConflictException: Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [live]"
    );
    let stale = code(
        sfn.publish_state_machine_version()
            .state_machine_arn(&arn)
            .revision_id("INITIAL")
            .send()
            .await,
    );
    assert!(
        stale.starts_with(
            "ConflictException: Failed to publish the State Machine version for revision INITIAL."
        ),
        "{stale}"
    );
    let described = sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("describe");
    let revision = described
        .revision_id()
        .expect("a revised machine shows its revisionId")
        .to_string();
    let again = sfn
        .publish_state_machine_version()
        .state_machine_arn(&arn)
        .revision_id(&revision)
        .description("same")
        .send()
        .await
        .expect("publish");
    assert_eq!(
        again.state_machine_version_arn(),
        v3,
        "an unchanged revision answers its existing version"
    );
    let version = sfn
        .describe_state_machine()
        .state_machine_arn(&v1)
        .send()
        .await
        .expect("describe v1");
    assert_eq!(
        (version.definition(), version.description()),
        (PASS, Some("first"))
    );
    assert!(
        version.revision_id().is_none(),
        "v1 came from the initial revision"
    );
    let tags = code(sfn.list_tags_for_resource().resource_arn(&v1).send().await);
    assert!(tags.starts_with("ResourceNotFound"), "{tags}");
    let by_version = code(sfn.delete_state_machine().state_machine_arn(&live).send().await);
    assert!(by_version.starts_with("ValidationException"), "{by_version}");
    let missing_alias = code(
        sfn.describe_state_machine_alias()
            .state_machine_alias_arn(format!("{arn}:nope"))
            .send()
            .await,
    );
    assert!(missing_alias.starts_with("ResourceNotFound"), "{missing_alias}");
    let d = sfn
        .describe_state_machine_alias()
        .state_machine_alias_arn(&live)
        .send()
        .await
        .expect("describe alias");
    assert_eq!(d.routing_configuration().len(), 2);
    sfn.delete_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("delete machine");
    let after = code(
        sfn.describe_state_machine_alias()
            .state_machine_alias_arn(&live)
            .send()
            .await,
    );
    assert!(
        after.starts_with("ResourceNotFound"),
        "deleting the machine deletes its aliases: {after}"
    );
    let start = code(sfn.start_execution().state_machine_arn(&v1).send().await);
    assert!(start.starts_with("StateMachineDoesNotExist"), "{start}");
    drop(other);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_publishes_routes_and_reads_back_versions_and_aliases() {
    let sandbox = common::Sandbox::start().await;
    let url = sandbox.url();
    let created = common::aws_cli(
        &url,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "cli",
            "--definition",
            PASS,
            "--role-arn",
            ROLE,
            "--publish",
            "--version-description",
            "one",
        ],
    )
    .expect("create");
    let arn = created["stateMachineArn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(created["stateMachineVersionArn"], json!(format!("{arn}:1")));
    common::aws_cli(
        &url,
        &[
            "stepfunctions",
            "update-state-machine",
            "--state-machine-arn",
            &arn,
            "--definition",
            PASS_NEW,
        ],
    )
    .expect("update");
    let v2 = common::aws_cli(
        &url,
        &[
            "stepfunctions",
            "publish-state-machine-version",
            "--state-machine-arn",
            &arn,
            "--description",
            "two",
        ],
    )
    .expect("publish");
    assert_eq!(v2["stateMachineVersionArn"], json!(format!("{arn}:2")));
    let routing = format!(
        r#"[{{"stateMachineVersionArn":"{arn}:1","weight":90}},{{"stateMachineVersionArn":"{arn}:2","weight":10}}]"#
    );
    let alias = common::aws_cli(
        &url,
        &[
            "stepfunctions",
            "create-state-machine-alias",
            "--name",
            "live",
            "--routing-configuration",
            &routing,
        ],
    )
    .expect("alias");
    assert_eq!(alias["stateMachineAliasArn"], json!(format!("{arn}:live")));
    let described = common::aws_cli(
        &url,
        &[
            "stepfunctions",
            "describe-state-machine-alias",
            "--state-machine-alias-arn",
            &format!("{arn}:live"),
        ],
    )
    .expect("describe");
    assert_eq!(
        described["routingConfiguration"][1],
        json!({"stateMachineVersionArn": format!("{arn}:2"), "weight": 10})
    );
    let versions = common::aws_cli(
        &url,
        &[
            "stepfunctions",
            "list-state-machine-versions",
            "--state-machine-arn",
            &arn,
        ],
    )
    .expect("list");
    let listed: Vec<&Value> = versions["stateMachineVersions"]
        .as_array()
        .map(|l| l.iter().map(|v| &v["stateMachineVersionArn"]).collect())
        .unwrap_or_default();
    assert_eq!(
        listed,
        [&json!(format!("{arn}:2")), &json!(format!("{arn}:1"))],
        "newest first"
    );
    let refused = common::aws_cli(
        &url,
        &[
            "stepfunctions",
            "delete-state-machine-version",
            "--state-machine-version-arn",
            &format!("{arn}:2"),
        ],
    )
    .expect_err("held by the alias");
    assert!(refused.contains("ConflictException"), "{refused}");
    sandbox.shutdown().await;
}

#[test]
fn masks_bind_tokens_once_and_catch_differences() {
    let mut m = masks::Bindings::new(&["<ArnPart_0idx>".to_string()]);
    let e = json!({"arn": "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>", "d": "datetime"});
    let g = json!({"arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m1", "d": 1.5});
    assert_eq!(m.compare("a", &e, &g), None);
    let other = json!({"arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m2", "d": 2});
    assert!(
        m.compare("a", &e, &other).is_some(),
        "a token stands for one value"
    );
    let extra =
        json!({"arn": "arn:aws:states:us-east-1:123456789012:stateMachine:m1", "d": 1, "revisionId": "r"});
    assert!(
        m.compare("a", &e, &extra).is_some(),
        "a field AWS does not answer is a difference"
    );
}
