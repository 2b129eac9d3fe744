//! `sfn-operator validate` run as a real process on temp dirs: the corpus, every loader rule, the
//! resource limits, exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn validate(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .arg("validate")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run sfn-operator");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Asserts that stderr holds exactly this diagnostic line.
#[track_caller]
fn assert_diag(run: &Run, line: &str) {
    assert_eq!(
        run.code, 1,
        "expected failure; stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.lines().any(|l| l == line),
        "expected line:\n  {line}\ngot stderr:\n{}",
        run.stderr
    );
}

const HEAD: &str = "apiVersion: sfn-operator.dev/v1alpha1\n";

fn machine(name: &str, extra: &str) -> String {
    format!(
        "{HEAD}kind: StateMachine\nmetadata:\n  name: {name}\nspec:\n  roleArn: arn:aws:iam::1:role/r\n{extra}"
    )
}

const INLINE_DEF: &str = "  definition:\n    StartAt: A\n    States:\n      A: {Type: Pass, End: true}\n";

/// The corpus of `../shared/corpus`, vendored in `tests/corpus` (MIT-0, see its README) so that a
/// clone of this repository alone runs every test.
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if !name.starts_with("AWS::") && !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

fn value_for(name: &str) -> String {
    let lower = name.to_lowercase();
    if lower.contains("partition") {
        "aws".into()
    } else if lower.contains("region") {
        "us-east-1".into()
    } else if lower.contains("timeout") || lower.contains("seconds") {
        "60".into()
    } else if lower.contains("account") {
        "123456789012".into()
    } else {
        format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        )
    }
}

/// Wraps each definition in a StateMachine manifest using definitionFile; returns the file count.
fn corpus_as_manifests(src: &Path, dst: &Path) -> usize {
    let mut files: Vec<_> = std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let fname = f.file_name().unwrap().to_str().unwrap();
        std::fs::write(dst.join(fname), &text).unwrap();
        let mut m = machine(&format!("m{i}"), &format!("  definitionFile: {fname}\n"));
        let names = placeholders(&text);
        if !names.is_empty() {
            m.push_str("  definitionSubstitutions:\n");
            for n in names {
                m.push_str(&format!(
                    "    {}: \"{}\"\n",
                    serde_json::to_string(&n).unwrap(),
                    value_for(&n)
                ));
            }
        }
        std::fs::write(dst.join(format!("m{i}.yaml")), m).unwrap();
    }
    files.len()
}

#[test]
fn corpus_passes_and_invalid_file_fails_with_its_place() {
    let corpus = corpus_dir();
    let dir = tempfile::tempdir().unwrap();
    let n = corpus_as_manifests(&corpus.join("asl"), dir.path());
    assert_eq!(n, 174);
    let run = validate(dir.path(), &["."]);
    assert_eq!(run.code, 0, "corpus must pass:\n{}", run.stderr);
    assert_eq!(run.stdout.trim(), "174 manifests valid");
}

/// The asl-invalid file: `QueryLanguage` inside `States` is not a state.
#[test]
fn corpus_invalid_file_fails_with_its_place() {
    let corpus = corpus_dir();

    let bad = tempfile::tempdir().unwrap();
    corpus_as_manifests(&corpus.join("asl-invalid"), bad.path());
    let run = validate(bad.path(), &["."]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("./shared-fallback-state-jsonata__statemachine__statemachine.asl.json:")
            && first.contains("QueryLanguage"),
        "got: {}",
        run.stderr
    );
}

#[test]
fn reference_manifests_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = validate(root, &[]);
    assert_eq!(
        (run.code, run.stdout.trim()),
        (0, "4 manifests valid"),
        "{}",
        run.stderr
    );
    let run = validate(
        root,
        &[
            "manifests",
            "--region",
            "eu-west-1",
            "--account-id",
            "123456789012",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn unknown_field_bad_api_version_kind_and_name() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "a.yaml",
        &machine("ok", &format!("  bogus: 1\n{INLINE_DEF}")),
    );
    write(
        d.path(),
        "b.yaml",
        "apiVersion: v1\nkind: Widget\nmetadata:\n  name: Bad_Name\nspec: {}\nextra: 1\n",
    );
    write(
        d.path(),
        "c.yaml",
        &machine("toolong", &format!("  name: \"has space\"\n{INLINE_DEF}")),
    );
    let run = validate(d.path(), &["."]);
    assert_diag(
        &run,
        "./a.yaml:7:3: spec: unknown field \"bogus\", expected one of name, type, roleArn, definition, definitionFile, definitionSubstitutions, loggingConfiguration, tracingConfiguration, encryptionConfiguration, tags, deletionPolicy, driftPolicy, ignoreDifferences, publish, versionDescription, versionRetention, aliases",
    );
    assert_diag(
        &run,
        "./b.yaml:1:13: apiVersion: expected \"sfn-operator.dev/v1alpha1\", found \"v1\"",
    );
    assert_diag(
        &run,
        "./b.yaml:2:7: kind: expected StateMachine, RestApi, ApiIntegration or WorkflowTest, found \"Widget\"",
    );
    assert_diag(
        &run,
        "./b.yaml:4:9: metadata.name: \"Bad_Name\" is not a DNS-1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters)",
    );
    assert_diag(
        &run,
        "./b.yaml:6:1: document: unknown field \"extra\", expected one of apiVersion, kind, metadata, spec",
    );
    assert_diag(
        &run,
        "./c.yaml:7:9: spec.name: \"has space\" is not a valid state machine name (1–80 of A-Z a-z 0-9 _ -)",
    );
    assert!(
        run.stderr.trim_end().ends_with("6 errors in 3 files"),
        "{}",
        run.stderr
    );
}

#[test]
fn duplicates_name_both_places() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.yaml", &machine("same", INLINE_DEF));
    write(
        d.path(),
        "b/c.yaml",
        &format!("# comment\n{}", machine("same", INLINE_DEF)),
    );
    let run = validate(d.path(), &["."]);
    assert_diag(
        &run,
        "./b/c.yaml:5:9: duplicate StateMachine \"same\": also defined at ./a.yaml:4:9",
    );
}

#[test]
fn substitutions_escape_templates_and_unresolved() {
    let d = tempfile::tempdir().unwrap();
    let def = "  definition:\n    StartAt: A\n    States:\n      A: {Type: Pass, End: true, Result: \"${Missing} $${Lit} ${Given}\"}\n";
    write(d.path(), "m.yaml", &machine("m", def));
    write(
        d.path(),
        "i.yaml",
        &format!(
            "{HEAD}kind: ApiIntegration\nmetadata:\n  name: i\nspec:\n  restApi: {{id: abc}}\n  path: /x\n  httpMethod: POST\n  integration:\n    service: states\n    action: StartExecution\n    requestTemplates:\n      application/json: '{{\"a\": \"${{NotSubstituted}}\"}}'\n  responses:\n    - statusCode: 200\n      responseTemplates:\n        application/json: '${{AlsoNot}}'\n  stage: ${{Stage}}\n"
        ),
    );
    let run = validate(d.path(), &[".", "--var", "Given=g"]);
    assert_diag(&run, "./m.yaml:10:42: unresolved placeholder ${Missing}");
    assert_diag(&run, "./i.yaml:18:10: unresolved placeholder ${Stage}");
    assert_eq!(
        run.stderr.lines().count(),
        3,
        "templates are never substituted: {}",
        run.stderr
    );
    let run = validate(
        d.path(),
        &[
            ".",
            "--var",
            "Given=g",
            "--var",
            "Missing=x",
            "--var",
            "Stage=prod",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn var_files_and_their_errors() {
    let d = tempfile::tempdir().unwrap();
    let def =
        "  definition:\n    StartAt: A\n    States:\n      A: {Type: Pass, End: true, Result: \"${X}\"}\n";
    write(d.path(), "m/m.yaml", &machine("m", def));
    write(d.path(), "vars.yaml", "X: from-file\n");
    write(d.path(), "bad-vars.yaml", "X: [1, 2]\n");
    write(d.path(), "list-vars.yaml", "- a\n");
    assert_eq!(validate(d.path(), &["m", "--var-file", "vars.yaml"]).code, 0);
    let run = validate(d.path(), &["m", "--var-file", "bad-vars.yaml"]);
    assert_diag(&run, "bad-vars.yaml:1:4: X: expected a string, found a sequence");
    let run = validate(d.path(), &["m", "--var-file", "list-vars.yaml"]);
    assert_diag(
        &run,
        "list-vars.yaml:1:1: a var file must be a mapping of names to strings, found a sequence",
    );
    let run = validate(d.path(), &["m", "--var-file", "missing.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("missing.yaml:1:1: cannot read file:")),
        "{}",
        run.stderr
    );
}

#[test]
fn definition_file_rules() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    write(
        &root,
        "def.asl.json",
        "{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Pass\", \"End\": true}}}",
    );
    write(
        d.path(),
        "outside.asl.json",
        "{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Pass\", \"End\": true}}}",
    );
    write(
        &root,
        "ok.yaml",
        &machine("ok", "  definitionFile: def.asl.json\n"),
    );
    write(
        &root,
        "up.yaml",
        &machine("up", "  definitionFile: ../outside.asl.json\n"),
    );
    write(
        &root,
        "abs.yaml",
        &machine("abs", "  definitionFile: /etc/hostname\n"),
    );
    std::os::unix::fs::symlink(d.path().join("outside.asl.json"), root.join("link.asl.json")).unwrap();
    write(
        &root,
        "link.yaml",
        &machine("link", "  definitionFile: link.asl.json\n"),
    );
    write(
        &root,
        "both.yaml",
        &machine("both", &format!("  definitionFile: def.asl.json\n{INLINE_DEF}")),
    );
    write(&root, "neither.yaml", &machine("neither", ""));
    let run = validate(d.path(), &["root"]);
    let canon = std::fs::canonicalize(&root).unwrap();
    assert_diag(
        &run,
        "root/abs.yaml:7:19: spec.definitionFile: \"/etc/hostname\" is absolute; it must be relative to the manifest",
    );
    assert_diag(
        &run,
        &format!(
            "root/up.yaml:7:19: spec.definitionFile: \"../outside.asl.json\" resolves outside {} (links followed); refused",
            canon.display()
        ),
    );
    assert_diag(
        &run,
        &format!(
            "root/link.yaml:7:19: spec.definitionFile: \"link.asl.json\" resolves outside {} (links followed); refused",
            canon.display()
        ),
    );
    assert_diag(
        &run,
        "root/both.yaml:7:3: spec: exactly one of definition and definitionFile, not both",
    );
    assert_diag(
        &run,
        "root/neither.yaml:6:3: spec: one of definition and definitionFile is required",
    );
    assert_eq!(run.stderr.lines().count(), 6, "ok.yaml is fine: {}", run.stderr);
}

#[test]
fn enums_refs_and_integration_rules() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "m.yaml",
        &machine(
            "m",
            &format!("  type: FAST\n  deletionPolicy: Keep\n{INLINE_DEF}"),
        ),
    );
    write(
        d.path(),
        "i.yaml",
        &format!(
            "{HEAD}kind: ApiIntegration\nmetadata:\n  name: i\nspec:\n  restApi: {{ref: nope}}\n  path: /x\n  httpMethod: FETCH\n  integration:\n    type: HTTP\n    uri: arn:x\n    timeoutInMillis: 30000\n  stateMachineRef: ghost\n"
        ),
    );
    let run = validate(d.path(), &["."]);
    assert_diag(
        &run,
        "./m.yaml:7:9: spec.type: \"FAST\" is not one of STANDARD, EXPRESS",
    );
    assert_diag(
        &run,
        "./m.yaml:8:19: spec.deletionPolicy: \"Keep\" is not one of Retain, Delete",
    );
    assert_diag(
        &run,
        "./i.yaml:6:18: restApi.ref: no RestApi manifest named \"nope\"",
    );
    assert_diag(
        &run,
        "./i.yaml:8:15: spec.httpMethod: \"FETCH\" is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY",
    );
    assert_diag(
        &run,
        "./i.yaml:10:11: spec.integration.type: only AWS (service integrations) is supported",
    );
    assert_diag(
        &run,
        "./i.yaml:12:22: spec.integration.timeoutInMillis: expected an integer from 50 to 29000, found 30000",
    );
    assert_diag(
        &run,
        "./i.yaml:13:20: stateMachineRef: no StateMachine manifest named \"ghost\"",
    );
}

#[test]
fn multi_documents_non_manifests_and_skipped_files() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "multi.yaml",
        &format!(
            "{}---\n{}---\nfoo: bar\n",
            machine("a", INLINE_DEF),
            machine("b", INLINE_DEF)
        ),
    );
    write(d.path(), ".hidden.yaml", "not: [valid");
    write(d.path(), ".dir/x.yaml", "not: [valid");
    write(d.path(), "skip.asl.yaml", "not: [valid");
    write(d.path(), "notes.txt", "not: [valid");
    let run = validate(d.path(), &["."]);
    assert_diag(
        &run,
        "./multi.yaml:23:1: not a manifest: expected apiVersion, kind, metadata and spec, found a mapping of foo",
    );
    assert_eq!(
        run.stderr.lines().count(),
        2,
        "dotfiles, definition files and other files are skipped: {}",
        run.stderr
    );
    write(
        d.path(),
        "multi.yaml",
        &format!("{}---\n{}", machine("a", INLINE_DEF), machine("b", INLINE_DEF)),
    );
    let run = validate(d.path(), &["."]);
    assert_eq!(
        (run.code, run.stdout.trim()),
        (0, "2 manifests valid"),
        "{}",
        run.stderr
    );
}

#[test]
fn syntax_errors_and_missing_paths() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "dup.yaml", "apiVersion: a\napiVersion: b\n");
    let run = validate(d.path(), &["dup.yaml", "nowhere"]);
    assert_diag(
        &run,
        "dup.yaml:2:1: duplicate key \"apiVersion\" (first at line 1, column 1)",
    );
    assert!(
        run.stderr.contains("nowhere:1:1: cannot read path:"),
        "{}",
        run.stderr
    );
}

#[test]
fn alias_bomb_deep_nesting_and_huge_files_are_refused_quickly() {
    let d = tempfile::tempdir().unwrap();
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..40 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    write(d.path(), "bomb.yaml", &bomb);
    write(
        d.path(),
        "deep.yaml",
        &format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
    );
    write(d.path(), "deep2.yaml", &format!("{}x\n", "- ".repeat(5000)));
    let big = std::fs::File::create(d.path().join("big.yaml")).unwrap();
    big.set_len(5 * 1024 * 1024).unwrap();
    let start = Instant::now();
    let run = validate(d.path(), &["."]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert_diag(&run, "./big.yaml:1:1: file too large: more than 4194304 bytes");
    let line = |f: &str| {
        run.stderr
            .lines()
            .find(|l| l.starts_with(f))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("./bomb.yaml").contains("document too large: more than 1000000 nodes"),
        "{}",
        run.stderr
    );
    assert!(
        line("./deep.yaml:").contains("nesting too deep"),
        "{}",
        run.stderr
    );
    assert!(
        line("./deep2.yaml").contains("nesting too deep"),
        "{}",
        run.stderr
    );
}

#[test]
fn exit_codes() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "ok.yaml", &machine("ok", INLINE_DEF));
    assert_eq!(validate(d.path(), &["."]).code, 0);
    write(d.path(), "bad.yaml", "{");
    assert_eq!(validate(d.path(), &["."]).code, 1);
    assert_eq!(validate(d.path(), &["--no-such-flag"]).code, 64);
    assert_eq!(validate(d.path(), &["--var", "novalue"]).code, 64);
}
