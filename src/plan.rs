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
        .map(|r| (r.status_code.clone(), integration_value_response(r)))
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

/// Plans an integration against the live method (`None`: method or path missing). The method is
/// the integration's (its record says so), so its responses are exactly the manifest's: a live
/// response the manifest does not name is planned for deletion (`responses.400: {...} → null`).
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
            diff_values(&Path::root(), live, &want, &mut changes);
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

/// What one response of a method needs, live against desired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseWork {
    /// PutMethodResponse (the method response is missing).
    pub put_method_response: bool,
    /// PutIntegrationResponse (missing, or its selection pattern or templates differ).
    pub put_integration_response: bool,
}

/// The response work for the desired `status_code`, given the live method's comparable value
/// (`None`: the method is new). `integration_replaced`: a PutIntegration is sent first, after
/// which integration responses are written again.
pub fn response_work(
    live_method: Option<&Value>,
    want: &crate::desired::Response,
    integration_replaced: bool,
) -> ResponseWork {
    let live = live_method.and_then(|m| m["responses"].get(&want.status_code));
    let want_value = &integration_value_response(want);
    ResponseWork {
        put_method_response: live.is_none(),
        put_integration_response: integration_replaced || live != Some(want_value),
    }
}

/// The live response codes of a method that the manifest no longer names, with whether each has
/// an integration response (deleted first).
pub fn stale_responses(
    live_method: Option<&Value>,
    desired: &crate::desired::ApiIntegration,
) -> Vec<(String, bool)> {
    live_method
        .and_then(|m| m["responses"].as_object())
        .into_iter()
        .flatten()
        .filter(|(code, _)| !desired.responses.iter().any(|r| &r.status_code == *code))
        .map(|(code, v)| (code.clone(), v["integrationResponse"] == Value::Bool(true)))
        .collect()
}

fn integration_value_response(r: &crate::desired::Response) -> Value {
    serde_json::json!({
        "integrationResponse": true,
        "selectionPattern": r.selection_pattern,
        "responseTemplates": Value::Object(
            r.response_templates
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    })
}

/// The configuration a deployment of an API captures, as comparable data: every resource path
/// with its methods (the shape `aws::LiveResource::methods` holds). Paths without methods are
/// left out; they change nothing a client can call.
pub fn api_configuration(resources: &[crate::aws::LiveResource]) -> Value {
    let mut paths: BTreeMap<&str, Value> = BTreeMap::new();
    for r in resources.iter().filter(|r| !r.methods.is_empty()) {
        let methods: serde_json::Map<String, Value> =
            r.methods.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        paths.insert(&r.path, Value::Object(methods));
    }
    Value::Object(paths.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The description the operator writes on its deployments: a fingerprint of the configuration
/// deployed, so a later pass can tell whether a stage serves the current configuration (SPEC §4).
pub fn deployment_description(configuration: &Value) -> String {
    format!("sfn-operator config {}", fingerprint(configuration))
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
mod integration_tests {
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
        assert!(deployment_description(&a).starts_with("sfn-operator config "));
    }

    #[test]
    fn response_work_compares_pattern_and_templates() {
        let want = crate::desired::Response {
            status_code: "200".into(),
            selection_pattern: None,
            response_templates: BTreeMap::from([("application/json".to_owned(), "$input.body".to_owned())]),
        };
        let live = json!({"responses": {"200": integration_value_response(&want), "400": {"integrationResponse": false}}});
        let none = ResponseWork {
            put_method_response: false,
            put_integration_response: false,
        };
        assert_eq!(response_work(Some(&live), &want, false), none);
        assert!(response_work(Some(&live), &want, true).put_integration_response);
        let mut other = want.clone();
        other.selection_pattern = Some("4\\d{2}".into());
        assert!(response_work(Some(&live), &other, false).put_integration_response);
        other.status_code = "500".into();
        assert_eq!(
            response_work(Some(&live), &other, false),
            ResponseWork {
                put_method_response: true,
                put_integration_response: true
            }
        );
    }
}
