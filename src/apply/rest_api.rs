//! One REST API: plan it against the pass's listing (`plan::rest_api`) and, in `Apply` mode,
//! create it (with the ownership records of the integrations that will live on it) or update it;
//! after the integrations, its stage settings (`plan::stage_settings`).
//!
//! Must not: list APIs itself (the pass lists them once and shares the list), decide what
//! changes or whose an API is (the plan does), touch the API's resources, methods or deployments
//! (`integrations.rs`), or delete an API (`prune.rs`).

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::{Mode, report_of};
use crate::aws::{Aws, AwsError, create_once, retry};
use crate::desired::{DriftPolicy, Kind, ResourceKey, RestApi};
use crate::live::{LiveApi, LiveStage};
use crate::ownership;
use crate::plan::Action;
use crate::plan::rest_api::{ApiOp, plan_rest_api};
use crate::plan::stage_settings::plan_stage_settings;
use crate::report::{ResourceReport, Status};

/// Plans and applies one REST API. `records` are the ownership records of the integrations that
/// will live on it, set at creation with the other tags (so an API created in this pass needs no
/// TagResource for them). Returns the report and, for an API created in this pass, its live form.
pub(super) async fn reconcile_api(
    aws: &Aws,
    api: &RestApi,
    listed: &[LiveApi],
    records: &BTreeMap<String, String>,
    owner: &str,
    mode: Mode,
    deadline: Instant,
) -> (ResourceReport, Option<LiveApi>) {
    let key = ResourceKey::new(Kind::RestApi, api.meta.name.clone());
    let plan = plan_rest_api(&key, api, listed, records, owner);
    let id = plan.live.as_ref().map(|l| l.id.clone());
    let mut rep = report_of(key.clone(), plan.action, plan.changes.clone(), id.clone(), mode);
    if plan.adopted {
        rep.message = Some(crate::plan::ADOPTION_MESSAGE.into());
    }
    if plan.drifted {
        rep.status = Status::Drifted;
    }
    if let Some(why) = plan.refusal {
        rep.status = Status::Failed;
        rep.message = Some(why);
        return (rep, None);
    }
    if mode == Mode::Diff || plan.ops.is_empty() {
        return (rep, None);
    }
    match execute(aws, &key, api, id.as_deref(), &plan.ops, owner, deadline).await {
        Ok(created) => {
            if let Some(created) = &created {
                rep.id = Some(created.id.clone());
            }
            (rep, created)
        }
        Err(e) => {
            rep.status = Status::Failed;
            rep.message = Some(match id {
                None => format!("creating REST API {:?}: {e}", api.name),
                Some(id) => format!("REST API {id}: {e}"),
            });
            (rep, None)
        }
    }
}

/// Carries out the operations in order; the live form of an API it created.
async fn execute(
    aws: &Aws,
    key: &ResourceKey,
    api: &RestApi,
    id: Option<&str>,
    ops: &[ApiOp],
    owner: &str,
    deadline: Instant,
) -> Result<Option<LiveApi>, AwsError> {
    let id = id.unwrap_or_default();
    let mut created = None;
    for op in ops {
        match op {
            ApiOp::Create { tags } => {
                // CreateRestApi is not idempotent: after a lost answer, look for the API the
                // first attempt may have made (it carries this manifest's tag from birth).
                let find = || async {
                    let listed = aws.list_apis().await?;
                    Ok(listed
                        .into_iter()
                        .find(|a| ownership::owned_by(&a.tags, owner).as_ref() == Some(key))
                        .map(|a| a.id))
                };
                let id = create_once(deadline, || aws.create_api(api, tags), find).await?;
                created = Some(LiveApi {
                    id,
                    name: api.name.clone(),
                    description: api.description.clone(),
                    endpoint_types: api
                        .endpoint_types
                        .as_deref()
                        .unwrap_or(&[crate::desired::EndpointType::Edge])
                        .iter()
                        .map(|t| t.as_str().to_owned())
                        .collect(),
                    settings: crate::live::LiveApiSettings {
                        binary_media_types: api.settings.binary_media_types.clone().unwrap_or_default(),
                        minimum_compression_size: api.settings.minimum_compression_size,
                        api_key_source: api
                            .settings
                            .api_key_source
                            .clone()
                            .unwrap_or_else(|| "HEADER".into()),
                        disable_execute_api_endpoint: api
                            .settings
                            .disable_execute_api_endpoint
                            .unwrap_or(false),
                        policy: api.settings.policy.clone(),
                    },
                    tags: tags.clone(),
                });
            }
            ApiOp::SetDescription(d) => retry(deadline, || aws.set_api_description(id, d)).await?,
            ApiOp::ReplaceEndpointTypes(pairs) => {
                retry(deadline, || aws.set_api_endpoint_types(id, pairs)).await?;
            }
            ApiOp::Patch(patches) => retry(deadline, || aws.patch_api(id, patches)).await?,
            ApiOp::Tag(tags) => retry(deadline, || aws.tag_api(id, tags)).await?,
            ApiOp::Untag(keys) => retry(deadline, || aws.untag_api(id, keys)).await?,
        }
    }
    Ok(created)
}

/// The stage settings of one REST API (`spec.stages`), after the integrations' deployments (which
/// create stages): read GetStages, plan, and in `Apply` mode UpdateStage each stage that differs.
/// Merged into the API's report `rep`; never a deployment. An API not created yet (a diff) shows
/// every set field as a change from AWS's defaults.
pub(super) async fn reconcile_stage_settings(
    aws: &Aws,
    api: &RestApi,
    rep: &mut ResourceReport,
    mode: Mode,
    deadline: Instant,
) {
    let controls = &api.meta.controls;
    if api.stages.is_empty() || controls.drift_policy == DriftPolicy::Ignore {
        return;
    }
    let live = match rep.id.clone() {
        Some(id) => match retry(deadline, || aws.stages(&id)).await {
            Ok(stages) => stages,
            Err(e) => {
                rep.status = Status::Failed;
                rep.message = Some(format!("REST API {id}: reading its stages: {e}"));
                return;
            }
        },
        None => Vec::new(),
    };
    let mut plan = plan_stage_settings(&api.stages, &live, &controls.ignore_differences);
    if mode == Mode::Diff || rep.id.is_none() {
        // What a stage still to be created by a deployment gets, from AWS's defaults.
        let fresh: Vec<LiveStage> = plan
            .missing
            .iter()
            .map(|name| LiveStage {
                name: name.clone(),
                deployment_id: None,
                canary: None,
                variables: Default::default(),
                canary_overrides: Default::default(),
                settings: Default::default(),
            })
            .collect();
        let pending = plan_stage_settings(&api.stages, &fresh, &controls.ignore_differences);
        plan.changes.extend(pending.changes);
    }
    if !plan.changes.is_empty() {
        rep.changes.extend(plan.changes.clone());
        if rep.action == Action::Noop {
            rep.action = Action::Update;
            // An adoption that also changes a stage is an update like any other.
            rep.message = None;
        }
    }
    if mode == Mode::Diff {
        if !plan.changes.is_empty() && rep.status == Status::Synced {
            rep.status = Status::Pending;
        }
        return;
    }
    if controls.drift_policy == DriftPolicy::Report {
        if !plan.changes.is_empty() {
            rep.status = Status::Drifted;
        }
        return;
    }
    let Some(id) = rep.id.clone() else { return };
    for patch in &plan.patches {
        if let Err(e) = retry(deadline, || {
            aws.patch_stage_settings(&id, &patch.stage, &patch.ops)
        })
        .await
        {
            rep.status = Status::Failed;
            rep.message = Some(format!(
                "REST API {id} stage {:?}: {e} (UpdateStage)",
                patch.stage
            ));
            return;
        }
    }
    if let Some(stage) = plan.missing.first() {
        rep.status = Status::Failed;
        rep.message = Some(format!(
            "stage {stage:?} does not exist: a stage is created by a deployment (an ApiIntegration on this API \
             with `stage: {stage}`); its settings are applied in the pass that deploys it"
        ));
    }
}
