//! CloudWatch in the sandbox (SPEC §9): `PutMetricAlarm`, `DescribeAlarms`, `SetAlarmState`,
//! `DeleteAlarms`, `GetMetricData` and `ListMetrics`, over the JSON data model (the server
//! decodes Smithy RPC v2 CBOR or awsJson 1.0 into it, see [`super::cbor`]). Errors carry AWS's
//! query error codes (`InvalidParameterValue`, `ResourceNotFound`, ...), as CloudWatch's
//! query-compatible wire reports them.
//!
//! Alarms on the `AWS/States` metrics ([`metrics`]) are evaluated ([`evaluate`]) whenever they
//! are read or written, so what `DescribeAlarms` shows is never stale and tests need no timer.
//! A state set with `SetAlarmState` holds for one period (AWS's next evaluation). Must not: run
//! executions or touch the network or the disk.

pub mod evaluate;
pub mod metrics;

use serde_json::{Map, Value, json};

use super::RequestContext;
use super::protocol::{Outcome, Reply, ServiceError};
use super::store::{CloudWatchState, MetricAlarm, Sample};

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "PutMetricAlarm",
    "DescribeAlarms",
    "SetAlarmState",
    "DeleteAlarms",
    "GetMetricData",
    "ListMetrics",
];

/// AWS's limit on names in one `DescribeAlarms` or `DeleteAlarms`.
const MAX_NAMES: usize = 100;

/// The operation's name if this module serves it (`Unknown` otherwise).
pub fn operation(op: &str) -> &'static str {
    OPERATIONS
        .iter()
        .find(|o| **o == op)
        .copied()
        .unwrap_or("Unknown")
}

/// Whether `op` changes the state (reads may still record an alarm's new state).
pub fn is_write(op: &str) -> bool {
    matches!(op, "PutMetricAlarm" | "SetAlarmState" | "DeleteAlarms")
}

/// What one call sees: the caller, the executions the metrics come from, and the time.
pub struct Call<'a> {
    pub ctx: &'a RequestContext,
    pub samples: &'a [Sample],
    pub now: f64,
}

/// Handles one request for operation `op` (input and answer in the JSON data model).
pub fn handle(state: &mut CloudWatchState, op: &str, input: &Value, call: &Call<'_>) -> Outcome {
    let Some(input) = input.as_object() else {
        return Err(invalid("the request must be a structure"));
    };
    match operation(op) {
        "PutMetricAlarm" => put_alarm(state, input, call),
        "DescribeAlarms" => describe_alarms(state, input, call),
        "SetAlarmState" => set_state(state, input, call.now),
        "DeleteAlarms" => delete_alarms(state, input),
        "GetMetricData" => get_metric_data(input, call),
        "ListMetrics" => list_metrics(input, call),
        _ => Err(ServiceError::bad(
            "InvalidAction",
            format!("Could not find operation {op} for version 2010-08-01"),
        )),
    }
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::bad("InvalidParameterValue", message)
}

fn missing(name: &str) -> ServiceError {
    ServiceError::bad("MissingParameter", format!("The parameter {name} is required."))
}

fn text<'a>(input: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn names(input: &Map<String, Value>, key: &str) -> Result<Vec<String>, ServiceError> {
    let names: Vec<String> = input
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if names.len() > MAX_NAMES {
        return Err(invalid(format!(
            "The collection {key} must not have a size greater than {MAX_NAMES}."
        )));
    }
    Ok(names)
}

/// Checks a `PutMetricAlarm` request's metric, period and comparison (AWS's rules; the sandbox
/// accepts AWS's high-resolution periods 10, 20 and 30 s for every metric).
fn check_alarm(input: &Map<String, Value>) -> Result<(), ServiceError> {
    for key in ["AlarmName", "ComparisonOperator"] {
        text(input, key).ok_or_else(|| missing(key))?;
    }
    let periods = input
        .get("EvaluationPeriods")
        .and_then(Value::as_i64)
        .ok_or_else(|| missing("EvaluationPeriods"))?;
    if periods < 1 {
        return Err(invalid("EvaluationPeriods must be at least 1."));
    }
    if let Some(d) = input.get("DatapointsToAlarm").and_then(Value::as_i64)
        && (d < 1 || d > periods)
    {
        return Err(invalid(
            "DatapointsToAlarm must be between 1 and EvaluationPeriods.",
        ));
    }
    if input.contains_key("Metrics") {
        return Err(invalid(
            "The sandbox does not evaluate metric math alarms (Metrics); use MetricName.",
        ));
    }
    text(input, "MetricName").ok_or_else(|| missing("MetricName"))?;
    text(input, "Namespace").ok_or_else(|| missing("Namespace"))?;
    let period = input
        .get("Period")
        .and_then(Value::as_i64)
        .ok_or_else(|| missing("Period"))?;
    if !(matches!(period, 10 | 20 | 30) || (period > 0 && period % 60 == 0)) {
        return Err(invalid("Period must be 10, 20, 30 or a multiple of 60"));
    }
    match (text(input, "Statistic"), text(input, "ExtendedStatistic")) {
        (Some(_), Some(_)) => Err(ServiceError::bad(
            "InvalidParameterCombination",
            "Exactly one element of the Statistic and ExtendedStatistic parameters must be specified.",
        )),
        (None, None) => Err(missing("Statistic")),
        (Some(s), None) if metrics::statistic(&[1.0], s).is_none() => Err(invalid(format!(
            "Statistic '{s}' is not one of SampleCount, Average, Sum, Minimum, Maximum"
        ))),
        _ => check_comparison(input),
    }
}

fn check_comparison(input: &Map<String, Value>) -> Result<(), ServiceError> {
    let operator = text(input, "ComparisonOperator").unwrap_or_default();
    const SIMPLE: &[&str] = &[
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    ];
    if !SIMPLE.contains(&operator) {
        return Err(invalid(format!(
            "ComparisonOperator '{operator}' is not supported by the sandbox (one of {})",
            SIMPLE.join(", ")
        )));
    }
    if !input.get("Threshold").is_some_and(Value::is_number) {
        return Err(missing("Threshold"));
    }
    let missing_data = text(input, "TreatMissingData").unwrap_or("missing");
    if !["breaching", "notBreaching", "ignore", "missing"].contains(&missing_data) {
        return Err(invalid(format!(
            "TreatMissingData '{missing_data}' is not one of breaching, notBreaching, ignore, missing"
        )));
    }
    Ok(())
}

/// The `MetricAlarm` shape a `PutMetricAlarm` request describes (state fields excluded).
fn alarm_shape(input: &Map<String, Value>, ctx: &RequestContext, now: f64) -> Map<String, Value> {
    const KEPT: &[&str] = &[
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Dimensions",
        "Period",
        "Unit",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
    ];
    let mut shape: Map<String, Value> = KEPT
        .iter()
        .filter_map(|k| input.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let name = text(input, "AlarmName").unwrap_or_default();
    shape.insert(
        "AlarmArn".into(),
        json!(format!(
            "arn:aws:cloudwatch:{}:{}:alarm:{name}",
            ctx.region, ctx.account_id
        )),
    );
    shape.entry("ActionsEnabled").or_insert(json!(true));
    for list in [
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "Dimensions",
    ] {
        shape.entry(list).or_insert(json!([]));
    }
    let threshold = input.get("Threshold").and_then(Value::as_f64).unwrap_or(0.0);
    shape.insert("Threshold".into(), json!(threshold));
    shape.insert("AlarmConfigurationUpdatedTimestamp".into(), json!(now));
    shape
}

fn put_alarm(state: &mut CloudWatchState, input: &Map<String, Value>, call: &Call<'_>) -> Outcome {
    check_alarm(input)?;
    let mut shape = alarm_shape(input, call.ctx, call.now);
    let name = text(input, "AlarmName").unwrap_or_default().to_string();
    let previous = state.alarms.remove(&name);
    let initial = json!({"StateValue": "INSUFFICIENT_DATA", "StateReason": "Unchecked: Initial alarm creation",
        "StateUpdatedTimestamp": call.now, "StateTransitionedTimestamp": call.now});
    let kept = previous
        .map(|p| p.shape)
        .unwrap_or_else(|| initial.as_object().cloned().unwrap_or_default());
    for key in [
        "StateValue",
        "StateReason",
        "StateReasonData",
        "StateUpdatedTimestamp",
        "StateTransitionedTimestamp",
    ] {
        if let Some(v) = kept.get(key) {
            shape.insert(key.into(), v.clone());
        }
    }
    let mut alarm = MetricAlarm {
        shape,
        manual_until: 0.0,
    };
    refresh(&mut alarm, call);
    state.alarms.insert(name, alarm);
    Ok(Reply::changed(json!({})))
}

/// Re-evaluates `alarm` (unless a `SetAlarmState` still holds); whether its state changed.
fn refresh(alarm: &mut MetricAlarm, call: &Call<'_>) -> bool {
    if call.now < alarm.manual_until {
        return false;
    }
    let Some(verdict) = evaluate::evaluate(alarm, call.samples, call.now) else {
        return false;
    };
    if alarm.text("StateValue") == Some(verdict.state) {
        return false;
    }
    set(
        alarm,
        verdict.state,
        &verdict.reason,
        Some(verdict.data.to_string()),
        call.now,
    );
    true
}

/// Records a new state.
fn set(alarm: &mut MetricAlarm, state: &str, reason: &str, data: Option<String>, now: f64) {
    let shape = &mut alarm.shape;
    if shape.get("StateValue").and_then(Value::as_str) != Some(state) {
        shape.insert("StateTransitionedTimestamp".into(), json!(now));
    }
    shape.insert("StateValue".into(), json!(state));
    shape.insert("StateReason".into(), json!(reason));
    shape.insert("StateUpdatedTimestamp".into(), json!(now));
    match data {
        Some(d) => shape.insert("StateReasonData".into(), json!(d)),
        None => shape.remove("StateReasonData"),
    };
}

fn describe_alarms(state: &mut CloudWatchState, input: &Map<String, Value>, call: &Call<'_>) -> Outcome {
    let wanted = names(input, "AlarmNames")?;
    let prefix = text(input, "AlarmNamePrefix");
    if prefix.is_some() && !wanted.is_empty() {
        return Err(ServiceError::bad(
            "InvalidParameterCombination",
            "AlarmNamePrefix and AlarmNames cannot be specified together.",
        ));
    }
    let max = input.get("MaxRecords").and_then(Value::as_u64).unwrap_or(50);
    if !(1..=100).contains(&max) {
        return Err(invalid("MaxRecords must be between 1 and 100."));
    }
    let after = text(input, "NextToken")
        .map(|t| {
            super::protocol::token::decode(t).ok_or_else(|| {
                ServiceError::bad("InvalidNextToken", "The service couldn't process the NextToken.")
            })
        })
        .transpose()?;
    let state_filter = text(input, "StateValue");
    let mut changed = false;
    let mut items: Vec<&MetricAlarm> = Vec::new();
    for (name, alarm) in state.alarms.iter_mut() {
        let named = wanted.is_empty() || wanted.contains(name);
        if named && prefix.is_none_or(|p| name.starts_with(p)) && after.as_ref().is_none_or(|a| name > a) {
            changed |= refresh(alarm, call);
        }
    }
    for (name, alarm) in &state.alarms {
        let named = wanted.is_empty() || wanted.contains(name);
        let matches = named
            && prefix.is_none_or(|p| name.starts_with(p))
            && state_filter.is_none_or(|s| alarm.text("StateValue") == Some(s));
        if matches && after.as_ref().is_none_or(|a| name > a) {
            items.push(alarm);
        }
    }
    let more = items.len() > max as usize;
    items.truncate(max as usize);
    let mut body = json!({"MetricAlarms": items.iter().map(|a| Value::Object(a.shape.clone())).collect::<Vec<_>>(), "CompositeAlarms": []});
    if let (true, Some(last)) = (more, items.last()) {
        body["NextToken"] = json!(super::protocol::token::encode(
            last.text("AlarmName").unwrap_or_default()
        ));
    }
    Ok(Reply {
        mutated: changed,
        ..Reply::ok(body)
    })
}

fn set_state(state: &mut CloudWatchState, input: &Map<String, Value>, now: f64) -> Outcome {
    let name = text(input, "AlarmName").ok_or_else(|| missing("AlarmName"))?;
    let value = text(input, "StateValue").ok_or_else(|| missing("StateValue"))?;
    let reason = text(input, "StateReason").ok_or_else(|| missing("StateReason"))?;
    if !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(&value) {
        return Err(invalid(format!(
            "StateValue '{value}' is not one of OK, ALARM, INSUFFICIENT_DATA"
        )));
    }
    let data = text(input, "StateReasonData");
    if let Some(d) = data
        && serde_json::from_str::<Value>(d).is_err()
    {
        return Err(ServiceError::bad(
            "InvalidFormat",
            "StateReasonData is not valid JSON.",
        ));
    }
    let alarm = state
        .alarms
        .get_mut(name)
        .ok_or_else(|| ServiceError::bad("ResourceNotFound", format!("Alarm {name} not found")))?;
    set(alarm, value, reason, data.map(str::to_string), now);
    alarm.manual_until = now + alarm.number("Period").unwrap_or(60.0);
    Ok(Reply::changed(json!({})))
}

fn delete_alarms(state: &mut CloudWatchState, input: &Map<String, Value>) -> Outcome {
    let wanted = names(input, "AlarmNames")?;
    let unknown: Vec<&String> = wanted.iter().filter(|n| !state.alarms.contains_key(*n)).collect();
    if !unknown.is_empty() {
        let listed: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        return Err(ServiceError::bad(
            "ResourceNotFound",
            format!("Alarm(s) not found: {}", listed.join(", ")),
        ));
    }
    for name in &wanted {
        state.alarms.remove(name);
    }
    Ok(Reply {
        mutated: !wanted.is_empty(),
        ..Reply::ok(json!({}))
    })
}

/// The `StateMachineArn` dimension of a `Metric` structure.
fn metric_arn(metric: &Value) -> Option<&str> {
    metrics::dimension_arn(metric.get("Dimensions"))
}

/// One `MetricDataQuery`'s result: its datapoints between `start` and `end`, newest first.
fn query_result(query: &Value, start: f64, end: f64, samples: &[Sample]) -> Result<Value, ServiceError> {
    let id = query
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("MetricDataQueries.member.Id"))?;
    let Some(stat) = query.get("MetricStat") else {
        return Err(invalid(format!(
            "The sandbox evaluates MetricStat queries only (query {id} has none)."
        )));
    };
    let metric = stat.get("Metric").cloned().unwrap_or(Value::Null);
    let period = stat
        .get("Period")
        .and_then(Value::as_f64)
        .ok_or_else(|| missing("MetricStat.Period"))?;
    let name = metric
        .get("MetricName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut points = match (
        metric.get("Namespace").and_then(Value::as_str),
        metric_arn(&metric),
    ) {
        (Some(metrics::NAMESPACE), Some(arn)) => metrics::series(
            samples,
            &metrics::Query {
                metric: name,
                arn,
                start,
                end,
                period,
                stat: stat.get("Stat").and_then(Value::as_str).unwrap_or("Sum"),
            },
        ),
        _ => Vec::new(),
    };
    points.reverse();
    Ok(json!({
        "Id": id, "Label": query.get("Label").and_then(Value::as_str).unwrap_or(name),
        "Timestamps": points.iter().map(|(t, _)| json!(t)).collect::<Vec<_>>(),
        "Values": points.iter().map(|(_, v)| json!(v)).collect::<Vec<_>>(),
        "StatusCode": "Complete", "Messages": [],
    }))
}

fn get_metric_data(input: &Map<String, Value>, call: &Call<'_>) -> Outcome {
    let queries = input
        .get("MetricDataQueries")
        .and_then(Value::as_array)
        .ok_or_else(|| missing("MetricDataQueries"))?;
    let start = input
        .get("StartTime")
        .and_then(Value::as_f64)
        .ok_or_else(|| missing("StartTime"))?;
    let end = input
        .get("EndTime")
        .and_then(Value::as_f64)
        .ok_or_else(|| missing("EndTime"))?;
    if end <= start {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let results = queries
        .iter()
        .filter(|q| q.get("ReturnData") != Some(&Value::Bool(false)))
        .map(|q| query_result(q, start, end, call.samples))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Reply::ok(json!({"MetricDataResults": results, "Messages": []})))
}

fn list_metrics(input: &Map<String, Value>, call: &Call<'_>) -> Outcome {
    let namespace = text(input, "Namespace");
    let name = text(input, "MetricName");
    let arn = input
        .get("Dimensions")
        .and_then(|d| metric_arn(&json!({"Dimensions": d})).map(str::to_string));
    if namespace.is_some_and(|n| n != metrics::NAMESPACE) {
        return Ok(Reply::ok(json!({"Metrics": []})));
    }
    let listed: Vec<Value> = metrics::listed(call.samples)
        .into_iter()
        .filter(|(m, a)| name.is_none_or(|n| n == *m) && arn.as_ref().is_none_or(|x| x == a))
        .map(|(m, a)| json!({"Namespace": metrics::NAMESPACE, "MetricName": m, "Dimensions": [{"Name": metrics::DIMENSION, "Value": a}]}))
        .collect();
    Ok(Reply::ok(json!({"Metrics": listed})))
}
