//! `kind: WorkflowTest` (SPEC §2, §8): test cases for one state machine's definition. They are
//! validated with the other manifests but are no resource: they never enter the desired set, so
//! `diff` and `reconcile` never send them anywhere and never prune because of them.
//!
//! Checked here: the schema (every place named `FILE:LINE:COLUMN`), that `stateMachineRef` names a
//! StateMachine manifest, that every `mocks` key is a Task state of that machine and every
//! `expect.states` entry a state of it, written as the interpreter names them
//! (`Parallel.Branches[0].SumValues`, `Map.ItemProcessor.Step`).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{Ctx, Doc, Loadable, Spec, spec_mut};
use crate::desired::{Kind, MachineType, Meta, ResourceKey};
use crate::manifest::Diagnostic;
use crate::manifest::fields::{Diags, check_keys, describe, required_string, string_field};
use crate::manifest::subst::substitute_tree;
use crate::manifest::yaml::{Node, Pos, Value};
use crate::path::Segment;
use crate::standins::{StandIn, Thrown};

/// A valid `WorkflowTest`, with the definition of the machine it tests.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowTest {
    pub meta: Meta,
    /// The StateMachine manifest's `metadata.name`.
    pub state_machine_ref: String,
    /// That machine: filled in by the loader once the reference is resolved.
    pub machine: TestedMachine,
    /// Lambda stand-ins shared by the cases.
    pub functions: BTreeMap<String, StandIn>,
    pub cases: Vec<TestCase>,
}

/// What a test runs: the referenced machine, after substitutions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestedMachine {
    /// The AWS name (`spec.name`).
    pub name: String,
    pub definition: Json,
    pub express: bool,
    pub role_arn: String,
}

/// One case.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub name: String,
    /// Where the case is written (`FILE:LINE:COLUMN` in reports).
    pub line: u64,
    pub input: Json,
    /// Stand-ins for this case only; they win over the test's.
    pub functions: BTreeMap<String, StandIn>,
    /// State path → answers, the n-th call getting the n-th (the last one repeating).
    pub mocks: BTreeMap<String, Vec<Mock>>,
    /// A per-state case (`state:`): only that state runs, as AWS's TestState runs it.
    pub state: Option<StateCase>,
    pub expect: Expect,
}

/// A per-state case's fields (SPEC §8): they mean what TestState's fields of the same names mean.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateCase {
    /// The state's path (`Parallel.Branches[0].SumValues`) or name.
    pub path: String,
    /// `{result: JSON}` or `{errorOutput: {error, cause}}`, with `fieldValidationMode`.
    pub mock: Option<StateMock>,
    /// `retrierRetryCount`, `errorCausedByState`, `mapIterationFailureCount`,
    /// `mapItemReaderData` (a list).
    pub configuration: serde_json::Map<String, Json>,
    pub variables: serde_json::Map<String, Json>,
    pub context: Option<Json>,
}

/// A per-state case's `mock`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateMock {
    pub result: Option<Json>,
    pub error_output: Option<Thrown>,
    /// `STRICT` (default), `PRESENT` or `NONE`.
    pub field_validation_mode: Option<String>,
}

/// A mocked answer of a Task state: its result as the service returns it (what `ResultSelector`
/// sees, as in AWS's TestState mocks), or an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Mock {
    Return(Json),
    Throw(Thrown),
}

/// What a case must end with; fields left out are not compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// `SUCCEEDED` (default), `FAILED` or `TIMED_OUT`.
    pub status: String,
    pub output: Option<Json>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// State paths that must be entered, in this order (others may come between).
    pub states: Option<Vec<String>>,
    /// A per-state case's next state.
    pub next_state: Option<String>,
    /// A per-state case's `inspectionData`: a subset, compared as data.
    pub inspection_data: Option<Json>,
}

/// A loaded test and the places its references are checked at.
pub(in crate::manifest) struct TestDoc {
    pub test: WorkflowTest,
    pub name_pos: Pos,
    pub file: std::path::PathBuf,
    pub valid: bool,
    pub ref_pos: Pos,
    /// Mock keys: state path and where it is written.
    pub mock_keys: Vec<(String, Pos)>,
    /// `expect.states` entries.
    pub state_entries: Vec<(String, Pos)>,
}

/// The statuses `expect.status` takes.
pub const STATUSES: &[&str] = &["SUCCEEDED", "FAILED", "TIMED_OUT"];

/// The statuses `expect.status` takes in a per-state case (TestState's).
pub const STATE_STATUSES: &[&str] = &["SUCCEEDED", "FAILED", "RETRIABLE", "CAUGHT_ERROR"];

/// Reads the spec of a `WorkflowTest` (already substituted); `valid` is left for the caller.
pub(super) fn load_test(spec: &Node, meta: Meta, name_pos: Pos, ds: &mut Diags<'_>) -> Option<TestDoc> {
    if !check_keys(spec, "spec", &["stateMachineRef", "functions", "cases"], ds) {
        return None;
    }
    let state_machine_ref = required_string(spec, "stateMachineRef", "spec", ds);
    let ref_pos = spec.get("stateMachineRef").map_or(spec.pos, |n| n.pos);
    let functions = stand_ins(spec.get("functions"), "spec.functions", ds);
    let mut mock_keys = Vec::new();
    let mut state_entries = Vec::new();
    let mut cases = Vec::new();
    match spec.get("cases") {
        None => ds.at(spec.pos, "spec.cases: required field missing"),
        Some(Node {
            value: Value::Seq(items),
            ..
        }) => {
            let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
            for (i, c) in items.iter().enumerate() {
                let what = format!("spec.cases[{i}]");
                if let Some(case) = load_case(c, &what, &mut mock_keys, &mut state_entries, ds) {
                    let pos = c.get("name").map_or(c.pos, |n| n.pos);
                    if let Some(first) = seen.get(&case.name) {
                        ds.at(
                            pos,
                            format!(
                                "{what}.name: duplicate case \"{}\": also at line {}:{}",
                                case.name, first.line, first.column
                            ),
                        );
                    } else {
                        seen.insert(case.name.clone(), pos);
                    }
                    cases.push(case);
                }
            }
        }
        Some(n) => ds.at(
            n.pos,
            format!("spec.cases: expected a sequence, found {}", n.type_name()),
        ),
    }
    Some(TestDoc {
        file: meta.source.file.clone(),
        test: WorkflowTest {
            meta,
            state_machine_ref: state_machine_ref?,
            machine: TestedMachine::default(),
            functions,
            cases,
        },
        name_pos,
        valid: true,
        ref_pos,
        mock_keys,
        state_entries,
    })
}

fn load_case(
    c: &Node,
    what: &str,
    mock_keys: &mut Vec<(String, Pos)>,
    state_entries: &mut Vec<(String, Pos)>,
    ds: &mut Diags<'_>,
) -> Option<TestCase> {
    const KEYS: &[&str] = &[
        "name",
        "input",
        "functions",
        "mocks",
        "expect",
        "state",
        "mock",
        "stateConfiguration",
        "variables",
        "context",
    ];
    if !check_keys(c, what, KEYS, ds) {
        return None;
    }
    let name = required_string(c, "name", what, ds);
    if name.as_deref() == Some("") {
        ds.at(
            c.get("name").map_or(c.pos, |n| n.pos),
            format!("{what}.name: must not be empty"),
        );
    }
    let input = c
        .get("input")
        .map_or(Json::Object(Default::default()), Node::to_json);
    let functions = stand_ins(c.get("functions"), &format!("{what}.functions"), ds);
    let mut mocks = BTreeMap::new();
    if let Some(m) = c.get("mocks") {
        match &m.value {
            Value::Null => {}
            Value::Map(entries) => {
                for (k, list) in entries {
                    let here = format!("{what}.mocks.{}", k.name);
                    mock_keys.push((k.name.clone(), k.pos));
                    let answers = match &list.value {
                        Value::Seq(items) if !items.is_empty() => {
                            items.iter().filter_map(|it| mock(it, &here, ds)).collect()
                        }
                        Value::Seq(_) => {
                            ds.at(
                                list.pos,
                                format!("{here}: expected at least one answer, found an empty sequence"),
                            );
                            Vec::new()
                        }
                        // One answer written without the list.
                        Value::Map(_) => mock(list, &here, ds).into_iter().collect(),
                        _ => {
                            ds.at(
                                list.pos,
                                format!(
                                    "{here}: expected a list of {{return: JSON}} or {{throw: {{error, cause}}}}, found {}",
                                    list.type_name()
                                ),
                            );
                            Vec::new()
                        }
                    };
                    mocks.insert(k.name.clone(), answers);
                }
            }
            _ => ds.at(
                m.pos,
                format!(
                    "{what}.mocks: expected a mapping of state path → answers, found {}",
                    m.type_name()
                ),
            ),
        }
    }
    let state = state_case(c, what, state_entries, ds);
    let expect = match c.get("expect") {
        None => Expect {
            status: "SUCCEEDED".into(),
            output: None,
            error: None,
            cause: None,
            states: None,
            next_state: None,
            inspection_data: None,
        },
        Some(e) => load_expect(e, &format!("{what}.expect"), state.is_some(), state_entries, ds)?,
    };
    Some(TestCase {
        name: name?,
        line: c.pos.line,
        input,
        functions,
        mocks,
        state,
        expect,
    })
}

/// The per-state fields of a case: `state` and what only it may have (`mock`,
/// `stateConfiguration`, `variables`, `context`).
fn state_case(
    c: &Node,
    what: &str,
    state_entries: &mut Vec<(String, Pos)>,
    ds: &mut Diags<'_>,
) -> Option<StateCase> {
    let Some(state) = c.get("state") else {
        for key in ["mock", "stateConfiguration", "variables", "context"] {
            if let Some(n) = c.get(key) {
                ds.at(
                    n.pos,
                    format!("{what}.{key}: only a per-state case (with state:) takes {key}"),
                );
            }
        }
        return None;
    };
    let Some(path) = state.as_str() else {
        ds.at(
            state.pos,
            format!(
                "{what}.state: expected a state path string, found {}",
                describe(state)
            ),
        );
        return None;
    };
    state_entries.push((path.to_string(), state.pos));
    if let Some(m) = c.get("mocks") {
        ds.at(
            m.pos,
            format!("{what}.mocks: a per-state case takes mock: (TestState's), not mocks:"),
        );
    }
    let mut object = |key: &str| -> serde_json::Map<String, Json> {
        match c.get(key) {
            None => Default::default(),
            Some(n) => match n.to_json() {
                Json::Object(m) => m,
                _ => {
                    ds.at(
                        n.pos,
                        format!("{what}.{key}: expected a mapping, found {}", n.type_name()),
                    );
                    Default::default()
                }
            },
        }
    };
    let configuration = object("stateConfiguration");
    let variables = object("variables");
    if let Some(n) = c.get("stateConfiguration") {
        const CONFIG: &[&str] = &[
            "retrierRetryCount",
            "errorCausedByState",
            "mapIterationFailureCount",
            "mapItemReaderData",
        ];
        check_keys(n, &format!("{what}.stateConfiguration"), CONFIG, ds);
    }
    Some(StateCase {
        path: path.to_string(),
        mock: c
            .get("mock")
            .and_then(|m| state_mock(m, &format!("{what}.mock"), ds)),
        configuration,
        variables,
        context: c.get("context").map(Node::to_json),
    })
}

fn state_mock(node: &Node, what: &str, ds: &mut Diags<'_>) -> Option<StateMock> {
    if !check_keys(node, what, &["result", "errorOutput", "fieldValidationMode"], ds) {
        return None;
    }
    let mode = string_field(node, "fieldValidationMode", what, ds);
    if let Some(m) = &mode
        && !["STRICT", "PRESENT", "NONE"].contains(&m.as_str())
    {
        let pos = node.get("fieldValidationMode").map_or(node.pos, |n| n.pos);
        ds.at(
            pos,
            format!("{what}.fieldValidationMode: \"{m}\" is not one of STRICT, PRESENT, NONE"),
        );
    }
    let error_output = match node.get("errorOutput") {
        None => None,
        Some(e) => Some(thrown(e, &format!("{what}.errorOutput"), ds)?),
    };
    Some(StateMock {
        result: node.get("result").map(Node::to_json),
        error_output,
        field_validation_mode: mode,
    })
}

fn mock(node: &Node, what: &str, ds: &mut Diags<'_>) -> Option<Mock> {
    if !check_keys(node, what, &["return", "throw"], ds) {
        return None;
    }
    match (node.get("return"), node.get("throw")) {
        (Some(r), None) => Some(Mock::Return(r.to_json())),
        (None, Some(t)) => thrown(t, &format!("{what}.throw"), ds).map(Mock::Throw),
        _ => {
            ds.at(node.pos, format!("{what}: exactly one of return and throw"));
            None
        }
    }
}

fn thrown(node: &Node, what: &str, ds: &mut Diags<'_>) -> Option<Thrown> {
    if !check_keys(node, what, &["error", "cause"], ds) {
        return None;
    }
    let error = required_string(node, "error", what, ds)?;
    let cause = string_field(node, "cause", what, ds).unwrap_or_default();
    Some(Thrown { error, cause })
}

/// A map of function name or ARN → stand-in (SPEC §7).
fn stand_ins(node: Option<&Node>, what: &str, ds: &mut Diags<'_>) -> BTreeMap<String, StandIn> {
    let mut out = BTreeMap::new();
    let Some(node) = node else { return out };
    let entries = match &node.value {
        Value::Null => return out,
        Value::Map(entries) => entries,
        _ => {
            ds.at(
                node.pos,
                format!(
                    "{what}: expected a mapping of function → stand-in, found {}",
                    node.type_name()
                ),
            );
            return out;
        }
    };
    for (k, v) in entries {
        let here = format!("{what}.{}", k.name);
        if !check_keys(v, &here, &["jsonata", "command", "return", "throw"], ds) {
            continue;
        }
        let Value::Map(fields) = &v.value else { continue };
        if fields.len() != 1 {
            ds.at(
                v.pos,
                format!("{here}: exactly one of jsonata, command, return and throw"),
            );
            continue;
        }
        let (field, body) = (&fields[0].0.name, &fields[0].1);
        let stand_in = match field.as_str() {
            "jsonata" => match body.as_str() {
                Some(s) => Some(StandIn::Jsonata(s.to_string())),
                None => {
                    ds.at(
                        body.pos,
                        format!("{here}.jsonata: expected a string, found {}", describe(body)),
                    );
                    None
                }
            },
            "command" => match &body.value {
                Value::Seq(items) if !items.is_empty() && items.iter().all(|i| i.as_str().is_some()) => {
                    Some(StandIn::Command(
                        items
                            .iter()
                            .filter_map(|i| i.as_str().map(String::from))
                            .collect(),
                    ))
                }
                _ => {
                    let got = match &body.value {
                        Value::Seq(items) => match items.iter().find(|i| i.as_str().is_none()) {
                            Some(item) => format!("a sequence holding {}", describe(item)),
                            None => describe(body),
                        },
                        _ => describe(body),
                    };
                    ds.at(
                        body.pos,
                        format!(
                            "{here}.command: expected a non-empty list of strings (program and arguments), found {got}"
                        ),
                    );
                    None
                }
            },
            "return" => Some(StandIn::Return(body.to_json())),
            _ => thrown(body, &format!("{here}.throw"), ds).map(StandIn::Throw),
        };
        if let Some(s) = stand_in {
            out.insert(k.name.clone(), s);
        }
    }
    out
}

fn load_expect(
    e: &Node,
    what: &str,
    per_state: bool,
    state_entries: &mut Vec<(String, Pos)>,
    ds: &mut Diags<'_>,
) -> Option<Expect> {
    let keys: &[&str] = if per_state {
        &[
            "status",
            "output",
            "error",
            "cause",
            "nextState",
            "inspectionData",
        ]
    } else {
        &["status", "output", "error", "cause", "states"]
    };
    if !check_keys(e, what, keys, ds) {
        return None;
    }
    let statuses = if per_state { STATE_STATUSES } else { STATUSES };
    let status = match string_field(e, "status", what, ds) {
        None => "SUCCEEDED".to_string(),
        Some(s) if statuses.contains(&s.as_str()) => s,
        Some(s) => {
            ds.at(
                e.get("status").map_or(e.pos, |n| n.pos),
                format!("{what}.status: \"{s}\" is not one of {}", statuses.join(", ")),
            );
            s
        }
    };
    let states = e.get("states").and_then(|s| match &s.value {
        Value::Seq(items) => {
            let mut out = Vec::new();
            for it in items {
                match it.as_str() {
                    Some(p) => {
                        state_entries.push((p.to_string(), it.pos));
                        out.push(p.to_string());
                    }
                    None => ds.at(
                        it.pos,
                        format!(
                            "{what}.states: expected a state path string, found {}",
                            describe(it)
                        ),
                    ),
                }
            }
            Some(out)
        }
        _ => {
            ds.at(
                s.pos,
                format!(
                    "{what}.states: expected a list of state paths, found {}",
                    s.type_name()
                ),
            );
            None
        }
    });
    Some(Expect {
        status,
        output: e.get("output").map(Node::to_json),
        error: string_field(e, "error", what, ds),
        cause: string_field(e, "cause", what, ds),
        states,
        next_state: string_field(e, "nextState", what, ds),
        inspection_data: e.get("inspectionData").map(Node::to_json),
    })
}

/// Every state of a definition as the interpreter names it in `TaskCall::state_path`
/// (`Parallel.Branches[0].SumValues`, `Map.ItemProcessor.Step`), with its `Type`.
pub fn state_paths(definition: &Json) -> Vec<(String, String)> {
    crate::asl::model::states(definition, 64)
        .into_iter()
        .map(|s| {
            let mut out = String::new();
            for seg in &s.path.0 {
                match seg {
                    Segment::Key(k) if k == "States" => {}
                    Segment::Key(k) => {
                        if !out.is_empty() {
                            out.push('.');
                        }
                        // The interpreter names an older `Iterator` as `ItemProcessor`.
                        out.push_str(if k == "Iterator" { "ItemProcessor" } else { k });
                    }
                    Segment::Index(i) => out.push_str(&format!("[{i}]")),
                }
            }
            let ty = s
                .state
                .get("Type")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            (out, ty)
        })
        .collect()
}

/// Checks the mock keys and `expect.states` entries against the tested machine's states.
pub(super) fn check_states(doc: &TestDoc, ds: &mut Diags<'_>) {
    let paths = state_paths(&doc.test.machine.definition);
    let tasks: Vec<&str> = paths
        .iter()
        .filter(|(_, t)| t == "Task")
        .map(|(p, _)| p.as_str())
        .collect();
    let machine = &doc.test.state_machine_ref;
    for (key, pos) in &doc.mock_keys {
        match paths.iter().find(|(p, _)| p == key) {
            Some((_, ty)) if ty == "Task" => {}
            Some((_, ty)) => ds.at(
                *pos,
                format!("mocks: \"{key}\" is a {ty} state of {machine}; only Task states are mocked"),
            ),
            None => ds.at(
                *pos,
                format!(
                    "mocks: no Task state \"{key}\" in {machine} (its Task states: {})",
                    if tasks.is_empty() {
                        "none".to_string()
                    } else {
                        tasks.join(", ")
                    }
                ),
            ),
        }
    }
    for (entry, pos) in &doc.state_entries {
        if !paths.iter().any(|(p, _)| p == entry) {
            ds.at(
                *pos,
                format!("expect.states: no state \"{entry}\" in {machine} (state paths are written like Parallel.Branches[0].SumValues)"),
            );
        }
    }
}

/// A `WorkflowTest` document whose header is read: substitutes and reads its spec.
pub(super) fn load_doc(
    root: &mut Node,
    meta: Meta,
    name_pos: Pos,
    ctx: &Ctx<'_>,
    ds: &mut Diags<'_>,
) -> Option<Loadable> {
    let Some(spec) = spec_mut(root) else {
        ds.at(root.pos, "spec: required field missing");
        return None;
    };
    substitute_tree(spec, &ctx.vars(None), &[], ds);
    let mut test = load_test(spec, meta, name_pos, ds)?;
    test.valid = ds.count == 0;
    Some(Loadable::Test(Box::new(test)))
}

/// Duplicate names, `stateMachineRef`, and the state paths of mocks and `expect.states`; the valid
/// tests get their machine's definition.
pub(in crate::manifest) fn resolve_tests(
    tests: Vec<TestDoc>,
    docs: &[Doc],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<WorkflowTest> {
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
        let mut ds = Diags::new(diagnostics, &file);
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
        t.test.machine = TestedMachine {
            name: m.name.clone(),
            definition: m.definition.clone(),
            express: m.machine_type == MachineType::Express,
            role_arn: m.role_arn.clone(),
        };
        check_states(&t, &mut ds);
        if t.valid && ds.count == 0 {
            valid.push(t.test);
        }
    }
    valid
}
