//! The library's integration tests, one module per subject, in one test binary: each binary
//! links the whole stack, so one binary instead of thirteen saves most of a rebuild's linking.
//! The `athena` binary's tests (`tests/cli.rs`, `tests/mcp.rs`) stand apart: they need the
//! `cli` feature.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod blocking;
mod concurrency;
mod consolidation;
mod default_model;
mod hostile_input;
mod isolation;
mod properties;
mod recall;
mod redaction;
mod routing;
mod storage;
mod working_memory;
