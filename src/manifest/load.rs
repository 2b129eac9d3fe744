//! From files to the desired set: schema checks on the located tree, substitutions, references,
//! defaults and ASL validation. Every problem becomes a located [`Diagnostic`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::subst::{Vars, substitute};
use super::walk::{Found, walk};
use super::workflow_test::{self, TestDoc};
use super::yaml::{Node, Pos, Value, parse_documents};
use super::{Diagnostic, LoadOptions, Loaded};
use crate::desired::{
    ApiIntegration, DeletionPolicy, DesiredSet, EndpointType, Integration, Kind, LoggingConfiguration,
    MachineType, Meta, Resource, ResourceKey, RestApi, RestApiTarget, SourceRef, StateMachine,
};
use crate::path::{Path as AslPath, Segment};

/// The only accepted `apiVersion`.
pub const API_VERSION: &str = "sfn-operator.dev/v1alpha1";
/// Files larger than this are refused unread.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// `O_NONBLOCK` (not in std; the value differs between kernels).
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const O_NONBLOCK: i32 = 0x0004;

pub(super) struct Diags<'a> {
    out: &'a mut Vec<Diagnostic>,
    file: &'a Path,
    count: usize,
}

impl Diags<'_> {
    pub(super) fn at(&mut self, pos: Pos, message: impl Into<String>) {
        self.count += 1;
        self.out.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`], never more. A FIFO or device is refused,
/// never read: it is opened non-blocking (so even one swapped in after the walk cannot stall the
/// open) and checked before a byte is read.
fn read_bounded(path: &Path) -> Result<String, String> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| format!("cannot read file: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read file: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "cannot read file: it is {}, not a regular file; refused",
            super::walk::odd_file_type(&meta)
        ));
    }
    let len = meta.len();
    let too_big = || format!("file too large: more than {MAX_FILE_BYTES} bytes");
    if len > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut buf = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read file: {e}"))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    String::from_utf8(buf).map_err(|_| "file is not UTF-8".to_string())
}

/// One identified document on its way to a resource.
struct Doc {
    key: ResourceKey,
    name_pos: Pos,
    file: PathBuf,
    valid: bool,
    spec: Option<Spec>,
}

enum Spec {
    Machine(StateMachine),
    Api(RestApi),
    Integration(Box<ApiIntegration>, Option<(String, Pos)>, Option<(String, Pos)>),
}

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
    for d in &mut docs {
        let Some(Spec::Integration(i, api_ref, sm_ref)) = &mut d.spec else {
            continue;
        };
        let file = d.file.clone();
        let mut ds = Diags {
            out: &mut diagnostics,
            file: &file,
            count: 0,
        };
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
                    if i.integration.request_templates.is_empty() {
                        let region = ctx.region.unwrap_or("${AWS::Region}");
                        let account = ctx.account_id.unwrap_or("${AWS::AccountId}");
                        i.integration.request_templates.insert(
                            "application/json".into(),
                            default_template(region, account, machine_name),
                        );
                    }
                }
            }
        }
        if ds.count > 0 {
            d.valid = false;
        }
    }
    let tests = resolve_tests(tests, &docs, &mut diagnostics);
    let mut desired = DesiredSet {
        region: opts.region.clone(),
        account_id: opts.account_id.clone(),
        resources: Vec::new(),
    };
    let mut invalid = Vec::new();
    for d in docs {
        match (d.valid, d.spec) {
            (true, Some(Spec::Machine(m))) => desired.resources.push(Resource::StateMachine(m)),
            (true, Some(Spec::Api(a))) => desired.resources.push(Resource::RestApi(a)),
            (true, Some(Spec::Integration(i, _, _))) => desired.resources.push(Resource::ApiIntegration(*i)),
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

/// Duplicate names, `stateMachineRef`, and the state paths of mocks and `expect.states`; the valid
/// tests get their machine's definition.
fn resolve_tests(
    tests: Vec<TestDoc>,
    docs: &[Doc],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<workflow_test::WorkflowTest> {
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    let mut valid = Vec::new();
    let mut tests = tests;
    for i in 0..tests.len() {
        let name = tests[i].test.meta.name.clone();
        if let Some(&j) = first.get(&name) {
            let (f, p) = (tests[j].file.display().to_string(), tests[j].name_pos);
            diagnostics.push(Diagnostic {
                file: tests[i].file.clone(),
                line: tests[i].name_pos.line,
                column: tests[i].name_pos.column,
                message: format!(
                    "duplicate WorkflowTest \"{name}\": also defined at {f}:{}:{}",
                    p.line, p.column
                ),
            });
            tests[i].valid = false;
            tests[j].valid = false;
        } else {
            first.insert(name, i);
        }
    }
    for mut t in tests {
        let file = t.file.clone();
        let mut ds = Diags {
            out: diagnostics,
            file: &file,
            count: 0,
        };
        let key = ResourceKey::new(Kind::StateMachine, t.test.state_machine_ref.clone());
        let Some(machine_doc) = docs.iter().find(|d| d.key == key) else {
            ds.at(
                t.ref_pos,
                format!("stateMachineRef: no StateMachine manifest named \"{}\"", key.name),
            );
            continue;
        };
        // An invalid machine has its own diagnostics; its tests cannot run.
        let (true, Some(Spec::Machine(m))) = (machine_doc.valid, &machine_doc.spec) else {
            continue;
        };
        t.test.machine = workflow_test::TestedMachine {
            name: m.name.clone(),
            definition: m.definition.clone(),
            express: m.machine_type == MachineType::Express,
            role_arn: m.role_arn.clone(),
        };
        workflow_test::check_states(&t, &mut ds);
        if t.valid && ds.count == 0 {
            valid.push(t.test);
        }
    }
    valid
}

/// The `application/json` request template set for a `stateMachineRef` with no templates.
pub fn default_template(region: &str, account: &str, machine_name: &str) -> String {
    format!(
        "{{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"stateMachineArn\": \"arn:aws:states:{region}:{account}:stateMachine:{machine_name}\"}}"
    )
}

fn load_var_file(path: &Path, vars: &mut BTreeMap<String, String>, out: &mut Vec<Diagnostic>) {
    let mut ds = Diags {
        out,
        file: path,
        count: 0,
    };
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

struct Ctx<'a> {
    vars: &'a BTreeMap<String, String>,
    region: Option<&'a str>,
    account_id: Option<&'a str>,
    /// Findings that do not make a manifest invalid (ASL warnings).
    warnings: std::cell::RefCell<Vec<Diagnostic>>,
}

impl Ctx<'_> {
    fn vars<'b>(&'b self, local: Option<&'b BTreeMap<String, String>>) -> Vars<'b> {
        Vars {
            local,
            global: self.vars,
            region: self.region,
            account_id: self.account_id,
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
    let mut ds = Diags { out, file, count: 0 };
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

pub(super) fn check_keys(node: &Node, what: &str, allowed: &[&str], ds: &mut Diags<'_>) -> bool {
    let Value::Map(entries) = &node.value else {
        ds.at(
            node.pos,
            format!("{what}: expected a mapping, found {}", node.type_name()),
        );
        return false;
    };
    for (k, _) in entries {
        if !allowed.contains(&k.name.as_str()) {
            ds.at(
                k.pos,
                format!(
                    "{what}: unknown field \"{}\", expected one of {}",
                    k.name,
                    allowed.join(", ")
                ),
            );
        }
    }
    true
}

pub(super) fn string_field(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> Option<String> {
    let v = node.get(key)?;
    match &v.value {
        Value::String(s) => Some(s.clone()),
        _ => {
            ds.at(
                v.pos,
                format!("{what}.{key}: expected a string, found {}", v.type_name()),
            );
            None
        }
    }
}

pub(super) fn required_string(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> Option<String> {
    if node.get(key).is_none() {
        ds.at(node.pos, format!("{what}.{key}: required field missing"));
        return None;
    }
    string_field(node, key, what, ds)
}

fn string_map(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let Some(v) = node.get(key) else { return map };
    match &v.value {
        Value::Null => {}
        Value::Map(entries) => {
            for (k, n) in entries {
                match &n.value {
                    Value::String(s) => {
                        map.insert(k.name.clone(), s.clone());
                    }
                    _ => ds.at(
                        n.pos,
                        format!(
                            "{what}.{key}.{}: expected a string, found {}",
                            k.name,
                            n.type_name()
                        ),
                    ),
                }
            }
        }
        _ => ds.at(
            v.pos,
            format!("{what}.{key}: expected a mapping, found {}", v.type_name()),
        ),
    }
    map
}

fn bool_field(node: &Node, key: &str, what: &str, ds: &mut Diags<'_>) -> Option<bool> {
    let v = node.get(key)?;
    match v.value {
        Value::Bool(b) => Some(b),
        _ => {
            ds.at(
                v.pos,
                format!("{what}.{key}: expected true or false, found {}", v.type_name()),
            );
            None
        }
    }
}

fn enum_field(node: &Node, key: &str, what: &str, allowed: &[&str], ds: &mut Diags<'_>) -> Option<String> {
    let s = string_field(node, key, what, ds)?;
    if allowed.contains(&s.as_str()) {
        Some(s)
    } else {
        let pos = node.get(key).map(|n| n.pos).unwrap_or(node.pos);
        ds.at(
            pos,
            format!("{what}.{key}: \"{s}\" is not one of {}", allowed.join(", ")),
        );
        None
    }
}

fn deletion_policy(spec: &Node, ds: &mut Diags<'_>) -> DeletionPolicy {
    match enum_field(spec, "deletionPolicy", "spec", &["Retain", "Delete"], ds).as_deref() {
        Some("Delete") => DeletionPolicy::Delete,
        _ => DeletionPolicy::Retain,
    }
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A document that loaded far enough to be identified.
enum Loadable {
    Resource(Box<Doc>),
    Test(Box<TestDoc>),
}

fn load_doc(root: &mut Node, found: &Found, ctx: &Ctx<'_>, ds: &mut Diags<'_>) -> Option<Loadable> {
    if matches!(root.value, Value::Map(_))
        && ["apiVersion", "kind", "metadata"]
            .iter()
            .all(|k| root.get(k).is_none())
    {
        ds.at(
            root.pos,
            "not a manifest: expected apiVersion, kind, metadata and spec",
        );
        return None;
    }
    if !check_keys(root, "document", &["apiVersion", "kind", "metadata", "spec"], ds) {
        return None;
    }
    match root.get("apiVersion") {
        None => ds.at(
            root.pos,
            format!("apiVersion: required field missing (expected {API_VERSION})"),
        ),
        Some(v) if v.as_str() == Some(API_VERSION) => {}
        Some(v) => ds.at(v.pos, format!("apiVersion: expected \"{API_VERSION}\"")),
    }
    let kind = match root.get("kind") {
        None => {
            ds.at(
                root.pos,
                "kind: required field missing (StateMachine, RestApi, ApiIntegration or WorkflowTest)",
            );
            None
        }
        Some(v) if v.as_str() == Some("WorkflowTest") => None,
        Some(v) => match v.as_str().and_then(Kind::parse) {
            Some(k) => Some(k),
            None => {
                ds.at(
                    v.pos,
                    "kind: expected StateMachine, RestApi, ApiIntegration or WorkflowTest",
                );
                None
            }
        },
    };
    let is_test = root.get("kind").and_then(Node::as_str) == Some("WorkflowTest");
    let Some(metadata) = root.get("metadata") else {
        ds.at(root.pos, "metadata: required field missing");
        return None;
    };
    if !check_keys(metadata, "metadata", &["name", "labels", "annotations"], ds) {
        return None;
    }
    let name = required_string(metadata, "name", "metadata", ds)?;
    let name_pos = metadata.get("name").map(|n| n.pos).unwrap_or(metadata.pos);
    if !is_dns_label(&name) {
        ds.at(
            name_pos,
            format!("metadata.name: \"{name}\" is not a DNS-1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters)"),
        );
    }
    let labels = string_map(metadata, "labels", "metadata", ds);
    let annotations = string_map(metadata, "annotations", "metadata", ds);
    if is_test {
        return load_test_doc(root, name, name_pos, labels, annotations, found, ctx, ds);
    }
    let kind = kind?;
    let meta = Meta {
        name: name.clone(),
        labels,
        annotations,
        source: SourceRef {
            file: found.file.clone(),
            line: root.pos.line,
            column: root.pos.column,
        },
    };
    let spec = match root.entry("spec").map(|(k, _)| k.pos) {
        None => {
            ds.at(root.pos, "spec: required field missing");
            None
        }
        Some(_) => {
            // Substitute in place, then read the typed fields.
            let spec_node = spec_mut(root);
            spec_node.and_then(|spec| match kind {
                Kind::StateMachine => load_machine(spec, meta.clone(), found, ctx, ds).map(Spec::Machine),
                Kind::RestApi => load_api(spec, meta.clone(), ctx, ds).map(Spec::Api),
                Kind::ApiIntegration => load_integration(spec, meta.clone(), ctx, ds),
            })
        }
    };
    Some(Loadable::Resource(Box::new(Doc {
        key: ResourceKey::new(kind, name),
        name_pos,
        file: found.file.clone(),
        valid: ds.count == 0,
        spec,
    })))
}

#[allow(clippy::too_many_arguments)]
fn load_test_doc(
    root: &mut Node,
    name: String,
    name_pos: Pos,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    found: &Found,
    ctx: &Ctx<'_>,
    ds: &mut Diags<'_>,
) -> Option<Loadable> {
    let meta = Meta {
        name,
        labels,
        annotations,
        source: SourceRef {
            file: found.file.clone(),
            line: root.pos.line,
            column: root.pos.column,
        },
    };
    let Some(spec) = spec_mut(root) else {
        ds.at(root.pos, "spec: required field missing");
        return None;
    };
    substitute_tree(spec, &ctx.vars(None), &[], ds);
    let mut test = workflow_test::load_test(spec, meta, name_pos, ds)?;
    test.valid = ds.count == 0;
    Some(Loadable::Test(Box::new(test)))
}

fn spec_mut(root: &mut Node) -> Option<&mut Node> {
    match &mut root.value {
        Value::Map(entries) => entries.iter_mut().find(|(k, _)| k.name == "spec").map(|(_, n)| n),
        _ => None,
    }
}

/// Substitutes every string of `node`, except under the keys in `skip`.
fn substitute_tree(node: &mut Node, vars: &Vars<'_>, skip: &[&str], ds: &mut Diags<'_>) {
    substitute_node(node, vars, skip, false, ds)
}

/// Substitutes a definition: an unquoted YAML scalar that is exactly one placeholder takes the type
/// of its value (`Seconds: ${Timeout}` with `Timeout: "60"` is the number 60), as the text
/// substitution of SAM/CloudFormation `DefinitionSubstitutions` does. Quoted strings stay strings.
fn substitute_definition(node: &mut Node, vars: &Vars<'_>, ds: &mut Diags<'_>) {
    substitute_node(node, vars, &[], true, ds)
}

fn is_single_placeholder(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s[2..].find('}') == Some(s.len() - 3)
}

fn substitute_node(node: &mut Node, vars: &Vars<'_>, skip: &[&str], typed: bool, ds: &mut Diags<'_>) {
    let retype = typed && node.plain && node.as_str().is_some_and(is_single_placeholder);
    match &mut node.value {
        Value::String(s) => match substitute(s, vars) {
            Ok(v) => {
                if retype && !v.contains("${") {
                    node.value = super::yaml::scalar(&v, true);
                } else {
                    *s = v;
                }
            }
            Err(names) => {
                for n in names {
                    ds.at(node.pos, format!("unresolved placeholder {n}"));
                }
            }
        },
        Value::Seq(items) => items
            .iter_mut()
            .for_each(|n| substitute_node(n, vars, skip, typed, ds)),
        Value::Map(entries) => {
            for (k, n) in entries.iter_mut() {
                if !skip.contains(&k.name.as_str()) {
                    substitute_node(n, vars, skip, typed, ds);
                }
            }
        }
        _ => {}
    }
}

fn load_machine(
    spec: &mut Node,
    meta: Meta,
    found: &Found,
    ctx: &Ctx<'_>,
    ds: &mut Diags<'_>,
) -> Option<StateMachine> {
    const FIELDS: &[&str] = &[
        "name",
        "type",
        "roleArn",
        "definition",
        "definitionFile",
        "definitionSubstitutions",
        "loggingConfiguration",
        "tracingConfiguration",
        "tags",
        "deletionPolicy",
    ];
    if !check_keys(spec, "spec", FIELDS, ds) {
        return None;
    }
    // definitionSubstitutions values may use the global placeholders themselves.
    let mut local = string_map(spec, "definitionSubstitutions", "spec", ds);
    if let Some(node) = spec.get("definitionSubstitutions") {
        for (k, v) in local.iter_mut() {
            match substitute(v, &ctx.vars(None)) {
                Ok(s) => *v = s,
                Err(names) => {
                    let pos = node.get(k).map(|n| n.pos).unwrap_or(node.pos);
                    for n in names {
                        ds.at(pos, format!("unresolved placeholder {n}"));
                    }
                }
            }
        }
    }
    if let Value::Map(entries) = &mut spec.value {
        for (k, n) in entries.iter_mut() {
            match k.name.as_str() {
                "definitionSubstitutions" => {}
                "definition" => substitute_definition(n, &ctx.vars(Some(&local)), ds),
                _ => substitute_tree(n, &ctx.vars(None), &[], ds),
            }
        }
    }
    let name = string_field(spec, "name", "spec", ds).unwrap_or_else(|| meta.name.clone());
    if !crate::desired::is_valid_machine_name(&name) {
        let pos = spec.get("name").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(
            pos,
            format!("spec.name: \"{name}\" is not a valid state machine name (1–80 of A-Z a-z 0-9 _ -)"),
        );
    }
    let machine_type = match enum_field(spec, "type", "spec", &["STANDARD", "EXPRESS"], ds).as_deref() {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    };
    let role_arn = required_string(spec, "roleArn", "spec", ds).unwrap_or_default();
    if !role_arn.is_empty() && !role_arn.starts_with("arn:") {
        let pos = spec.get("roleArn").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(pos, "spec.roleArn: expected an IAM role ARN (arn:...)");
    }
    let definition = match (spec.get("definition"), spec.entry("definitionFile")) {
        (Some(_), Some((k, _))) => {
            ds.at(
                k.pos,
                "spec: exactly one of definition and definitionFile, not both",
            );
            None
        }
        (None, None) => {
            ds.at(spec.pos, "spec: one of definition and definitionFile is required");
            None
        }
        (Some(def), None) => {
            if matches!(def.value, Value::Map(_)) {
                check_asl(def, machine_type, ctx, ds);
                Some(def.to_json())
            } else {
                ds.at(
                    def.pos,
                    format!("spec.definition: expected a mapping, found {}", def.type_name()),
                );
                None
            }
        }
        (None, Some((_, node))) => load_definition_file(node, found, ctx, &local, machine_type, ds),
    };
    let logging = spec.get("loggingConfiguration").and_then(|l| {
        if !check_keys(
            l,
            "spec.loggingConfiguration",
            &["level", "includeExecutionData", "destinations"],
            ds,
        ) {
            return None;
        }
        let level = enum_field(
            l,
            "level",
            "spec.loggingConfiguration",
            &["OFF", "ALL", "ERROR", "FATAL"],
            ds,
        )
        .unwrap_or_else(|| "OFF".into());
        let include = bool_field(l, "includeExecutionData", "spec.loggingConfiguration", ds).unwrap_or(false);
        let mut destinations = Vec::new();
        if let Some(d) = l.get("destinations") {
            match &d.value {
                Value::Seq(items) => {
                    for it in items {
                        match it.as_str() {
                            Some(s) => destinations.push(s.to_string()),
                            None => ds.at(
                                it.pos,
                                "spec.loggingConfiguration.destinations: expected a log group ARN string",
                            ),
                        }
                    }
                }
                _ => ds.at(d.pos, "spec.loggingConfiguration.destinations: expected a list"),
            }
        }
        Some(LoggingConfiguration {
            level,
            include_execution_data: include,
            destinations,
        })
    });
    let tracing_enabled = spec.get("tracingConfiguration").and_then(|t| {
        if !check_keys(t, "spec.tracingConfiguration", &["enabled"], ds) {
            return None;
        }
        bool_field(t, "enabled", "spec.tracingConfiguration", ds)
    });
    let tags = string_map(spec, "tags", "spec", ds);
    let deletion_policy = deletion_policy(spec, ds);
    Some(StateMachine {
        meta,
        name,
        machine_type,
        role_arn,
        definition: definition?,
        logging,
        tracing_enabled,
        tags,
        deletion_policy,
    })
}

fn load_definition_file(
    node: &Node,
    found: &Found,
    ctx: &Ctx<'_>,
    local: &BTreeMap<String, String>,
    machine_type: MachineType,
    ds: &mut Diags<'_>,
) -> Option<serde_json::Value> {
    let Some(rel) = node.as_str() else {
        ds.at(
            node.pos,
            format!(
                "spec.definitionFile: expected a path string, found {}",
                node.type_name()
            ),
        );
        return None;
    };
    let rel_path = Path::new(rel);
    if rel_path.is_absolute() {
        ds.at(
            node.pos,
            format!("spec.definitionFile: \"{rel}\" is absolute; it must be relative to the manifest"),
        );
        return None;
    }
    let dir = found.file.parent().unwrap_or(Path::new("."));
    let joined = dir.join(rel_path);
    let canonical = match std::fs::canonicalize(&joined) {
        Ok(c) => c,
        Err(e) => {
            ds.at(
                node.pos,
                format!("spec.definitionFile: cannot read \"{rel}\": {e}"),
            );
            return None;
        }
    };
    if !canonical.starts_with(&found.root) {
        ds.at(
            node.pos,
            format!(
                "spec.definitionFile: \"{rel}\" resolves outside {} (links followed); refused",
                found.root.display()
            ),
        );
        return None;
    }
    let text = match read_bounded(&canonical) {
        Ok(t) => t,
        Err(e) => {
            ds.at(node.pos, format!("spec.definitionFile: {e}"));
            return None;
        }
    };
    let mut fds = Diags {
        out: &mut *ds.out,
        file: &joined,
        count: 0,
    };
    let result = match parse_documents(&text) {
        Ok(docs) if docs.len() == 1 => {
            let mut def = docs.into_iter().next()?;
            if matches!(def.value, Value::Map(_)) {
                substitute_definition(&mut def, &ctx.vars(Some(local)), &mut fds);
                check_asl(&def, machine_type, ctx, &mut fds);
                Some(def.to_json())
            } else {
                fds.at(
                    def.pos,
                    format!("definition: expected a mapping, found {}", def.type_name()),
                );
                None
            }
        }
        Ok(docs) => {
            fds.at(
                Pos { line: 1, column: 1 },
                format!(
                    "definition file must hold exactly one document, found {}",
                    docs.len()
                ),
            );
            None
        }
        Err(e) => {
            fds.at(e.pos, e.message);
            None
        }
    };
    let failed = fds.count;
    ds.count += failed;
    if failed > 0 { None } else { result }
}

/// Runs the ASL validator and places each finding at the nearest node of its path: errors as
/// diagnostics, warnings into `ctx.warnings`. Each names AWS's diagnostic code.
fn check_asl(def: &Node, machine_type: MachineType, ctx: &Ctx<'_>, ds: &mut Diags<'_>) {
    let json = def.to_json();
    let options = crate::asl::Options {
        machine_type: match machine_type {
            MachineType::Express => crate::asl::MachineType::Express,
            MachineType::Standard => crate::asl::MachineType::Standard,
        },
    };
    for finding in crate::asl::validate_with(&json, &options) {
        let pos = locate(def, &finding.path);
        let message = if finding.path.0.is_empty() {
            format!("definition: {finding}")
        } else {
            format!("definition.{}: {finding}", finding.path)
        };
        if finding.is_error() {
            ds.at(pos, message);
        } else {
            ctx.warnings.borrow_mut().push(Diagnostic {
                file: ds.file.to_path_buf(),
                line: pos.line,
                column: pos.column,
                message: format!("warning: {message}"),
            });
        }
    }
}

fn locate(root: &Node, path: &AslPath) -> Pos {
    let mut node = root;
    for seg in &path.0 {
        let next = match (seg, &node.value) {
            (Segment::Key(k), Value::Map(entries)) => {
                entries.iter().find(|(key, _)| &key.name == k).map(|(_, n)| n)
            }
            (Segment::Index(i), Value::Seq(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node.pos
}

fn load_api(spec: &mut Node, meta: Meta, ctx: &Ctx<'_>, ds: &mut Diags<'_>) -> Option<RestApi> {
    if !check_keys(
        spec,
        "spec",
        &[
            "name",
            "description",
            "endpointConfiguration",
            "tags",
            "deletionPolicy",
        ],
        ds,
    ) {
        return None;
    }
    substitute_tree(spec, &ctx.vars(None), &[], ds);
    let name = string_field(spec, "name", "spec", ds).unwrap_or_else(|| meta.name.clone());
    if name.is_empty() || name.len() > 1024 {
        let pos = spec.get("name").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(pos, "spec.name: must be 1–1024 characters");
    }
    let description = string_field(spec, "description", "spec", ds);
    let endpoint_types = spec.get("endpointConfiguration").and_then(|e| {
        if !check_keys(e, "spec.endpointConfiguration", &["types"], ds) {
            return None;
        }
        let types = e.get("types")?;
        let Value::Seq(items) = &types.value else {
            ds.at(types.pos, "spec.endpointConfiguration.types: expected a list");
            return None;
        };
        let mut out = Vec::new();
        for it in items {
            match it.as_str() {
                Some("EDGE") => out.push(EndpointType::Edge),
                Some("REGIONAL") => out.push(EndpointType::Regional),
                Some("PRIVATE") => out.push(EndpointType::Private),
                _ => ds.at(
                    it.pos,
                    "spec.endpointConfiguration.types: expected EDGE, REGIONAL or PRIVATE",
                ),
            }
        }
        Some(out)
    });
    let tags = string_map(spec, "tags", "spec", ds);
    let deletion_policy = deletion_policy(spec, ds);
    Some(RestApi {
        meta,
        name,
        description,
        endpoint_types,
        tags,
        deletion_policy,
    })
}

const TEMPLATES: &[&str] = &["requestTemplates", "responseTemplates"];

fn load_integration(spec: &mut Node, meta: Meta, ctx: &Ctx<'_>, ds: &mut Diags<'_>) -> Option<Spec> {
    const FIELDS: &[&str] = &[
        "restApi",
        "path",
        "httpMethod",
        "authorizationType",
        "integration",
        "stateMachineRef",
        "responses",
        "stage",
        "deletionPolicy",
    ];
    if !check_keys(spec, "spec", FIELDS, ds) {
        return None;
    }
    substitute_tree(spec, &ctx.vars(None), TEMPLATES, ds);
    let mut api_ref = None;
    let rest_api = match spec.get("restApi") {
        None => {
            ds.at(spec.pos, "spec.restApi: required field missing");
            None
        }
        Some(r) => {
            if check_keys(r, "spec.restApi", &["ref", "name", "id"], ds) {
                let Value::Map(entries) = &r.value else {
                    return None;
                };
                if entries.len() != 1 {
                    ds.at(r.pos, "spec.restApi: exactly one of ref, name and id");
                    None
                } else {
                    let (k, v) = &entries[0];
                    match v.as_str() {
                        None => {
                            ds.at(v.pos, format!("spec.restApi.{}: expected a string", k.name));
                            None
                        }
                        Some(s) => match k.name.as_str() {
                            "ref" => {
                                api_ref = Some((s.to_string(), v.pos));
                                Some(RestApiTarget::Ref(s.to_string()))
                            }
                            "name" => Some(RestApiTarget::Name(s.to_string())),
                            _ => Some(RestApiTarget::Id(s.to_string())),
                        },
                    }
                }
            } else {
                None
            }
        }
    };
    let raw_path = required_string(spec, "path", "spec", ds).unwrap_or_default();
    let path = normalize_path(&raw_path);
    if path.split('/').any(|p| p.contains(char::is_whitespace)) {
        let pos = spec.get("path").map(|n| n.pos).unwrap_or(spec.pos);
        ds.at(pos, "spec.path: must not contain whitespace");
    }
    const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];
    if spec.get("httpMethod").is_none() {
        ds.at(spec.pos, "spec.httpMethod: required field missing");
    }
    let http_method = enum_field(spec, "httpMethod", "spec", METHODS, ds).unwrap_or_default();
    let authorization_type = enum_field(spec, "authorizationType", "spec", &["NONE", "AWS_IAM"], ds)
        .unwrap_or_else(|| "NONE".into());
    let sm_ref = spec.get("stateMachineRef").and_then(|n| match n.as_str() {
        Some(s) => Some((s.to_string(), n.pos)),
        None => {
            ds.at(
                n.pos,
                "spec.stateMachineRef: expected a StateMachine metadata.name",
            );
            None
        }
    });
    let integration = match spec.get("integration") {
        None => {
            ds.at(spec.pos, "spec.integration: required field missing");
            None
        }
        Some(i) => load_integration_block(i, ctx, ds),
    };
    let mut responses = Vec::new();
    match spec.get("responses") {
        None => responses.push(crate::desired::Response {
            status_code: "200".into(),
            selection_pattern: None,
            response_templates: BTreeMap::new(),
        }),
        Some(r) => {
            match &r.value {
                Value::Seq(items) if !items.is_empty() => {
                    for it in items {
                        if !check_keys(
                            it,
                            "spec.responses[]",
                            &["statusCode", "selectionPattern", "responseTemplates"],
                            ds,
                        ) {
                            continue;
                        }
                        let status_code = match it.get("statusCode").map(|n| &n.value) {
                            Some(Value::String(s)) => s.clone(),
                            Some(Value::Number(n)) => n.to_string(),
                            _ => {
                                ds.at(it.pos, "spec.responses[].statusCode: required (e.g. \"200\")");
                                continue;
                            }
                        };
                        if !(status_code.len() == 3 && status_code.bytes().all(|b| b.is_ascii_digit())) {
                            let pos = it.get("statusCode").map(|n| n.pos).unwrap_or(it.pos);
                            ds.at(pos, format!("spec.responses[].statusCode: \"{status_code}\" is not an HTTP status code"));
                        }
                        responses.push(crate::desired::Response {
                            status_code,
                            selection_pattern: string_field(it, "selectionPattern", "spec.responses[]", ds),
                            response_templates: string_map(it, "responseTemplates", "spec.responses[]", ds),
                        });
                    }
                }
                _ => ds.at(r.pos, "spec.responses: expected a non-empty list"),
            }
        }
    }
    let stage = string_field(spec, "stage", "spec", ds);
    let deletion_policy = deletion_policy(spec, ds);
    let state_machine_ref = sm_ref.as_ref().map(|(s, _)| s.clone());
    Some(Spec::Integration(
        Box::new(ApiIntegration {
            meta,
            rest_api: rest_api?,
            path,
            http_method,
            authorization_type,
            integration: integration?,
            state_machine_ref,
            responses,
            stage,
            deletion_policy,
        }),
        api_ref,
        sm_ref,
    ))
}

fn load_integration_block(i: &Node, ctx: &Ctx<'_>, ds: &mut Diags<'_>) -> Option<Integration> {
    const FIELDS: &[&str] = &[
        "type",
        "service",
        "action",
        "uri",
        "region",
        "integrationHttpMethod",
        "credentials",
        "requestTemplates",
        "passthroughBehavior",
        "timeoutInMillis",
    ];
    const W: &str = "spec.integration";
    if !check_keys(i, W, FIELDS, ds) {
        return None;
    }
    if let Some(t) = i.get("type")
        && t.as_str() != Some("AWS")
    {
        ds.at(
            t.pos,
            "spec.integration.type: only AWS (service integrations) is supported",
        );
    }
    let service = string_field(i, "service", W, ds);
    let action = string_field(i, "action", W, ds);
    let uri_field = string_field(i, "uri", W, ds);
    let region = string_field(i, "region", W, ds).unwrap_or_else(|| {
        ctx.region
            .map(str::to_string)
            .unwrap_or_else(|| "${AWS::Region}".into())
    });
    let uri = match (uri_field, service, action) {
        (Some(u), None, None) => Some(u),
        (None, Some(s), Some(a)) => Some(format!("arn:aws:apigateway:{region}:{s}:action/{a}")),
        _ => {
            ds.at(
                i.pos,
                "spec.integration: exactly one of uri, or service and action together",
            );
            None
        }
    };
    let timeout = match i.get("timeoutInMillis") {
        None => 29000,
        Some(n) => match &n.value {
            Value::Number(v) if v.as_i64().is_some_and(|t| (50..=29000).contains(&t)) => {
                v.as_i64().unwrap_or(29000) as i32
            }
            _ => {
                ds.at(
                    n.pos,
                    "spec.integration.timeoutInMillis: expected an integer from 50 to 29000",
                );
                29000
            }
        },
    };
    Some(Integration {
        integration_type: "AWS".into(),
        uri: uri?,
        integration_http_method: string_field(i, "integrationHttpMethod", W, ds)
            .unwrap_or_else(|| "POST".into()),
        credentials: string_field(i, "credentials", W, ds),
        request_templates: string_map(i, "requestTemplates", W, ds),
        passthrough_behavior: enum_field(
            i,
            "passthroughBehavior",
            W,
            &["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"],
            ds,
        )
        .unwrap_or_else(|| "WHEN_NO_MATCH".into()),
        timeout_in_millis: timeout,
    })
}

/// `execution/` → `/execution`; `/` stays `/`.
fn normalize_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
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
            Some(default_template("${AWS::Region}", "${AWS::AccountId}", "Machine").as_str())
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
    fn asl_paths_map_to_the_nearest_node() {
        let docs = super::super::yaml::parse_documents(
            "StartAt: A\nStates:\n  A:\n    Type: Parallel\n    Branches:\n      - StartAt: B\n        States:\n          B: {Type: Pass, Next: Ghost}\n",
        )
        .unwrap();
        let path = AslPath::root()
            .key("States")
            .key("A")
            .key("Branches")
            .index(0)
            .key("States")
            .key("B")
            .key("Next");
        assert_eq!(locate(&docs[0], &path), Pos { line: 8, column: 33 });
        let missing = AslPath::root().key("States").key("A").key("Nope").key("Deeper");
        assert_eq!(locate(&docs[0], &missing), Pos { line: 4, column: 5 });
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
