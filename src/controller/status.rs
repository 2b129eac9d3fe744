//! What the daemon knows about every resource, for `/status` and `/readyz`: the SPEC §3 report
//! entry of its last reconcile, when that was, its outcome, and the next retry of a failing one.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use crate::desired::ResourceKey;
use crate::report::{ResourceReport, Status, Summary};

/// One resource in `/status`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(flatten)]
    pub report: ResourceReport,
    /// RFC 3339 time the last reconcile of this resource finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reconcile_time: Option<String>,
    /// `synced`, `failed`, `skipped`, `invalid`, or `pending` before the first reconcile.
    pub last_result: String,
    /// Consecutive failed reconciles.
    pub failures: u32,
    /// RFC 3339 time of the next retry of a failing resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_retry_time: Option<String>,
}

/// The `/status` document.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub resources: Vec<ResourceStatus>,
    pub summary: Summary,
    /// Whether the first full pass has finished.
    pub ready: bool,
    /// Why the last full pass held its prune back (SPEC §5), if it did.
    #[serde(rename = "pruneHeldBack", skip_serializing_if = "Option::is_none")]
    pub prune_held_back: Option<String>,
    /// How long a full resync takes, and the share of AWS's quotas it keeps to.
    pub resync: ResyncStatus,
    /// Every problem in the manifests as last loaded (a YAML syntax error, an invalid field), in
    /// file order; empty when all are valid.
    #[serde(rename = "invalidManifests")]
    pub invalid_manifests: Vec<ManifestError>,
}

/// One problem in `/status`'s `invalidManifests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl From<&crate::manifest::Diagnostic> for ManifestError {
    fn from(d: &crate::manifest::Diagnostic) -> Self {
        ManifestError {
            file: d.file.display().to_string(),
            line: d.line,
            column: d.column,
            message: d.message.clone(),
        }
    }
}

/// `/status`'s `resync`: the daemon's full passes (the first one and every resync) wait for
/// their own buckets at `quotaShare` of every AWS quota besides the common ones, so that other
/// tools in the account keep the rest; this says what that costs.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResyncStatus {
    /// `--resync-interval` (each wait is jittered ±10 %).
    pub interval_seconds: f64,
    /// The share of every quota a full pass uses at most; `null` when client-side rate limits
    /// are off (`--sandbox`, `--no-rate-limits`).
    pub quota_share: Option<f64>,
    /// Wall time of the last full pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_full_pass_seconds: Option<f64>,
    /// RFC 3339 time the last full pass finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_full_pass_time: Option<String>,
    /// Full passes finished since the daemon started (the first pass is one): a client waits for
    /// "the next resync" by watching it grow.
    pub full_passes: u64,
    /// The least time the calls of the last full pass can take under `quotaShare` of AWS's
    /// default quotas (the slowest bucket decides): what a full resync of this fleet costs
    /// whatever the network. More than `intervalSeconds` means resyncs run back to back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_floor_seconds: Option<f64>,
}

/// Shared daemon state read by the HTTP server.
#[derive(Debug, Default)]
pub struct Shared {
    ready: AtomicBool,
    resources: RwLock<BTreeMap<ResourceKey, ResourceStatus>>,
    prune_held_back: RwLock<Option<String>>,
    resync: RwLock<ResyncStatus>,
    invalid_manifests: RwLock<Vec<ManifestError>>,
}

impl Shared {
    /// Marks the first full pass done.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Whether the first full pass is done.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Records whether (and why) the last full pass held its prune back.
    pub fn set_prune_held_back(&self, why: Option<String>) {
        *self
            .prune_held_back
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = why;
    }

    /// Why the last full pass held its prune back, if it did.
    pub fn prune_held_back(&self) -> Option<String> {
        self.prune_held_back
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records the problems of the manifests as last loaded (for `/status` and the
    /// `sfn_operator_manifest_errors` gauge).
    pub fn set_invalid_manifests(&self, errors: Vec<ManifestError>) {
        crate::metrics::global().set_manifest_errors(errors.len());
        *self
            .invalid_manifests
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = errors;
    }

    /// Sets the resync settings `/status` reports.
    pub fn set_resync_settings(&self, interval: std::time::Duration, quota_share: Option<f64>) {
        let mut r = self
            .resync
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.interval_seconds = interval.as_secs_f64();
        r.quota_share = quota_share;
    }

    /// Records a finished full pass: its wall time and the calls it made.
    pub fn record_full_pass(&self, seconds: f64, at: SystemTime, calls: &[crate::report::Paced]) {
        let mut r = self
            .resync
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.last_full_pass_seconds = Some((seconds * 1000.0).round() / 1000.0);
        r.last_full_pass_time = Some(rfc3339(at));
        r.full_passes += 1;
        r.quota_floor_seconds = r.quota_share.map(|share| {
            let floor = crate::aws::ratelimit::floor_seconds_at(
                share,
                calls
                    .iter()
                    .map(|c| (c.service.as_str(), c.operation.as_str(), c.calls)),
            );
            (floor * 10.0).round() / 10.0
        });
        if let Some(floor) = r.quota_floor_seconds
            && floor > r.interval_seconds
        {
            tracing::warn!(
                floor_seconds = floor,
                interval_seconds = r.interval_seconds,
                "a full resync needs longer than --resync-interval under its share of AWS's quotas; resyncs will run back to back"
            );
        }
    }

    /// Records the outcome of one reconcile of a resource.
    pub fn record(
        &self,
        report: ResourceReport,
        at: SystemTime,
        failures: u32,
        next_retry: Option<SystemTime>,
    ) {
        let key = ResourceKey::new(report.kind, report.name.clone());
        let last_result = result_name(report.status).to_owned();
        let entry = ResourceStatus {
            report,
            last_reconcile_time: Some(rfc3339(at)),
            last_result,
            failures,
            next_retry_time: next_retry.map(rfc3339),
        };
        self.write().insert(key, entry);
    }

    /// Marks a resource `Invalid` (its manifest no longer validates), keeping its last times.
    pub fn mark_invalid(&self, key: &ResourceKey, message: String) {
        let mut map = self.write();
        if let Some(e) = map.get_mut(key) {
            e.report.status = Status::Invalid;
            e.report.message = Some(message);
            e.report.refresh_health();
            e.next_retry_time = None;
        }
    }

    /// Marks a resource `Pending` (work for it is queued or under way), keeping its last times;
    /// a resource not seen yet is added.
    pub fn mark_pending(&self, key: &ResourceKey, message: &str) {
        let mut map = self.write();
        let entry = map.entry(key.clone()).or_insert_with(|| ResourceStatus {
            report: ResourceReport::new(key.clone(), Status::Pending),
            last_reconcile_time: None,
            last_result: "pending".into(),
            failures: 0,
            next_retry_time: None,
        });
        entry.report.status = Status::Pending;
        entry.report.message = Some(message.to_owned());
        entry.report.refresh_health();
    }

    /// Adds a resource not reconciled yet, or replaces one unless it has an outcome already.
    pub fn ensure(&self, report: ResourceReport) {
        let key = ResourceKey::new(report.kind, report.name.clone());
        self.write().entry(key).or_insert(ResourceStatus {
            report,
            last_reconcile_time: None,
            last_result: "pending".into(),
            failures: 0,
            next_retry_time: None,
        });
    }

    /// Drops a resource that is no longer managed.
    pub fn remove(&self, key: &ResourceKey) {
        self.write().remove(key);
    }

    /// The status of one resource.
    pub fn get(&self, key: &ResourceKey) -> Option<ResourceStatus> {
        self.read().get(key).cloned()
    }

    /// The `/status` document.
    pub fn snapshot(&self) -> StatusReport {
        let resources: Vec<ResourceStatus> = self.read().values().cloned().collect();
        let summary =
            crate::report::Report::new(resources.iter().map(|r| r.report.clone()).collect()).summary;
        StatusReport {
            resources,
            summary,
            ready: self.is_ready(),
            prune_held_back: self.prune_held_back(),
            resync: self
                .resync
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            invalid_manifests: self
                .invalid_manifests
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ResourceKey, ResourceStatus>> {
        self.resources
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<ResourceKey, ResourceStatus>> {
        self.resources
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `result` label and `lastResult` of a status.
pub fn result_name(status: Status) -> &'static str {
    match status {
        Status::Synced => "synced",
        Status::Pending => "pending",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Invalid => "invalid",
        Status::Progressing => "progressing",
        Status::Degraded => "degraded",
        Status::Drifted => "drifted",
        Status::Suspended => "suspended",
    }
}

/// Formats a time as RFC 3339 UTC with millisecond precision (`2026-11-24T19:14:16.123Z`).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Kind;
    use crate::report::Action;
    use std::time::Duration;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_979_656_123);
        assert_eq!(rfc3339(t), "2026-11-29T19:14:16.123Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn status_json_carries_the_report_and_the_times() {
        let shared = Shared::default();
        let report = ResourceReport {
            kind: Kind::StateMachine,
            name: "m".into(),
            action: Action::Update,
            status: Status::Failed,
            health: crate::report::Health::Degraded,
            changes: vec![],
            id: None,
            message: Some("boom".into()),
            rollouts: Vec::new(),
            requeue_after: None,
        };
        shared.record(
            report,
            SystemTime::UNIX_EPOCH,
            2,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2)),
        );
        shared.mark_invalid(&ResourceKey::new(Kind::StateMachine, "m"), "bad".into());
        let json = serde_json::to_value(shared.snapshot()).unwrap_or_default();
        let r = &json["resources"][0];
        assert_eq!(r["kind"], "StateMachine");
        assert_eq!(r["status"], "Invalid");
        assert_eq!(r["lastReconcileTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(r["lastResult"], "failed");
        assert_eq!(r["failures"], 2);
        assert_eq!(json["ready"], false);
    }

    #[test]
    fn status_says_how_long_a_full_resync_takes_under_its_share() {
        let shared = Shared::default();
        shared.set_resync_settings(Duration::from_secs(300), Some(0.5));
        let calls = [
            ("states", "DescribeStateMachine", 1001),
            ("tagging", "GetResources", 11),
        ]
        .map(|(service, operation, calls)| crate::report::Paced {
            service: service.into(),
            operation: operation.into(),
            calls,
            waited_seconds: 0.0,
            throttled: 0,
        });
        shared.record_full_pass(92.25, SystemTime::UNIX_EPOCH, &calls);
        let json = serde_json::to_value(shared.snapshot()).unwrap_or_default();
        let r = &json["resync"];
        assert_eq!(r["intervalSeconds"], 300.0);
        assert_eq!(r["quotaShare"], 0.5);
        assert_eq!(r["lastFullPassSeconds"], 92.25);
        assert_eq!(r["lastFullPassTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(r["fullPasses"], 1);
        // DescribeStateMachine at half its quota (100, then 10/s): (1001 - 100) / 10.
        assert_eq!(r["quotaFloorSeconds"], 90.1);
    }
}
