//! The driver: from the command-line paths to [`Loaded`]. Reads the var files, walks the paths,
//! loads every file (in parallel), then looks across documents: duplicate names, references
//! between manifests, and the WorkflowTests' machines.
//!
//! Must not: read a kind's fields (`kinds/`), or read files unbounded (`files.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::fields::Diags;
use super::files::{Found, read_bounded, walk};
use super::kinds::api_integration::default_template;
use super::kinds::workflow_test::{TestDoc, resolve_tests};
use super::kinds::{Ctx, Doc, Loadable, Spec, load_doc};
use super::yaml::{Pos, Value, parse_documents};
use super::{Diagnostic, LoadOptions, Loaded};
use crate::desired::{DesiredSet, Kind, Resource, ResourceKey};

/// Loads and validates every manifest under `opts.paths`.
pub fn load(opts: &LoadOptions) -> Loaded {
    let mut diagnostics = Vec::new();
    let mut vars = BTreeMap::new();
    for vf in &opts.var_files {
        load_var_file(vf, &mut vars, &mut diagnostics);
    }
    for (k, v) in &opts.vars {
        vars.insert(k.clone(), v.clone());
    }
    let (found, walk_errors) = walk(&opts.paths);
    for (path, message) in walk_errors {
        diagnostics.push(Diagnostic {
            file: path,
            line: 1,
            column: 1,
            message,
        });
    }
    let ctx = Ctx {
        vars: &vars,
        region: opts.region.as_deref(),
        account_id: opts.account_id.as_deref(),
        warnings: Default::default(),
    };
    let mut docs: Vec<Doc> = Vec::new();
    let mut tests: Vec<TestDoc> = Vec::new();
    // Only resources count: a PATH holding WorkflowTests alone is empty for pruning (SPEC §5).
    let mut per_path = vec![0usize; opts.paths.len()];
    for (f, loaded) in found.iter().zip(load_files(&found, &ctx)) {
        if let Some(n) = per_path.get_mut(f.origin) {
            *n += loaded.docs.len();
        }
        docs.extend(loaded.docs);
        tests.extend(loaded.tests);
        diagnostics.extend(loaded.diagnostics);
        ctx.warnings.borrow_mut().extend(loaded.warnings);
    }
    let empty_paths: Vec<PathBuf> = opts
        .paths
        .iter()
        .zip(&per_path)
        .filter(|(_, n)| **n == 0)
        .map(|(p, _)| p.clone())
        .collect();
    // Duplicates.
    let mut first: BTreeMap<ResourceKey, usize> = BTreeMap::new();
    for i in 0..docs.len() {
        match first.get(&docs[i].key) {
            Some(&j) => {
                let msg = format!(
                    "duplicate {} \"{}\": also defined at {}:{}:{}",
                    docs[i].key.kind,
                    docs[i].key.name,
                    docs[j].file.display(),
                    docs[j].name_pos.line,
                    docs[j].name_pos.column
                );
                let (file, pos) = (docs[i].file.clone(), docs[i].name_pos);
                diagnostics.push(Diagnostic {
                    file,
                    line: pos.line,
                    column: pos.column,
                    message: msg,
                });
                docs[i].valid = false;
                docs[j].valid = false;
            }
            None => {
                first.insert(docs[i].key.clone(), i);
            }
        }
    }
    // References.
    let names: BTreeMap<ResourceKey, String> = docs
        .iter()
        .filter_map(|d| match &d.spec {
            Some(Spec::Machine(m)) => Some((d.key.clone(), m.name.clone())),
            _ => first
                .contains_key(&d.key)
                .then(|| (d.key.clone(), d.key.name.clone())),
        })
        .collect();
    let aliases: BTreeMap<ResourceKey, Vec<String>> = docs
        .iter()
        .filter_map(|d| match &d.spec {
            Some(Spec::Machine(m)) => Some((
                d.key.clone(),
                m.versioning.aliases.iter().map(|a| a.name.clone()).collect(),
            )),
            _ => None,
        })
        .collect();
    for d in &mut docs {
        let Some(Spec::Integration(i, api_ref, sm_ref, sm_alias)) = &mut d.spec else {
            continue;
        };
        let file = d.file.clone();
        let mut ds = Diags::new(&mut diagnostics, &file);
        if let Some((name, pos)) = api_ref
            && !names.contains_key(&ResourceKey::new(Kind::RestApi, name.clone()))
        {
            ds.at(*pos, format!("restApi.ref: no RestApi manifest named \"{name}\""));
        }
        if let Some((name, pos)) = sm_ref {
            match names.get(&ResourceKey::new(Kind::StateMachine, name.clone())) {
                None => ds.at(
                    *pos,
                    format!("stateMachineRef: no StateMachine manifest named \"{name}\""),
                ),
                Some(machine_name) => {
                    let key = ResourceKey::new(Kind::StateMachine, name.clone());
                    let declared = aliases.get(&key).map(Vec::as_slice).unwrap_or_default();
                    if let Some((alias, pos)) = sm_alias
                        && !declared.contains(alias)
                    {
                        let known = if declared.is_empty() {
                            "it declares no alias".to_owned()
                        } else {
                            format!("it declares {}", declared.join(", "))
                        };
                        ds.at(
                            *pos,
                            format!("stateMachineAlias: StateMachine \"{name}\" has no alias \"{alias}\" ({known})"),
                        );
                    }
                    if i.integration.request_templates.is_empty() {
                        let region = ctx.region.unwrap_or("${AWS::Region}");
                        let account = ctx.account_id.unwrap_or("${AWS::AccountId}");
                        let joint = i.joint_variable();
                        i.integration.request_templates.insert(
                            "application/json".into(),
                            default_template(
                                region,
                                account,
                                machine_name,
                                sm_alias.as_ref().map(|(a, _)| a.as_str()),
                                joint.as_deref(),
                            ),
                        );
                    }
                }
            }
        }
        if ds.count > 0 {
            d.valid = false;
        }
    }
    joint_alarms(&mut docs);
    let tests = resolve_tests(tests, &docs, &mut diagnostics);
    let mut desired = DesiredSet {
        region: opts.region.clone(),
        account_id: opts.account_id.clone(),
        resources: Vec::new(),
    };
    let mut invalid = Vec::new();
    for d in docs {
        match (d.valid, d.spec) {
            (true, Some(Spec::Machine(m))) => desired.resources.push(Resource::StateMachine(*m)),
            (true, Some(Spec::Api(a))) => desired.resources.push(Resource::RestApi(*a)),
            (true, Some(Spec::Integration(i, ..))) => desired.resources.push(Resource::ApiIntegration(*i)),
            _ => {
                if !invalid.contains(&d.key) {
                    invalid.push(d.key)
                }
            }
        }
    }
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    diagnostics.dedup();
    Loaded {
        desired,
        invalid,
        diagnostics,
        warnings: ctx.warnings.into_inner(),
        empty_paths,
        tests,
    }
}

fn load_var_file(path: &Path, vars: &mut BTreeMap<String, String>, out: &mut Vec<Diagnostic>) {
    let mut ds = Diags::new(out, path);
    let text = match read_bounded(path) {
        Ok(t) => t,
        Err(e) => return ds.at(Pos { line: 1, column: 1 }, e),
    };
    let docs = match parse_documents(&text) {
        Ok(d) => d,
        Err(e) => return ds.at(e.pos, e.message),
    };
    if docs.len() > 1 {
        ds.at(
            docs[1].pos,
            "a var file holds one YAML mapping, not several documents",
        );
    }
    let Some(root) = docs.first() else { return };
    let Value::Map(entries) = &root.value else {
        return ds.at(
            root.pos,
            format!(
                "a var file must be a mapping of names to strings, found {}",
                root.type_name()
            ),
        );
    };
    for (k, v) in entries {
        match &v.value {
            Value::String(s) => {
                vars.insert(k.name.clone(), s.clone());
            }
            Value::Number(n) => {
                vars.insert(k.name.clone(), n.to_string());
            }
            Value::Bool(b) => {
                vars.insert(k.name.clone(), b.to_string());
            }
            _ => ds.at(
                v.pos,
                format!("{}: expected a string, found {}", k.name, v.type_name()),
            ),
        }
    }
}

/// What one file holds.
#[derive(Default)]
struct FileLoad {
    docs: Vec<Doc>,
    tests: Vec<TestDoc>,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

/// Loads every file, on all cores when there are several (files are independent until
/// duplicates and references are checked); the results in `found`'s order, so diagnostics read
/// the same however the work was shared.
fn load_files(found: &[Found], ctx: &Ctx<'_>) -> Vec<FileLoad> {
    let (vars, region, account_id) = (ctx.vars, ctx.region, ctx.account_id);
    let one = |f: &Found| {
        let ctx = Ctx {
            vars,
            region,
            account_id,
            warnings: Default::default(),
        };
        let mut loaded = FileLoad::default();
        load_file(
            f,
            &ctx,
            &mut loaded.docs,
            &mut loaded.tests,
            &mut loaded.diagnostics,
        );
        loaded.warnings = ctx.warnings.into_inner();
        loaded
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(found.len());
    if workers <= 1 {
        return found.iter().map(one).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, FileLoad)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = found.get(i) else { break };
                        mine.push((i, one(f)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, loaded)| loaded).collect()
}

fn load_file(
    found: &Found,
    ctx: &Ctx<'_>,
    docs: &mut Vec<Doc>,
    tests: &mut Vec<TestDoc>,
    out: &mut Vec<Diagnostic>,
) {
    let file = found.file.as_path();
    let mut ds = Diags::new(out, file);
    let text = match read_bounded(file) {
        Ok(t) => t,
        Err(e) => return ds.at(Pos { line: 1, column: 1 }, e),
    };
    let roots = match parse_documents(&text) {
        Ok(d) => d,
        Err(e) => return ds.at(e.pos, e.message),
    };
    for mut root in roots {
        ds.count = 0;
        match load_doc(&mut root, found, ctx, &mut ds) {
            Some(Loadable::Resource(doc)) => docs.push(*doc),
            Some(Loadable::Test(t)) => tests.push(*t),
            None => {}
        }
    }
}

/// One rollout for the API and the workflow (SPEC §9): the alarms of an integration's joint
/// rollout also watch the alias it starts, so an alarm of either rolls both back together (the
/// stage follows the alias).
fn joint_alarms(docs: &mut [Doc]) {
    let mut extra: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for d in docs.iter() {
        let Some(Spec::Integration(i, ..)) = &d.spec else {
            continue;
        };
        let (Some(_), Some(machine), Some(alias), Some(r)) = (
            i.joint_variable(),
            &i.state_machine_ref,
            &i.state_machine_alias,
            &i.rollout,
        ) else {
            continue;
        };
        extra
            .entry((machine.clone(), alias.clone()))
            .or_default()
            .extend(r.alarms.iter().cloned());
    }
    for d in docs.iter_mut() {
        let Some(Spec::Machine(m)) = &mut d.spec else {
            continue;
        };
        for a in &mut m.versioning.aliases {
            let (Some(more), crate::desired::AliasTarget::Rollout(r)) =
                (extra.get(&(d.key.name.clone(), a.name.clone())), &mut a.target)
            else {
                continue;
            };
            for alarm in more {
                if !r.alarms.contains(alarm) {
                    r.alarms.push(alarm.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{DeletionPolicy, MachineType};
    use proptest::prelude::*;

    fn load_text(text: &[u8]) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.yaml"), text).unwrap();
        std::fs::write(
            dir.path().join("d.asl.json"),
            r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#,
        )
        .unwrap();
        load(&LoadOptions {
            paths: vec![dir.path().to_path_buf()],
            ..LoadOptions::default()
        })
    }

    const GOOD: &str = include_str!("../../manifests/api.yaml");

    #[test]
    fn defaults_and_default_template() {
        let sm = "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {name: state-machine}\nspec:\n  name: Machine\n  roleArn: arn:aws:iam::1:role/r\n  definitionFile: d.asl.json\n---\n";
        let loaded = load_text(
            format!("{sm}{GOOD}")
                .replace("parallel-processing", "state-machine")
                .as_bytes(),
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let Some(Resource::ApiIntegration(i)) = loaded.desired.resources.get(2) else {
            panic!("no integration")
        };
        assert_eq!(
            i.integration.uri,
            "arn:aws:apigateway:${AWS::Region}:states:action/StartExecution"
        );
        assert_eq!(i.integration.timeout_in_millis, 29000);
        assert_eq!(i.integration.passthrough_behavior, "WHEN_NO_MATCH");
        assert_eq!(i.responses.len(), 1);
        assert_eq!(
            i.integration
                .request_templates
                .get("application/json")
                .map(String::as_str),
            Some(default_template("${AWS::Region}", "${AWS::AccountId}", "Machine", None, None).as_str())
        );
        let Some(Resource::StateMachine(m)) = loaded.desired.resources.first() else {
            panic!("no machine")
        };
        assert_eq!(
            (m.machine_type, m.deletion_policy, m.logging.is_none()),
            (MachineType::Standard, DeletionPolicy::Retain, true)
        );
    }

    #[test]
    fn whole_placeholder_scalars_take_their_type() {
        let text = "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {name: m}\nspec:\n  roleArn: arn:aws:iam::1:role/r\n  definitionSubstitutions: {T: \"60\"}\n  definition:\n    StartAt: W\n    States:\n      W:\n        Type: Wait\n        Seconds: ${T}\n        End: true\n";
        let loaded = load_text(text.as_bytes());
        let Some(Resource::StateMachine(m)) = loaded.desired.resources.first() else {
            panic!("{:?}", loaded.diagnostics)
        };
        assert_eq!(m.definition["States"]["W"]["Seconds"], serde_json::json!(60));
    }

    #[test]
    fn invalid_documents_are_listed_by_key() {
        let text =
            "apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata: {name: api}\nspec: {bogus: 1}\n";
        let loaded = load_text(text.as_bytes());
        assert_eq!(loaded.invalid, vec![ResourceKey::new(Kind::RestApi, "api")]);
        assert!(loaded.desired.resources.is_empty());
    }

    fn messages(text: &str) -> Vec<String> {
        load_text(text.as_bytes())
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect()
    }

    fn has(messages: &[String], wanted: &str) -> bool {
        messages.iter().any(|m| m == wanted)
    }

    const HEAD: &str = "apiVersion: sfn-operator.dev/v1alpha1\n";

    #[test]
    fn an_unsupported_api_version_names_what_it_found() {
        let text = "apiVersion: sfn-operator.dev/v1alpa1\nkind: RestApi\nmetadata: {name: api}\nspec: {}\n";
        let m = messages(text);
        assert!(
            has(
                &m,
                "apiVersion: expected \"sfn-operator.dev/v1alpha1\", found \"sfn-operator.dev/v1alpa1\""
            ),
            "{m:?}"
        );
        let m = messages("apiVersion: 1\nkind: RestApi\nmetadata: {name: api}\nspec: {}\n");
        assert!(
            has(&m, "apiVersion: expected \"sfn-operator.dev/v1alpha1\", found 1"),
            "{m:?}"
        );
    }

    #[test]
    fn every_expected_names_what_was_found() {
        let cases: &[(String, &str)] = &[
            (
                "kind: Lambda\nmetadata: {name: x}\nspec: {}\n".into(),
                "kind: expected StateMachine, RestApi, ApiIntegration or WorkflowTest, found \"Lambda\"",
            ),
            (
                "kind: RestApi\nmetadata: {name: x}\nspec: {endpointConfiguration: {types: EDGE}}\n".into(),
                "spec.endpointConfiguration.types: expected a list, found \"EDGE\"",
            ),
            (
                "kind: RestApi\nmetadata: {name: x}\nspec: {endpointConfiguration: {types: [EDGY]}}\n".into(),
                "spec.endpointConfiguration.types: expected EDGE, REGIONAL or PRIVATE, found \"EDGY\"",
            ),
            (
                "kind: StateMachine\nmetadata: {name: x}\nspec: {roleArn: my-role, definitionFile: d.asl.json}\n".into(),
                "spec.roleArn: expected an IAM role ARN (arn:...), found \"my-role\"",
            ),
            (
                "kind: StateMachine\nmetadata: {name: x}\nspec: {roleArn: arn:aws:iam::1:role/r, definitionFile: d.asl.json, loggingConfiguration: {destinations: 7}}\n".into(),
                "spec.loggingConfiguration.destinations: expected a list, found 7",
            ),
            (
                "kind: StateMachine\nmetadata: {name: x}\nspec: {roleArn: arn:aws:iam::1:role/r, definitionFile: d.asl.json, loggingConfiguration: {destinations: [{a: 1}]}}\n".into(),
                "spec.loggingConfiguration.destinations: expected a log group ARN string, found a mapping",
            ),
            (
                "kind: ApiIntegration\nmetadata: {name: x}\nspec: {restApi: {name: [a]}, path: /, httpMethod: GET, integration: {uri: u}}\n".into(),
                "spec.restApi.name: expected a string, found a sequence",
            ),
            (
                "kind: ApiIntegration\nmetadata: {name: x}\nspec: {restApi: {name: a}, path: /, httpMethod: GET, integration: {uri: u}, stateMachineRef: true}\n".into(),
                "spec.stateMachineRef: expected a StateMachine metadata.name, found true",
            ),
            (
                "kind: ApiIntegration\nmetadata: {name: x}\nspec: {restApi: {name: a}, path: /, httpMethod: GET, integration: {uri: u}, responses: []}\n".into(),
                "spec.responses: expected a non-empty list, found an empty sequence",
            ),
            (
                "kind: ApiIntegration\nmetadata: {name: x}\nspec: {restApi: {name: a}, path: /, httpMethod: GET, integration: {uri: u, timeoutInMillis: 30000}}\n".into(),
                "spec.integration.timeoutInMillis: expected an integer from 50 to 29000, found 30000",
            ),
        ];
        for (body, wanted) in cases {
            let m = messages(&format!("{HEAD}{body}"));
            assert!(has(&m, wanted), "wanted {wanted:?}, got {m:?}");
        }
        let m = messages("name: x\nvalue: 1\n");
        assert!(
            has(
                &m,
                "not a manifest: expected apiVersion, kind, metadata and spec, found a mapping of name, value"
            ),
            "{m:?}"
        );
    }

    #[test]
    fn workflow_test_expected_names_what_was_found() {
        let machine = "apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata: {name: m}\nspec: {roleArn: arn:aws:iam::1:role/r, definitionFile: d.asl.json}\n---\n";
        let cases = [
            (
                "mocks: {A: []}",
                "spec.cases[0].mocks.A: expected at least one answer, found an empty sequence",
            ),
            (
                "expect: {states: [A, 3]}",
                "spec.cases[0].expect.states: expected a state path string, found 3",
            ),
        ];
        for (case, wanted) in cases {
            let text = format!(
                "{machine}{HEAD}kind: WorkflowTest\nmetadata: {{name: t}}\nspec:\n  stateMachineRef: m\n  cases:\n    - {{name: c, {case}}}\n"
            );
            let m = messages(&text);
            assert!(
                m.iter().any(|x| x.ends_with(wanted)),
                "wanted {wanted:?}, got {m:?}"
            );
        }
        let fns = [
            ("{f: {jsonata: 5}}", "jsonata: expected a string, found 5"),
            (
                "{f: {command: [echo, {a: 1}]}}",
                "command: expected a non-empty list of strings (program and arguments), found a sequence holding a mapping",
            ),
        ];
        for (functions, wanted) in fns {
            let text = format!(
                "{machine}{HEAD}kind: WorkflowTest\nmetadata: {{name: t}}\nspec:\n  stateMachineRef: m\n  functions: {functions}\n  cases:\n    - {{name: c}}\n"
            );
            let m = messages(&text);
            assert!(
                m.iter().any(|x| x.ends_with(wanted)),
                "wanted {wanted:?}, got {m:?}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64), ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = load_text(&bytes);
        }

        #[test]
        fn mutated_manifests_never_panic(at in 0usize..2000, len in 0usize..8, insert in "[-:{}\\[\\]&*!|>'\"#%@` \n\ta-z0-9$]{0,12}") {
            let mut text = GOOD.to_string();
            let start = at.min(text.len());
            let start = (0..=start).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let end = (start + len).min(text.len());
            let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            text.replace_range(start..end, &insert);
            let _ = load_text(text.as_bytes());
        }
    }
}
