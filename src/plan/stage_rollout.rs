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

use super::rollout::{AliasInput, AliasOp, AliasPlan, Health, Phase, Progress, plan_alias, tag_key};
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
}

/// What to do for one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRolloutPlan {
    /// The alias-shaped plan: progress to write, health, requeue, the view.
    pub plan: AliasPlan,
    /// The stage write, after the progress tag.
    pub op: Option<StageOp>,
}

impl StageRolloutPlan {
    /// Whether the plan writes anything.
    pub fn writes(&self) -> bool {
        self.op.is_some() || self.plan.progress.is_some()
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
    Some(StageRolloutPlan { plan, op })
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
            match &p.op {
                None => {}
                Some(StageOp::Deploy) => {
                    self.descriptions.insert(new_id.into(), Some(target.into()));
                    self.live.deployment_id = Some(new_id.into());
                    self.live.canary = None;
                }
                Some(StageOp::Canary(w)) => {
                    self.descriptions.insert(new_id.into(), Some(target.into()));
                    self.live.canary = Some((new_id.into(), f64::from(*w)));
                }
                Some(StageOp::Percent(w)) => {
                    if let Some(c) = &mut self.live.canary {
                        c.1 = f64::from(*w);
                    }
                }
                Some(StageOp::Promote(id)) => {
                    self.live.deployment_id = Some(id.clone());
                    self.live.canary = None;
                }
                Some(StageOp::RemoveCanary) => self.live.canary = None,
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
        assert_eq!(p.op, Some(StageOp::Canary(20)));
        assert_eq!(p.plan.health, Health::Progressing);
        w.apply(&p, "d2", "config B");
        let p = w.plan(&r, "config B", 130).unwrap();
        assert!(!p.writes(), "{p:?}");
        assert_eq!(p.plan.requeue_after, Some(5), "alarms are polled during the bake");
        let p = w.plan(&r, "config B", 161).unwrap();
        assert_eq!(p.op, Some(StageOp::Promote("d2".into())));
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
        assert_eq!(p.op, Some(StageOp::Percent(40)));
        w.apply(&p, "-", "config B");
        w.alarms.insert("api-5xx".into(), AlarmState::Alarm);
        let p = w.plan(&r, "config B", 170).unwrap();
        assert_eq!(p.op, Some(StageOp::RemoveCanary));
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
        assert_eq!(p.op, Some(StageOp::Canary(20)));
    }

    #[test]
    fn a_lost_stage_write_is_redone_and_the_bake_starts_then() {
        let r = rollout(RolloutStrategy::Canary);
        let mut w = World::new();
        let p = w.plan(&r, "config B", 100).unwrap();
        // Killed after the tag, before the canary.
        w.progress = p.plan.progress.clone();
        let p = w.plan(&r, "config B", 150).unwrap();
        assert_eq!(p.op, Some(StageOp::Canary(20)));
        assert_eq!(p.plan.progress.as_ref().map(|p| p.since), Some(150));
        assert_eq!(stage_tag_key("prod"), "sfn-operator.dev/rollout.stage.prod");
    }
}
