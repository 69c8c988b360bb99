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
    OwnedRouteInput, Place, PoolStats, Procedure, Project, ProspectiveTask, RecallHit, Result,
    RouteDecision, RouteInput, RouteRecord, Router, RoutingStats, SearchHit, SemanticMemory,
    SemanticSort, StoredModel, TaskPriority, TaskStatus, TrainingReport, TreeModel,
};

/// The parameter type of a twin's argument: `val T` is taken as it is, `by_ref T` borrowed
/// (`&T`) and `opt_ref T` optionally borrowed (`Option<&T>`).
macro_rules! twin_param {
    (val $ty:ty) => { $ty };
    (by_ref $ty:ty) => { &$ty };
    (opt_ref $ty:ty) => { Option<&$ty> };
}

/// What a twin owns of an argument to carry it to the runtime thread.
macro_rules! twin_own {
    (val $arg:ident) => {};
    (by_ref $arg:ident) => {
        let $arg = $arg.to_owned();
    };
    (opt_ref $arg:ident) => {
        let $arg = $arg.map(ToOwned::to_owned);
    };
}

/// How a twin hands an owned argument to the async method.
macro_rules! twin_pass {
    (val $arg:ident) => {
        $arg
    };
    (by_ref $arg:ident) => {
        &$arg
    };
    (opt_ref $arg:ident) => {
        $arg.as_deref()
    };
}

/// The blocking twins of `$handle`'s async methods, from one list of their signatures: each
/// copies what it borrows, sends the call to the runtime thread and waits for its result.
/// `$access` reaches the async handle from the async engine `$e`.
macro_rules! twins {
    ($handle:ident via |$e:ident| $access:expr; $(
        fn $name:ident($($arg:ident: $mode:ident $ty:ty),* $(,)?) -> $ret:ty;
    )*) => {
        impl $handle {$(
            #[doc = concat!("See [`crate", "::", stringify!($handle), "::", stringify!($name), "`].")]
            ///
            /// # Errors
            /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
            pub fn $name(&self $(, $arg: twin_param!($mode $ty))*) -> Result<$ret> {
                $(twin_own!($mode $arg);)*
                Twin::engine(self).call(move |$e| async move {
                    $access.$name($(twin_pass!($mode $arg)),*).await
                })
            }
        )*}
    };
}

/// The blocking engine behind a handle.
trait Twin {
    fn engine(&self) -> &Engine;
}

impl Twin for Engine {
    fn engine(&self) -> &Engine {
        self
    }
}

macro_rules! twin_handles {
    ($($handle:ident),*) => {$(
        impl Twin for $handle {
            fn engine(&self) -> &Engine {
                &self.engine
            }
        }
    )*};
}

twin_handles!(
    Projects,
    WorkingMemory,
    Goals,
    Layers,
    RouteLog,
    ModelRegistry
);

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

    /// See [`crate::Engine::route`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn route(&self, project_id: ProjectId, input: &RouteInput<'_>) -> Result<RouteDecision> {
        let input = input.into_owned();
        self.call(move |e| async move { e.route(project_id, &input.as_input()).await })
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
        let labels: Vec<(OwnedRouteInput, Layer)> = labels
            .iter()
            .map(|(input, layer)| (input.into_owned(), *layer))
            .collect();
        self.call(move |e| async move {
            let borrowed: Vec<(RouteInput<'_>, Layer)> = labels
                .iter()
                .map(|(input, layer)| (input.as_input(), *layer))
                .collect();
            e.import_labels(project_id, &borrowed).await
        })
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

twins! {
    Engine via |e| e;
    fn router(project_id: val ProjectId) -> Router;
    fn refresh_router(project_id: val ProjectId) -> Router;
    fn feedback(project_id: val ProjectId, route_id: val RouteId, correct: val Layer) -> RouteRecord;
    fn train(project_id: val ProjectId) -> TrainingReport;
    fn activate_model(project_id: val ProjectId, version: val i64) -> StoredModel;
    fn activate_global_model(version: val i64) -> StoredModel;
    fn deactivate_model(project_id: val ProjectId) -> Option<StoredModel>;
    fn deactivate_global_model() -> Option<StoredModel>;
    fn rollback_model(project_id: val ProjectId) -> StoredModel;
    fn store_model(scope: val ModelScope, model: by_ref TreeModel, activate: val bool) -> StoredModel;
    fn export_model(project_id: val ProjectId, path: by_ref Path) -> ();
    fn import_model(project_id: val ProjectId, path: by_ref Path, activate: val bool) -> StoredModel;
    fn routing_stats(project_id: val ProjectId) -> RoutingStats;
    fn consolidate(project_id: val ProjectId, item_id: val ItemId) -> Consolidated;
    fn consolidate_as(project_id: val ProjectId, item_id: val ItemId, layer: val Layer) -> Consolidated;
    fn consolidate_batch(project_id: val ProjectId, ids: by_ref [ItemId]) -> BatchReport;
    fn consolidate_pending(project_id: val ProjectId, limit: val u32) -> BatchReport;
    fn consolidate_all(project_id: val ProjectId, limit: val u32) -> BatchReport;
    fn indexed_terms(project_id: val ProjectId, place: val Place, id: val i64) -> Vec<(String, i64)>;
    fn recall(project_id: val ProjectId, query: by_ref str, k: val usize) -> Vec<RecallHit>;
    fn recall_in(project_id: val ProjectId, query: by_ref str, k: val usize, layers: by_ref [Layer]) -> Vec<RecallHit>;
}

/// The blocking twin of [`crate::Projects`]: projects. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Projects {
    engine: Engine,
}

twins! {
    Projects via |e| e.projects();
    fn get_or_create(path: by_ref str, name: opt_ref str) -> Project;
    fn get(id: val ProjectId) -> Option<Project>;
    fn find_by_path(path: by_ref str) -> Option<Project>;
    fn require(path: by_ref str) -> Project;
    fn list() -> Vec<Project>;
    fn ensure_exists(id: val ProjectId) -> ();
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
}

twins! {
    WorkingMemory via |e| e.working_memory();
    fn add(project_id: val ProjectId, item: val NewItem) -> AddOutcome;
    fn sweep(project_id: val ProjectId) -> Vec<ItemId>;
    fn get(project_id: val ProjectId, id: val ItemId) -> Item;
    fn rehearse(project_id: val ProjectId, id: val ItemId) -> Item;
    fn list(project_id: val ProjectId, component: val Option<Component>, state: val ItemState) -> Vec<Item>;
    fn pending(project_id: val ProjectId, limit: val u32) -> Vec<Item>;
    fn activations_at(project_id: val ProjectId, now: val Millis) -> Vec<(ItemId, f64)>;
    fn capacity(project_id: val ProjectId) -> Vec<CapacityStatus>;
    fn find_by_directory(project_id: val ProjectId, directory: by_ref str) -> Vec<Item>;
    fn spatial_neighbours(project_id: val ProjectId, path: by_ref str) -> Vec<Item>;
    fn search(project_id: val ProjectId, query: by_ref str, k: val usize, query_embedding: opt_ref [f32]) -> Vec<SearchHit>;
    fn stats(project_id: val ProjectId) -> Vec<ComponentStats>;
}

/// The blocking twin of [`crate::Goals`]: the central executive's goals. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Goals {
    engine: Engine,
}

twins! {
    Goals via |e| e.working_memory().goals();
    fn add(project_id: val ProjectId, goal: val NewGoal) -> Goal;
    fn get(project_id: val ProjectId, id: val i64) -> Goal;
    fn active(project_id: val ProjectId) -> Vec<Goal>;
    fn set_progress(project_id: val ProjectId, id: val i64, progress: val f64) -> Goal;
    fn complete(project_id: val ProjectId, id: val i64, cascade: val bool) -> Vec<i64>;
    fn suspend(project_id: val ProjectId, id: val i64) -> Goal;
    fn resume(project_id: val ProjectId, id: val i64) -> Goal;
    fn hierarchy(project_id: val ProjectId) -> Vec<GoalNode>;
    fn focus(project_id: val ProjectId, target: val FocusTarget, target_id: val i64, weight: val f64) -> Focus;
    fn attention(project_id: val ProjectId) -> Vec<Focus>;
}

/// The blocking twin of [`crate::Layers`]: the four long-term layers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Layers {
    engine: Engine,
}

impl Layers {
    /// See [`crate::Layers::add_semantic`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn add_semantic(
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
                .add_semantic(
                    project_id,
                    &content,
                    memory_type,
                    &tags.iter().map(String::as_str).collect::<Vec<&str>>(),
                )
                .await
        })
    }

    /// See [`crate::Layers::add_semantic_all`].
    ///
    /// # Errors
    /// As the async method, or [`Error::RuntimeGone`] if the runtime thread has stopped.
    pub fn add_semantic_all<S: AsRef<str>>(
        &self,
        project_id: ProjectId,
        contents: &[S],
        memory_type: MemoryType,
    ) -> Result<Vec<MemoryId>> {
        let contents: Vec<String> = contents.iter().map(|c| c.as_ref().to_owned()).collect();
        self.engine.call(move |e| async move {
            e.layers()
                .add_semantic_all(project_id, &contents, memory_type)
                .await
        })
    }
}

twins! {
    Layers via |e| e.layers();
    fn get(project_id: val ProjectId, layer: val Layer, id: val MemoryId) -> Memory;
    fn forget(project_id: val ProjectId, layer: val Layer, id: val MemoryId) -> bool;
    fn count(project_id: val ProjectId) -> LayerCounts;
    fn get_semantic(project_id: val ProjectId, id: val MemoryId) -> SemanticMemory;
    fn list_semantic(project_id: val ProjectId, sort: val SemanticSort, limit: val u32) -> Vec<SemanticMemory>;
    fn mark_useful(project_id: val ProjectId, id: val MemoryId) -> f64;
    fn update_semantic(project_id: val ProjectId, id: val MemoryId, content: by_ref str, reason: by_ref str) -> SemanticMemory;
    fn history(project_id: val ProjectId, id: val MemoryId) -> Vec<SemanticMemory>;
    fn add_event(project_id: val ProjectId, content: by_ref str, event_type: by_ref str, session_id: by_ref str, occurred_at: val Millis) -> EpisodicEvent;
    fn list_events(project_id: val ProjectId, from: val Millis, to: val Millis, event_type: opt_ref str) -> Vec<EpisodicEvent>;
    fn add_procedure(project_id: val ProjectId, name: by_ref str, category: by_ref str, template: by_ref str) -> Procedure;
    fn list_procedures(project_id: val ProjectId) -> Vec<Procedure>;
    fn find_procedure(project_id: val ProjectId, name: by_ref str) -> Option<Procedure>;
    fn add_task(project_id: val ProjectId, content: by_ref str, priority: val TaskPriority, due_at: val Option<Millis>) -> ProspectiveTask;
    fn complete_task(project_id: val ProjectId, id: val MemoryId) -> ProspectiveTask;
    fn list_tasks_due(project_id: val ProjectId, time: val Millis) -> Vec<ProspectiveTask>;
    fn list_tasks(project_id: val ProjectId, status: val TaskStatus) -> Vec<ProspectiveTask>;
}

/// The blocking twin of [`crate::RouteLog`]: the route log (its reads; labels go through
/// [`Engine::feedback`] and [`Engine::import_labels`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct RouteLog {
    engine: Engine,
}

twins! {
    RouteLog via |e| e.route_log();
    fn get(project_id: val ProjectId, route_id: val RouteId) -> RouteRecord;
    fn labelled(project_id: val Option<ProjectId>) -> Vec<RouteRecord>;
}

/// The blocking twin of [`crate::ModelRegistry`]: stored router models (its reads; models are
/// stored and activated through [`Engine`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    engine: Engine,
}

twins! {
    ModelRegistry via |e| e.models();
    fn active(scope: val ModelScope) -> Option<StoredModel>;
    fn list(scope: val ModelScope) -> Vec<StoredModel>;
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
