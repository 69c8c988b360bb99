//! Where the tool's database and project come from.

use std::path::{Path, PathBuf};

use athena_memory::{Engine, Error, Project, Result};

/// The database URL: the one given, else a SQLite file in the user's data directory (created
/// with its directory on first use).
///
/// The data directory is `$XDG_DATA_HOME/athena-memory`, else `$HOME/.local/share/athena-memory`
/// (the XDG default, also used on macOS for predictability), else `%APPDATA%\athena-memory`.
pub fn database_url(given: Option<&str>) -> Result<String> {
    if let Some(url) = given {
        return Ok(url.to_owned());
    }
    let dir = data_dir().ok_or_else(|| {
        Error::invalid(
            "database_url",
            "none given, and neither XDG_DATA_HOME, HOME nor APPDATA is set to find a default",
        )
    })?;
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(format!("sqlite://{}", dir.join("athena.db").display()))
}

/// `athena-memory` under the user's data directory.
fn data_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let base = non_empty("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| Path::new(&h).join(".local/share")))
        .or_else(|| non_empty("APPDATA").map(PathBuf::from))?;
    Some(base.join("athena-memory"))
}

/// The project for `given` (or the current directory): its longest registered ancestor, or the
/// directory itself, registered now, when no ancestor is.
pub async fn project(engine: &Engine, given: Option<&Path>) -> Result<Project> {
    let dir = match given {
        Some(path) => path.to_path_buf(),
        None => std::env::current_dir().map_err(|source| Error::Io {
            path: PathBuf::from("."),
            source,
        })?,
    };
    let absolute = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir()
            .map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?
            .join(dir)
    };
    let path = absolute.to_string_lossy();
    match engine.projects().find_by_path(&path).await? {
        Some(project) => Ok(project),
        None => engine.projects().get_or_create(&path, None).await,
    }
}
