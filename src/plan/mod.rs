//! Pure: desired vs live → what to do. `plan(desired, live)` per resource and per REST API returns
//! typed operations that `apply/` carries out with `match op`, and the changes the report shows
//! (readable paths with before and after). Diff mode is "plan, don't apply".
//!
//! Must not: call AWS, read files or clocks, or import `aws/`, `sandbox/` or tokio. Everything here
//! is a plain function over data (`desired`, `live`, `ownership`) and is tested as one.
//!
//! Definitions are compared as data and changes descend to the smallest differing node
//! (`definition.States.Parallel.Branches[0].States.SumValues.ResultSelector`). Fields the manifest
//! leaves unset (`None`) are never compared, so AWS defaults make no change.
//!
//! - `machine.rs`: a state machine (create, update, tags).
//! - `rest_api.rs`: which live REST API a manifest manages, and its create or update.
//! - `integrations.rs`: the integrations on one REST API, their ownership records, moves, prunes
//!   and the stage deployments that follow (SPEC §4).
//! - `prune.rs`: which owned REST APIs and integration records pruning removes.
//! - `rollout.rs`: one alias's rollout (SPEC §9): the next step, when it is due, a roll back.
//! - `stage_settings.rs`: a REST API's stage settings (never a deployment).
//! - `controls.rs`: what `driftPolicy` and `ignoreDifferences` make of a plan (SPEC §12).

pub mod controls;
pub mod integrations;
pub mod machine;
pub mod prune;
pub mod rest_api;
pub mod rollout;
pub mod stage_rollout;
pub mod stage_settings;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::path::Path;

pub use integrations::{ApiIntegrationsPlan, IntegrationPlan, MethodOp, PrunePlan, StagePlan};
pub use machine::{MachineOp, MachinePlan};
pub use rest_api::{ApiOp, RestApiPlan};

/// What a pass did, or would do, to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Noop,
}

/// One changed field: a readable path with its live and desired values (`null` when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub before: Value,
    pub after: Value,
}

impl Change {
    /// A change of `path` from `before` to `after`.
    pub fn new(path: impl Into<String>, before: impl Into<Value>, after: impl Into<Value>) -> Self {
        Change {
            path: path.into(),
            before: before.into(),
            after: after.into(),
        }
    }
}

/// The action of a resource that exists: `Update` when anything changes, else `Noop`.
pub fn update_or_noop(changes: &[Change]) -> Action {
    if changes.is_empty() {
        Action::Noop
    } else {
        Action::Update
    }
}

/// Appends the differences between `before` and `after` under `path`, descending into objects and
/// same-length arrays.
pub fn diff_values(path: &Path, before: &Value, after: &Value, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, av) in a {
                diff_values(&path.key(k.clone()), b.get(k).unwrap_or(&Value::Null), av, out);
            }
            for (k, bv) in b {
                if !a.contains_key(k) {
                    out.push(Change::new(
                        path.key(k.clone()).to_string(),
                        bv.clone(),
                        Value::Null,
                    ));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) if a.len() == b.len() => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                diff_values(&path.index(i), bv, av, out);
            }
        }
        _ if before == after => {}
        _ => out.push(Change {
            path: path.to_string(),
            before: before.clone(),
            after: after.clone(),
        }),
    }
}

/// Tag changes: desired keys must match; live keys outside the desired set are left alone unless
/// they are the operator's own (`sfn-operator.dev/...`), so adopting never strips others' tags.
pub fn diff_tags(live: &BTreeMap<String, String>, desired: &BTreeMap<String, String>, out: &mut Vec<Change>) {
    let root = Path::root().key("tags");
    for (k, v) in desired {
        if live.get(k) != Some(v) {
            out.push(Change {
                path: root.key(k.clone()).to_string(),
                before: live
                    .get(k)
                    .map(|s| Value::String(s.clone()))
                    .unwrap_or(Value::Null),
                after: Value::String(v.clone()),
            });
        }
    }
    for (k, v) in live {
        if is_removable_own_tag(k) && !desired.contains_key(k) {
            out.push(Change {
                path: root.key(k.clone()).to_string(),
                before: Value::String(v.clone()),
                after: Value::Null,
            });
        }
    }
}

/// The tag writes that turn `live` into `desired`: keys to set (missing or different), and the
/// operator's own keys (`sfn-operator.dev/...`) to remove; others' tags are never removed.
pub fn tag_writes(
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = desired
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = live
        .keys()
        .filter(|k| is_removable_own_tag(k) && !desired.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// Whether the tag writes `set`/`remove` on a live resource tagged `live` are an adoption and
/// nothing else (SPEC §11): the resource carries no `managed-by` tag, nothing is removed, and every
/// tag set is one of the operator's own, new. Such a plan is a `noop` with the tag writes: `diff`
/// right after `import` has nothing pending, and `reconcile` writes only the ownership tags.
pub fn is_adoption(
    live: &BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> bool {
    remove.is_empty()
        && !set.is_empty()
        && !live.contains_key(crate::ownership::MANAGED_BY)
        && set
            .keys()
            .all(|k| k.starts_with("sfn-operator.dev/") && !live.contains_key(k))
}

/// The report message of a resource whose plan is an adoption ([`is_adoption`]).
pub const ADOPTION_MESSAGE: &str = "adoption: only the ownership tags are written";

/// An operator's tag that no manifest implies any more: `sfn-operator.dev/...`, except a rollout's
/// progress (`sfn-operator.dev/rollout.ALIAS`), which is state, not configuration.
fn is_removable_own_tag(k: &str) -> bool {
    k.starts_with("sfn-operator.dev/") && !k.starts_with(rollout::TAG_PREFIX)
}

/// A stable 128-bit fingerprint (two FNV-1a 64 hashes, hex) of a value's canonical JSON (object
/// keys sorted at every level), so key order never changes it and it is the same on every
/// platform and Rust release.
pub fn fingerprint(v: &Value) -> String {
    let mut text = String::new();
    canonical(v, &mut text);
    let fnv = |offset: u64| {
        text.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fingerprint_ignores_key_order_and_sees_every_value() {
        let a = json!({"/a": {"POST": {"x": 1, "y": [1, 2]}}, "/b": {}});
        let mut b = serde_json::Map::new();
        b.insert("/b".into(), json!({}));
        b.insert("/a".into(), json!({"POST": {"y": [1, 2], "x": 1}}));
        assert_eq!(fingerprint(&a), fingerprint(&Value::Object(b)));
        assert_ne!(
            fingerprint(&a),
            fingerprint(&json!({"/a": {"POST": {"x": 2, "y": [1, 2]}}, "/b": {}}))
        );
        assert_eq!(fingerprint(&a).len(), 32);
    }

    #[test]
    fn tag_writes_set_what_differs_and_remove_only_our_own_keys() {
        let live = BTreeMap::from([
            ("team".to_owned(), "a".to_owned()),
            ("sfn-operator.dev/old".to_owned(), "x".to_owned()),
            ("someone-else".to_owned(), "y".to_owned()),
        ]);
        let desired = BTreeMap::from([("team".to_owned(), "b".to_owned())]);
        let (set, remove) = tag_writes(&live, &desired);
        assert_eq!(set, desired);
        assert_eq!(remove, vec!["sfn-operator.dev/old".to_owned()]);
    }
}
