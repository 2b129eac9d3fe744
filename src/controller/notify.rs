//! Notifications (SPEC §12): the events a pass's outcomes make (pure: [`events_of`]), and their
//! delivery to each `--notify` URL, as JSON or as a Slack-compatible `text`, on a bounded queue per
//! URL with retries and backoff (a receiver that hangs holds back nobody else's events). A full
//! queue drops its oldest event; every outcome is counted in `sfn_operator_notifications_total{result}`.
//!
//! Must not: slow a pass ([`Notifier::send`] only pushes), or log or show a URL: a webhook URL
//! holds its secret token, so targets are named by their position (`target = 0`) only.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable as _};
use serde::Serialize;

use crate::plan::rollout::Moved;
use crate::report::{ResourceReport, Status};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A pass found a resource drifted and left it (`driftPolicy: Report`).
    DriftFound,
    /// A pass put back what someone changed out of band.
    DriftCorrected,
    /// A resource's reconcile failed (after succeeding, or for the first time).
    Failed,
    /// A resource that failed reconciled again.
    Recovered,
    /// `--prune` was asked for and held back (SPEC §5).
    PruneHeldBack,
    /// A rollout wrote its first step (SPEC §9).
    RolloutStarted,
    /// A rollout was promoted.
    RolloutPromoted,
    /// A rollout was rolled back.
    RolloutRolledBack,
}

/// One notification: what, about which resource, whose (the instance's owner id), and a
/// one-line summary fit for a chat channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// `Kind/name`, when the event is about one resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The owner id of the instance that sent it.
    pub owner: String,
    pub summary: String,
    /// The changed paths (drift).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The error or the reason, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// RFC 3339 time the event was made.
    pub time: String,
}

impl Event {
    /// An event of `kind` about `resource` (`None`: the whole pass).
    pub fn new(kind: EventKind, resource: Option<String>, owner: &str, summary: String) -> Event {
        Event {
            kind,
            resource,
            owner: owner.to_owned(),
            summary,
            paths: Vec::new(),
            message: None,
            time: super::status::rfc3339(SystemTime::now()),
        }
    }
}

/// The events one resource's outcome makes, given its previous outcome (`None`: the first) and
/// whether the daemon judged it a corrected drift: drift found (again only when its paths
/// changed), drift corrected, failed (on the first failure of a run), recovered.
pub fn events_of(
    r: &ResourceReport,
    prev: Option<&ResourceReport>,
    corrected: bool,
    owner: &str,
) -> Vec<Event> {
    let key = format!("{}/{}", r.kind, r.name);
    let paths: Vec<String> = r.changes.iter().map(|c| c.path.clone()).collect();
    let prev_status = prev.map(|p| p.status);
    let mut out = Vec::new();
    let with_paths = |mut e: Event| {
        e.paths.clone_from(&paths);
        e
    };
    if r.status == Status::Drifted
        && prev
            .is_none_or(|p| p.status != Status::Drifted || p.changes.iter().map(|c| &c.path).ne(paths.iter()))
    {
        let summary = format!(
            "{key} drifted (left in place, driftPolicy: Report): {}",
            paths.join(", ")
        );
        out.push(with_paths(Event::new(
            EventKind::DriftFound,
            Some(key.clone()),
            owner,
            summary,
        )));
    }
    if corrected {
        let summary = format!("{key}: drift corrected: {}", paths.join(", "));
        out.push(with_paths(Event::new(
            EventKind::DriftCorrected,
            Some(key.clone()),
            owner,
            summary,
        )));
    }
    if r.status == Status::Failed && prev_status != Some(Status::Failed) {
        let message = r.message.clone().unwrap_or_default();
        let mut e = Event::new(
            EventKind::Failed,
            Some(key.clone()),
            owner,
            format!("{key} failed: {message}"),
        );
        e.message = r.message.clone();
        out.push(e);
    }
    for v in &r.rollouts {
        let Some(moved) = v.moved else { continue };
        let from = v.from.map(|f| format!("{f} → ")).unwrap_or_default();
        let (kind, what) = match moved {
            Moved::Started => (EventKind::RolloutStarted, "rollout started"),
            Moved::Promoted => (EventKind::RolloutPromoted, "rollout promoted"),
            Moved::RolledBack => (EventKind::RolloutRolledBack, "rolled back"),
        };
        let mut summary = format!(
            "{key}: {} {what}: {from}{}",
            crate::report::rollout_label(v),
            v.to
        );
        if let Some(why) = &v.message {
            summary.push_str(&format!(" ({why})"));
        }
        let mut e = Event::new(kind, Some(key.clone()), owner, summary);
        e.message.clone_from(&v.message);
        out.push(e);
    }
    if prev_status == Some(Status::Failed)
        && matches!(r.status, Status::Synced | Status::Drifted | Status::Progressing)
    {
        out.push(Event::new(
            EventKind::Recovered,
            Some(key.clone()),
            owner,
            format!("{key} recovered"),
        ));
    }
    out
}

/// The event of a prune held back.
pub fn prune_held_back(why: &str, owner: &str) -> Event {
    let mut e = Event::new(
        EventKind::PruneHeldBack,
        None,
        owner,
        format!("prune held back: {why}"),
    );
    e.message = Some(why.to_owned());
    e
}

/// How a target wants its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The event as JSON.
    Json,
    /// `{"text": SUMMARY}`, what a Slack incoming webhook takes.
    Slack,
}

/// One `--notify` URL and its format. Its `Debug` never shows the URL.
#[derive(Clone)]
pub struct Target {
    url: reqwest::Url,
    format: Format,
}

impl Target {
    /// A target; `format` `None` picks Slack for `hooks.slack.com`, else JSON.
    pub fn new(url: reqwest::Url, format: Option<Format>) -> Target {
        let format = format.unwrap_or(if url.host_str() == Some("hooks.slack.com") {
            Format::Slack
        } else {
            Format::Json
        });
        Target { url, format }
    }

    fn body(&self, e: &Event) -> serde_json::Value {
        match self.format {
            Format::Json => serde_json::to_value(e).unwrap_or_default(),
            Format::Slack => {
                serde_json::json!({ "text": format!("sfn-operator ({}): {}", e.owner, e.summary) })
            }
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &"<secret>")
            .field("format", &self.format)
            .finish()
    }
}

/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The queues and their delivery tasks; cheap to clone, shared by every pass.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("owner", &self.inner.owner)
            .field("capacity", &self.inner.capacity)
            .field("targets", &self.inner.lanes.len())
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// The owner id the events carry.
    owner: String,
    /// One queue per target: a receiver that hangs or fails holds back its own events only.
    lanes: Vec<Arc<Lane>>,
    capacity: usize,
    /// Deliveries queued or under way, over every target.
    pending: AtomicUsize,
    idle: tokio::sync::Notify,
}

/// One target's queue, emptied in order by its own task.
struct Lane {
    queue: Mutex<VecDeque<Event>>,
    wake: tokio::sync::Notify,
}

impl Notifier {
    /// Starts delivery to `targets`, each on its own queue (with room for `capacity` waiting
    /// events) and its own task, which delivers the events in order; for the instance `owner`.
    /// Needs a tokio runtime.
    pub fn start(targets: Vec<Target>, capacity: usize, owner: &str) -> Notifier {
        let lanes: Vec<Arc<Lane>> = targets
            .iter()
            .map(|_| {
                Arc::new(Lane {
                    queue: Mutex::new(VecDeque::new()),
                    wake: tokio::sync::Notify::new(),
                })
            })
            .collect();
        let inner = Arc::new(Inner {
            owner: owner.to_owned(),
            lanes,
            capacity: capacity.max(1),
            pending: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
        });
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .unwrap_or_default();
        for (i, target) in targets.into_iter().enumerate() {
            tokio::spawn(deliver_loop(Arc::clone(&inner), i, target, client.clone()));
        }
        Notifier { inner }
    }

    /// The owner id the events carry.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// Queues an event for every target; never waits. A full queue drops its oldest event
    /// (counted, per target).
    pub fn send(&self, event: Event) {
        for (i, lane) in self.inner.lanes.iter().enumerate() {
            let mut q = lane
                .queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if q.len() >= self.inner.capacity && q.pop_front().is_some() {
                self.inner.pending.fetch_sub(1, Ordering::SeqCst);
                crate::metrics::global().notification("dropped");
                tracing::warn!(target = i, "notification queue full; dropped the oldest event");
            }
            self.inner.pending.fetch_add(1, Ordering::SeqCst);
            q.push_back(event.clone());
            drop(q);
            lane.wake.notify_one();
        }
    }

    /// Waits until every queued event was delivered or given up, or `within` passed (before the
    /// process exits). Whether the queues emptied.
    pub async fn flush(&self, within: Duration) -> bool {
        let wait = async {
            while self.inner.pending.load(Ordering::SeqCst) > 0 {
                let idle = self.inner.idle.notified();
                if self.inner.pending.load(Ordering::SeqCst) == 0 {
                    break;
                }
                idle.await;
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }
}

/// Delivers target `i`'s events, in order, one at a time.
async fn deliver_loop(inner: Arc<Inner>, i: usize, target: Target, client: reqwest::Client) {
    let lane = Arc::clone(&inner.lanes[i]);
    loop {
        let next = lane
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        let Some(event) = next else {
            lane.wake.notified().await;
            continue;
        };
        let result = match deliver(&client, &target, &event).await {
            Ok(()) => "delivered",
            Err(error) => {
                tracing::warn!(target = i, %error, kind = ?event.kind, "notification not delivered; gave up");
                "failed"
            }
        };
        crate::metrics::global().notification(result);
        if inner.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            inner.idle.notify_waiters();
        }
    }
}

/// Why one delivery failed: the receiver's status, or a transport error (never the URL).
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error("the receiver answered {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(String),
}

impl DeliveryError {
    /// Worth another attempt: transport errors, 5xx and 429.
    fn is_transient(&self) -> bool {
        match self {
            DeliveryError::Status(s) => *s >= 500 || *s == 429,
            DeliveryError::Transport(_) => true,
        }
    }
}

/// Posts one event, retrying transient failures with exponential backoff (200 ms to 5 s, with
/// jitter, 12 retries: about half a minute).
async fn deliver(client: &reqwest::Client, target: &Target, event: &Event) -> Result<(), DeliveryError> {
    let body = target.body(event);
    let body = &body;
    let attempt = || async move {
        let response = client
            .post(target.url.clone())
            .json(body)
            .send()
            .await
            // Without the URL: reqwest's errors name it.
            .map_err(|e| DeliveryError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status(status.as_u16()))
        }
    };
    attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(12)
                .with_jitter(),
        )
        .when(DeliveryError::is_transient)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{Kind, ResourceKey};
    use crate::report::{Action, Change};

    fn rep(status: Status, paths: &[&str]) -> ResourceReport {
        ResourceReport {
            action: Action::Update,
            changes: paths.iter().map(|p| Change::new(*p, 1, 2)).collect(),
            ..ResourceReport::new(ResourceKey::new(Kind::StateMachine, "m"), status)
        }
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn drift_is_told_once_until_its_paths_change() {
        let first = rep(Status::Drifted, &["roleArn"]);
        let e = events_of(&first, None, false, "o");
        assert_eq!(kinds(&e), [EventKind::DriftFound]);
        assert_eq!(e[0].paths, ["roleArn"]);
        assert_eq!(e[0].resource.as_deref(), Some("StateMachine/m"));
        assert!(events_of(&first, Some(&first), false, "o").is_empty());
        let more = rep(Status::Drifted, &["roleArn", "tags.team"]);
        assert_eq!(
            kinds(&events_of(&more, Some(&first), false, "o")),
            [EventKind::DriftFound]
        );
    }

    #[test]
    fn failing_and_recovering_are_told_on_the_edge() {
        let failed = rep(Status::Failed, &[]);
        let synced = rep(Status::Synced, &[]);
        assert_eq!(
            kinds(&events_of(&failed, Some(&synced), false, "o")),
            [EventKind::Failed]
        );
        assert!(events_of(&failed, Some(&failed), false, "o").is_empty());
        assert_eq!(
            kinds(&events_of(&synced, Some(&failed), false, "o")),
            [EventKind::Recovered]
        );
        assert_eq!(
            kinds(&events_of(&synced, Some(&synced), true, "o")),
            [EventKind::DriftCorrected]
        );
    }

    #[test]
    fn slack_targets_get_text_and_the_url_never_shows_in_debug() {
        let url = reqwest::Url::parse("https://hooks.slack.com/services/T000/B000/SECRETTOKEN").unwrap();
        let t = Target::new(url, None);
        assert_eq!(t.format, Format::Slack);
        let e = prune_held_back("a manifest failed to load", "team-a");
        let body = t.body(&e);
        assert_eq!(
            body["text"],
            "sfn-operator (team-a): prune held back: a manifest failed to load"
        );
        assert!(!format!("{t:?}").contains("SECRETTOKEN"));
        let json = Target::new(reqwest::Url::parse("http://127.0.0.1:1/hook").unwrap(), None);
        assert_eq!(json.body(&e)["type"], "prune_held_back");
    }
}
