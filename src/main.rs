//! The `sfn-operator` binary: parse the command line, set up logging, dispatch, and map outcomes
//! to the exit codes of SPEC §3.

use std::process::ExitCode;

use clap::Parser;
use sfn_operator::cli::{Cli, GlobalOpts, LogFormat};
use sfn_operator::exit;

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
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn init_tracing(global: &GlobalOpts) {
    use tracing_subscriber::EnvFilter;
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_env("SFN_OPERATOR_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("sfn_operator={default},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
