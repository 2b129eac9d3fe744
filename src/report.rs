//! The report of SPEC §3: one entry per resource and a summary, as JSON (`-o json`) or as text
//! for people. The JSON shape is a contract that users' scripts rely on.

use serde::{Deserialize, Serialize};

use crate::desired::{Kind, ResourceKey};
pub use crate::plan::{Action, Change};

mod markdown;
pub use markdown::{MARKER as MARKDOWN_MARKER, StateChange, state_changes};

/// Where a resource stands after the pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Synced,
    Pending,
    Failed,
    Skipped,
    Invalid,
    /// A rollout is under way (SPEC §9); nothing failed.
    Progressing,
    /// A rollout was rolled back (or aborted): the previous version serves, `message` says why.
    Degraded,
    /// The live resource differs from its manifest and `driftPolicy: Report` left it as it is.
    Drifted,
    /// The manifest carries `sfn-operator.dev/suspend: "true"`: not read, written or pruned.
    Suspended,
}

/// How a resource is doing, beside its status (SPEC §12; Argo CD's health). Derived from the
/// outcome in one place, [`Health::of`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    /// In sync, or drifted and left so on purpose: it works as its manifest (or its owner) wants.
    #[default]
    Healthy,
    /// Work under way: queued, retrying, waiting for a dependency (or, later, a rollout).
    Progressing,
    /// Failed, or its manifest is invalid.
    Degraded,
    /// Suspended by its annotation.
    Suspended,
    /// The live resource does not exist: not created yet (a diff), or gone and not re-creatable
    /// (an integration's REST API referenced by `{id}` that no longer exists).
    Missing,
}

impl Health {
    /// The health of a resource from its outcome. The one mapping: a new outcome (a rollout's
    /// steps, say) adds its arm here.
    pub fn of(status: Status, action: Action, message: Option<&str>) -> Health {
        match status {
            Status::Synced | Status::Drifted => Health::Healthy,
            Status::Suspended => Health::Suspended,
            Status::Pending if action == Action::Create => Health::Missing,
            Status::Pending | Status::Skipped => Health::Progressing,
            Status::Failed if message.is_some_and(|m| m.contains("NotFoundException")) => Health::Missing,
            Status::Progressing => Health::Progressing,
            Status::Failed | Status::Invalid | Status::Degraded => Health::Degraded,
        }
    }
}

/// One resource's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceReport {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    pub status: Status,
    /// [`Health::of`] its outcome; set when the report is built ([`Report::new`]).
    #[serde(default)]
    pub health: Health,
    pub changes: Vec<Change>,
    /// ARN or API id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The error, when any (with the AWS error code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A versioned state machine's aliases and their rollouts (SPEC §9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<crate::plan::rollout::RolloutView>,
    /// When a rollout's next step is due (seconds from the pass): when the daemon or
    /// `reconcile --wait` comes back. Not part of the JSON.
    #[serde(skip)]
    pub requeue_after: Option<u64>,
}

impl ResourceReport {
    /// A report of `key` with `status`: no action, no change, no id, no message (yet).
    pub fn new(key: ResourceKey, status: Status) -> Self {
        ResourceReport {
            kind: key.kind,
            name: key.name,
            action: Action::Noop,
            status,
            health: Health::of(status, Action::Noop, None),
            changes: Vec::new(),
            id: None,
            message: None,
            rollouts: Vec::new(),
            requeue_after: None,
        }
    }

    /// Sets [`ResourceReport::health`] from the outcome as it now stands.
    pub fn refresh_health(&mut self) {
        self.health = Health::of(self.status, self.action, self.message.as_deref());
    }

    /// The same report with `message`.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// Counts by action of the resources that reconciled (or, in `diff`, would), plus those that
/// failed (or are invalid) and those skipped: a failed or skipped resource is counted there only,
/// never as "unchanged".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub noop: usize,
    pub failed: usize,
    #[serde(default)]
    pub skipped: usize,
    /// Resources whose drift was found and left in place (`driftPolicy: Report`); in the JSON
    /// only when there are any, so reports without the controls keep their shape.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub drifted: usize,
    /// Resources suspended by their annotation (not read, written or pruned); in the JSON only
    /// when there are any.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suspended: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub resources: Vec<ResourceReport>,
    pub summary: Summary,
    /// Set when `--prune` was asked for but pruning was held back, saying why (SPEC §5): a `PATH`
    /// held no manifest at all (without `--allow-empty`), or a manifest failed to load. Nothing
    /// was deleted; `reconcile --once --prune` exits 1.
    #[serde(rename = "pruneHeldBack", default, skip_serializing_if = "Option::is_none")]
    pub prune_held_back: Option<String>,
    /// The operations AWS's quotas slowed down in this pass: those that waited at least a second
    /// in all for client-side rate-limit tokens, or that AWS throttled (and were retried). Pacing,
    /// not failure: a create pass of 1,000 machines waits ~15 minutes for `CreateStateMachine`'s
    /// quota (100, then 1 a second), whatever the tool.
    #[serde(rename = "rateLimited", default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limited: Vec<Paced>,
    /// Every operation the pass called, notable or not (for the daemon's resync figures; not
    /// part of the report's JSON).
    #[serde(skip)]
    pub calls: Vec<Paced>,
}

/// One operation's pacing in a pass (see [`Report::rate_limited`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paced {
    /// `states`, `apigateway`, `tagging` or `sts`.
    pub service: String,
    pub operation: String,
    /// Calls made (throttled attempts included).
    pub calls: u64,
    /// Seconds spent waiting for client-side rate-limit tokens, summed over the calls.
    pub waited_seconds: f64,
    /// Calls AWS answered with a throttling error.
    pub throttled: u64,
}

impl Paced {
    /// Whether this is worth saying in a report: a second of waiting, or any throttling.
    pub fn notable(&self) -> bool {
        self.waited_seconds >= 1.0 || self.throttled > 0
    }
}

impl Report {
    /// Builds a report and its summary from resource entries, each with its health.
    pub fn new(mut resources: Vec<ResourceReport>) -> Self {
        let mut summary = Summary::default();
        resources.iter_mut().for_each(ResourceReport::refresh_health);
        for r in &resources {
            match (r.status, r.action) {
                (Status::Failed | Status::Invalid, _) => summary.failed += 1,
                (Status::Skipped, _) => summary.skipped += 1,
                (Status::Drifted, _) => summary.drifted += 1,
                (Status::Suspended, _) => summary.suspended += 1,
                (_, Action::Create) => summary.create += 1,
                (_, Action::Update) => summary.update += 1,
                (_, Action::Delete) => summary.delete += 1,
                (_, Action::Noop) => summary.noop += 1,
            }
        }
        Report {
            resources,
            summary,
            prune_held_back: None,
            rate_limited: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// The same report, with the operations AWS's quotas slowed down ([`Paced::notable`]).
    #[must_use]
    pub fn with_pacing(mut self, pacing: Vec<Paced>) -> Self {
        self.rate_limited = pacing.iter().filter(|p| p.notable()).cloned().collect();
        self.calls = pacing;
        self
    }

    /// The same report, saying that pruning was held back and why.
    #[must_use]
    pub fn with_prune_held_back(mut self, reason: Option<String>) -> Self {
        self.prune_held_back = reason;
        self
    }
}

impl Report {
    /// The text form for people: one line per resource (`~ StateMachine/x update Pending`), its
    /// message if any, its changed paths with before → after, then the summary.
    pub fn to_text(&self) -> String {
        self.to_text_coloured(false)
    }

    /// [`Report::to_text`], its resource lines coloured when `colour` is on: `+` green, `~`
    /// yellow, `-` red, a failed resource red whatever its action.
    pub fn to_text_coloured(&self, colour: bool) -> String {
        use crate::colour::{Colour, paint};
        use std::fmt::Write as _;
        let mut s = String::new();
        for r in &self.resources {
            let sign = match r.action {
                Action::Create => '+',
                Action::Update => '~',
                Action::Delete => '-',
                Action::Noop => '=',
            };
            let action = serde_json::to_value(r.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            // Health only where the status does not already say it.
            let health = if r.health == Health::Missing {
                " (Missing)"
            } else {
                ""
            };
            let line = format!("{sign} {}/{} {action} {:?}{health}", r.kind, r.name, r.status);
            let painted = match (r.status, r.action) {
                (Status::Failed, _) | (_, Action::Delete) => paint(&line, Colour::Red, colour),
                (_, Action::Create) => paint(&line, Colour::Green, colour),
                (_, Action::Update) => paint(&line, Colour::Yellow, colour),
                (Status::Drifted, _) => paint(&line, Colour::Yellow, colour),
                (_, Action::Noop) => line,
            };
            let _ = writeln!(s, "{painted}");
            if let Some(m) = &r.message {
                let _ = writeln!(s, "    ! {m}");
            }
            for c in &r.changes {
                let _ = writeln!(
                    s,
                    "    {}: {} → {}",
                    c.path,
                    compact(&c.before),
                    compact(&c.after)
                );
            }
            for v in &r.rollouts {
                let _ = writeln!(s, "    {}", rollout_line(v));
            }
        }
        if let Some(why) = &self.prune_held_back {
            let _ = writeln!(s, "! prune held back: {why}");
        }
        for p in &self.rate_limited {
            let quota = crate::aws::ratelimit::quotas_of(&p.service, &p.operation)
                .first()
                .map(|q| {
                    format!(
                        " (AWS's default quota: {}, then {}/s)",
                        q.capacity, q.refill_per_sec
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "~ paced by AWS quotas: {}:{} {} calls waited {:.1} s for rate-limit tokens, {} throttled and retried{quota}",
                p.service, p.operation, p.calls, p.waited_seconds, p.throttled
            );
        }
        let m = &self.summary;
        let mut drifted = String::new();
        if m.drifted > 0 {
            let _ = write!(drifted, ", {} drifted (left as they are)", m.drifted);
        }
        if m.suspended > 0 {
            let _ = write!(drifted, ", {} suspended", m.suspended);
        }
        let _ = writeln!(
            s,
            "{} to create, {} to update, {} to delete, {} unchanged, {} failed, {} skipped{drifted}",
            m.create, m.update, m.delete, m.noop, m.failed, m.skipped
        );
        s
    }
}

/// What a rollout moves: `alias live`, or a stage's canary (`stage prod`, `stage prod with alias
/// live`), whose view names itself.
pub fn rollout_label(v: &crate::plan::rollout::RolloutView) -> String {
    if v.alias.starts_with("stage ") {
        v.alias.clone()
    } else {
        format!("alias {}", v.alias)
    }
}

/// One rollout for people: `alias live: 1 → 2, weights 2=10% 1=90%, Progressing step 1, next
/// step in 42 s, alarms errors=OK`.
pub fn rollout_line(v: &crate::plan::rollout::RolloutView) -> String {
    let weights: Vec<String> = v
        .weights
        .iter()
        .rev()
        .map(|(ver, w)| format!("{ver}={w}%"))
        .collect();
    let from = v.from.map(|f| format!("{f} → ")).unwrap_or_default();
    let mut line = format!(
        "{}: {from}{}, weights {}, {:?} step {}",
        rollout_label(v),
        v.to,
        weights.join(" "),
        v.phase,
        v.step
    );
    if let Some(at) = v.next_step_at {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        line.push_str(&format!(", next step in {} s", at.saturating_sub(now)));
    }
    if !v.alarms.is_empty() {
        let alarms: Vec<String> = v
            .alarms
            .iter()
            .map(|(n, st)| match st {
                Some(st) => format!(
                    "{n}={}",
                    serde_json::to_value(st)
                        .ok()
                        .and_then(|x| x.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
                None => format!("{n}=MISSING"),
            })
            .collect();
        line.push_str(&format!(", alarms {}", alarms.join(" ")));
    }
    line
}

fn compact(v: &serde_json::Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_names_each_path() {
        let r = Report::new(vec![ResourceReport {
            kind: Kind::StateMachine,
            name: "parallel-processing".into(),
            action: Action::Update,
            status: Status::Pending,
            health: Health::Progressing,
            changes: vec![Change {
                path: "roleArn".into(),
                before: "a".into(),
                after: "b".into(),
            }],
            id: None,
            message: None,
            rollouts: Vec::new(),
            requeue_after: None,
        }]);
        let t = r.to_text();
        assert!(
            t.starts_with("~ StateMachine/parallel-processing update Pending\n    roleArn: \"a\" → \"b\"\n"),
            "{t}"
        );
        assert!(t.contains("1 to update"));
    }

    #[test]
    fn plan_lines_are_coloured_by_sign_and_failures_red_only_when_asked() {
        let entry = |name: &str, action, status| ResourceReport {
            action,
            ..ResourceReport::new(ResourceKey::new(Kind::StateMachine, name), status)
        };
        let r = Report::new(vec![
            entry("a", Action::Create, Status::Pending),
            entry("b", Action::Update, Status::Pending),
            entry("c", Action::Delete, Status::Pending),
            entry("d", Action::Update, Status::Failed),
            entry("e", Action::Noop, Status::Synced),
        ]);
        let t = r.to_text_coloured(true);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "\x1b[32m+ StateMachine/a create Pending (Missing)\x1b[0m"
        );
        assert_eq!(lines[1], "\x1b[33m~ StateMachine/b update Pending\x1b[0m");
        assert_eq!(lines[2], "\x1b[31m- StateMachine/c delete Pending\x1b[0m");
        assert_eq!(lines[3], "\x1b[31m~ StateMachine/d update Failed\x1b[0m");
        assert_eq!(lines[4], "= StateMachine/e noop Synced");
        assert!(!r.to_text().contains('\x1b'));
        assert_eq!(r.to_text_coloured(false), r.to_text());
    }

    #[test]
    fn failed_and_skipped_are_never_counted_as_unchanged() {
        let entry = |name: &str, action, status| ResourceReport {
            action,
            ..ResourceReport::new(ResourceKey::new(Kind::StateMachine, name), status)
        };
        let r = Report::new(vec![
            entry("a", Action::Noop, Status::Synced),
            entry("b", Action::Update, Status::Failed),
            entry("c", Action::Noop, Status::Skipped),
            entry("d", Action::Noop, Status::Invalid),
            entry("e", Action::Create, Status::Pending),
        ]);
        assert_eq!(
            r.summary,
            Summary {
                create: 1,
                update: 0,
                delete: 0,
                noop: 1,
                failed: 2,
                skipped: 1,
                drifted: 0,
                suspended: 0
            }
        );
        assert!(
            r.to_text()
                .ends_with("1 to create, 0 to update, 0 to delete, 1 unchanged, 2 failed, 1 skipped\n")
        );
    }

    #[test]
    fn pacing_lists_only_what_waited_a_second_or_was_throttled() {
        let paced = |operation: &str, waited_seconds, throttled| Paced {
            service: "states".into(),
            operation: operation.into(),
            calls: 1001,
            waited_seconds,
            throttled,
        };
        let r = Report::new(vec![]).with_pacing(vec![
            paced("CreateStateMachine", 900.3, 0),
            paced("DescribeStateMachine", 0.2, 0),
            paced("TagResource", 0.0, 2),
        ]);
        let ops: Vec<&str> = r.rate_limited.iter().map(|p| p.operation.as_str()).collect();
        assert_eq!(ops, ["CreateStateMachine", "TagResource"]);
        assert_eq!(r.calls.len(), 3, "every call is kept for the daemon's figures");
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["rateLimited"][0]["waitedSeconds"], 900.3);
        assert!(json.get("calls").is_none());
        let text = r.to_text();
        assert!(
            text.contains(
                "~ paced by AWS quotas: states:CreateStateMachine 1001 calls waited 900.3 s for rate-limit \
                 tokens, 0 throttled and retried (AWS's default quota: 100, then 1/s)"
            ),
            "{text}"
        );
        assert!(
            serde_json::to_value(Report::new(vec![]))
                .unwrap_or_default()
                .get("rateLimited")
                .is_none()
        );
    }
}
