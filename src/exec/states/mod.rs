//! The state types, one file each: what a state does besides moving data (history events,
//! calls, waits, iteration). Every handler is an `impl Interpreter` block; its data flow goes
//! through the state's [`super::cx::DataFlow`], so no handler asks which query language
//! it runs in.

mod choice;
mod end;
mod map;
mod parallel;
mod pass;
mod task;
mod wait;
