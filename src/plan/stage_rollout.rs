//! Pure: one stage's canary rollout (SPEC §9 "One rollout for the API and the workflow"). A
//! changed API configuration goes to the stage's canary (`canarySettings.percentTraffic`) instead
//! of replacing the stage's deployment, and is promoted after the bake time or removed when an
//! alarm fires.
//!
//! The steps are the alias rollout's ([`super::rollout::plan_alias`]), not written twice: a
//! configuration plays the part of a version (its number is [`config_number`] of the deployment
//! description, which holds the configuration's fingerprint), the stage's base deployment and its
//! canary play the alias's two routes. The alias plan's routing writes are then translated into
//! stage writes ([`StageOp`]). The progress lives in a tag of the REST API,
//! `sfn-operator.dev/rollout.stage.STAGE`, in the alias rollout's format, written before the
//! stage, so any operator instance resumes the rollout without restarting or skipping a bake.
//!
//! Must not: call AWS or read a clock (`now` is given).

use std::collections::BTreeMap;

use super::rollout::{
    AliasInput, AliasOp, AliasPlan, Health, Phase, Progress, RolloutView, plan_alias, tag_key,
};
use crate::desired::{Alias, AliasTarget, Rollout, RolloutStrategy};
use crate::live::{AlarmState, LiveStage};

/// The progress tag key of `stage` on its REST API (`sfn-operator.dev/rollout.stage.STAGE`).
pub fn stage_tag_key(stage: &str) -> String {
    tag_key(&format!("stage.{stage}"))
}

/// The number standing for a configuration (a deployment's description, or its id when it has
/// none): FNV-1a, never 0.
pub fn config_number(description: &str) -> u32 {
    let h = description.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h.max(1)
}

/// What one stage's pass sees.
#[derive(Debug, Clone)]
pub struct StageInput<'a> {
    pub stage: &'a str,
    pub rollout: &'a Rollout,
    pub live: &'a LiveStage,
    /// Deployment id → description, for the stage's deployment and its canary's.
    pub descriptions: &'a BTreeMap<String, Option<String>>,
    /// The description of a deployment of the configuration the API will hold.
    pub target: &'a str,
    pub progress: Option<&'a Progress>,
    pub alarms: &'a BTreeMap<String, AlarmState>,
    /// Unix seconds.
    pub now: u64,
}

/// One write on the stage, after the progress tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOp {
    /// CreateDeployment to the stage itself (a removed canary, if any, goes with it).
    Deploy,
    /// CreateDeployment to the stage's canary at this share.
    Canary(u8),
    /// UpdateStage `/canarySettings/percentTraffic`.
    Percent(u8),
    /// UpdateStage: the stage's deployment replaced by the canary's, the canary removed.
    Promote(String),
    /// UpdateStage `remove /canarySettings` (a roll back).
    RemoveCanary,
    /// UpdateStage `/variables/NAME` = value (the version the stage's own deployment starts).
    Variable(String, String),
    /// CreateDeployment to the canary at this share, overriding `NAME` with the value (the
    /// version the canary's requests start).
    CanaryWith(u8, String, String),
    /// UpdateStage: the canary's deployment made the stage's, `/variables/NAME` = value, the
    /// canary removed.
    PromoteWith(String, String, String),
}

/// What to do for one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRolloutPlan {
    /// The alias-shaped plan: progress to write, health, requeue, the view.
    pub plan: AliasPlan,
    /// The stage writes, in order, after the progress tag.
    pub ops: Vec<StageOp>,
}

impl StageRolloutPlan {
    /// Whether the plan writes anything.
    pub fn writes(&self) -> bool {
        !self.ops.is_empty() || self.plan.progress.is_some()
    }
}

fn number_of(input: &StageInput<'_>, deployment: &str) -> u32 {
    let description = input.descriptions.get(deployment).cloned().flatten();
    config_number(description.as_deref().unwrap_or(deployment))
}

/// Whether a stage with `rollout` is planned here (else it is deployed at once as before).
pub fn applies(rollout: Option<&Rollout>) -> bool {
    rollout.is_some_and(|r| r.strategy != RolloutStrategy::AllAtOnce)
}

/// Plans one stage; `None` when there is nothing to roll out and nothing in flight (the stage
/// serves the configuration, with no canary and no progress).
pub fn plan_stage(input: &StageInput<'_>) -> Option<StageRolloutPlan> {
    let target = config_number(input.target);
    let base = input.live.deployment_id.as_deref().map(|d| number_of(input, d));
    let canary = input.live.canary.as_ref().map(|(id, pct)| {
        (
            id.clone(),
            number_of(input, id),
            pct.round().clamp(0.0, 100.0) as u8,
        )
    });
    let live: Vec<(u32, u8)> = match (base, &canary) {
        (None, _) => Vec::new(),
        (Some(b), Some((_, c, w))) if *w > 0 && *c != b => vec![(*c, *w), (b, 100 - *w)],
        (Some(b), _) => vec![(b, 100)],
    };
    if base == Some(target) && canary.is_none() && input.progress.is_none() {
        return None;
    }
    let alias = Alias {
        name: input.stage.to_owned(),
        description: None,
        target: AliasTarget::Rollout(input.rollout.clone()),
    };
    let mut plan = plan_alias(&AliasInput {
        alias: &alias,
        live: (!live.is_empty()).then_some(live.as_slice()),
        progress: input.progress,
        target,
        alarms: input.alarms,
        now: input.now,
    });
    let canary_holds_target = canary.as_ref().is_some_and(|(_, c, _)| *c == target);
    let op = match &plan.op {
        None => None,
        Some(AliasOp::Create(_)) => Some(StageOp::Deploy),
        Some(AliasOp::Update(routing)) => match routing.as_slice() {
            [(v, 100)] if *v == target => Some(match &canary {
                Some((id, _, _)) if canary_holds_target => StageOp::Promote(id.clone()),
                _ => StageOp::Deploy,
            }),
            [(_, 100)] => canary.as_ref().map(|_| StageOp::RemoveCanary),
            [(_, w), _] if canary_holds_target => Some(StageOp::Percent(*w)),
            [(_, w), _] => Some(StageOp::Canary(*w)),
            _ => None,
        },
    };
    reword(&mut plan, input.stage);
    Some(StageRolloutPlan {
        plan,
        ops: op.into_iter().collect(),
    })
}

/// What a stage whose integration starts an alias that is rolling out sees (SPEC §9, one rollout
/// for the API and the workflow).
#[derive(Debug, Clone)]
pub struct JointInput<'a> {
    pub stage: &'a str,
    pub live: &'a LiveStage,
    pub descriptions: &'a BTreeMap<String, Option<String>>,
    /// The description of a deployment of the configuration the API will hold.
    pub target: &'a str,
    /// The stage variable the integration's template reads the version from.
    pub variable: &'a str,
    /// The alias's rollout as the machine's pass left it.
    pub view: &'a RolloutView,
    pub now: u64,
}

/// A stage that follows its alias's rollout: the stage's own deployment starts `from` (its
/// variable), the canary (a deployment of the API's configuration, the variable overridden) starts
/// `to` and carries the alias's share; promoted with the alias, removed with its roll back. So a
/// request the canary serves runs the new version and one the stage serves runs the old one.
/// `None` when the alias is not rolling out (nor was in this pass): the stage's own rollout, if
/// any, applies.
pub fn plan_joint(input: &JointInput<'_>) -> Option<StageRolloutPlan> {
    let view = input.view;
    let var = input.variable.to_owned();
    let live = input.live;
    let target = config_number(input.target);
    let (to, from) = (view.to.to_string(), view.from.map(|f| f.to_string()));
    let canary_ok = live.canary.as_ref().is_some_and(|(id, _)| {
        let description = input.descriptions.get(id).cloned().flatten();
        config_number(description.as_deref().unwrap_or(id)) == target
            && live.canary_overrides.get(&var) == Some(&to)
    });
    let variable = live.variables.get(&var);
    let mut ops = Vec::new();
    let health = match view.phase {
        Phase::Progressing => {
            let from = from?;
            let share = view.weights.get(&view.to).copied().unwrap_or(0);
            if variable != Some(&from) {
                ops.push(StageOp::Variable(var.clone(), from));
            }
            match &live.canary {
                Some((_, pct)) if canary_ok => {
                    if pct.round() as u8 != share {
                        ops.push(StageOp::Percent(share));
                    }
                }
                _ => ops.push(StageOp::CanaryWith(share, var, to)),
            }
            Health::Progressing
        }
        Phase::Promoted => {
            let joint_canary = live.canary_overrides.contains_key(&var);
            if !joint_canary && variable.is_none_or(|v| *v == to) {
                return None;
            }
            match &live.canary {
                Some((id, _)) if canary_ok => ops.push(StageOp::PromoteWith(id.clone(), var, to)),
                _ => {
                    let base = live.deployment_id.as_deref().map(|d| {
                        let description = input.descriptions.get(d).cloned().flatten();
                        config_number(description.as_deref().unwrap_or(d))
                    });
                    if base != Some(target) {
                        ops.push(StageOp::Deploy);
                    } else if live.canary.is_some() {
                        ops.push(StageOp::RemoveCanary);
                    }
                    if variable != Some(&to) {
                        ops.push(StageOp::Variable(var, to));
                    }
                }
            }
            Health::Healthy
        }
        Phase::RolledBack | Phase::Aborted => {
            if live.canary.is_some() {
                ops.push(StageOp::RemoveCanary);
            }
            if let Some(from) = from.filter(|f| variable != Some(f)) {
                ops.push(StageOp::Variable(var, from));
            }
            Health::Degraded(format!(
                "stage {} follows alias {:?}, rolled back with it: {}",
                input.stage,
                view.alias,
                view.message.as_deref().unwrap_or("rolled back")
            ))
        }
    };
    let mut view = view.clone();
    view.alias = format!("stage {} with alias {}", input.stage, view.alias);
    if let Health::Degraded(why) = &health {
        view.message = Some(why.clone());
    }
    let requeue_after = match health {
        Health::Progressing => Some(
            view.next_step_at
                .map_or(super::rollout::ALARM_POLL_SECS, |at| {
                    at.saturating_sub(input.now).max(1)
                })
                .min(super::rollout::ALARM_POLL_SECS),
        ),
        _ => None,
    };
    Some(StageRolloutPlan {
        plan: AliasPlan {
            progress: None,
            op: None,
            requeue_after,
            health,
            ended: None,
            error: None,
            view,
        },
        ops,
    })
}

/// The alias plan's words made the stage's: the view names the stage, a held message says what
/// the stage serves.
fn reword(plan: &mut AliasPlan, stage: &str) {
    plan.view.alias = format!("stage {stage}");
    let fix = |m: &str| {
        m.replace(
            &format!("rollout of alias {stage:?}"),
            &format!("rollout of stage {stage:?}"),
        )
    };
    plan.error = plan.error.as_deref().map(fix);
    plan.view.message = plan.view.message.as_deref().map(fix);
    if let Health::Degraded(_) = plan.health {
        let p = &plan.view;
        let why = match p.phase {
            Phase::Aborted => format!(
                "canary of the new API configuration on stage {stage} aborted at step {}; the stage serves its previous deployment",
                p.step
            ),
            _ => {
                let alarm = plan
                    .progress
                    .as_ref()
                    .and_then(|pr| pr.alarm.clone())
                    .or_else(|| {
                        p.alarms
                            .iter()
                            .find(|(_, s)| **s == Some(AlarmState::Alarm))
                            .map(|(a, _)| a.clone())
                    })
                    .unwrap_or_else(|| "?".into());
                format!(
                    "canary of the new API configuration on stage {stage} rolled back at step {} by alarm {alarm:?} in ALARM; \
                     the stage serves its previous deployment; this configuration is not tried again until the manifest changes",
                    p.step
                )
            }
        };
        plan.health = Health::Degraded(why.clone());
        plan.view.message = Some(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(strategy: RolloutStrategy) -> Rollout {
        Rollout {
            strategy,
            percent: 20,
            interval_secs: 60,
            alarms: vec!["api-5xx".into()],
        }
    }

    struct World {
        live: LiveStage,
        descriptions: BTreeMap<String, Option<String>>,
        progress: Option<Progress>,
        alarms: BTreeMap<String, AlarmState>,
    }

    impl World {
        fn new() -> World {
            World {
                live: LiveStage {
                    name: "prod".into(),
                    deployment_id: Some("d1".into()),
                    canary: None,
                    variables: BTreeMap::new(),
                    canary_overrides: BTreeMap::new(),
                    settings: Default::default(),
                },
                descriptions: BTreeMap::from([("d1".into(), Some("config A".into()))]),
                progress: None,
                alarms: BTreeMap::from([("api-5xx".into(), AlarmState::Ok)]),
            }
        }

        fn plan(&self, r: &Rollout, target: &str, now: u64) -> Option<StageRolloutPlan> {
            plan_stage(&StageInput {
                stage: "prod",
                rollout: r,
                live: &self.live,
                descriptions: &self.descriptions,
                target,
                progress: self.progress.as_ref(),
                alarms: &self.alarms,
                now,
            })
        }

        /// Carries a plan out on the world (as the sandbox would).
        fn apply(&mut self, p: &StageRolloutPlan, new_id: &str, target: &str) {
            if let Some(pr) = &p.plan.progress {
                self.progress = Some(pr.clone());
            }
            for op in &p.ops {
                self.apply_op(op, new_id, target);
            }
        }

        fn apply_op(&mut self, op: &StageOp, new_id: &str, target: &str) {
            match op {
                StageOp::Variable(k, v) => {
                    self.live.variables.insert(k.clone(), v.clone());
                }
                StageOp::CanaryWith(w, k, v) => {
                    self.descriptions.insert(new_id.into(), Some(target.into()));
                    self.live.canary = Some((new_id.into(), f64::from(*w)));
                    self.live.canary_overrides = BTreeMap::from([(k.clone(), v.clone())]);
                }
                StageOp::PromoteWith(id, k, v) => {
                    self.live.deployment_id = Some(id.clone());
                    self.live.variables.insert(k.clone(), v.clone());
                    self.live.canary = None;
                    self.live.canary_overrides.clear();
                }
                StageOp::Deploy => {
                    self.descriptions.insert(new_id.into(), Some(target.into()));
                    self.live.deployment_id = Some(new_id.into());
                    self.live.canary = None;
                }
                StageOp::Canary(w) => {
                    self.descriptions.insert(new_id.into(), Some(target.into()));
                    self.live.canary = Some((new_id.into(), f64::from(*w)));
                }
                StageOp::Percent(w) => {
                    if let Some(c) = &mut self.live.canary {
                        c.1 = f64::from(*w);
                    }
                }
                StageOp::Promote(id) => {
                    self.live.deployment_id = Some(id.clone());
                    self.live.canary = None;
                }
                StageOp::RemoveCanary => self.live.canary = None,
            }
        }
    }

    #[test]
    fn a_canary_bakes_then_is_promoted_and_the_next_pass_does_nothing() {
        let r = rollout(RolloutStrategy::Canary);
        let mut w = World::new();
        assert_eq!(
            w.plan(&r, "config A", 100),
            None,
            "serving the configuration: nothing"
        );
        let p = w.plan(&r, "config B", 100).unwrap();
        assert_eq!(p.ops, vec![StageOp::Canary(20)]);
        assert_eq!(p.plan.health, Health::Progressing);
        w.apply(&p, "d2", "config B");
        let p = w.plan(&r, "config B", 130).unwrap();
        assert!(!p.writes(), "{p:?}");
        assert_eq!(p.plan.requeue_after, Some(5), "alarms are polled during the bake");
        let p = w.plan(&r, "config B", 161).unwrap();
        assert_eq!(p.ops, vec![StageOp::Promote("d2".into())]);
        w.apply(&p, "-", "config B");
        let p = w.plan(&r, "config B", 200).unwrap();
        assert!(!p.writes(), "{p:?}");
        assert_eq!(p.plan.health, Health::Healthy);
    }

    #[test]
    fn linear_raises_the_share_and_an_alarm_removes_the_canary_and_holds() {
        let r = rollout(RolloutStrategy::Linear);
        let mut w = World::new();
        let p = w.plan(&r, "config B", 100).unwrap();
        w.apply(&p, "d2", "config B");
        let p = w.plan(&r, "config B", 161).unwrap();
        assert_eq!(p.ops, vec![StageOp::Percent(40)]);
        w.apply(&p, "-", "config B");
        w.alarms.insert("api-5xx".into(), AlarmState::Alarm);
        let p = w.plan(&r, "config B", 170).unwrap();
        assert_eq!(p.ops, vec![StageOp::RemoveCanary]);
        let Health::Degraded(why) = &p.plan.health else {
            panic!("{p:?}")
        };
        assert!(
            why.contains("stage prod rolled back at step 2 by alarm \"api-5xx\""),
            "{why}"
        );
        w.apply(&p, "-", "config B");
        // Held: the alarm back to OK does not start the same configuration again.
        w.alarms.insert("api-5xx".into(), AlarmState::Ok);
        let p = w.plan(&r, "config B", 400).unwrap();
        assert!(!p.writes(), "{p:?}");
        assert!(matches!(p.plan.health, Health::Degraded(_)));
        // A new configuration starts a new canary.
        let p = w.plan(&r, "config C", 500).unwrap();
        assert_eq!(p.ops, vec![StageOp::Canary(20)]);
    }

    #[test]
    fn a_lost_stage_write_is_redone_and_the_bake_starts_then() {
        let r = rollout(RolloutStrategy::Canary);
        let mut w = World::new();
        let p = w.plan(&r, "config B", 100).unwrap();
        // Killed after the tag, before the canary.
        w.progress = p.plan.progress.clone();
        let p = w.plan(&r, "config B", 150).unwrap();
        assert_eq!(p.ops, vec![StageOp::Canary(20)]);
        assert_eq!(p.plan.progress.as_ref().map(|p| p.since), Some(150));
        assert_eq!(stage_tag_key("prod"), "sfn-operator.dev/rollout.stage.prod");
    }

    fn view(phase: Phase, weights: &[(u32, u8)]) -> RolloutView {
        RolloutView {
            alias: "live".into(),
            from: Some(1),
            to: 2,
            weights: weights.iter().copied().collect(),
            phase,
            step: 1,
            next_step_at: Some(160),
            alarms: BTreeMap::new(),
            message: None,
            moved: None,
        }
    }

    fn joint(w: &World, v: &RolloutView) -> Option<StageRolloutPlan> {
        plan_joint(&JointInput {
            stage: "prod",
            live: &w.live,
            descriptions: &w.descriptions,
            target: "config A",
            variable: "sfn_m_live",
            view: v,
            now: 100,
        })
    }

    #[test]
    fn a_joint_stage_follows_its_alias_with_the_version_in_a_stage_variable() {
        let mut w = World::new();
        assert_eq!(
            joint(&w, &view(Phase::Promoted, &[(2, 100)])),
            None,
            "nothing in flight"
        );
        let v = view(Phase::Progressing, &[(2, 20), (1, 80)]);
        let p = joint(&w, &v).unwrap();
        assert_eq!(
            p.ops,
            vec![
                StageOp::Variable("sfn_m_live".into(), "1".into()),
                StageOp::CanaryWith(20, "sfn_m_live".into(), "2".into())
            ]
        );
        assert_eq!(p.plan.health, Health::Progressing);
        assert_eq!(p.plan.requeue_after, Some(5));
        w.apply(&p, "d2", "config A");
        assert!(
            !joint(&w, &v).unwrap().writes(),
            "the same step again writes nothing"
        );
        let p = joint(&w, &view(Phase::Promoted, &[(2, 100)])).unwrap();
        assert_eq!(
            p.ops,
            vec![StageOp::PromoteWith("d2".into(), "sfn_m_live".into(), "2".into())]
        );
        w.apply(&p, "-", "config A");
        assert_eq!(joint(&w, &view(Phase::Promoted, &[(2, 100)])), None);
        // A roll back of the alias removes the canary and keeps the old version on the stage.
        let mut w = World::new();
        let p = joint(&w, &v).unwrap();
        w.apply(&p, "d2", "config A");
        let p = joint(&w, &view(Phase::RolledBack, &[(1, 100)])).unwrap();
        assert_eq!(p.ops, vec![StageOp::RemoveCanary]);
        assert!(matches!(p.plan.health, Health::Degraded(_)));
    }
}
