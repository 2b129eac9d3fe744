//! Field coverage (SPEC §12): each added field set by the operator and read back by the AWS CLI,
//! changed out of band by the CLI, found by `diff` at its path, reverted by `reconcile --once`,
//! the next pass writing nothing; and a resource created with AWS's defaults, adopted by a
//! manifest that sets none of the fields, written nothing but its ownership tags. Against the
//! sandbox (write counts from `/_sandbox/requests`) and moto where moto keeps the field.

use std::path::Path;

use common::{ManifestDir, Sandbox, aws_cli, entry, paths, report, start_moto};
use serde_json::Value;

mod common;

const ACCOUNT: &str = "123456789012";

async fn run(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    common::run_binary_async(dir, url, args).await
}

fn machine_manifest(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: {name}\nspec:\n  name: {name}\n  roleArn: arn:aws:iam::{ACCOUNT}:role/R\n  definition:\n    StartAt: A\n    States:\n      A: {{Type: Pass, End: true}}\n{extra}"
    )
}

fn machine_arn(name: &str) -> String {
    format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}")
}

fn cli(url: &str, args: &[&str]) -> Value {
    aws_cli(url, args).unwrap_or_else(|e| panic!("aws {args:?}: {e}"))
}

/// Set, read back, drift, diff at its path, revert, in sync: `encryptionConfiguration`.
/// `writes`: the sandbox's write count since the last reset (`None` against moto, which counts
/// nothing; there an in-sync pass is checked by its report: every entry a noop).
async fn encryption_round_trip(url: &str, sandbox: Option<&Sandbox>) {
    let dir = ManifestDir::new();
    dir.write(
        "m.yaml",
        &machine_manifest(
            "enc",
            "  encryptionConfiguration:\n    type: CUSTOMER_MANAGED_KMS_KEY\n    kmsKeyId: alias/fld-key\n    kmsDataKeyReusePeriodSeconds: 120\n",
        ),
    );
    let out = run(dir.path(), url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let arn = machine_arn("enc");
    let described = cli(
        url,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            &arn,
        ],
    );
    let e = &described["encryptionConfiguration"];
    assert_eq!(e["type"], "CUSTOMER_MANAGED_KMS_KEY", "{described}");
    assert_eq!(e["kmsKeyId"], "alias/fld-key", "{described}");
    assert_eq!(e["kmsDataKeyReusePeriodSeconds"], 120, "{described}");

    let in_sync = async |what: &str| {
        if let Some(s) = sandbox {
            s.reset().await;
        }
        let out = run(dir.path(), url, &["reconcile", "--once"]).await;
        assert_eq!(out.status.code(), Some(0), "{what}");
        let r = report(&out);
        assert_eq!(entry(&r, "StateMachine")["action"], "noop", "{what}: {r}");
        if let Some(s) = sandbox {
            assert_eq!(s.requests().await.writes(), 0, "{what}: {:?}", s.requests().await);
        }
    };
    in_sync("after create").await;

    // Out of band with the CLI: another key and period.
    cli(
        url,
        &[
            "stepfunctions",
            "update-state-machine",
            "--state-machine-arn",
            &arn,
            "--encryption-configuration",
            "type=CUSTOMER_MANAGED_KMS_KEY,kmsKeyId=alias/other,kmsDataKeyReusePeriodSeconds=600",
        ],
    );
    let out = run(dir.path(), url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let r = report(&out);
    assert_eq!(
        paths(entry(&r, "StateMachine")),
        [
            "encryptionConfiguration.kmsKeyId",
            "encryptionConfiguration.kmsDataKeyReusePeriodSeconds"
        ],
        "{r}"
    );
    let out = run(dir.path(), url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let described = cli(
        url,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            &arn,
        ],
    );
    assert_eq!(
        described["encryptionConfiguration"]["kmsKeyId"], "alias/fld-key",
        "{described}"
    );
    assert_eq!(
        described["encryptionConfiguration"]["kmsDataKeyReusePeriodSeconds"],
        120
    );
    in_sync("after the revert").await;

    // Back to AWS-owned keys out of band: found at `encryptionConfiguration.type`.
    cli(
        url,
        &[
            "stepfunctions",
            "update-state-machine",
            "--state-machine-arn",
            &arn,
            "--encryption-configuration",
            "type=AWS_OWNED_KEY",
        ],
    );
    let out = run(dir.path(), url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    let p = paths(entry(&report(&out), "StateMachine"));
    assert!(p.contains(&"encryptionConfiguration.type".to_owned()), "{p:?}");

    // A machine created with AWS's default, adopted by a manifest that does not set the field (and
    // by one that names the default): nothing but the ownership tags is written.
    cli(
        url,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "plain",
            "--role-arn",
            &format!("arn:aws:iam::{ACCOUNT}:role/R"),
            "--definition",
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#,
        ],
    );
    let adopt = ManifestDir::new();
    adopt.write("m.yaml", &machine_manifest("plain", ""));
    adopt_writes_only_tags(adopt.path(), url, sandbox).await;
    let named = ManifestDir::new();
    named.write(
        "m.yaml",
        &machine_manifest("plain", "  encryptionConfiguration: {type: AWS_OWNED_KEY}\n"),
    );
    let out = run(named.path(), url, &["diff"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "AWS_OWNED_KEY named against the default"
    );
}

/// Adopts what `dir` declares: a noop whose only writes are TagResource (the sandbox counts them).
async fn adopt_writes_only_tags(dir: &Path, url: &str, sandbox: Option<&Sandbox>) {
    if let Some(s) = sandbox {
        s.reset().await;
    }
    let out = run(dir, url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    for e in r["resources"].as_array().unwrap() {
        assert_eq!(e["action"], "noop", "{r}");
        assert!(e["changes"].as_array().unwrap().is_empty(), "{r}");
    }
    if let Some(s) = sandbox {
        let req = s.requests().await;
        assert_eq!(req.writes(), req.count("TagResource"), "{req:?}");
        assert!(req.count("TagResource") >= 1, "{req:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encryption_configuration_round_trips_on_the_sandbox() {
    let s = Sandbox::start().await;
    encryption_round_trip(&s.url(), Some(&s)).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn encryption_configuration_round_trips_on_moto() {
    let moto = start_moto().await;
    encryption_round_trip(&moto.url, None).await;
}

/// AWS's rules for `encryptionConfiguration`, as the sandbox answers them to the CLI.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_answers_aws_encryption_errors() {
    let s = Sandbox::start().await;
    let url = s.url();
    let create = |enc: &str| {
        aws_cli(
            &url,
            &[
                "stepfunctions",
                "create-state-machine",
                "--name",
                "bad",
                "--role-arn",
                &format!("arn:aws:iam::{ACCOUNT}:role/R"),
                "--definition",
                r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#,
                "--encryption-configuration",
                enc,
            ],
        )
    };
    let err = create("type=CUSTOMER_MANAGED_KMS_KEY").unwrap_err();
    assert!(err.contains("InvalidEncryptionConfiguration"), "{err}");
    assert!(err.contains("kmsKeyId"), "{err}");
    let err =
        create("type=CUSTOMER_MANAGED_KMS_KEY,kmsKeyId=k,kmsDataKeyReusePeriodSeconds=1000").unwrap_err();
    assert!(err.contains("ValidationException"), "{err}");
    assert!(err.contains("less than or equal to 900"), "{err}");
    let err = create("type=AWS_OWNED_KEY,kmsKeyId=k").unwrap_err();
    assert!(err.contains("InvalidEncryptionConfiguration"), "{err}");
    // A customer key without a period keeps AWS's default of 300 seconds.
    create("type=CUSTOMER_MANAGED_KMS_KEY,kmsKeyId=k").unwrap();
    let d = cli(
        &url,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            &machine_arn("bad"),
        ],
    );
    assert_eq!(
        d["encryptionConfiguration"]["kmsDataKeyReusePeriodSeconds"], 300,
        "{d}"
    );
    s.shutdown().await;
}

/// Encryption is a versioned field (SPEC §9): a change of it alone publishes a version that holds it.
#[tokio::test(flavor = "multi_thread")]
async fn an_encryption_change_publishes_a_version() {
    let s = Sandbox::start().await;
    let url = s.url();
    let dir = ManifestDir::new();
    let write = |key: &str| {
        dir.write(
            "m.yaml",
            &machine_manifest(
                "ver",
                &format!("  publish: true\n  encryptionConfiguration:\n    type: CUSTOMER_MANAGED_KMS_KEY\n    kmsKeyId: {key}\n"),
            ),
        );
    };
    write("alias/one");
    assert_eq!(
        run(dir.path(), &url, &["reconcile", "--once"])
            .await
            .status
            .code(),
        Some(0)
    );
    write("alias/two");
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let versions = cli(
        &url,
        &[
            "stepfunctions",
            "list-state-machine-versions",
            "--state-machine-arn",
            &machine_arn("ver"),
        ],
    );
    let arns: Vec<&str> = versions["stateMachineVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["stateMachineVersionArn"].as_str().unwrap())
        .collect();
    assert_eq!(arns.len(), 2, "{versions}");
    let newest = cli(
        &url,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            arns[0],
        ],
    );
    assert_eq!(
        newest["encryptionConfiguration"]["kmsKeyId"], "alias/two",
        "{newest}"
    );
    s.shutdown().await;
}

/// `sfn-operator validate` in `dir`: exit code and stderr.
fn validate(dir: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .args(["validate", "."])
        .current_dir(dir)
        .output()
        .expect("run sfn-operator");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn encryption_errors_name_file_line_column() {
    let dir = ManifestDir::new();
    // Line 12 is `encryptionConfiguration:`, its fields start at column 5 of the lines after.
    dir.write(
        "a.yaml",
        &machine_manifest(
            "a",
            "  encryptionConfiguration:\n    type: CUSTOMER_MANAGED_KMS_KEY\n    kmsDataKeyReusePeriodSeconds: 30\n",
        ),
    );
    dir.write(
        "b.yaml",
        &machine_manifest(
            "b",
            "  encryptionConfiguration:\n    type: AWS_OWNED_KEY\n    kmsKeyId: alias/k\n",
        ),
    );
    dir.write(
        "c.yaml",
        &machine_manifest("c", "  encryptionConfiguration:\n    type: KMS\n"),
    );
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    for line in [
        "./a.yaml:14:35: spec.encryptionConfiguration.kmsDataKeyReusePeriodSeconds: 30 is outside 60..=900",
        "./a.yaml:13:5: spec.encryptionConfiguration.kmsKeyId is required when type is CUSTOMER_MANAGED_KMS_KEY",
        "./b.yaml:14:5: spec.encryptionConfiguration.kmsKeyId applies only to type CUSTOMER_MANAGED_KMS_KEY",
        "./c.yaml:13:11: spec.encryptionConfiguration.type: \"KMS\" is not one of AWS_OWNED_KEY, CUSTOMER_MANAGED_KMS_KEY",
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "missing {line:?} in:\n{stderr}"
        );
    }
}

fn api_manifest(extra: &str) -> String {
    format!(
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: settings\nspec:\n  name: settings-api\n{extra}"
    )
}

/// `binaryMediaTypes`, `minimumCompressionSize`, `apiKeySource`, `disableExecuteApiEndpoint` on
/// the sandbox. Not against moto (5.x): its UpdateRestApi ignores `replace
/// /minimumCompressionSize`, reads `replace /disableExecuteApiEndpoint` `"false"` as true, and adds
/// a binary media type from the operation's `value` instead of its path, as AWS takes it.
#[tokio::test(flavor = "multi_thread")]
async fn rest_api_settings_round_trip_on_the_sandbox() {
    let s = Sandbox::start().await;
    let url = s.url();
    let dir = ManifestDir::new();
    dir.write(
        "api.yaml",
        &api_manifest(
            "  binaryMediaTypes: [image/png, application/octet-stream]\n  minimumCompressionSize: 1024\n  apiKeySource: AUTHORIZER\n  disableExecuteApiEndpoint: true\n",
        ),
    );
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let id = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let get = || cli(&url, &["apigateway", "get-rest-api", "--rest-api-id", &id]);
    let api = get();
    let mut types: Vec<&str> = api["binaryMediaTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(types, ["application/octet-stream", "image/png"], "{api}");
    assert_eq!(api["minimumCompressionSize"], 1024, "{api}");
    assert_eq!(api["apiKeySource"], "AUTHORIZER", "{api}");
    assert_eq!(api["disableExecuteApiEndpoint"], true, "{api}");

    s.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(entry(&report(&out), "RestApi")["action"], "noop");
    assert_eq!(s.requests().await.writes(), 0, "{:?}", s.requests().await);

    // Out of band with the CLI, every field at once.
    cli(
        &url,
        &[
            "apigateway",
            "update-rest-api",
            "--rest-api-id",
            &id,
            "--patch-operations",
            "op=remove,path=/binaryMediaTypes/image~1png",
            "op=add,path=/binaryMediaTypes/image~1gif",
            "op=replace,path=/minimumCompressionSize,value=0",
            "op=replace,path=/apiKeySource,value=HEADER",
            "op=replace,path=/disableExecuteApiEndpoint,value=false",
        ],
    );
    let out = run(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        paths(entry(&report(&out), "RestApi")),
        [
            "binaryMediaTypes",
            "minimumCompressionSize",
            "apiKeySource",
            "disableExecuteApiEndpoint"
        ]
    );
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let reverted = get();
    for k in [
        "binaryMediaTypes",
        "minimumCompressionSize",
        "apiKeySource",
        "disableExecuteApiEndpoint",
    ] {
        let (a, b) = (&reverted[k], &api[k]);
        if k == "binaryMediaTypes" {
            let set = |v: &Value| {
                let mut x: Vec<String> = v.as_array().unwrap().iter().map(|s| s.to_string()).collect();
                x.sort();
                x
            };
            assert_eq!(set(a), set(b), "{reverted}");
        } else {
            assert_eq!(a, b, "{k}: {reverted}");
        }
    }
    s.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(entry(&report(&out), "RestApi")["action"], "noop");
    assert_eq!(s.requests().await.writes(), 0, "{:?}", s.requests().await);

    // An API created with AWS's defaults, adopted by a manifest setting none of the fields.
    cli(&url, &["apigateway", "create-rest-api", "--name", "plain-api"]);
    let adopt = ManifestDir::new();
    adopt.write(
        "api.yaml",
        "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: plain\nspec:\n  name: plain-api\n",
    );
    adopt_writes_only_tags(adopt.path(), &url, Some(&s)).await;
    s.shutdown().await;
}

#[test]
fn rest_api_setting_errors_name_file_line_column() {
    let dir = ManifestDir::new();
    dir.write(
        "a.yaml",
        &api_manifest(
            "  binaryMediaTypes: [png]\n  minimumCompressionSize: -1\n  apiKeySource: QUERY\n  disableExecuteApiEndpoint: \"yes\"\n",
        ),
    );
    let (code, stderr) = validate(dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    for line in [
        "./a.yaml:7:22: spec.binaryMediaTypes: expected a media type (type/subtype, e.g. image/png or */*), found \"png\"",
        "./a.yaml:8:27: spec.minimumCompressionSize: -1 is outside 0..=10485760",
        "./a.yaml:9:17: spec.apiKeySource: \"QUERY\" is not one of HEADER, AUTHORIZER",
        "./a.yaml:10:30: spec.disableExecuteApiEndpoint: expected true or false, found a string",
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "missing {line:?} in:\n{stderr}"
        );
    }
}

/// `policy` on the sandbox, compared as data: a CLI rewrite of the same document with other key
/// order and whitespace is no change; another document is found under `policy` and reverted.
#[tokio::test(flavor = "multi_thread")]
async fn rest_api_policy_round_trips_as_data_on_the_sandbox() {
    let s = Sandbox::start().await;
    let url = s.url();
    let dir = ManifestDir::new();
    dir.write(
        "api.yaml",
        &api_manifest(
            "  policy:\n    Version: \"2012-10-17\"\n    Statement:\n      - Effect: Allow\n        Principal: \"*\"\n        Action: execute-api:Invoke\n        Resource: \"*\"\n",
        ),
    );
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let id = entry(&report(&out), "RestApi")["id"].as_str().unwrap().to_owned();
    let policy = |api: &Value| -> Value { serde_json::from_str(api["policy"].as_str().unwrap()).unwrap() };
    let api = cli(&url, &["apigateway", "get-rest-api", "--rest-api-id", &id]);
    assert_eq!(
        policy(&api)["Statement"][0]["Action"],
        "execute-api:Invoke",
        "{api}"
    );

    let set = |text: &str| {
        cli(
            &url,
            &[
                "apigateway",
                "update-rest-api",
                "--rest-api-id",
                &id,
                "--patch-operations",
                &format!(
                    "[{{\"op\":\"replace\",\"path\":\"/policy\",\"value\":{}}}]",
                    Value::String(text.into())
                ),
            ],
        )
    };
    // The same document, keys reordered, other whitespace: no change, no write.
    set(
        r#"{ "Statement": [ { "Resource": "*", "Action": "execute-api:Invoke", "Principal": "*", "Effect": "Allow" } ],   "Version": "2012-10-17" }"#,
    );
    s.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(
        entry(&report(&out), "RestApi")["action"],
        "noop",
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(s.requests().await.writes(), 0);

    // Another document: found at its path, reverted, then in sync.
    set(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"*"}]}"#,
    );
    let out = run(dir.path(), &url, &["diff"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        paths(entry(&report(&out), "RestApi")),
        ["policy.Statement[0].Effect"]
    );
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(out.status.code(), Some(0));
    let api = cli(&url, &["apigateway", "get-rest-api", "--rest-api-id", &id]);
    assert_eq!(policy(&api)["Statement"][0]["Effect"], "Allow", "{api}");
    s.reset().await;
    let out = run(dir.path(), &url, &["reconcile", "--once"]).await;
    assert_eq!(entry(&report(&out), "RestApi")["action"], "noop");
    assert_eq!(s.requests().await.writes(), 0);
    s.shutdown().await;
}
