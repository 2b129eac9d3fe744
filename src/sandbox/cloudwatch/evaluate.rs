//! Evaluating a metric alarm against the `AWS/States` metrics (pure): the alarm's last
//! `EvaluationPeriods` periods, the period in progress included (so a breaching datapoint trips
//! the alarm at once instead of when its period closes: deterministic for tests), compared with
//! `Threshold` by `ComparisonOperator`, `DatapointsToAlarm` of them needed for `ALARM`, missing
//! periods treated as `TreatMissingData` says.

use serde_json::{Value, json};

use super::metrics::{self, NAMESPACE};
use crate::sandbox::store::{MetricAlarm, Sample};

/// A state an evaluation reached: value, reason and reason data.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub state: &'static str,
    pub reason: String,
    pub data: Value,
}

/// The `StateMachineArn` an alarm watches, when it watches an `AWS/States` metric.
fn watched_arn(alarm: &MetricAlarm) -> Option<&str> {
    if alarm.text("Namespace") != Some(NAMESPACE) {
        return None;
    }
    metrics::dimension_arn(alarm.shape.get("Dimensions"))
}

/// Whether `value` breaches `threshold` under `operator`.
fn breaches(operator: &str, value: f64, threshold: f64) -> bool {
    match operator {
        "GreaterThanOrEqualToThreshold" => value >= threshold,
        "GreaterThanThreshold" => value > threshold,
        "LessThanThreshold" => value < threshold,
        "LessThanOrEqualToThreshold" => value <= threshold,
        _ => false,
    }
}

/// The datapoint of each of the last `periods` periods up to `now` (oldest first; `None`: missing).
fn datapoints(alarm: &MetricAlarm, samples: &[Sample], now: f64) -> Vec<Option<f64>> {
    let period = alarm.number("Period").unwrap_or(60.0).max(1.0);
    let periods = alarm.number("EvaluationPeriods").unwrap_or(1.0).max(1.0) as i64;
    let current = (now / period).floor() as i64;
    let first = current - periods + 1;
    let Some(arn) = watched_arn(alarm) else {
        return vec![None; periods as usize];
    };
    let stat = alarm
        .text("Statistic")
        .or_else(|| alarm.text("ExtendedStatistic"))
        .unwrap_or("Sum");
    let query = metrics::Query {
        metric: alarm.text("MetricName").unwrap_or_default(),
        arn,
        start: first as f64 * period,
        end: (current + 1) as f64 * period,
        period,
        stat,
    };
    let series = metrics::series(samples, &query);
    (first..=current)
        .map(|bucket| {
            let at = bucket as f64 * period;
            series
                .iter()
                .find(|(t, _)| (*t - at).abs() < 1e-6)
                .map(|(_, v)| *v)
        })
        .collect()
}

/// What the alarm's state should be now; `None` to keep the current one (`TreatMissingData:
/// ignore` with no data).
pub fn evaluate(alarm: &MetricAlarm, samples: &[Sample], now: f64) -> Option<Verdict> {
    let points = datapoints(alarm, samples, now);
    let threshold = alarm.number("Threshold").unwrap_or(0.0);
    let operator = alarm.text("ComparisonOperator").unwrap_or_default();
    let needed = alarm
        .number("DatapointsToAlarm")
        .or_else(|| alarm.number("EvaluationPeriods"))
        .unwrap_or(1.0) as usize;
    let missing = alarm.text("TreatMissingData").unwrap_or("missing");
    let judged: Vec<bool> = points
        .iter()
        .filter_map(|p| match (p, missing) {
            (Some(v), _) => Some(breaches(operator, *v, threshold)),
            (None, "breaching") => Some(true),
            (None, "notBreaching") => Some(false),
            (None, _) => None,
        })
        .collect();
    let breaching = judged.iter().filter(|b| **b).count();
    let recent: Vec<Value> = points.iter().flatten().map(|v| json!(v)).collect();
    let data = json!({"version": "1.0", "queryDate": now, "statistic": alarm.text("Statistic"),
        "period": alarm.number("Period"), "recentDatapoints": recent, "threshold": threshold,
        "evaluatedDatapoints": points.len()});
    let (state, reason) = if breaching >= needed.max(1) {
        let reason = format!(
            "Threshold Crossed: {breaching} out of the last {} datapoints {:?} breached the threshold ({threshold}) ({operator})",
            points.len(),
            recent_values(&points)
        );
        ("ALARM", reason)
    } else if judged.is_empty() {
        if missing == "ignore" {
            return None;
        }
        let reason = format!("Insufficient Data: {} datapoints were unknown.", points.len());
        ("INSUFFICIENT_DATA", reason)
    } else {
        let reason = format!(
            "Threshold Crossed: no more than {} out of the last {} datapoints {:?} breached the threshold ({threshold}) ({operator})",
            needed.saturating_sub(1),
            points.len(),
            recent_values(&points)
        );
        ("OK", reason)
    };
    Some(Verdict { state, reason, data })
}

fn recent_values(points: &[Option<f64>]) -> Vec<f64> {
    points.iter().flatten().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn alarm(missing: &str) -> MetricAlarm {
        let shape: Map<String, Value> = serde_json::from_value(json!({
            "Namespace": "AWS/States", "MetricName": "ExecutionsFailed", "Statistic": "Sum",
            "Dimensions": [{"Name": "StateMachineArn", "Value": "m:2"}], "Period": 10,
            "EvaluationPeriods": 2, "DatapointsToAlarm": 1, "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": missing,
        }))
        .unwrap_or_default();
        MetricAlarm {
            shape,
            manual_until: 0.0,
        }
    }

    fn failed(version: &str, at: f64, status: &str) -> Sample {
        Sample {
            machine_arn: "m".into(),
            version_arn: Some(version.into()),
            alias_arn: None,
            start: at,
            stop: Some(at),
            status: status.into(),
        }
    }

    #[test]
    fn a_failure_in_the_period_in_progress_alarms_and_missing_data_follows_the_setting() {
        let samples = vec![failed("m:2", 105.0, "FAILED"), failed("m:1", 105.0, "SUCCEEDED")];
        let state = |a: &MetricAlarm, now| evaluate(a, &samples, now).map(|v| v.state);
        assert_eq!(state(&alarm("missing"), 106.0), Some("ALARM"));
        assert_eq!(state(&alarm("missing"), 115.0), Some("ALARM"));
        assert_eq!(state(&alarm("missing"), 125.0), Some("INSUFFICIENT_DATA"));
        assert_eq!(state(&alarm("notBreaching"), 125.0), Some("OK"));
        assert_eq!(state(&alarm("breaching"), 125.0), Some("ALARM"));
        assert_eq!(state(&alarm("ignore"), 125.0), None);
        let ok = vec![failed("m:2", 105.0, "SUCCEEDED")];
        assert_eq!(
            evaluate(&alarm("missing"), &ok, 106.0).map(|v| v.state),
            Some("OK")
        );
    }
}
