//! Model-based convergence (issue 9): over many seeded rounds, random edits to manifests of all
//! three kinds (every field, responses, paths, methods, stages, `stateMachineRef` targets), random
//! out-of-band drift through the SDK, and random faults (throttling, 5xx, lost answers), then
//! `reconcile --once --prune` through the real binary. After each round an independent reader (the
//! AWS SDK, with this file's own idea of what the manifests mean) checks that live equals the
//! model, that nothing is duplicated, that every stage serves a deployment of the configuration
//! the API holds now, and that the next pass makes zero writes.
//!
//! `SFN_OPERATOR_CONVERGENCE_SEED=N` repeats a run; `SFN_OPERATOR_CONVERGENCE_ROUNDS=N` sets its
//! length. The seed is printed first, and in every failure message.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use serde_json::{Value, json};

mod common;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const API_NAME: &str = "convergence api";
const PATHS: [&str; 4] = ["/execution", "/items", "/items/{id}", "/a/b/c"];
const METHODS: [&str; 3] = ["POST", "GET", "PUT"];
const STAGES: [&str; 2] = ["prod", "dev"];
const CODES: [&str; 3] = ["200", "400", "500"];
const PATTERNS: [&str; 3] = ["4\\d{2}", "5\\d{2}", ".*Error.*"];
const PASSTHROUGH: [&str; 3] = ["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"];

#[derive(Debug, Clone, PartialEq)]
struct Machine {
    name: &'static str,
    result: u32,
    role: u32,
    tag: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct Resp {
    code: &'static str,
    pattern: Option<&'static str>,
    template: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
struct Integ {
    name: String,
    path: &'static str,
    method: &'static str,
    stage: Option<&'static str>,
    timeout: i32,
    passthrough: &'static str,
    machine: Option<usize>,
    template: Option<u32>,
    credentials: u32,
    responses: Vec<Resp>,
}

#[derive(Debug, Clone, PartialEq)]
struct Model {
    machines: Vec<Machine>,
    api_description: u32,
    api_tag: u32,
    integs: Vec<Integ>,
}

/// What the generator may change: `record_stable` keeps the REST API's tags as they are — its
/// own and every integration's ownership record (name, method, path, stage) — for moto, which
/// cannot tag a REST API after its creation (PEERS.md).
#[derive(Debug, Clone, Copy)]
struct Limits {
    record_stable: bool,
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, xs: &[T]) -> T {
    xs[rng.usize(..xs.len())]
}

fn random_responses(rng: &mut fastrand::Rng) -> Vec<Resp> {
    let mut codes: Vec<&'static str> = CODES.iter().copied().filter(|_| rng.bool()).collect();
    if codes.is_empty() {
        codes.push("200");
    }
    codes
        .into_iter()
        .map(|code| Resp {
            code,
            // The default response (no pattern) is the first one; the others select by pattern.
            pattern: (code != "200").then(|| pick(rng, &PATTERNS)),
            template: rng.bool().then(|| rng.u32(..100)),
        })
        .collect()
}

fn free_slot(
    rng: &mut fastrand::Rng,
    integs: &[Integ],
    skip: Option<usize>,
) -> Option<(&'static str, &'static str)> {
    let taken: BTreeSet<(&str, &str)> = integs
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, x)| (x.path, x.method))
        .collect();
    let free: Vec<(&'static str, &'static str)> = PATHS
        .iter()
        .flat_map(|p| METHODS.iter().map(move |m| (*p, *m)))
        .filter(|s| !taken.contains(s))
        .collect();
    (!free.is_empty()).then(|| pick(rng, &free))
}

fn new_integ(rng: &mut fastrand::Rng, name: String, slot: (&'static str, &'static str)) -> Integ {
    Integ {
        name,
        path: slot.0,
        method: slot.1,
        stage: if rng.u8(..4) == 0 {
            None
        } else {
            Some(pick(rng, &STAGES))
        },
        timeout: rng.i32(50..=29000),
        passthrough: pick(rng, &PASSTHROUGH),
        machine: if rng.u8(..4) == 0 {
            None
        } else {
            Some(rng.usize(..2))
        },
        template: rng.bool().then(|| rng.u32(..100)),
        credentials: rng.u32(..3),
        responses: random_responses(rng),
    }
}

impl Model {
    fn initial(rng: &mut fastrand::Rng) -> Model {
        let mut integs = Vec::new();
        for i in 0..rng.usize(1..=3) {
            let slot = free_slot(rng, &integs, None).expect("a free slot");
            integs.push(new_integ(rng, format!("i-{i}"), slot));
        }
        Model {
            machines: vec![
                Machine {
                    name: "m-a",
                    result: 0,
                    role: 0,
                    tag: 0,
                },
                Machine {
                    name: "m-b",
                    result: 0,
                    role: 0,
                    tag: 0,
                },
            ],
            api_description: 0,
            api_tag: 0,
            integs,
        }
    }

    /// One random edit; returns what it did, for the failure message.
    fn mutate(&mut self, rng: &mut fastrand::Rng, limits: Limits) -> String {
        loop {
            let n = self.integs.len();
            let i = rng.usize(..n);
            let what = rng.u8(..16);
            match what {
                0 => {
                    let m = &mut self.machines[rng.usize(..2)];
                    m.result += 1;
                    return format!("{} definition", m.name);
                }
                1 => {
                    let m = &mut self.machines[rng.usize(..2)];
                    m.role = (m.role + 1) % 3;
                    return format!("{} roleArn", m.name);
                }
                2 => {
                    let m = &mut self.machines[rng.usize(..2)];
                    m.tag += 1;
                    return format!("{} tags", m.name);
                }
                3 => {
                    self.api_description += 1;
                    return "api description".into();
                }
                4 if !limits.record_stable => {
                    self.api_tag += 1;
                    return "api tags".into();
                }
                5 if !limits.record_stable && n < 3 => {
                    let used: BTreeSet<&str> = self.integs.iter().map(|x| x.name.as_str()).collect();
                    let name = (0..4)
                        .map(|k| format!("i-{k}"))
                        .find(|k| !used.contains(k.as_str()));
                    if let (Some(name), Some(slot)) = (name, free_slot(rng, &self.integs, None)) {
                        let x = new_integ(rng, name, slot);
                        let d = format!("add {} {} {}", x.name, x.method, x.path);
                        self.integs.push(x);
                        return d;
                    }
                }
                6 if !limits.record_stable && n > 1 => {
                    let x = self.integs.remove(i);
                    return format!("remove {}", x.name);
                }
                7 if !limits.record_stable => {
                    if let Some(slot) = free_slot(rng, &self.integs, Some(i)) {
                        let x = &mut self.integs[i];
                        x.path = slot.0;
                        x.method = slot.1;
                        return format!("move {} to {} {}", x.name, x.method, x.path);
                    }
                }
                8 if !limits.record_stable => {
                    let x = &mut self.integs[i];
                    x.stage = if rng.u8(..4) == 0 {
                        None
                    } else {
                        Some(pick(rng, &STAGES))
                    };
                    return format!("{} stage {:?}", x.name, x.stage);
                }
                9 => {
                    let x = &mut self.integs[i];
                    x.timeout = rng.i32(50..=29000);
                    return format!("{} timeoutInMillis", x.name);
                }
                10 => {
                    let x = &mut self.integs[i];
                    x.passthrough = pick(rng, &PASSTHROUGH);
                    return format!("{} passthroughBehavior", x.name);
                }
                11 => {
                    let x = &mut self.integs[i];
                    x.machine = if rng.u8(..4) == 0 {
                        None
                    } else {
                        Some(rng.usize(..2))
                    };
                    return format!("{} stateMachineRef {:?}", x.name, x.machine);
                }
                12 => {
                    let x = &mut self.integs[i];
                    x.template = rng.bool().then(|| rng.u32(..100));
                    return format!("{} requestTemplates", x.name);
                }
                13 => {
                    let x = &mut self.integs[i];
                    x.credentials = (x.credentials + 1) % 3;
                    return format!("{} credentials", x.name);
                }
                14 => {
                    let x = &mut self.integs[i];
                    x.responses = random_responses(rng);
                    return format!("{} responses", x.name);
                }
                15 => {
                    let x = &mut self.integs[i];
                    let k = rng.usize(..x.responses.len());
                    let r = &mut x.responses[k];
                    if r.code != "200" && rng.bool() {
                        r.pattern = Some(pick(rng, &PATTERNS));
                        return format!("{} responses[{}].selectionPattern", x.name, r.code);
                    }
                    r.template = Some(rng.u32(..100));
                    return format!("{} responses[{}].responseTemplates", x.name, r.code);
                }
                _ => {}
            }
        }
    }

    fn machine_arn(&self, m: usize) -> String {
        format!(
            "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{}",
            aws_name(self.machines[m].name)
        )
    }

    fn definition(m: &Machine) -> Value {
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"v": m.result}, "End": true}}})
    }

    /// The manifests, one file per document (JSON is YAML).
    fn write(&self, dir: &Path) {
        for e in std::fs::read_dir(dir).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        let doc = |kind: &str, name: &str, spec: Value| json!({"apiVersion": "sfn-operator.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec});
        for m in &self.machines {
            let spec = json!({
                "name": aws_name(m.name),
                "type": "EXPRESS",
                "roleArn": role(m.role),
                "definition": Model::definition(m),
                "tags": {"generation": m.tag.to_string()},
                "deletionPolicy": "Delete",
            });
            write_doc(dir, m.name, &doc("StateMachine", m.name, spec));
        }
        let spec = json!({
            "name": API_NAME,
            "description": format!("description {}", self.api_description),
            "tags": {"team": format!("t{}", self.api_tag)},
            "deletionPolicy": "Delete",
        });
        write_doc(dir, "api", &doc("RestApi", "api", spec));
        for x in &self.integs {
            let mut integration = json!({
                "service": "states",
                "action": "StartExecution",
                "credentials": credentials(x.credentials),
                "timeoutInMillis": x.timeout,
                "passthroughBehavior": x.passthrough,
            });
            if let Some(t) = x.template {
                integration["requestTemplates"] = json!({"application/json": request_template(t)});
            }
            let responses: Vec<Value> = x
                .responses
                .iter()
                .map(|r| {
                    let mut v = json!({"statusCode": r.code});
                    if let Some(p) = r.pattern {
                        v["selectionPattern"] = json!(p);
                    }
                    if let Some(t) = r.template {
                        v["responseTemplates"] = json!({"application/json": response_template(t)});
                    }
                    v
                })
                .collect();
            let mut spec = json!({
                "restApi": {"ref": "api"},
                "path": x.path,
                "httpMethod": x.method,
                "integration": integration,
                "responses": responses,
                "deletionPolicy": "Delete",
            });
            if let Some(m) = x.machine {
                spec["stateMachineRef"] = json!(self.machines[m].name);
            }
            if let Some(s) = x.stage {
                spec["stage"] = json!(s);
            }
            write_doc(dir, &x.name, &doc("ApiIntegration", &x.name, spec));
        }
    }

    /// The integration as this test reads the SPEC: the live fields it must have.
    fn expected_integration(&self, x: &Integ) -> Value {
        let templates = match (x.template, x.machine) {
            (Some(t), _) => json!({"application/json": request_template(t)}),
            (None, Some(m)) => json!({"application/json": format!(
                "{{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"stateMachineArn\": \"{}\"}}",
                self.machine_arn(m)
            )}),
            (None, None) => json!({}),
        };
        let responses: BTreeMap<&str, Value> = x
            .responses
            .iter()
            .map(|r| {
                let t = r
                    .template
                    .map(|t| json!({"application/json": response_template(t)}))
                    .unwrap_or(json!({}));
                (
                    r.code,
                    json!({"selectionPattern": r.pattern, "responseTemplates": t}),
                )
            })
            .collect();
        json!({
            "authorizationType": "NONE",
            "type": "AWS",
            "uri": format!("arn:aws:apigateway:{REGION}:states:action/StartExecution"),
            "integrationHttpMethod": "POST",
            "credentials": credentials(x.credentials),
            "requestTemplates": templates,
            "passthroughBehavior": x.passthrough,
            "timeoutInMillis": x.timeout,
            "methodResponses": responses.keys().collect::<Vec<_>>(),
            "integrationResponses": responses,
        })
    }
}

fn aws_name(name: &str) -> String {
    format!("Convergence-{name}")
}

fn role(n: u32) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/StepFunctionsIamRole{n}")
}

fn credentials(n: u32) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/IntegrationIamRole{n}")
}

fn request_template(n: u32) -> String {
    format!("{{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"n\": {n}}}")
}

fn response_template(n: u32) -> String {
    format!("{{\"status\": \"$input.path('$.status')\", \"n\": {n}}}")
}

fn write_doc(dir: &Path, name: &str, doc: &Value) {
    std::fs::write(
        dir.join(format!("{name}.yaml")),
        serde_json::to_string_pretty(doc).unwrap(),
    )
    .unwrap();
}

fn map_json(m: Option<&HashMap<String, String>>) -> Value {
    let sorted: BTreeMap<&String, &String> = m.map(|m| m.iter().collect()).unwrap_or_default();
    json!(sorted)
}

/// What the independent reader sees of one REST API: `path → method → fields`, in a canonical
/// (sorted) form, so that two reads of the same configuration are the same text.
async fn read_configuration(
    apigw: &aws_sdk_apigateway::Client,
    api: &str,
) -> Result<BTreeMap<String, BTreeMap<String, Value>>, String> {
    let r = apigw
        .get_resources()
        .rest_api_id(api)
        .embed("methods")
        .limit(500)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let mut out = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for res in r.items() {
        let path = res.path().unwrap_or_default().to_owned();
        if !seen.insert(path.clone()) {
            return Err(format!("duplicate resource for path {path}"));
        }
        let mut methods = BTreeMap::new();
        for (verb, m) in res.resource_methods().into_iter().flatten() {
            let i = m.method_integration();
            let irs: BTreeMap<String, Value> = i
                .and_then(|i| i.integration_responses())
                .into_iter()
                .flatten()
                .map(|(code, r)| {
                    (
                        code.clone(),
                        json!({"selectionPattern": r.selection_pattern(), "responseTemplates": map_json(r.response_templates())}),
                    )
                })
                .collect();
            let mut mrs: Vec<String> = m
                .method_responses()
                .into_iter()
                .flatten()
                .map(|(c, _)| c.clone())
                .collect();
            mrs.sort();
            methods.insert(
                verb.clone(),
                json!({
                    "authorizationType": m.authorization_type(),
                    "type": i.and_then(|i| i.r#type()).map(|t| t.as_str().to_owned()),
                    "uri": i.and_then(|i| i.uri()),
                    "integrationHttpMethod": i.and_then(|i| i.http_method()),
                    "credentials": i.and_then(|i| i.credentials()),
                    "requestTemplates": map_json(i.and_then(|i| i.request_templates())),
                    "passthroughBehavior": i.and_then(|i| i.passthrough_behavior()),
                    "timeoutInMillis": i.map(|i| i.timeout_in_millis()),
                    "methodResponses": mrs,
                    "integrationResponses": irs,
                }),
            );
        }
        if !methods.is_empty() {
            out.insert(path, methods);
        }
    }
    Ok(out)
}

struct Checker {
    sfn: aws_sdk_sfn::Client,
    apigw: aws_sdk_apigateway::Client,
    /// What each deployment captured, as read when this test first saw it on a stage.
    deployed: HashMap<String, String>,
}

impl Checker {
    async fn api_id(&self) -> String {
        self.try_api_id().await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn try_api_id(&self) -> Result<String, String> {
        let apis = self
            .apigw
            .get_rest_apis()
            .limit(500)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let ours: Vec<_> = apis
            .items()
            .iter()
            .filter(|a| a.name() == Some(API_NAME))
            .collect();
        if ours.len() != 1 {
            return Err(format!("not exactly one REST API named {API_NAME:?}: {ours:?}"));
        }
        Ok(ours[0].id().unwrap_or_default().to_owned())
    }

    /// Live equals the model; every stage in use serves the configuration the API holds now.
    /// `Err` says the first difference. Deployments first seen on a stage are remembered only
    /// when the whole check holds.
    async fn check(&mut self, model: &Model) -> Result<(), String> {
        macro_rules! ensure_eq {
            ($got:expr, $want:expr, $($what:tt)+) => {{
                match (&$got, &$want) {
                    (got, want) if got != want => {
                        return Err(format!("{}: live {:?}, manifests {:?}", format!($($what)+), got, want));
                    }
                    _ => {}
                }
            }};
        }
        let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
        for (k, m) in model.machines.iter().enumerate() {
            let arn = model.machine_arn(k);
            let d = self
                .sfn
                .describe_state_machine()
                .state_machine_arn(&arn)
                .send()
                .await
                .map_err(|x| e(&x))?;
            let def: Value = serde_json::from_str(d.definition()).map_err(|x| e(&x))?;
            ensure_eq!(def, Model::definition(m), "{} definition", m.name);
            ensure_eq!(d.role_arn(), role(m.role).as_str(), "{} roleArn", m.name);
            let tags = self
                .sfn
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|x| e(&x))?;
            let generation = tags
                .tags()
                .iter()
                .find(|t| t.key() == Some("generation"))
                .and_then(|t| t.value());
            ensure_eq!(generation, Some(m.tag.to_string().as_str()), "{} tags", m.name);
        }
        let api = self.try_api_id().await?;
        let live = self
            .apigw
            .get_rest_api()
            .rest_api_id(&api)
            .send()
            .await
            .map_err(|x| e(&x))?;
        ensure_eq!(
            live.description(),
            Some(format!("description {}", model.api_description).as_str()),
            "api description"
        );
        ensure_eq!(
            live.tags().and_then(|t| t.get("team")).map(String::as_str),
            Some(format!("t{}", model.api_tag).as_str()),
            "api tags"
        );
        let config = read_configuration(&self.apigw, &api).await?;
        let mut expected: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for x in &model.integs {
            expected
                .entry(x.path.to_owned())
                .or_default()
                .insert(x.method.to_owned(), model.expected_integration(x));
        }
        // Every method is a manifest's (pruning took the rest), with exactly its fields.
        ensure_eq!(config, expected, "methods");
        let text = json!(config).to_string();
        let stages: BTreeSet<&str> = model.integs.iter().filter_map(|x| x.stage).collect();
        let mut first_seen = Vec::new();
        for stage in stages {
            let s = self
                .apigw
                .get_stage()
                .rest_api_id(&api)
                .stage_name(stage)
                .send()
                .await
                .map_err(|x| format!("stage {stage}: {x:?}"))?;
            let dep = s
                .deployment_id()
                .ok_or(format!("stage {stage} serves no deployment"))?
                .to_owned();
            match self.deployed.get(&dep) {
                Some(captured) if captured != &text => {
                    return Err(format!(
                        "stage {stage} serves deployment {dep}, made for another configuration"
                    ));
                }
                Some(_) => {}
                None => first_seen.push(dep),
            }
        }
        for dep in first_seen {
            self.deployed.insert(dep, text.clone());
        }
        Ok(())
    }

    /// Random out-of-band changes; returns what was done.
    async fn drift(&mut self, rng: &mut fastrand::Rng, model: &Model) -> Vec<String> {
        let mut done = Vec::new();
        let api = self.api_id().await;
        let resources = self
            .apigw
            .get_resources()
            .rest_api_id(&api)
            .limit(500)
            .send()
            .await
            .unwrap();
        let res_id = |path: &str| {
            resources
                .items()
                .iter()
                .find(|r| r.path() == Some(path))
                .and_then(|r| r.id())
                .map(str::to_owned)
        };
        for _ in 0..rng.usize(1..=2) {
            let x = &model.integs[rng.usize(..model.integs.len())];
            let Some(res) = res_id(x.path) else { continue };
            match rng.u8(..8) {
                0 => {
                    let op = PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/timeoutInMillis")
                        .value(((x.timeout % 28000) + 100).to_string())
                        .build();
                    let _ = self
                        .apigw
                        .update_integration()
                        .rest_api_id(&api)
                        .resource_id(&res)
                        .http_method(x.method)
                        .patch_operations(op)
                        .send()
                        .await;
                    done.push(format!("timeout of {}", x.name));
                }
                1 => {
                    let code = x.responses[rng.usize(..x.responses.len())].code;
                    let _ = self
                        .apigw
                        .delete_integration_response()
                        .rest_api_id(&api)
                        .resource_id(&res)
                        .http_method(x.method)
                        .status_code(code)
                        .send()
                        .await;
                    done.push(format!("integration response {code} of {} deleted", x.name));
                }
                2 => {
                    let _ = self
                        .apigw
                        .put_method_response()
                        .rest_api_id(&api)
                        .resource_id(&res)
                        .http_method(x.method)
                        .status_code("418")
                        .send()
                        .await;
                    done.push(format!("stray response 418 on {}", x.name));
                }
                3 => {
                    let _ = self
                        .apigw
                        .delete_method()
                        .rest_api_id(&api)
                        .resource_id(&res)
                        .http_method(x.method)
                        .send()
                        .await;
                    done.push(format!("method of {} deleted", x.name));
                }
                4 => {
                    let arn = model.machine_arn(rng.usize(..2));
                    let _ = self
                        .sfn
                        .update_state_machine()
                        .state_machine_arn(&arn)
                        .definition(r#"{"StartAt":"Z","States":{"Z":{"Type":"Succeed"}}}"#)
                        .send()
                        .await;
                    done.push(format!("definition of {arn}"));
                }
                5 => {
                    let op = PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/description")
                        .value("drifted")
                        .build();
                    let _ = self
                        .apigw
                        .update_rest_api()
                        .rest_api_id(&api)
                        .patch_operations(op)
                        .send()
                        .await;
                    done.push("api description".into());
                }
                6 => {
                    let op = PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/responseTemplates/application~1json")
                        .value("drifted")
                        .build();
                    let _ = self
                        .apigw
                        .update_integration_response()
                        .rest_api_id(&api)
                        .resource_id(&res)
                        .http_method(x.method)
                        .status_code(x.responses[0].code)
                        .patch_operations(op)
                        .send()
                        .await;
                    done.push(format!("response template of {}", x.name));
                }
                _ => {
                    let credentials = PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/credentials")
                        .value(format!("arn:aws:iam::{ACCOUNT}:role/Drifted"))
                        .build();
                    let _ = self
                        .apigw
                        .update_integration()
                        .rest_api_id(&api)
                        .resource_id(&res)
                        .http_method(x.method)
                        .patch_operations(credentials)
                        .send()
                        .await;
                    done.push(format!("credentials of {}", x.name));
                }
            }
        }
        // Sometimes the drift is deployed too, so a stage serves it.
        if let Some(stage) = model.integs.iter().find_map(|x| x.stage)
            && rng.u8(..3) == 0
        {
            let deployed = self
                .apigw
                .create_deployment()
                .rest_api_id(&api)
                .stage_name(stage)
                .send()
                .await;
            if let Ok(d) = deployed {
                let text = json!(read_configuration(&self.apigw, &api).await.unwrap()).to_string();
                self.deployed.insert(d.id().unwrap().to_owned(), text);
                done.push(format!("drift deployed to {stage}"));
            }
        }
        done
    }
}

async fn run(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    let (dir, url) = (dir.to_owned(), url.to_owned());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
            .args(&args)
            .arg(&dir)
            .args([
                "--endpoint-url",
                &url,
                "--region",
                REGION,
                "--no-rate-limits",
                "-o",
                "json",
                "-q",
            ])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run sfn-operator")
    })
    .await
    .unwrap()
}

async fn sandbox_json(url: &str, path: &str, body: Option<Value>) -> Value {
    let c = reqwest::Client::new();
    let r = match body {
        Some(b) => c.post(format!("{url}{path}")).json(&b).send().await.unwrap(),
        None => c.get(format!("{url}{path}")).send().await.unwrap(),
    };
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

fn seed_and_rounds(default_rounds: usize) -> (u64, usize) {
    let seed = std::env::var("SFN_OPERATOR_CONVERGENCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let rounds = std::env::var("SFN_OPERATOR_CONVERGENCE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_rounds);
    (seed, rounds)
}

/// One scenario against `url`; `sandbox`: the sandbox's faults and request counts are used.
async fn converge(url: &str, seed: u64, rounds: usize, limits: Limits, sandbox: bool) {
    eprintln!("convergence: seed {seed}, {rounds} rounds (SFN_OPERATOR_CONVERGENCE_SEED={seed} repeats it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let conf = common::sdk_conf(url).await;
    let mut checker = Checker {
        sfn: aws_sdk_sfn::Client::new(&conf),
        apigw: aws_sdk_apigateway::Client::new(&conf),
        deployed: HashMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::initial(&mut rng);
    let mut faults_seen = 0u64;
    for round in 0..rounds {
        let mut log = Vec::new();
        if round > 0 {
            for _ in 0..rng.usize(1..=3) {
                log.push(model.mutate(&mut rng, limits));
            }
            if rng.u8(..5) < 3 {
                log.extend(checker.drift(&mut rng, &model).await);
            }
        }
        model.write(dir.path());
        let faulty = sandbox && round > 0 && rng.bool();
        if faulty {
            let f = json!({"throttle": 0.1, "error": 0.05, "lost": 0.15, "seed": rng.u64(..)});
            sandbox_json(url, "/_sandbox/faults", Some(f)).await;
            log.push("faults: throttle 0.1, error 0.05, lost 0.15".into());
        }
        let ctx = format!("seed {seed}, round {round}: {log:?}");
        let out = run(
            dir.path(),
            url,
            &["reconcile", "--once", "--prune", "--timeout", "60s"],
        )
        .await;
        if sandbox {
            let counts = sandbox_json(url, "/_sandbox/requests", None).await;
            faults_seen += counts["injectedFaults"]["lost"].as_u64().unwrap_or(0);
            sandbox_json(url, "/_sandbox/faults", Some(json!({}))).await;
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "{ctx}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Err(diff) = checker.check(&model).await {
            panic!(
                "{ctx}\nreport:\n{}\nlive differs: {diff}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        // The pass after a converged one makes no write.
        if sandbox {
            sandbox_json(url, "/_sandbox/requests/reset", Some(json!({}))).await;
        }
        let again = run(dir.path(), url, &["reconcile", "--once", "--prune"]).await;
        assert_eq!(again.status.code(), Some(0), "{ctx}: second pass failed");
        let report: Value = serde_json::from_slice(&again.stdout).unwrap();
        let noop = report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"] == "noop");
        assert!(noop, "{ctx}: second pass changed something:\n{report}");
        if sandbox {
            let counts = sandbox_json(url, "/_sandbox/requests", None).await;
            assert_eq!(counts["writes"], 0, "{ctx}: second pass wrote: {counts}");
        }
    }
    if sandbox && rounds >= 20 {
        assert!(
            faults_seen > 0,
            "seed {seed}: no lost answer was injected in {rounds} rounds"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandbox_converges_under_random_edits_drift_and_faults() {
    let (_state, sandbox) = common::sandbox().await;
    let (seed, rounds) = seed_and_rounds(300);
    converge(
        &sandbox.endpoint_url(),
        seed,
        rounds,
        Limits { record_stable: false },
        true,
    )
    .await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_converges_under_random_edits_and_drift() {
    let moto = common::start_moto().await;
    let (seed, rounds) = seed_and_rounds(30);
    converge(
        &moto.url,
        seed,
        rounds.min(30),
        Limits { record_stable: true },
        false,
    )
    .await;
}

/// The same generator driving the daemon: each round's edits (no drift: that waits for a resync)
/// must go live, checked by the same independent reader once the daemon says it is idle
/// (everything Synced, queue depth 0). Prints how long each round took to go live.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daemon_applies_generated_edits_of_every_kind() {
    let (_state, sandbox) = common::sandbox().await;
    let url = sandbox.endpoint_url();
    let (seed, rounds) = seed_and_rounds(15);
    let rounds = rounds.min(40);
    eprintln!(
        "daemon convergence: seed {seed}, {rounds} rounds (SFN_OPERATOR_CONVERGENCE_SEED={seed} repeats it)"
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let conf = common::sdk_conf(&url).await;
    let mut checker = Checker {
        sfn: aws_sdk_sfn::Client::new(&conf),
        apigw: aws_sdk_apigateway::Client::new(&conf),
        deployed: HashMap::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    let mut model = Model::initial(&mut rng);
    model.write(&manifests);
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .current_dir(dir.path())
        .args([
            "reconcile",
            "manifests",
            "--prune",
            "--no-rate-limits",
            "--resync-interval",
            "1h",
        ])
        .args(["--listen", &format!("127.0.0.1:{listen}")])
        .args(["--endpoint-url", &url, "--region", REGION, "-q"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _daemon = Kill(child);
    let status_url = format!("http://127.0.0.1:{listen}/status");
    let metrics_url = format!("http://127.0.0.1:{listen}/metrics");
    let idle = async || {
        let Ok(r) = reqwest::get(&status_url).await else {
            return false;
        };
        let Ok(s) = r.json::<Value>().await else {
            return false;
        };
        let synced = s["ready"] == true
            && s["resources"]
                .as_array()
                .is_some_and(|a| a.iter().all(|r| r["status"] == "Synced"));
        let Ok(m) = reqwest::get(&metrics_url).await else {
            return false;
        };
        let text = m.text().await.unwrap_or_default();
        synced && text.lines().any(|l| l == "sfn_operator_queue_depth 0")
    };
    let mut took = Vec::new();
    for round in 0..rounds {
        let mut log = Vec::new();
        if round > 0 {
            for _ in 0..rng.usize(1..=3) {
                log.push(model.mutate(&mut rng, Limits { record_stable: false }));
            }
            model.write(&manifests);
        }
        let started = std::time::Instant::now();
        let mut last = String::new();
        loop {
            if idle().await {
                match checker.check(&model).await {
                    Ok(()) => break,
                    Err(d) => last = d,
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                let apis = checker
                    .apigw
                    .get_rest_apis()
                    .send()
                    .await
                    .map(|a| format!("{:?}", a.items()));
                let status: Value = reqwest::get(&status_url).await.unwrap().json().await.unwrap();
                let not_synced: Vec<&Value> = status["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["status"] != "Synced")
                    .collect();
                let metrics = reqwest::get(&metrics_url).await.unwrap().text().await.unwrap();
                let depth: Vec<&str> = metrics.lines().filter(|l| l.contains("queue_depth")).collect();
                let status = format!("{not_synced:?} {depth:?}");
                panic!(
                    "seed {seed}, round {round} {log:?}: not live after 60 s: {last}\napi.yaml: {}\nlive: {apis:?}\nstatus: {status}",
                    std::fs::read_to_string(manifests.join("api.yaml")).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        took.push(started.elapsed());
    }
    took.sort();
    eprintln!(
        "daemon: {} rounds live; median {:?}, max {:?}",
        took.len(),
        took[took.len() / 2],
        took[took.len() - 1]
    );
    drop(_daemon);
    sandbox.shutdown().await;
}
