//! Pure: live resources → manifest files (SPEC §11), the inverse of `desired.rs`. Each state
//! machine becomes `<name>.yaml` plus its definition in `<name>.asl.yaml` (`definitionFile`), each
//! REST API `<name>.yaml` with its `RestApi` and one `ApiIntegration` per method that starts a
//! state machine. The account and region in ARNs are written `${AWS::AccountId}` and
//! `${AWS::Region}`, and a `${` in live text is written `$${`, so the manifests load back to
//! exactly what runs. An integration whose request template is the operator's default for an
//! imported machine becomes `stateMachineRef`; any other template (or none) is kept as it is.
//!
//! What the manifest format cannot say is refused by name ([`Refusal`]): no file is written then,
//! rather than one that would change the live resource. A method that is not an AWS service
//! integration to `states` is left out and named in [`Imported::skipped`] (the operator never
//! touches methods no manifest names).
//!
//! Must not: call AWS, read or write files (the `import` command does), or decide where files go.

mod emit;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::asl::MachineType;
use crate::desired::Kind;
use crate::live::{LiveAlias, LiveApi, LiveMachine, LiveMethod, LiveResource, LiveStage};

pub use emit::document as yaml_document;

/// The region and account whose values in ARNs become `${AWS::Region}` / `${AWS::AccountId}`.
#[derive(Debug, Clone)]
pub struct Target {
    pub region: String,
    pub account_id: String,
}

/// A REST API as read for import: the API, its resources with their methods, its stages.
#[derive(Debug, Clone)]
pub struct LiveRestApi {
    pub api: LiveApi,
    pub resources: Vec<LiveResource>,
    pub stages: Vec<LiveStage>,
}

/// A machine's aliases as read for import, and whether its newest version holds the live
/// configuration (when it does not, a manifest with those aliases would publish one: refused).
#[derive(Debug, Clone, Default)]
pub struct LiveVersions {
    pub aliases: Vec<LiveAlias>,
    /// The newest version's number, and whether it holds the machine's live configuration.
    pub newest: Option<(u32, bool)>,
}

/// One file to write, relative to the output directory.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub name: String,
    pub text: String,
}

/// What an import writes, and the methods it left out (`VERB PATH on REST API NAME: why`).
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub files: Vec<File>,
    pub skipped: Vec<String>,
}

/// Something live the manifests cannot express, named (the resource, the field, why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const API_VERSION: &str = "sfn-operator.dev/v1alpha1";

/// Turns live machines (with their aliases, by machine ARN, where read) and REST APIs into
/// manifest files; every refusal when any.
pub fn import(
    machines: &[LiveMachine],
    versions: &BTreeMap<String, LiveVersions>,
    apis: &[LiveRestApi],
    target: &Target,
) -> Result<Imported, Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut out = Imported::default();
    let mut names = Names::default();
    // AWS name → metadata.name, for stateMachineRef.
    let mut machine_refs: BTreeMap<String, String> = BTreeMap::new();
    for m in machines {
        let aws_name = machine_name(&m.arn);
        if machine_refs.contains_key(&aws_name) {
            continue;
        }
        let meta = names.claim(
            managed_name(&m.tags, Kind::StateMachine),
            "StateMachine",
            &aws_name,
        );
        machine_refs.insert(aws_name.clone(), meta.clone());
        match machine_files(m, versions.get(&m.arn), &aws_name, &meta, target) {
            Ok(files) => out.files.extend(files),
            Err(r) => refusals.extend(r),
        }
    }
    for api in apis {
        match api_file(api, &machine_refs, &mut names, target, &mut out.skipped) {
            Ok(file) => out.files.push(file),
            Err(r) => refusals.extend(r),
        }
    }
    // Two files of one name (a machine and an API both called `orders`): the API's is renamed.
    let mut seen = BTreeSet::new();
    for f in &mut out.files {
        while !seen.insert(f.name.clone()) {
            f.name = f.name.replacen(".yaml", "-api.yaml", 1);
        }
    }
    if refusals.is_empty() {
        Ok(out)
    } else {
        Err(refusals)
    }
}

/// The name in a state machine ARN (`...:stateMachine:NAME`).
pub fn machine_name(arn: &str) -> String {
    arn.rsplit_once(":stateMachine:")
        .map(|(_, n)| n.split(':').next().unwrap_or(n).to_owned())
        .unwrap_or_else(|| arn.to_owned())
}

fn machine_files(
    m: &LiveMachine,
    versions: Option<&LiveVersions>,
    aws_name: &str,
    meta: &str,
    target: &Target,
) -> Result<Vec<File>, Vec<Refusal>> {
    let Value::Object(_) = &m.definition else {
        return Err(vec![Refusal(format!(
            "state machine {aws_name}: its definition is not a JSON object; definitionFile cannot express it"
        ))]);
    };
    let definition_file = format!("{meta}.asl.yaml");
    let mut spec = Map::new();
    if meta != aws_name {
        spec.insert("name".into(), text(aws_name).into());
    }
    spec.insert(
        "type".into(),
        match m.machine_type {
            MachineType::Express => "EXPRESS",
            MachineType::Standard => "STANDARD",
        }
        .into(),
    );
    spec.insert("roleArn".into(), arn(&m.role_arn, target).into());
    spec.insert("definitionFile".into(), definition_file.clone().into());
    let l = &m.logging;
    if l.level != "OFF" || l.include_execution_data || !l.destinations.is_empty() {
        spec.insert(
            "loggingConfiguration".into(),
            json!({
                "level": l.level,
                "includeExecutionData": l.include_execution_data,
                "destinations": l.destinations.iter().map(|d| arn(d, target)).collect::<Vec<_>>(),
            }),
        );
    }
    if m.tracing_enabled {
        spec.insert("tracingConfiguration".into(), json!({"enabled": true}));
    }
    let tags = user_tags(&m.tags);
    if !tags.is_empty() {
        spec.insert("tags".into(), Value::Object(tags));
    }
    deletion_policy(&m.tags, &mut spec);
    let aliases_note = match versions.filter(|v| !v.aliases.is_empty()) {
        None => "",
        Some(v) => {
            spec.insert("aliases".into(), aliases_value(v, aws_name)?);
            "\n# Aliases as they routed at import, pinned with `routing` (a `rollout` instead delivers\n# each change progressively: docs/rollouts.md)."
        }
    };
    let doc = manifest("StateMachine", meta, spec);
    let manifest_text = format!(
        "# Imported by `sfn-operator import` from state machine {}\n# (definition in {definition_file}).{aliases_note}\n{}",
        m.arn,
        emit::document(&doc)
    );
    let definition_text = format!(
        "# Definition of state machine {aws_name}, imported by `sfn-operator import` (a definition file, not a manifest).\n{}",
        emit::document(&definition_value(&m.definition, target))
    );
    Ok(vec![
        File {
            name: format!("{meta}.yaml"),
            text: manifest_text,
        },
        File {
            name: definition_file,
            text: definition_text,
        },
    ])
}

/// `aliases:` with each alias's live routing pinned. Refused when no version holds the live
/// configuration: the manifest would then publish one (a change), where import writes only what
/// runs.
fn aliases_value(v: &LiveVersions, aws_name: &str) -> Result<Value, Vec<Refusal>> {
    let names = || {
        v.aliases
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match v.newest {
        Some((_, true)) => {}
        Some((n, false)) => {
            return Err(vec![Refusal(format!(
                "state machine {aws_name}: aliases {} route to published versions, but its live configuration was changed after the newest one (version {n}); a manifest with these aliases would publish version {} — publish the live configuration first (aws stepfunctions publish-state-machine-version), or import with --no-aliases",
                names(),
                n + 1
            ))]);
        }
        None => {
            return Err(vec![Refusal(format!(
                "state machine {aws_name}: aliases {} exist but no version of the machine was found; import with --no-aliases",
                names()
            ))]);
        }
    }
    Ok(Value::Array(
        v.aliases
            .iter()
            .map(|a| {
                let mut alias = Map::new();
                alias.insert("name".into(), a.name.clone().into());
                if let Some(d) = &a.description {
                    alias.insert("description".into(), text(d).into());
                }
                let routing: Vec<Value> = a
                    .routing
                    .iter()
                    .map(|(version, weight)| json!({"version": version, "weight": weight}))
                    .collect();
                alias.insert("routing".into(), Value::Array(routing));
                Value::Object(alias)
            })
            .collect(),
    ))
}

/// Every string of a definition as the manifest writes it (placeholders for the account and
/// region in ARNs, `$${` for a literal `${`); keys as they are (they are not substituted).
fn definition_value(v: &Value, target: &Target) -> Value {
    match v {
        Value::String(s) => Value::String(arn(s, target)),
        Value::Array(a) => Value::Array(a.iter().map(|x| definition_value(x, target)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), definition_value(x, target)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn api_file(
    live: &LiveRestApi,
    machine_refs: &BTreeMap<String, String>,
    names: &mut Names,
    target: &Target,
    skipped: &mut Vec<String>,
) -> Result<File, Vec<Refusal>> {
    let api = &live.api;
    let mut refusals = Vec::new();
    let meta = names.claim(managed_name(&api.tags, Kind::RestApi), "RestApi", &api.name);
    let mut spec = Map::new();
    if meta != api.name {
        spec.insert("name".into(), text(&api.name).into());
    }
    if let Some(d) = &api.description {
        spec.insert("description".into(), text(d).into());
    }
    if !api.endpoint_types.is_empty() {
        spec.insert(
            "endpointConfiguration".into(),
            json!({"types": api.endpoint_types}),
        );
    }
    api_settings(&api.settings, &mut spec, target);
    let tags = user_tags(&api.tags);
    if !tags.is_empty() {
        spec.insert("tags".into(), Value::Object(tags));
    }
    deletion_policy(&api.tags, &mut spec);
    let records = crate::ownership::integration_records(&api.tags);
    for s in live.stages.iter().filter(|s| s.canary.is_some()) {
        refusals.push(Refusal(format!(
            "REST API {} ({}): stage {} has a canary deployment (canarySettings); import it once the canary is promoted or removed",
            api.id, api.name, s.name
        )));
    }
    let stage = match live.stages.as_slice() {
        [] => None,
        [one] if one.canary.is_some() => {
            // A canary in flight: the manifest format has no field for one outside a rollout the
            // operator drives, so a manifest would remove it.
            refusals.push(Refusal(format!(
                "REST API {} ({}): stage {}: a canary deployment in flight (promote or remove it first)",
                api.id, api.name, one.name
            )));
            None
        }
        [one] => {
            if let Some(settings) = stage_value(one, target) {
                spec.insert("stages".into(), json!({ one.name.clone(): settings }));
            }
            Some(one.name.clone())
        }
        many => {
            refusals.push(Refusal(format!(
                "REST API {} ({}): stages {}: an ApiIntegration deploys to one stage; import it with one stage",
                api.id,
                api.name,
                many.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
            None
        }
    };
    let mut docs = vec![(
        format!(
            "# Imported by `sfn-operator import` from REST API {} ({}).",
            api.id, api.name
        ),
        manifest("RestApi", &meta, spec),
    )];
    let mut resources: Vec<&LiveResource> = live.resources.iter().collect();
    resources.sort_by(|a, b| a.path.cmp(&b.path));
    for r in resources {
        for (verb, method) in &r.methods {
            let at = format!("{verb} {} on REST API {} ({})", r.path, api.id, api.name);
            match integration_spec(
                method,
                &meta,
                verb,
                &r.path,
                stage.as_deref(),
                machine_refs,
                target,
            ) {
                Ok(Some(mut spec)) => {
                    // A method the operator manages already keeps its manifest's name and policy.
                    let record = records
                        .iter()
                        .find(|rec| &rec.http_method == verb && rec.path == r.path);
                    if record.is_some_and(|rec| rec.policy == crate::desired::DeletionPolicy::Delete) {
                        spec.insert("deletionPolicy".into(), "Delete".into());
                    }
                    let name = names.claim(
                        record.map(|rec| rec.name.clone()),
                        "ApiIntegration",
                        &format!("{meta}-{verb}-{}", path_name(&r.path)),
                    );
                    docs.push((
                        format!("# {verb} {} of REST API {} ({}).", r.path, api.id, api.name),
                        manifest("ApiIntegration", &name, spec),
                    ));
                }
                Ok(None) => skipped.push(format!("{at}: {}", not_imported_reason(method))),
                Err(why) => refusals.push(Refusal(format!("{at}: {why}"))),
            }
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let text = docs
        .iter()
        .map(|(comment, doc)| format!("{comment}\n{}", emit::document(doc)))
        .collect::<Vec<_>>()
        .join("---\n");
    Ok(File {
        name: format!("{meta}.yaml"),
        text,
    })
}

/// Why a method was left out.
fn not_imported_reason(m: &LiveMethod) -> String {
    match &m.integration {
        None => "no integration".into(),
        Some(i) => format!(
            "not an AWS service integration to states (type {}, uri {})",
            i.integration_type.as_deref().unwrap_or("none"),
            i.uri.as_deref().unwrap_or("none")
        ),
    }
}

/// The spec of the `ApiIntegration` of one method; `None` when the method is not an AWS service
/// integration to `states` (left out); `Err` naming what the manifest cannot express.
fn integration_spec(
    m: &LiveMethod,
    api_meta: &str,
    verb: &str,
    path: &str,
    stage: Option<&str>,
    machine_refs: &BTreeMap<String, String>,
    target: &Target,
) -> Result<Option<Map<String, Value>>, String> {
    let Some(i) = &m.integration else { return Ok(None) };
    let uri = i.uri.as_deref().unwrap_or_default();
    let service_action = uri.strip_prefix("arn:aws:apigateway:").and_then(|rest| {
        let mut parts = rest.splitn(3, ':');
        let (region, service, action) = (parts.next()?, parts.next()?, parts.next()?);
        Some((region, service, action.strip_prefix("action/")))
    });
    let is_states = service_action.is_some_and(|(_, s, _)| s == "states");
    if i.integration_type.as_deref() != Some("AWS") || !is_states {
        return Ok(None);
    }
    if !m.unexpressed.0.is_empty() {
        return Err(format!(
            "{} cannot be expressed in an ApiIntegration",
            m.unexpressed.0.join(", ")
        ));
    }
    const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];
    if !METHODS.contains(&verb) {
        return Err(format!("httpMethod {verb} cannot be expressed"));
    }
    let auth = m.authorization_type.as_deref().unwrap_or("NONE");
    if !matches!(auth, "NONE" | "AWS_IAM") {
        return Err(format!(
            "authorizationType {auth}: an ApiIntegration takes NONE or AWS_IAM"
        ));
    }
    if !(50..=29000).contains(&i.timeout_in_millis) {
        return Err(format!(
            "integration.timeoutInMillis {}: an ApiIntegration takes 50 to 29000",
            i.timeout_in_millis
        ));
    }
    let mut block = Map::new();
    block.insert("type".into(), "AWS".into());
    match service_action {
        Some((region, service, Some(action))) if !action.contains('/') => {
            block.insert("service".into(), text(service).into());
            block.insert("action".into(), text(action).into());
            if region != target.region {
                block.insert("region".into(), text(region).into());
            }
        }
        _ => {
            block.insert("uri".into(), arn(uri, target).into());
        }
    }
    block.insert(
        "integrationHttpMethod".into(),
        text(i.integration_http_method.as_deref().unwrap_or("POST")).into(),
    );
    if let Some(c) = &i.credentials {
        block.insert("credentials".into(), arn(c, target).into());
    }
    let machine = started_machine(&i.request_templates, machine_refs, target);
    // A template of its own that starts an imported machine keeps the template and references
    // the machine (so the machine is reconciled first).
    let referenced = machine
        .is_none()
        .then(|| named_machine(&i.request_templates, machine_refs, target))
        .flatten();
    if machine.is_none() && !i.request_templates.is_empty() {
        // Velocity templates are never substituted: written exactly as they are.
        block.insert("requestTemplates".into(), string_map(&i.request_templates));
    }
    match i.passthrough_behavior.as_deref() {
        None | Some("WHEN_NO_MATCH") => {}
        Some(p @ ("WHEN_NO_TEMPLATES" | "NEVER")) => {
            block.insert("passthroughBehavior".into(), p.into());
        }
        Some(other) => {
            return Err(format!(
                "integration.passthroughBehavior {other} cannot be expressed"
            ));
        }
    }
    if i.timeout_in_millis != 29000 {
        block.insert("timeoutInMillis".into(), i.timeout_in_millis.into());
    }
    if !i.request_parameters.is_empty() {
        block.insert("requestParameters".into(), string_map(&i.request_parameters));
    }
    if let Some(c) = &i.content_handling {
        block.insert("contentHandling".into(), c.clone().into());
    }
    let mut responses = Vec::new();
    for (code, r) in &m.responses {
        if !r.integration_response {
            return Err(format!(
                "method response {code} has no integration response; ApiIntegration.responses sets both"
            ));
        }
        let mut resp = Map::new();
        resp.insert("statusCode".into(), Value::String(code.clone()));
        if let Some(p) = &r.selection_pattern {
            resp.insert("selectionPattern".into(), p.clone().into());
        }
        if !r.response_templates.is_empty() {
            resp.insert("responseTemplates".into(), string_map(&r.response_templates));
        }
        responses.push(Value::Object(resp));
    }
    if responses.is_empty() {
        return Err("no method response; ApiIntegration.responses needs at least one".into());
    }
    let mut spec = Map::new();
    spec.insert("restApi".into(), json!({"ref": api_meta}));
    spec.insert("path".into(), text(path).into());
    spec.insert("httpMethod".into(), verb.into());
    if auth != "NONE" {
        spec.insert("authorizationType".into(), auth.into());
    }
    if m.api_key_required == Some(true) {
        spec.insert("apiKeyRequired".into(), true.into());
    }
    if !m.request_parameters.is_empty() {
        spec.insert(
            "requestParameters".into(),
            Value::Object(
                m.request_parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Bool(*v)))
                    .collect(),
            ),
        );
    }
    match m.request_validator.as_deref() {
        None => {}
        Some(checks @ ("BODY" | "PARAMETERS" | "BODY_AND_PARAMETERS")) => {
            spec.insert("requestValidator".into(), checks.into());
        }
        Some(other) => return Err(format!("requestValidator: {other} cannot be expressed")),
    }
    spec.insert("integration".into(), Value::Object(block));
    if let Some(meta) = machine.or(referenced) {
        spec.insert("stateMachineRef".into(), meta.into());
    }
    spec.insert("responses".into(), Value::Array(responses));
    if let Some(s) = stage {
        spec.insert("stage".into(), text(s).into());
    }
    Ok(Some(spec))
}

/// The imported machine (its metadata.name) whose default request template these are, if any.
fn started_machine(
    templates: &BTreeMap<String, String>,
    machine_refs: &BTreeMap<String, String>,
    target: &Target,
) -> Option<String> {
    let [(content_type, template)] = templates.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    if content_type != "application/json" {
        return None;
    }
    machine_refs.iter().find_map(|(aws_name, meta)| {
        (template
            == &crate::manifest::default_template(&target.region, &target.account_id, aws_name, None, None))
            .then(|| meta.clone())
    })
}

/// The imported machine (its metadata.name) whose ARN a template names, if any (the longest name
/// when several match; an ARN is followed by a character no machine name has, or by a qualifier).
fn named_machine(
    templates: &BTreeMap<String, String>,
    machine_refs: &BTreeMap<String, String>,
    target: &Target,
) -> Option<String> {
    let named = |aws_name: &str| {
        let arn = format!(
            "arn:aws:states:{}:{}:stateMachine:{aws_name}",
            target.region, target.account_id
        );
        templates.values().any(|t| {
            t.match_indices(&arn).any(|(at, _)| {
                t[at + arn.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            })
        })
    };
    machine_refs
        .iter()
        .filter(|(aws_name, _)| named(aws_name))
        .max_by_key(|(aws_name, _)| aws_name.len())
        .map(|(_, meta)| meta.clone())
}

/// The REST API settings of SPEC §12 that differ from AWS's defaults (the defaults left out, as
/// `diff` never compares an unset one).
fn api_settings(live: &crate::live::LiveApiSettings, spec: &mut Map<String, Value>, target: &Target) {
    let default = crate::live::LiveApiSettings::default();
    if !live.binary_media_types.is_empty() {
        spec.insert("binaryMediaTypes".into(), json!(live.binary_media_types));
    }
    if let Some(size) = live.minimum_compression_size {
        spec.insert("minimumCompressionSize".into(), size.into());
    }
    if live.api_key_source != default.api_key_source {
        spec.insert("apiKeySource".into(), live.api_key_source.clone().into());
    }
    if live.disable_execute_api_endpoint {
        spec.insert("disableExecuteApiEndpoint".into(), true.into());
    }
    if let Some(policy) = &live.policy {
        // Its strings as the manifest writes them: IAM's own `${aws:username}` kept literal.
        spec.insert("policy".into(), definition_value(policy, target));
    }
}

/// `spec.stages.NAME` for a stage's settings that differ from AWS's defaults; `None` when all are
/// the defaults. The operator's own variables (`sfn_`, written by joint rollouts) are left out.
fn stage_value(stage: &crate::live::LiveStage, target: &Target) -> Option<Value> {
    let live = &stage.settings;
    let mut out = Map::new();
    if let Some(d) = &live.description {
        out.insert("description".into(), text(d).into());
    }
    let variables: BTreeMap<String, String> = stage
        .variables
        .iter()
        .filter(|(k, _)| !k.starts_with("sfn_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !variables.is_empty() {
        out.insert("variables".into(), string_map(&variables));
    }
    if live.tracing_enabled {
        out.insert("tracingEnabled".into(), true.into());
    }
    if !live.method_settings.is_empty() {
        let settings = live
            .method_settings
            .iter()
            .map(|(key, m)| {
                let mut one = Map::new();
                if let Some(b) = m.throttling_burst_limit {
                    one.insert("throttlingBurstLimit".into(), b.into());
                }
                if let Some(r) = m.throttling_rate_limit {
                    one.insert("throttlingRateLimit".into(), r.into());
                }
                if let Some(l) = &m.logging_level {
                    one.insert("loggingLevel".into(), l.clone().into());
                }
                if let Some(e) = m.metrics_enabled {
                    one.insert("metricsEnabled".into(), e.into());
                }
                if let Some(e) = m.data_trace_enabled {
                    one.insert("dataTraceEnabled".into(), e.into());
                }
                (key.clone(), Value::Object(one))
            })
            .collect();
        out.insert("methodSettings".into(), Value::Object(settings));
    }
    if let Some(a) = &live.access_log {
        let mut log = Map::new();
        if let Some(d) = &a.destination_arn {
            log.insert("destinationArn".into(), arn(d, target).into());
        }
        if let Some(f) = &a.format {
            log.insert("format".into(), text(f).into());
        }
        out.insert("accessLogSettings".into(), Value::Object(log));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// A map of strings as a JSON object (templates and mappings are written exactly as they are).
fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
    )
}

/// A manifest document.
fn manifest(kind: &str, name: &str, spec: Map<String, Value>) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name},
        "spec": Value::Object(spec),
    })
}

/// The manifest name a managed resource's `sfn-operator.dev/manifest` tag gives it, if of `kind`.
fn managed_name(tags: &BTreeMap<String, String>, kind: Kind) -> Option<String> {
    crate::ownership::owner(tags)
        .filter(|k| k.kind == kind)
        .map(|k| k.name)
}

/// `deletionPolicy: Delete` when the resource's ownership tags say so (the default is `Retain`).
fn deletion_policy(tags: &BTreeMap<String, String>, spec: &mut Map<String, Value>) {
    if crate::ownership::owner(tags).is_some()
        && tags.get(crate::ownership::DELETION_POLICY).map(String::as_str) == Some("Delete")
    {
        spec.insert("deletionPolicy".into(), "Delete".into());
    }
}

/// The tags a manifest sets: the live ones but the operator's own and AWS's (`aws:`).
fn user_tags(tags: &BTreeMap<String, String>) -> Map<String, Value> {
    tags.iter()
        .filter(|(k, _)| !k.starts_with("sfn-operator.dev/") && !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), Value::from(text(v))))
        .collect()
}

/// A substituted string as the manifest writes it: a literal `${` as `$${`.
fn text(s: &str) -> String {
    s.replace("${", "$${")
}

/// Like [`text`], and in an ARN the region and account in use become `${AWS::Region}` and
/// `${AWS::AccountId}`.
fn arn(s: &str, target: &Target) -> String {
    let escaped = text(s);
    if !escaped.starts_with("arn:") {
        return escaped;
    }
    let mut parts: Vec<String> = escaped.splitn(6, ':').map(str::to_owned).collect();
    if parts.len() < 6 {
        return escaped;
    }
    if parts[3] == target.region {
        parts[3] = "${AWS::Region}".into();
    }
    if parts[4] == target.account_id {
        parts[4] = "${AWS::AccountId}".into();
    }
    parts.join(":")
}

/// A resource path as a name part: `/` → `root`, `/orders/{id}` → `orders-id`.
fn path_name(path: &str) -> String {
    let s = dns_label(path);
    if s.is_empty() { "root".into() } else { s }
}

/// `metadata.name`s, unique per kind.
#[derive(Debug, Default)]
struct Names {
    taken: BTreeSet<(String, String)>,
}

impl Names {
    /// `preferred` (a managed resource's manifest name) when it is a free, valid name, else
    /// [`Names::unique`] of `base`.
    fn claim(&mut self, preferred: Option<String>, kind: &str, base: &str) -> String {
        if let Some(p) = preferred
            && is_label(&p)
            && self.taken.insert((kind.to_owned(), p.clone()))
        {
            return p;
        }
        self.unique(kind, base)
    }

    /// A DNS-1123 label made of `base` (`ParallelProcessingMachine` → `parallel-processing-machine`),
    /// with `-2`, `-3`, ... when the kind already has it.
    fn unique(&mut self, kind: &str, base: &str) -> String {
        let mut label = dns_label(base);
        if label.is_empty() {
            label = "imported".into();
        }
        let mut candidate = shorten(&label, 0);
        let mut n = 1;
        while !self.taken.insert((kind.to_owned(), candidate.clone())) {
            n += 1;
            candidate = shorten(&label, n);
        }
        candidate
    }
}

/// `label` (with `-N` when `n > 1`) in at most 63 characters; a long one keeps a hash of the whole.
fn shorten(label: &str, n: usize) -> String {
    let suffix = if n > 1 { format!("-{n}") } else { String::new() };
    if label.len() + suffix.len() <= 63 {
        return format!("{label}{suffix}");
    }
    let hash = &crate::plan::fingerprint(&Value::from(label))[..8];
    let keep = 63 - suffix.len() - hash.len() - 1;
    let head = label[..keep].trim_end_matches('-');
    format!("{head}-{hash}{suffix}")
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Lower-case words joined by `-`: a capital after a lower-case letter or digit starts a word;
/// anything but ASCII letters and digits separates words.
fn dns_label(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            prev_lower = false;
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests;
