//! The crate's one error type.
//!
//! Bad input is always an [`Error::InvalidInput`] naming the field and the rule it broke; it is
//! returned before anything is written, so a rejected call leaves the store as it was.

use crate::ids::ProjectId;
use std::path::PathBuf;

/// What an [`Error::NotFound`] looked for. Displayed in words (`working memory item`,
/// `semantic memory`, ...); serialised in snake case, a memory with its layer
/// (`{"memory": "semantic"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Entity {
    /// A project.
    Project,
    /// An item of working memory.
    Item,
    /// A long-term memory of the layer.
    Memory(crate::layer::Layer),
    /// A goal of the central executive.
    Goal,
    /// A logged route.
    Route,
    /// A stored version of a router model.
    ModelVersion,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::layer::Layer;
        f.write_str(match self {
            Entity::Project => "project",
            Entity::Item => "working memory item",
            Entity::Memory(Layer::Semantic) => "semantic memory",
            Entity::Memory(Layer::Episodic) => "episodic event",
            Entity::Memory(Layer::Procedural) => "procedure",
            Entity::Memory(Layer::Prospective) => "prospective task",
            Entity::Goal => "goal",
            Entity::Route => "route",
            Entity::ModelVersion => "model version",
        })
    }
}

/// Everything that can go wrong in athena-memory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller-supplied value broke a rule. `field` names the parameter, `rule` says what was
    /// expected and what was given.
    #[error("invalid {field}: {rule}")]
    InvalidInput {
        /// The parameter or field at fault, e.g. `importance`.
        field: &'static str,
        /// The rule and the offending value, e.g. `must be within 0..=1, got 1.5`.
        rule: String,
    },

    /// No row of this kind with this id exists in the given project. Ids of other projects are
    /// reported the same way: tenancy is never leaked.
    #[error("{entity} {id} not found in project {project_id}")]
    NotFound {
        /// What was looked for.
        entity: Entity,
        /// The id that was asked for.
        id: i64,
        /// The project the lookup was scoped to.
        project_id: ProjectId,
    },

    /// No registered project owns this path (see `Projects::require`).
    #[error("no project owns the path {path}")]
    ProjectNotFound {
        /// The normalised path that was looked up.
        path: String,
    },

    /// A working-memory component is full and strict capacity mode is on.
    #[error("{component} is full ({capacity} items) and strict capacity mode rejects the add")]
    CapacityExceeded {
        /// The component's name.
        component: &'static str,
        /// Its capacity.
        capacity: usize,
    },

    /// The database URL names a backend this crate does not support.
    #[error("unsupported database URL {url:?}: expected sqlite://PATH, sqlite::memory: or postgres://...")]
    UnsupportedUrl {
        /// The URL as given, its password redacted (passwords never reach logs or messages).
        url: String,
    },

    /// The database was closed with `close()` and cannot be used any more.
    #[error("the database has been closed")]
    Closed,

    /// A router model could not be used: corrupt JSON, unknown schema, invalid structure.
    #[error("invalid router model: {reason}")]
    InvalidModel {
        /// What was wrong with it.
        reason: String,
    },

    /// Training declined, e.g. too few labelled routes.
    #[error("training declined: {reason}")]
    TrainingDeclined {
        /// Why, in words a user can act on.
        reason: String,
    },

    /// A corpus or model file could not be parsed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the file as a whole is at fault).
        line: usize,
        /// What was wrong.
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),

    /// Running the schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    /// The sync facade's runtime thread is gone (it panicked or was shut down).
    #[error("the blocking engine's runtime thread has stopped")]
    RuntimeGone,
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolClosed => Error::Closed,
            other => Error::Database(other),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::InvalidInput`] naming `field` and the `rule` it broke, for callers that
    /// validate their own input the way the library does.
    pub fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            rule: rule.into(),
        }
    }
}

/// Checks that `value` is a finite number within `0..=1`.
pub(crate) fn check_unit(field: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be a number within 0..=1, got {value}"),
        ))
    }
}

/// Checks that `text` holds no NUL character. PostgreSQL cannot store one in `text` or `jsonb`
/// while SQLite can, so every string that reaches the database is checked here first, and both
/// backends answer the same.
pub(crate) fn check_no_nul(field: &'static str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid(field, "must not contain a NUL character"));
    }
    Ok(())
}

/// Deepest nesting accepted in metadata: far below serde_json's 128-level read limit, so every
/// row written can be read back.
pub const MAX_METADATA_DEPTH: usize = 32;
/// Largest metadata accepted, serialised, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Checks that `value` is a JSON object with at most [`MAX_METADATA_DEPTH`] levels of nested
/// objects and arrays (the outermost object is level 1),
/// at most [`MAX_METADATA_BYTES`] long, with no NUL character in any key or string.
pub(crate) fn check_metadata(field: &'static str, value: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    if !value.is_object() {
        return Err(Error::invalid(field, "must be a JSON object"));
    }
    // Iterative, so a hostile depth cannot overflow the stack while it is being measured.
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_METADATA_DEPTH && (v.is_array() || v.is_object()) {
            return Err(Error::invalid(
                field,
                format!("must be nested at most {MAX_METADATA_DEPTH} levels deep"),
            ));
        }
        match v {
            Value::String(s) => check_no_nul(field, s)?,
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => {
                for (k, item) in map {
                    check_no_nul(field, k)?;
                    stack.push((item, depth + 1));
                }
            }
            _ => {}
        }
    }
    let bytes = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
    if bytes > MAX_METADATA_BYTES {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_METADATA_BYTES} bytes as JSON, got {bytes}"),
        ));
    }
    Ok(())
}

/// Checks that an embedding holds `1..=max_dims` finite numbers.
pub(crate) fn check_embedding(field: &'static str, e: &[f32], max_dims: usize) -> Result<()> {
    let non_finite = e.iter().any(|x| !x.is_finite());
    if e.is_empty() || e.len() > max_dims || non_finite {
        let what = if non_finite {
            " with a NaN or infinity"
        } else {
            ""
        };
        return Err(Error::invalid(
            field,
            format!(
                "must hold 1..={max_dims} finite numbers, got {} values{what}",
                e.len()
            ),
        ));
    }
    Ok(())
}

/// Slowest decay accepted, per second (a half-life of about 22 years).
pub const MIN_DECAY_RATE: f64 = 1e-9;
/// Fastest decay accepted, per second (a half-life of under a millisecond).
pub const MAX_DECAY_RATE: f64 = 1e3;

/// Checks that a decay rate lies within [`MIN_DECAY_RATE`]`..=`[`MAX_DECAY_RATE`], where the
/// decay computation in SQL cannot overflow or underflow on either backend.
pub(crate) fn check_decay_rate(field: &'static str, rate: f64) -> Result<f64> {
    if rate.is_finite() && (MIN_DECAY_RATE..=MAX_DECAY_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(Error::invalid(
            field,
            format!("must be a number within {MIN_DECAY_RATE:e}..={MAX_DECAY_RATE:e} per second, got {rate}"),
        ))
    }
}

/// Checks that `text` is non-empty (after trimming), at most `max_chars` characters and free of
/// NUL characters.
pub(crate) fn check_text(field: &'static str, text: &str, max_chars: usize) -> Result<()> {
    check_no_nul(field, text)?;
    if text.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters, got {chars}"),
        ));
    }
    Ok(())
}
