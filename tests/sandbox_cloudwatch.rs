//! CloudWatch in the sandbox (SPEC §9): alarms on the `AWS/States` metrics computed from the
//! sandbox's own executions, through the Rust SDK (Smithy RPC v2 CBOR) and the AWS CLI
//! (awsJson 1.0): a failing stand-in behind a version routed by an alias trips an alarm.

#[path = "common/mod.rs"]
mod common;
#[path = "common/host_prefix.rs"]
mod host_prefix;

use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, StateValue, Statistic,
};
use aws_sdk_sfn::types::{RoutingConfigurationListItem, StateMachineType};
use serde_json::json;
use sfn_operator::sandbox::{self, SandboxConfig, SandboxHandle};

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsIamRole";
const FUNCTIONS: &str =
    "Good: {return: {ok: true}}\nBad: {throw: {error: Boom, cause: the new version fails}}\n";

fn task(function: &str) -> String {
    json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"), "End": true}}})
    .to_string()
}

async fn start() -> SandboxHandle {
    let functions = sfn_operator::standins::Functions::parse(FUNCTIONS).expect("stand-ins");
    sandbox::start(SandboxConfig {
        functions,
        ..Default::default()
    })
    .await
    .expect("sandbox")
}

async fn sfn(url: &str) -> aws_sdk_sfn::Client {
    let conf = aws_sdk_sfn::config::Builder::from(&common::sdk_conf(url).await);
    aws_sdk_sfn::Client::from_conf(conf.interceptor(host_prefix::NoHostPrefix).build())
}

async fn cloudwatch(url: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&common::sdk_conf(url).await)
}

/// A machine whose version 1 calls `Good` and version 2 `Bad`, behind alias `live` at 50/50.
async fn canary(sfn: &aws_sdk_sfn::Client) -> (String, String, String) {
    let created = sfn
        .create_state_machine()
        .name("orders")
        .definition(task("Good"))
        .role_arn(ROLE)
        .r#type(StateMachineType::Express)
        .publish(true)
        .send()
        .await
        .expect("create");
    let arn = created.state_machine_arn().to_string();
    let v1 = created
        .state_machine_version_arn()
        .unwrap_or_default()
        .to_string();
    let updated = sfn
        .update_state_machine()
        .state_machine_arn(&arn)
        .definition(task("Bad"))
        .publish(true)
        .send()
        .await
        .expect("update");
    let v2 = updated
        .state_machine_version_arn()
        .unwrap_or_default()
        .to_string();
    let route = |v: &str| {
        RoutingConfigurationListItem::builder()
            .state_machine_version_arn(v)
            .weight(50)
            .build()
            .expect("route")
    };
    let alias = sfn
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(route(&v1))
        .routing_configuration(route(&v2))
        .send()
        .await
        .expect("alias");
    (arn, v2, alias.state_machine_alias_arn().to_string())
}

async fn put_alarm(cw: &aws_sdk_cloudwatch::Client, name: &str, arn: &str) {
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/States")
        .metric_name("ExecutionsFailed")
        .dimensions(Dimension::builder().name("StateMachineArn").value(arn).build())
        .statistic(Statistic::Sum)
        .period(10)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .send()
        .await
        .expect("PutMetricAlarm");
}

async fn state_of(cw: &aws_sdk_cloudwatch::Client, name: &str) -> StateValue {
    let out = cw
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .expect("DescribeAlarms");
    let alarm = out.metric_alarms().first().expect("the alarm");
    alarm.state_value().cloned().expect("a state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_stand_in_on_the_new_version_trips_its_alarm() {
    let sandbox = start().await;
    let url = sandbox.endpoint_url();
    let (sfn, cw) = (sfn(&url).await, cloudwatch(&url).await);
    let (arn, v2, alias) = canary(&sfn).await;
    put_alarm(&cw, "orders-v2-failed", &v2).await;
    put_alarm(&cw, "orders-all-failed", &arn).await;
    assert_eq!(
        state_of(&cw, "orders-v2-failed").await,
        StateValue::Ok,
        "no data, notBreaching"
    );
    let mut failed = 0;
    for _ in 0..40 {
        let out = sfn
            .start_sync_execution()
            .state_machine_arn(&alias)
            .send()
            .await
            .expect("start");
        if out.status().as_str() == "FAILED" {
            failed += 1;
            break;
        }
    }
    assert_eq!(failed, 1, "one start through the 50/50 alias ran version 2");
    let out = cw
        .describe_alarms()
        .alarm_names("orders-v2-failed")
        .alarm_names("orders-all-failed")
        .send()
        .await
        .expect("DescribeAlarms");
    for alarm in out.metric_alarms() {
        assert_eq!(alarm.state_value(), Some(&StateValue::Alarm), "{alarm:?}");
        assert!(
            alarm
                .state_reason()
                .unwrap_or_default()
                .starts_with("Threshold Crossed"),
            "{alarm:?}"
        );
        assert!(alarm.state_updated_timestamp().is_some() && alarm.threshold() == Some(1.0));
    }
    let now = DateTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            + 60,
    );
    let query = |id: &str, dim: &str| {
        let metric = Metric::builder()
            .namespace("AWS/States")
            .metric_name("ExecutionsFailed")
            .dimensions(Dimension::builder().name("StateMachineArn").value(dim).build())
            .build();
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .build()
    };
    let data = cw
        .get_metric_data()
        .metric_data_queries(query("v2", &v2))
        .metric_data_queries(query("alias", &alias))
        .start_time(DateTime::from_secs(now.secs() - 3600))
        .end_time(now)
        .send()
        .await
        .expect("GetMetricData");
    let sums: Vec<f64> = data
        .metric_data_results()
        .iter()
        .map(|r| r.values().iter().sum())
        .collect();
    assert_eq!(sums, [1.0, 1.0], "{data:?}");
    let listed = cw
        .list_metrics()
        .namespace("AWS/States")
        .metric_name("ExecutionsFailed")
        .send()
        .await
        .expect("ListMetrics");
    let dimensions: Vec<&str> = listed
        .metrics()
        .iter()
        .flat_map(|m| m.dimensions())
        .filter_map(|d| d.value())
        .collect();
    for arn in [&arn, &v2, &alias] {
        assert!(dimensions.contains(&arn.as_str()), "{arn} in {dimensions:?}");
    }
    cw.set_alarm_state()
        .alarm_name("orders-v2-failed")
        .state_value(StateValue::Ok)
        .state_reason("rehearsal")
        .send()
        .await
        .expect("SetAlarmState");
    assert_eq!(
        state_of(&cw, "orders-v2-failed").await,
        StateValue::Ok,
        "a state set by hand holds for a period"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_alarms_pages_and_refuses_as_aws_does() {
    let sandbox = start().await;
    let cw = cloudwatch(&sandbox.endpoint_url()).await;
    for i in 0..5 {
        put_alarm(
            &cw,
            &format!("a{i}"),
            "arn:aws:states:us-east-1:123456789012:stateMachine:x",
        )
        .await;
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = cw
            .describe_alarms()
            .max_records(2)
            .set_next_token(token)
            .send()
            .await
            .expect("page");
        names.extend(
            page.metric_alarms()
                .iter()
                .filter_map(|a| a.alarm_name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["a0", "a1", "a2", "a3", "a4"]);
    let many: Vec<String> = (0..101).map(|i| format!("n{i}")).collect();
    let e = cw
        .describe_alarms()
        .set_alarm_names(Some(many))
        .send()
        .await
        .expect_err("101 names");
    assert_eq!(e.code(), Some("InvalidParameterValue"), "{e:?}");
    let e = cw
        .delete_alarms()
        .alarm_names("nope")
        .send()
        .await
        .expect_err("unknown alarm");
    assert_eq!(e.code(), Some("ResourceNotFound"), "{e:?}");
    let e = cw
        .set_alarm_state()
        .alarm_name("a0")
        .state_value(StateValue::Alarm)
        .state_reason("x")
        .state_reason_data("{not json")
        .send()
        .await
        .expect_err("bad data");
    assert_eq!(e.code(), Some("InvalidFormat"), "{e:?}");
    cw.delete_alarms()
        .alarm_names("a0")
        .alarm_names("a1")
        .send()
        .await
        .expect("DeleteAlarms");
    assert_eq!(
        cw.describe_alarms()
            .send()
            .await
            .expect("describe")
            .metric_alarms()
            .len(),
        3
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_sets_and_reads_alarms_the_sdk_wrote() {
    let sandbox = start().await;
    let url = sandbox.endpoint_url();
    let cw = cloudwatch(&url).await;
    put_alarm(
        &cw,
        "cli-alarm",
        "arn:aws:states:us-east-1:123456789012:stateMachine:x",
    )
    .await;
    common::aws_cli(
        &url,
        &[
            "cloudwatch",
            "set-alarm-state",
            "--alarm-name",
            "cli-alarm",
            "--state-value",
            "ALARM",
            "--state-reason",
            "rehearsal",
        ],
    )
    .expect("set-alarm-state");
    let read = common::aws_cli(
        &url,
        &["cloudwatch", "describe-alarms", "--alarm-names", "cli-alarm"],
    )
    .expect("describe-alarms");
    assert_eq!(read["MetricAlarms"][0]["StateValue"], "ALARM", "{read}");
    assert_eq!(read["MetricAlarms"][0]["Threshold"], json!(1.0));
    assert_eq!(state_of(&cw, "cli-alarm").await, StateValue::Alarm);
    common::aws_cli(
        &url,
        &[
            "cloudwatch",
            "put-metric-alarm",
            "--alarm-name",
            "by-cli",
            "--namespace",
            "AWS/States",
            "--metric-name",
            "ExecutionsFailed",
            "--statistic",
            "Sum",
            "--period",
            "10",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
        ],
    )
    .expect("put-metric-alarm");
    let e = common::aws_cli(
        &url,
        &[
            "cloudwatch",
            "put-metric-alarm",
            "--alarm-name",
            "bad",
            "--namespace",
            "AWS/States",
            "--metric-name",
            "ExecutionsFailed",
            "--statistic",
            "Sum",
            "--period",
            "7",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
        ],
    )
    .expect_err("period 7");
    assert!(e.contains("InvalidParameterValue"), "{e}");
    let sdk = cw
        .describe_alarms()
        .alarm_names("by-cli")
        .send()
        .await
        .expect("describe");
    assert_eq!(sdk.metric_alarms()[0].period(), Some(10));
    sandbox.shutdown().await;
}
