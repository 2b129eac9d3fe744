//! `sfn-operator validate`: offline checks of every manifest; no AWS call.

use std::collections::BTreeSet;

use crate::cli::ValidateOpts;
use crate::manifest;

/// Prints every warning and diagnostic to stderr and a one-line summary; exit 0 when all is valid
/// (warnings or not), else 1.
pub fn run(opts: &ValidateOpts) -> crate::Result<u8> {
    let loaded = manifest::load(&crate::setup::load_options(
        &opts.manifests,
        opts.region.clone(),
        opts.account_id.clone(),
    ));
    // Warnings are AWS's WARNING diagnostics: printed, never failing.
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    if loaded.diagnostics.is_empty() {
        let n = loaded.desired.resources.len() + loaded.tests.len();
        println!("{n} manifest{} valid", if n == 1 { "" } else { "s" });
        return Ok(crate::exit::OK);
    }
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    let files: BTreeSet<_> = loaded.diagnostics.iter().map(|d| &d.file).collect();
    let n = loaded.diagnostics.len();
    eprintln!(
        "{n} error{} in {} file{}",
        if n == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    );
    Ok(crate::exit::FAILURE)
}
