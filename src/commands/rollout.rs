//! `sfn-operator rollout status|promote|abort|retry` (SPEC §9). `status` is a diff pass that
//! prints the rollouts; the others rewrite one machine's progress tag (the rollout's state lives on
//! the live side) and run a pass of that machine, which carries the new state out.

use std::collections::{BTreeMap, BTreeSet};

use crate::apply::Mode;
use crate::cli::{OutputFormat, RolloutAction, RolloutOpts, RolloutStatusOpts, RolloutTargetOpts};
use crate::desired::{AliasTarget, Kind, Resource, ResourceKey};
use crate::manifest;
use crate::plan::rollout::{Phase, Progress, TAG_PREFIX, tag_key};
use crate::report::{Report, Status};
use crate::setup::{self, Target};

/// Runs `rollout`.
pub async fn run(opts: RolloutOpts) -> crate::Result<u8> {
    match opts.action {
        RolloutAction::Status(o) => status(&o).await,
        RolloutAction::Promote(o) => steer(&o, Steer::Promote).await,
        RolloutAction::Abort(o) => steer(&o, Steer::Abort).await,
        RolloutAction::Retry(o) => steer(&o, Steer::Retry).await,
    }
}

async fn status(o: &RolloutStatusOpts) -> crate::Result<u8> {
    let report = super::reconcile::pass(&o.manifests, &o.aws, &o.owner(), &o.pass, Mode::Diff, false).await?;
    print(&report, o.output)?;
    Ok(exit_of(&report))
}

/// 1 when a rollout was rolled back (or a read failed), else 0.
fn exit_of(report: &Report) -> u8 {
    let bad = report.resources.iter().any(|r| {
        matches!(r.status, Status::Failed | Status::Degraded)
            || r.rollouts
                .iter()
                .any(|v| matches!(v.phase, Phase::RolledBack | Phase::Aborted))
    });
    if bad {
        crate::exit::FAILURE
    } else {
        crate::exit::OK
    }
}

/// The rollouts only: one line each (text), or `{"rollouts": [{name, alias, ...}]}` (JSON).
fn print(report: &Report, format: OutputFormat) -> crate::Result<()> {
    let with_rollouts = report.resources.iter().filter(|r| !r.rollouts.is_empty());
    let text = match format {
        OutputFormat::Text => {
            let mut s = String::new();
            for r in with_rollouts {
                for v in &r.rollouts {
                    s.push_str(&format!(
                        "StateMachine/{} {}\n",
                        r.name,
                        crate::report::rollout_line(v)
                    ));
                }
                if let Some(m) = &r.message {
                    s.push_str(&format!("    ! {m}\n"));
                }
            }
            if s.is_empty() {
                s.push_str("no versioned state machine with aliases\n");
            }
            s
        }
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = with_rollouts
                .flat_map(|r| {
                    r.rollouts.iter().map(move |v| {
                        let mut j = serde_json::to_value(v).unwrap_or_default();
                        j["name"] = r.name.clone().into();
                        j["status"] = serde_json::to_value(r.status).unwrap_or_default();
                        j
                    })
                })
                .collect();
            format!("{:#}\n", serde_json::json!({ "rollouts": list }))
        }
    };
    use std::io::Write as _;
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|source| crate::Error::Io {
            context: "writing the rollouts".into(),
            source,
        })
}

#[derive(Debug, Clone, Copy)]
enum Steer {
    Promote,
    Abort,
    Retry,
}

async fn steer(o: &RolloutTargetOpts, how: Steer) -> crate::Result<u8> {
    let s = &o.status;
    let target = Target::from_opts(&s.aws).await?;
    let result = steer_connected(o, how, &target).await;
    target.shutdown().await;
    let report = result?;
    print(&report, s.output)?;
    Ok(exit_of(&report))
}

async fn steer_connected(o: &RolloutTargetOpts, how: Steer, target: &Target) -> crate::Result<Report> {
    let s = &o.status;
    let deadline = setup::deadline(&s.pass);
    let reconciler = target.connect(&s.pass, &s.owner_id, deadline).await?;
    let aws = reconciler.aws();
    let loaded = manifest::load(&setup::load_options(
        &s.manifests,
        Some(aws.region.clone()),
        Some(aws.account_id.clone()),
    ));
    if !loaded.diagnostics.is_empty() {
        for d in &loaded.diagnostics {
            eprintln!("{d}");
        }
        return Err(crate::Error::InvalidManifests {
            count: loaded.diagnostics.len(),
        });
    }
    let key = ResourceKey::new(Kind::StateMachine, o.name.clone());
    let Some(Resource::StateMachine(sm)) = loaded.desired.get(&key) else {
        return Err(usage(format!("no StateMachine manifest named {:?}", o.name)));
    };
    let aliases: Vec<&str> = sm
        .versioning
        .aliases
        .iter()
        .filter(|a| matches!(a.target, AliasTarget::Rollout(_)))
        .map(|a| a.name.as_str())
        .filter(|a| o.alias.as_deref().is_none_or(|x| x == *a))
        .collect();
    if aliases.is_empty() {
        return Err(usage(format!(
            "StateMachine {:?} has no alias with a rollout{}",
            o.name,
            o.alias
                .as_deref()
                .map(|a| format!(" named {a:?}"))
                .unwrap_or_default()
        )));
    }
    let arn = aws.state_machine_arn(&sm.name);
    let tags = crate::aws::retry(deadline, || aws.machine_tags(&arn))
        .await
        .map_err(|e| crate::Error::Input(e.to_string()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (set, remove) = rewrite(&tags, &aliases, how, now);
    if !set.is_empty() {
        crate::aws::retry(deadline, || aws.tag_machine(&arn, &set))
            .await
            .map_err(|e| crate::Error::Input(e.to_string()))?;
    }
    if !remove.is_empty() {
        crate::aws::retry(deadline, || aws.untag_machine(&arn, &remove))
            .await
            .map_err(|e| crate::Error::Input(e.to_string()))?;
    }
    let mut scope = setup::pass_scope(Mode::Apply, false, false, deadline);
    scope.only = Some(BTreeSet::from([key]));
    Ok(reconciler.pass(&loaded.desired, &scope).await)
}

/// The progress tags after `how`: promote → `Promoted` on the same target; abort → `Aborted`;
/// retry → the tag removed, so the next pass starts the rollout again from the version serving.
fn rewrite(
    tags: &BTreeMap<String, String>,
    aliases: &[&str],
    how: Steer,
    now: u64,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut set = BTreeMap::new();
    let mut remove = Vec::new();
    for alias in aliases {
        let key = tag_key(alias);
        let Some(p) = tags.get(&key).and_then(|v| Progress::parse(v)) else {
            continue;
        };
        match how {
            Steer::Promote if p.phase == Phase::Progressing => {
                set.insert(
                    key,
                    Progress {
                        phase: Phase::Promoted,
                        since: now,
                        ..p
                    }
                    .to_tag(),
                );
            }
            Steer::Abort if p.phase == Phase::Progressing => {
                set.insert(
                    key,
                    Progress {
                        phase: Phase::Aborted,
                        since: now,
                        ..p
                    }
                    .to_tag(),
                );
            }
            Steer::Retry if matches!(p.phase, Phase::RolledBack | Phase::Aborted) => remove.push(key),
            _ => tracing::info!(alias = %alias, phase = ?p.phase, "nothing to do for this alias"),
        }
    }
    debug_assert!(set.keys().chain(&remove).all(|k| k.starts_with(TAG_PREFIX)));
    (set, remove)
}

fn usage(message: String) -> crate::Error {
    crate::Error::Usage(message)
}
