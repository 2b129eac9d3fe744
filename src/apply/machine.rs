//! One state machine: read it, plan it (`plan::machine`) and, in `Apply` mode, carry out the
//! plan's operations, returning its report.
//!
//! Must not: decide anything the plan decides (what changes, whose it is), touch other
//! resources, decide scope or order (the pass in `mod.rs`), or delete anything (`prune.rs`).

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::{Mode, report_of};
use crate::aws::{Aws, AwsError, retry};
use crate::desired::{Kind, ResourceKey, StateMachine};
use crate::ownership;
use crate::plan::machine::{MachineOp, plan_machine};
use crate::report::{ResourceReport, Status};

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
    let live = match retry(deadline, || aws.describe_machine(&arn, listed_tags.as_ref())).await {
        Ok(l) => l,
        Err(e) => {
            return ResourceReport {
                id: Some(arn),
                ..ResourceReport::new(key, Status::Failed).with_message(e.to_string())
            };
        }
    };
    let mut tags = sm.tags.clone();
    tags.extend(ownership::owner_tags(&key, sm.deletion_policy, owner));
    let plan = plan_machine(sm, &tags, live.as_ref(), owner);
    let mut rep = report_of(key, plan.action, plan.changes.clone(), Some(arn.clone()), mode);
    if let Some(why) = plan.refusal {
        rep.status = Status::Failed;
        rep.message = Some(why);
        return rep;
    }
    if mode == Mode::Diff || plan.ops.is_empty() {
        return rep;
    }
    match execute(aws, &arn, sm, &plan.ops, deadline).await {
        Ok(Some(created)) => {
            rep.id = Some(created);
            tracing::debug!(action = ?plan.action, "written");
        }
        Ok(None) => tracing::debug!(action = ?plan.action, "written"),
        Err(e) => {
            tracing::error!(error = %e, "apply failed");
            rep.status = Status::Failed;
            rep.message = Some(e.to_string());
        }
    }
    rep
}

/// Carries out the operations in order; the ARN of a machine it created.
async fn execute(
    aws: &Aws,
    arn: &str,
    sm: &StateMachine,
    ops: &[MachineOp],
    deadline: Instant,
) -> Result<Option<String>, AwsError> {
    let mut created = None;
    for op in ops {
        match op {
            MachineOp::Create { tags } => {
                created = Some(retry(deadline, || aws.create_machine(sm, tags)).await?);
            }
            MachineOp::Update => retry(deadline, || aws.update_machine(arn, sm)).await?,
            MachineOp::Tag(tags) => retry(deadline, || aws.tag_machine(arn, tags)).await?,
            MachineOp::Untag(keys) => retry(deadline, || aws.untag_machine(arn, keys)).await?,
        }
    }
    Ok(created)
}
