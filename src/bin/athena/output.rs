//! What a command prints, its exit code, and progress on a terminal.

use std::io::{IsTerminal, Write};

use athena_memory::Error;
use serde_json::Value;

/// A command's result: one JSON document for `--json`, a readable report otherwise.
pub struct Report {
    /// The JSON document (stable keys).
    pub json: Value,
    /// The readable report.
    pub text: String,
    /// Whether the command succeeded (`doctor` reports an unhealthy store as a failure).
    pub ok: bool,
}

impl Report {
    /// A successful report.
    pub fn ok(json: Value, text: impl Into<String>) -> Self {
        Report {
            json,
            text: text.into(),
            ok: true,
        }
    }

    /// Prints it on stdout.
    pub fn print(&self, json: bool) {
        let mut out = std::io::stdout().lock();
        let written = if json {
            writeln!(out, "{}", self.json)
        } else {
            writeln!(out, "{}", self.text.trim_end())
        };
        // A closed pipe (`athena list | head`) is not an error worth reporting.
        let _ = written;
    }
}

/// The exit code for an error: 2 for bad input, 3 for an unknown id, 1 otherwise.
pub fn exit_code(err: &Error) -> u8 {
    match err {
        Error::InvalidInput { .. } | Error::Parse { .. } | Error::UnsupportedUrl { .. } => 2,
        Error::NotFound { .. } | Error::ProjectNotFound { .. } => 3,
        _ => 1,
    }
}

/// Progress of long work, on stderr when it is a terminal and silent otherwise (piped, in
/// tests, under an MCP client).
pub struct Progress {
    label: &'static str,
    shown: bool,
}

impl Progress {
    /// Progress of `label`.
    pub fn new(label: &'static str) -> Self {
        Progress {
            label,
            shown: std::io::stderr().is_terminal(),
        }
    }

    /// `done` of `total` steps are done.
    pub fn update(&self, done: usize, total: usize) {
        if self.shown {
            eprint!("\r{}: {done}/{total}", self.label);
            let _ = std::io::stderr().flush();
        }
    }

    /// Ends the progress line.
    pub fn finish(&self) {
        if self.shown {
            eprintln!();
        }
    }
}

/// `x` to two decimals.
pub fn fixed2(x: f64) -> String {
    format!("{x:.2}")
}

/// `value` as JSON. The tool's types serialise to JSON without fail (string keys, finite
/// numbers or null).
pub fn to_json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("the tool's reports serialise to JSON")
}
