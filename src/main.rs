//! The `sfn-operator` binary: parse the command line, set up logging, dispatch, and map outcomes
//! to the exit codes of SPEC §3.

use std::process::ExitCode;

use clap::Parser;
use sfn_operator::cli::{Cli, GlobalOpts, LogFormat};
use sfn_operator::exit;

/// mimalloc: the sandbox's executions and the loader allocate many small, short-lived values
/// from several threads, where glibc's malloc spent half the time (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let usage = err.use_stderr();
            let _ = err.print();
            return ExitCode::from(if usage { exit::USAGE } else { exit::OK });
        }
    };
    init_tracing(&cli.global);
    match sfn_operator::commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// Logs on stderr: `-q` errors only (the SDK's too); colour only on a terminal and never with
/// `NO_COLOR` set (<https://no-color.org>).
fn init_tracing(global: &GlobalOpts) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let directives = log_directives(global.quiet, global.verbose);
    let filter = EnvFilter::try_from_env("SFN_OPERATOR_LOG").unwrap_or_else(|_| EnvFilter::new(directives));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// The default log filter. Other crates log warnings only; the credential chain of `aws_config`
/// errors only, since its warnings repeat (with Debug dumps) what our own "no credentials" error
/// says in one line.
fn log_directives(quiet: bool, verbose: u8) -> String {
    match (quiet, verbose) {
        (true, _) => "error".into(),
        (false, 0) => "sfn_operator=info,aws_config=error,warn".into(),
        (false, 1) => "sfn_operator=debug,warn".into(),
        (false, _) => "sfn_operator=trace,warn".into(),
    }
}
