//! The `AWS/States` execution metrics, computed from the sandbox's own executions: pure
//! functions from [`Sample`]s to datapoints.
//!
//! Metrics: `ExecutionsStarted` (1 per start), `ExecutionsSucceeded`, `ExecutionsFailed`,
//! `ExecutionsTimedOut`, `ExecutionsAborted` (for every execution that ended in the period: 1
//! when it ended so, else 0, so a period with executions and no failure has the datapoint 0)
//! and `ExecutionTime` (milliseconds, per execution that ended). One dimension,
//! `StateMachineArn`: the machine's, a version's or an alias's ARN (see [`Sample::counted_by`]).
//! Periods are aligned to multiples of the period since the epoch, as CloudWatch aligns them.

use crate::sandbox::store::Sample;

/// The namespace these metrics live in.
pub const NAMESPACE: &str = "AWS/States";
/// The one dimension they carry.
pub const DIMENSION: &str = "StateMachineArn";
/// Every metric served.
pub const METRICS: &[&str] = &[
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "ExecutionsAborted",
    "ExecutionTime",
];

/// The `StateMachineArn` value among a metric's `Dimensions` (`[{Name, Value}]`).
pub fn dimension_arn(dimensions: Option<&serde_json::Value>) -> Option<&str> {
    dimensions?
        .as_array()?
        .iter()
        .find_map(|d| (d.get("Name")?.as_str()? == DIMENSION).then_some(d.get("Value")?.as_str()?))
}

/// One metric of one dimension value over a time range.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub metric: &'a str,
    pub arn: &'a str,
    /// Epoch seconds, inclusive.
    pub start: f64,
    /// Epoch seconds, exclusive.
    pub end: f64,
    /// Seconds, at least 1.
    pub period: f64,
    /// `Sum`, `SampleCount`, `Average`, `Minimum`, `Maximum` or `pNN`.
    pub stat: &'a str,
}

/// The raw values an execution contributes to `metric`, with the time they count at.
fn contribution(sample: &Sample, metric: &str) -> Option<(f64, f64)> {
    if metric == "ExecutionsStarted" {
        return Some((sample.start, 1.0));
    }
    let stop = sample.stop?;
    let wanted = match metric {
        "ExecutionsSucceeded" => "SUCCEEDED",
        "ExecutionsFailed" => "FAILED",
        "ExecutionsTimedOut" => "TIMED_OUT",
        "ExecutionsAborted" => "ABORTED",
        "ExecutionTime" => return Some((stop, ((stop - sample.start) * 1000.0).max(0.0))),
        _ => return None,
    };
    Some((stop, if sample.status == wanted { 1.0 } else { 0.0 }))
}

/// The datapoints of `query`: `(period start, value)` for every period with data, oldest first.
pub fn series(samples: &[Sample], query: &Query<'_>) -> Vec<(f64, f64)> {
    let period = query.period.max(1.0);
    let mut buckets: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    for sample in samples.iter().filter(|s| s.counted_by(query.arn)) {
        if let Some((at, value)) = contribution(sample, query.metric)
            && at >= query.start
            && at < query.end
        {
            buckets
                .entry((at / period).floor() as i64)
                .or_default()
                .push(value);
        }
    }
    buckets
        .into_iter()
        .filter_map(|(bucket, values)| Some((bucket as f64 * period, statistic(&values, query.stat)?)))
        .collect()
}

/// A statistic of `values` (none for an empty set or an unknown statistic).
pub fn statistic(values: &[f64], stat: &str) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().sum();
    let fold = |f: fn(f64, f64) -> f64| values.iter().copied().reduce(f);
    match stat {
        "Sum" => Some(sum),
        "SampleCount" => Some(values.len() as f64),
        "Average" => Some(sum / values.len() as f64),
        "Minimum" => fold(f64::min),
        "Maximum" => fold(f64::max),
        p if p.starts_with('p') => {
            let rank: f64 = p[1..].parse().ok().filter(|r| (0.0..=100.0).contains(r))?;
            let mut sorted = values.to_vec();
            sorted.sort_by(f64::total_cmp);
            let index = ((rank / 100.0) * sorted.len() as f64).ceil() as usize;
            sorted.get(index.saturating_sub(1).min(sorted.len() - 1)).copied()
        }
        _ => None,
    }
}

/// Every `(metric, dimension value)` with data among `samples` (for `ListMetrics`), sorted.
pub fn listed(samples: &[Sample]) -> Vec<(&'static str, String)> {
    let mut out = std::collections::BTreeSet::new();
    for s in samples {
        let arns = std::iter::once(Some(&s.machine_arn))
            .chain([s.version_arn.as_ref(), s.alias_arn.as_ref()])
            .flatten();
        for arn in arns {
            for metric in METRICS {
                if contribution(s, metric).is_some() {
                    out.insert((*metric, arn.clone()));
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: &str, start: f64, stop: f64, status: &str) -> Sample {
        Sample {
            machine_arn: "m".into(),
            version_arn: Some(version.into()),
            alias_arn: Some("m:live".into()),
            start,
            stop: Some(stop),
            status: status.into(),
        }
    }

    #[test]
    fn counts_per_dimension_and_aligned_period() {
        let samples = vec![
            sample("m:1", 100.0, 101.0, "SUCCEEDED"),
            sample("m:2", 102.0, 103.5, "FAILED"),
            sample("m:2", 111.0, 112.0, "FAILED"),
        ];
        let q = |metric, arn, stat| Query {
            metric,
            arn,
            start: 0.0,
            end: 200.0,
            period: 10.0,
            stat,
        };
        assert_eq!(
            series(&samples, &q("ExecutionsFailed", "m:2", "Sum")),
            vec![(100.0, 1.0), (110.0, 1.0)]
        );
        assert_eq!(
            series(&samples, &q("ExecutionsFailed", "m:1", "Sum")),
            vec![(100.0, 0.0)]
        );
        assert_eq!(
            series(&samples, &q("ExecutionsFailed", "m:live", "Average")),
            vec![(100.0, 0.5), (110.0, 1.0)]
        );
        assert_eq!(
            series(&samples, &q("ExecutionsStarted", "m", "Sum")),
            vec![(100.0, 2.0), (110.0, 1.0)]
        );
        assert_eq!(
            series(&samples, &q("ExecutionTime", "m:2", "Maximum")),
            vec![(100.0, 1500.0), (110.0, 1000.0)]
        );
        assert_eq!(statistic(&[1.0, 2.0, 3.0, 4.0], "p50"), Some(2.0));
        assert_eq!(statistic(&[], "Sum"), None);
        assert_eq!(listed(&samples).len(), 4 * METRICS.len());
    }
}
