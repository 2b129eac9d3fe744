//! Pure: what the operator controls of SPEC §12 make of a plan. `ignoreDifferences` turns the
//! manifest into the *effective* desired state (an ignored field takes its live value, so it is
//! neither reported nor written, and never makes a perpetual diff); `driftPolicy` decides whether
//! the drift a plan found is written back (`Correct`), only reported (`Report`) or not looked for
//! (`Ignore`).
//!
//! Must not: read or write anything, or know how a kind is written (the kinds' plans do).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::desired::{ApiIntegration, Kind, Response, RestApi, StateMachine};
use crate::live::{LiveMachine, LiveMethod};
use crate::path::Path;

/// The first segments of the change paths each kind's plan prints (what `ignoreDifferences` can
/// name). The ownership records (`restApi.tags`, `method`) are not the manifest's to ignore.
pub fn change_roots(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::StateMachine => &[
            "type",
            "roleArn",
            "definition",
            "loggingConfiguration",
            "tracingConfiguration",
            "encryptionConfiguration",
            "tags",
        ],
        Kind::RestApi => &[
            "description",
            "endpointConfiguration",
            "binaryMediaTypes",
            "minimumCompressionSize",
            "apiKeySource",
            "disableExecuteApiEndpoint",
            "policy",
            "stages",
            "tags",
        ],
        Kind::ApiIntegration => &["authorizationType", "integration", "responses"],
    }
}

/// Whether `pattern` can ever match a change path of `kind`; the reason when it cannot.
pub fn check_pattern(kind: Kind, pattern: &str) -> Result<(), String> {
    let roots = change_roots(kind);
    let root_part = pattern.split(['.', '[']).next().unwrap_or_default();
    let ok = match root_part.strip_suffix('*') {
        Some("") => {
            return Err(format!(
                "{pattern:?} would ignore every field; use `driftPolicy: Ignore` instead"
            ));
        }
        Some(prefix) if root_part.len() == pattern.len() => roots.iter().any(|r| r.starts_with(prefix)),
        _ => roots.contains(&root_part),
    };
    if !ok {
        return Err(format!(
            "{pattern:?} can never match a change of a {kind} (its change paths start with {})",
            roots.join(", ")
        ));
    }
    if pattern.starts_with("tags.sfn-operator.dev/") || pattern.starts_with("tags[\"sfn-operator.dev/") {
        return Err(format!(
            "{pattern:?} names the operator's own ownership tags, which it always keeps"
        ));
    }
    if pattern.contains('*') && !pattern.ends_with('*') {
        return Err(format!("{pattern:?}: `*` is allowed only at the end (a subtree)"));
    }
    Ok(())
}

/// Whether the change path `path` is one of `patterns`: equal to one, or under one ending in `*`
/// (`tags.*` matches `tags.team` and `tags["a/b"]`; `definition.States.Wait*` is a plain prefix).
pub fn ignored(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix(".*") {
        Some(prefix) => path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('[')),
        None => match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == p,
        },
    })
}

/// `desired` with every ignored node under `path` replaced by its `live` value (or dropped where
/// live has none). It descends exactly as [`super::diff_values`] does, so a diff against `live`
/// afterwards holds every change but the ignored ones.
pub fn overlay(path: &Path, desired: &Value, live: &Value, patterns: &[String]) -> Value {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            let mut out = serde_json::Map::new();
            for (k, dv) in d {
                let child = path.key(k.clone());
                match l.get(k) {
                    Some(lv) => {
                        out.insert(k.clone(), overlay(&child, dv, lv, patterns));
                    }
                    None if ignored(patterns, &child.to_string()) => {}
                    None => {
                        out.insert(k.clone(), dv.clone());
                    }
                }
            }
            for (k, lv) in l {
                if !d.contains_key(k) && ignored(patterns, &path.key(k.clone()).to_string()) {
                    out.insert(k.clone(), lv.clone());
                }
            }
            Value::Object(out)
        }
        (Value::Array(d), Value::Array(l)) if d.len() == l.len() => Value::Array(
            d.iter()
                .zip(l)
                .enumerate()
                .map(|(i, (dv, lv))| overlay(&path.index(i), dv, lv, patterns))
                .collect(),
        ),
        _ if ignored(patterns, &path.to_string()) => live.clone(),
        _ => desired.clone(),
    }
}

/// Desired tags with each ignored `tags.KEY` taking its live value (or left out where live has
/// none); tags the manifest does not name are never written anyway, and the operator's own
/// (`sfn-operator.dev/...`) are never ignored.
pub fn overlay_tags(
    desired: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
    patterns: &[String],
) -> BTreeMap<String, String> {
    let root = Path::root().key("tags");
    desired
        .iter()
        .filter_map(|(k, v)| {
            let ours = k.starts_with("sfn-operator.dev/");
            if !ours && ignored(patterns, &root.key(k.clone()).to_string()) {
                live.get(k).map(|l| (k.clone(), l.clone()))
            } else {
                Some((k.clone(), v.clone()))
            }
        })
        .collect()
}

/// The state machine to compare and write: the manifest's, its ignored fields as live.
pub fn effective_machine(sm: &StateMachine, live: &LiveMachine) -> StateMachine {
    let ig = &sm.meta.controls.ignore_differences;
    if ig.is_empty() {
        return sm.clone();
    }
    let mut e = sm.clone();
    if ignored(ig, "type") {
        e.machine_type = live.machine_type;
    }
    if ignored(ig, "roleArn") {
        e.role_arn = live.role_arn.clone();
    }
    e.definition = overlay(
        &Path::root().key("definition"),
        &sm.definition,
        &live.definition,
        ig,
    );
    if let Some(logging) = &sm.logging {
        let as_value = |l| serde_json::to_value(l).unwrap_or(Value::Null);
        let merged = overlay(
            &Path::root().key("loggingConfiguration"),
            &as_value(logging),
            &as_value(&live.logging),
            ig,
        );
        e.logging = serde_json::from_value(merged).ok().or(e.logging);
    }
    if let Some(encryption) = &sm.encryption {
        let as_value = |e: &crate::desired::EncryptionConfiguration| {
            serde_json::to_value(e.normalized()).unwrap_or(Value::Null)
        };
        let merged = overlay(
            &Path::root().key("encryptionConfiguration"),
            &as_value(encryption),
            &as_value(&live.encryption),
            ig,
        );
        e.encryption = serde_json::from_value(merged).ok().or(e.encryption);
    }
    if ignored(ig, "tracingConfiguration.enabled") {
        e.tracing_enabled = None;
    }
    e.tags = overlay_tags(&sm.tags, &live.tags, ig);
    e
}

/// The REST API to compare and write: the manifest's, its ignored fields as live.
pub fn effective_api(
    api: &RestApi,
    live_description: Option<&str>,
    live_tags: &BTreeMap<String, String>,
) -> RestApi {
    let ig = &api.meta.controls.ignore_differences;
    if ig.is_empty() {
        return api.clone();
    }
    let mut e = api.clone();
    if ignored(ig, "description") {
        e.description = live_description.map(str::to_owned);
    }
    if ignored(ig, "endpointConfiguration.types") {
        e.endpoint_types = None;
    }
    if ignored(ig, "binaryMediaTypes") {
        e.settings.binary_media_types = None;
    }
    if ignored(ig, "minimumCompressionSize") {
        e.settings.minimum_compression_size = None;
    }
    if ignored(ig, "apiKeySource") {
        e.settings.api_key_source = None;
    }
    if ig
        .iter()
        .any(|p| p == "policy" || p.starts_with("policy.") || p.starts_with("policy[") || p == "policy*")
    {
        e.settings.policy = None;
    }
    if ignored(ig, "disableExecuteApiEndpoint") {
        e.settings.disable_execute_api_endpoint = None;
    }
    e.tags = overlay_tags(&api.tags, live_tags, ig);
    e
}

/// The integration to compare and write, as a method (`want`, the manifest's) with its ignored
/// fields as `live`, and the integration that writes it.
pub fn effective_integration(
    ai: &ApiIntegration,
    want: &LiveMethod,
    live: &LiveMethod,
) -> Option<(ApiIntegration, LiveMethod)> {
    let ig = &ai.meta.controls.ignore_differences;
    if ig.is_empty() {
        return None;
    }
    let merged = overlay(&Path::root(), &want.to_value(), &live.to_value(), ig);
    let method: LiveMethod = serde_json::from_value(merged).ok()?;
    let mut e = ai.clone();
    if let Some(auth) = &method.authorization_type {
        e.authorization_type = auth.clone();
    }
    if let Some(i) = &method.integration {
        let w = &mut e.integration;
        w.integration_type = i.integration_type.clone().unwrap_or_default();
        w.uri = i.uri.clone().unwrap_or_default();
        w.integration_http_method = i.integration_http_method.clone().unwrap_or_default();
        w.credentials = i.credentials.clone();
        w.request_templates = i.request_templates.clone();
        w.passthrough_behavior = i.passthrough_behavior.clone().unwrap_or_default();
        w.timeout_in_millis = i.timeout_in_millis;
    }
    e.responses = method
        .responses
        .iter()
        .map(|(code, r)| Response {
            status_code: code.clone(),
            selection_pattern: r.selection_pattern.clone(),
            response_templates: r.response_templates.clone(),
        })
        .collect();
    Some((e, method))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::diff_values;

    fn pats(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn patterns_match_exact_paths_and_subtrees() {
        let p = pats(&["definition.States.Wait.Seconds", "tags.*", "responses.200*"]);
        assert!(ignored(&p, "definition.States.Wait.Seconds"));
        assert!(!ignored(&p, "definition.States.Wait.Next"));
        assert!(ignored(&p, "tags.team"));
        assert!(ignored(&p, "tags[\"a/b\"]"));
        assert!(!ignored(&p, "tagsx"));
        assert!(ignored(
            &p,
            "responses.200.responseTemplates[\"application/json\"]"
        ));
    }

    #[test]
    fn overlay_leaves_exactly_the_unignored_changes() {
        let desired = json!({"States": {"Wait": {"Type": "Wait", "Seconds": 5, "Next": "B"}, "B": {"Type": "Pass", "End": true}}});
        let live = json!({"States": {"Wait": {"Type": "Wait", "Seconds": 60, "Next": "C"}, "C": {"Type": "Pass", "End": true}}});
        let root = Path::root().key("definition");
        let p = pats(&["definition.States.Wait.Seconds", "definition.States.C"]);
        let e = overlay(&root, &desired, &live, &p);
        let mut changes = Vec::new();
        diff_values(&root, &live, &e, &mut changes);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["definition.States.Wait.Next", "definition.States.B"]);
        assert_eq!(e["States"]["Wait"]["Seconds"], 60);
        assert_eq!(e["States"]["C"], live["States"]["C"]);
    }

    #[test]
    fn patterns_that_can_never_match_are_refused() {
        assert!(check_pattern(Kind::StateMachine, "definition.States.A").is_ok());
        assert!(check_pattern(Kind::StateMachine, "tags.*").is_ok());
        assert!(check_pattern(Kind::StateMachine, "defin*").is_ok());
        assert!(check_pattern(Kind::RestApi, "definition.States.A").is_err());
        assert!(check_pattern(Kind::ApiIntegration, "tags.team").is_err());
        assert!(check_pattern(Kind::StateMachine, "*").is_err());
        assert!(check_pattern(Kind::StateMachine, "tags.sfn-operator.dev/owner").is_err());
        assert!(check_pattern(Kind::StateMachine, "definition.*.Seconds").is_err());
    }
}
