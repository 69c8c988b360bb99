//! [`Engine`]: the async front door. It owns the database, the routers and the training loop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::config::Config;
use crate::consolidate::{self, BatchReport, Consolidated};
use crate::db::items::Claim;
use crate::db::layers::Layers;
use crate::db::models::{ActiveModels, ModelRegistry, ModelScope};
use crate::db::projects::Projects;
use crate::db::recall::RecallIndex;
use crate::db::routes::RouteLog;
use crate::db::{Database, HealthReport, PoolStats};
use crate::error::{Entity, Error, Result};
use crate::features::RouteInput;
use crate::ids::{ItemId, ProjectId};
use crate::layer::Layer;
use crate::recall::{Place, RecallHit};
use crate::router::{RouteDecision, Router};
use crate::working_memory::{MemoryEvent, WorkingMemory};

mod bases;
mod models;
mod training;

pub use training::{TrainingMethod, TrainingReport};

/// Most items one batch call takes.
pub const MAX_BATCH: usize = 100_000;

/// The async front door of athena-memory. Cheap to clone: clones share the pool and routers.
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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    config: Config,
    /// The router of each project seen so far. A std lock: it is held only to clone an `Arc`,
    /// never across an `.await`.
    routers: RwLock<HashMap<ProjectId, CachedRouter>>,
    /// Background retrainings under way ([`Engine::close`] waits for them).
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Working-memory events, shared by every `WorkingMemory` handle of this engine.
    events: tokio::sync::broadcast::Sender<MemoryEvent>,
    /// Routing bases read from the database for deltas made on another base than this engine's
    /// ([`Engine::load_stored`]), by identity: parsed once, shared by every project on them.
    stored_bases: Mutex<HashMap<String, Arc<crate::router::TreeModel>>>,
}

/// A project's router as loaded, the stored models it was loaded from, and when they were last
/// checked against the registry.
#[derive(Debug, Clone)]
struct CachedRouter {
    router: Router,
    active: ActiveModels,
    checked: Instant,
}

impl Engine {
    /// Opens the database at `url` with default settings and migrates it.
    ///
    /// Accepted URLs: `sqlite://PATH` or `sqlite:PATH` (the file is created if missing, in WAL
    /// mode with a busy timeout and foreign keys on), `sqlite::memory:` (private to this
    /// engine), and `postgres://...` / `postgresql://...`.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for another scheme; [`Error::Database`] when the server cannot
    /// be reached or refuses the login (at once, without retrying); [`Error::Migration`] when
    /// the schema cannot be brought up to date.
    #[tracing::instrument(skip_all, fields(url = %crate::config::redact_url(url)))]
    pub async fn open(url: &str) -> Result<Self> {
        Self::with_config(Config::builder(url).build()?).await
    }

    /// Opens the database described by a validated [`Config`].
    ///
    /// # Errors
    /// As [`Engine::open`].
    pub async fn with_config(config: Config) -> Result<Self> {
        let db = Database::open_with(&config).await?;
        Ok(Engine {
            inner: Arc::new(Inner {
                db,
                config,
                routers: RwLock::new(HashMap::new()),
                background: Mutex::new(Vec::new()),
                events: tokio::sync::broadcast::channel(256).0,
                stored_bases: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The underlying database.
    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Projects: register, look up by path.
    pub fn projects(&self) -> Projects {
        Projects::new(self.inner.db.clone())
    }

    /// The working memory of every project.
    pub fn working_memory(&self) -> WorkingMemory {
        WorkingMemory::new(
            self.inner.db.clone(),
            self.inner.config.working_memory.clone(),
            self.inner.events.clone(),
        )
    }

    /// The four long-term layers.
    pub fn layers(&self) -> Layers {
        Layers::new(self.inner.db.clone())
    }

    /// The route log.
    pub fn route_log(&self) -> RouteLog {
        RouteLog::new(self.inner.db.clone())
    }

    /// The model registry.
    pub fn models(&self) -> ModelRegistry {
        ModelRegistry::new(self.inner.db.clone())
    }

    /// The router of `project_id`: its active model, else the active global model, else the
    /// shipped default model (or the heuristic when configured so).
    ///
    /// Cached after the first call. Training, activation and import in this engine refresh it
    /// at once; what another engine or process activates or deactivates is seen within
    /// [`RouterConfig::check_interval`](crate::RouterConfig::check_interval) (default 1 s):
    /// a cached router older than that is checked against the registry with one small query,
    /// and reloaded only when the active models changed.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] if the active stored model is corrupt; database errors.
    pub async fn router(&self, project_id: ProjectId) -> Result<Router> {
        let Some(cached) = self.cached(project_id) else {
            return self.refresh_router(project_id).await;
        };
        if cached.checked.elapsed() < self.inner.config.router.check_interval {
            return Ok(cached.router);
        }
        let active = self.models().active_models(project_id).await?;
        if active != cached.active {
            return self.load_router(project_id, active).await;
        }
        if let Some(entry) = self.write_routers().get_mut(&project_id) {
            entry.checked = Instant::now();
        }
        Ok(cached.router)
    }

    fn cached(&self, project_id: ProjectId) -> Option<CachedRouter> {
        let routers = self.inner.routers.read().expect("router cache lock");
        routers.get(&project_id).cloned()
    }

    fn write_routers(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ProjectId, CachedRouter>> {
        self.inner.routers.write().expect("router cache lock")
    }

    /// Reloads `project_id`'s router from the database now, whatever the cache holds.
    ///
    /// # Errors
    /// As [`Engine::router`].
    pub async fn refresh_router(&self, project_id: ProjectId) -> Result<Router> {
        let active = self.models().active_models(project_id).await?;
        self.load_router(project_id, active).await
    }

    /// Loads the router `active` names for `project_id` and caches it. A model row is never
    /// changed once stored, so the one read by id is the one that was active, even if another
    /// process has switched since (the next check then sees the switch).
    async fn load_router(&self, project_id: ProjectId, active: ActiveModels) -> Result<Router> {
        let stored = match active.routing(project_id) {
            Some((_, version)) => self.models().by_id(version.id).await?,
            None => None,
        };
        let router = match stored {
            Some(m) => Router::Model(Arc::new(self.load_stored(&m).await?)),
            None => self.fallback()?,
        };
        let entry = CachedRouter {
            router: router.clone(),
            active,
            checked: Instant::now(),
        };
        self.write_routers().insert(project_id, entry);
        Ok(router)
    }

    /// Decides where an item of `project_id` belongs. Microseconds once the project's router is
    /// cached: no database access, except one small query when the cached router is due for
    /// its check ([`Engine::router`]).
    ///
    /// # Errors
    /// As [`Engine::router`].
    pub async fn route(
        &self,
        project_id: ProjectId,
        input: &RouteInput<'_>,
    ) -> Result<RouteDecision> {
        Ok(self.router(project_id).await?.route(input))
    }

    /// The router a project uses when it has no model of its own: the active global model,
    /// else the shipped default (or the heuristic).
    async fn baseline_router(&self) -> Result<Router> {
        Ok(match self.models().active(ModelScope::Global).await? {
            Some(m) => Router::Model(Arc::new(self.load_stored(&m).await?)),
            None => self.fallback()?,
        })
    }

    /// What routes a project without a model of its own or a global one: the routing base's
    /// model (the shipped one is parsed on first use, once per process, so commands that never
    /// route do not pay for it), or the heuristic when configured so.
    fn fallback(&self) -> Result<Router> {
        Ok(if self.inner.config.router.use_default_model {
            Router::Model(self.inner.config.router.base.model()?)
        } else {
            Router::Heuristic
        })
    }

    /// Consolidates one working-memory item: routes it and, in one transaction, writes the
    /// layer row, logs the route and removes the item from working memory.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the item is not in this project's working memory (including when
    /// another worker consolidated it first); database errors leave the item where it was.
    #[tracing::instrument(skip(self))]
    pub async fn consolidate(
        &self,
        project_id: ProjectId,
        item_id: ItemId,
    ) -> Result<Consolidated> {
        self.consolidate_one(project_id, item_id, None).await
    }

    /// Like [`Engine::consolidate`], but into `layer` as the caller says (confidence 1, model
    /// `override`); the route is logged all the same.
    ///
    /// # Errors
    /// As [`Engine::consolidate`].
    #[tracing::instrument(skip(self))]
    pub async fn consolidate_as(
        &self,
        project_id: ProjectId,
        item_id: ItemId,
        layer: Layer,
    ) -> Result<Consolidated> {
        self.consolidate_one(project_id, item_id, Some(layer)).await
    }

    async fn consolidate_one(
        &self,
        project_id: ProjectId,
        item_id: ItemId,
        layer: Option<Layer>,
    ) -> Result<Consolidated> {
        let router = self.router(project_id).await?;
        let mut done = consolidate::consolidate(
            &self.inner.db,
            &router,
            project_id,
            Claim::Ids(&[item_id]),
            layer,
        )
        .await?;
        done.pop().ok_or(Error::NotFound {
            entity: Entity::Item,
            id: item_id.0,
            project_id,
        })
    }

    /// Consolidates many items in one transaction with batched statements. Ids that are not in
    /// this project's working memory are listed in the report; the rest are consolidated.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `ids` for more than 100,000 ids; database errors (then nothing
    /// is consolidated and every item stays in working memory).
    #[tracing::instrument(skip(self, ids), fields(n = ids.len()))]
    pub async fn consolidate_batch(
        &self,
        project_id: ProjectId,
        ids: &[ItemId],
    ) -> Result<BatchReport> {
        if ids.len() > MAX_BATCH {
            return Err(Error::invalid(
                "ids",
                format!("at most {MAX_BATCH} per batch, got {}", ids.len()),
            ));
        }
        let router = self.router(project_id).await?;
        let done =
            consolidate::consolidate(&self.inner.db, &router, project_id, Claim::Ids(ids), None)
                .await?;
        Ok(consolidate::report(ids, done))
    }

    /// Consolidates up to `limit` items waiting in pending consolidation (displaced by a full
    /// component or decayed), oldest first. Safe to run from many workers and processes at once:
    /// each item is consolidated exactly once. The report's `not_found` is always empty (no ids
    /// were asked for); `consolidated` is empty when nothing was pending.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `limit` for 0 or more than 100,000; database errors.
    #[tracing::instrument(skip(self))]
    pub async fn consolidate_pending(
        &self,
        project_id: ProjectId,
        limit: u32,
    ) -> Result<BatchReport> {
        if limit == 0 || limit as usize > MAX_BATCH {
            return Err(Error::invalid(
                "limit",
                format!("must be within 1..={MAX_BATCH}, got {limit}"),
            ));
        }
        let router = self.router(project_id).await?;
        let done = consolidate::consolidate(
            &self.inner.db,
            &router,
            project_id,
            Claim::Pending(limit),
            None,
        )
        .await?;
        Ok(consolidate::report(&[], done))
    }

    /// Consolidates up to `limit` items of working memory, active or pending, oldest first: what
    /// an agent means at the end of a task ("keep what I noted"). Safe to run from many workers
    /// at once, like [`Engine::consolidate_pending`]; `not_found` is always empty.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `limit` for 0 or more than 100,000; database errors.
    #[tracing::instrument(skip(self))]
    pub async fn consolidate_all(&self, project_id: ProjectId, limit: u32) -> Result<BatchReport> {
        if limit == 0 || limit as usize > MAX_BATCH {
            return Err(Error::invalid(
                "limit",
                format!("must be within 1..={MAX_BATCH}, got {limit}"),
            ));
        }
        let router = self.router(project_id).await?;
        let done =
            consolidate::consolidate(&self.inner.db, &router, project_id, Claim::All(limit), None)
                .await?;
        Ok(consolidate::report(&[], done))
    }

    /// Recall: the `k` memories that best answer `query`, wherever they live (working memory,
    /// active or pending, and the four layers), best first. Each hit says where it lives and
    /// carries the id the next call needs. A memory is recallable as soon as the call that
    /// stored it returns. Ranking: BM25 over the analysed text, a share of the scores of the
    /// memories before and after it in its session, a boost when the query names its speaker,
    /// usefulness and recency (see [`crate::RecallParams`]). A query of stop words only ("what was
    /// it?") is answered with the most recent memories. Reads only.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `query` for an empty query, one over 10,000 characters,
    /// one with a NUL or without any letter or digit, and naming `k` outside 1..=1000.
    #[tracing::instrument(skip(self))]
    pub async fn recall(
        &self,
        project_id: ProjectId,
        query: &str,
        k: usize,
    ) -> Result<Vec<RecallHit>> {
        self.recall_places(project_id, query, k, &[]).await
    }

    /// [`Engine::recall`] restricted to memories in `layers` (working memory is left out; all
    /// four layers and working memory when `layers` is empty).
    ///
    /// # Errors
    /// As [`Engine::recall`].
    pub async fn recall_in(
        &self,
        project_id: ProjectId,
        query: &str,
        k: usize,
        layers: &[Layer],
    ) -> Result<Vec<RecallHit>> {
        let places: Vec<Place> = layers.iter().map(|l| Place::from(*l)).collect();
        self.recall_places(project_id, query, k, &places).await
    }

    /// The terms memory `id` of `place` is indexed under, with their counts, in term order: what
    /// the analyzer made of its text (see [`crate::recall::analyze`]), as the database holds it.
    /// Empty for an unknown memory or one of another project.
    ///
    /// # Errors
    /// Database errors.
    pub async fn indexed_terms(
        &self,
        project_id: ProjectId,
        place: Place,
        id: i64,
    ) -> Result<Vec<(String, i64)>> {
        RecallIndex::new(self.inner.db.clone())
            .stored_terms(project_id, place, id)
            .await
    }

    async fn recall_places(
        &self,
        project_id: ProjectId,
        query: &str,
        k: usize,
        places: &[Place],
    ) -> Result<Vec<RecallHit>> {
        RecallIndex::new(self.inner.db.clone())
            .search(project_id, query, k, places, &self.inner.config.recall)
            .await
    }

    /// Connection-pool statistics.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.db.pool_stats()
    }

    /// Database health; see [`Database::health_check`].
    pub async fn health_check(&self) -> HealthReport {
        self.inner.db.health_check().await
    }

    /// Waits for background retrainings under way, then closes the pool gracefully; later
    /// calls fail with [`Error::Closed`].
    pub async fn close(&self) {
        let jobs =
            std::mem::take(&mut *self.inner.background.lock().expect("background jobs lock"));
        for job in jobs {
            // A retraining that panicked has logged nothing worth more than closing.
            let _ = job.await;
        }
        self.inner.db.close().await
    }
}
