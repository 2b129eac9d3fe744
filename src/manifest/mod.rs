//! Manifest loading: walk the paths, parse YAML with locations, check the schema, substitute
//! placeholders, resolve `definitionFile`, validate every definition, and build the desired set.
//! Every problem becomes a [`Diagnostic`] naming `FILE:LINE:COLUMN`; nothing here talks to AWS.
//!
//! `load.rs` drives: `files.rs` finds and reads the files (bounded), `yaml.rs` parses them with
//! positions, `kinds/` reads each document (one file per kind) with `fields.rs`' readers and
//! `subst.rs`' placeholders; then `load.rs` checks across documents (duplicates, references).
//! Imports go one way: `load` → `kinds` → `{fields, files, subst, yaml}`.

mod fields;
mod files;
mod kinds;
mod load;
mod subst;
pub mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::desired::{DesiredSet, ResourceKey};

pub use kinds::api_integration::default_template;
pub use kinds::workflow_test;
pub use load::load;
pub use workflow_test::{Expect, Mock, StateCase, StateMock, TestCase, TestedMachine, WorkflowTest};

/// One problem found in the manifests, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// What `load` needs to know.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Files and directories (walked recursively).
    pub paths: Vec<PathBuf>,
    /// `--var` values (these win over `--var-file` values).
    pub vars: BTreeMap<String, String>,
    /// `--var-file` files, in order.
    pub var_files: Vec<PathBuf>,
    /// `${AWS::Region}`; `None` (offline validate) accepts the placeholder as resolvable.
    pub region: Option<String>,
    /// `${AWS::AccountId}`; `None` (offline validate) accepts the placeholder as resolvable.
    pub account_id: Option<String>,
}

/// The outcome of loading: the valid resources, and every problem found.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Resources whose documents are valid.
    pub desired: DesiredSet,
    /// Keys of documents that were identified (kind and name readable) but are invalid. The daemon
    /// keeps their last valid desired state and reports them `Invalid`.
    pub invalid: Vec<ResourceKey>,
    /// Every problem, in file order. Empty means all manifests are valid.
    pub diagnostics: Vec<Diagnostic>,
    /// Findings that do not make a manifest invalid: what AWS's `ValidateStateMachineDefinition`
    /// reports as `WARNING` (messages start with `warning: `).
    pub warnings: Vec<Diagnostic>,
    /// The `PATH`s (as given) that hold no manifest document at all: an emptied directory, a
    /// ConfigMap or git-sync checkout that came up empty. Pruning holds back then (SPEC §5).
    pub empty_paths: Vec<PathBuf>,
    /// The valid `WorkflowTest`s, each with its machine's definition (never part of `desired`).
    pub tests: Vec<WorkflowTest>,
}
