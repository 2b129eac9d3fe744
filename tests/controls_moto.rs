//! The drift controls (SPEC §12) against moto server, an independent implementation, with the AWS
//! CLI making the out-of-band edits and reading the result back: `driftPolicy: Report` finds the
//! drift, tells a webhook and leaves the live value; `Ignore` and `ignoreDifferences` write nothing
//! across three passes (counted by a proxy in front of moto); removing the control reverts the drift
//! in one pass. Needs `$SFN_OPERATOR_PEERS_VENV` (moto_server and the AWS CLI).

use std::path::Path;
use std::process::Output;

use common::{ManifestDir, aws_cli, entry, report, start_moto};
use fault_proxy::FaultProxy;
use receiver::Receiver;

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;
#[path = "common/receiver.rs"]
mod receiver;

const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/EditedInTheConsole";

fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    common::run_binary(dir, url, args)
}

/// The reference state machine and REST API (`description: managed`), with a control (a `spec`
/// line, indented) in each.
fn write_manifests(dir: &ManifestDir, machine_control: &str, api_control: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap();
    let with = |text: String, control: &str| text.replacen("spec:\n", &format!("spec:\n{control}"), 1);
    dir.write(
        "state-machine.yaml",
        &with(read("state-machine.yaml"), machine_control),
    );
    dir.write(
        "parallel-processing.asl.yaml",
        &read("parallel-processing.asl.yaml"),
    );
    // The RestApi alone (its document is the first of api.yaml).
    let api = read("api.yaml");
    let rest_api = api.split("\n---\n").next().unwrap().to_owned();
    let rest_api = rest_api.replacen("spec:\n", "spec:\n  description: managed\n", 1);
    dir.write("api.yaml", &with(rest_api, api_control));
}

fn machine_arn(r: &serde_json::Value) -> String {
    entry(r, "StateMachine")["id"].as_str().unwrap().to_owned()
}

fn live_role(moto: &str, arn: &str) -> String {
    let d = aws_cli(
        moto,
        &[
            "stepfunctions",
            "describe-state-machine",
            "--state-machine-arn",
            arn,
        ],
    )
    .unwrap();
    d["roleArn"].as_str().unwrap().to_owned()
}

fn live_description(moto: &str, api: &str) -> String {
    let d = aws_cli(moto, &["apigateway", "get-rest-api", "--rest-api-id", api]).unwrap();
    d["description"].as_str().unwrap_or_default().to_owned()
}

/// Out-of-band edits with the AWS CLI, as a colleague in the console would make them.
fn edit_out_of_band(moto: &str, arn: &str, api: &str) {
    aws_cli(
        moto,
        &[
            "stepfunctions",
            "update-state-machine",
            "--state-machine-arn",
            arn,
            "--role-arn",
            OTHER_ROLE,
        ],
    )
    .unwrap();
    aws_cli(
        moto,
        &[
            "apigateway",
            "update-rest-api",
            "--rest-api-id",
            api,
            "--patch-operations",
            "op=replace,path=/description,value=edited in the console",
        ],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn report_tells_and_leaves_cli_edits_ignore_writes_nothing_and_removing_reverts_against_moto() {
    let moto = start_moto().await;
    let proxy = FaultProxy::start(&moto.url).await;
    let dir = ManifestDir::new();
    write_manifests(&dir, "  driftPolicy: Report\n", "  driftPolicy: Report\n");
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    let r = report(&out);
    let arn = machine_arn(&r);
    let api = entry(&r, "RestApi")["id"].as_str().unwrap().to_owned();
    edit_out_of_band(&moto.url, &arn, &api);

    // Report: found, told once with its path, left as it was (the CLI reads it back).
    let hook = Receiver::start(0).await;
    proxy.reset();
    let out = run(
        dir.path(),
        &proxy.url,
        &["reconcile", "--once", "--notify", &hook.url],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "drift left by Report is not a failure"
    );
    let r = report(&out);
    assert_eq!(entry(&r, "StateMachine")["status"], "Drifted", "{r}");
    assert_eq!(entry(&r, "RestApi")["status"], "Drifted", "{r}");
    assert_eq!(proxy.writes(), vec![], "Report writes nothing");
    let told = hook.delivered();
    let machine_event = told
        .iter()
        .find(|e| e["resource"] == "StateMachine/parallel-processing")
        .unwrap_or_else(|| panic!("{told:?}"));
    assert_eq!(machine_event["type"], "drift_found");
    assert_eq!(machine_event["paths"], serde_json::json!(["roleArn"]));
    assert_eq!(live_role(&moto.url, &arn), OTHER_ROLE);
    assert_eq!(live_description(&moto.url, &api), "edited in the console");

    // Ignore, then ignoreDifferences on the edited paths: three passes, no write, nothing to do.
    for (control, api_control) in [
        ("  driftPolicy: Ignore\n", "  driftPolicy: Ignore\n"),
        (
            "  ignoreDifferences: [roleArn]\n",
            "  ignoreDifferences: [description]\n",
        ),
    ] {
        write_manifests(&dir, control, api_control);
        proxy.reset();
        for pass in 0..3 {
            let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
            assert_eq!(out.status.code(), Some(0), "{control} pass {pass}");
            let r = report(&out);
            for kind in ["StateMachine", "RestApi"] {
                assert_eq!(entry(&r, kind)["status"], "Synced", "{control} {kind}: {r}");
            }
        }
        assert_eq!(proxy.writes(), vec![], "{control}");
        assert_eq!(live_role(&moto.url, &arn), OTHER_ROLE);
        assert_eq!(live_description(&moto.url, &api), "edited in the console");
    }

    // No control: one pass reverts both edits, and the pass after it writes nothing.
    write_manifests(&dir, "", "");
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        live_role(&moto.url, &arn),
        "arn:aws:iam::123456789012:role/StepFunctionsIamRole"
    );
    assert_eq!(live_description(&moto.url, &api), "managed");
    proxy.reset();
    let out = run(dir.path(), &proxy.url, &["reconcile", "--once"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(proxy.writes(), vec![], "the pass after the revert writes nothing");
}
