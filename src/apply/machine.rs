//! One state machine: read it, plan it against its manifest and (in `Apply` mode) create or update
//! it and its tags, returning its report.
//!
//! Must not: touch other resources, decide scope or order (that is the pass in `mod.rs`), or delete
//! anything (pruning is `prune.rs`).

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::Mode;
use crate::aws::{Aws, AwsError, retry};
use crate::desired::{Kind, ResourceKey, StateMachine};
use crate::ownership;
use crate::plan::{self, ResourcePlan};
use crate::report::{Action, ResourceReport, Status};

/// Reads, plans and (in `Apply` mode) applies one state machine. `listed_tags`: its tags from
/// the pass's Tagging API listing, when it is in it (then only DescribeStateMachine is read).
pub(super) async fn reconcile_machine(
    aws: &Aws,
    sm: &StateMachine,
    listed_tags: Option<BTreeMap<String, String>>,
    owner: &str,
    mode: Mode,
    deadline: Instant,
) -> ResourceReport {
    let key = ResourceKey::new(Kind::StateMachine, sm.meta.name.clone());
    let arn = aws.state_machine_arn(&sm.name);
    let mut tags = sm.tags.clone();
    tags.extend(ownership::owner_tags(&key, sm.deletion_policy, owner));
    let mut rep = ResourceReport {
        id: Some(arn.clone()),
        ..ResourceReport::new(key.clone(), Status::Synced)
    };
    let live = match retry(deadline, || aws.describe_machine(&arn, listed_tags.as_ref())).await {
        Ok(l) => l,
        Err(e) => {
            rep.status = Status::Failed;
            rep.message = Some(e.to_string());
            return rep;
        }
    };
    // Another instance's machine of the same name is never touched (SPEC §5).
    if let Some(why) = live
        .as_ref()
        .and_then(|l| ownership::foreign_owner(&l.tags, owner))
    {
        rep.status = Status::Failed;
        rep.message = Some(format!("state machine {:?} is {why}", sm.name));
        return rep;
    }
    let p: ResourcePlan = plan::plan_state_machine(sm, &tags, live.as_ref());
    rep.action = p.action;
    rep.changes = p.changes.clone();
    if let Some(err) = &p.error {
        rep.status = Status::Failed;
        rep.message = Some(err.clone());
        return rep;
    }
    if p.action == Action::Noop {
        return rep;
    }
    if mode == Mode::Diff {
        rep.status = Status::Pending;
        return rep;
    }
    let result = match (&live, p.action) {
        (None, _) => retry(deadline, || aws.create_machine(sm, &tags))
            .await
            .map(|arn| rep.id = Some(arn)),
        (Some(live), _) => apply_machine_update(aws, &arn, sm, &tags, live, &p, deadline).await,
    };
    match result {
        Ok(()) => {
            tracing::info!(action = ?p.action, "applied");
        }
        Err(e) => {
            tracing::error!(error = %e, "apply failed");
            rep.status = Status::Failed;
            rep.message = Some(e.to_string());
        }
    }
    rep
}

async fn apply_machine_update(
    aws: &Aws,
    arn: &str,
    sm: &StateMachine,
    tags: &BTreeMap<String, String>,
    live: &crate::aws::LiveMachine,
    p: &ResourcePlan,
    deadline: Instant,
) -> Result<(), AwsError> {
    if plan::needs_machine_update(p) {
        retry(deadline, || aws.update_machine(arn, sm)).await?;
    }
    let to_set: BTreeMap<String, String> = tags
        .iter()
        .filter(|(k, v)| live.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !to_set.is_empty() {
        retry(deadline, || aws.tag_machine(arn, &to_set)).await?;
    }
    let to_remove: Vec<String> = live
        .tags
        .keys()
        .filter(|k| k.starts_with("sfn-operator.dev/") && !tags.contains_key(*k))
        .cloned()
        .collect();
    if !to_remove.is_empty() {
        retry(deadline, || aws.untag_machine(arn, &to_remove)).await?;
    }
    Ok(())
}
