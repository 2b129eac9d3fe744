//! Amazon States Language validation: pure functions over a definition as data, no I/O.
