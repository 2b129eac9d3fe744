//! Conformance: the same AWS CLI script against moto (an independent implementation) and the
//! sandbox; normalized observable results must match. Where moto is known to deviate from AWS
//! (PEERS.md), the sandbox is held to AWS's documented behaviour instead, and the step says so.

use std::process::Command;

use serde_json::{Value, json};
use sfn_operator::sandbox::{self, SandboxConfig};

mod common;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DEF: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#;
const DEF2: &str = r#"{"StartAt":"B","States":{"B":{"Type":"Succeed"}}}"#;
const ROLE: &str = "arn:aws:iam::123456789012:role/conformance";

/// The outcome of one CLI call: its JSON output, or the AWS error code it printed.
#[derive(Debug, Clone, PartialEq)]
enum Out {
    Ok(Value),
    Err(String),
}

impl Out {
    fn json(&self) -> Result<&Value, String> {
        match self {
            Out::Ok(v) => Ok(v),
            Out::Err(code) => Err(format!("expected success, got error {code}")),
        }
    }
}

fn aws(url: &str, args: &[&str]) -> Result<Out, Box<dyn std::error::Error>> {
    let output = Command::new(common::peers_bin("aws"))
        .arg("--endpoint-url")
        .arg(url)
        .args(["--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()?;
    if output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout);
        let value = if text.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&text)?
        };
        return Ok(Out::Ok(value));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = stderr
        .split("An error occurred (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .map(str::to_string)
        .unwrap_or_else(|| format!("unparsed error: {stderr}"));
    Ok(Out::Err(code))
}

/// Drops what legitimately differs between implementations: generated ids, dates, revisions.
fn normalize(value: &Value) -> Value {
    const IGNORED: &[&str] = &[
        "creationDate",
        "updateDate",
        "revisionId",
        "createdDate",
        "lastUpdatedDate",
        "id",
        "parentId",
        "deploymentId",
        "rootResourceId",
        "ResponseMetadata",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !IGNORED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// Runs one step on both and requires the same normalized result; returns both raw outcomes.
fn same(
    step: &str,
    moto: &str,
    sandbox: &str,
    args: &[&str],
) -> Result<(Out, Out), Box<dyn std::error::Error>> {
    let m = aws(moto, args)?;
    let s = aws(sandbox, args)?;
    let norm = |o: &Out| match o {
        Out::Ok(v) => Out::Ok(normalize(v)),
        e => e.clone(),
    };
    assert_eq!(
        norm(&s),
        norm(&m),
        "step `{step}`: sandbox (left) differs from moto (right)"
    );
    Ok((m, s))
}

/// Keeps only `keys` of an object (for outputs where moto returns fewer or extra fields).
fn pick(value: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .filter_map(|k| value.get(*k).map(|v| ((*k).to_string(), v.clone())))
            .collect(),
    )
}

fn both<F>(
    step: &str,
    moto: &str,
    sandbox: &str,
    args: &[&str],
    view: F,
) -> Result<(Value, Value), Box<dyn std::error::Error>>
where
    F: Fn(&Value) -> Value,
{
    let m = aws(moto, args)?;
    let s = aws(sandbox, args)?;
    let (m, s) = (
        m.json().map_err(|e| format!("moto, step `{step}`: {e}"))?.clone(),
        s.json()
            .map_err(|e| format!("sandbox, step `{step}`: {e}"))?
            .clone(),
    );
    assert_eq!(
        view(&s),
        view(&m),
        "step `{step}`: sandbox (left) differs from moto (right)"
    );
    Ok((m, s))
}

/// Builds a step's CLI arguments from one peer's REST API id and resource id.
type ArgsFor<'a> = Box<dyn Fn(&str, &str) -> Vec<String> + 'a>;

fn text(v: &Value, key: &str) -> Result<String, String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("no `{key}` in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_functions_cli_script_matches_moto() -> TestResult {
    let moto = common::start_moto().await;
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let (m, s) = (moto.url.as_str(), sandbox.endpoint_url());
    let s = s.as_str();

    let (cm, cs) = both(
        "create-state-machine",
        m,
        s,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "conf-sm",
            "--definition",
            DEF,
            "--role-arn",
            ROLE,
            "--tags",
            "key=team,value=a",
        ],
        |v| pick(v, &["stateMachineArn"]),
    )?;
    let arn = text(&cs, "stateMachineArn")?;
    assert_eq!(arn, text(&cm, "stateMachineArn")?);

    let describe = [
        "stepfunctions",
        "describe-state-machine",
        "--state-machine-arn",
        arn.as_str(),
    ];
    both("describe-state-machine", m, s, &describe, |v| {
        pick(
            v,
            &[
                "stateMachineArn",
                "name",
                "status",
                "definition",
                "roleArn",
                "type",
            ],
        )
    })?;
    both(
        "list-state-machines",
        m,
        s,
        &["stepfunctions", "list-state-machines"],
        |v| {
            json!(v["stateMachines"].as_array().map(|a| {
                a.iter()
                    .map(|x| pick(x, &["stateMachineArn", "name", "type"]))
                    .collect::<Vec<_>>()
            }))
        },
    )?;
    same(
        "tag-resource",
        m,
        s,
        &[
            "stepfunctions",
            "tag-resource",
            "--resource-arn",
            &arn,
            "--tags",
            "key=env,value=dev",
        ],
    )?;
    same(
        "list-tags-for-resource",
        m,
        s,
        &["stepfunctions", "list-tags-for-resource", "--resource-arn", &arn],
    )?;
    same(
        "untag-resource",
        m,
        s,
        &[
            "stepfunctions",
            "untag-resource",
            "--resource-arn",
            &arn,
            "--tag-keys",
            "team",
        ],
    )?;
    same(
        "list-tags after untag",
        m,
        s,
        &["stepfunctions", "list-tags-for-resource", "--resource-arn", &arn],
    )?;
    both(
        "update-state-machine",
        m,
        s,
        &[
            "stepfunctions",
            "update-state-machine",
            "--state-machine-arn",
            &arn,
            "--definition",
            DEF2,
        ],
        |v| json!(v.get("updateDate").is_some()),
    )?;
    both("describe after update", m, s, &describe, |v| {
        pick(v, &["definition", "roleArn"])
    })?;
    let missing = arn.replace("conf-sm", "conf-missing");
    same(
        "describe missing",
        m,
        s,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            &missing,
        ],
    )?;
    same(
        "invalid name",
        m,
        s,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "bad name!",
            "--definition",
            DEF,
            "--role-arn",
            ROLE,
        ],
    )?;

    // moto deviates (PEERS.md): same name with a different configuration returns the existing
    // machine there; AWS answers StateMachineAlreadyExists, and so must the sandbox.
    let conflict = [
        "stepfunctions",
        "create-state-machine",
        "--name",
        "conf-sm",
        "--definition",
        DEF,
        "--role-arn",
        "arn:aws:iam::123456789012:role/other",
    ];
    assert_eq!(
        aws(s, &conflict)?,
        Out::Err("StateMachineAlreadyExists".into()),
        "AWS behaviour, not moto's"
    );
    // moto deviates: no definition validation. AWS answers InvalidDefinition.
    let invalid = [
        "stepfunctions",
        "create-state-machine",
        "--name",
        "conf-bad",
        "--definition",
        "{\"StartAt\":",
        "--role-arn",
        ROLE,
    ];
    assert_eq!(
        aws(s, &invalid)?,
        Out::Err("InvalidDefinition".into()),
        "AWS behaviour, not moto's"
    );

    same(
        "delete-state-machine",
        m,
        s,
        &[
            "stepfunctions",
            "delete-state-machine",
            "--state-machine-arn",
            &arn,
        ],
    )?;
    same(
        "list after delete",
        m,
        s,
        &["stepfunctions", "list-state-machines"],
    )?;
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_cli_script_matches_moto() -> TestResult {
    let moto = common::start_moto().await;
    let sandbox = sandbox::start(SandboxConfig::default()).await?;
    let (m, s) = (moto.url.as_str(), sandbox.endpoint_url());
    let s = s.as_str();
    let ag = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["apigateway".to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    };
    let run = |url: &str, args: &[String]| -> Result<Out, Box<dyn std::error::Error>> {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        aws(url, &refs)
    };
    let ok = |o: Out, who: &str, step: &str| -> Result<Value, String> {
        o.json()
            .cloned()
            .map_err(|e| format!("{who}, step `{step}`: {e}"))
    };

    let create = ag(&[
        "create-rest-api",
        "--name",
        "conf-api",
        "--description",
        "d",
        "--tags",
        "team=a",
    ]);
    let am = ok(run(m, &create)?, "moto", "create-rest-api")?;
    let asb = ok(run(s, &create)?, "sandbox", "create-rest-api")?;
    let view = |v: &Value| pick(v, &["name", "description", "tags"]);
    assert_eq!(view(&asb), view(&am), "create-rest-api");
    let (mid, sid) = (text(&am, "id")?, text(&asb, "id")?);

    // Per-peer ids differ, so each peer gets its own argument list built from its own ids.
    let get_resources = |id: &str| ag(&["get-resources", "--rest-api-id", id]);
    let paths = |v: &Value| {
        json!(
            v["items"]
                .as_array()
                .map(|a| a.iter().map(|r| r["path"].clone()).collect::<Vec<_>>())
        )
    };
    let rm = ok(run(m, &get_resources(&mid))?, "moto", "get-resources")?;
    let rs = ok(run(s, &get_resources(&sid))?, "sandbox", "get-resources")?;
    assert_eq!(paths(&rs), paths(&rm), "get-resources");
    let root_of = |v: &Value| {
        v["items"][0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or("no root resource")
    };
    let (mroot, sroot) = (root_of(&rm)?, root_of(&rs)?);

    let create_resource = |id: &str, root: &str| {
        ag(&[
            "create-resource",
            "--rest-api-id",
            id,
            "--parent-id",
            root,
            "--path-part",
            "orders",
        ])
    };
    let om = ok(run(m, &create_resource(&mid, &mroot))?, "moto", "create-resource")?;
    let os = ok(
        run(s, &create_resource(&sid, &sroot))?,
        "sandbox",
        "create-resource",
    )?;
    assert_eq!(
        pick(&os, &["path", "pathPart"]),
        pick(&om, &["path", "pathPart"]),
        "create-resource"
    );
    let (mres, sres) = (text(&om, "id")?, text(&os, "id")?);

    let steps: Vec<(&str, ArgsFor<'_>, &[&str])> = vec![
        (
            "put-method",
            Box::new(|id, res| {
                ag(&[
                    "put-method",
                    "--rest-api-id",
                    id,
                    "--resource-id",
                    res,
                    "--http-method",
                    "POST",
                    "--authorization-type",
                    "NONE",
                ])
            }),
            &["httpMethod", "authorizationType", "apiKeyRequired"],
        ),
        (
            "put-integration",
            Box::new(|id, res| {
                ag(&[
                    "put-integration",
                    "--rest-api-id",
                    id,
                    "--resource-id",
                    res,
                    "--http-method",
                    "POST",
                    "--type",
                    "AWS",
                    "--integration-http-method",
                    "POST",
                    "--uri",
                    "arn:aws:apigateway:us-east-1:states:action/StartExecution",
                    "--credentials",
                    "arn:aws:iam::123456789012:role/apigw",
                ])
            }),
            &["type", "httpMethod", "uri", "credentials"],
        ),
        (
            "get-integration",
            Box::new(|id, res| {
                ag(&[
                    "get-integration",
                    "--rest-api-id",
                    id,
                    "--resource-id",
                    res,
                    "--http-method",
                    "POST",
                ])
            }),
            &["type", "httpMethod", "uri", "credentials"],
        ),
        (
            "put-method-response",
            Box::new(|id, res| {
                ag(&[
                    "put-method-response",
                    "--rest-api-id",
                    id,
                    "--resource-id",
                    res,
                    "--http-method",
                    "POST",
                    "--status-code",
                    "200",
                ])
            }),
            &["statusCode"],
        ),
        (
            "put-integration-response",
            Box::new(|id, res| {
                ag(&[
                    "put-integration-response",
                    "--rest-api-id",
                    id,
                    "--resource-id",
                    res,
                    "--http-method",
                    "POST",
                    "--status-code",
                    "200",
                    "--selection-pattern",
                    "",
                ])
            }),
            &["statusCode"],
        ),
        (
            "create-deployment",
            Box::new(|id, _| {
                ag(&[
                    "create-deployment",
                    "--rest-api-id",
                    id,
                    "--stage-name",
                    "prod",
                    "--description",
                    "first",
                ])
            }),
            &["description"],
        ),
        (
            "get-stages",
            Box::new(|id, _| ag(&["get-stages", "--rest-api-id", id])),
            &[],
        ),
    ];
    for (step, args, keys) in &steps {
        let vm = ok(run(m, &args(&mid, &mres))?, "moto", step)?;
        let vs = ok(run(s, &args(&sid, &sres))?, "sandbox", step)?;
        if *step == "get-stages" {
            let names = |v: &Value| {
                json!(
                    v["item"]
                        .as_array()
                        .map(|a| a.iter().map(|x| x["stageName"].clone()).collect::<Vec<_>>())
                )
            };
            assert_eq!(names(&vs), names(&vm), "{step}");
        } else {
            assert_eq!(
                pick(&vs, keys),
                pick(&vm, keys),
                "{step}: sandbox (left) differs from moto (right)"
            );
        }
    }

    // moto deviates (PEERS.md): TagResource/GetTags on a REST API ARN answer 404 there. AWS tags
    // REST APIs; the sandbox must too.
    let api_arn = format!("arn:aws:apigateway:us-east-1::/restapis/{sid}");
    let tagged = aws(
        s,
        &[
            "apigateway",
            "tag-resource",
            "--resource-arn",
            &api_arn,
            "--tags",
            "env=dev",
        ],
    )?;
    assert!(
        matches!(tagged, Out::Ok(_)),
        "AWS behaviour, not moto's: {tagged:?}"
    );
    let tags = aws(s, &["apigateway", "get-tags", "--resource-arn", &api_arn])?;
    assert_eq!(
        tags.json()?["tags"],
        json!({"team": "a", "env": "dev"}),
        "AWS behaviour, not moto's"
    );
    // moto deviates: GetIntegration on a method without one. AWS answers NotFoundException.
    aws(
        s,
        &[
            "apigateway",
            "put-method",
            "--rest-api-id",
            &sid,
            "--resource-id",
            &sroot,
            "--http-method",
            "GET",
            "--authorization-type",
            "NONE",
        ],
    )?;
    let missing = aws(
        s,
        &[
            "apigateway",
            "get-integration",
            "--rest-api-id",
            &sid,
            "--resource-id",
            &sroot,
            "--http-method",
            "GET",
        ],
    )?;
    assert_eq!(
        missing,
        Out::Err("NotFoundException".into()),
        "AWS behaviour, not moto's"
    );
    sandbox.shutdown().await;
    Ok(())
}
