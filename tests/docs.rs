//! The documentation is executed: every ```` ```sh ```` block of README.md and docs/*.md runs as
//! written, every manifest example validates, docs/cli.md is the CLI's own `--help`, and no link
//! leaves the repository.
//!
//! The convention for shell blocks (README.md, "Documentation" says it too):
//! - ```` ```sh ```` runs with `bash -e -o pipefail` in a fresh temporary directory holding a copy of
//!   `manifests/`, with the built `sfn-operator` and the peers (`aws`, `moto_server`) first on
//!   `PATH`, `HOME` set to that directory, no `AWS_*` or `SFN_OPERATOR_*` variable inherited, and
//!   `NO_COLOR=1`. It must exit 0. `cargo run --release --` is run as `sfn-operator` (the installed
//!   binary).
//! - A comment line `# => TEXT` (or a command line ending in ` # => TEXT`) states that `TEXT`
//!   appears in the block's output (stdout or stderr). Other comments are prose.
//! - ```` ```sh no-run: REASON ```` is not run (real AWS, or the test suite itself); the runner prints
//!   it as skipped with the reason. A block using `jq` is skipped, with that reason, where `jq` is
//!   not installed.
//! - A block stops what it starts (a background sandbox is killed at its end): a process of the
//!   block's group still running 5 s after the block exits fails it (and is killed). A block that
//!   runs longer than three minutes fails. Blocks run one after another; walkthroughs that start a
//!   server use distinct ports (4566–4569, 4581–4585, 5055, 9465).
//!
//! `SFN_OPERATOR_BLESS_DOCS=1 cargo test --test docs` rewrites docs/cli.md from the binary's help.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every docs/*.md, in name order.
fn doc_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let dir = root().join("docs");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// One fenced code block.
struct Block {
    /// `README.md:76`
    place: String,
    /// What follows the opening fence: `sh`, `sh no-run: reason`, `yaml`, ...
    info: String,
    body: String,
}

fn blocks(file: &Path) -> Vec<Block> {
    let text = read(file);
    let name = file.strip_prefix(root()).unwrap_or(file).display().to_string();
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String, String)> = None; // line, indent, info, body
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((i + 1, indent.to_owned(), info.trim().to_owned(), String::new()));
                }
            }
            Some((start, ind, info, body)) => {
                if trimmed.starts_with("```") {
                    out.push(Block {
                        place: format!("{name}:{start}"),
                        info: std::mem::take(info),
                        body: std::mem::take(body),
                    });
                    open = None;
                } else {
                    body.push_str(line.strip_prefix(ind.as_str()).unwrap_or(trimmed));
                    body.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "{name}: a code block is never closed");
    out
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
}

/// Copies `manifests/` into `dir`.
fn copy_manifests(dir: &Path) {
    let from = root().join("manifests");
    let to = dir.join("manifests");
    std::fs::create_dir_all(&to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(&from).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.is_file()
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, to.join(name)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// Runs one shell block; `Err` says why it failed.
fn run_block(block: &Block) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    copy_manifests(tmp.path());
    let script = block.body.replace("cargo run --release -- ", "sfn-operator ");
    std::fs::write(tmp.path().join(".block.sh"), &script).map_err(|e| e.to_string())?;
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sfn-operator"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let peers = common::peers_bin("aws")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut path = vec![bin_dir, peers];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let stdout = tmp.path().join(".stdout");
    let stderr = tmp.path().join(".stderr");
    let mut cmd = Command::new("bash");
    cmd.args(["-e", "-o", "pipefail", ".block.sh"])
        .current_dir(tmp.path())
        .env("PATH", std::env::join_paths(path).map_err(|e| e.to_string())?)
        .env("HOME", tmp.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).map_err(|e| e.to_string())?)
        .stderr(std::fs::File::create(&stderr).map_err(|e| e.to_string())?);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("AWS_") || key.starts_with("SFN_OPERATOR_") {
            cmd.env_remove(key.as_ref());
        }
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| format!("bash: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() > deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    };
    // A block stops what it starts: give what it killed a moment to exit, then any process left
    // in its group is a leak (and is killed with the group).
    let group_alive = || {
        Command::new("kill")
            .args(["-0", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let settle = Instant::now() + Duration::from_secs(5);
    while status.is_some() && group_alive() && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(50));
    }
    let leaked = status.is_some() && group_alive();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let out = format!("{}{}", read(&stdout), read(&stderr));
    let Some(status) = status else {
        let _ = child.kill();
        return Err(format!("still running after 180 s; output so far:\n{out}"));
    };
    if !status.success() {
        return Err(format!("exited with {status}; output:\n{out}"));
    }
    if leaked {
        return Err(format!(
            "left a process running (a block must stop what it starts); output:\n{out}"
        ));
    }
    for line in block.body.lines() {
        if let Some(expected) = line.trim_start().strip_prefix("# => ")
            && !out.contains(expected.trim_end())
        {
            return Err(format!("expected output {expected:?} missing from:\n{out}"));
        }
        if let Some(pos) = line.find(" # => ") {
            let expected = line[pos + " # => ".len()..].trim_end();
            if !out.contains(expected) {
                return Err(format!("expected output {expected:?} missing from:\n{out}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_shell_block_runs_as_written() {
    let mut ran = 0;
    let mut failures = Vec::new();
    let jq = on_path("jq");
    for file in doc_files() {
        for block in blocks(&file) {
            let mut words = block.info.splitn(2, char::is_whitespace);
            if words.next() != Some("sh") {
                continue;
            }
            let rest = words.next().unwrap_or("").trim();
            if let Some(reason) = rest.strip_prefix("no-run:") {
                eprintln!("skipped {}: {}", block.place, reason.trim());
                continue;
            }
            assert!(
                rest.is_empty(),
                "{}: unknown block attribute {rest:?}",
                block.place
            );
            if !jq && block.body.contains("jq ") {
                eprintln!("skipped {}: it uses jq, which is not installed", block.place);
                continue;
            }
            let started = Instant::now();
            let result = run_block(&block);
            eprintln!(
                "{} {} ({:.1} s)",
                if result.is_ok() { "ran    " } else { "FAILED " },
                block.place,
                started.elapsed().as_secs_f64()
            );
            ran += 1;
            if let Err(why) = result {
                failures.push(format!("{}:\n{}\n{why}", block.place, block.body));
            }
        }
    }
    assert!(ran >= 10, "only {ran} shell blocks ran");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `(kind, metadata.name)` of each document of a manifest text (read by lines: enough for the
/// examples and the reference manifests).
fn identities(text: &str) -> Vec<(String, String)> {
    text.split("\n---")
        .filter_map(|doc| {
            let kind = doc.lines().find_map(|l| l.strip_prefix("kind: "))?;
            let name = doc
                .lines()
                .skip_while(|l| !l.starts_with("metadata:"))
                .find_map(|l| l.strip_prefix("  name: "))?;
            Some((kind.trim().to_owned(), name.trim().to_owned()))
        })
        .collect()
}

/// Every ```` ```yaml ```` block that is a manifest validates, next to the reference manifests (so
/// its references resolve) less the reference documents it stands in for (same kind and name) and
/// the repository's own WorkflowTests.
#[test]
fn every_manifest_example_validates() {
    let mut checked = 0;
    for file in doc_files() {
        for block in blocks(&file) {
            if block.info != "yaml" || !block.body.contains("apiVersion: sfn-operator.dev/") {
                continue;
            }
            let replaced = identities(&block.body);
            let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let dir = tmp.path().join("manifests");
            std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
            for entry in std::fs::read_dir(root().join("manifests")).unwrap_or_else(|e| panic!("{e}")) {
                let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name.ends_with(".test.yaml") {
                    continue;
                }
                let text = read(&path);
                if name.contains(".asl.") || !name.ends_with(".yaml") {
                    std::fs::write(dir.join(&name), text).unwrap_or_else(|e| panic!("{e}"));
                    continue;
                }
                // One file per document, without those the example stands in for.
                for (i, doc) in text.split("\n---").enumerate() {
                    if identities(doc).iter().any(|id| replaced.contains(id)) {
                        continue;
                    }
                    std::fs::write(dir.join(format!("{i}-{name}")), doc).unwrap_or_else(|e| panic!("{e}"));
                }
            }
            std::fs::write(dir.join("example.yaml"), &block.body).unwrap_or_else(|e| panic!("{e}"));
            let out = Command::new(env!("CARGO_BIN_EXE_sfn-operator"))
                .arg("validate")
                .arg(&dir)
                .env("NO_COLOR", "1")
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                out.status.success(),
                "{}: the example does not validate:\n{}\n{}",
                block.place,
                block.body,
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} manifest examples found");
}

/// `sfn-operator [SUB...] --help`, as a user sees it piped.
fn help(args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sfn-operator"));
    cmd.args(args).arg("--help").env("NO_COLOR", "1");
    // clap shows an option's environment variable's value: the reference shows none.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SFN_OPERATOR_") {
            cmd.env_remove(&key);
        }
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{args:?} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subcommands a help text lists (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

fn render_cli(out: &mut String, args: &mut Vec<String>) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = help(&refs);
    let title = if args.is_empty() {
        "sfn-operator".to_owned()
    } else {
        format!("sfn-operator {}", args.join(" "))
    };
    out.push_str(&format!("\n## `{title}`\n\n```text\n{}\n```\n", text.trim_end()));
    for sub in subcommands(&text) {
        args.push(sub);
        render_cli(out, args);
        args.pop();
    }
}

#[test]
fn the_cli_reference_is_the_binarys_own_help() {
    let mut text = String::from(
        "# CLI reference\n\n\
         Generated from the binary's `--help` (clap) by `tests/docs.rs`: do not edit by hand. After a\n\
         change to the command line, `SFN_OPERATOR_BLESS_DOCS=1 cargo test --test docs` rewrites it;\n\
         `cargo test` fails while it differs. Exit codes, the report and the endpoints are in\n\
         [report.md](report.md) and [daemon.md](daemon.md).\n",
    );
    render_cli(&mut text, &mut Vec::new());
    let path = root().join("docs/cli.md");
    if std::env::var_os("SFN_OPERATOR_BLESS_DOCS").is_some() {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "docs/cli.md differs from the CLI's help; run `SFN_OPERATOR_BLESS_DOCS=1 cargo test --test docs` and commit it"
    );
}

/// No reference outside the repository: no `../shared`, and every relative link resolves.
#[test]
fn links_stay_inside_the_repository() {
    let mut problems = Vec::new();
    for file in doc_files() {
        let text = read(&file);
        let name = file.strip_prefix(root()).unwrap_or(&file).display().to_string();
        let dir = file.parent().unwrap_or(&file).to_path_buf();
        let mut in_code = false;
        for (n, line) in text.lines().enumerate() {
            if line.contains("../shared") || line.contains("/work/") {
                problems.push(format!("{name}:{}: points outside the repository: {line}", n + 1));
            }
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            }
            if in_code {
                continue;
            }
            // Links in prose only: inline code spans are left out.
            let prose: String = line
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, part)| part)
                .collect::<Vec<_>>()
                .join(" ");
            let mut rest = prose.as_str();
            while let Some(pos) = rest.find("](") {
                let after = &rest[pos + 2..];
                let Some(end) = after.find(')') else { break };
                let target = &after[..end];
                rest = &after[end..];
                if target.starts_with("http://") || target.starts_with("https://") || target.starts_with('#')
                {
                    continue;
                }
                let file_part = target.split('#').next().unwrap_or(target);
                let resolved = dir.join(file_part);
                let inside = resolved
                    .canonicalize()
                    .ok()
                    .zip(root().canonicalize().ok())
                    .is_some_and(|(r, repo)| r.starts_with(repo));
                if !inside {
                    problems.push(format!(
                        "{name}:{}: link {target:?} does not resolve inside the repository",
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
