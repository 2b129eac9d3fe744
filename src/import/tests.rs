//! Import round trips as plain functions: live → files → `manifest::load` → `plan` is a noop.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::desired::{LoggingConfiguration, Resource};
use crate::live::{LiveApiState, LiveIntegration, LiveResponse};
use crate::plan::Action;
use crate::plan::integrations::{ApiInput, plan_api};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

fn target() -> Target {
    Target {
        region: REGION.into(),
        account_id: ACCOUNT.into(),
    }
}

fn machine(name: &str, definition: Value) -> LiveMachine {
    LiveMachine {
        arn: format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"),
        machine_type: MachineType::Express,
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/StepFunctionsIamRole"),
        definition,
        logging: LoggingConfiguration {
            level: "OFF".into(),
            include_execution_data: false,
            destinations: vec![],
        },
        tracing_enabled: false,
        encryption: crate::desired::EncryptionConfiguration::aws_owned(),
        tags: BTreeMap::from([("team".to_owned(), "a ${b}".to_owned())]),
        revision_id: None,
    }
}

fn method(template: Option<String>) -> LiveMethod {
    LiveMethod {
        authorization_type: Some("NONE".into()),
        api_key_required: None,
        request_parameters: BTreeMap::new(),
        request_validator: None,
        integration: Some(LiveIntegration {
            integration_type: Some("AWS".into()),
            uri: Some(format!(
                "arn:aws:apigateway:{REGION}:states:action/StartExecution"
            )),
            integration_http_method: Some("POST".into()),
            credentials: Some(format!("arn:aws:iam::{ACCOUNT}:role/IntegrationIamRole")),
            request_templates: template
                .map(|t| BTreeMap::from([("application/json".to_owned(), t)]))
                .unwrap_or_default(),
            passthrough_behavior: Some("WHEN_NO_MATCH".into()),
            timeout_in_millis: 29000,
            request_parameters: BTreeMap::new(),
            content_handling: None,
        }),
        responses: BTreeMap::from([(
            "200".to_owned(),
            LiveResponse {
                integration_response: true,
                selection_pattern: None,
                response_templates: BTreeMap::new(),
            },
        )]),
        unexpressed: Default::default(),
    }
}

fn api(methods: Vec<(&str, &str, LiveMethod)>) -> LiveRestApi {
    let mut resources: Vec<LiveResource> = vec![LiveResource {
        id: "root".into(),
        path: "/".into(),
        methods: BTreeMap::new(),
    }];
    for (verb, path, m) in methods {
        match resources.iter_mut().find(|r| r.path == path) {
            Some(r) => {
                r.methods.insert(verb.into(), m);
            }
            None => resources.push(LiveResource {
                id: format!("r{}", resources.len()),
                path: path.into(),
                methods: BTreeMap::from([(verb.to_owned(), m)]),
            }),
        }
    }
    LiveRestApi {
        api: LiveApi {
            id: "a1".into(),
            name: "API Gateway State Machine integration".into(),
            description: None,
            endpoint_types: vec!["REGIONAL".into()],
            settings: Default::default(),
            tags: BTreeMap::new(),
        },
        resources,
        stages: vec![LiveStage {
            name: "prod".into(),
            deployment_id: Some("d1".into()),
            canary: None,
            variables: BTreeMap::new(),
            canary_overrides: BTreeMap::new(),
            settings: Default::default(),
        }],
    }
}

/// Writes the files to a temporary directory and loads them as `diff` would.
fn load(imported: &Imported) -> (tempfile::TempDir, crate::manifest::Loaded) {
    let dir = tempfile::tempdir().unwrap();
    for f in &imported.files {
        std::fs::write(dir.path().join(&f.name), &f.text).unwrap();
    }
    let loaded = crate::manifest::load(&crate::manifest::LoadOptions {
        paths: vec![dir.path().to_owned()],
        vars: BTreeMap::new(),
        var_files: vec![],
        region: Some(REGION.into()),
        account_id: Some(ACCOUNT.into()),
    });
    let texts: Vec<String> = imported
        .files
        .iter()
        .map(|f| format!("{}:\n{}", f.name, f.text))
        .collect();
    assert!(
        loaded.diagnostics.is_empty(),
        "{:?}\n{}",
        loaded.diagnostics,
        texts.join("\n")
    );
    (dir, loaded)
}

fn reference_definition() -> Value {
    let task = |name: &str, function: &str, selector: Value| {
        json!({"StartAt": name, "States": {name: {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"Payload.$": "$", "FunctionName": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:$LATEST")},
            "ResultSelector": selector,
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"],
                       "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL"}],
            "End": true}}})
    };
    json!({"Comment": "A step functions workflow that executes tasks in parallel.", "StartAt": "Parallel",
    "States": {"Parallel": {"Type": "Parallel", "End": true, "Branches": [
        task("SumValues", "SumFunction", json!({"sum.$": "$.Payload.sum"})),
        task("MaxMinValues", "MaxMinFunction", json!({"max.$": "$.Payload.max", "min.$": "$.Payload.min"})),
        task("AverageValues", "AvgFunction", json!({"avg.$": "$.Payload.avg"})),
    ]}}})
}

#[test]
fn the_reference_system_round_trips_to_noop_plans() {
    let m = machine("ParallelProcessingMachine", reference_definition());
    let default = crate::manifest::default_template(REGION, ACCOUNT, "ParallelProcessingMachine", None, None);
    let proxy = LiveMethod {
        integration: Some(LiveIntegration {
            integration_type: Some("AWS_PROXY".into()),
            uri: Some("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/f/invocations".into()),
            ..method(None).integration.unwrap()
        }),
        ..method(None)
    };
    let live_api = api(vec![
        ("POST", "/execution", method(Some(default))),
        ("GET", "/execution", method(None)),
        ("POST", "/lambda", proxy),
    ]);
    let imported = import(
        std::slice::from_ref(&m),
        &Default::default(),
        std::slice::from_ref(&live_api),
        &target(),
    )
    .unwrap();
    let names: Vec<&str> = imported.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "parallel-processing-machine.yaml",
            "parallel-processing-machine.asl.yaml",
            "api-gateway-state-machine-integration.yaml"
        ]
    );
    assert_eq!(imported.skipped.len(), 1, "{:?}", imported.skipped);
    assert!(
        imported.skipped[0].starts_with("POST /lambda on REST API a1"),
        "{:?}",
        imported.skipped
    );
    let text = &imported.files[0].text;
    assert!(
        text.contains("roleArn: \"arn:aws:iam::${AWS::AccountId}:role/StepFunctionsIamRole\""),
        "{text}"
    );
    let asl = &imported.files[1].text;
    assert!(
        asl.contains("arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:SumFunction"),
        "{asl}"
    );
    let api_text = &imported.files[2].text;
    assert!(
        api_text.contains("stateMachineRef: parallel-processing-machine"),
        "{api_text}"
    );

    let (_dir, loaded) = load(&imported);
    let mut sm = None;
    let mut ais = Vec::new();
    for r in &loaded.desired.resources {
        match r {
            Resource::StateMachine(s) => sm = Some(s),
            Resource::ApiIntegration(ai) => ais.push(ai),
            Resource::RestApi(_) => {}
        }
    }
    let sm = sm.unwrap();
    assert_eq!(sm.definition, m.definition);
    let mut tags = sm.tags.clone();
    assert_eq!(tags.get("team").map(String::as_str), Some("a ${b}"));
    tags.extend(crate::ownership::owner_tags(
        &r_key(sm),
        sm.deletion_policy,
        "default",
    ));
    let plan = crate::plan::machine::plan_machine(sm, &tags, Some(&m), "default");
    assert_eq!(
        (plan.action, plan.adopted),
        (Action::Noop, true),
        "{:?}",
        plan.changes
    );

    // The GET without a template stays without one: no default added.
    assert_eq!(ais.len(), 2);
    let get = ais.iter().find(|a| a.http_method == "GET").unwrap();
    assert!(get.integration.request_templates.is_empty() && get.state_machine_ref.is_none());
    let live_state = LiveApiState {
        resources: live_api.resources.clone(),
        stages: live_api.stages.clone(),
        deployments: BTreeMap::from([("d1".to_owned(), None)]),
    };
    let stages = BTreeSet::from(["prod".to_owned()]);
    let claimed = ais
        .iter()
        .map(|a| (a.http_method.clone(), a.path.clone()))
        .collect();
    let input = ApiInput {
        api_id: "a1",
        integrations: &ais,
        live: &live_state,
        live_tags: &BTreeMap::new(),
        prunes: &[],
        claimed: &claimed,
        declared_stages: &stages,
        owner: "default",
        alarms: &BTreeMap::new(),
        now: 0,
        alias_views: &BTreeMap::new(),
    };
    let plan = plan_api(&input);
    for p in &plan.integrations {
        assert_eq!(p.action, Action::Noop, "{:?}", p.changes);
        assert!(p.writes.is_empty());
    }
    assert!(plan.stages.is_empty(), "{:?}", plan.stages);
}

fn r_key(sm: &crate::desired::StateMachine) -> crate::desired::ResourceKey {
    crate::desired::ResourceKey::new(crate::desired::Kind::StateMachine, sm.meta.name.clone())
}

#[test]
fn jsonata_unicode_and_placeholders_in_definitions_load_back_exactly() {
    let definition = json!({
        "QueryLanguage": "JSONata",
        "Comment": "Étapes — ${not a placeholder}",
        "StartAt": "Première étape",
        "States": {
            "Première étape": {"Type": "Pass", "Assign": {"total": "{% $sum($states.input.values) %}"},
                "Output": {"t": "{% $total %}", "n": 2.5, "region": "us-east-1"}, "Next": "終わり"},
            "終わり": {"Type": "Succeed"}
        }
    });
    let mut m = machine("Unicode_Machine", definition.clone());
    m.machine_type = MachineType::Standard;
    m.tracing_enabled = true;
    m.logging = LoggingConfiguration {
        level: "ALL".into(),
        include_execution_data: true,
        destinations: vec![format!(
            "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/states/x:*"
        )],
    };
    let imported = import(&[m.clone()], &Default::default(), &[], &target()).unwrap();
    let (_dir, loaded) = load(&imported);
    let Resource::StateMachine(sm) = &loaded.desired.resources[0] else {
        panic!()
    };
    assert_eq!(sm.meta.name, "unicode-machine");
    assert_eq!(sm.name, "Unicode_Machine");
    assert_eq!(sm.definition, definition);
    let (changes, refusal) = crate::plan::machine::config_changes(sm, &m);
    assert!(changes.is_empty() && refusal.is_none(), "{changes:?}");
    assert_eq!(sm.logging.as_ref(), Some(&m.logging));
    assert_eq!(sm.tracing_enabled, Some(true));
}

#[test]
fn what_the_manifest_cannot_say_is_refused_by_name() {
    let mut m = method(None);
    m.authorization_type = Some("COGNITO_USER_POOLS".into());
    let mut params = method(None);
    params.unexpressed.0 = vec!["integration.requestParameters".into()];
    let mut two_stages = api(vec![("POST", "/x", m), ("PUT", "/x", params)]);
    two_stages.stages.push(LiveStage {
        name: "dev".into(),
        deployment_id: None,
        canary: Some(("d2".into(), 10.0)),
        variables: BTreeMap::new(),
        canary_overrides: BTreeMap::new(),
        settings: Default::default(),
    });
    let err = import(&[], &Default::default(), &[two_stages], &target()).unwrap_err();
    let text: Vec<String> = err.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.contains("stages prod, dev")), "{text:?}");
    assert!(
        text.iter().any(|t| t.contains("stage dev has a canary")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("POST /x on REST API a1") && t.contains("COGNITO_USER_POOLS")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("PUT /x on REST API a1") && t.contains("integration.requestParameters")),
        "{text:?}"
    );
}

#[test]
fn names_are_dns_labels_and_unique() {
    let mut n = Names::default();
    assert_eq!(
        n.unique("StateMachine", "ParallelProcessingMachine"),
        "parallel-processing-machine"
    );
    assert_eq!(
        n.unique("StateMachine", "parallel_processing-Machine"),
        "parallel-processing-machine-2"
    );
    assert_eq!(
        n.unique("RestApi", "ParallelProcessingMachine"),
        "parallel-processing-machine"
    );
    let long = n.unique("StateMachine", &"A".repeat(80));
    assert!(
        long.len() <= 63 && crate::desired::is_valid_machine_name(&long),
        "{long}"
    );
    assert_eq!(n.unique("StateMachine", "Ωμέγα"), "imported");
    assert_eq!(path_name("/"), "root");
    assert_eq!(path_name("/orders/{id}"), "orders-id");
}
