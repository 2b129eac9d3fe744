//! The Amazon States Language, pure (no I/O), shared by the validator, the sandbox's interpreter
//! and `test`:
//! - [`model`]: the vocabulary of a definition (query languages, state types, which fields each
//!   state takes) and a walk over every state of every scope, each at its [`Path`];
//! - [`jsonpath`]: JSONPath, one lexer: checked by the validator, selected with by the interpreter;
//! - [`intrinsic`]: `States.*` intrinsic function calls: one parser, checked by the validator and
//!   evaluated by the interpreter;
//! - [`jsonata`]: JSONata parsing and evaluation (the reference implementation);
//! - `validate`: the rules Step Functions enforces at `CreateStateMachine`, one file per family,
//!   each finding with AWS's diagnostic code.
//!
//! Locations: every finding carries the [`Path`] of the offending node from the definition's root
//! (`States.Parallel.Branches[1].States.MaxMinValues.Next`); the manifest loader turns it into
//! `FILE:LINE:COLUMN` with the located YAML/JSON tree it parsed.

pub mod intrinsic;
pub mod jsonata;
pub mod jsonpath;
pub mod model;
mod validate;

use std::fmt;

pub use model::MachineType;
pub use validate::{Options, validate, validate_with};

use crate::path::Path;

/// One finding about a definition: where, AWS's diagnostic code, how bad, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AslError {
    /// Path from the definition root, e.g. `States.Parallel.Branches[1].States.MaxMinValues.Next`.
    pub path: Path,
    /// The diagnostic code AWS's `ValidateStateMachineDefinition` uses for this kind of problem.
    pub code: Code,
    /// `Error`: AWS refuses the definition; `Warning`: AWS accepts it and warns.
    pub severity: Severity,
    pub message: String,
}

impl AslError {
    /// Whether AWS refuses a definition with this finding.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `CODE: message`, as AWS words its diagnostics.
impl fmt::Display for AslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A finding's place as AWS writes it: `/States/<state>/<field>`.
pub fn aws_location(path: &Path) -> String {
    path.0
        .iter()
        .map(|seg| match seg {
            crate::path::Segment::Key(k) => format!("/{k}"),
            crate::path::Segment::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// AWS's refusal of a definition with these findings (`Invalid State Machine Definition:
/// 'CODE: message at /path, ...'`), or `None` when only warnings (or nothing) were found.
pub fn refusal(problems: &[AslError]) -> Option<String> {
    let text: Vec<String> = problems
        .iter()
        .filter(|e| e.is_error())
        .map(|e| {
            if e.path.0.is_empty() {
                e.to_string()
            } else {
                format!("{e} at {}", aws_location(&e.path))
            }
        })
        .collect();
    (!text.is_empty()).then(|| format!("Invalid State Machine Definition: '{}'", text.join(", ")))
}

/// How bad a finding is, in `ValidateStateMachineDefinition`'s terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// AWS's diagnostic codes (`ValidateStateMachineDefinitionDiagnostic`), the ones this validator
/// reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The definition's shape: unknown or missing fields, wrong types, values out of range.
    SchemaValidationFailed,
    /// A Task's `Resource` is not a resource Step Functions can call.
    InvalidResource,
    /// No terminal state is reachable.
    MissingEndState,
    /// The same state name appears twice in the machine (any scope).
    DuplicateStateName,
    /// A state name breaks the naming rules (length).
    InvalidStateName,
    /// A `Next`, `Default` or `StartAt` names no state of its scope.
    MissingTransitionTarget,
    /// States nested too deeply.
    TooDeeplyNested,
    /// A Map `Label` is invalid.
    InvalidLabelName,
    /// Two Map states have the same `Label`.
    DuplicateLabelName,
    /// A JSONPath (or reference path) that does not parse.
    InvalidJsonPath,
    /// A JSONata expression that does not parse, or uses what Step Functions forbids.
    InvalidJsonata,
    /// Warning: a field without `.$` whose value looks like a JSONPath or intrinsic function.
    NoDollar,
    /// Warning: a Pass state's `Result` holds what looks like a path; it stays a literal.
    PassResultIsStatic,
}

impl Code {
    /// AWS's spelling, e.g. `SCHEMA_VALIDATION_FAILED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::SchemaValidationFailed => "SCHEMA_VALIDATION_FAILED",
            Code::InvalidResource => "INVALID_RESOURCE",
            Code::MissingEndState => "MISSING_END_STATE",
            Code::DuplicateStateName => "DUPLICATE_STATE_NAME",
            Code::InvalidStateName => "INVALID_STATE_NAME",
            Code::MissingTransitionTarget => "MISSING_TRANSITION_TARGET",
            Code::TooDeeplyNested => "TOO_DEEPLY_NESTED",
            Code::InvalidLabelName => "INVALID_LABEL_NAME",
            Code::DuplicateLabelName => "DUPLICATE_LABEL_NAME",
            Code::InvalidJsonPath => "INVALID_JSON_PATH",
            Code::InvalidJsonata => "INVALID_JSONATA",
            Code::NoDollar => "NO_DOLLAR",
            Code::PassResultIsStatic => "PASS_RESULT_IS_STATIC",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
