//! `sfn-operator diff`: what a reconcile would change (with `--prune`, what `reconcile --prune`
//! would change, deletes included). Never writes. Exit 0 in sync, 2 pending, 1 on any error.

use std::collections::BTreeMap;
use std::io::Write as _;

use crate::apply::Mode;
use crate::cli::{DiffFormat, DiffOpts, OutputFormat};
use crate::desired::Resource;
use crate::report::{Report, Status};

/// Runs `diff`.
pub async fn run(opts: DiffOpts) -> crate::Result<u8> {
    let report = super::reconcile::pass(
        &opts.manifests,
        &opts.aws,
        &opts.owner,
        &opts.pass,
        Mode::Diff,
        opts.prune,
    )
    .await?;
    match opts.output {
        DiffFormat::Text => crate::setup::print_report(&report, OutputFormat::Text)?,
        DiffFormat::Json => crate::setup::print_report(&report, OutputFormat::Json)?,
        DiffFormat::Markdown => print_markdown(&report, &opts)?,
    }
    // A prune held back is an error here too: `reconcile --prune` would exit 1.
    if report.prune_held_back.is_some()
        || report
            .resources
            .iter()
            .any(|r| matches!(r.status, Status::Failed | Status::Invalid | Status::Skipped))
    {
        Ok(crate::exit::FAILURE)
    } else if report.resources.iter().any(|r| r.status == Status::Pending) {
        Ok(crate::exit::CHANGES_PENDING)
    } else {
        Ok(crate::exit::OK)
    }
}

/// Prints the pull-request comment, its graphs drawn from the manifests' definitions (loaded
/// again offline: the pass already refused invalid ones).
fn print_markdown(report: &Report, opts: &DiffOpts) -> crate::Result<()> {
    let loaded = crate::manifest::load(&crate::setup::load_options(&opts.manifests, None, None));
    let definitions: BTreeMap<String, serde_json::Value> = loaded
        .desired
        .resources
        .into_iter()
        .filter_map(|r| match r {
            Resource::StateMachine(sm) => Some((sm.meta.name, sm.definition)),
            _ => None,
        })
        .collect();
    std::io::stdout()
        .write_all(report.to_markdown(&definitions).as_bytes())
        .map_err(|source| crate::Error::Io {
            context: "writing the report".into(),
            source,
        })
}
