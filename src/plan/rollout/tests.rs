use super::*;

fn alias(strategy: RolloutStrategy, percent: u8) -> Alias {
    Alias {
        name: "live".into(),
        description: None,
        target: AliasTarget::Rollout(Rollout {
            strategy,
            percent,
            interval_secs: 60,
            alarms: vec!["errors".into()],
        }),
    }
}

fn input<'a>(
    alias: &'a Alias,
    live: Option<&'a [(u32, u8)]>,
    progress: Option<&'a Progress>,
    target: u32,
    alarms: &'a BTreeMap<String, AlarmState>,
    now: u64,
) -> AliasInput<'a> {
    AliasInput {
        alias,
        live,
        progress,
        target,
        alarms,
        now,
    }
}

fn ok() -> BTreeMap<String, AlarmState> {
    BTreeMap::from([("errors".to_owned(), AlarmState::Ok)])
}

#[test]
fn tag_values_round_trip_and_use_only_allowed_characters() {
    let p = Progress {
        to: 3,
        from: Some(2),
        step: 1,
        since: 1_733_390_000,
        phase: Phase::RolledBack,
        alarm: Some("api errors;5xx".into()),
    };
    let tag = p.to_tag();
    assert!(
        tag.chars()
            .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c)),
        "{tag}"
    );
    let back = Progress::parse(&tag).unwrap();
    assert_eq!(back.alarm.as_deref(), Some("api_errors_5xx"));
    assert_eq!(Progress { alarm: None, ..back }, Progress { alarm: None, ..p });
    assert_eq!(Progress::parse("hello"), None);
}

#[test]
fn a_missing_alias_is_created_on_the_first_version() {
    let a = alias(RolloutStrategy::Canary, 10);
    let alarms = ok();
    let p = plan_alias(&input(&a, None, None, 1, &alarms, 100));
    assert_eq!(p.op, Some(AliasOp::Create(vec![(1, 100)])));
    assert_eq!(p.progress.unwrap().phase, Phase::Promoted);
    assert_eq!(p.requeue_after, None);
}

#[test]
fn a_canary_starts_bakes_and_promotes() {
    let a = alias(RolloutStrategy::Canary, 10);
    let alarms = ok();
    let live = [(1, 100)];
    let start = plan_alias(&input(&a, Some(&live), None, 2, &alarms, 100));
    assert_eq!(start.op, Some(AliasOp::Update(vec![(2, 10), (1, 90)])));
    assert_eq!(start.requeue_after, Some(ALARM_POLL_SECS));
    assert_eq!(start.view.next_step_at, Some(160));
    assert_eq!(start.health, Health::Progressing);
    let tag = start.progress.unwrap();
    let live = [(2, 10), (1, 90)];
    // Within the bake time: nothing to write, due in the rest of it.
    let wait = plan_alias(&input(&a, Some(&live), Some(&tag), 2, &alarms, 130));
    assert_eq!(
        (wait.op, wait.progress, wait.requeue_after),
        (None, None, Some(ALARM_POLL_SECS))
    );
    let no_alarms = Alias {
        target: AliasTarget::Rollout(Rollout {
            strategy: RolloutStrategy::Canary,
            percent: 10,
            interval_secs: 60,
            alarms: vec![],
        }),
        ..a.clone()
    };
    let wait = plan_alias(&input(&no_alarms, Some(&live), Some(&tag), 2, &alarms, 130));
    assert_eq!(wait.requeue_after, Some(30));
    // After it: 100 %.
    let done = plan_alias(&input(&a, Some(&live), Some(&tag), 2, &alarms, 160));
    assert_eq!(done.op, Some(AliasOp::Update(vec![(2, 100)])));
    assert_eq!(done.ended, Some(Ended::Promoted));
    assert_eq!(done.progress.unwrap().phase, Phase::Promoted);
}

#[test]
fn linear_adds_percent_every_interval() {
    let a = alias(RolloutStrategy::Linear, 40);
    let alarms = ok();
    let mut live: Routing = vec![(1, 100)];
    let mut tag: Option<Progress> = None;
    let mut seen = Vec::new();
    let mut now = 0;
    for _ in 0..10 {
        let p = plan_alias(&input(&a, Some(&live), tag.as_ref(), 2, &alarms, now));
        if let Some(t) = p.progress {
            tag = Some(t);
        }
        if let Some(AliasOp::Update(r)) = p.op {
            seen.push(r.clone());
            live = r;
        }
        now += 60;
    }
    assert_eq!(
        seen,
        vec![vec![(2, 40), (1, 60)], vec![(2, 80), (1, 20)], vec![(2, 100)]]
    );
}

#[test]
fn an_alarm_rolls_back_and_holds_until_a_new_version() {
    let a = alias(RolloutStrategy::Canary, 10);
    let firing = BTreeMap::from([("errors".to_owned(), AlarmState::Alarm)]);
    let live = [(2, 10), (1, 90)];
    let tag = Progress {
        to: 2,
        from: Some(1),
        step: 1,
        since: 100,
        phase: Phase::Progressing,
        alarm: None,
    };
    let back = plan_alias(&input(&a, Some(&live), Some(&tag), 2, &firing, 110));
    assert_eq!(back.op, Some(AliasOp::Update(vec![(1, 100)])));
    assert_eq!(back.ended, Some(Ended::RolledBack));
    let Health::Degraded(why) = &back.health else {
        panic!("{back:?}")
    };
    assert!(why.contains("\"errors\"") && why.contains("step 1"), "{why}");
    // Held: the same version is not tried again, even once the alarm is OK.
    let held_tag = back.progress.unwrap();
    let live = [(1, 100)];
    let held = plan_alias(&input(&a, Some(&live), Some(&held_tag), 2, &ok(), 500));
    assert_eq!((held.op, held.progress.is_none()), (None, true));
    assert!(matches!(held.health, Health::Degraded(_)));
    // A new version starts a new rollout from the one serving.
    let next = plan_alias(&input(&a, Some(&live), Some(&held_tag), 3, &ok(), 600));
    assert_eq!(next.op, Some(AliasOp::Update(vec![(3, 10), (1, 90)])));
}

#[test]
fn a_missing_alarm_is_an_error_naming_it_and_writes_nothing() {
    let a = alias(RolloutStrategy::Canary, 10);
    let none = BTreeMap::new();
    let live = [(2, 10), (1, 90)];
    let tag = Progress {
        to: 2,
        from: Some(1),
        step: 1,
        since: 100,
        phase: Phase::Progressing,
        alarm: None,
    };
    let p = plan_alias(&input(&a, Some(&live), Some(&tag), 2, &none, 1000));
    assert!(
        p.error
            .as_deref()
            .is_some_and(|e| e.contains("\"errors\" does not exist")),
        "{p:?}"
    );
    assert_eq!((p.op, p.progress), (None, None));
}

#[test]
fn a_tag_whose_routing_was_never_written_moves_traffic_and_bakes_from_then() {
    let a = alias(RolloutStrategy::Canary, 10);
    let alarms = ok();
    let live = [(1, 100)];
    let tag = Progress {
        to: 2,
        from: Some(1),
        step: 1,
        since: 100,
        phase: Phase::Progressing,
        alarm: None,
    };
    let p = plan_alias(&input(&a, Some(&live), Some(&tag), 2, &alarms, 500));
    assert_eq!(p.op, Some(AliasOp::Update(vec![(2, 10), (1, 90)])));
    assert_eq!(p.progress.unwrap().since, 500);
    assert_eq!(p.requeue_after, Some(ALARM_POLL_SECS));
}

#[test]
fn an_end_written_while_the_traffic_is_split_is_ended_by_the_pass_that_moves_it() {
    let a = alias(RolloutStrategy::Canary, 10);
    let alarms = ok();
    let split = [(2, 10), (1, 90)];
    let tag = |phase| Progress {
        to: 2,
        from: Some(1),
        step: 1,
        since: 100,
        phase,
        alarm: None,
    };
    // `rollout promote`, or a promotion killed between its tag and its routing.
    let promoted = tag(Phase::Promoted);
    let p = plan_alias(&input(&a, Some(&split), Some(&promoted), 2, &alarms, 200));
    assert_eq!(p.op, Some(AliasOp::Update(vec![(2, 100)])));
    assert_eq!(
        (p.ended, p.moves()),
        (Some(Ended::Promoted), Some(Moved::Promoted))
    );
    // `rollout abort`, or a roll back killed the same way.
    for phase in [Phase::Aborted, Phase::RolledBack] {
        let held = tag(phase);
        let p = plan_alias(&input(&a, Some(&split), Some(&held), 2, &alarms, 200));
        assert_eq!(p.op, Some(AliasOp::Update(vec![(1, 100)])));
        assert_eq!(p.moves(), Some(Moved::RolledBack), "{phase:?}");
        assert!(matches!(p.health, Health::Degraded(_)));
    }
    // Once the traffic moved, nothing ends again; a routing changed by hand later is drift.
    let held = tag(Phase::Aborted);
    let p = plan_alias(&input(&a, Some(&[(1, 100)]), Some(&held), 2, &alarms, 300));
    assert_eq!((p.op, p.ended), (None, None));
    let p = plan_alias(&input(&a, Some(&[(7, 100)]), Some(&promoted), 2, &alarms, 300));
    assert_eq!(p.op, Some(AliasOp::Update(vec![(2, 100)])));
    assert_eq!(p.ended, None);
}

#[test]
fn fixed_routing_is_written_as_given() {
    let a = Alias {
        name: "pinned".into(),
        description: None,
        target: AliasTarget::Routing(vec![(1, 70), (2, 30)]),
    };
    let alarms = BTreeMap::new();
    let live = [(2, 100)];
    let p = plan_alias(&input(&a, Some(&live), None, 3, &alarms, 0));
    assert_eq!(p.op, Some(AliasOp::Update(vec![(1, 70), (2, 30)])));
    let live = [(2, 30), (1, 70)];
    assert_eq!(plan_alias(&input(&a, Some(&live), None, 3, &alarms, 0)).op, None);
}

#[test]
fn retention_never_deletes_a_protected_version() {
    let tag = Progress {
        to: 7,
        from: Some(2),
        step: 1,
        since: 0,
        phase: Phase::Progressing,
        alarm: None,
    };
    let routing: Routing = vec![(7, 10), (2, 90)];
    let keep = protected_versions([routing.as_slice()], [&tag]);
    let versions: Vec<u32> = (1..=7).collect();
    assert_eq!(retention_deletes(&versions, &keep, Some(2)), vec![4, 3, 1]);
    assert!(retention_deletes(&versions, &keep, None).is_empty());
}

/// The model a property run drives: the live alias and tag, written as a pass would (tag first,
/// then routing, unless the process "dies" between the two).
struct World {
    live: Option<Routing>,
    tag: Option<Progress>,
    newest: u32,
    now: u64,
    /// Versions whose traffic trips the alarm.
    bad: std::collections::BTreeSet<u32>,
    rolled_back: std::collections::BTreeSet<u32>,
}

impl World {
    fn alarm_state(&self) -> BTreeMap<String, AlarmState> {
        let firing = self
            .live
            .iter()
            .flatten()
            .any(|(v, w)| *w > 0 && self.bad.contains(v));
        BTreeMap::from([(
            "errors".to_owned(),
            if firing { AlarmState::Alarm } else { AlarmState::Ok },
        )])
    }

    /// One pass; `die` stops it after the tag write. Checks the invariants on the way.
    fn pass(&mut self, a: &Alias, rollout: &Rollout, die: bool) -> Option<u64> {
        let alarms = self.alarm_state();
        let plan = plan_alias(&input(
            a,
            self.live.as_deref(),
            self.tag.as_ref(),
            self.newest,
            &alarms,
            self.now,
        ));
        if let (Some(old), Some(new)) = (&self.tag, &plan.progress)
            && old.to == new.to
            && old.phase == Phase::Progressing
            && new.step > old.step
        {
            assert!(
                self.now >= old.since + rollout.interval_secs,
                "a step skipped its bake: {old:?} -> {new:?}"
            );
        }
        if let Some(t) = plan.progress {
            if t.phase == Phase::RolledBack {
                self.rolled_back.insert(t.to);
            }
            self.tag = Some(t);
        }
        if die {
            return Some(0);
        }
        if let Some(AliasOp::Create(r) | AliasOp::Update(r)) = plan.op {
            assert!(
                r.len() <= 2 && r.iter().map(|(_, w)| u32::from(*w)).sum::<u32>() == 100,
                "{r:?}"
            );
            self.live = Some(r);
        }
        plan.requeue_after
    }
}

#[test]
fn generated_histories_end_on_the_newest_healthy_version() {
    let seed = std::env::var("SFN_OPERATOR_ROLLOUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("rollout property seed: {seed} (SFN_OPERATOR_ROLLOUT_SEED={seed} repeats it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    for _ in 0..300 {
        let strategy = [
            RolloutStrategy::AllAtOnce,
            RolloutStrategy::Canary,
            RolloutStrategy::Linear,
        ][rng.usize(..3)];
        let a = alias(strategy, rng.u8(1..100));
        let AliasTarget::Rollout(rollout) = a.target.clone() else {
            unreachable!()
        };
        let mut w = World {
            live: None,
            tag: None,
            newest: 1,
            now: 1_000,
            bad: Default::default(),
            rolled_back: Default::default(),
        };
        for _ in 0..rng.usize(1..40) {
            match rng.u8(..10) {
                0 | 1 => {
                    w.newest += 1;
                    if rng.bool() {
                        w.bad.insert(w.newest);
                    }
                }
                2 => {
                    w.pass(&a, &rollout, true);
                }
                _ => {
                    w.pass(&a, &rollout, false);
                }
            }
            w.now += rng.u64(0..2 * rollout.interval_secs);
        }
        // Quiet time: passes at their due times until nothing is due.
        for _ in 0..100_000 {
            match w.pass(&a, &rollout, false) {
                Some(after) => w.now += after,
                None => break,
            }
        }
        let live = w.live.clone().unwrap();
        if !w.rolled_back.contains(&w.newest) {
            assert_eq!(live, vec![(w.newest, 100)], "seed {seed}: {:?}", w.tag);
        } else {
            let tag = w.tag.clone().unwrap();
            assert_eq!((tag.phase, tag.to), (Phase::RolledBack, w.newest), "seed {seed}");
            assert_eq!(live, vec![(tag.from.unwrap(), 100)], "seed {seed}: {tag:?}");
        }
    }
}
