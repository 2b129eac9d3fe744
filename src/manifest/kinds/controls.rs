//! The operator controls every kind shares (SPEC §12): `spec.driftPolicy`, `spec.ignoreDifferences`
//! and the `sfn-operator.dev/suspend` annotation, each problem placed at its node.
//!
//! Must not: read the kind's own fields (its file does) or decide what a control does in a pass
//! (`plan::controls`).

use std::collections::BTreeMap;

use crate::desired::{Controls, DriftPolicy, Kind, SUSPEND_ANNOTATION};
use crate::manifest::fields::{Diags, describe, enum_field};
use crate::manifest::yaml::{Node, Pos, Value};

/// Reads the controls of one document: `spec` (when it is a mapping), the annotations as read,
/// and where `metadata.annotations` is.
pub(super) fn read(
    kind: Kind,
    spec: Option<&Node>,
    annotations: &BTreeMap<String, String>,
    annotations_pos: Pos,
    ds: &mut Diags<'_>,
) -> Controls {
    let suspended = match annotations.get(SUSPEND_ANNOTATION).map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            ds.at(
                annotations_pos,
                format!(
                    "metadata.annotations[\"{SUSPEND_ANNOTATION}\"]: expected \"true\" or \"false\", found {other:?}"
                ),
            );
            false
        }
    };
    let Some(spec) = spec.filter(|s| matches!(s.value, Value::Map(_))) else {
        return Controls {
            suspended,
            ..Controls::default()
        };
    };
    let drift_policy = enum_field(spec, "driftPolicy", "spec", &["Correct", "Report", "Ignore"], ds)
        .as_deref()
        .and_then(DriftPolicy::parse)
        .unwrap_or_default();
    Controls {
        drift_policy,
        ignore_differences: ignore_differences(kind, spec, ds),
        suspended,
    }
}

/// `spec.ignoreDifferences`: a list of change paths, each of which can match a change of `kind`.
fn ignore_differences(kind: Kind, spec: &Node, ds: &mut Diags<'_>) -> Vec<String> {
    let Some(list) = spec.get("ignoreDifferences") else {
        return Vec::new();
    };
    let Value::Seq(items) = &list.value else {
        ds.at(
            list.pos,
            format!(
                "spec.ignoreDifferences: expected a list of change paths, found {}",
                describe(list)
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(path) = item.as_str() else {
            ds.at(
                item.pos,
                format!(
                    "spec.ignoreDifferences: expected a change path string, found {}",
                    describe(item)
                ),
            );
            continue;
        };
        match crate::plan::controls::check_pattern(kind, path) {
            Ok(()) => out.push(path.to_owned()),
            Err(why) => ds.at(item.pos, format!("spec.ignoreDifferences: {why}")),
        }
    }
    out
}
