//! A versioned state machine's versions and aliases (SPEC §9), after its own writes: find (or
//! publish, exactly once) the version holding the manifest's configuration, then for each alias
//! read its routing, plan its step (`plan::rollout`) and carry it out — the progress tag first,
//! then the routing — and last the retention's deletes.
//!
//! Must not: decide a step, a weight or a roll back (`plan::rollout` does), read the clock more
//! than once per machine, or delete a version the plan protects.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::Mode;
use crate::aws::{Aws, AwsError, create_once, delete_idempotent, retry};
use crate::desired::{AliasTarget, StateMachine};
use crate::live::{AlarmState, LiveMachine, Routing};
use crate::plan::machine::config_changes;
use crate::plan::rollout::{
    AliasInput, AliasOp, AliasPlan, Ended, Health, Progress, TAG_PREFIX, known_newest, plan_alias,
    protected_versions, retention_deletes, tag_key, version_description,
};
use crate::plan::{Action, Change};
use crate::report::{ResourceReport, Status};

/// The states of every alarm the pass's rollouts name, read together before the machines; or why
/// they could not be read.
pub(super) type Alarms = Result<BTreeMap<String, AlarmState>, String>;

/// What one versioned machine's aliases need from its reconcile.
pub(super) struct Versioned<'a> {
    pub aws: &'a Aws,
    pub sm: &'a StateMachine,
    pub arn: &'a str,
    /// The machine as read before this pass's writes (`None`: it did not exist).
    pub live: Option<&'a LiveMachine>,
    /// The version this pass's create or update published.
    pub published: Option<u32>,
    /// Whether the machine's plan changes a versioned field (a version is due).
    pub config_changed: bool,
    pub mode: Mode,
    pub deadline: Instant,
    pub alarms: &'a Alarms,
}

/// UpdateStateMachine publishing a version, sent once: a lost answer is followed by a look for the
/// version it may have published before anything is sent again.
pub(super) async fn update_and_publish(
    aws: &Aws,
    arn: &str,
    sm: &StateMachine,
    deadline: Instant,
) -> Result<Option<u32>, AwsError> {
    let description = version_description(sm);
    create_once(
        deadline,
        || aws.update_machine(arn, sm, Some(&description)),
        || async { Ok(holding_version(aws, arn, sm, 0).await?.map(Some)) },
    )
    .await
}

/// The newest version, when it holds `sm`'s configuration.
async fn holding_version(
    aws: &Aws,
    arn: &str,
    sm: &StateMachine,
    hint: u32,
) -> Result<Option<u32>, AwsError> {
    let Some(newest) = aws.newest_version(arn, hint).await? else {
        return Ok(None);
    };
    let version = aws
        .describe_machine(&format!("{arn}:{newest}"), Some(&BTreeMap::new()))
        .await?;
    Ok(version
        .filter(|v| config_changes(sm, v).0.is_empty())
        .map(|_| newest))
}

/// Plans and carries out every alias of the machine, then retention; fills the report's
/// rollouts, status and message.
pub(super) async fn reconcile_aliases(v: &Versioned<'_>, rep: &mut ResourceReport) {
    if let Err(e) = aliases(v, rep).await {
        rep.status = Status::Failed;
        rep.message = Some(e.to_string());
    }
}

async fn aliases(v: &Versioned<'_>, rep: &mut ResourceReport) -> Result<(), AwsError> {
    let tags = v.live.map(|l| l.tags.clone()).unwrap_or_default();
    let progress: BTreeMap<String, Progress> = tags
        .iter()
        .filter_map(|(k, val)| Some((k.strip_prefix(TAG_PREFIX)?.to_owned(), Progress::parse(val)?)))
        .collect();
    let mut routings: BTreeMap<String, Option<Routing>> = BTreeMap::new();
    if v.live.is_some() {
        for a in &v.sm.versioning.aliases {
            let routing = retry(v.deadline, || v.aws.describe_alias(v.arn, &a.name)).await?;
            routings.insert(a.name.clone(), routing);
        }
    }
    let Some(target) = target_version(v, &routings, &progress, rep).await? else {
        return Ok(());
    };
    let now = unix_now();
    let mut plans = Vec::new();
    for a in &v.sm.versioning.aliases {
        let live = routings.get(&a.name).cloned().flatten();
        let empty = BTreeMap::new();
        let (states, read_error) = match v.alarms {
            Ok(s) => (s, None),
            Err(e) => (&empty, Some(e)),
        };
        let plan = plan_alias(&AliasInput {
            alias: a,
            live: live.as_deref(),
            progress: progress.get(&a.name),
            target,
            alarms: states,
            now,
        });
        if let (Some(_), Some(e)) = (&plan.error, read_error) {
            return Err(AwsError::permanent(
                "monitoring",
                "DescribeAlarms",
                "AlarmsUnreadable",
                e.clone(),
            ));
        }
        plans.push((a, live, plan));
    }
    for (a, live, plan) in &plans {
        record_changes(&a.name, live.as_ref(), plan, rep);
        if v.mode == Mode::Apply && plan.error.is_none() {
            carry_out(v, a, plan).await?;
            count_end(v.sm, &a.name, plan);
            if let Some(view) = rep.rollouts.last_mut() {
                view.moved = plan.moves();
            }
        }
    }
    judge(v.mode, &plans.iter().map(|(_, _, p)| p).collect::<Vec<_>>(), rep);
    if v.mode == Mode::Apply {
        retain(v, &plans, &progress).await;
    }
    Ok(())
}

/// The version holding the manifest's configuration: the one this pass published, else the
/// newest if it holds it, else one published now (in `Diff` mode: the next number, pending).
async fn target_version(
    v: &Versioned<'_>,
    routings: &BTreeMap<String, Option<Routing>>,
    progress: &BTreeMap<String, Progress>,
    rep: &mut ResourceReport,
) -> Result<Option<u32>, AwsError> {
    if let Some(n) = v.published {
        return Ok(Some(n));
    }
    let Some(live) = v.live else {
        // Diff of a machine to create: its first version, and its aliases, come with it.
        return Ok(Some(1));
    };
    let hint = known_newest(routings.values().flatten().map(Vec::as_slice), progress.values());
    if v.config_changed {
        // Diff mode: the update would publish the next version.
        let newest = retry(v.deadline, || v.aws.newest_version(v.arn, hint)).await?;
        return Ok(Some(newest.unwrap_or(0) + 1));
    }
    if let Some(n) = retry(v.deadline, || holding_version(v.aws, v.arn, v.sm, hint)).await? {
        return Ok(Some(n));
    }
    if v.mode == Mode::Diff {
        rep.changes.push(Change::new(
            "versions.published",
            serde_json::Value::Null,
            "a version of the live configuration",
        ));
        rep.action = Action::Update;
        rep.status = Status::Pending;
        let newest = retry(v.deadline, || v.aws.newest_version(v.arn, hint)).await?;
        return Ok(Some(newest.unwrap_or(0) + 1));
    }
    let description = version_description(v.sm);
    let n = retry(v.deadline, || {
        v.aws
            .publish_version(v.arn, live.revision_id.as_deref(), &description)
    })
    .await?;
    rep.changes
        .push(Change::new("versions.published", serde_json::Value::Null, n));
    rep.action = Action::Update;
    Ok(Some(n))
}

/// The alias writes, shown as changes of `aliases.NAME.routing` (and `.rollout` for the tag).
fn record_changes(alias: &str, live: Option<&Routing>, plan: &AliasPlan, rep: &mut ResourceReport) {
    let as_json = |r: &Routing| -> serde_json::Value {
        r.iter()
            .map(|(v, w)| (v.to_string(), serde_json::Value::from(*w)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    if let Some(AliasOp::Create(r) | AliasOp::Update(r)) = &plan.op {
        let before = live.map(as_json).unwrap_or(serde_json::Value::Null);
        rep.changes.push(Change::new(
            format!("aliases.{alias}.routing"),
            before,
            as_json(r),
        ));
        if rep.action == Action::Noop {
            rep.action = Action::Update;
        }
    }
    rep.rollouts.push(plan.view.clone());
}

/// The progress tag first, then the routing.
async fn carry_out(v: &Versioned<'_>, a: &crate::desired::Alias, plan: &AliasPlan) -> Result<(), AwsError> {
    if let Some(p) = &plan.progress {
        let tag = BTreeMap::from([(tag_key(&a.name), p.to_tag())]);
        retry(v.deadline, || v.aws.tag_machine(v.arn, &tag)).await?;
    }
    let description = a.description.as_deref();
    match &plan.op {
        None => {}
        Some(AliasOp::Update(r)) => {
            retry(v.deadline, || v.aws.update_alias(v.arn, &a.name, description, r)).await?
        }
        Some(AliasOp::Create(r)) => {
            create_once(
                v.deadline,
                || v.aws.create_alias(v.arn, &a.name, description, r),
                || async { Ok(v.aws.describe_alias(v.arn, &a.name).await?.map(|_| ())) },
            )
            .await?;
            // A lost create found the alias: make sure it routes as planned.
            retry(v.deadline, || v.aws.update_alias(v.arn, &a.name, description, r)).await?;
        }
    }
    tracing::info!(alias = %a.name, weights = ?plan.view.weights, phase = ?plan.view.phase, "alias routed");
    Ok(())
}

/// The metrics of a rollout that ended, and the weights now live.
fn count_end(sm: &StateMachine, alias: &str, plan: &AliasPlan) {
    let m = crate::metrics::global();
    match plan.ended {
        Some(Ended::Promoted) => m.rollout_ended("promoted"),
        Some(Ended::RolledBack) => m.rollout_ended("rolled_back"),
        None => {}
    }
    m.rollout_weights(&sm.meta.name, alias, &plan.view.weights);
}

/// The resource's status from its aliases: an error fails it; a held roll back is `Degraded`
/// (`Pending` with the same message in a diff); a step in progress is `Progressing`.
fn judge(mode: Mode, plans: &[&AliasPlan], rep: &mut ResourceReport) {
    if let Some(e) = plans.iter().find_map(|p| p.error.clone()) {
        rep.status = Status::Failed;
        rep.message = Some(e);
        return;
    }
    rep.requeue_after = plans.iter().filter_map(|p| p.requeue_after).min();
    if rep.status == Status::Failed {
        return;
    }
    let degraded = plans.iter().find_map(|p| match &p.health {
        Health::Degraded(why) => Some(why.clone()),
        _ => None,
    });
    let pending = mode == Mode::Diff && plans.iter().any(|p| p.op.is_some() || p.progress.is_some());
    if let Some(why) = degraded {
        rep.status = if mode == Mode::Diff {
            Status::Pending
        } else {
            Status::Degraded
        };
        rep.message = Some(why);
    } else if pending {
        rep.status = Status::Pending;
    } else if plans.iter().any(|p| p.health == Health::Progressing) {
        rep.status = Status::Progressing;
    }
}

/// `versionRetention`: deletes the versions beyond the newest kept, never one an alias routes to
/// or a rollout may return to. Best effort: a failure is logged and retried by the next pass.
async fn retain(
    v: &Versioned<'_>,
    plans: &[(&crate::desired::Alias, Option<Routing>, AliasPlan)],
    old: &BTreeMap<String, Progress>,
) {
    if v.sm.versioning.version_retention.is_none() {
        return;
    }
    let routings: Vec<Routing> = plans
        .iter()
        .map(|(_, _, p)| p.view.weights.iter().map(|(a, b)| (*a, *b)).collect())
        .chain(plans.iter().filter_map(|(_, live, _)| live.clone()))
        .chain(v.sm.versioning.aliases.iter().filter_map(|a| match &a.target {
            AliasTarget::Routing(r) => Some(r.clone()),
            AliasTarget::Rollout(_) => None,
        }))
        .collect();
    let progress: Vec<&Progress> = plans
        .iter()
        .filter_map(|(_, _, p)| p.progress.as_ref())
        .chain(old.values())
        .collect();
    let protected = protected_versions(routings.iter().map(Vec::as_slice), progress);
    let versions = match retry(v.deadline, || v.aws.list_versions(v.arn)).await {
        Ok(list) => list,
        Err(error) => {
            tracing::warn!(%error, "listing versions for versionRetention failed; nothing deleted");
            return;
        }
    };
    for n in retention_deletes(&versions, &protected, v.sm.versioning.version_retention) {
        if let Err(error) = delete_idempotent(v.deadline, || v.aws.delete_version(v.arn, n)).await {
            tracing::warn!(%error, version = n, "deleting an old version failed");
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
