//! One module per subcommand; each owns its `run` and returns the process exit code.

pub mod completions;
pub mod diff;
pub mod graph;
pub mod import;
pub mod reconcile;
pub mod rollout;
pub mod sandbox;
pub mod test;
pub mod validate;

use crate::cli::{Cli, Command};

/// Runs a parsed command line; `Ok` carries the exit code, `Err` is an unexpected failure (exit 1).
pub fn run(cli: Cli) -> crate::Result<u8> {
    match cli.command {
        Command::Validate(opts) => validate::run(&opts),
        Command::Diff(opts) => runtime()?.block_on(diff::run(opts)),
        Command::Reconcile(opts) => runtime()?.block_on(reconcile::run(opts)),
        Command::Test(opts) => test::run(&opts),
        Command::Sandbox(opts) => runtime()?.block_on(sandbox::run(opts)),
        Command::Completions(opts) => completions::run(&opts),
        Command::Import(opts) => runtime()?.block_on(import::run(opts)),
        Command::Graph(opts) => graph::run(&opts),
        Command::Rollout(opts) => runtime()?.block_on(rollout::run(opts)),
    }
}

/// The tokio runtime the async commands run on.
pub fn runtime() -> crate::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The AWS SDK's request futures are large; a debug build's pass nests several of them.
        // 8 MiB per worker (tokio's default is 2 MiB) keeps a wide margin over what they need.
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .map_err(|source| crate::Error::Io {
            context: "starting the async runtime".into(),
            source,
        })
}
