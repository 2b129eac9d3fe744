//! Prometheus metrics of SPEC §6, one process-wide registry. The reconciler and the AWS layer
//! record into it; the daemon serves it on `/metrics`. Recording is cheap and never fails.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsLabels {
    service: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WeightLabels {
    name: String,
    alias: String,
    version: String,
}

/// The versions each (machine, alias) weight was last set for, so a version that left the
/// routing is dropped from the gauge.
type WeightedVersions = std::sync::Mutex<std::collections::BTreeMap<(String, String), Vec<u32>>>;

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    reconcile_total: Family<ReconcileLabels, Counter>,
    reconcile_duration: Histogram,
    drift_corrected: Family<KindLabels, Counter>,
    drift_found: Family<KindLabels, Counter>,
    notifications: Family<ResultLabels, Counter>,
    aws_requests: Family<AwsLabels, Counter>,
    queue_depth: Gauge,
    manifest_errors: Gauge,
    rollouts_total: Family<ResultLabels, Counter>,
    rollout_weight: Family<WeightLabels, Gauge>,
    weighted: WeightedVersions,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let reconcile_total = Family::<ReconcileLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        let drift_corrected = Family::<KindLabels, Counter>::default();
        let drift_found = Family::<KindLabels, Counter>::default();
        let notifications = Family::<ResultLabels, Counter>::default();
        let aws_requests = Family::<AwsLabels, Counter>::default();
        let queue_depth = Gauge::default();
        let manifest_errors = Gauge::default();
        registry.register(
            "sfn_operator_reconcile",
            "Resource reconciles by kind and result",
            reconcile_total.clone(),
        );
        registry.register(
            "sfn_operator_reconcile_duration_seconds",
            "Time to reconcile one resource",
            reconcile_duration.clone(),
        );
        registry.register(
            "sfn_operator_drift_corrected",
            "Out-of-band changes found on a resync and corrected",
            drift_corrected.clone(),
        );
        registry.register(
            "sfn_operator_drift_found",
            "Reconciles that found a resource drifted and left it in place (driftPolicy: Report)",
            drift_found.clone(),
        );
        registry.register(
            "sfn_operator_notifications",
            "Notification deliveries by result: delivered, failed (gave up after retries), dropped (queue full)",
            notifications.clone(),
        );
        registry.register(
            "sfn_operator_aws_requests",
            "AWS API calls by service, operation and outcome",
            aws_requests.clone(),
        );
        registry.register(
            "sfn_operator_queue_depth",
            "Resources waiting in the work queue",
            queue_depth.clone(),
        );
        registry.register(
            "sfn_operator_manifest_errors",
            "Problems in the manifests as last loaded (syntax and validation errors; 0 when all are valid)",
            manifest_errors.clone(),
        );
        let rollouts_total = Family::<ResultLabels, Counter>::default();
        let rollout_weight = Family::<WeightLabels, Gauge>::default();
        registry.register(
            "sfn_operator_rollouts",
            "Rollouts that ended, by result (promoted, rolled_back)",
            rollouts_total.clone(),
        );
        registry.register(
            "sfn_operator_rollout_weight",
            "The percentage of an alias's traffic each version receives",
            rollout_weight.clone(),
        );
        Metrics {
            registry,
            rollouts_total,
            rollout_weight,
            weighted: WeightedVersions::default(),
            reconcile_total,
            reconcile_duration,
            drift_corrected,
            drift_found,
            notifications,
            aws_requests,
            queue_depth,
            manifest_errors,
        }
    }

    /// Counts one finished reconcile of a resource (`result`: `synced`, `failed`, `skipped`, ...).
    pub fn reconcile(&self, kind: &str, result: &str, seconds: f64) {
        self.reconcile_total
            .get_or_create(&ReconcileLabels {
                kind: kind.into(),
                result: result.into(),
            })
            .inc();
        self.reconcile_duration.observe(seconds);
    }

    /// Counts one corrected drift.
    pub fn drift_corrected(&self, kind: &str) {
        self.drift_corrected
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    /// Counts one reconcile that found drift and left it in place (`driftPolicy: Report`).
    pub fn drift_found(&self, kind: &str) {
        self.drift_found
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    /// Counts one notification outcome (`delivered`, `failed` or `dropped`).
    pub fn notification(&self, result: &str) {
        self.notifications
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Counts one AWS call (`outcome`: `success` or the AWS error code).
    pub fn aws_request(&self, service: &str, operation: &str, outcome: &str) {
        self.aws_requests
            .get_or_create(&AwsLabels {
                service: service.into(),
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Sets the work queue depth.
    pub fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Sets the number of problems in the manifests as last loaded.
    pub fn set_manifest_errors(&self, count: usize) {
        self.manifest_errors.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Counts a rollout that ended (`result`: `promoted` or `rolled_back`).
    pub fn rollout_ended(&self, result: &str) {
        self.rollouts_total
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Sets the weights an alias routes with; versions no longer routed to leave the gauge.
    pub fn rollout_weights(&self, name: &str, alias: &str, weights: &std::collections::BTreeMap<u32, u8>) {
        let labels = |v: u32| WeightLabels {
            name: name.into(),
            alias: alias.into(),
            version: v.to_string(),
        };
        let mut seen = self
            .weighted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = seen.insert((name.into(), alias.into()), weights.keys().copied().collect());
        for v in before.unwrap_or_default() {
            if !weights.contains_key(&v) {
                self.rollout_weight.remove(&labels(v));
            }
        }
        for (v, w) in weights {
            self.rollout_weight.get_or_create(&labels(*v)).set(i64::from(*w));
        }
    }

    /// The Prometheus/OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_spec_metric_names() {
        let m = Metrics::new();
        m.reconcile("StateMachine", "synced", 0.2);
        m.drift_corrected("RestApi");
        m.aws_request("sfn", "DescribeStateMachine", "success");
        m.set_queue_depth(3);
        m.set_manifest_errors(1);
        m.rollout_ended("promoted");
        m.rollout_weights("m", "live", &[(1, 90), (2, 10)].into_iter().collect());
        m.rollout_weights("m", "live", &[(2, 100)].into_iter().collect());
        let text = m.encode();
        assert!(!text.contains("version=\"1\""), "{text}");
        for needle in [
            "sfn_operator_reconcile_total{kind=\"StateMachine\",result=\"synced\"} 1",
            "sfn_operator_reconcile_duration_seconds_count 1",
            "sfn_operator_drift_corrected_total{kind=\"RestApi\"} 1",
            "sfn_operator_aws_requests_total{service=\"sfn\",operation=\"DescribeStateMachine\",outcome=\"success\"} 1",
            "sfn_operator_queue_depth 3",
            "sfn_operator_manifest_errors 1",
            "sfn_operator_rollouts_total{result=\"promoted\"} 1",
            "sfn_operator_rollout_weight{name=\"m\",alias=\"live\",version=\"2\"} 100",
        ] {
            assert!(text.contains(needle), "missing {needle} in:\n{text}");
        }
    }
}
