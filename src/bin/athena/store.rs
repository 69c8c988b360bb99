//! The operations both surfaces offer (the command line and the MCP tools), on one project of
//! one engine, with bounded, serialisable results that carry the ids the next call needs.

use std::path::Path;

use athena_memory::{
    corpus, BatchReport, CapacityStatus, Component, ComponentStats, Consolidated, Engine, Error,
    Goal, Item, ItemState, Layer, LayerCounts, Memory, ModelScope, NewGoal, NewItem, Project,
    ProspectiveTask, Reading, RecallHit, Result, RouteRecord, RoutingStats, StoredModel,
    TaskStatus, TextKind, TrainingReport,
};
use athena_memory::{ItemId, MemoryId, ProjectId, RouteId};
use serde::Serialize;

/// Most items a working-memory listing returns.
pub const MAX_LIST: usize = 100;
/// Most pending items one consolidation drains.
pub const MAX_PENDING: u32 = 10_000;
/// Most recall results.
pub const MAX_RECALL: usize = 50;
/// Pending items consolidated per transaction, so progress can be reported between them.
const PENDING_CHUNK: u32 = 250;

/// One engine and the project every operation acts on.
pub struct Store {
    /// The engine.
    pub engine: Engine,
    /// The project.
    pub project: Project,
}

/// A working-memory item as listed: what it says, where it is, how active it is now.
#[derive(Debug, Serialize)]
pub struct ItemView {
    /// Item id (for rehearse and consolidate).
    pub id: ItemId,
    /// Its text.
    pub content: String,
    /// Its component.
    pub component: Component,
    /// Active, or pending consolidation.
    pub state: ItemState,
    /// Current activation, 0..=1.
    pub activation: f64,
    /// Importance, 0..=1.
    pub importance: f64,
    /// Its kind of text, when the caller said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<TextKind>,
    /// Who said or wrote it, when the caller said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// The conversation or task it belongs to, when the caller said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// When it happened (UTC Unix ms).
    pub occurred_at: i64,
}

/// Which items a drain consolidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// Those waiting for consolidation.
    Pending,
    /// Everything in working memory.
    All,
}

/// What the agent knows about a note besides its text: who said it, the conversation or task
/// it belongs to, and when it happened (default: now). Also the `add` command's flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct About {
    /// Who said or wrote it: a person, "user", "assistant", a tool.
    #[arg(long)]
    pub speaker: Option<String>,
    /// The conversation or task it belongs to.
    #[arg(long)]
    pub session: Option<String>,
    /// When it happened, UTC: 2023-05-08, 2023-05-08T13:56, 2023-05-08T13:56:00Z or Unix milliseconds
    /// (default: now).
    #[arg(long = "at", value_parser = parse_time)]
    pub occurred_at: Option<i64>,
}

/// Parses a time given to `--at` or `occurred_at`: see [`athena_memory::time::parse_utc`].
pub fn parse_time(text: &str) -> std::result::Result<i64, String> {
    athena_memory::time::parse_utc(text).ok_or_else(|| {
        format!(
            "{text:?} is not a UTC time: use 2023-05-08, 2023-05-08T13:56:00Z or Unix milliseconds"
        )
    })
}

impl ItemView {
    fn of(item: &Item, now: i64) -> Self {
        ItemView {
            id: item.id,
            content: item.content.clone(),
            component: item.component,
            state: item.state,
            activation: item.activation_at(now),
            importance: item.importance,
            kind: item.kind,
            speaker: item.speaker.clone(),
            session: item.session.clone(),
            occurred_at: item.occurred_at,
        }
    }
}

/// Working memory: the strongest items first, and every component's capacity.
#[derive(Debug, Serialize)]
pub struct WorkingMemoryView {
    /// Active items, strongest first, then pending ones, at most the limit.
    pub items: Vec<ItemView>,
    /// How many items there are in all (active and pending).
    pub total: usize,
    /// Each component's count and capacity.
    pub capacity: Vec<CapacityStatus>,
}

/// One consolidated item: where it went, how sure the router was, and why.
#[derive(Debug, Serialize)]
pub struct ConsolidatedView {
    /// The working-memory item (now gone from working memory).
    pub item_id: ItemId,
    /// The layer it went to.
    pub layer: Layer,
    /// Its id in that layer (for show and forget).
    pub memory_id: MemoryId,
    /// Its route id (for feedback).
    pub route_id: RouteId,
    /// The router's confidence.
    pub confidence: f64,
    /// Why, in words.
    pub why: String,
    /// How the router's text model read the item (its kind given or guessed); absent for the
    /// keyword heuristic and models without a kind-aware text model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_as: Option<Reading>,
}

impl From<&Consolidated> for ConsolidatedView {
    fn from(c: &Consolidated) -> Self {
        ConsolidatedView {
            item_id: c.item_id,
            layer: c.layer,
            memory_id: c.memory_id,
            route_id: c.route_id,
            confidence: c.confidence,
            why: c.explanation.summary.clone(),
            read_as: c.explanation.read_as,
        }
    }
}

/// What a consolidation did.
#[derive(Debug, Serialize)]
pub struct ConsolidationView {
    /// The items consolidated.
    pub consolidated: Vec<ConsolidatedView>,
    /// Requested ids not in this project's working memory.
    pub not_found: Vec<ItemId>,
}

impl From<BatchReport> for ConsolidationView {
    fn from(report: BatchReport) -> Self {
        ConsolidationView {
            consolidated: report.consolidated.iter().map(Into::into).collect(),
            not_found: report.not_found,
        }
    }
}

/// Routing, working-memory and long-term figures of the project.
#[derive(Debug, Serialize)]
pub struct StatsView {
    /// The project.
    pub project: Project,
    /// Routing accuracy and feedback.
    pub routing: RoutingStats,
    /// Per working-memory component.
    pub working_memory: Vec<ComponentStats>,
    /// Rows per long-term layer.
    pub layers: LayerCounts,
}

/// A stored model version, without its body.
#[derive(Debug, Serialize)]
pub struct ModelView {
    /// Version within the project.
    pub version: i64,
    /// Whether it routes the project now.
    pub active: bool,
    /// Its feature schema.
    pub feature_schema: athena_memory::FeatureSchema,
    /// Its accuracy when stored (cross-validated for trained models).
    pub accuracy: f64,
    /// When it was stored (UTC Unix ms).
    pub created_at: i64,
    /// How it is stored: `delta` (what it changed on the routing base) or `whole`.
    pub stored: &'static str,
    /// The bytes it takes in the database.
    pub stored_bytes: usize,
    /// For a delta, the identity of the routing base it was made on (`shipped-…` or `base-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

/// What deactivating the project's model did.
#[derive(Debug, Serialize)]
pub struct Deactivated {
    /// The version that was active, `None` when none was (then nothing changed).
    pub deactivated_version: Option<i64>,
    /// The router that routes the project now: the global model's label or `default`.
    pub routed_by: String,
}

impl From<&StoredModel> for ModelView {
    fn from(m: &StoredModel) -> Self {
        ModelView {
            version: m.version,
            active: m.active,
            feature_schema: m.feature_schema,
            accuracy: m.metrics.accuracy,
            created_at: m.created_at,
            stored: if m.is_delta() { "delta" } else { "whole" },
            stored_bytes: m.model.len(),
            base: m.base_id(),
        }
    }
}

/// What training did, with how many labelled rows were imported first.
#[derive(Debug, Serialize)]
pub struct TrainView {
    /// Rows of the `--from` file added as labels (0 without one).
    pub imported: usize,
    /// The training report.
    pub report: TrainingReport,
}

impl Store {
    /// Adds a note; a `file` makes it a visuospatial item unless `component` says otherwise;
    /// a `kind` tells the router what kind of text it is.
    pub async fn add(
        &self,
        text: &str,
        importance: Option<f64>,
        component: Option<Component>,
        file: Option<&str>,
        kind: Option<TextKind>,
        about: About,
    ) -> Result<ItemView> {
        let mut item = NewItem::new(text);
        if let Some(speaker) = about.speaker {
            item = item.speaker(speaker);
        }
        if let Some(session) = about.session {
            item = item.session(session);
        }
        if let Some(at) = about.occurred_at {
            item = item.occurred_at(at);
        }
        if let Some(path) = file {
            item = item.component(Component::Visuospatial).file_path(path);
        }
        if let Some(c) = component {
            item = item.component(c);
        }
        if let Some(i) = importance {
            item = item.importance(i);
        }
        if let Some(k) = kind {
            item = item.kind(k);
        }
        let wm = self.engine.working_memory();
        let added = wm.add(self.project.id, item).await?;
        let stored = wm.get(self.project.id, added.id).await?;
        Ok(ItemView::of(&stored, athena_memory::time::now_ms()))
    }

    /// Working memory, at most `limit` items (1..=[`MAX_LIST`]).
    pub async fn working_memory(&self, limit: usize) -> Result<WorkingMemoryView> {
        check_range("limit", limit, 1, MAX_LIST)?;
        let wm = self.engine.working_memory();
        let p = self.project.id;
        let mut items = wm.list(p, None, ItemState::Active).await?;
        items.extend(wm.list(p, None, ItemState::Pending).await?);
        let now = athena_memory::time::now_ms();
        Ok(WorkingMemoryView {
            total: items.len(),
            items: items
                .iter()
                .take(limit)
                .map(|i| ItemView::of(i, now))
                .collect(),
            capacity: wm.capacity(p).await?,
        })
    }

    /// Rehearses item `id`.
    pub async fn rehearse(&self, id: ItemId) -> Result<ItemView> {
        let item = self
            .engine
            .working_memory()
            .rehearse(self.project.id, id)
            .await?;
        Ok(ItemView::of(&item, athena_memory::time::now_ms()))
    }

    /// Consolidates the items `ids`.
    pub async fn consolidate(&self, ids: &[ItemId]) -> Result<ConsolidationView> {
        if ids.is_empty() {
            return Err(Error::invalid(
                "ids",
                "give at least one item id, or use pending",
            ));
        }
        Ok(self
            .engine
            .consolidate_batch(self.project.id, ids)
            .await?
            .into())
    }

    /// Drains up to `limit` pending items (1..=[`MAX_PENDING`]) in transactions of 250,
    /// calling `progress(done, total)` after each.
    pub async fn consolidate_pending(
        &self,
        limit: u32,
        progress: impl FnMut(usize, usize),
    ) -> Result<ConsolidationView> {
        self.drain(Drain::Pending, limit, progress).await
    }

    /// Consolidates up to `limit` items of working memory, active or pending (1..=
    /// [`MAX_PENDING`]), in transactions of 250, calling `progress(done, total)` after each.
    pub async fn consolidate_all(
        &self,
        limit: u32,
        progress: impl FnMut(usize, usize),
    ) -> Result<ConsolidationView> {
        self.drain(Drain::All, limit, progress).await
    }

    async fn drain(
        &self,
        what: Drain,
        limit: u32,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ConsolidationView> {
        check_range("limit", limit as usize, 1, MAX_PENDING as usize)?;
        let p = self.project.id;
        let wm = self.engine.working_memory();
        let mut waiting = wm.pending(p, limit).await?.len();
        if what == Drain::All {
            waiting += wm.list(p, None, ItemState::Active).await?.len();
        }
        let waiting = waiting.min(limit as usize);
        let mut all = BatchReport::default();
        while all.consolidated.len() < waiting {
            let chunk = ((waiting - all.consolidated.len()) as u32).min(PENDING_CHUNK);
            let report = match what {
                Drain::Pending => self.engine.consolidate_pending(p, chunk).await?,
                Drain::All => self.engine.consolidate_all(p, chunk).await?,
            };
            if report.consolidated.is_empty() {
                break; // another worker drained the rest
            }
            all.consolidated.extend(report.consolidated);
            progress(all.consolidated.len(), waiting);
        }
        Ok(all.into())
    }

    /// Recall, `k` results (1..=[`MAX_RECALL`]): working memory and every layer when `layers`
    /// is empty, else only those layers.
    pub async fn recall(&self, query: &str, k: usize, layers: &[Layer]) -> Result<Vec<RecallHit>> {
        check_range("k", k, 1, MAX_RECALL)?;
        self.engine
            .recall_in(self.project.id, query, k, layers)
            .await
    }

    /// One long-term memory.
    pub async fn show(&self, layer: Layer, id: MemoryId) -> Result<Memory> {
        self.engine.layers().get(self.project.id, layer, id).await
    }

    /// Deletes one long-term memory.
    pub async fn forget(&self, layer: Layer, id: MemoryId) -> Result<()> {
        if self
            .engine
            .layers()
            .forget(self.project.id, layer, id)
            .await?
        {
            Ok(())
        } else {
            Err(not_found(layer, id, self.project.id))
        }
    }

    /// Records where a consolidated item belonged.
    pub async fn feedback(&self, route_id: RouteId, layer: Layer) -> Result<RouteRecord> {
        self.engine.feedback(self.project.id, route_id, layer).await
    }

    /// Imports the labelled rows of `from` (if given) as this project's feedback, in one
    /// transaction, then trains.
    pub async fn train(&self, from: Option<&Path>) -> Result<TrainView> {
        let mut imported = 0;
        if let Some(path) = from {
            let rows = corpus::load(path)?;
            let labels = labels_of(&rows)?;
            let labelled: Vec<_> = rows.iter().map(|r| r.as_input()).zip(labels).collect();
            imported = self
                .engine
                .import_labels(self.project.id, &labelled)
                .await?
                .len();
        }
        let report = self.engine.train(self.project.id).await?;
        Ok(TrainView { imported, report })
    }

    /// Every model version of the project, newest first.
    pub async fn models(&self) -> Result<Vec<ModelView>> {
        Ok(self
            .stored_models()
            .await?
            .iter()
            .map(ModelView::from)
            .collect())
    }

    /// Every stored model version of the project, newest first.
    async fn stored_models(&self) -> Result<Vec<StoredModel>> {
        let mut models = self
            .engine
            .models()
            .list(ModelScope::Project(self.project.id))
            .await?;
        models.sort_by_key(|m| std::cmp::Reverse(m.version));
        Ok(models)
    }

    /// Activates the version before the active one.
    pub async fn rollback(&self) -> Result<StoredModel> {
        self.engine.rollback_model(self.project.id).await
    }

    /// Stops routing with the project's own models (they stay stored): the global model, else
    /// the shipped default, routes it again.
    pub async fn deactivate(&self) -> Result<Deactivated> {
        let was = self.engine.deactivate_model(self.project.id).await?;
        let router = self.engine.router(self.project.id).await?;
        Ok(Deactivated {
            deactivated_version: was.map(|m| m.version),
            routed_by: router.model_label().to_string(),
        })
    }

    /// Routing, working-memory and layer figures.
    pub async fn stats(&self) -> Result<StatsView> {
        let p = self.project.id;
        Ok(StatsView {
            project: self.project.clone(),
            routing: self.engine.routing_stats(p).await?,
            working_memory: self.engine.working_memory().stats(p).await?,
            layers: self.engine.layers().count(p).await?,
        })
    }

    /// Active goals, by priority.
    pub async fn goals(&self) -> Result<Vec<Goal>> {
        self.engine
            .working_memory()
            .goals()
            .active(self.project.id)
            .await
    }

    /// Sets a goal.
    pub async fn set_goal(&self, text: &str, priority: Option<i64>) -> Result<Goal> {
        let mut goal = NewGoal::new(text);
        if let Some(p) = priority {
            goal = goal.priority(p);
        }
        self.engine
            .working_memory()
            .goals()
            .add(self.project.id, goal)
            .await
    }

    /// Completes a goal and its sub-goals; returns their ids.
    pub async fn complete_goal(&self, id: i64) -> Result<Vec<i64>> {
        self.engine
            .working_memory()
            .goals()
            .complete(self.project.id, id, true)
            .await
    }

    /// Open tasks (pending, then in progress), at most `limit` (1..=[`MAX_LIST`]).
    pub async fn tasks(&self, limit: usize) -> Result<Vec<ProspectiveTask>> {
        check_range("limit", limit, 1, MAX_LIST)?;
        let layers = self.engine.layers();
        let mut tasks = layers
            .list_tasks(self.project.id, TaskStatus::Pending)
            .await?;
        tasks.extend(
            layers
                .list_tasks(self.project.id, TaskStatus::InProgress)
                .await?,
        );
        tasks.truncate(limit);
        Ok(tasks)
    }

    /// Completes a task.
    pub async fn complete_task(&self, id: MemoryId) -> Result<ProspectiveTask> {
        self.engine
            .layers()
            .complete_task(self.project.id, id)
            .await
    }
}

/// Each row's layer; every row of a `--from` file must have one.
fn labels_of(rows: &[corpus::CorpusItem]) -> Result<Vec<Layer>> {
    rows.iter()
        .enumerate()
        .map(|(n, row)| {
            row.layer.ok_or_else(|| {
                Error::invalid(
                    "layer",
                    format!(
                        "row {} has none; training from a file needs every row labelled",
                        n + 1
                    ),
                )
            })
        })
        .collect()
}

/// `value` must lie within `lo..=hi`.
pub fn check_range(field: &'static str, value: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be within {lo}..={hi}, got {value}"),
        ))
    }
}

/// The error for a long-term memory that is not in the project.
fn not_found(layer: Layer, id: MemoryId, project_id: ProjectId) -> Error {
    Error::NotFound {
        entity: athena_memory::Entity::Memory(layer),
        id: id.0,
        project_id,
    }
}
