//! [`Engine`]: the async front door. It owns the database and hands out the repositories.

use crate::config::Config;
use crate::db::layers::Layers;
use crate::db::projects::Projects;
use crate::db::{Database, HealthReport, PoolStats};
use crate::error::Result;

/// The async front door of athena-memory. Cheap to clone: clones share the database pool.
///
/// # Example
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use athena_memory::Engine;
///
/// let engine = Engine::open("sqlite::memory:").await?;
/// let project = engine.projects().get_or_create("/home/me/app", None).await?;
/// assert_eq!(project.name, "app");
///
/// // Bad input is an error that names the field, never a panic:
/// let err = engine.projects().get_or_create("relative/path", None).await.unwrap_err();
/// assert!(err.to_string().starts_with("invalid path"));
/// engine.close().await;
/// # Ok::<(), athena_memory::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    db: Database,
}

impl Engine {
    /// Opens the database at `url` with default settings and migrates it.
    ///
    /// # Errors
    /// As [`Database::open`].
    #[tracing::instrument]
    pub async fn open(url: &str) -> Result<Self> {
        Self::with_config(Config::builder(url).build()?).await
    }

    /// Opens the database described by a validated [`Config`].
    ///
    /// # Errors
    /// As [`Database::open`].
    pub async fn with_config(config: Config) -> Result<Self> {
        let db = Database::open_with(&config).await?;
        Ok(Engine { db })
    }

    /// The underlying database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Projects: register, look up by path.
    pub fn projects(&self) -> Projects {
        Projects::new(self.db.clone())
    }

    /// The four long-term layers.
    pub fn layers(&self) -> Layers {
        Layers::new(self.db.clone())
    }

    /// Connection-pool statistics.
    pub fn pool_stats(&self) -> PoolStats {
        self.db.pool_stats()
    }

    /// Database health; see [`Database::health_check`].
    pub async fn health_check(&self) -> HealthReport {
        self.db.health_check().await
    }

    /// Closes the pool gracefully; later calls fail with [`crate::Error::Closed`].
    pub async fn close(&self) {
        self.db.close().await
    }
}
