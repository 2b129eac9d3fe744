//! Colour for what people read on a terminal: plan lines (`+` green, `~` yellow, `-` red, a
//! failure red) and `sfn-operator test` verdicts. On only when stdout is a terminal and `NO_COLOR`
//! is unset or empty (<https://no-color.org>); never in JSON, piped output or files. This module
//! only wraps text in ANSI escapes; what is coloured is decided by the reports.

use std::io::IsTerminal as _;

/// A colour for [`paint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

/// Whether text written to stdout should be coloured.
pub fn stdout_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in `colour` when `on`, else unchanged.
pub fn paint(text: &str, colour: Colour, on: bool) -> String {
    if !on {
        return text.to_owned();
    }
    let code = match colour {
        Colour::Green => "32",
        Colour::Yellow => "33",
        Colour::Red => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_only_when_on() {
        assert_eq!(paint("+ x", Colour::Green, true), "\x1b[32m+ x\x1b[0m");
        assert_eq!(paint("~ x", Colour::Yellow, true), "\x1b[33m~ x\x1b[0m");
        assert_eq!(paint("- x", Colour::Red, true), "\x1b[31m- x\x1b[0m");
        assert_eq!(paint("- x", Colour::Red, false), "- x");
    }
}
