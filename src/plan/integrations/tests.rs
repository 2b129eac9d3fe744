//! The plan of one REST API's integrations, as plain functions over data: every case the scenario
//! tests in `tests/` drive through an endpoint, here without one.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::desired::{DeletionPolicy, Response};
use crate::live::LiveStage;
use crate::plan::fixtures::integration;
use crate::plan::prune::PruneRecord;

const API: &str = "api1";

/// The live state of an API that serves exactly `ais` (as their manifests say), each path part a
/// resource, stage `prod` serving a deployment of that configuration.
fn live_serving(ais: &[&ApiIntegration]) -> LiveApiState {
    let mut resources = vec![LiveResource {
        id: "root".into(),
        path: "/".into(),
        methods: BTreeMap::new(),
    }];
    for ai in ais {
        match resources.iter_mut().find(|r| r.path == ai.path) {
            Some(r) => {
                r.methods.insert(ai.http_method.clone(), desired_method(ai));
            }
            None => resources.push(LiveResource {
                id: format!("id{}", ai.path.replace('/', "_")),
                path: ai.path.clone(),
                methods: BTreeMap::from([(ai.http_method.clone(), desired_method(ai))]),
            }),
        }
    }
    let description = deployment_description(&api_configuration(&resources));
    LiveApiState {
        resources,
        stages: vec![LiveStage {
            name: "prod".into(),
            deployment_id: Some("d1".into()),
            canary: None,
            variables: BTreeMap::new(),
            canary_overrides: BTreeMap::new(),
            settings: Default::default(),
        }],
        deployments: BTreeMap::from([("d1".to_owned(), Some(description))]),
    }
}

/// The records of `ais` on the API, owned by `owner`.
fn records(ais: &[&ApiIntegration], owner: &str) -> BTreeMap<String, String> {
    ais.iter()
        .map(|ai| IntegrationRecord::of(ai).owned_by(owner).tag().unwrap())
        .collect()
}

struct Fixture {
    live: LiveApiState,
    tags: BTreeMap<String, String>,
    prunes: Vec<PruneRecord>,
    claimed: BTreeSet<(String, String)>,
    declared: BTreeSet<String>,
}

impl Fixture {
    fn new(live: LiveApiState, tags: BTreeMap<String, String>) -> Self {
        Fixture {
            live,
            tags,
            prunes: Vec::new(),
            claimed: BTreeSet::new(),
            declared: BTreeSet::new(),
        }
    }

    fn plan(&self, ais: &[&ApiIntegration]) -> ApiIntegrationsPlan {
        let mut claimed = self.claimed.clone();
        claimed.extend(ais.iter().map(|ai| (ai.http_method.clone(), ai.path.clone())));
        plan_api(&ApiInput {
            api_id: API,
            integrations: ais,
            live: &self.live,
            live_tags: &self.tags,
            prunes: &self.prunes,
            claimed: &claimed,
            declared_stages: &self.declared,
            owner: "default",
            alarms: &BTreeMap::new(),
            now: 0,
            alias_views: &BTreeMap::new(),
        })
    }
}

fn paths(p: &IntegrationPlan) -> Vec<&str> {
    p.changes.iter().map(|c| c.path.as_str()).collect()
}

#[test]
fn in_sync_plans_nothing() {
    let ai = integration("start", "POST", "/execution");
    let f = Fixture::new(live_serving(&[&ai]), records(&[&ai], "default"));
    let plan = f.plan(&[&ai]);
    assert_eq!(
        plan.integrations[0].action,
        Action::Noop,
        "{:?}",
        plan.integrations[0].changes
    );
    assert!(!plan.writes());
    assert!(plan.stages.is_empty());
    assert!(plan.deployable);
}

#[test]
fn a_new_integration_creates_its_path_method_and_responses_then_deploys() {
    let ai = integration("start", "POST", "/a/b");
    let f = Fixture::new(live_serving(&[]), BTreeMap::new());
    let plan = f.plan(&[&ai]);
    let p = &plan.integrations[0];
    assert_eq!(p.action, Action::Create);
    assert_eq!(
        p.writes,
        vec![
            MethodOp::CreateResource { path: "/a".into() },
            MethodOp::CreateResource { path: "/a/b".into() },
            MethodOp::PutMethod,
            MethodOp::PutIntegration,
            MethodOp::PutMethodResponse {
                status_code: "200".into()
            },
            MethodOp::PutIntegrationResponse {
                status_code: "200".into()
            },
        ]
    );
    assert_eq!(
        plan.records.len(),
        1,
        "the record is written before anything is created"
    );
    assert_eq!(
        p.record.as_deref(),
        plan.records.keys().next().map(String::as_str)
    );
    assert_eq!(plan.stages.len(), 1);
    assert_eq!(plan.stages[0].name, "prod");
    assert_eq!(plan.stages[0].integrations, vec![0]);
    assert!(paths(p).contains(&"stage[\"prod\"]"));
}

#[test]
fn response_added_changed_and_removed() {
    let mut ai = integration("start", "POST", "/execution");
    ai.responses.push(Response {
        status_code: "400".into(),
        selection_pattern: Some("4\\d{2}".into()),
        response_templates: BTreeMap::new(),
    });
    let mut live = live_serving(&[&ai]);
    let method = live.resources[1].methods.get_mut("POST").unwrap();
    // 400 changed live, 500 stray, and then the manifest adds 201.
    method.responses.get_mut("400").unwrap().selection_pattern = Some("4..".into());
    method.responses.insert(
        "500".into(),
        LiveResponse {
            integration_response: true,
            selection_pattern: Some("5\\d{2}".into()),
            response_templates: BTreeMap::new(),
        },
    );
    ai.responses.push(Response {
        status_code: "201".into(),
        selection_pattern: Some("created".into()),
        response_templates: BTreeMap::new(),
    });
    let f = Fixture::new(live, records(&[&ai], "default"));
    let plan = f.plan(&[&ai]);
    let p = &plan.integrations[0];
    assert_eq!(p.action, Action::Update);
    assert_eq!(
        p.writes,
        vec![
            MethodOp::DeleteIntegrationResponse {
                status_code: "500".into()
            },
            MethodOp::DeleteMethodResponse {
                status_code: "500".into()
            },
            MethodOp::PutIntegrationResponse {
                status_code: "400".into()
            },
            MethodOp::PutMethodResponse {
                status_code: "201".into()
            },
            MethodOp::PutIntegrationResponse {
                status_code: "201".into()
            },
        ]
    );
    let changed = paths(p);
    assert!(changed.contains(&"responses.400.selectionPattern"), "{changed:?}");
    assert!(changed.contains(&"responses.500"), "{changed:?}");
    assert!(changed.contains(&"responses.201"), "{changed:?}");
    assert_eq!(plan.stages.len(), 1, "the changed configuration is deployed");
}

#[test]
fn an_integration_change_puts_the_integration_and_its_responses_again() {
    let mut ai = integration("start", "POST", "/execution");
    let live = live_serving(&[&ai]);
    ai.integration.timeout_in_millis = 1000;
    let f = Fixture::new(live, records(&[&ai], "default"));
    let p = &f.plan(&[&ai]).integrations[0];
    assert_eq!(paths(p)[0], "integration.timeoutInMillis");
    assert_eq!(
        p.writes,
        vec![
            MethodOp::PutIntegration,
            MethodOp::PutIntegrationResponse {
                status_code: "200".into()
            },
        ]
    );
}

#[test]
fn a_moved_integration_deletes_its_old_method_first() {
    let old = integration("start", "POST", "/execution");
    let mut new = old.clone();
    new.path = "/run".into();
    let f = Fixture::new(live_serving(&[&old]), records(&[&old], "default"));
    let plan = f.plan(&[&new]);
    let p = &plan.integrations[0];
    assert_eq!(
        p.moved,
        Some(Moved {
            http_method: "POST".into(),
            path: "/execution".into(),
            resource_id: "id_execution".into(),
        })
    );
    assert!(paths(p).contains(&"method"));
    assert!(
        p.writes
            .contains(&MethodOp::CreateResource { path: "/run".into() })
    );
    assert_eq!(plan.records.len(), 1, "the record now names the new path");
    // The configuration deployed has the method at /run only.
    let mut moved_live = live_serving(&[&new]);
    moved_live.resources.push(LiveResource {
        id: "id_execution".into(),
        path: "/execution".into(),
        methods: BTreeMap::new(),
    });
    assert_eq!(
        plan.description,
        deployment_description(&api_configuration(&moved_live.resources))
    );
}

#[test]
fn a_move_onto_a_method_another_manifest_claims_keeps_that_method() {
    let old = integration("start", "POST", "/execution");
    let mut new = old.clone();
    new.path = "/run".into();
    let mut f = Fixture::new(live_serving(&[&old]), records(&[&old], "default"));
    f.claimed.insert(("POST".into(), "/execution".into()));
    assert_eq!(f.plan(&[&new]).integrations[0].moved, None);
}

#[test]
fn a_stale_stage_is_deployed_even_when_nothing_else_changed() {
    let ai = integration("start", "POST", "/execution");
    let mut live = live_serving(&[&ai]);
    live.deployments
        .insert("d1".into(), Some("sfn-operator config 0000".into()));
    let f = Fixture::new(live, records(&[&ai], "default"));
    let plan = f.plan(&[&ai]);
    assert!(!plan.writes());
    assert_eq!(plan.stages.len(), 1);
    assert_eq!(
        plan.stages[0].change.before,
        serde_json::json!("deployment d1 (not the current configuration)")
    );
    assert_eq!(plan.integrations[0].action, Action::Update);
    // A missing stage, declared by an integration: deployed too.
    let mut live = live_serving(&[&ai]);
    live.stages.clear();
    let f = Fixture::new(live, records(&[&ai], "default"));
    assert_eq!(f.plan(&[&ai]).stages[0].change.before, serde_json::Value::Null);
}

#[test]
fn adoption_records_ownership_without_rewriting_the_method() {
    let ai = integration("start", "POST", "/execution");
    let f = Fixture::new(live_serving(&[&ai]), BTreeMap::new());
    let plan = f.plan(&[&ai]);
    let p = &plan.integrations[0];
    // Only the record is written: a noop (SPEC §11).
    assert_eq!(p.action, Action::Noop);
    assert!(p.writes.is_empty() && p.changes.is_empty());
    assert!(plan.records.contains_key("sfn-operator.dev/integration/start"));
    assert!(
        plan.stages.is_empty(),
        "a record is not part of the deployed configuration"
    );
}

#[test]
fn a_stage_adopted_as_it_is_is_recorded_not_redeployed() {
    let ai = integration("start", "POST", "/execution");
    let mut live = live_serving(&[&ai]);
    // Deployed by hand: a description the operator did not write.
    live.deployments.insert("d1".into(), Some("console".into()));
    let f = Fixture::new(live.clone(), BTreeMap::new());
    let plan = f.plan(&[&ai]);
    assert!(plan.stages.is_empty(), "{:?}", plan.stages);
    assert_eq!(plan.integrations[0].action, Action::Noop);
    let fp = plan
        .description
        .strip_prefix(DEPLOYMENT_PREFIX)
        .unwrap()
        .to_owned();
    let key = "sfn-operator.dev/adopted-stage/prod";
    assert_eq!(plan.records.get(key), Some(&format!("d1 {fp}")));
    // The next pass, with the records written: nothing to do.
    let written = plan.records.clone();
    let f = Fixture::new(live.clone(), written.clone());
    let next = f.plan(&[&ai]);
    assert!(next.stages.is_empty() && next.records.is_empty() && !next.writes());
    // A change of the method afterwards: deployed.
    let mut changed = ai.clone();
    changed.integration.credentials = Some("arn:aws:iam::1:role/Other".into());
    let f = Fixture::new(live.clone(), written);
    assert_eq!(f.plan(&[&changed]).stages.len(), 1);
    // A method to write during adoption: the stage is deployed, not assumed current.
    let f = Fixture::new(live, BTreeMap::new());
    let plan = f.plan(&[&changed]);
    assert_eq!(plan.stages.len(), 1);
    assert!(
        !plan
            .records
            .keys()
            .any(|k| k.starts_with("sfn-operator.dev/adopted-stage/"))
    );
}

#[test]
fn another_owners_integration_is_refused_and_not_deployed() {
    let ai = integration("start", "POST", "/execution");
    let mut changed = ai.clone();
    changed.integration.timeout_in_millis = 1000;
    let f = Fixture::new(live_serving(&[&ai]), records(&[&ai], "team-b"));
    let plan = f.plan(&[&changed]);
    let p = &plan.integrations[0];
    assert!(
        p.refusal.as_deref().is_some_and(|m| m.contains("team-b")),
        "{p:?}"
    );
    assert!(p.writes.is_empty() && plan.records.is_empty());
    assert!(
        plan.stages.is_empty(),
        "the refused change is not in the planned configuration"
    );
}

#[test]
fn too_many_tags_refuses_the_integrations_whose_record_must_be_written() {
    let ai = integration("start", "POST", "/execution");
    let tags: BTreeMap<String, String> = (0..50).map(|i| (format!("t{i}"), "x".to_owned())).collect();
    let f = Fixture::new(live_serving(&[]), tags);
    let plan = f.plan(&[&ai]);
    assert!(plan.records.is_empty());
    assert!(
        plan.integrations[0]
            .refusal
            .as_deref()
            .is_some_and(|m| m.contains("51 tags"))
    );
}

#[test]
fn a_pruned_record_deletes_its_method_and_redeploys_unless_handed_over() {
    let kept = integration("kept", "POST", "/execution");
    let gone = integration("gone", "GET", "/status");
    let mut f = Fixture::new(live_serving(&[&kept, &gone]), records(&[&kept, &gone], "default"));
    let record = IntegrationRecord::of(&gone);
    f.prunes = vec![PruneRecord {
        record: record.clone(),
        method_claimed: false,
    }];
    let plan = f.plan(&[&kept]);
    assert_eq!(plan.prunes.len(), 1);
    let p = &plan.prunes[0];
    assert_eq!(
        p.delete_method,
        Some(("id_status".into(), "GET".into(), "/status".into()))
    );
    assert_eq!(p.stage.as_deref(), Some("prod"));
    assert_eq!(plan.stages.len(), 1);
    assert_eq!(plan.stages[0].prunes, vec![0]);
    assert!(p.changes.iter().any(|c| c.path == "stage[\"prod\"]"));
    // Handed over: only the record goes, nothing to deploy.
    f.prunes[0].method_claimed = true;
    let plan = f.plan(&[&kept]);
    assert_eq!(plan.prunes[0].delete_method, None);
    assert!(
        plan.prunes[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("only the ownership record"))
    );
    assert!(plan.stages.is_empty());
}

#[test]
fn an_api_left_without_methods_is_not_deployable() {
    let gone = integration("gone", "GET", "/status");
    let mut f = Fixture::new(live_serving(&[&gone]), records(&[&gone], "default"));
    f.prunes = vec![PruneRecord {
        record: IntegrationRecord::of(&gone),
        method_claimed: false,
    }];
    let plan = f.plan(&[]);
    assert!(!plan.deployable);
}

#[test]
fn stages_to_check_are_the_integrations_the_declared_and_the_pruned_ones() {
    let mut ai = integration("start", "POST", "/execution");
    ai.stage = Some("dev".into());
    let mut gone = integration("gone", "GET", "/status");
    gone.deletion_policy = DeletionPolicy::Delete;
    let live = live_serving(&[&ai, &gone]);
    let tags = records(&[&ai, &gone], "default");
    let prunes = [PruneRecord {
        record: IntegrationRecord::of(&gone),
        method_claimed: false,
    }];
    let declared = BTreeSet::from(["qa".to_owned()]);
    let input = ApiInput {
        api_id: API,
        integrations: &[&ai],
        live: &live,
        live_tags: &tags,
        prunes: &prunes,
        claimed: &BTreeSet::new(),
        declared_stages: &declared,
        owner: "default",
        alarms: &BTreeMap::new(),
        now: 0,
        alias_views: &BTreeMap::new(),
    };
    let want: BTreeSet<String> = ["dev", "prod", "qa"].into_iter().map(String::from).collect();
    assert_eq!(stages_to_check(&input), want);
}

#[test]
fn the_api_id_comes_from_the_ref_the_id_or_a_unique_name() {
    let mut ai = integration("start", "POST", "/execution");
    let known = |name: &str| (name == "api").then(|| "a1".to_owned());
    assert_eq!(api_id_of(&ai, &known, &[]), Ok(Some("a1".into())));
    ai.rest_api = RestApiTarget::Id("zz".into());
    assert_eq!(api_id_of(&ai, &known, &[]), Ok(Some("zz".into())));
    ai.rest_api = RestApiTarget::Name("n".into());
    assert!(api_id_of(&ai, &known, &[]).is_err_and(|e| e.starts_with("NotFoundException")));
}
