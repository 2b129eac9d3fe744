//! One module per subcommand; each owns its `run` and returns the process exit code.

pub mod validate;

use crate::cli::{Cli, Command};

/// Runs a parsed command line; `Ok` carries the exit code, `Err` is an unexpected failure (exit 1).
pub fn run(cli: Cli) -> crate::Result<u8> {
    match cli.command {
        Command::Validate(opts) => validate::run(&opts),
        Command::Diff(_) | Command::Reconcile(_) | Command::Sandbox(_) => {
            Err(crate::Error::Usage("not implemented yet".into()))
        }
    }
}
