//! Pure: one alias of a state machine (SPEC §9) — from the live routing, the rollout's progress
//! (kept on the live side, in a tag of the machine), the version that holds the manifest's
//! configuration, the states of the rollout's alarms and the clock, what to write next and when the
//! next step is due. A rollout is plan data, not a loop: the caller writes what this returns and
//! schedules the next pass at [`AliasPlan::requeue_after`].
//!
//! Order of writes: the progress tag first, then the routing. A process killed between the two
//! leaves a tag whose routing is not live; the next pass writes the routing and restarts that
//! step's bake time from then, so a bake is never skipped (and never restarted when the routing
//! is already live).
//!
//! Must not: call AWS, read a clock (`now` is given), or decide which version to publish.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::desired::{Alias, AliasTarget, Rollout, RolloutStrategy};
pub use crate::live::{AlarmState, Routing};

/// The tag key prefix of a rollout's progress: `sfn-operator.dev/rollout.ALIAS`. The operator's
/// own state, never drift.
pub const TAG_PREFIX: &str = "sfn-operator.dev/rollout.";

/// The tag key holding `alias`'s progress.
pub fn tag_key(alias: &str) -> String {
    format!("{TAG_PREFIX}{alias}")
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Steps in progress toward `to`.
    Progressing,
    /// `to` serves 100 %.
    Promoted,
    /// An alarm fired: `from` serves 100 %, and `to` is not tried again.
    RolledBack,
    /// `rollout abort`: like a roll back, by hand.
    Aborted,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Progressing => "progressing",
            Phase::Promoted => "promoted",
            Phase::RolledBack => "rolledback",
            Phase::Aborted => "aborted",
        }
    }

    fn parse(s: &str) -> Option<Phase> {
        [
            Phase::Progressing,
            Phase::Promoted,
            Phase::RolledBack,
            Phase::Aborted,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// A rollout's progress as the tag holds it: `to=3 from=2 step=1 at=1733390000 phase=progressing`
/// (plus `alarm=NAME` after a roll back). Tag values allow letters, digits, spaces and `_.:/=+-@`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub to: u32,
    pub from: Option<u32>,
    /// 1 for the first shifted step.
    pub step: u32,
    /// When the current step began (Unix seconds).
    pub since: u64,
    pub phase: Phase,
    /// The alarm that rolled it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
}

impl Progress {
    /// The tag value.
    pub fn to_tag(&self) -> String {
        let mut s = format!(
            "to={} step={} at={} phase={}",
            self.to,
            self.step,
            self.since,
            self.phase.as_str()
        );
        if let Some(f) = self.from {
            s.push_str(&format!(" from={f}"));
        }
        if let Some(a) = &self.alarm {
            let clean: String = a
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || "_.:/+-@".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .take(180)
                .collect();
            s.push_str(&format!(" alarm={clean}"));
        }
        s
    }

    /// Reads a tag value; `None` when it is not one this operator wrote.
    pub fn parse(tag: &str) -> Option<Progress> {
        let mut fields = BTreeMap::new();
        for part in tag.split(' ') {
            let (k, v) = part.split_once('=')?;
            fields.insert(k, v);
        }
        Some(Progress {
            to: fields.get("to")?.parse().ok()?,
            from: fields.get("from").and_then(|f| f.parse().ok()),
            step: fields.get("step")?.parse().ok()?,
            since: fields.get("at")?.parse().ok()?,
            phase: Phase::parse(fields.get("phase")?)?,
            alarm: fields.get("alarm").map(|a| (*a).to_owned()),
        })
    }
}

/// What one alias's pass sees.
#[derive(Debug, Clone)]
pub struct AliasInput<'a> {
    pub alias: &'a Alias,
    /// The live routing; `None` when the alias does not exist.
    pub live: Option<&'a [(u32, u8)]>,
    /// The progress tag, parsed.
    pub progress: Option<&'a Progress>,
    /// The version holding the manifest's configuration (just published or found).
    pub target: u32,
    /// The states of the alarms that exist (an alarm missing here does not exist).
    pub alarms: &'a BTreeMap<String, AlarmState>,
    /// Unix seconds.
    pub now: u64,
}

/// One write to an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasOp {
    Create(Routing),
    Update(Routing),
}

/// A rollout that ended in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Promoted,
    RolledBack,
}

/// How the alias stands, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Progressing,
    /// Rolled back or aborted, with why.
    Degraded(String),
}

/// What to do for one alias.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasPlan {
    /// The progress tag to write first (`None`: leave it).
    pub progress: Option<Progress>,
    /// The routing write, after the tag.
    pub op: Option<AliasOp>,
    /// When the next step is due (seconds from `now`).
    pub requeue_after: Option<u64>,
    pub health: Health,
    pub ended: Option<Ended>,
    /// Why nothing may be written (an alarm that does not exist).
    pub error: Option<String>,
    /// The report's view of it.
    pub view: RolloutView,
}

/// One rollout as the report, `/status` and `rollout status` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    pub alias: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    pub to: u32,
    /// Version → weight, after this pass's writes.
    pub weights: BTreeMap<u32, u8>,
    pub phase: Phase,
    pub step: u32,
    /// When the next step is due (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step_at: Option<u64>,
    pub alarms: BTreeMap<String, Option<AlarmState>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What this pass did to the rollout, once its writes succeeded (for notifications; not part
    /// of the JSON).
    #[serde(skip)]
    pub moved: Option<Moved>,
}

/// A rollout's turn that a pass carried out: what `--notify` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Its first step was written (a new rollout, or `rollout retry`).
    Started,
    Promoted,
    RolledBack,
}

impl AliasPlan {
    /// What carrying out this plan does to the rollout: it ends it, or it writes a first step.
    pub fn moves(&self) -> Option<Moved> {
        match self.ended {
            Some(Ended::Promoted) => Some(Moved::Promoted),
            Some(Ended::RolledBack) => Some(Moved::RolledBack),
            None => self
                .progress
                .as_ref()
                .filter(|p| p.phase == Phase::Progressing && p.step == 1)
                .map(|_| Moved::Started),
        }
    }
}

/// Whether the live routing is still split between the rollout's two versions. A progress tag
/// that says the rollout ended while the traffic is still split was written by `rollout
/// promote|abort` or by a process killed before it moved the traffic: the pass that moves it ends
/// the rollout (counted and notified then). A routing changed by hand after the end is drift, not
/// a second end.
fn mid_rollout(live: &[(u32, u8)], p: &Progress) -> bool {
    let serves = |v: u32| live.iter().any(|(n, w)| *n == v && *w > 0);
    p.from.is_some_and(|f| f != p.to && serves(f)) && serves(p.to)
}

/// The weight of the new version at `step` (from 1).
fn step_weight(r: &Rollout, step: u32) -> u8 {
    match r.strategy {
        RolloutStrategy::AllAtOnce => 100,
        RolloutStrategy::Canary => r.percent,
        RolloutStrategy::Linear => (u32::from(r.percent) * step).min(100) as u8,
    }
}

/// The routing of `to` at `weight`, the rest on `from`.
fn split(to: u32, from: Option<u32>, weight: u8) -> Routing {
    match from {
        Some(f) if weight < 100 && f != to => vec![(to, weight), (f, 100 - weight)],
        _ => vec![(to, 100)],
    }
}

/// The version serving the most traffic (the higher number on a tie).
pub fn primary(routing: &[(u32, u8)]) -> Option<u32> {
    routing.iter().max_by_key(|(v, w)| (*w, *v)).map(|(v, _)| *v)
}

fn same_routing(a: &[(u32, u8)], b: &[(u32, u8)]) -> bool {
    let norm = |r: &[(u32, u8)]| -> BTreeMap<u32, u8> { r.iter().filter(|(_, w)| *w > 0).copied().collect() };
    norm(a) == norm(b)
}

/// Plans one alias.
pub fn plan_alias(input: &AliasInput<'_>) -> AliasPlan {
    match &input.alias.target {
        AliasTarget::Routing(fixed) => plan_fixed(input, fixed),
        AliasTarget::Rollout(rollout) => {
            let mut plan = plan_rollout(input, rollout);
            if !rollout.alarms.is_empty() && plan.health == Health::Progressing {
                plan.requeue_after = plan.requeue_after.map(|r| r.min(ALARM_POLL_SECS));
            }
            plan
        }
    }
}

fn plan_fixed(input: &AliasInput<'_>, fixed: &[(u32, u8)]) -> AliasPlan {
    let op = match input.live {
        None => Some(AliasOp::Create(fixed.to_vec())),
        Some(live) if !same_routing(live, fixed) => Some(AliasOp::Update(fixed.to_vec())),
        Some(_) => None,
    };
    let to = primary(fixed).unwrap_or(input.target);
    finish(
        input,
        None,
        None,
        op,
        fixed.to_vec(),
        Health::Healthy,
        (to, None, Phase::Promoted, 0),
    )
}

fn plan_rollout(input: &AliasInput<'_>, rollout: &Rollout) -> AliasPlan {
    let d = input.target;
    let Some(live) = input.live else {
        // Nothing served before: the first version goes live at once.
        let p = promoted(d, None, input.now);
        return finish(
            input,
            Some(p.clone()),
            None,
            Some(AliasOp::Create(vec![(d, 100)])),
            vec![(d, 100)],
            Health::Healthy,
            view_of(&p),
        );
    };
    match input.progress {
        Some(p) if p.to == d => continue_rollout(input, rollout, live, p),
        other => start_rollout(input, rollout, live, other),
    }
}

/// A new target: start its rollout from the version the alias served.
fn start_rollout(
    input: &AliasInput<'_>,
    rollout: &Rollout,
    live: &[(u32, u8)],
    previous: Option<&Progress>,
) -> AliasPlan {
    let d = input.target;
    let from = match previous {
        Some(p) if p.phase == Phase::Progressing => p.from.or_else(|| primary(live)),
        _ => primary(live),
    };
    let from = from.filter(|f| *f != d);
    if from.is_none() || rollout.strategy == RolloutStrategy::AllAtOnce {
        let p = promoted(d, from, input.now);
        let routing = vec![(d, 100)];
        let op = (!same_routing(live, &routing)).then(|| AliasOp::Update(routing.clone()));
        let ended = (from.is_some()).then_some(Ended::Promoted);
        return finish(
            input,
            Some(p.clone()),
            ended,
            op,
            routing,
            Health::Healthy,
            view_of(&p),
        );
    }
    let p = Progress {
        to: d,
        from,
        step: 1,
        since: input.now,
        phase: Phase::Progressing,
        alarm: None,
    };
    let routing = split(d, from, step_weight(rollout, 1));
    step_plan(input, rollout, p, routing)
}

/// The rollout toward the target is known: hold, correct, roll back or advance it.
fn continue_rollout(
    input: &AliasInput<'_>,
    rollout: &Rollout,
    live: &[(u32, u8)],
    p: &Progress,
) -> AliasPlan {
    match p.phase {
        Phase::Promoted => {
            let routing = vec![(p.to, 100)];
            let op = (!same_routing(live, &routing)).then(|| AliasOp::Update(routing.clone()));
            let ended = (op.is_some() && mid_rollout(live, p)).then_some(Ended::Promoted);
            finish(input, None, ended, op, routing, Health::Healthy, view_of(p))
        }
        Phase::RolledBack | Phase::Aborted => {
            let routing = split(p.from.unwrap_or(p.to), None, 100);
            let op = (!same_routing(live, &routing)).then(|| AliasOp::Update(routing.clone()));
            let ended = (op.is_some() && mid_rollout(live, p)).then_some(Ended::RolledBack);
            let why = held_message(p);
            let mut plan = finish(
                input,
                None,
                ended,
                op,
                routing,
                Health::Degraded(why.clone()),
                view_of(p),
            );
            plan.view.message = Some(why);
            plan
        }
        Phase::Progressing => progressing(input, rollout, live, p),
    }
}

fn progressing(input: &AliasInput<'_>, rollout: &Rollout, live: &[(u32, u8)], p: &Progress) -> AliasPlan {
    let missing: Vec<&str> = rollout
        .alarms
        .iter()
        .filter(|a| !input.alarms.contains_key(*a))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "rollout of alias {:?}: CloudWatch alarm {} does not exist; the rollout holds at step {}",
            input.alias.name,
            missing
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            p.step
        );
        let mut plan = finish(
            input,
            None,
            None,
            None,
            live.to_vec(),
            Health::Progressing,
            view_of(p),
        );
        plan.error = Some(why.clone());
        plan.view.message = Some(why);
        return plan;
    }
    if let Some(alarm) = rollout
        .alarms
        .iter()
        .find(|a| input.alarms.get(*a) == Some(&AlarmState::Alarm))
    {
        let back = Progress {
            phase: Phase::RolledBack,
            alarm: Some(alarm.clone()),
            ..p.clone()
        };
        let routing = vec![(p.from.unwrap_or(p.to), 100)];
        let why = held_message(&back);
        let head = view_of(&back);
        let op = Some(AliasOp::Update(routing.clone()));
        let mut plan = finish(
            input,
            Some(back),
            Some(Ended::RolledBack),
            op,
            routing,
            Health::Degraded(why.clone()),
            head,
        );
        plan.view.message = Some(why);
        return plan;
    }
    let expected = split(p.to, p.from, step_weight(rollout, p.step));
    if !same_routing(live, &expected) {
        // The tag was written but the routing was not (or drifted): move the traffic now and bake
        // from now.
        return step_plan(
            input,
            rollout,
            Progress {
                since: input.now,
                ..p.clone()
            },
            expected,
        );
    }
    let due = p.since.saturating_add(rollout.interval_secs);
    if input.now < due {
        let mut plan = finish(input, None, None, None, expected, Health::Progressing, view_of(p));
        plan.requeue_after = Some(due - input.now);
        plan.view.next_step_at = Some(due);
        return plan;
    }
    let next = p.step + 1;
    let weight = match rollout.strategy {
        RolloutStrategy::Linear => step_weight(rollout, next),
        _ => 100,
    };
    if weight >= 100 {
        let done = promoted(p.to, p.from, input.now);
        let routing = vec![(p.to, 100)];
        return finish(
            input,
            Some(done.clone()),
            Some(Ended::Promoted),
            Some(AliasOp::Update(routing.clone())),
            routing,
            Health::Healthy,
            view_of(&done),
        );
    }
    let p = Progress {
        step: next,
        since: input.now,
        ..p.clone()
    };
    let routing = split(p.to, p.from, weight);
    step_plan(input, rollout, p, routing)
}

/// Writes `p` and `routing`, then waits one interval.
fn step_plan(input: &AliasInput<'_>, rollout: &Rollout, p: Progress, routing: Routing) -> AliasPlan {
    let mut plan = finish(
        input,
        Some(p.clone()),
        None,
        Some(AliasOp::Update(routing.clone())),
        routing,
        Health::Progressing,
        view_of(&p),
    );
    plan.requeue_after = Some(rollout.interval_secs);
    plan.view.next_step_at = Some(input.now + rollout.interval_secs);
    plan
}

fn promoted(to: u32, from: Option<u32>, now: u64) -> Progress {
    Progress {
        to,
        from,
        step: 0,
        since: now,
        phase: Phase::Promoted,
        alarm: None,
    }
}

/// The message of a held (rolled back or aborted) rollout: the alarm and the step.
fn held_message(p: &Progress) -> String {
    let back_to = p
        .from
        .map(|f| format!("version {f}"))
        .unwrap_or_else(|| "the previous version".into());
    match (&p.phase, &p.alarm) {
        (Phase::Aborted, _) => format!(
            "rollout to version {} aborted at step {}; {back_to} serves 100 %; not retried until the manifest changes or `rollout retry`",
            p.to, p.step
        ),
        (_, alarm) => format!(
            "rolled back at step {} by alarm {:?} in ALARM; {back_to} serves 100 %; version {} is not retried until the manifest changes or `rollout retry`",
            p.step,
            alarm.as_deref().unwrap_or("?"),
            p.to
        ),
    }
}

/// (to, from, phase, step) for a view.
type ViewHead = (u32, Option<u32>, Phase, u32);

fn view_of(p: &Progress) -> ViewHead {
    (p.to, p.from, p.phase, p.step)
}

fn finish(
    input: &AliasInput<'_>,
    progress: Option<Progress>,
    ended: Option<Ended>,
    op: Option<AliasOp>,
    routing: Routing,
    health: Health,
    head: ViewHead,
) -> AliasPlan {
    let alarms = match &input.alias.target {
        AliasTarget::Rollout(r) => r
            .alarms
            .iter()
            .map(|a| (a.clone(), input.alarms.get(a).copied()))
            .collect(),
        AliasTarget::Routing(_) => BTreeMap::new(),
    };
    let (to, from, phase, step) = head;
    // A progress tag equal to the live one is not written again.
    let progress = progress.filter(|p| input.progress != Some(p));
    AliasPlan {
        progress,
        op,
        requeue_after: None,
        health,
        ended,
        error: None,
        view: RolloutView {
            alias: input.alias.name.clone(),
            from,
            to,
            weights: routing.iter().filter(|(_, w)| *w > 0).copied().collect(),
            phase,
            step,
            next_step_at: None,
            alarms,
            message: None,
            moved: None,
        },
    }
}

/// The versions retention must keep: every version an alias routes to and every `to`/`from` of
/// a rollout's progress (a roll back returns to `from`).
pub fn protected_versions<'a>(
    routings: impl IntoIterator<Item = &'a [(u32, u8)]>,
    progress: impl IntoIterator<Item = &'a Progress>,
) -> std::collections::BTreeSet<u32> {
    let mut keep: std::collections::BTreeSet<u32> = routings.into_iter().flatten().map(|(v, _)| *v).collect();
    for p in progress {
        keep.insert(p.to);
        keep.extend(p.from);
    }
    keep
}

/// The versions to delete: all but the `retention` newest of those not protected.
pub fn retention_deletes(
    versions: &[u32],
    protected: &std::collections::BTreeSet<u32>,
    retention: Option<u32>,
) -> Vec<u32> {
    let Some(keep) = retention else { return Vec::new() };
    let mut free: Vec<u32> = versions
        .iter()
        .copied()
        .filter(|v| !protected.contains(v))
        .collect();
    free.sort_unstable_by(|a, b| b.cmp(a));
    free.into_iter().skip(keep as usize).collect()
}

/// The description written on each published version: the manifest's `versionDescription`, else
/// `sfn-operator <fingerprint>` of the versioned fields, so a version says which configuration it
/// holds.
pub fn version_description(sm: &crate::desired::StateMachine) -> String {
    if let Some(d) = &sm.versioning.version_description {
        return d.clone();
    }
    let mut config = serde_json::json!({
        "type": sm.machine_type.as_str(),
        "roleArn": sm.role_arn,
        "definition": sm.definition,
        "loggingConfiguration": sm.logging,
        "tracingConfiguration": sm.tracing_enabled,
    });
    // Only when set, so the descriptions of machines without it stay as they were.
    if let Some(e) = &sm.encryption {
        config["encryptionConfiguration"] = serde_json::json!(e.normalized());
    }
    format!("sfn-operator {}", super::fingerprint(&config))
}

/// The highest version number the alias routings and the progress tags name (0 for none): where
/// a search for the newest version starts.
pub fn known_newest<'a>(
    routings: impl IntoIterator<Item = &'a [(u32, u8)]>,
    progress: impl IntoIterator<Item = &'a Progress>,
) -> u32 {
    protected_versions(routings, progress)
        .into_iter()
        .max()
        .unwrap_or(0)
}

/// The requeue of a progressing rollout with alarms: its alarms are read again at least this often
/// (seconds), so a roll back does not wait for the end of a long bake.
pub const ALARM_POLL_SECS: u64 = 5;

#[cfg(test)]
mod tests;
