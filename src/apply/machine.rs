//! One state machine: read it, plan it (`plan::machine`) and, in `Apply` mode, carry out the
//! plan's operations, returning its report; a versioned one's aliases follow (`rollout.rs`).
//!
//! Must not: decide anything the plan decides (what changes, whose it is), touch other
//! resources, decide scope or order (the pass in `mod.rs`), or delete anything (`prune.rs`).

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::rollout::{Alarms, Versioned, reconcile_aliases, update_and_publish};
use super::{Mode, report_of};
use crate::aws::{Aws, AwsError, retry};
use crate::desired::{Kind, ResourceKey, StateMachine};
use crate::ownership;
use crate::plan::machine::{MachineOp, plan_machine};
use crate::plan::rollout::version_description;
use crate::report::{ResourceReport, Status};

/// Reads, plans and (in `Apply` mode) applies one state machine. `listed_tags`: its tags from
/// the pass's Tagging API listing, when it is in it (then only DescribeStateMachine is read).
/// `alarms`: the states of the pass's rollout alarms.
pub(super) async fn reconcile_machine(
    aws: &Aws,
    sm: &StateMachine,
    listed_tags: Option<BTreeMap<String, String>>,
    owner: &str,
    mode: Mode,
    deadline: Instant,
    alarms: &Alarms,
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
    if plan.adopted {
        rep.message = Some(crate::plan::ADOPTION_MESSAGE.into());
    }
    if plan.drifted {
        rep.status = Status::Drifted;
    }
    if let Some(why) = plan.refusal {
        rep.status = Status::Failed;
        rep.message = Some(why);
        return rep;
    }
    let mut published = None;
    if mode == Mode::Apply && !plan.ops.is_empty() {
        match execute(aws, &arn, sm, &plan.ops, deadline).await {
            Ok((created, version)) => {
                if let Some(created) = created {
                    rep.id = Some(created);
                }
                published = version;
                tracing::debug!(action = ?plan.action, "written");
            }
            Err(e) => {
                tracing::error!(error = %e, "apply failed");
                rep.status = Status::Failed;
                rep.message = Some(e.to_string());
                return rep;
            }
        }
    }
    if sm.versioning.publish {
        let versioned = Versioned {
            aws,
            sm,
            arn: &arn,
            live: live.as_ref(),
            published,
            config_changed: mode == Mode::Diff && plan.ops.iter().any(|o| matches!(o, MachineOp::Update(_))),
            mode,
            deadline,
            alarms,
        };
        reconcile_aliases(&versioned, &mut rep).await;
    }
    rep
}

/// Carries out the operations in order; the ARN of a machine it created, and the version a
/// versioned machine's create or update published.
async fn execute(
    aws: &Aws,
    arn: &str,
    sm: &StateMachine,
    ops: &[MachineOp],
    deadline: Instant,
) -> Result<(Option<String>, Option<u32>), AwsError> {
    let mut created = None;
    let mut published = None;
    let description = sm.versioning.publish.then(|| version_description(sm));
    for op in ops {
        match op {
            MachineOp::Create { tags } => {
                let (arn, version) =
                    retry(deadline, || aws.create_machine(sm, tags, description.as_deref())).await?;
                created = Some(arn);
                published = version;
            }
            MachineOp::Update(effective) if sm.versioning.publish => {
                published = update_and_publish(aws, arn, effective, deadline).await?;
            }
            MachineOp::Update(effective) => {
                retry(deadline, || aws.update_machine(arn, effective, None)).await?;
            }
            MachineOp::Tag(tags) => retry(deadline, || aws.tag_machine(arn, tags)).await?,
            MachineOp::Untag(keys) => retry(deadline, || aws.untag_machine(arn, keys)).await?,
        }
    }
    Ok((created, published))
}
