//! API integrations (wave 2 of the pass), REST API by REST API: read the API's resources, stages
//! and the deployments they serve once, plan everything on it (`plan::integrations`), and in
//! `Apply` mode carry the plan out in its order: moves, ownership records (one TagResource), each
//! integration's writes, prunes (methods, then one UntagResource), then the deployments.
//!
//! When any write on an API fails or is not made (a shutdown) in a pass, its stages are not
//! deployed in that pass, so a stage never serves a half-written configuration (SPEC §4); the
//! integrations deployed there say why and the next pass deploys.
//!
//! Must not: decide what to write (the plan does), create, update or delete REST APIs themselves
//! (`rest_api.rs`, `prune.rs`), or run an integration whose dependency did not reconcile (the
//! pass reports those `Skipped` first).

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;
use tracing::Instrument;

use super::{Mode, PassScope, Reconciler, not_started, reconcile_span, report_of};
use crate::aws::{Aws, AwsError, create_once, delete_idempotent, retry};
use crate::desired::{ApiIntegration, Kind, ResourceKey};
use crate::live::{LiveApi, LiveApiState};
use crate::plan::integrations::{
    ApiInput, ApiIntegrationsPlan, MethodOp, api_id_of, plan_api, plan_on_new_api, stages_to_check,
};
use crate::plan::prune::PruneRecord;
use crate::plan::rollout::{Ended, Health, RolloutView};
use crate::plan::stage_rollout::{StageOp, StageRolloutPlan, stage_tag_key};
use crate::plan::{Action, IntegrationPlan, PrunePlan};
use crate::report::{ResourceReport, Status};

/// The REST APIs the pass knows: listed at its start, and created by it since.
#[derive(Debug, Clone, Copy)]
pub(super) struct LiveApis<'a> {
    pub(super) listed: &'a [LiveApi],
    pub(super) created: &'a BTreeMap<String, LiveApi>,
}

/// What the whole desired set says beyond the integrations in scope: the ids of the `RestApi`
/// manifests the pass knows (by `metadata.name`), the integration records to prune (by API id),
/// every (method, path) a declared integration manages, and every stage a declared integration
/// deploys to (by API id).
#[derive(Debug, Clone, Copy)]
pub(super) struct Declared<'a> {
    pub(super) api_ids: &'a BTreeMap<String, String>,
    pub(super) prunes: &'a BTreeMap<String, Vec<PruneRecord>>,
    pub(super) claimed: &'a BTreeSet<(String, String)>,
    pub(super) stages: &'a BTreeMap<String, BTreeSet<String>>,
    /// The states of the rollouts' alarms, read once for the pass.
    pub(super) alarms: &'a super::rollout::Alarms,
    /// The alias rollouts the pass's machines reported, by (machine `metadata.name`, alias).
    pub(super) alias_views: &'a BTreeMap<(String, String), RolloutView>,
}

/// What became of one planned item in `Apply` mode.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Done,
    /// Done, with something worth saying.
    Note(String),
    Failed(String),
    NotStarted,
}

impl Reconciler {
    /// Reconciles integrations API by API and prunes the integration records chosen for pruning
    /// on the same APIs. Returns the integrations' reports and the prunes' reports.
    pub(super) async fn reconcile_integrations(
        &self,
        integrations: &[&ApiIntegration],
        apis: LiveApis<'_>,
        declared: Declared<'_>,
        scope: &PassScope,
    ) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
        let mut out = Vec::new();
        let mut pruned = Vec::new();
        let known = |name: &str| declared.api_ids.get(name).cloned();
        // API id (None: the API is still to be created, diff mode) → integrations on it.
        let mut by_api: BTreeMap<Option<String>, Vec<&ApiIntegration>> = BTreeMap::new();
        for ai in integrations {
            match api_id_of(ai, &known, apis.listed) {
                Ok(id) => by_api.entry(id).or_default().push(ai),
                Err(message) => out.push(
                    ResourceReport::new(
                        ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()),
                        Status::Failed,
                    )
                    .with_message(message),
                ),
            }
        }
        for id in declared.prunes.keys() {
            by_api.entry(Some(id.clone())).or_default();
        }
        let no_stages = BTreeSet::new();
        let no_alarms = BTreeMap::new();
        for (api_id, ais) in by_api {
            let Some(api_id) = api_id else {
                for ai in ais {
                    let p = plan_on_new_api(ai);
                    out.push(report_of(p.key, p.action, p.changes, None, scope.mode));
                }
                continue;
            };
            let live_tags = apis
                .created
                .get(&api_id)
                .or_else(|| apis.listed.iter().find(|a| a.id == api_id))
                .map(|a| a.tags.clone())
                .unwrap_or_default();
            let input = ApiInput {
                api_id: &api_id,
                integrations: &ais,
                live: &LiveApiState::default(),
                live_tags: &live_tags,
                prunes: declared.prunes.get(&api_id).map_or(&[], Vec::as_slice),
                claimed: declared.claimed,
                declared_stages: declared.stages.get(&api_id).unwrap_or(&no_stages),
                owner: &self.owner,
                alarms: declared.alarms.as_ref().unwrap_or(&no_alarms),
                now: unix_now(),
                alias_views: declared.alias_views,
            };
            let (reps, gone) = self
                .integrations_on_api(input, scope, declared.alarms.as_ref().err())
                .await;
            out.extend(reps);
            pruned.extend(gone);
        }
        (out, pruned)
    }

    /// One API: read, plan, and in `Apply` mode carry the plan out.
    async fn integrations_on_api(
        &self,
        mut input: ApiInput<'_>,
        scope: &PassScope,
        alarms_unread: Option<&String>,
    ) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
        let live = match read_api(&self.aws, &input, scope.deadline).await {
            Ok(live) => live,
            Err(message) => return read_failed(&input, &message),
        };
        input.live = &live;
        let plan = plan_api(&input);
        let mut outcomes = vec![Outcome::Done; plan.integrations.len()];
        let mut prune_outcomes = vec![Outcome::Done; plan.prunes.len()];
        if scope.mode == Mode::Apply {
            let mut run = Run {
                aws: &self.aws,
                plan: &plan,
                ais: input.integrations,
                deadline: scope.deadline,
                outcomes: &mut outcomes,
                prune_outcomes: &mut prune_outcomes,
            };
            run.execute(&live).await;
        }
        let mut reps: Vec<ResourceReport> = plan
            .integrations
            .iter()
            .zip(&outcomes)
            .map(|(p, o)| integration_report(p, o, scope.mode))
            .collect();
        for stage in &plan.stages {
            if let Some(r) = &stage.rollout {
                judge_stage(scope.mode, r, &stage.integrations, &mut reps, alarms_unread);
            }
        }
        let gone = plan
            .prunes
            .iter()
            .zip(&prune_outcomes)
            .map(|(p, o)| prune_report(p, o, scope.mode))
            .collect();
        (reps, gone)
    }
}

/// Reads what the plan of one API needs: its resources, then (when any stage matters) its stages
/// and the descriptions of the deployments they serve. Every read goes through [`retry`].
async fn read_api(aws: &Aws, input: &ApiInput<'_>, deadline: Instant) -> Result<LiveApiState, String> {
    let api_id = input.api_id;
    let resources = retry(deadline, || aws.resources(api_id))
        .await
        .map_err(|e| format!("reading resources of REST API {api_id}: {e}"))?;
    let mut live = LiveApiState {
        resources,
        ..LiveApiState::default()
    };
    let wanted = stages_to_check(&ApiInput {
        live: &live,
        ..*input
    });
    if wanted.is_empty() {
        return Ok(live);
    }
    live.stages = retry(deadline, || aws.stages(api_id))
        .await
        .map_err(|e| format!("reading stages of REST API {api_id}: {e}"))?;
    let serving: Vec<String> = live
        .stages
        .iter()
        .filter(|s| wanted.contains(&s.name))
        .flat_map(|s| s.deployment_id.iter().chain(s.canary.as_ref().map(|(id, _)| id)))
        .cloned()
        .collect();
    for dep in &serving {
        if live.deployments.contains_key(dep) {
            continue;
        }
        let description = retry(deadline, || aws.deployment_description(api_id, dep))
            .await
            .map_err(|e| format!("reading deployment {dep} of REST API {api_id}: {e}"))?;
        live.deployments.insert(dep.clone(), description);
    }
    Ok(live)
}

/// The reports of an API whose live state could not be read: everything on it failed, nothing
/// was written.
fn read_failed(input: &ApiInput<'_>, message: &str) -> (Vec<ResourceReport>, Vec<ResourceReport>) {
    let reps = input
        .integrations
        .iter()
        .map(|ai| {
            ResourceReport::new(
                ResourceKey::new(Kind::ApiIntegration, ai.meta.name.clone()),
                Status::Failed,
            )
            .with_message(message)
        })
        .collect();
    let gone = input
        .prunes
        .iter()
        .map(|p| ResourceReport {
            action: Action::Delete,
            ..ResourceReport::new(p.record.resource_key(), Status::Failed).with_message(message)
        })
        .collect();
    (reps, gone)
}

/// One API's plan being carried out, with the outcome of each item.
struct Run<'a> {
    aws: &'a Aws,
    plan: &'a ApiIntegrationsPlan,
    ais: &'a [&'a ApiIntegration],
    deadline: Instant,
    outcomes: &'a mut [Outcome],
    prune_outcomes: &'a mut [Outcome],
}

impl Run<'_> {
    async fn execute(&mut self, live: &LiveApiState) {
        let api_id = self.plan.api_id.as_str();
        let mut held = false;
        // Moves first: the old method goes while its record still names it, so a failure leaves
        // the record (and a later pass retries) instead of an unrecorded method.
        let mut records = self.plan.records.clone();
        for (i, p) in self.plan.integrations.iter().enumerate() {
            let Some(m) = p.moved.as_ref().filter(|_| p.refusal.is_none()) else {
                continue;
            };
            if crate::shutdown::requested() {
                self.outcomes[i] = Outcome::NotStarted;
            } else if let Err(e) = delete_idempotent(self.deadline, || {
                self.aws.delete_method(api_id, &m.resource_id, &m.http_method)
            })
            .await
            {
                self.outcomes[i] = Outcome::Failed(format!(
                    "deleting the old method {} {} on REST API {api_id}: {e}",
                    m.http_method, m.path
                ));
            }
            if self.outcomes[i] != Outcome::Done {
                held = true;
                if let Some(k) = &p.record {
                    records.remove(k);
                }
            }
        }
        if !records.is_empty()
            && let Err(e) = retry(self.deadline, || self.aws.tag_api(api_id, &records)).await
        {
            held = true;
            let message = format!("recording ownership on REST API {api_id}: {e}");
            for (i, p) in self.plan.integrations.iter().enumerate() {
                if p.record.as_ref().is_some_and(|k| records.contains_key(k)) {
                    self.outcomes[i] = Outcome::Failed(message.clone());
                }
            }
        }
        let mut ids: BTreeMap<String, String> = live
            .resources
            .iter()
            .filter(|r| !r.id.is_empty())
            .map(|r| (r.path.clone(), r.id.clone()))
            .collect();
        for (i, (p, ai)) in self.plan.integrations.iter().zip(self.ais).enumerate() {
            if self.outcomes[i] != Outcome::Done || p.refusal.is_some() || p.writes.is_empty() {
                continue;
            }
            if crate::shutdown::requested() {
                self.outcomes[i] = Outcome::NotStarted;
                held = true;
                continue;
            }
            let ai = p.write_as.as_deref().unwrap_or(ai);
            let result = write_method(self.aws, api_id, ai, &p.writes, &mut ids, self.deadline)
                .instrument(reconcile_span(Kind::ApiIntegration, &ai.meta.name))
                .await;
            if let Err(e) = result {
                held = true;
                self.outcomes[i] = Outcome::Failed(format!(
                    "{} {} on REST API {api_id}: {e}",
                    ai.http_method, ai.path
                ));
            }
        }
        held |= self.prune().await;
        self.deploy(held).await;
    }

    /// Deletes the pruned methods, then their records in one UntagResource (a record whose method
    /// could not be deleted stays, so a later pass tries again). Whether any write failed.
    async fn prune(&mut self) -> bool {
        let api_id = self.plan.api_id.as_str();
        let mut failed = false;
        let mut untag = Vec::new();
        for (j, p) in self.plan.prunes.iter().enumerate() {
            if let Some((res, verb, path)) = &p.delete_method
                && let Err(e) =
                    delete_idempotent(self.deadline, || self.aws.delete_method(api_id, res, verb)).await
            {
                failed = true;
                self.prune_outcomes[j] =
                    Outcome::Failed(format!("deleting method {verb} {path} on REST API {api_id}: {e}"));
                continue;
            }
            untag.push(j);
        }
        if untag.is_empty() {
            return failed;
        }
        let keys: Vec<String> = untag
            .iter()
            .map(|&j| self.plan.prunes[j].record_key.clone())
            .collect();
        if let Err(e) = retry(self.deadline, || self.aws.untag_api(api_id, &keys)).await {
            for &j in &untag {
                self.prune_outcomes[j] =
                    Outcome::Failed(format!("removing ownership records from REST API {api_id}: {e}"));
            }
            return true;
        }
        failed
    }

    /// Deploys each stage the plan lists (at most one CreateDeployment per stage), unless a write
    /// on the API failed or was not made in this pass (`held`).
    async fn deploy(&mut self, held: bool) {
        let api_id = self.plan.api_id.as_str();
        let description = self.plan.description.as_str();
        for stage in &self.plan.stages {
            let name = stage.name.as_str();
            if let Some(r) = &stage.rollout {
                if !r.writes() {
                    continue;
                }
                if held {
                    let why = format!(
                        "stage {name} not rolled out: a write on REST API {api_id} failed in this pass; the next pass does it"
                    );
                    self.fail_stage(stage, &why);
                } else if let Err(e) = self.roll_stage(name, r).await {
                    self.fail_stage(
                        stage,
                        &format!("canary rollout on stage {name} of REST API {api_id}: {e}"),
                    );
                }
                continue;
            }
            if held {
                let why = format!(
                    "stage {name} not deployed: a write on REST API {api_id} failed in this pass, \
                     and a stage never serves a half-written configuration; the next pass deploys it"
                );
                self.fail_stage(stage, &why);
                tracing::warn!(api = %api_id, stage = %name, "deployment held back: a write on the API failed");
                continue;
            }
            if !self.plan.deployable {
                // API Gateway refuses to deploy an API without methods; the stage keeps serving
                // its last deployment.
                for &j in &stage.prunes {
                    if self.prune_outcomes[j] == Outcome::Done {
                        self.prune_outcomes[j] = Outcome::Note(format!(
                            "stage {name} not redeployed: REST API {api_id} has no methods left to deploy"
                        ));
                    }
                }
                tracing::warn!(api = %api_id, stage = %name, "not redeployed: the API has no methods left");
                continue;
            }
            let deployed = create_once(
                self.deadline,
                || self.aws.deploy(api_id, name, description),
                || async {
                    // A deployment whose answer was lost is found on the stage by its description.
                    let Some(dep) = self.aws.stage_deployment(api_id, name).await? else {
                        return Ok(None);
                    };
                    let d = self.aws.deployment_description(api_id, &dep).await?;
                    Ok((d.as_deref() == Some(description)).then_some(()))
                },
            )
            .await;
            if let Err(e) = deployed {
                self.fail_stage(
                    stage,
                    &format!("deployment of REST API {api_id} to stage {name}: {e}"),
                );
            }
        }
    }

    /// A stage's rollout step: the progress tag on the REST API first, then the stage write.
    async fn roll_stage(&self, name: &str, r: &StageRolloutPlan) -> Result<(), AwsError> {
        let api_id = self.plan.api_id.as_str();
        let description = self.plan.description.as_str();
        if let Some(p) = &r.plan.progress {
            let tag = BTreeMap::from([(stage_tag_key(name), p.to_tag())]);
            retry(self.deadline, || self.aws.tag_api(api_id, &tag)).await?;
        }
        // A deployment whose answer was lost is found by its description (on the stage, or on
        // its canary).
        let deployed_to = |canary: bool| async move {
            let stages = self.aws.stages(api_id).await?;
            let Some(stage) = stages.into_iter().find(|s| s.name == name) else {
                return Ok(None);
            };
            let dep = if canary {
                stage.canary.map(|(id, _)| id)
            } else {
                stage.deployment_id
            };
            let Some(dep) = dep else { return Ok(None) };
            let d = self.aws.deployment_description(api_id, &dep).await?;
            Ok((d.as_deref() == Some(description)).then_some(()))
        };
        for op in &r.ops {
            self.stage_op(name, op, &deployed_to).await?;
        }
        let m = crate::metrics::global();
        match r.plan.ended {
            Some(Ended::Promoted) => m.rollout_ended("promoted"),
            Some(Ended::RolledBack) => m.rollout_ended("rolled_back"),
            None => {}
        }
        tracing::info!(api = %api_id, stage = %name, ops = ?r.ops, phase = ?r.plan.view.phase, "stage rolled");
        Ok(())
    }

    /// One stage write of a rollout. `deployed_to(canary)` finds a deployment of the planned
    /// configuration whose answer was lost.
    async fn stage_op<F, Fut>(&self, name: &str, op: &StageOp, deployed_to: &F) -> Result<(), AwsError>
    where
        F: Fn(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Option<()>, AwsError>>,
    {
        let api_id = self.plan.api_id.as_str();
        let description = self.plan.description.as_str();
        let patch = |ops: Vec<(&'static str, &'static str, Option<String>)>| async move {
            retry(self.deadline, || self.aws.patch_stage(api_id, name, &ops)).await
        };
        match op {
            StageOp::Deploy => {
                create_once(
                    self.deadline,
                    || self.aws.deploy(api_id, name, description),
                    || deployed_to(false),
                )
                .await?;
                let has_canary = retry(self.deadline, || self.aws.stages(api_id))
                    .await?
                    .iter()
                    .any(|s| s.name == name && s.canary.is_some());
                if has_canary {
                    patch(vec![("remove", "/canarySettings", None)]).await?;
                }
            }
            StageOp::Canary(w) | StageOp::CanaryWith(w, _, _) => {
                let overrides = match op {
                    StageOp::CanaryWith(_, k, v) => BTreeMap::from([(k.clone(), v.clone())]),
                    _ => BTreeMap::new(),
                };
                create_once(
                    self.deadline,
                    || self.aws.deploy_canary(api_id, name, description, *w, &overrides),
                    || deployed_to(true),
                )
                .await?;
                // A lost create found the canary: make sure it carries the planned share.
                patch(vec![(
                    "replace",
                    "/canarySettings/percentTraffic",
                    Some(w.to_string()),
                )])
                .await?;
            }
            StageOp::Percent(w) => {
                patch(vec![(
                    "replace",
                    "/canarySettings/percentTraffic",
                    Some(w.to_string()),
                )])
                .await?;
            }
            StageOp::Promote(id) => {
                patch(vec![
                    ("replace", "/deploymentId", Some(id.clone())),
                    ("remove", "/canarySettings", None),
                ])
                .await?;
            }
            StageOp::PromoteWith(id, k, v) => {
                let path = format!("/variables/{k}");
                let ops = [
                    ("replace", "/deploymentId", Some(id.clone())),
                    ("replace", path.as_str(), Some(v.clone())),
                    ("remove", "/canarySettings", None),
                ];
                retry(self.deadline, || self.aws.patch_stage(api_id, name, &ops)).await?;
            }
            StageOp::RemoveCanary => patch(vec![("remove", "/canarySettings", None)]).await?,
            StageOp::Variable(k, v) => {
                let path = format!("/variables/{k}");
                let ops = [("replace", path.as_str(), Some(v.clone()))];
                retry(self.deadline, || self.aws.patch_stage(api_id, name, &ops)).await?;
            }
        }
        Ok(())
    }

    /// Marks what a stage's deployment was for as failed (what failed or was not started on its
    /// own keeps its own reason).
    fn fail_stage(&mut self, stage: &crate::plan::StagePlan, why: &str) {
        for &i in &stage.integrations {
            if self.outcomes[i] == Outcome::Done {
                self.outcomes[i] = Outcome::Failed(why.to_owned());
            }
        }
        for &j in &stage.prunes {
            if self.prune_outcomes[j] == Outcome::Done {
                self.prune_outcomes[j] = Outcome::Failed(why.to_owned());
            }
        }
    }
}

/// Carries out one integration's writes in order. `ids` maps paths to resource ids and follows
/// every resource created, so a path part another integration made earlier in the pass is not
/// created twice. Creates that are not safe to repeat go through [`create_once`].
async fn write_method(
    aws: &Aws,
    api_id: &str,
    ai: &ApiIntegration,
    writes: &[MethodOp],
    ids: &mut BTreeMap<String, String>,
    deadline: Instant,
) -> Result<(), AwsError> {
    let verb = ai.http_method.as_str();
    let resource = |ids: &BTreeMap<String, String>, path: &str| {
        ids.get(path).cloned().ok_or_else(|| {
            AwsError::permanent(
                "apigateway",
                "GetResources",
                "NotFoundException",
                if path == "/" {
                    "the API has no root resource".to_owned()
                } else {
                    format!("the API has no resource {path}")
                },
            )
        })
    };
    for op in writes {
        match op {
            MethodOp::CreateResource { path } => {
                if ids.contains_key(path) {
                    continue;
                }
                let (parent_path, part) = path.rsplit_once('/').unwrap_or(("", path));
                let parent = resource(ids, if parent_path.is_empty() { "/" } else { parent_path })?;
                let id = create_once(
                    deadline,
                    || aws.create_resource(api_id, &parent, part),
                    || async {
                        // A ConflictException or a lost answer: the path part may exist; read it.
                        let live = aws.resources(api_id).await?;
                        Ok(live.into_iter().find(|r| &r.path == path).map(|r| r.id))
                    },
                )
                .await?;
                ids.insert(path.clone(), id);
            }
            MethodOp::PutMethod => {
                let res = resource(ids, &ai.path)?;
                let validator = match ai.method.request_validator.as_deref() {
                    None | Some("NONE") => None,
                    Some(checks) => Some(retry(deadline, || aws.ensure_validator(api_id, checks)).await?),
                };
                create_once(
                    deadline,
                    || {
                        aws.put_method(
                            api_id,
                            &res,
                            verb,
                            &ai.authorization_type,
                            &ai.method,
                            validator.clone(),
                        )
                    },
                    || async { Ok(aws.method_exists(api_id, &res, verb).await?.then_some(())) },
                )
                .await?;
            }
            MethodOp::PatchMethod(patches) => {
                let res = resource(ids, &ai.path)?;
                let checks = patches.iter().find_map(|p| match p {
                    crate::plan::integrations::MethodPatch::Validator(c) => c.clone(),
                    _ => None,
                });
                let validator = match checks {
                    Some(c) => Some(retry(deadline, || aws.ensure_validator(api_id, &c)).await?),
                    None => None,
                };
                retry(deadline, || {
                    aws.patch_method(api_id, &res, verb, patches, validator.as_deref())
                })
                .await?;
            }
            MethodOp::SetAuthorization => {
                let res = resource(ids, &ai.path)?;
                retry(deadline, || {
                    aws.set_method_auth(api_id, &res, verb, &ai.authorization_type)
                })
                .await?;
            }
            MethodOp::DeleteIntegrationResponse { status_code } => {
                let res = resource(ids, &ai.path)?;
                delete_idempotent(deadline, || {
                    aws.delete_integration_response(api_id, &res, verb, status_code)
                })
                .await?;
            }
            MethodOp::DeleteMethodResponse { status_code } => {
                let res = resource(ids, &ai.path)?;
                delete_idempotent(deadline, || {
                    aws.delete_method_response(api_id, &res, verb, status_code)
                })
                .await?;
            }
            MethodOp::PutIntegration => {
                let res = resource(ids, &ai.path)?;
                retry(deadline, || {
                    aws.put_integration(api_id, &res, verb, &ai.integration)
                })
                .await?;
            }
            MethodOp::PutMethodResponse { status_code } => {
                let res = resource(ids, &ai.path)?;
                create_once(
                    deadline,
                    || aws.put_method_response(api_id, &res, verb, status_code),
                    || async {
                        Ok(aws
                            .method_response_exists(api_id, &res, verb, status_code)
                            .await?
                            .then_some(()))
                    },
                )
                .await?;
            }
            MethodOp::PutIntegrationResponse { status_code } => {
                let res = resource(ids, &ai.path)?;
                let Some(r) = ai.responses.iter().find(|r| &r.status_code == status_code) else {
                    continue;
                };
                retry(deadline, || aws.put_integration_response(api_id, &res, verb, r)).await?;
            }
        }
    }
    Ok(())
}

/// An integration's report: its plan, and what became of it.
fn integration_report(p: &IntegrationPlan, outcome: &Outcome, mode: Mode) -> ResourceReport {
    let mut rep = report_of(p.key.clone(), p.action, p.changes.clone(), p.id.clone(), mode);
    if p.drifted {
        rep.status = Status::Drifted;
    }
    if p.action == Action::Noop && p.record.is_some() {
        // Only its ownership record is written: an adoption (SPEC §11).
        rep.message = Some(crate::plan::ADOPTION_MESSAGE.into());
    }
    if let Some(why) = &p.refusal {
        rep.status = Status::Failed;
        rep.message = Some(why.clone());
        return rep;
    }
    match outcome {
        Outcome::Done => rep,
        Outcome::Note(m) => {
            rep.message = Some(m.clone());
            rep
        }
        Outcome::Failed(m) => {
            rep.status = Status::Failed;
            rep.message = Some(m.clone());
            rep
        }
        Outcome::NotStarted => not_started(p.key.clone()),
    }
}

/// The reports of the integrations on a stage with a rollout: `Progressing` while it bakes,
/// `Degraded` once rolled back (`Pending` in a diff), failed on an alarm that does not exist or
/// could not be read; the view in `rollouts`, and when the next step is due.
fn judge_stage(
    mode: Mode,
    r: &StageRolloutPlan,
    on_stage: &[usize],
    reps: &mut [ResourceReport],
    alarms_unread: Option<&String>,
) {
    // What the stage's writes did to its rollout, told once (on its first integration) when
    // they were carried out.
    let mut moved = if mode == Mode::Apply && r.plan.error.is_none() {
        r.plan.moves()
    } else {
        None
    };
    for &i in on_stage {
        let Some(rep) = reps.get_mut(i) else { continue };
        rep.rollouts.push(r.plan.view.clone());
        if rep.status == Status::Failed {
            continue;
        }
        if let Some(view) = rep.rollouts.last_mut() {
            view.moved = moved.take();
        }
        if let Some(e) = &r.plan.error {
            rep.status = Status::Failed;
            rep.message = Some(alarms_unread.cloned().unwrap_or_else(|| e.clone()));
            continue;
        }
        rep.requeue_after = r.plan.requeue_after;
        match &r.plan.health {
            Health::Degraded(why) => {
                rep.status = if mode == Mode::Diff {
                    Status::Pending
                } else {
                    Status::Degraded
                };
                rep.message = Some(why.clone());
            }
            _ if mode == Mode::Diff && r.writes() => rep.status = Status::Pending,
            Health::Progressing => rep.status = Status::Progressing,
            Health::Healthy => {}
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A pruned record's report.
fn prune_report(p: &PrunePlan, outcome: &Outcome, mode: Mode) -> ResourceReport {
    let mut rep = report_of(
        p.key.clone(),
        Action::Delete,
        p.changes.clone(),
        Some(p.id.clone()),
        mode,
    );
    rep.message.clone_from(&p.message);
    match outcome {
        Outcome::Failed(m) => {
            rep.status = Status::Failed;
            rep.message = Some(m.clone());
        }
        Outcome::Note(m) => rep.message = Some(m.clone()),
        Outcome::Done | Outcome::NotStarted => {}
    }
    rep
}
