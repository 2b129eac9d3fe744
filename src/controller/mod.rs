//! The daemon of SPEC §6: a loop around the same pass as `reconcile --once`. It decides *when*
//! and *what* to reconcile (file events, resync, retries); the engine decides *how*.

pub mod daemon;
pub mod http;
pub mod lock;
pub mod queue;
pub mod status;
pub mod watcher;
