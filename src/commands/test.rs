//! `sfn-operator test` (SPEC §8): every `WorkflowTest` case through the interpreter of `exec/`,
//! in-process, with the case's mocks and Lambda stand-ins as its tasks and a simulated clock (Wait
//! states and retry back-off never sleep). No port, no AWS call, no credentials, no state file.
//!
//! Cases run in parallel on all cores; each one is stopped after `--max-steps` states, so a loop
//! that never ends fails its case instead of hanging the job.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::{Value, json};

use crate::cli::{OutputFormat, TestOpts};
use crate::exec::{
    self, Clock, ExecutionInfo, Interpreter, SeededRandom, SimulatedClock, Status, TaskCall, TaskFailure,
    Tasks,
};
use crate::manifest::{self, Mock, TestCase, WorkflowTest};
use crate::standins::{self, Functions};

mod per_state;

/// Where simulated time starts: 2026-01-01T00:00:00Z, the same for every case and run.
const EPOCH_MS: i64 = 1_767_225_600_000;

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub test: String,
    pub case: String,
    pub file: String,
    pub line: u64,
    pub status: &'static str,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// State paths entered, in order.
    pub states: Vec<String>,
    /// Why the case failed, if it did: the first difference.
    pub failure: Option<Failure>,
    /// Every difference between what the case expects and what its execution did (the first is
    /// `failure`); empty when it passed.
    pub differences: Vec<Failure>,
    pub elapsed_us: u64,
}

/// A difference between what a case expects and what its execution did.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `output[1].max`, `status`, `states`, or `steps` for a runaway.
    pub path: String,
    pub expected: Option<Value>,
    pub got: Option<Value>,
    /// For people: `output[1].max: 3 → 4`.
    pub message: String,
}

impl Failure {
    /// For people, labelled: `status: expected FAILED, got SUCCEEDED`,
    /// `output[1].max: expected 3, got 4`; a runaway or a missing state says why in words.
    pub fn labelled(&self) -> String {
        if matches!(self.path.as_str(), "steps" | "states") {
            return self.message.clone();
        }
        // Status, error and cause are names: shown bare. Output values are data: JSON.
        let bare = matches!(self.path.as_str(), "status" | "error" | "cause");
        let side = |v: Option<&Value>| match v {
            Some(Value::String(s)) if bare => s.clone(),
            other => show(other),
        };
        format!(
            "{}: expected {}, got {}",
            self.path,
            side(self.expected.as_ref()),
            side(self.got.as_ref())
        )
    }
}

/// Loads the manifests, runs every case, prints the report; 0 when all pass, 1 otherwise.
pub fn run(opts: &TestOpts) -> crate::Result<u8> {
    let loaded = manifest::load(&crate::setup::load_options(
        &opts.manifests,
        Some(opts.region.clone()),
        Some(opts.account_id.clone()),
    ));
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    if !loaded.diagnostics.is_empty() {
        for d in &loaded.diagnostics {
            eprintln!("{d}");
        }
        let n = loaded.diagnostics.len();
        eprintln!(
            "{n} error{} in the manifests: no test was run",
            if n == 1 { "" } else { "s" }
        );
        return Ok(crate::exit::FAILURE);
    }
    let started = Instant::now();
    let results = run_all(&loaded.tests, opts);
    let elapsed = started.elapsed();
    if let Some(path) = &opts.junit {
        std::fs::write(path, junit(&results)).map_err(|source| crate::Error::Io {
            context: format!("writing {}", path.display()),
            source,
        })?;
    }
    match opts.output {
        OutputFormat::Json => println!("{}", json_report(&results)),
        OutputFormat::Text => print!(
            "{}",
            text_report(&results, elapsed.as_secs_f64(), crate::colour::stdout_enabled())
        ),
    }
    Ok(if results.iter().all(|r| r.failure.is_none()) {
        crate::exit::OK
    } else {
        crate::exit::FAILURE
    })
}

/// Runs every case of every test on all cores; results in manifest order.
pub fn run_all(tests: &[WorkflowTest], opts: &TestOpts) -> Vec<CaseResult> {
    let cases: Vec<(&WorkflowTest, &TestCase)> = tests
        .iter()
        .flat_map(|t| t.cases.iter().map(move |c| (t, c)))
        .collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(cases.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<CaseResult>>> = cases.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((t, c)) = cases.get(i) else { break };
                    let r = run_case(t, c, i, opts);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

/// A case's tasks: its mocks by state path, else the Lambda stand-ins.
struct CaseTasks<'a> {
    mocks: &'a BTreeMap<String, Vec<Mock>>,
    calls: Mutex<BTreeMap<String, usize>>,
    functions: Functions,
}

impl Tasks for CaseTasks<'_> {
    fn call(&self, call: &TaskCall<'_>) -> Result<Value, TaskFailure> {
        let Some(answers) = self.mocks.get(call.state_path).filter(|a| !a.is_empty()) else {
            return self.functions.call(call);
        };
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            let n = calls.entry(call.state_path.to_string()).or_insert(0);
            *n += 1;
            *n - 1
        };
        match &answers[n.min(answers.len() - 1)] {
            Mock::Return(v) => Ok(v.clone()),
            Mock::Throw(t) => Err(TaskFailure {
                error: t.error.clone(),
                cause: t.cause.clone(),
            }),
        }
    }
}

/// Simulated time, and a step budget: the interpreter asks `stopped()` before every state.
struct CaseClock {
    time: SimulatedClock,
    steps: AtomicU64,
    budget: u64,
}

impl Clock for CaseClock {
    fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }
    fn sleep_until(&self, deadline_ms: i64) -> bool {
        self.time.sleep_until(deadline_ms)
    }
    fn stopped(&self) -> bool {
        self.steps.fetch_add(1, Ordering::Relaxed) >= self.budget
    }
}

/// The seed of a case's randomness (`States.UUID`, `States.MathRandom`, retry jitter): from its
/// name and input (FNV-1a), so a failing case draws the same numbers every run.
fn case_seed(case: &TestCase) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in case.name.bytes().chain([0]).chain(case.input.to_string().bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The execution a case's context object describes.
fn execution_info(test: &WorkflowTest, index: usize, opts: &TestOpts) -> ExecutionInfo {
    let machine = &test.machine;
    let name = format!("test-{index}");
    let (region, account) = (&opts.region, &opts.account_id);
    let machine_arn = format!("arn:aws:states:{region}:{account}:stateMachine:{}", machine.name);
    let execution_arn = if machine.express {
        format!(
            "arn:aws:states:{region}:{account}:express:{}:{name}:00000000-0000-4000-8000-{index:012}",
            machine.name
        )
    } else {
        format!(
            "arn:aws:states:{region}:{account}:execution:{}:{name}",
            machine.name
        )
    };
    ExecutionInfo {
        execution_arn,
        name,
        state_machine_arn: machine_arn,
        state_machine_name: machine.name.clone(),
        role_arn: machine.role_arn.clone(),
        express: machine.express,
        region: region.clone(),
    }
}

fn run_case(test: &WorkflowTest, case: &TestCase, index: usize, opts: &TestOpts) -> CaseResult {
    let started = Instant::now();
    let machine = &test.machine;
    let mut stand_ins = BTreeMap::new();
    for (k, v) in test.functions.iter().chain(&case.functions) {
        stand_ins.insert(standins::function_name(k).to_string(), v.clone());
    }
    let tasks = CaseTasks {
        mocks: &case.mocks,
        calls: Mutex::new(BTreeMap::new()),
        functions: Functions::from_map(stand_ins),
    };
    let clock = CaseClock {
        time: SimulatedClock::new(EPOCH_MS),
        steps: AtomicU64::new(0),
        budget: opts.max_steps,
    };
    let info = execution_info(test, index, opts);
    let random = SeededRandom::new(case_seed(case));
    if let Some(state) = &case.state {
        let mut result = per_state::run(machine, case, state, &info, (&tasks, &clock, &random));
        result.test = test.meta.name.clone();
        result.file = test.meta.source.file.display().to_string();
        result.elapsed_us = started.elapsed().as_micros() as u64;
        return result;
    }
    let outcome =
        Interpreter::new(&info, &tasks, &clock, &random).run(&machine.definition, case.input.clone());
    let paths: BTreeMap<String, String> = manifest::workflow_test::state_paths(&machine.definition)
        .into_iter()
        .filter_map(|(path, _)| Some((path.rsplit('.').next()?.to_string(), path)))
        .collect();
    let states: Vec<String> = outcome
        .events
        .iter()
        .filter(|e| e.kind.ends_with("StateEntered"))
        .filter_map(|e| e.details.as_ref()?.get("name")?.as_str())
        .map(|n| paths.get(n).cloned().unwrap_or_else(|| n.to_string()))
        .collect();
    let runaway = outcome.status == Status::Aborted;
    let differences = if runaway {
        vec![Failure {
            path: "steps".into(),
            expected: None,
            got: Some(json!(opts.max_steps)),
            message: format!(
                "stopped after {} states (the step budget, --max-steps): does a loop never end?",
                opts.max_steps
            ),
        }]
    } else {
        compare(case, &outcome)
    };
    CaseResult {
        test: test.meta.name.clone(),
        case: case.name.clone(),
        file: test.meta.source.file.display().to_string(),
        line: case.line,
        status: outcome.status.as_str(),
        output: outcome.output,
        error: outcome.error,
        cause: outcome.cause,
        states,
        failure: differences.first().cloned(),
        differences,
        elapsed_us: started.elapsed().as_micros() as u64,
    }
    .with_states_checked(case)
}

impl CaseResult {
    /// `expect.states` is checked last: it needs the entered paths. A runaway is not checked
    /// further.
    fn with_states_checked(mut self, case: &TestCase) -> Self {
        if self.failure.as_ref().is_some_and(|f| f.path == "steps") {
            return self;
        }
        let Some(want) = &case.expect.states else {
            return self;
        };
        let mut entered = self.states.iter();
        let mut after: Option<&str> = None;
        for w in want {
            if entered.by_ref().any(|s| s == w) {
                after = Some(w);
                continue;
            }
            let message = match after {
                Some(a) => format!("states: {w} was not entered after {a}"),
                None => format!("states: {w} was not entered"),
            };
            let failure = Failure {
                path: "states".into(),
                expected: Some(json!(want)),
                got: Some(json!(self.states)),
                message,
            };
            self.failure.get_or_insert_with(|| failure.clone());
            self.differences.push(failure);
            break;
        }
        self
    }
}

/// Status, error, cause and output, in that order: every difference (the first is the headline).
fn compare(case: &TestCase, outcome: &exec::Outcome) -> Vec<Failure> {
    let e = &case.expect;
    let mut out = Vec::new();
    let got_status = outcome.status.as_str();
    if e.status != got_status {
        out.push(differ("status", Some(&json!(e.status)), Some(&json!(got_status))));
    }
    for (field, want, got) in [
        ("error", &e.error, &outcome.error),
        ("cause", &e.cause, &outcome.cause),
    ] {
        if let Some(w) = want
            && got.as_deref() != Some(w.as_str())
        {
            out.push(differ(
                field,
                Some(&json!(w)),
                got.as_ref().map(|g| json!(g)).as_ref(),
            ));
        }
    }
    if let Some(want) = &e.output {
        let mut found = Vec::new();
        differences("output".into(), Some(want), outcome.output.as_ref(), &mut found);
        out.extend(found.into_iter().map(|(path, w, g)| differ(&path, w, g)));
    }
    out
}

pub(crate) fn differ(path: &str, expected: Option<&Value>, got: Option<&Value>) -> Failure {
    Failure {
        path: path.to_string(),
        expected: expected.cloned(),
        got: got.cloned(),
        message: format!("{path}: {} → {}", show(expected), show(got)),
    }
}

/// A value for a report line; `(absent)` when there is none, long values cut.
fn show(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "(absent)".into();
    };
    let s = v.to_string();
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}…")
    } else {
        s
    }
}

type Difference<'a> = (String, Option<&'a Value>, Option<&'a Value>);

/// The first place where two values differ, as data: key order never matters, numbers compare by
/// value (`2` equals `2.0`).
#[cfg(test)]
fn first_difference<'a>(
    path: String,
    want: Option<&'a Value>,
    got: Option<&'a Value>,
) -> Option<Difference<'a>> {
    let mut found = Vec::new();
    differences(path, want, got, &mut found);
    found.into_iter().next()
}

/// Every place where two values differ, in order (the expected keys in their order, then keys
/// only the execution has; array items by index), as [`first_difference`] compares.
pub(crate) fn differences<'a>(
    path: String,
    want: Option<&'a Value>,
    got: Option<&'a Value>,
    out: &mut Vec<Difference<'a>>,
) {
    match (want, got) {
        (Some(Value::Object(w)), Some(Value::Object(g))) => {
            for (k, wv) in w {
                differences(child(&path, k), Some(wv), g.get(k), out);
            }
            out.extend(
                g.iter()
                    .filter(|(k, _)| !w.contains_key(*k))
                    .map(|(k, gv)| (child(&path, k), None, Some(gv))),
            );
        }
        (Some(Value::Array(w)), Some(Value::Array(g))) => {
            for i in 0..w.len().max(g.len()) {
                differences(format!("{path}[{i}]"), w.get(i), g.get(i), out);
            }
        }
        (Some(Value::Number(w)), Some(Value::Number(g))) if w.as_f64() == g.as_f64() => {}
        (w, g) if w == g => {}
        (w, g) => out.push((path, w, g)),
    }
}

fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

/// The states entered, for people: a runaway's thousands are cut to their first and last ones.
fn entered(states: &[String]) -> String {
    const SHOWN: usize = 12;
    if states.is_empty() {
        return "(none)".into();
    }
    if states.len() <= 2 * SHOWN {
        return states.join(" → ");
    }
    format!(
        "{} → … {} more … → {}",
        states[..SHOWN].join(" → "),
        states.len() - 2 * SHOWN,
        states[states.len() - SHOWN..].join(" → ")
    )
}

/// One line per case; under a failure its first difference, the states entered, error and
/// cause, then every difference labelled (`status: expected FAILED, got SUCCEEDED`). With
/// `colour`, PASS is green and FAIL red.
pub fn text_report(results: &[CaseResult], seconds: f64, colour: bool) -> String {
    use crate::colour::{Colour, paint};
    let mut out = String::new();
    for r in results {
        match &r.failure {
            None => out.push_str(&format!(
                "{}  {}/{}\n",
                paint("PASS", Colour::Green, colour),
                r.test,
                r.case
            )),
            Some(f) => {
                out.push_str(&format!(
                    "{}  {}/{}  ({}:{})\n",
                    paint("FAIL", Colour::Red, colour),
                    r.test,
                    r.case,
                    r.file,
                    r.line
                ));
                out.push_str(&format!("      {}\n", f.message));
                out.push_str(&format!("      execution: {}\n", r.status));
                out.push_str(&format!("      states entered: {}\n", entered(&r.states)));
                if r.error.is_some() || r.cause.is_some() {
                    out.push_str(&format!(
                        "      error: {}\n      cause: {}\n",
                        r.error.as_deref().unwrap_or("(none)"),
                        r.cause.as_deref().unwrap_or("(none)")
                    ));
                }
                out.push_str(&format!("      differences ({}):\n", r.differences.len()));
                for d in &r.differences {
                    out.push_str(&format!("        {}\n", d.labelled()));
                }
            }
        }
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    if results.is_empty() {
        out.push_str("no WorkflowTest cases found\n");
    }
    out.push_str(&format!(
        "{} passed, {} failed ({} case{} in {:.3}s)\n",
        results.len() - failed,
        failed,
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        seconds
    ));
    out
}

/// The results as data (`-o json`).
pub fn json_report(results: &[CaseResult]) -> Value {
    let cases: Vec<Value> = results
        .iter()
        .map(|r| {
            json!({
                "test": r.test,
                "case": r.case,
                "file": r.file,
                "line": r.line,
                "result": if r.failure.is_some() { "failed" } else { "passed" },
                "status": r.status,
                "output": r.output,
                "error": r.error,
                "cause": r.cause,
                "states": r.states,
                "failure": r.failure.as_ref().map(|f| json!({
                    "path": f.path, "expected": f.expected, "got": f.got, "message": f.message,
                })),
                "differences": r.differences.iter().map(|f| json!({
                    "path": f.path, "expected": f.expected, "got": f.got, "message": f.labelled(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    json!({"cases": cases, "summary": {"passed": results.len() - failed, "failed": failed}})
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>` per WorkflowTest, one `<testcase>` per case.
pub fn junit(results: &[CaseResult]) -> String {
    let mut suites: Vec<(&str, Vec<&CaseResult>)> = Vec::new();
    for r in results {
        match suites.iter_mut().find(|(n, _)| *n == r.test) {
            Some((_, v)) => v.push(r),
            None => suites.push((&r.test, vec![r])),
        }
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let secs = |us: u64| us as f64 / 1e6;
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sfn-operator test\" tests=\"{}\" failures=\"{failed}\">\n",
        results.len()
    );
    for (name, cases) in suites {
        let f = cases.iter().filter(|r| r.failure.is_some()).count();
        let t: u64 = cases.iter().map(|r| r.elapsed_us).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"0\" time=\"{:.6}\">\n",
            xml_escape(name),
            cases.len(),
            secs(t)
        ));
        for r in cases {
            out.push_str(&format!(
                "    <testcase classname=\"WorkflowTest/{}\" name=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.6}\"",
                xml_escape(&r.test),
                xml_escape(&r.case),
                xml_escape(&r.file),
                r.line,
                secs(r.elapsed_us)
            ));
            match &r.failure {
                None => out.push_str("/>\n"),
                Some(f) => {
                    let labelled: Vec<String> = r.differences.iter().map(Failure::labelled).collect();
                    let body = format!(
                        "{}\nexecution: {}\nstates entered: {}\nerror: {}\ncause: {}\ndifferences:\n  {}",
                        f.message,
                        r.status,
                        entered(&r.states),
                        r.error.as_deref().unwrap_or("(none)"),
                        r.cause.as_deref().unwrap_or("(none)"),
                        labelled.join("\n  ")
                    );
                    out.push_str(&format!(
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                        xml_escape(&f.message),
                        xml_escape(&f.path),
                        xml_escape(&body)
                    ));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_is_a_path_into_the_data() {
        let want = json!([{"sum": 6}, {"max": 3, "min": 1}, {"avg": 2}]);
        let got = json!([{"sum": 6}, {"min": 1, "max": 4}, {"avg": 2.0}]);
        let d = first_difference("output".into(), Some(&want), Some(&got)).unwrap();
        assert_eq!(
            (d.0.as_str(), d.1, d.2),
            ("output[1].max", Some(&json!(3)), Some(&json!(4)))
        );
        let same = json!([{"sum": 6}, {"min": 1, "max": 3}, {"avg": 2.0}]);
        assert!(first_difference("output".into(), Some(&want), Some(&same)).is_none());
        let (one, extra) = (json!({"a": 1}), json!({"a": 1, "b": 2}));
        let d = first_difference("output".into(), Some(&one), Some(&extra)).unwrap();
        assert_eq!((d.0.as_str(), d.1, d.2), ("output.b", None, Some(&json!(2))));
        let (w, g) = (json!({"a b": [1]}), json!({"a b": []}));
        let d = first_difference("output".into(), Some(&w), Some(&g)).unwrap();
        assert_eq!(d.0, "output[\"a b\"][0]");
    }

    #[test]
    fn every_difference_is_listed_in_order_and_labelled() {
        let want = json!([{"sum": 6}, {"max": 3, "min": 1}, {"avg": 2}]);
        let got = json!([{"sum": 7}, {"min": 1, "max": 4}, {"avg": 2.0, "n": 3}]);
        let mut found = Vec::new();
        differences("output".into(), Some(&want), Some(&got), &mut found);
        let labelled: Vec<String> = found
            .iter()
            .map(|(p, w, g)| differ(p, *w, *g).labelled())
            .collect();
        assert_eq!(
            labelled,
            [
                "output[0].sum: expected 6, got 7",
                "output[1].max: expected 3, got 4",
                "output[2].n: expected (absent), got 3",
            ]
        );
        let status = differ("status", Some(&json!("FAILED")), Some(&json!("SUCCEEDED")));
        assert_eq!(status.labelled(), "status: expected FAILED, got SUCCEEDED");
        assert_eq!(status.message, r#"status: "FAILED" → "SUCCEEDED""#);
        let text = differ("output.s", Some(&json!("1")), Some(&json!(1)));
        assert_eq!(text.labelled(), r#"output.s: expected "1", got 1"#);
    }

    #[test]
    fn verdicts_are_coloured_only_when_asked() {
        let case = |name: &str, failed: bool| {
            let d = differ("status", Some(&json!("FAILED")), Some(&json!("SUCCEEDED")));
            CaseResult {
                test: "t".into(),
                case: name.into(),
                file: "t.yaml".into(),
                line: 1,
                status: "SUCCEEDED",
                output: None,
                error: None,
                cause: None,
                states: vec![],
                failure: failed.then(|| d.clone()),
                differences: if failed { vec![d] } else { vec![] },
                elapsed_us: 0,
            }
        };
        let results = [case("ok", false), case("bad", true)];
        let on = text_report(&results, 0.0, true);
        assert!(
            on.starts_with("\x1b[32mPASS\x1b[0m  t/ok\n\x1b[31mFAIL\x1b[0m  t/bad  (t.yaml:1)\n"),
            "{on}"
        );
        let off = text_report(&results, 0.0, false);
        assert!(!off.contains('\x1b'), "{off}");
        assert!(
            off.contains("      differences (1):\n        status: expected FAILED, got SUCCEEDED\n"),
            "{off}"
        );
    }

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(xml_escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}");
    }
}
