//! Amazon States Language validation: pure functions over a definition as data, no I/O.

use crate::path::Path;

/// One ASL problem: where in the definition, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AslError {
    /// Path from the definition root, e.g. `States.Parallel.Branches[1].States.MaxMinValues.Next`.
    pub path: Path,
    pub message: String,
}

/// Validates a whole definition and returns every problem found (empty: valid).
pub fn validate(definition: &serde_json::Value) -> Vec<AslError> {
    let _ = definition;
    Vec::new()
}
