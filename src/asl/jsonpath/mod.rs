//! JSONPath as Step Functions reads it (Jayway semantics), in `*Path` fields, `.$` keys and
//! intrinsic arguments: ONE lexer (`parse.rs`) splits a path into its root and steps; the validator
//! checks those steps ([`check_path`]) and the interpreter turns them into a [`Path`] it selects
//! with ([`Path::parse`], [`Path::select`]).
//!
//! A *definite* path (only names and single indexes) selects one value; an indefinite one (`[*]`,
//! `..`, slices, unions, filters) selects a list. Pure: the caller picks the root (`$` the input,
//! `$$` the context object, `$name` a variable) and turns a miss into its own error.
//!
//! Must not: know about states, payload templates or the interpreter's errors (`exec` does), or
//! parse intrinsic functions (`super::intrinsic` does, and calls [`check_path`] for its paths).

mod check;
mod eval;
mod parse;

use serde_json::Value;

pub use check::check_path;

/// How strict a path check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A Path: wildcards, filters, slices, unions and `..` are allowed.
    Path,
    /// A Reference Path: only `.name`, `['name']` and `[n]` steps, one node.
    Reference,
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state's input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable.
    Variable(String),
}

/// A parsed JSONPath, ready to select.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub root: Root,
    steps: Vec<Step>,
}

/// What a path selected.
#[derive(Debug, Clone, PartialEq)]
pub enum Selected {
    /// A definite path's value, or `None` when it is missing.
    One(Option<Value>),
    /// An indefinite path's matches.
    Many(Vec<Value>),
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathKey {
    Field(String),
    Index(i64),
}

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Union(Vec<Step>),
    /// `..step`: the step applied at every depth.
    Descend(Box<Step>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Exists(Vec<Step>),
    Compare(Vec<Step>, Op, Value),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Path {
    /// Whether the path selects at most one value.
    pub fn is_definite(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s, Step::Field(_) | Step::Index(_)))
    }

    /// Field names and indexes of a definite path (for writing at a `ResultPath`).
    pub fn definite_steps(&self) -> Option<Vec<PathKey>> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Field(f) => Some(PathKey::Field(f.clone())),
                Step::Index(n) => Some(PathKey::Index(*n)),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One lexer: whatever the evaluator can select with, the validator accepts as a Path; what
    /// the validator refuses, the evaluator refuses too.
    #[test]
    fn the_validator_accepts_every_path_the_evaluator_parses() {
        let paths = [
            "$",
            "$$",
            "$var",
            "$.a",
            "$.a.b[0]",
            "$['a b']",
            "$.a[*].b",
            "$..x",
            "$..[0]",
            "$.[0]",
            "$.a[1:2]",
            "$.a[::2]",
            "$.a[-1]",
            "$.a[0,1]",
            "$['a','b']",
            "$.a[?(@.b > 1)]",
            "$.a[?(@.b == 'x' && @.c)]",
            "$.a[?(@.b)]",
            "$.*",
            "$$.Execution.Id",
            "$.a[(@.length-1)]",
            "a",
            "$.",
            "$.a[",
            "$.a[]",
            "$ .a",
            "$..",
            "$.a]",
            "$['a]",
            "$[?(@.a == 1]",
        ];
        for p in paths {
            let evaluator = Path::parse(p);
            let validator = check_path(p, PathKind::Path);
            if evaluator.is_ok() {
                assert_eq!(validator, Ok(()), "{p}");
            }
            if validator.is_err() {
                assert!(evaluator.is_err(), "{p}");
            }
        }
        assert!(
            Path::parse("$.a[(@.length-1)]").is_err(),
            "script steps are not evaluated"
        );
        assert_eq!(check_path("$.a[(@.length-1)]", PathKind::Path), Ok(()));
    }
}
