//! moto's own test suite against the sandbox (issue 23): moto 5.2.5's `tests/test_stepfunctions`
//! and `tests/test_apigateway` in server mode, every boto3 call sent to `sfn-operator sandbox`,
//! through `scripts/moto-suite.sh`. At least 150 must pass, and every failure must be classified
//! in `tests/moto-suite/FAILURES.md` (missing operation / moto-only behaviour / AWS differs from
//! moto, with the source), which must list no test that no longer fails, except the rows marked
//! `(timing)`: tests whose outcome depends on whether a sandbox execution has ended by the time
//! moto reads it (moto never runs the definition, the sandbox does).

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// At least this many of moto's tests pass against the sandbox (66 when issue 23 was filed).
const MIN_PASSED: usize = 150;

/// The whole run takes about 30 s on an idle machine; a loaded 2-core CI machine gets far more.
const RUN_LIMIT: Duration = Duration::from_secs(30 * 60);

const CLASSES: &[&str] = &[
    "missing operation",
    "moto-only behaviour",
    "AWS differs from moto",
];

/// One row of FAILURES.md.
#[derive(Debug)]
struct Classified {
    test: String,
    timing: bool,
}

/// The rows of FAILURES.md's table: `| `NODE-ID` | CLASS | WHY AND SOURCE |`; panics on a row
/// with an unknown class or no source.
fn classified(text: &str) -> Vec<Classified> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let cells: Vec<&str> = rest.split('|').map(str::trim).collect();
        let test = cells[0].trim_end_matches('`').to_string();
        let class = cells.get(1).copied().unwrap_or("");
        let (class, timing) = match class.strip_suffix("(timing)") {
            Some(c) => (c.trim(), true),
            None => (class, false),
        };
        assert!(
            CLASSES.contains(&class),
            "FAILURES.md line {}: class {class:?} of {test} is not one of {CLASSES:?}",
            n + 1
        );
        let source = cells.get(2).copied().unwrap_or("");
        assert!(
            source.len() > 10,
            "FAILURES.md line {}: {test} gives no source",
            n + 1
        );
        rows.push(Classified { test, timing });
    }
    rows
}

/// A free port below Linux's ephemeral range (32768 and up), picked from the process id. The
/// plugin restarts the sandbox on the same port between moto's tests; a port the kernel never hands
/// out to other tests' listeners or outgoing connections stays free for each restart.
fn fixed_port() -> u16 {
    let start = std::process::id() as usize * 7919 % 10_000;
    (0..10_000)
        .map(|i| 20_000 + ((start + i) % 10_000) as u16)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in 20000-29999")
}

#[test]
fn moto_suite_passes_150_and_every_failure_is_classified() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let port = fixed_port();
    eprintln!("moto suite: the sandbox listens on port {port}");
    let dir = tempfile::tempdir().unwrap();
    let summary_path = dir.path().join("summary.txt");
    let errors_path = dir.path().join("stderr.txt");
    let mut child = Command::new("bash")
        .arg(root.join("scripts/moto-suite.sh"))
        .env("SFN_OPERATOR_BIN", env!("CARGO_BIN_EXE_sfn-operator"))
        .env("MOTO_SUITE_PORT", port.to_string())
        .env("MOTO_SUITE_OUT", dir.path().join("moto-suite.xml"))
        .stdin(Stdio::null())
        .stdout(File::create(&summary_path).unwrap())
        .stderr(File::create(&errors_path).unwrap())
        .spawn()
        .expect("run scripts/moto-suite.sh");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scripts/moto-suite.sh still running after {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let summary = std::fs::read_to_string(&summary_path).unwrap();
    let errors = std::fs::read_to_string(&errors_path).unwrap();
    eprintln!("scripts/moto-suite.sh -> {status}\n{summary}\nstderr:\n{errors}");
    assert!(status.success(), "scripts/moto-suite.sh failed:\n{errors}");

    let counts = summary
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("passed "))
        .expect("a `passed N failed N skipped N` line");
    let passed: usize = counts.split_whitespace().next().unwrap().parse().unwrap();
    let failing: BTreeSet<&str> = summary
        .lines()
        .filter_map(|l| l.strip_prefix("FAILED "))
        .map(|l| l.split_once(": ").map_or(l, |(node, _)| node))
        .collect();

    let table = std::fs::read_to_string(root.join("tests/moto-suite/FAILURES.md")).unwrap();
    let rows = classified(&table);
    let listed: BTreeSet<&str> = rows.iter().map(|r| r.test.as_str()).collect();
    let unclassified: Vec<&str> = failing.iter().copied().filter(|t| !listed.contains(t)).collect();
    let stale: Vec<&str> = rows
        .iter()
        .filter(|r| !r.timing && !failing.contains(r.test.as_str()))
        .map(|r| r.test.as_str())
        .collect();

    assert!(
        unclassified.is_empty(),
        "{} failing moto tests are not classified in tests/moto-suite/FAILURES.md (add a row: \
         missing operation / moto-only behaviour / AWS differs from moto, with the source):\n{}",
        unclassified.len(),
        unclassified.join("\n")
    );
    assert!(
        stale.is_empty(),
        "tests/moto-suite/FAILURES.md lists {} tests that no longer fail (remove their rows):\n{}",
        stale.len(),
        stale.join("\n")
    );
    assert!(
        passed >= MIN_PASSED,
        "{passed} of moto's tests passed against the sandbox, fewer than {MIN_PASSED}"
    );
}
