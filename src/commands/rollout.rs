//! `sfn-operator rollout status|promote|abort|retry` (SPEC §9). `status` is a diff pass that
//! prints the rollouts (aliases and stage canaries); the others rewrite one rollout's progress tag
//! (its state lives on the live side: a machine's tag for an alias, its REST API's for a stage
//! canary) and run a pass of that resource, which carries the new state out and, with
//! `--notify`, tells it.

use std::collections::{BTreeMap, BTreeSet};

use crate::apply::Mode;
use crate::cli::{OutputFormat, RolloutAction, RolloutOpts, RolloutStatusOpts, RolloutTargetOpts};
use crate::desired::{AliasTarget, Kind, Resource, ResourceKey, RestApiTarget};
use crate::manifest;
use crate::plan::rollout::{Phase, Progress, TAG_PREFIX, tag_key};
use crate::plan::stage_rollout::{applies, stage_tag_key};
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
                        "{}/{} {}\n",
                        r.kind,
                        r.name,
                        crate::report::rollout_line(v)
                    ));
                }
                if let Some(m) = &r.message {
                    s.push_str(&format!("    ! {m}\n"));
                }
            }
            if s.is_empty() {
                s.push_str("no rollout: no state machine with aliases, no stage canary\n");
            }
            s
        }
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = with_rollouts
                .flat_map(|r| {
                    r.rollouts.iter().map(move |v| {
                        let mut j = serde_json::to_value(v).unwrap_or_default();
                        j["kind"] = r.kind.to_string().into();
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
    let notifier = setup::notifier(&o.notify, &s.owner_id)?;
    let target = Target::from_opts(&s.aws).await?;
    let result = steer_connected(o, how, &target).await;
    target.shutdown().await;
    let report = result?;
    print(&report, s.output)?;
    if let Some(n) = notifier {
        super::reconcile::send_rollout_events(&n, &report);
        super::reconcile::flush(&n).await;
    }
    Ok(exit_of(&report))
}

/// Where the progress tags of `rollout promote|abort|retry NAME` live: a machine's aliases (the
/// tags of the machine), and a stage's canary (a tag of its REST API).
struct Steered {
    /// The machine ARN and its aliases with a rollout.
    machine: Option<(String, Vec<String>)>,
    /// The REST API id, its tags (from the listing) and the stage with a canary rollout.
    stage: Option<(String, BTreeMap<String, String>, String)>,
    /// The resources the pass that carries the new state out runs (their dependants come along).
    only: BTreeSet<ResourceKey>,
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
    let steered = steered(o, &loaded.desired, aws, &s.owner_id, deadline).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let aws_failed = |e: crate::aws::AwsError| crate::Error::Input(e.to_string());
    if let Some((arn, aliases)) = &steered.machine {
        let tags = crate::aws::retry(deadline, || aws.machine_tags(arn))
            .await
            .map_err(aws_failed)?;
        let keys: Vec<String> = aliases.iter().map(|a| tag_key(a)).collect();
        let (set, remove) = rewrite(&tags, &keys, how, now);
        if !set.is_empty() {
            crate::aws::retry(deadline, || aws.tag_machine(arn, &set))
                .await
                .map_err(aws_failed)?;
        }
        if !remove.is_empty() {
            crate::aws::retry(deadline, || aws.untag_machine(arn, &remove))
                .await
                .map_err(aws_failed)?;
        }
    }
    if let Some((api_id, tags, stage)) = &steered.stage {
        let (set, remove) = rewrite(tags, &[stage_tag_key(stage)], how, now);
        if !set.is_empty() {
            crate::aws::retry(deadline, || aws.tag_api(api_id, &set))
                .await
                .map_err(aws_failed)?;
        }
        if !remove.is_empty() {
            crate::aws::retry(deadline, || aws.untag_api(api_id, &remove))
                .await
                .map_err(aws_failed)?;
        }
    }
    let mut scope = setup::pass_scope(Mode::Apply, false, false, deadline);
    scope.only = Some(steered.only);
    Ok(reconciler.pass(&loaded.desired, &scope).await)
}

/// Finds what `NAME` steers: a StateMachine's aliases with a rollout (`--alias` picks one), or
/// an ApiIntegration's stage canary (`spec.rollout` with `spec.stage`) and, when its stage
/// follows an alias (a joint rollout), that alias too.
async fn steered(
    o: &RolloutTargetOpts,
    desired: &crate::desired::DesiredSet,
    aws: &crate::aws::Aws,
    owner: &str,
    deadline: tokio::time::Instant,
) -> crate::Result<Steered> {
    let machine_key = ResourceKey::new(Kind::StateMachine, o.name.clone());
    let integration_key = ResourceKey::new(Kind::ApiIntegration, o.name.clone());
    let rollout_aliases = |sm: &crate::desired::StateMachine, only: Option<&str>| -> Vec<String> {
        sm.versioning
            .aliases
            .iter()
            .filter(|a| matches!(a.target, AliasTarget::Rollout(_)))
            .map(|a| a.name.clone())
            .filter(|a| only.is_none_or(|x| x == a))
            .collect()
    };
    if let Some(Resource::StateMachine(sm)) = desired.get(&machine_key) {
        let aliases = rollout_aliases(sm, o.alias.as_deref());
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
        return Ok(Steered {
            machine: Some((aws.state_machine_arn(&sm.name), aliases)),
            stage: None,
            only: BTreeSet::from([machine_key]),
        });
    }
    let Some(Resource::ApiIntegration(ai)) = desired.get(&integration_key) else {
        return Err(usage(format!(
            "no StateMachine or ApiIntegration manifest named {:?}",
            o.name
        )));
    };
    let (Some(stage), true) = (&ai.stage, applies(ai.rollout.as_ref())) else {
        return Err(usage(format!(
            "ApiIntegration {:?} has no stage canary (spec.stage with a Canary or Linear spec.rollout)",
            o.name
        )));
    };
    let mut only = BTreeSet::from([integration_key]);
    if let RestApiTarget::Ref(api) = &ai.rest_api {
        only.insert(ResourceKey::new(Kind::RestApi, api.clone()));
    }
    // A stage that follows its alias (SPEC §9, one rollout): the alias is steered with it, in
    // the same pass, so the stage follows it there.
    let mut machine = None;
    if ai.joint_variable().is_some()
        && let (Some(name), Some(alias)) = (&ai.state_machine_ref, &ai.state_machine_alias)
        && let Some(Resource::StateMachine(sm)) =
            desired.get(&ResourceKey::new(Kind::StateMachine, name.clone()))
    {
        machine = Some((aws.state_machine_arn(&sm.name), rollout_aliases(sm, Some(alias))));
        only.insert(ResourceKey::new(Kind::StateMachine, name.clone()));
    }
    let listed = crate::aws::retry(deadline, || aws.list_apis())
        .await
        .map_err(|e| crate::Error::Input(format!("listing REST APIs: {e}")))?;
    // The API as the pass finds it: a `ref` by its ownership tags, an `id` or `name` as given.
    let known = |name: &str| {
        let key = ResourceKey::new(Kind::RestApi, name.to_owned());
        listed
            .iter()
            .find(|a| crate::ownership::owned_by(&a.tags, owner).as_ref() == Some(&key))
            .map(|a| a.id.clone())
    };
    let api = crate::plan::integrations::api_id_of(ai, &known, &listed)
        .map_err(crate::Error::Input)?
        .and_then(|id| listed.into_iter().find(|a| a.id == id))
        .ok_or_else(|| {
            crate::Error::Input(format!(
                "the REST API of ApiIntegration {:?} does not exist yet: nothing to steer",
                o.name
            ))
        })?;
    Ok(Steered {
        machine,
        stage: Some((api.id, api.tags, stage.clone())),
        only,
    })
}

/// The progress tags after `how`: promote → `Promoted` on the same target; abort → `Aborted`;
/// retry → the tag removed, so the next pass starts the rollout again from the version serving.
fn rewrite(
    tags: &BTreeMap<String, String>,
    keys: &[String],
    how: Steer,
    now: u64,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut set = BTreeMap::new();
    let mut remove = Vec::new();
    for key in keys {
        let Some(p) = tags.get(key).and_then(|v| Progress::parse(v)) else {
            continue;
        };
        let key = key.clone();
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
            _ => tracing::info!(tag = %key, phase = ?p.phase, "nothing to do for this rollout"),
        }
    }
    debug_assert!(set.keys().chain(&remove).all(|k| k.starts_with(TAG_PREFIX)));
    (set, remove)
}

fn usage(message: String) -> crate::Error {
    crate::Error::Usage(message)
}
