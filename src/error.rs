//! The crate's one error type.
//!
//! Bad input is always an [`Error::InvalidInput`] naming the field and the rule it broke; it is
//! returned before anything is written, so a rejected call leaves the store as it was.

use std::path::PathBuf;

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
        /// What was looked for, e.g. `working memory item`.
        entity: &'static str,
        /// The id that was asked for.
        id: i64,
        /// The project the lookup was scoped to.
        project_id: i64,
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
        /// The URL as given (credentials are not stripped; do not log it carelessly).
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
    /// Shorthand for [`Error::InvalidInput`].
    pub(crate) fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
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

/// Checks that `text` is non-empty (after trimming) and at most `max_chars` characters.
pub(crate) fn check_text(field: &'static str, text: &str, max_chars: usize) -> Result<()> {
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
