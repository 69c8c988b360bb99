//! The sync front door, for callers without an async runtime.
//!
//! It mirrors the async API method for method, as `reqwest::blocking` does: [`Engine`] has the
//! async [`crate::Engine`]'s methods under the same names, and its handles [`Projects`],
//! [`WorkingMemory`], [`Goals`], [`Layers`], [`RouteLog`] and [`ModelRegistry`] have the async
//! repositories' methods. Arguments are the same; borrowed ones are copied for the call.
//! The one async method without a twin is `database()`, which hands out the async pool
//! ([`Engine::pool_stats`] and [`Engine::health_check`] cover what it is used for).
//!
//! [`Engine`] owns a private current-thread tokio runtime on a thread of its own; the pool is
//! built there and every call is sent there as a job, while the caller waits on a channel (the
//! `reqwest::blocking` pattern). Waiting uses `block_in_place` when the caller is itself a
//! multi-thread runtime worker, so it works from a plain thread, from inside either runtime
//! flavour, from many threads at once, and it may be dropped anywhere. That one bridge,
//! [`Engine::call`], carries every method, and runs any other async code too.

use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::mpsc as tokio_mpsc;

use std::path::Path;

use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::time::Millis;
use crate::{
    AddOutcome, BatchReport, CapacityStatus, Component, ComponentStats, Config, Consolidated,
    EpisodicEvent, Error, Focus, FocusTarget, Goal, GoalNode, HealthReport, HealthStatus, Item,
    ItemState, Layer, LayerCounts, Memory, MemoryEvent, MemoryType, ModelScope, NewGoal, NewItem,
    Place, PoolStats, Procedure, Project, ProspectiveTask, RecallHit, Result, RouteDecision,
    RouteInput, RouteRecord, Router, RoutingStats, SearchHit, SemanticMemory, SemanticSort,
    StoredModel, TaskPriority, TaskStatus, TrainingReport, TreeModel,
};

type Job = Box<dyn FnOnce(crate::Engine) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The blocking twin of [`crate::Engine`]. Clones share one runtime thread and one pool; the
/// thread shuts down (closing the pool) when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    jobs: Option<tokio_mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Kept here too so `pool_stats` needs no round trip.
    engine: crate::Engine,
}

impl Engine {
    /// Opens the database at `url` with default settings. See [`crate::Engine::open`].
    ///
    /// # Errors
    /// As [`crate::Engine::open`], plus [`Error::RuntimeGone`] if the runtime thread cannot start.
    pub fn open(url: &str) -> Result<Self> {
        Self::with_config(Config::builder(url).build()?)
    }

    /// Opens the database described by `config` on a fresh runtime thread.
    ///
    /// # Errors
    /// As [`Engine::open`].
    pub fn with_config(config: Config) -> Result<Self> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<crate::Engine>>();
        let (jobs_tx, mut jobs_rx) = tokio_mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("athena-memory-blocking".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Io {
                            path: "tokio runtime".into(),
                            source: e,
                        }));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let engine = match crate::Engine::with_config(config).await {
                        Ok(engine) => engine,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(engine.clone()));
                    let mut running = tokio::task::JoinSet::new();
                    while let Some(job) = jobs_rx.recv().await {
                        running.spawn(job(engine.clone()));
                        // Reap finished jobs so the set does not grow without bound.
                        while running.try_join_next().is_some() {}
                    }
                    while running.join_next().await.is_some() {}
                    engine.close().await;
                });
            })
            .map_err(|e| Error::Io {
                path: "athena-memory-blocking thread".into(),
                source: e,
            })?;
        let engine = wait(ready_rx).map_err(|_| Error::RuntimeGone)??;
        Ok(Engine {
            inner: Arc::new(Inner {
                jobs: Some(jobs_tx),
                thread: Some(thread),
                engine,
            }),
        })
    }

    /// Runs `op` on the private runtime and waits for its result. Every method is built on this.
    ///
    /// # Errors
    /// Whatever `op` returns, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn call<T, F, Fut>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(crate::Engine) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |engine| {
            Box::pin(async move {
                let _ = tx.send(op(engine).await);
            })
        });
        self.inner
            .jobs
            .as_ref()
            .ok_or(Error::RuntimeGone)?
            .send(job)
            .map_err(|_| Error::RuntimeGone)?;
        wait(rx).map_err(|_| Error::RuntimeGone)?
    }

    /// The engine's settings.
    pub fn config(&self) -> &Config {
        self.inner.engine.config()
    }

    /// Projects. See [`crate::Engine::projects`].
    pub fn projects(&self) -> Projects {
        Projects {
            engine: self.clone(),
        }
    }

    /// The working memory. See [`crate::Engine::working_memory`].
    pub fn working_memory(&self) -> WorkingMemory {
        WorkingMemory {
            engine: self.clone(),
        }
    }

    /// The four long-term layers. See [`crate::Engine::layers`].
    pub fn layers(&self) -> Layers {
        Layers {
            engine: self.clone(),
        }
    }

    /// The route log. See [`crate::Engine::route_log`].
    pub fn route_log(&self) -> RouteLog {
        RouteLog {
            engine: self.clone(),
        }
    }

    /// Router models. See [`crate::Engine::models`].
    pub fn models(&self) -> ModelRegistry {
        ModelRegistry {
            engine: self.clone(),
        }
    }

    /// See [`crate::Engine::router`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn router(&self, project_id: ProjectId) -> Result<Router> {
        self.call(move |e| async move { e.router(project_id).await })
    }

    /// See [`crate::Engine::refresh_router`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn refresh_router(&self, project_id: ProjectId) -> Result<Router> {
        self.call(move |e| async move { e.refresh_router(project_id).await })
    }

    /// See [`crate::Engine::route`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn route(&self, project_id: ProjectId, input: &RouteInput<'_>) -> Result<RouteDecision> {
        let input = OwnedInput::from(input);
        self.call(move |e| async move { e.route(project_id, &input.as_input()).await })
    }

    /// See [`crate::Engine::feedback`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn feedback(
        &self,
        project_id: ProjectId,
        route_id: RouteId,
        correct: Layer,
    ) -> Result<RouteRecord> {
        self.call(move |e| async move { e.feedback(project_id, route_id, correct).await })
    }

    /// See [`crate::Engine::import_labels`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn import_labels(
        &self,
        project_id: ProjectId,
        labels: &[(RouteInput<'_>, Layer)],
    ) -> Result<Vec<RouteId>> {
        let labels: Vec<(OwnedInput, Layer)> = labels
            .iter()
            .map(|(input, layer)| (OwnedInput::from(input), *layer))
            .collect();
        self.call(move |e| async move {
            let borrowed: Vec<(RouteInput<'_>, Layer)> = labels
                .iter()
                .map(|(input, layer)| (input.as_input(), *layer))
                .collect();
            e.import_labels(project_id, &borrowed).await
        })
    }

    /// See [`crate::Engine::train`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn train(&self, project_id: ProjectId) -> Result<TrainingReport> {
        self.call(move |e| async move { e.train(project_id).await })
    }

    /// See [`crate::Engine::activate_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn activate_model(&self, project_id: ProjectId, version: i64) -> Result<StoredModel> {
        self.call(move |e| async move { e.activate_model(project_id, version).await })
    }

    /// See [`crate::Engine::activate_global_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn activate_global_model(&self, version: i64) -> Result<StoredModel> {
        self.call(move |e| async move { e.activate_global_model(version).await })
    }

    /// See [`crate::Engine::deactivate_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn deactivate_model(&self, project_id: ProjectId) -> Result<Option<StoredModel>> {
        self.call(move |e| async move { e.deactivate_model(project_id).await })
    }

    /// See [`crate::Engine::deactivate_global_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn deactivate_global_model(&self) -> Result<Option<StoredModel>> {
        self.call(move |e| async move { e.deactivate_global_model().await })
    }

    /// See [`crate::Engine::rollback_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn rollback_model(&self, project_id: ProjectId) -> Result<StoredModel> {
        self.call(move |e| async move { e.rollback_model(project_id).await })
    }

    /// See [`crate::Engine::store_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn store_model(
        &self,
        scope: ModelScope,
        model: &TreeModel,
        activate: bool,
    ) -> Result<StoredModel> {
        let model = model.clone();
        self.call(move |e| async move { e.store_model(scope, &model, activate).await })
    }

    /// See [`crate::Engine::export_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn export_model(&self, project_id: ProjectId, path: &Path) -> Result<()> {
        let path = path.to_path_buf();
        self.call(move |e| async move { e.export_model(project_id, &path).await })
    }

    /// See [`crate::Engine::import_model`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn import_model(
        &self,
        project_id: ProjectId,
        path: &Path,
        activate: bool,
    ) -> Result<StoredModel> {
        let path = path.to_path_buf();
        self.call(move |e| async move { e.import_model(project_id, &path, activate).await })
    }

    /// See [`crate::Engine::routing_stats`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn routing_stats(&self, project_id: ProjectId) -> Result<RoutingStats> {
        self.call(move |e| async move { e.routing_stats(project_id).await })
    }

    /// See [`crate::Engine::consolidate`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn consolidate(&self, project_id: ProjectId, item_id: ItemId) -> Result<Consolidated> {
        self.call(move |e| async move { e.consolidate(project_id, item_id).await })
    }

    /// See [`crate::Engine::consolidate_as`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn consolidate_as(
        &self,
        project_id: ProjectId,
        item_id: ItemId,
        layer: Layer,
    ) -> Result<Consolidated> {
        self.call(move |e| async move { e.consolidate_as(project_id, item_id, layer).await })
    }

    /// See [`crate::Engine::consolidate_batch`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn consolidate_batch(&self, project_id: ProjectId, ids: &[ItemId]) -> Result<BatchReport> {
        let ids = ids.to_vec();
        self.call(move |e| async move { e.consolidate_batch(project_id, &ids).await })
    }

    /// See [`crate::Engine::consolidate_pending`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn consolidate_pending(&self, project_id: ProjectId, limit: u32) -> Result<BatchReport> {
        self.call(move |e| async move { e.consolidate_pending(project_id, limit).await })
    }

    /// See [`crate::Engine::consolidate_all`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn consolidate_all(&self, project_id: ProjectId, limit: u32) -> Result<BatchReport> {
        self.call(move |e| async move { e.consolidate_all(project_id, limit).await })
    }

    /// See [`crate::Engine::indexed_terms`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn indexed_terms(
        &self,
        project_id: ProjectId,
        place: Place,
        id: i64,
    ) -> Result<Vec<(String, i64)>> {
        self.call(move |e| async move { e.indexed_terms(project_id, place, id).await })
    }

    /// See [`crate::Engine::recall`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn recall(&self, project_id: ProjectId, query: &str, k: usize) -> Result<Vec<RecallHit>> {
        let query = query.to_owned();
        self.call(move |e| async move { e.recall(project_id, &query, k).await })
    }

    /// See [`crate::Engine::recall_in`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn recall_in(
        &self,
        project_id: ProjectId,
        query: &str,
        k: usize,
        layers: &[Layer],
    ) -> Result<Vec<RecallHit>> {
        let query = query.to_owned();
        let layers = layers.to_vec();
        self.call(move |e| async move { e.recall_in(project_id, &query, k, &layers).await })
    }

    /// Connection-pool statistics.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.engine.pool_stats()
    }

    /// See [`crate::Engine::health_check`].
    pub fn health_check(&self) -> HealthReport {
        self.call(|e| async move { Ok(e.health_check().await) })
            .unwrap_or_else(|err| HealthReport {
                status: HealthStatus::Unhealthy,
                connected: false,
                latency: None,
                utilisation: 0.0,
                warnings: Vec::new(),
                error: Some(err.to_string()),
            })
    }

    /// Closes the pool; later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        let _ = self.call(|e| async move {
            e.close().await;
            Ok(())
        });
    }
}

/// The blocking twin of [`crate::Projects`]: projects. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Projects {
    engine: Engine,
}

impl Projects {
    /// See [`crate::Projects::get_or_create`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn get_or_create(&self, path: &str, name: Option<&str>) -> Result<Project> {
        let path = path.to_owned();
        let name = name.map(str::to_owned);
        self.engine
            .call(move |e| async move { e.projects().get_or_create(&path, name.as_deref()).await })
    }

    /// See [`crate::Projects::get`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn get(&self, id: ProjectId) -> Result<Option<Project>> {
        self.engine
            .call(move |e| async move { e.projects().get(id).await })
    }

    /// See [`crate::Projects::find_by_path`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn find_by_path(&self, path: &str) -> Result<Option<Project>> {
        let path = path.to_owned();
        self.engine
            .call(move |e| async move { e.projects().find_by_path(&path).await })
    }

    /// See [`crate::Projects::require`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn require(&self, path: &str) -> Result<Project> {
        let path = path.to_owned();
        self.engine
            .call(move |e| async move { e.projects().require(&path).await })
    }

    /// See [`crate::Projects::list`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn list(&self) -> Result<Vec<Project>> {
        self.engine
            .call(move |e| async move { e.projects().list().await })
    }

    /// See [`crate::Projects::ensure_exists`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn ensure_exists(&self, id: ProjectId) -> Result<()> {
        self.engine
            .call(move |e| async move { e.projects().ensure_exists(id).await })
    }
}

/// The blocking twin of [`crate::WorkingMemory`]: the working memory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkingMemory {
    engine: Engine,
}

impl WorkingMemory {
    /// The central executive's goals and attention. See [`crate::WorkingMemory::goals`].
    pub fn goals(&self) -> Goals {
        Goals {
            engine: self.engine.clone(),
        }
    }

    /// Listens to capacity, displacement and decay events; wait on it with
    /// `blocking_recv`. See [`crate::WorkingMemory::subscribe`].
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<MemoryEvent> {
        self.engine.inner.engine.working_memory().subscribe()
    }

    /// See [`crate::WorkingMemory::add`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn add(&self, project_id: ProjectId, item: NewItem) -> Result<AddOutcome> {
        self.engine
            .call(move |e| async move { e.working_memory().add(project_id, item).await })
    }

    /// See [`crate::WorkingMemory::sweep`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn sweep(&self, project_id: ProjectId) -> Result<Vec<ItemId>> {
        self.engine
            .call(move |e| async move { e.working_memory().sweep(project_id).await })
    }

    /// See [`crate::WorkingMemory::get`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn get(&self, project_id: ProjectId, id: ItemId) -> Result<Item> {
        self.engine
            .call(move |e| async move { e.working_memory().get(project_id, id).await })
    }

    /// See [`crate::WorkingMemory::rehearse`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn rehearse(&self, project_id: ProjectId, id: ItemId) -> Result<Item> {
        self.engine
            .call(move |e| async move { e.working_memory().rehearse(project_id, id).await })
    }

    /// See [`crate::WorkingMemory::list`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn list(
        &self,
        project_id: ProjectId,
        component: Option<Component>,
        state: ItemState,
    ) -> Result<Vec<Item>> {
        self.engine.call(move |e| async move {
            e.working_memory().list(project_id, component, state).await
        })
    }

    /// See [`crate::WorkingMemory::pending`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn pending(&self, project_id: ProjectId, limit: u32) -> Result<Vec<Item>> {
        self.engine
            .call(move |e| async move { e.working_memory().pending(project_id, limit).await })
    }

    /// See [`crate::WorkingMemory::activations_at`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn activations_at(&self, project_id: ProjectId, now: Millis) -> Result<Vec<(ItemId, f64)>> {
        self.engine
            .call(move |e| async move { e.working_memory().activations_at(project_id, now).await })
    }

    /// See [`crate::WorkingMemory::capacity`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn capacity(&self, project_id: ProjectId) -> Result<Vec<CapacityStatus>> {
        self.engine
            .call(move |e| async move { e.working_memory().capacity(project_id).await })
    }

    /// See [`crate::WorkingMemory::find_by_directory`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn find_by_directory(&self, project_id: ProjectId, directory: &str) -> Result<Vec<Item>> {
        let directory = directory.to_owned();
        self.engine.call(move |e| async move {
            e.working_memory()
                .find_by_directory(project_id, &directory)
                .await
        })
    }

    /// See [`crate::WorkingMemory::spatial_neighbours`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn spatial_neighbours(&self, project_id: ProjectId, path: &str) -> Result<Vec<Item>> {
        let path = path.to_owned();
        self.engine.call(move |e| async move {
            e.working_memory()
                .spatial_neighbours(project_id, &path)
                .await
        })
    }

    /// See [`crate::WorkingMemory::search`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn search(
        &self,
        project_id: ProjectId,
        query: &str,
        k: usize,
        query_embedding: Option<&[f32]>,
    ) -> Result<Vec<SearchHit>> {
        let query = query.to_owned();
        let query_embedding = query_embedding.map(<[f32]>::to_vec);
        self.engine.call(move |e| async move {
            e.working_memory()
                .search(project_id, &query, k, query_embedding.as_deref())
                .await
        })
    }

    /// See [`crate::WorkingMemory::stats`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn stats(&self, project_id: ProjectId) -> Result<Vec<ComponentStats>> {
        self.engine
            .call(move |e| async move { e.working_memory().stats(project_id).await })
    }
}

/// The blocking twin of [`crate::Goals`]: the central executive's goals. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Goals {
    engine: Engine,
}

impl Goals {
    /// See [`crate::Goals::add`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn add(&self, project_id: ProjectId, goal: NewGoal) -> Result<Goal> {
        self.engine
            .call(move |e| async move { e.working_memory().goals().add(project_id, goal).await })
    }

    /// See [`crate::Goals::get`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn get(&self, project_id: ProjectId, id: i64) -> Result<Goal> {
        self.engine
            .call(move |e| async move { e.working_memory().goals().get(project_id, id).await })
    }

    /// See [`crate::Goals::active`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn active(&self, project_id: ProjectId) -> Result<Vec<Goal>> {
        self.engine
            .call(move |e| async move { e.working_memory().goals().active(project_id).await })
    }

    /// See [`crate::Goals::set_progress`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn set_progress(&self, project_id: ProjectId, id: i64, progress: f64) -> Result<Goal> {
        self.engine.call(move |e| async move {
            e.working_memory()
                .goals()
                .set_progress(project_id, id, progress)
                .await
        })
    }

    /// See [`crate::Goals::complete`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn complete(&self, project_id: ProjectId, id: i64, cascade: bool) -> Result<Vec<i64>> {
        self.engine.call(move |e| async move {
            e.working_memory()
                .goals()
                .complete(project_id, id, cascade)
                .await
        })
    }

    /// See [`crate::Goals::suspend`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn suspend(&self, project_id: ProjectId, id: i64) -> Result<Goal> {
        self.engine
            .call(move |e| async move { e.working_memory().goals().suspend(project_id, id).await })
    }

    /// See [`crate::Goals::resume`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn resume(&self, project_id: ProjectId, id: i64) -> Result<Goal> {
        self.engine
            .call(move |e| async move { e.working_memory().goals().resume(project_id, id).await })
    }

    /// See [`crate::Goals::hierarchy`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn hierarchy(&self, project_id: ProjectId) -> Result<Vec<GoalNode>> {
        self.engine
            .call(move |e| async move { e.working_memory().goals().hierarchy(project_id).await })
    }

    /// See [`crate::Goals::focus`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn focus(
        &self,
        project_id: ProjectId,
        target: FocusTarget,
        target_id: i64,
        weight: f64,
    ) -> Result<Focus> {
        self.engine.call(move |e| async move {
            e.working_memory()
                .goals()
                .focus(project_id, target, target_id, weight)
                .await
        })
    }

    /// See [`crate::Goals::attention`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn attention(&self, project_id: ProjectId) -> Result<Vec<Focus>> {
        self.engine
            .call(move |e| async move { e.working_memory().goals().attention(project_id).await })
    }
}

/// The blocking twin of [`crate::Layers`]: the four long-term layers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Layers {
    engine: Engine,
}

impl Layers {
    /// See [`crate::Layers::memory`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn memory(&self, project_id: ProjectId, layer: Layer, id: MemoryId) -> Result<Memory> {
        self.engine
            .call(move |e| async move { e.layers().memory(project_id, layer, id).await })
    }

    /// See [`crate::Layers::forget_memory`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn forget_memory(&self, project_id: ProjectId, layer: Layer, id: MemoryId) -> Result<bool> {
        self.engine
            .call(move |e| async move { e.layers().forget_memory(project_id, layer, id).await })
    }

    /// See [`crate::Layers::counts`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn counts(&self, project_id: ProjectId) -> Result<LayerCounts> {
        self.engine
            .call(move |e| async move { e.layers().counts(project_id).await })
    }

    /// See [`crate::Layers::remember`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn remember(
        &self,
        project_id: ProjectId,
        content: &str,
        memory_type: MemoryType,
        tags: &[&str],
    ) -> Result<SemanticMemory> {
        let content = content.to_owned();
        let tags = tags
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<String>>();
        self.engine.call(move |e| async move {
            e.layers()
                .remember(
                    project_id,
                    &content,
                    memory_type,
                    &tags.iter().map(String::as_str).collect::<Vec<&str>>(),
                )
                .await
        })
    }

    /// See [`crate::Layers::semantic`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn semantic(&self, project_id: ProjectId, id: MemoryId) -> Result<SemanticMemory> {
        self.engine
            .call(move |e| async move { e.layers().semantic(project_id, id).await })
    }

    /// See [`crate::Layers::list_semantic`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn list_semantic(
        &self,
        project_id: ProjectId,
        sort: SemanticSort,
        limit: u32,
    ) -> Result<Vec<SemanticMemory>> {
        self.engine
            .call(move |e| async move { e.layers().list_semantic(project_id, sort, limit).await })
    }

    /// See [`crate::Layers::mark_useful`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn mark_useful(&self, project_id: ProjectId, id: MemoryId) -> Result<f64> {
        self.engine
            .call(move |e| async move { e.layers().mark_useful(project_id, id).await })
    }

    /// See [`crate::Layers::forget`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn forget(&self, project_id: ProjectId, id: MemoryId) -> Result<bool> {
        self.engine
            .call(move |e| async move { e.layers().forget(project_id, id).await })
    }

    /// See [`crate::Layers::update_semantic`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn update_semantic(
        &self,
        project_id: ProjectId,
        id: MemoryId,
        content: &str,
        reason: &str,
    ) -> Result<SemanticMemory> {
        let content = content.to_owned();
        let reason = reason.to_owned();
        self.engine.call(move |e| async move {
            e.layers()
                .update_semantic(project_id, id, &content, &reason)
                .await
        })
    }

    /// See [`crate::Layers::history`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn history(&self, project_id: ProjectId, id: MemoryId) -> Result<Vec<SemanticMemory>> {
        self.engine
            .call(move |e| async move { e.layers().history(project_id, id).await })
    }

    /// See [`crate::Layers::record_event`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn record_event(
        &self,
        project_id: ProjectId,
        content: &str,
        event_type: &str,
        session_id: &str,
        occurred_at: Millis,
    ) -> Result<EpisodicEvent> {
        let content = content.to_owned();
        let event_type = event_type.to_owned();
        let session_id = session_id.to_owned();
        self.engine.call(move |e| async move {
            e.layers()
                .record_event(project_id, &content, &event_type, &session_id, occurred_at)
                .await
        })
    }

    /// See [`crate::Layers::events_between`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn events_between(
        &self,
        project_id: ProjectId,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<EpisodicEvent>> {
        self.engine
            .call(move |e| async move { e.layers().events_between(project_id, from, to).await })
    }

    /// See [`crate::Layers::events`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn events(
        &self,
        project_id: ProjectId,
        from: Millis,
        to: Millis,
        event_type: Option<&str>,
    ) -> Result<Vec<EpisodicEvent>> {
        let event_type = event_type.map(str::to_owned);
        self.engine.call(move |e| async move {
            e.layers()
                .events(project_id, from, to, event_type.as_deref())
                .await
        })
    }

    /// See [`crate::Layers::store_procedure`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn store_procedure(
        &self,
        project_id: ProjectId,
        name: &str,
        category: &str,
        template: &str,
    ) -> Result<Procedure> {
        let name = name.to_owned();
        let category = category.to_owned();
        let template = template.to_owned();
        self.engine.call(move |e| async move {
            e.layers()
                .store_procedure(project_id, &name, &category, &template)
                .await
        })
    }

    /// See [`crate::Layers::procedures`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn procedures(&self, project_id: ProjectId) -> Result<Vec<Procedure>> {
        self.engine
            .call(move |e| async move { e.layers().procedures(project_id).await })
    }

    /// See [`crate::Layers::procedure_by_name`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn procedure_by_name(
        &self,
        project_id: ProjectId,
        name: &str,
    ) -> Result<Option<Procedure>> {
        let name = name.to_owned();
        self.engine
            .call(move |e| async move { e.layers().procedure_by_name(project_id, &name).await })
    }

    /// See [`crate::Layers::create_task`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn create_task(
        &self,
        project_id: ProjectId,
        content: &str,
        priority: TaskPriority,
        due_at: Option<Millis>,
    ) -> Result<ProspectiveTask> {
        let content = content.to_owned();
        self.engine.call(move |e| async move {
            e.layers()
                .create_task(project_id, &content, priority, due_at)
                .await
        })
    }

    /// See [`crate::Layers::complete_task`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn complete_task(&self, project_id: ProjectId, id: MemoryId) -> Result<ProspectiveTask> {
        self.engine
            .call(move |e| async move { e.layers().complete_task(project_id, id).await })
    }

    /// See [`crate::Layers::tasks_due_by`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn tasks_due_by(
        &self,
        project_id: ProjectId,
        time: Millis,
    ) -> Result<Vec<ProspectiveTask>> {
        self.engine
            .call(move |e| async move { e.layers().tasks_due_by(project_id, time).await })
    }

    /// See [`crate::Layers::tasks`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn tasks(&self, project_id: ProjectId, status: TaskStatus) -> Result<Vec<ProspectiveTask>> {
        self.engine
            .call(move |e| async move { e.layers().tasks(project_id, status).await })
    }
}

/// The blocking twin of [`crate::RouteLog`]: the route log. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RouteLog {
    engine: Engine,
}

impl RouteLog {
    /// See [`crate::RouteLog::get`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn get(&self, project_id: ProjectId, route_id: RouteId) -> Result<RouteRecord> {
        self.engine
            .call(move |e| async move { e.route_log().get(project_id, route_id).await })
    }

    /// See [`crate::RouteLog::labelled`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn labelled(&self, project_id: Option<ProjectId>) -> Result<Vec<RouteRecord>> {
        self.engine
            .call(move |e| async move { e.route_log().labelled(project_id).await })
    }
}

/// The blocking twin of [`crate::ModelRegistry`]: router models. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    engine: Engine,
}

impl ModelRegistry {
    /// See [`crate::ModelRegistry::active`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn active(&self, scope: ModelScope) -> Result<Option<StoredModel>> {
        self.engine
            .call(move |e| async move { e.models().active(scope).await })
    }

    /// See [`crate::ModelRegistry::list`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn list(&self, scope: ModelScope) -> Result<Vec<StoredModel>> {
        self.engine
            .call(move |e| async move { e.models().list(scope).await })
    }
}

/// A [`RouteInput`] with its content owned, to carry it to the runtime thread.
struct OwnedInput {
    content: String,
    component: Component,
    activation: f64,
    importance: f64,
    age_seconds: f64,
    kind: Option<crate::TextKind>,
}

impl From<&RouteInput<'_>> for OwnedInput {
    fn from(input: &RouteInput<'_>) -> Self {
        OwnedInput {
            content: input.content.to_owned(),
            component: input.component,
            activation: input.activation,
            importance: input.importance,
            age_seconds: input.age_seconds,
            kind: input.kind,
        }
    }
}

impl OwnedInput {
    fn as_input(&self) -> RouteInput<'_> {
        RouteInput {
            content: &self.content,
            component: self.component,
            activation: self.activation,
            importance: self.importance,
            age_seconds: self.age_seconds,
            kind: self.kind,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the sender ends the job loop; the thread then finishes running jobs, closes
        // the pool and exits. Joining is a blocking wait, so step out of a multi-thread worker.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = in_blocking_context(|| thread.join());
        }
    }
}

/// Waits on a std channel without stalling a multi-thread runtime's worker.
fn wait<T>(rx: mpsc::Receiver<T>) -> std::result::Result<T, mpsc::RecvError> {
    in_blocking_context(|| rx.recv())
}

/// Runs a blocking `f`, inside `block_in_place` when on a multi-thread runtime worker. On a
/// current-thread runtime the caller's thread simply blocks: our work runs on our own thread,
/// so nothing it waits for needs the caller's runtime.
fn in_blocking_context<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
