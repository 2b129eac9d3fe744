//! The daemon's alarm watch (SPEC §9): every [`WATCH_PERIOD`] it reads, in one batched
//! `DescribeAlarms` per 100 names, the alarms of every rollout in flight (from the last reports)
//! and queues at once the machine of any rollout whose alarm is in `ALARM`, so a roll back waits
//! for neither its step's bake time nor a per-machine poll. The per-machine passes then run at
//! their steps' due times only.
//!
//! Must not: write to AWS, or decide a roll back itself (the pass does, from its own reading).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::status::Shared;
use crate::desired::ResourceKey;
use crate::live::AlarmState;
use crate::plan::rollout::Phase;

/// How often the alarms of the rollouts in flight are read.
pub const WATCH_PERIOD: Duration = Duration::from_secs(1);

/// A boxed future of alarm states by name (the names that exist), or the error's text.
pub type AlarmFuture = Pin<Box<dyn Future<Output = Result<BTreeMap<String, AlarmState>, String>> + Send>>;
/// Reads the states of the named alarms (the wiring's `DescribeAlarms`).
pub type AlarmFn = Arc<dyn Fn(Vec<String>) -> AlarmFuture + Send + Sync>;

/// The alarms each progressing rollout watches, by machine, from the last reports.
pub fn watched(shared: &Shared) -> BTreeMap<ResourceKey, BTreeSet<String>> {
    let mut out: BTreeMap<ResourceKey, BTreeSet<String>> = BTreeMap::new();
    for s in shared.snapshot().resources {
        let names: BTreeSet<String> = s
            .report
            .rollouts
            .iter()
            .filter(|v| v.phase == Phase::Progressing)
            .flat_map(|v| v.alarms.keys().cloned())
            .collect();
        if !names.is_empty() {
            out.insert(ResourceKey::new(s.report.kind, s.report.name.clone()), names);
        }
    }
    out
}

/// Every name of `watched`, once each, in name order.
pub fn names(watched: &BTreeMap<ResourceKey, BTreeSet<String>>) -> Vec<String> {
    let all: BTreeSet<&String> = watched.values().flatten().collect();
    all.into_iter().cloned().collect()
}

/// The machines with a watched alarm in `ALARM`.
pub fn tripped(
    watched: &BTreeMap<ResourceKey, BTreeSet<String>>,
    states: &BTreeMap<String, AlarmState>,
) -> Vec<ResourceKey> {
    watched
        .iter()
        .filter(|(_, names)| names.iter().any(|n| states.get(n) == Some(&AlarmState::Alarm)))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Kind;

    #[test]
    fn only_machines_with_an_alarm_in_alarm_are_tripped() {
        let a = ResourceKey::new(Kind::StateMachine, "a");
        let b = ResourceKey::new(Kind::StateMachine, "b");
        let watched = BTreeMap::from([
            (
                a.clone(),
                BTreeSet::from(["shared".to_owned(), "a-only".to_owned()]),
            ),
            (b.clone(), BTreeSet::from(["shared".to_owned()])),
        ]);
        assert_eq!(names(&watched), ["a-only", "shared"]);
        let states = BTreeMap::from([
            ("shared".to_owned(), AlarmState::Ok),
            ("a-only".to_owned(), AlarmState::Alarm),
        ]);
        assert_eq!(tripped(&watched, &states), std::slice::from_ref(&a));
        let both = BTreeMap::from([("shared".to_owned(), AlarmState::Alarm)]);
        assert_eq!(tripped(&watched, &both), [a, b]);
        let missing = BTreeMap::new();
        assert!(
            tripped(&watched, &missing).is_empty(),
            "a missing alarm is the pass's error to report"
        );
    }
}
