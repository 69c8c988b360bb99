//! Model files: a [`TreeModel`] read from and written to disk as its JSON. Kept out of
//! `router/`, which does no I/O.

use std::path::Path;

use crate::error::{Error, Result};
use crate::router::TreeModel;

impl TreeModel {
    /// Reads a model file; the label is the file's stem.
    ///
    /// # Errors
    /// [`Error::Io`] when unreadable, otherwise as [`TreeModel::from_json`].
    pub fn load(path: &Path) -> Result<Self> {
        let json = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let label = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("file")
            .to_owned();
        Self::from_json(&json, label)
    }

    /// Writes the model's JSON to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    }
}
