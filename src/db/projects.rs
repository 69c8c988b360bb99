//! The `projects` table: a project is identified by the absolute, normalised path of its
//! directory.

use std::path::{Component, Path};

use crate::db::{fetch_rows, on_pool, Database};
use crate::error::{Entity, Error, Result};
use crate::ids::ProjectId;
use crate::time::{now_ms, Millis};

/// A registered project. Everything an agent remembers belongs to exactly one project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Project {
    /// Database id; every project-scoped call takes it.
    pub id: ProjectId,
    /// Display name (defaults to the last path component).
    pub name: String,
    /// Absolute, normalised directory path: the project's identity.
    pub path: String,
    /// When it was registered (UTC Unix ms).
    pub created_at: Millis,
    /// When `get_or_create` last saw it (UTC Unix ms).
    pub last_accessed_at: Millis,
}

/// Longest accepted path, in bytes.
const MAX_PATH_BYTES: usize = 4096;

/// Normalises a project path lexically: it must be absolute; `.` components and repeated or
/// trailing separators are dropped and `..` removes the previous component. The file system is
/// not consulted (the directory need not exist, and symlinks are not resolved), so the same
/// string always maps to the same project. Non-UTF-8 paths are not accepted.
///
/// # Errors
/// [`Error::InvalidInput`] on the field `path` for empty, relative or over-long paths.
pub fn normalize_path(path: &str) -> Result<String> {
    if path.trim().is_empty() {
        return Err(Error::invalid("path", "must not be empty"));
    }
    crate::error::check_no_nul("path", path)?;
    if path.len() > MAX_PATH_BYTES {
        return Err(Error::invalid(
            "path",
            format!("must be at most {MAX_PATH_BYTES} bytes, got {}", path.len()),
        ));
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(Error::invalid(
            "path",
            format!("must be absolute, got {path:?}"),
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for component in p.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// The repository of projects.
#[derive(Debug, Clone)]
pub struct Projects {
    db: Database,
}

impl Projects {
    /// The repository over `db`.
    pub(crate) fn new(db: Database) -> Self {
        Projects { db }
    }

    /// Returns the project at `path`, registering it first if needed. Idempotent and safe under
    /// concurrency: any number of simultaneous calls for one path yield one project (the insert
    /// is an `ON CONFLICT` upsert, atomic on both backends). An existing project keeps its name;
    /// `name` only names a new one and defaults to the path's last component.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty, relative or over-long path or an empty name.
    #[tracing::instrument(skip(self))]
    pub async fn get_or_create(&self, path: &str, name: Option<&str>) -> Result<Project> {
        let path = normalize_path(path)?;
        let name = match name {
            Some(n) if n.trim().is_empty() => {
                return Err(Error::invalid("name", "must not be empty"))
            }
            Some(n) if n.contains('\0') => {
                return Err(Error::invalid("name", "must not contain a NUL character"))
            }
            Some(n) => n.to_owned(),
            None => path
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("/")
                .to_owned(),
        };
        let now = now_ms();
        const SQL: &str = "INSERT INTO projects (name, path, created_at, last_accessed_at)
             VALUES ($1, $2, $3, $3)
             ON CONFLICT (path) DO UPDATE SET last_accessed_at = excluded.last_accessed_at
             RETURNING id, name, path, created_at, last_accessed_at";
        Ok(fetch_rows!(
            self.db, Project, SQL, fetch_one, &name, &path, now
        ))
    }

    /// The project with this id, if any.
    pub async fn get(&self, id: ProjectId) -> Result<Option<Project>> {
        const SQL: &str =
            "SELECT id, name, path, created_at, last_accessed_at FROM projects WHERE id = $1";
        Ok(fetch_rows!(self.db, Project, SQL, fetch_optional, id))
    }

    /// The project that owns `path`: the registered project whose path is `path` itself or its
    /// longest ancestor, matching whole components (`/a/b` owns `/a/b/c` but not `/a/bc`). The
    /// match is a plain string prefix test, so `%` and `_` in paths are ordinary characters.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or relative path.
    pub async fn find_by_path(&self, path: &str) -> Result<Option<Project>> {
        let path = normalize_path(path)?;
        const SQL: &str = "SELECT id, name, path, created_at, last_accessed_at FROM projects
             WHERE path = $1 OR path = '/' OR substr($1, 1, length(path) + 1) = path || '/'
             ORDER BY length(path) DESC LIMIT 1";
        Ok(fetch_rows!(self.db, Project, SQL, fetch_optional, &path))
    }

    /// Like [`Projects::find_by_path`], but no owner is an error.
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`] naming the normalised path when no project owns it.
    pub async fn require(&self, path: &str) -> Result<Project> {
        match self.find_by_path(path).await? {
            Some(project) => Ok(project),
            None => Err(Error::ProjectNotFound {
                path: normalize_path(path)?,
            }),
        }
    }

    /// All projects, oldest first.
    pub async fn list(&self) -> Result<Vec<Project>> {
        const SQL: &str =
            "SELECT id, name, path, created_at, last_accessed_at FROM projects ORDER BY id";
        Ok(fetch_rows!(self.db, Project, SQL, fetch_all))
    }

    /// Fails with [`Error::NotFound`] unless project `id` exists. Used before writes so an
    /// unknown project is reported by name rather than as a foreign-key violation.
    pub async fn ensure_exists(&self, id: ProjectId) -> Result<()> {
        match self.get(id).await? {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                entity: Entity::Project,
                id: id.0,
                project_id: id,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_path;

    #[test]
    fn normalises_lexically() {
        assert_eq!(normalize_path("/a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(normalize_path("/a/b/../c").unwrap(), "/a/c");
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("/../..").unwrap(), "/");
        assert_eq!(normalize_path("/srv/100%_done").unwrap(), "/srv/100%_done");
    }

    #[test]
    fn rejects_relative_and_empty() {
        for bad in ["", "  ", "a/b", "./a", "../a"] {
            let err = normalize_path(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid path:"), "{bad:?} gave {err}");
        }
    }
}
