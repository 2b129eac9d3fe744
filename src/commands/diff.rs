//! `sfn-operator diff`: what a reconcile would change (with `--prune`, what `reconcile --prune`
//! would change, deletes included). Never writes. Exit 0 in sync, 2 pending, 1 on any error.

use crate::apply::Mode;
use crate::cli::DiffOpts;
use crate::report::Status;

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
    crate::setup::print_report(&report, opts.output)?;
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
