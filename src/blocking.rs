//! The sync front door, for callers without an async runtime.
//!
//! [`Engine`] owns a private current-thread tokio runtime on a thread of its own; the pool is
//! built there and every call is sent there as a job, while the caller waits on a channel (the
//! `reqwest::blocking` pattern). Waiting uses `block_in_place` when the caller is itself a
//! multi-thread runtime worker, so it works from a plain thread, from inside either runtime
//! flavour, from many threads at once, and it may be dropped anywhere. That one bridge,
//! [`Engine::call`], carries every operation: the common ones have methods here, and any other
//! async operation runs through it directly, e.g.
//! `engine.call(move |e| async move { e.layers().history(project, id).await })`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::mpsc as tokio_mpsc;

use crate::config::Config;
use crate::consolidate::{BatchReport, Consolidated};
use crate::db::layers::{
    EpisodicEvent, MemoryType, ProspectiveTask, SemanticMemory, TaskPriority, TaskStatus,
};
use crate::db::projects::Project;
use crate::db::recall::RecallHit;
use crate::db::routes::{RouteRecord, RoutingStats};
use crate::db::{HealthReport, PoolStats};
use crate::engine::TrainingReport;
use crate::error::{Error, Result};
use crate::item::Component;
use crate::item::ItemState;
use crate::layer::Layer;
use crate::router::RouteDecision;
use crate::time::Millis;
use crate::working_memory::{AddOutcome, CapacityStatus, Item, NewItem, SearchHit};

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

    /// See [`crate::db::projects::Projects::get_or_create`].
    ///
    /// # Errors
    /// As the async method.
    pub fn get_or_create_project(&self, path: &str, name: Option<&str>) -> Result<Project> {
        let (path, name) = (path.to_owned(), name.map(str::to_owned));
        self.call(move |e| async move { e.projects().get_or_create(&path, name.as_deref()).await })
    }

    /// See [`crate::db::projects::Projects::find_by_path`].
    ///
    /// # Errors
    /// As the async method.
    pub fn find_project(&self, path: &str) -> Result<Option<Project>> {
        let path = path.to_owned();
        self.call(move |e| async move { e.projects().find_by_path(&path).await })
    }

    /// See [`crate::db::projects::Projects::require`].
    ///
    /// # Errors
    /// As the async method.
    pub fn require_project(&self, path: &str) -> Result<Project> {
        let path = path.to_owned();
        self.call(move |e| async move { e.projects().require(&path).await })
    }

    /// See [`crate::db::layers::Layers::remember`].
    ///
    /// # Errors
    /// As the async method.
    pub fn remember(
        &self,
        project_id: i64,
        content: &str,
        memory_type: MemoryType,
        tags: &[&str],
    ) -> Result<SemanticMemory> {
        let content = content.to_owned();
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        self.call(move |e| async move {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            e.layers()
                .remember(project_id, &content, memory_type, &tags)
                .await
        })
    }

    /// See [`crate::db::layers::Layers::record_event`].
    ///
    /// # Errors
    /// As the async method.
    pub fn record_event(
        &self,
        project_id: i64,
        content: &str,
        event_type: &str,
        session_id: &str,
        occurred_at: Millis,
    ) -> Result<EpisodicEvent> {
        let (content, event_type, session_id) = (
            content.to_owned(),
            event_type.to_owned(),
            session_id.to_owned(),
        );
        self.call(move |e| async move {
            e.layers()
                .record_event(project_id, &content, &event_type, &session_id, occurred_at)
                .await
        })
    }

    /// See [`crate::db::layers::Layers::create_task`].
    ///
    /// # Errors
    /// As the async method.
    pub fn create_task(
        &self,
        project_id: i64,
        content: &str,
        priority: TaskPriority,
        due_at: Option<Millis>,
    ) -> Result<ProspectiveTask> {
        let content = content.to_owned();
        self.call(move |e| async move {
            e.layers()
                .create_task(project_id, &content, priority, due_at)
                .await
        })
    }

    /// See [`crate::db::layers::Layers::tasks`].
    ///
    /// # Errors
    /// As the async method.
    pub fn tasks(&self, project_id: i64, status: TaskStatus) -> Result<Vec<ProspectiveTask>> {
        self.call(move |e| async move { e.layers().tasks(project_id, status).await })
    }

    /// See [`crate::WorkingMemory::add`].
    ///
    /// # Errors
    /// As the async method.
    pub fn add_item(&self, project_id: i64, item: NewItem) -> Result<AddOutcome> {
        self.call(move |e| async move { e.working_memory().add(project_id, item).await })
    }

    /// See [`crate::WorkingMemory::get`].
    ///
    /// # Errors
    /// As the async method.
    pub fn get_item(&self, project_id: i64, id: i64) -> Result<Item> {
        self.call(move |e| async move { e.working_memory().get(project_id, id).await })
    }

    /// See [`crate::WorkingMemory::rehearse`].
    ///
    /// # Errors
    /// As the async method.
    pub fn rehearse(&self, project_id: i64, id: i64) -> Result<Item> {
        self.call(move |e| async move { e.working_memory().rehearse(project_id, id).await })
    }

    /// See [`crate::WorkingMemory::list`].
    ///
    /// # Errors
    /// As the async method.
    pub fn list_items(
        &self,
        project_id: i64,
        component: Option<Component>,
        state: ItemState,
    ) -> Result<Vec<Item>> {
        self.call(
            move |e| async move { e.working_memory().list(project_id, component, state).await },
        )
    }

    /// See [`crate::WorkingMemory::capacity`].
    ///
    /// # Errors
    /// As the async method.
    pub fn capacity(&self, project_id: i64) -> Result<Vec<CapacityStatus>> {
        self.call(move |e| async move { e.working_memory().capacity(project_id).await })
    }

    /// See [`crate::WorkingMemory::search`].
    ///
    /// # Errors
    /// As the async method.
    pub fn search(&self, project_id: i64, query: &str, k: usize) -> Result<Vec<SearchHit>> {
        let query = query.to_owned();
        self.call(
            move |e| async move { e.working_memory().search(project_id, &query, k, None).await },
        )
    }

    /// See [`crate::Engine::route`]; the decision for a stored working-memory item.
    ///
    /// # Errors
    /// As the async methods.
    pub fn route_item(&self, project_id: i64, item_id: i64) -> Result<RouteDecision> {
        self.call(move |e| async move {
            let item = e.working_memory().get(project_id, item_id).await?;
            e.route(project_id, &item.route_input(crate::time::now_ms()))
                .await
        })
    }

    /// See [`crate::Engine::consolidate`].
    ///
    /// # Errors
    /// As the async method.
    pub fn consolidate(&self, project_id: i64, item_id: i64) -> Result<Consolidated> {
        self.call(move |e| async move { e.consolidate(project_id, item_id).await })
    }

    /// See [`crate::Engine::consolidate_batch`].
    ///
    /// # Errors
    /// As the async method.
    pub fn consolidate_batch(&self, project_id: i64, ids: &[i64]) -> Result<BatchReport> {
        let ids = ids.to_vec();
        self.call(move |e| async move { e.consolidate_batch(project_id, &ids).await })
    }

    /// See [`crate::Engine::consolidate_pending`].
    ///
    /// # Errors
    /// As the async method.
    pub fn consolidate_pending(&self, project_id: i64, limit: u32) -> Result<Vec<Consolidated>> {
        self.call(move |e| async move { e.consolidate_pending(project_id, limit).await })
    }

    /// See [`crate::Engine::recall`].
    ///
    /// # Errors
    /// As the async method.
    pub fn recall(&self, project_id: i64, query: &str, k: usize) -> Result<Vec<RecallHit>> {
        let query = query.to_owned();
        self.call(move |e| async move { e.recall(project_id, &query, k).await })
    }

    /// See [`crate::Engine::feedback`].
    ///
    /// # Errors
    /// As the async method.
    pub fn feedback(&self, project_id: i64, route_id: i64, correct: Layer) -> Result<RouteRecord> {
        self.call(move |e| async move { e.feedback(project_id, route_id, correct).await })
    }

    /// See [`crate::Engine::train`].
    ///
    /// # Errors
    /// As the async method.
    pub fn train(&self, project_id: i64) -> Result<TrainingReport> {
        self.call(move |e| async move { e.train(project_id).await })
    }

    /// See [`crate::Engine::routing_stats`].
    ///
    /// # Errors
    /// As the async method.
    pub fn routing_stats(&self, project_id: i64) -> Result<RoutingStats> {
        self.call(move |e| async move { e.routing_stats(project_id).await })
    }

    /// Connection-pool statistics.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.engine.pool_stats()
    }

    /// See [`crate::Engine::health_check`].
    pub fn health_check(&self) -> HealthReport {
        self.call(|e| async move { Ok(e.health_check().await) })
            .unwrap_or_else(|err| HealthReport {
                status: crate::db::HealthStatus::Unhealthy,
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
