//! Intrinsic functions (`States.Format('{}', $.a)`, ...) of JSONPath states: ONE parser
//! ([`parse()`]) whose tree both the validator checks ([`check()`]) and the interpreter evaluates
//! ([`eval()`]), and the hashes `States.Hash` (and JSONata's `$hash`) compute.
//!
//! Must not: resolve paths or draw random numbers itself (the caller's [`Resolve`] does), or do
//! any I/O.

mod eval;
mod parse;

pub use eval::{Resolve, eval, hash_hex};
pub use parse::parse;

use super::jsonpath::{PathKind, check_path};

/// The intrinsic functions Step Functions knows.
pub const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

/// One call: `States.NAME(arg, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The full name, e.g. `States.Format`.
    pub name: String,
    pub args: Vec<Arg>,
}

/// An argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A `'...'` literal with `\'` resolved; every other escape (`\\`, `\{`, `\}`, ...) is kept
    /// as written, so `States.Format` can still tell an escaped brace from a placeholder. The
    /// evaluator removes the remaining escapes.
    Str(String),
    /// A number literal (integer or decimal, as written).
    Number(serde_json::Number),
    Bool(bool),
    Null,
    /// A JSONPath (`$.a`, `$$.Execution.Id`, `$var.x`), checked for syntax.
    Path(String),
    /// A nested call.
    Call(Call),
}

/// Checks a whole intrinsic function call such as `States.Format('{}', $.a)`.
pub fn check(s: &str) -> Result<(), String> {
    parse(s).map(|_| ())
}

/// Checks the value of a `.$` key: a path or an intrinsic function call.
pub fn check_dynamic(s: &str) -> Result<(), String> {
    if s.starts_with('$') {
        check_path(s, PathKind::Path)
    } else if s.starts_with("States.") {
        check(s)
    } else {
        Err(format!(
            "{s:?} is neither a JSONPath (starting with \"$\") nor an intrinsic function call"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intrinsics() {
        for ok in [
            "States.Format('Hello {} \\'x\\'', $.name)",
            "States.Array(1, -2.5, 'a', $.b, States.UUID())",
            "States.JsonToString($.a[0])",
            "States.MathAdd($.a, 1)",
            "States.Format('{}', States.ArrayGetItem(States.StringSplit($.s, ','), 0))",
        ] {
            assert_eq!(check_dynamic(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_dynamic("States.Nope(1)"),
            Err("invalid intrinsic function \"States.Nope(1)\": unknown function \"States.Nope\"".into())
        );
        assert!(check_dynamic("States.Format('a', $.b").is_err());
        assert!(check_dynamic("States.Format('a)").is_err());
        assert!(check_dynamic("States.UUID() x").is_err());
        assert!(check_dynamic("hello").is_err());
        let deep = format!("{}1{}", "States.Array(".repeat(1000), ")".repeat(1000));
        assert!(check_dynamic(&deep).is_err());
    }
}
