//! A REST API's stage settings (`RestApi.spec.stages`, SPEC §12): description, variables,
//! tracing, method settings and access logs, compared with GetStages and written with the patch
//! operations UpdateStage takes. They are not part of a deployment: a change here never deploys.
//!
//! Only what the manifest sets is compared (a variable, a method setting field it names), so
//! AWS's defaults and what others set on the stage never make a change.
//!
//! Must not: create stages (a deployment does, `integrations.rs`) or touch their deployments and
//! canaries (`integrations.rs`, `stage_rollout.rs`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Change;
use super::controls::ignored;
use super::rest_api::Patch;
use crate::desired::{MethodSetting, StageSettings};
use crate::live::{LiveMethodSetting, LiveStage};
use crate::path::Path;

/// The UpdateStage patch operations of one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePatch {
    pub stage: String,
    pub ops: Vec<Patch>,
}

/// What the stage settings of one API need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageSettingsPlan {
    pub changes: Vec<Change>,
    pub patches: Vec<StagePatch>,
    /// Declared stages that do not exist: a deployment creates a stage (an `ApiIntegration` with
    /// `stage: NAME`), the settings follow in the same pass.
    pub missing: Vec<String>,
}

fn replace(path: String, value: String) -> Patch {
    Patch {
        op: "replace",
        path,
        value: Some(value),
    }
}

/// A JSON-pointer segment (`/` as `~1`, `~` as `~0`).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Plans every declared stage against the live ones; `ignore` are the manifest's
/// `ignoreDifferences` (a change path there is neither reported nor written).
pub fn plan_stage_settings(
    want: &BTreeMap<String, StageSettings>,
    live: &[LiveStage],
    ignore: &[String],
) -> StageSettingsPlan {
    let mut plan = StageSettingsPlan::default();
    for (name, settings) in want {
        let Some(stage) = live.iter().find(|s| &s.name == name) else {
            plan.missing.push(name.clone());
            continue;
        };
        let mut changes = Vec::new();
        let mut ops = Vec::new();
        stage_changes(name, settings, stage, &mut changes, &mut ops);
        let kept: Vec<(Change, Patch)> = changes
            .into_iter()
            .zip(ops)
            .filter(|(c, _)| !ignored(ignore, &c.path))
            .collect();
        if kept.is_empty() {
            continue;
        }
        let (changes, ops): (Vec<Change>, Vec<Patch>) = kept.into_iter().unzip();
        plan.changes.extend(changes);
        plan.patches.push(StagePatch {
            stage: name.clone(),
            ops,
        });
    }
    plan
}

/// One change and one patch operation per differing field the manifest sets (in the same order).
fn stage_changes(
    name: &str,
    want: &StageSettings,
    live: &LiveStage,
    changes: &mut Vec<Change>,
    ops: &mut Vec<Patch>,
) {
    let root = Path::root().key("stages").key(name);
    let mut push = |path: Path, before: Value, after: Value, patch: Patch| {
        changes.push(Change::new(path.to_string(), before, after));
        ops.push(patch);
    };
    let s = &live.settings;
    if let Some(d) = &want.description
        && s.description.as_ref() != Some(d)
    {
        push(
            root.key("description"),
            s.description.clone().map_or(Value::Null, Value::from),
            d.clone().into(),
            replace("/description".into(), d.clone()),
        );
    }
    for (k, v) in &want.variables {
        if live.variables.get(k) != Some(v) {
            push(
                root.key("variables").key(k.clone()),
                live.variables.get(k).map_or(Value::Null, |s| s.clone().into()),
                v.clone().into(),
                replace(format!("/variables/{}", escape(k)), v.clone()),
            );
        }
    }
    if let Some(t) = want.tracing_enabled
        && t != s.tracing_enabled
    {
        push(
            root.key("tracingEnabled"),
            s.tracing_enabled.into(),
            t.into(),
            replace("/tracingEnabled".into(), t.to_string()),
        );
    }
    for (key, m) in &want.method_settings {
        let at = root.key("methodSettings").key(key.clone());
        let l = s.method_settings.get(key).cloned().unwrap_or_default();
        for (field, aws_path, before, after) in method_fields(m, &l) {
            if let Some(after) = after
                && before.as_ref() != Some(&after)
            {
                let value = match &after {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                push(
                    at.key(field),
                    before.unwrap_or(Value::Null),
                    after,
                    // AWS's form: the key as it lists it, unescaped (`/pets/GET/throttling/rateLimit`).
                    replace(format!("/{key}/{aws_path}"), value),
                );
            }
        }
    }
    if let Some(a) = &want.access_log {
        let l = s.access_log.clone().unwrap_or_default();
        let fields = [
            ("destinationArn", &a.destination_arn, &l.destination_arn),
            ("format", &a.format, &l.format),
        ];
        for (field, w, l) in fields {
            if let Some(w) = w
                && l.as_ref() != Some(w)
            {
                push(
                    root.key("accessLogSettings").key(field),
                    l.clone().map_or(Value::Null, Value::from),
                    w.clone().into(),
                    replace(format!("/accessLogSettings/{field}"), w.clone()),
                );
            }
        }
    }
}

/// Each method setting field: its name in the manifest, its UpdateStage path after the key, its
/// live value and the manifest's (`None`: not set).
fn method_fields(
    m: &MethodSetting,
    l: &LiveMethodSetting,
) -> Vec<(&'static str, &'static str, Option<Value>, Option<Value>)> {
    let rate = |r: Option<f64>| r.map(|r| serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number));
    vec![
        (
            "throttlingBurstLimit",
            "throttling/burstLimit",
            l.throttling_burst_limit.map(Value::from),
            m.throttling_burst_limit.map(Value::from),
        ),
        (
            "throttlingRateLimit",
            "throttling/rateLimit",
            rate(l.throttling_rate_limit),
            rate(m.throttling_rate_limit),
        ),
        (
            "loggingLevel",
            "logging/loglevel",
            l.logging_level.clone().map(Value::from),
            m.logging_level.clone().map(Value::from),
        ),
        (
            "metricsEnabled",
            "metrics/enabled",
            l.metrics_enabled.map(Value::from),
            m.metrics_enabled.map(Value::from),
        ),
        (
            "dataTraceEnabled",
            "logging/dataTrace",
            l.data_trace_enabled.map(Value::from),
            m.data_trace_enabled.map(Value::from),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::AccessLogSettings;
    use crate::live::LiveStageSettings;

    fn live(settings: LiveStageSettings, variables: &[(&str, &str)]) -> LiveStage {
        LiveStage {
            name: "prod".into(),
            deployment_id: Some("d1".into()),
            canary: None,
            variables: variables
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            canary_overrides: BTreeMap::new(),
            settings,
        }
    }

    fn want() -> BTreeMap<String, StageSettings> {
        BTreeMap::from([(
            "prod".to_owned(),
            StageSettings {
                description: Some("Production".into()),
                variables: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
                tracing_enabled: Some(true),
                method_settings: BTreeMap::from([(
                    "*/*".to_owned(),
                    MethodSetting {
                        throttling_rate_limit: Some(100.0),
                        throttling_burst_limit: Some(50),
                        logging_level: Some("INFO".into()),
                        ..Default::default()
                    },
                )]),
                access_log: Some(AccessLogSettings {
                    destination_arn: Some("arn:aws:logs:us-east-1:1:log-group:g".into()),
                    format: None,
                }),
            },
        )])
    }

    #[test]
    fn every_set_field_is_compared_and_patched_as_update_stage_takes_it() {
        let p = plan_stage_settings(&want(), &[live(Default::default(), &[("other", "x")])], &[]);
        let paths: Vec<&str> = p.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "stages.prod.description",
                "stages.prod.variables.env",
                "stages.prod.tracingEnabled",
                "stages.prod.methodSettings[\"*/*\"].throttlingBurstLimit",
                "stages.prod.methodSettings[\"*/*\"].throttlingRateLimit",
                "stages.prod.methodSettings[\"*/*\"].loggingLevel",
                "stages.prod.accessLogSettings.destinationArn",
            ]
        );
        let ops: Vec<(&str, &str)> = p.patches[0]
            .ops
            .iter()
            .map(|o| (o.path.as_str(), o.value.as_deref().unwrap()))
            .collect();
        assert_eq!(
            ops,
            [
                ("/description", "Production"),
                ("/variables/env", "prod"),
                ("/tracingEnabled", "true"),
                ("/*/*/throttling/burstLimit", "50"),
                ("/*/*/throttling/rateLimit", "100.0"),
                ("/*/*/logging/loglevel", "INFO"),
                (
                    "/accessLogSettings/destinationArn",
                    "arn:aws:logs:us-east-1:1:log-group:g"
                ),
            ]
        );
    }

    #[test]
    fn in_sync_with_aws_defaults_and_others_fields_is_no_change() {
        let settings = LiveStageSettings {
            description: Some("Production".into()),
            tracing_enabled: true,
            method_settings: BTreeMap::from([(
                "*/*".to_owned(),
                LiveMethodSetting {
                    // AWS's defaults on the fields the manifest leaves unset.
                    throttling_burst_limit: Some(50),
                    throttling_rate_limit: Some(100.0),
                    logging_level: Some("INFO".into()),
                    metrics_enabled: Some(false),
                    data_trace_enabled: Some(false),
                },
            )]),
            access_log: Some(AccessLogSettings {
                destination_arn: Some("arn:aws:logs:us-east-1:1:log-group:g".into()),
                format: Some("$context.requestId".into()),
            }),
        };
        let p = plan_stage_settings(&want(), &[live(settings, &[("env", "prod"), ("x", "y")])], &[]);
        assert_eq!(p, StageSettingsPlan::default());
        // Nothing set: nothing compared, whatever is live.
        let none = BTreeMap::from([("prod".to_owned(), StageSettings::default())]);
        assert!(
            plan_stage_settings(&none, &[live(Default::default(), &[])], &[])
                .changes
                .is_empty()
        );
    }

    #[test]
    fn a_missing_stage_waits_for_its_deployment_and_ignored_paths_are_left() {
        let p = plan_stage_settings(&want(), &[], &[]);
        assert_eq!(p.missing, ["prod"]);
        assert!(p.patches.is_empty());
        let ignore = vec![
            "stages.prod.methodSettings*".to_owned(),
            "stages.prod.description".to_owned(),
        ];
        let p = plan_stage_settings(&want(), &[live(Default::default(), &[])], &ignore);
        assert!(
            p.changes
                .iter()
                .all(|c| !c.path.contains("methodSettings") && !c.path.ends_with("description"))
        );
        assert_eq!(p.changes.len(), p.patches[0].ops.len());
    }

    #[test]
    fn a_per_method_key_is_patched_unescaped_as_aws_lists_it() {
        let mut w = want();
        let s = w.get_mut("prod").unwrap();
        *s = StageSettings {
            method_settings: BTreeMap::from([(
                "orders/{id}/GET".to_owned(),
                MethodSetting {
                    metrics_enabled: Some(true),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        };
        let p = plan_stage_settings(&w, &[live(Default::default(), &[])], &[]);
        assert_eq!(p.patches[0].ops[0].path, "/orders/{id}/GET/metrics/enabled");
        assert_eq!(
            p.changes[0].path,
            "stages.prod.methodSettings[\"orders/{id}/GET\"].metricsEnabled"
        );
    }
}
