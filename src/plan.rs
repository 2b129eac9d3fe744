//! Pure: desired vs live → what to do, per resource, with readable change paths. No I/O.
//!
//! Definitions are compared as data and changes descend to the smallest differing node
//! (`definition.States.Parallel.Branches[0].States.SumValues.ResultSelector`). Fields the manifest
//! leaves unset (`None`) are never compared, so AWS defaults make no change.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::aws::LiveMachine;
use crate::desired::StateMachine;
use crate::path::Path;
use crate::report::{Action, Change};

/// What to do to one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePlan {
    pub action: Action,
    pub changes: Vec<Change>,
    /// A change that must not be applied (e.g. the immutable `type`).
    pub error: Option<String>,
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
                    out.push(Change {
                        path: path.key(k.clone()).to_string(),
                        before: bv.clone(),
                        after: Value::Null,
                    });
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
        if k.starts_with("sfn-operator.dev/") && !desired.contains_key(k) {
            out.push(Change {
                path: root.key(k.clone()).to_string(),
                before: Value::String(v.clone()),
                after: Value::Null,
            });
        }
    }
}

/// Plans a state machine. `tags` are the full desired tags (manifest + ownership).
pub fn plan_state_machine(
    desired: &StateMachine,
    tags: &BTreeMap<String, String>,
    live: Option<&LiveMachine>,
) -> ResourcePlan {
    let Some(live) = live else {
        let mut changes = Vec::new();
        diff_values(
            &Path::root().key("definition"),
            &Value::Null,
            &desired.definition,
            &mut changes,
        );
        return ResourcePlan {
            action: Action::Create,
            changes,
            error: None,
        };
    };
    let mut changes = Vec::new();
    let mut error = None;
    if live.machine_type != desired.machine_type.as_str() {
        changes.push(Change {
            path: "type".into(),
            before: Value::String(live.machine_type.clone()),
            after: Value::String(desired.machine_type.as_str().into()),
        });
        error = Some(format!(
            "field `type` is immutable in AWS: live {}, manifest {}; the machine is not deleted to change it",
            live.machine_type,
            desired.machine_type.as_str()
        ));
    }
    if live.role_arn != desired.role_arn {
        changes.push(Change {
            path: "roleArn".into(),
            before: live.role_arn.clone().into(),
            after: desired.role_arn.clone().into(),
        });
    }
    diff_values(
        &Path::root().key("definition"),
        &live.definition,
        &desired.definition,
        &mut changes,
    );
    if let Some(l) = &desired.logging {
        let to_value =
            |l: &crate::desired::LoggingConfiguration| serde_json::to_value(l).unwrap_or(Value::Null);
        diff_values(
            &Path::root().key("loggingConfiguration"),
            &to_value(&live.logging),
            &to_value(l),
            &mut changes,
        );
    }
    if let Some(t) = desired.tracing_enabled
        && t != live.tracing_enabled
    {
        changes.push(Change {
            path: "tracingConfiguration.enabled".into(),
            before: live.tracing_enabled.into(),
            after: t.into(),
        });
    }
    diff_tags(&live.tags, tags, &mut changes);
    let action = if changes.is_empty() {
        Action::Noop
    } else {
        Action::Update
    };
    ResourcePlan {
        action,
        changes,
        error,
    }
}

/// The `endpointConfiguration.types` change of a REST API, if the manifest sets the types and
/// they differ from live (compared as sets: order never makes a change). `None` in the manifest
/// is never compared, so AWS's default (`EDGE`) and an adopted API's types make no change.
pub fn endpoint_change(desired: Option<&[crate::desired::EndpointType]>, live: &[String]) -> Option<Change> {
    let want: Vec<String> = desired?.iter().map(|t| t.as_str().to_owned()).collect();
    let set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
    if set(&want) == set(live) {
        return None;
    }
    Some(Change {
        path: "endpointConfiguration.types".into(),
        before: Value::from(live.to_vec()),
        after: Value::from(want),
    })
}

/// The `(old, new)` pairs of `replace /endpointConfiguration/types/<old>` patch operations that
/// turn `live` into `want`, the only way UpdateRestApi changes endpoint types. AWS holds one type
/// per API, so a change in the number of types cannot be patched and is an error.
pub fn endpoint_replacements(live: &[String], want: &[String]) -> Result<Vec<(String, String)>, String> {
    let old: Vec<&String> = live.iter().filter(|t| !want.contains(t)).collect();
    let new: Vec<&String> = want.iter().filter(|t| !live.contains(t)).collect();
    if old.len() != new.len() {
        return Err(format!(
            "endpointConfiguration.types: cannot change {live:?} into {want:?} (AWS takes one endpoint type per REST API and changes it by replacement)"
        ));
    }
    Ok(old.into_iter().cloned().zip(new.into_iter().cloned()).collect())
}

/// Whether any change needs UpdateStateMachine (as opposed to tags only).
pub fn needs_machine_update(plan: &ResourcePlan) -> bool {
    plan.changes.iter().any(|c| !c.path.starts_with("tags"))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Builders for desired resources in tests.
    use std::collections::BTreeMap;

    use crate::desired::{DeletionPolicy, MachineType, Meta, SourceRef, StateMachine};

    /// A minimal state machine named `name` with a one-state definition.
    pub fn machine(name: &str) -> StateMachine {
        StateMachine {
            meta: Meta {
                name: name.into(),
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                source: SourceRef {
                    file: "test.yaml".into(),
                    line: 1,
                    column: 1,
                },
            },
            name: name.into(),
            machine_type: MachineType::Express,
            role_arn: "arn:aws:iam::123456789012:role/StepFunctionsIamRole".into(),
            definition: serde_json::json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
            logging: None,
            tracing_enabled: None,
            tags: BTreeMap::new(),
            deletion_policy: DeletionPolicy::Retain,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::desired::LoggingConfiguration;

    fn live_of(sm: &StateMachine, tags: &BTreeMap<String, String>) -> LiveMachine {
        LiveMachine {
            arn: "arn".into(),
            machine_type: sm.machine_type.as_str().into(),
            role_arn: sm.role_arn.clone(),
            definition: sm.definition.clone(),
            logging: LoggingConfiguration {
                level: "OFF".into(),
                include_execution_data: false,
                destinations: vec![],
            },
            tracing_enabled: false,
            tags: tags.clone(),
        }
    }

    #[test]
    fn in_sync_is_noop_and_defaults_make_no_change() {
        let sm = fixtures::machine("a");
        let tags = BTreeMap::from([("owner".to_owned(), "me".to_owned())]);
        let mut live = live_of(&sm, &tags);
        live.tags.insert("someone-else".into(), "x".into());
        let p = plan_state_machine(&sm, &tags, Some(&live));
        assert_eq!(p.action, Action::Noop, "{:?}", p.changes);
    }

    #[test]
    fn definition_change_descends_to_smallest_node() {
        let mut sm = fixtures::machine("a");
        sm.definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "SumValues", "States": {"SumValues": {"Type": "Task", "End": true, "ResultSelector": {"sum.$": "$.Payload.sum"}}}}]}}});
        let mut live = live_of(&sm, &BTreeMap::new());
        live.definition["States"]["P"]["Branches"][0]["States"]["SumValues"]["ResultSelector"] =
            json!({"sum.$": "$.x"});
        live.role_arn = "arn:other".into();
        let p = plan_state_machine(&sm, &BTreeMap::new(), Some(&live));
        let paths: Vec<_> = p.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "roleArn",
                "definition.States.P.Branches[0].States.SumValues.ResultSelector[\"sum.$\"]"
            ]
        );
        assert!(needs_machine_update(&p));
    }

    #[test]
    fn type_change_is_an_error_naming_the_field() {
        let sm = fixtures::machine("a");
        let mut live = live_of(&sm, &BTreeMap::new());
        live.machine_type = "STANDARD".into();
        let p = plan_state_machine(&sm, &BTreeMap::new(), Some(&live));
        assert!(p.error.as_deref().is_some_and(|e| e.contains("`type`")));
    }

    #[test]
    fn endpoint_types_compare_as_sets_and_unset_never_changes() {
        use crate::desired::EndpointType::{Edge, Regional};
        let live = vec!["EDGE".to_owned()];
        assert_eq!(endpoint_change(None, &live), None);
        assert_eq!(endpoint_change(Some(&[Edge]), &live), None);
        let c = endpoint_change(Some(&[Regional]), &live).unwrap();
        assert_eq!(c.path, "endpointConfiguration.types");
        assert_eq!((c.before, c.after), (json!(["EDGE"]), json!(["REGIONAL"])));
        assert_eq!(
            endpoint_replacements(&live, &["REGIONAL".to_owned()]),
            Ok(vec![("EDGE".to_owned(), "REGIONAL".to_owned())])
        );
        assert!(endpoint_replacements(&live, &["EDGE".to_owned(), "REGIONAL".to_owned()]).is_err());
    }

    #[test]
    fn tag_drift_is_named() {
        let sm = fixtures::machine("a");
        let tags = BTreeMap::from([("owner".to_owned(), "me".to_owned())]);
        let mut live = live_of(&sm, &tags);
        live.tags.insert("owner".into(), "you".into());
        let p = plan_state_machine(&sm, &tags, Some(&live));
        assert_eq!(p.changes[0].path, "tags.owner");
        assert!(!needs_machine_update(&p));
    }
}

/// The comparable form of an integration's method, integration and responses (the same shape
/// `aws::LiveResource::methods` holds).
pub fn integration_value(ai: &crate::desired::ApiIntegration) -> Value {
    let i = &ai.integration;
    let templates = |m: &BTreeMap<String, String>| {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    let responses: serde_json::Map<String, Value> = ai
        .responses
        .iter()
        .map(|r| {
            (
                r.status_code.clone(),
                serde_json::json!({
                    "integrationResponse": true,
                    "selectionPattern": r.selection_pattern,
                    "responseTemplates": templates(&r.response_templates),
                }),
            )
        })
        .collect();
    serde_json::json!({
        "authorizationType": ai.authorization_type,
        "integration": {
            "type": i.integration_type,
            "uri": i.uri,
            "integrationHttpMethod": i.integration_http_method,
            "credentials": i.credentials,
            "requestTemplates": templates(&i.request_templates),
            "passthroughBehavior": i.passthrough_behavior,
            "timeoutInMillis": i.timeout_in_millis,
        },
        "responses": Value::Object(responses),
    })
}

/// Plans an integration against the live method (`None`: method or path missing). Live responses
/// the manifest does not name are left alone.
pub fn plan_integration(desired: &crate::desired::ApiIntegration, live: Option<&Value>) -> ResourcePlan {
    let want = integration_value(desired);
    let mut changes = Vec::new();
    match live {
        None => {
            for (k, v) in want.as_object().into_iter().flatten() {
                diff_values(&Path::root().key(k.clone()), &Value::Null, v, &mut changes);
            }
            ResourcePlan {
                action: Action::Create,
                changes,
                error: None,
            }
        }
        Some(live) => {
            let mut live = live.clone();
            if let (Some(l), Some(w)) = (
                live.get_mut("responses").and_then(Value::as_object_mut),
                want["responses"].as_object(),
            ) {
                l.retain(|k, _| w.contains_key(k));
            }
            diff_values(&Path::root(), &live, &want, &mut changes);
            let action = if changes.is_empty() {
                Action::Noop
            } else {
                Action::Update
            };
            ResourcePlan {
                action,
                changes,
                error: None,
            }
        }
    }
}
