//! The four long-term layers: `semantic_memories`, `episodic_events`, `procedures` and
//! `prospective_tasks`. Every call is scoped by project id; an id of another project is
//! "not found".

use serde_json::Value;

use crate::db::recall::{index, unindex, NewDoc};
use crate::db::{fetch_rows, insert_rows, on_pool, on_tx, Database, WriteTx};
use crate::enum_str::string_enum;
use crate::error::{check_text, Entity, Error, Result};
use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::layer::Layer;
use crate::recall::Place;
use crate::time::{now_ms, Millis};

/// Longest content accepted for a long-term memory, in characters.
pub const MAX_CONTENT_CHARS: usize = 100_000;

string_enum! {
    /// Kinds of semantic memory.
    pub enum MemoryType as "memory_type" {
        /// A fact about the world or the code.
        Fact => "fact",
        /// A recurring pattern.
        Pattern => "pattern",
        /// A decision and its rationale.
        Decision => "decision",
        /// Background context.
        Context => "context",
    }
}

string_enum! {
    /// Lifecycle of a prospective task.
    pub enum TaskStatus as "status" {
        /// Not started.
        Pending => "pending",
        /// Being worked on.
        InProgress => "in_progress",
        /// Done.
        Completed => "completed",
    }
}

string_enum! {
    /// Priority of a prospective task.
    pub enum TaskPriority as "priority" {
        /// Low.
        Low => "low",
        /// Medium (the default).
        Medium => "medium",
        /// High.
        High => "high",
    }
}

/// A row of `semantic_memories`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct SemanticMemory {
    /// Id.
    pub id: MemoryId,
    /// Owning project.
    pub project_id: ProjectId,
    /// The fact.
    pub content: String,
    /// Fact, pattern, decision or context.
    pub memory_type: MemoryType,
    /// Tags, as a JSON array of strings.
    #[sqlx(json)]
    pub tags: Vec<String>,
    /// How useful it proved (incremented by [`Layers::mark_useful`]).
    pub usefulness: f64,
    /// How often it was read with [`Layers::semantic`].
    pub access_count: i64,
    /// Version number, from 1; [`Layers::update_semantic`] creates the next.
    pub version: i64,
    /// The version this one replaced.
    pub supersedes_id: Option<MemoryId>,
    /// The version that replaced this one (`None` for the current version).
    pub superseded_by: Option<MemoryId>,
    /// Why this version was written (for updates).
    pub update_reason: Option<String>,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<ItemId>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<RouteId>,
    /// Provenance and other metadata.
    #[sqlx(json)]
    pub metadata: Value,
    /// Creation time (UTC Unix ms).
    pub created_at: Millis,
    /// Last read or write (UTC Unix ms).
    pub last_accessed_at: Millis,
}

/// A row of `episodic_events`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct EpisodicEvent {
    /// Id.
    pub id: MemoryId,
    /// Owning project.
    pub project_id: ProjectId,
    /// What happened.
    pub content: String,
    /// Kind of event, e.g. `action`.
    pub event_type: String,
    /// Session it belongs to.
    pub session_id: String,
    /// When it happened (UTC Unix ms).
    pub occurred_at: Millis,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<ItemId>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<RouteId>,
    /// Provenance and other metadata.
    #[sqlx(json)]
    pub metadata: Value,
}

/// A row of `procedures`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct Procedure {
    /// Id.
    pub id: MemoryId,
    /// Owning project.
    pub project_id: ProjectId,
    /// Unique name within the project.
    pub name: String,
    /// Category, e.g. `workflow`.
    pub category: String,
    /// The procedure's text.
    pub template: String,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<ItemId>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<RouteId>,
    /// Provenance and other metadata.
    #[sqlx(json)]
    pub metadata: Value,
}

/// A row of `prospective_tasks`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct ProspectiveTask {
    /// Id.
    pub id: MemoryId,
    /// Owning project.
    pub project_id: ProjectId,
    /// What is to be done.
    pub content: String,
    /// Progressive form shown while working on it.
    pub active_form: String,
    /// Pending, in progress or completed.
    pub status: TaskStatus,
    /// Low, medium or high.
    pub priority: TaskPriority,
    /// Due date (UTC Unix ms), if any.
    pub due_at: Option<Millis>,
    /// When it was completed.
    pub completed_at: Option<Millis>,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<ItemId>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<RouteId>,
    /// Provenance and other metadata.
    #[sqlx(json)]
    pub metadata: Value,
}

string_enum! {
    /// Orders for [`Layers::list_semantic`].
    pub enum SemanticSort as "sort" {
        /// Most useful first.
        Useful => "useful",
        /// Newest first.
        Recent => "recent",
        /// Most recently read first.
        Accessed => "accessed",
    }
}

macro_rules! semantic_columns {
    () => {
        "id, project_id, content, memory_type, tags, usefulness, access_count, version, supersedes_id, superseded_by, update_reason, source_item_id, route_id, metadata, created_at, last_accessed_at"
    };
}
macro_rules! event_columns {
    () => {
        "id, project_id, content, event_type, session_id, occurred_at, source_item_id, route_id, metadata"
    };
}
macro_rules! procedure_columns {
    () => {
        "id, project_id, name, category, template, source_item_id, route_id, metadata"
    };
}
macro_rules! task_columns {
    () => {
        "id, project_id, content, active_form, status, priority, due_at, completed_at, source_item_id, route_id, metadata"
    };
}

/// `Working on: ` followed by the first 50 characters (not bytes) of `content`.
pub fn active_form(content: &str) -> String {
    let head: String = content.chars().take(50).collect();
    format!("Working on: {head}")
}

/// A row of any of the four layers, as [`Layers::memory`] returns it; serialised with its
/// layer as `"layer"` beside the row's fields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "layer", rename_all = "lowercase")]
pub enum Memory {
    /// A semantic memory.
    Semantic(SemanticMemory),
    /// An episodic event.
    Episodic(EpisodicEvent),
    /// A procedure.
    Procedural(Procedure),
    /// A prospective task.
    Prospective(ProspectiveTask),
}

/// How many rows each layer holds for a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct LayerCounts {
    /// Semantic memories (every version).
    pub semantic: i64,
    /// Episodic events.
    pub episodic: i64,
    /// Procedures.
    pub procedural: i64,
    /// Prospective tasks (any status).
    pub prospective: i64,
}

/// Where a new long-term row comes from: a consolidated working-memory item (its id, its
/// route, provenance metadata) or a direct call (none of them, metadata `{}`).
pub(crate) struct Origin {
    pub(crate) source_item_id: Option<ItemId>,
    pub(crate) route_id: Option<RouteId>,
    pub(crate) metadata: Value,
}

impl Origin {
    /// A row stored directly, not consolidated.
    pub(crate) fn direct() -> Self {
        Origin {
            source_item_id: None,
            route_id: None,
            metadata: Value::Object(Default::default()),
        }
    }
}

/// A new `semantic_memories` row.
pub(crate) struct NewSemantic<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) content: &'a str,
    pub(crate) memory_type: MemoryType,
    pub(crate) tags: &'a [&'a str],
    pub(crate) origin: Origin,
    pub(crate) now: Millis,
}

/// A new `episodic_events` row.
pub(crate) struct NewEvent<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) content: &'a str,
    pub(crate) event_type: &'a str,
    pub(crate) session_id: &'a str,
    pub(crate) occurred_at: Millis,
    pub(crate) origin: Origin,
    pub(crate) now: Millis,
}

/// A new `procedures` row.
pub(crate) struct NewProcedure<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) name: String,
    pub(crate) category: &'a str,
    pub(crate) template: &'a str,
    pub(crate) origin: Origin,
    pub(crate) now: Millis,
}

/// A new, pending `prospective_tasks` row.
pub(crate) struct NewTask<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) content: &'a str,
    pub(crate) priority: TaskPriority,
    pub(crate) due_at: Option<Millis>,
    pub(crate) origin: Origin,
    pub(crate) now: Millis,
}

/// `(id, source_item_id)` of an inserted long-term row: just what consolidation needs, so a
/// batch decodes two numbers per row; single-row calls read the full row back by id.
pub(crate) type Inserted = (MemoryId, Option<ItemId>);

/// Inserts semantic memories (one or many); returns their ids.
pub(crate) async fn insert_semantic(
    tx: &mut WriteTx,
    rows: &[NewSemantic<'_>],
) -> Result<Vec<Inserted>> {
    Ok(insert_rows!(
        tx,
        Inserted,
        rows,
        "INSERT INTO semantic_memories (project_id, content, memory_type, tags, source_item_id, route_id, metadata, created_at, last_accessed_at) ",
        " RETURNING id, source_item_id",
        |b, r| {
            b.push_bind(r.project_id)
                .push_bind(r.content)
                .push_bind(r.memory_type.as_str())
                .push_bind(sqlx::types::Json(r.tags))
                .push_bind(r.origin.source_item_id)
                .push_bind(r.origin.route_id)
                .push_bind(sqlx::types::Json(&r.origin.metadata))
                .push_bind(r.now)
                .push_bind(r.now);
        }
    ))
}

/// Inserts episodic events (one or many); returns their ids.
pub(crate) async fn insert_events(
    tx: &mut WriteTx,
    rows: &[NewEvent<'_>],
) -> Result<Vec<Inserted>> {
    Ok(insert_rows!(
        tx,
        Inserted,
        rows,
        "INSERT INTO episodic_events (project_id, content, event_type, session_id, occurred_at, source_item_id, route_id, metadata, created_at) ",
        " RETURNING id, source_item_id",
        |b, r| {
            b.push_bind(r.project_id)
                .push_bind(r.content)
                .push_bind(r.event_type)
                .push_bind(r.session_id)
                .push_bind(r.occurred_at)
                .push_bind(r.origin.source_item_id)
                .push_bind(r.origin.route_id)
                .push_bind(sqlx::types::Json(&r.origin.metadata))
                .push_bind(r.now);
        }
    ))
}

/// Inserts procedures (one or many); returns their ids.
pub(crate) async fn insert_procedures(
    tx: &mut WriteTx,
    rows: &[NewProcedure<'_>],
) -> Result<Vec<Inserted>> {
    Ok(insert_rows!(
        tx,
        Inserted,
        rows,
        "INSERT INTO procedures (project_id, name, category, template, source_item_id, route_id, metadata, created_at) ",
        " RETURNING id, source_item_id",
        |b, r| {
            b.push_bind(r.project_id)
                .push_bind(r.name.as_str())
                .push_bind(r.category)
                .push_bind(r.template)
                .push_bind(r.origin.source_item_id)
                .push_bind(r.origin.route_id)
                .push_bind(sqlx::types::Json(&r.origin.metadata))
                .push_bind(r.now);
        }
    ))
}

/// Inserts pending tasks (one or many); returns their ids.
pub(crate) async fn insert_tasks(tx: &mut WriteTx, rows: &[NewTask<'_>]) -> Result<Vec<Inserted>> {
    Ok(insert_rows!(
        tx,
        Inserted,
        rows,
        "INSERT INTO prospective_tasks (project_id, content, active_form, status, priority, due_at, source_item_id, route_id, metadata, created_at) ",
        " RETURNING id, source_item_id",
        |b, r| {
            b.push_bind(r.project_id)
                .push_bind(r.content)
                .push_bind(active_form(r.content))
                .push_bind(TaskStatus::Pending.as_str())
                .push_bind(r.priority.as_str())
                .push_bind(r.due_at)
                .push_bind(r.origin.source_item_id)
                .push_bind(r.origin.route_id)
                .push_bind(sqlx::types::Json(&r.origin.metadata))
                .push_bind(r.now);
        }
    ))
}

/// Locks semantic memory `id` of the project for an update and checks it is the current
/// version: concurrent updates of one memory take turns, the first supersedes it and the others
/// then read it superseded and are refused, never forking history.
async fn lock_current(
    tx: &mut WriteTx,
    project_id: ProjectId,
    id: MemoryId,
) -> Result<SemanticMemory> {
    const OLD: &str = concat!(
        "SELECT ",
        semantic_columns!(),
        " FROM semantic_memories WHERE project_id = $1 AND id = $2"
    );
    let sql = format!("{OLD}{}", tx.backend().for_update());
    let old: Option<SemanticMemory> =
        on_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(project_id)
            .bind(id)
            .fetch_optional(conn)
            .await?);
    let old = old.ok_or(Error::NotFound {
        entity: Entity::Memory(Layer::Semantic),
        id: id.0,
        project_id,
    })?;
    match old.superseded_by {
        Some(newer) => Err(Error::invalid(
            "id",
            format!("semantic memory {id} is superseded by {newer}; update the current version"),
        )),
        None => Ok(old),
    }
}

/// Runs one insert function on one row in its own transaction, indexes the row for recall as
/// `|id| doc` describes it, and returns the stored row.
macro_rules! insert_one {
    ($db:expr, $insert:ident, $row:expr, $out:ty, $table:literal, $columns:ident, |$id:ident| $doc:expr) => {{
        const SQL: &str = concat!("SELECT ", $columns!(), " FROM ", $table, " WHERE id = $1");
        let mut tx = $db.begin_write().await?;
        let (id, _) = $insert(&mut tx, &[$row]).await?[0];
        let $id = id;
        crate::db::recall::index(&mut tx, &[$doc]).await?;
        let stored: $out = on_tx!(&mut tx, |conn| sqlx::query_as(SQL)
            .bind(id)
            .fetch_one(conn)
            .await?);
        tx.commit().await?;
        stored
    }};
}

/// Repository of the four long-term layers.
#[derive(Debug, Clone)]
pub struct Layers {
    db: Database,
}

impl Layers {
    /// The repository over `db`.
    pub(crate) fn new(db: Database) -> Self {
        Layers { db }
    }

    /// Stores a semantic memory.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty or over-long content or an empty tag;
    /// [`Error::NotFound`] for an unknown project.
    pub async fn remember(
        &self,
        project_id: ProjectId,
        content: &str,
        memory_type: MemoryType,
        tags: &[&str],
    ) -> Result<SemanticMemory> {
        check_text("content", content, MAX_CONTENT_CHARS)?;
        if tags.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::invalid("tags", "must not contain empty tags"));
        }
        for tag in tags {
            crate::error::check_no_nul("tags", tag)?;
        }
        self.ensure_project(project_id).await?;
        let now = now_ms();
        let row = NewSemantic {
            project_id,
            content,
            memory_type,
            tags,
            origin: Origin::direct(),
            now,
        };
        Ok(insert_one!(
            self.db,
            insert_semantic,
            row,
            SemanticMemory,
            "semantic_memories",
            semantic_columns,
            |id| NewDoc::direct(project_id, Place::Semantic, id.0, content, None, now)
        ))
    }

    /// Stores many semantic memories of one type at once, in one transaction (an import, a
    /// corpus): each indexed for recall as [`Layers::remember`] does. Returns their ids, in
    /// the order given.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `contents[i]` for the first empty or over-long text (then
    /// nothing is stored); [`Error::NotFound`] for an unknown project.
    pub async fn remember_all<S: AsRef<str>>(
        &self,
        project_id: ProjectId,
        contents: &[S],
        memory_type: MemoryType,
    ) -> Result<Vec<MemoryId>> {
        for (i, content) in contents.iter().enumerate() {
            check_text("contents", content.as_ref(), MAX_CONTENT_CHARS)
                .map_err(|e| Error::invalid("contents", format!("item {i}: {e}")))?;
        }
        self.ensure_project(project_id).await?;
        let now = now_ms();
        let rows: Vec<NewSemantic<'_>> = contents
            .iter()
            .map(|c| NewSemantic {
                project_id,
                content: c.as_ref(),
                memory_type,
                tags: &[],
                origin: Origin::direct(),
                now,
            })
            .collect();
        let mut tx = self.db.begin_write().await?;
        let mut ids: Vec<MemoryId> = insert_semantic(&mut tx, &rows)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        // One statement numbers its rows in the order given; RETURNING's order is not promised.
        ids.sort_unstable();
        let docs: Vec<NewDoc<'_>> = ids
            .iter()
            .zip(contents)
            .map(|(id, c)| NewDoc::direct(project_id, Place::Semantic, id.0, c.as_ref(), None, now))
            .collect();
        index(&mut tx, &docs).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// A semantic memory of this project (any version). Reading it is an access: its
    /// `access_count` and `last_accessed_at` are updated (the access statistics behind
    /// [`SemanticSort::Accessed`]); nothing else changes.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `id` does not exist in `project_id`.
    pub async fn semantic(&self, project_id: ProjectId, id: MemoryId) -> Result<SemanticMemory> {
        const SQL: &str = concat!(
            "UPDATE semantic_memories SET access_count = access_count + 1, last_accessed_at = $1
             WHERE project_id = $2 AND id = $3 RETURNING ",
            semantic_columns!()
        );
        let row = fetch_rows!(
            self.db,
            SemanticMemory,
            SQL,
            fetch_optional,
            now_ms(),
            project_id,
            id
        );
        row.ok_or(Error::NotFound {
            entity: Entity::Memory(Layer::Semantic),
            id: id.0,
            project_id,
        })
    }

    /// Current (not superseded) semantic memories, in `sort` order, at most `limit`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_semantic(
        &self,
        project_id: ProjectId,
        sort: SemanticSort,
        limit: u32,
    ) -> Result<Vec<SemanticMemory>> {
        const USEFUL: &str = concat!("SELECT ", semantic_columns!(), " FROM semantic_memories WHERE project_id = $1 AND superseded_by IS NULL ORDER BY usefulness DESC, id DESC LIMIT $2");
        const RECENT: &str = concat!("SELECT ", semantic_columns!(), " FROM semantic_memories WHERE project_id = $1 AND superseded_by IS NULL ORDER BY created_at DESC, id DESC LIMIT $2");
        const ACCESSED: &str = concat!("SELECT ", semantic_columns!(), " FROM semantic_memories WHERE project_id = $1 AND superseded_by IS NULL ORDER BY last_accessed_at DESC, id DESC LIMIT $2");
        let sql = match sort {
            SemanticSort::Useful => USEFUL,
            SemanticSort::Recent => RECENT,
            SemanticSort::Accessed => ACCESSED,
        };
        Ok(fetch_rows!(
            self.db,
            SemanticMemory,
            sql,
            fetch_all,
            project_id,
            i64::from(limit)
        ))
    }

    /// Adds 1 to a semantic memory's usefulness; returns the new value.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `id` does not exist in `project_id`.
    pub async fn mark_useful(&self, project_id: ProjectId, id: MemoryId) -> Result<f64> {
        const SQL: &str = "UPDATE semantic_memories SET usefulness = usefulness + 1 WHERE project_id = $1 AND id = $2 RETURNING usefulness";
        let v: Option<f64> = on_pool!(self.db, |pool| sqlx::query_scalar(SQL)
            .bind(project_id)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        v.ok_or(Error::NotFound {
            entity: Entity::Memory(Layer::Semantic),
            id: id.0,
            project_id,
        })
    }

    /// Deletes a semantic memory. Returns true when it existed in this project, false after that
    /// (forgetting twice is not an error). Versions that pointed at it stop pointing at it.
    ///
    /// # Errors
    /// Database errors.
    pub async fn forget(&self, project_id: ProjectId, id: MemoryId) -> Result<bool> {
        const UNLINK_OLDER: &str = "UPDATE semantic_memories SET superseded_by = NULL WHERE project_id = $1 AND superseded_by = $2";
        const UNLINK_NEWER: &str = "UPDATE semantic_memories SET supersedes_id = NULL WHERE project_id = $1 AND supersedes_id = $2";
        const DELETE: &str = "DELETE FROM semantic_memories WHERE project_id = $1 AND id = $2";
        let mut tx = self.db.begin_write().await?;
        let mut affected = 0;
        for sql in [UNLINK_OLDER, UNLINK_NEWER, DELETE] {
            affected = on_tx!(&mut tx, |conn| sqlx::query(sql)
                .bind(project_id)
                .bind(id)
                .execute(conn)
                .await?
                .rows_affected());
        }
        unindex(&mut tx, project_id, Place::Semantic, &[id.0]).await?;
        tx.commit().await?;
        Ok(affected > 0)
    }

    /// Reconsolidation: writes `content` as the next version of the current semantic memory
    /// `id`, records `reason`, and marks `id` superseded by it, in one transaction. Type and tags
    /// carry over.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty content or reason, or on `id` when it is already
    /// superseded; [`Error::NotFound`] when it does not exist in this project.
    pub async fn update_semantic(
        &self,
        project_id: ProjectId,
        id: MemoryId,
        content: &str,
        reason: &str,
    ) -> Result<SemanticMemory> {
        check_text("content", content, MAX_CONTENT_CHARS)?;
        check_text("reason", reason, 10_000)?;
        const INSERT: &str = concat!(
            "INSERT INTO semantic_memories (project_id, content, memory_type, tags, usefulness, version, supersedes_id, update_reason, metadata, created_at, last_accessed_at)
             SELECT project_id, $1, memory_type, tags, usefulness, version + 1, id, $2, metadata, $3, $3 FROM semantic_memories WHERE id = $4
             RETURNING ",
            semantic_columns!()
        );
        const SUPERSEDE: &str = "UPDATE semantic_memories SET superseded_by = $1 WHERE id = $2";
        let mut tx = self.db.begin_write().await?;
        lock_current(&mut tx, project_id, id).await?;
        let now = now_ms();
        let new: SemanticMemory = on_tx!(&mut tx, |conn| sqlx::query_as(INSERT)
            .bind(content)
            .bind(reason)
            .bind(now)
            .bind(id)
            .fetch_one(conn)
            .await?);
        on_tx!(&mut tx, |conn| sqlx::query(SUPERSEDE)
            .bind(new.id)
            .bind(id)
            .execute(conn)
            .await
            .map(|_| ())?);
        unindex(&mut tx, project_id, Place::Semantic, &[id.0]).await?;
        let doc = NewDoc::direct(project_id, Place::Semantic, new.id.0, content, None, now);
        index(&mut tx, &[doc]).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Every version of the semantic memory `id` belongs to, oldest first, each with the reason
    /// it was written.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `id` does not exist in this project.
    pub async fn history(
        &self,
        project_id: ProjectId,
        id: MemoryId,
    ) -> Result<Vec<SemanticMemory>> {
        const ONE: &str = concat!(
            "SELECT ",
            semantic_columns!(),
            " FROM semantic_memories WHERE project_id = $1 AND id = $2"
        );
        let fetch = |id: MemoryId| async move {
            let row = fetch_rows!(self.db, SemanticMemory, ONE, fetch_optional, project_id, id);
            Ok::<_, Error>(row)
        };
        let start = fetch(id).await?.ok_or(Error::NotFound {
            entity: Entity::Memory(Layer::Semantic),
            id: id.0,
            project_id,
        })?;
        let mut versions = vec![start];
        while let Some(older) = versions[0].supersedes_id {
            match fetch(older).await? {
                Some(v) => versions.insert(0, v),
                None => break,
            }
        }
        while let Some(newer) = versions[versions.len() - 1].superseded_by {
            match fetch(newer).await? {
                Some(v) => versions.push(v),
                None => break,
            }
        }
        Ok(versions)
    }

    /// Records an episodic event that happened at `occurred_at` (UTC Unix ms).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty content, event type or session; [`Error::NotFound`] for
    /// an unknown project.
    pub async fn record_event(
        &self,
        project_id: ProjectId,
        content: &str,
        event_type: &str,
        session_id: &str,
        occurred_at: Millis,
    ) -> Result<EpisodicEvent> {
        check_text("content", content, MAX_CONTENT_CHARS)?;
        check_text("event_type", event_type, 100)?;
        check_text("session_id", session_id, 200)?;
        self.ensure_project(project_id).await?;
        let now = now_ms();
        let row = NewEvent {
            project_id,
            content,
            event_type,
            session_id,
            occurred_at,
            origin: Origin::direct(),
            now,
        };
        Ok(insert_one!(
            self.db,
            insert_events,
            row,
            EpisodicEvent,
            "episodic_events",
            event_columns,
            |id| NewDoc {
                session: Some(session_id),
                occurred_at,
                ..NewDoc::direct(project_id, Place::Episodic, id.0, content, None, now)
            }
        ))
    }

    /// Events of this project with `from <= occurred_at < to`, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn events_between(
        &self,
        project_id: ProjectId,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<EpisodicEvent>> {
        self.events(project_id, from, to, None).await
    }

    /// Events of this project with `from <= occurred_at < to`, of `event_type` when given,
    /// oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn events(
        &self,
        project_id: ProjectId,
        from: Millis,
        to: Millis,
        event_type: Option<&str>,
    ) -> Result<Vec<EpisodicEvent>> {
        const SQL: &str = concat!(
            "SELECT ", event_columns!(), " FROM episodic_events
             WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND ($4 IS NULL OR event_type = $4)
             ORDER BY occurred_at, id"
        );
        Ok(fetch_rows!(
            self.db,
            EpisodicEvent,
            SQL,
            fetch_all,
            project_id,
            from,
            to,
            event_type
        ))
    }

    /// Stores a procedure under a name unique within the project.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty fields or a name the project already uses;
    /// [`Error::NotFound`] for an unknown project.
    pub async fn store_procedure(
        &self,
        project_id: ProjectId,
        name: &str,
        category: &str,
        template: &str,
    ) -> Result<Procedure> {
        check_text("name", name, 500)?;
        check_text("category", category, 100)?;
        check_text("template", template, MAX_CONTENT_CHARS)?;
        self.ensure_project(project_id).await?;
        if self.procedure_by_name(project_id, name).await?.is_some() {
            return Err(Error::invalid(
                "name",
                format!("{name:?} is already used in this project"),
            ));
        }
        let now = now_ms();
        let row = NewProcedure {
            project_id,
            name: name.to_owned(),
            category,
            template,
            origin: Origin::direct(),
            now,
        };
        let text = format!("{name} {template}");
        Ok(insert_one!(
            self.db,
            insert_procedures,
            row,
            Procedure,
            "procedures",
            procedure_columns,
            |id| NewDoc::direct(project_id, Place::Procedural, id.0, &text, None, now)
        ))
    }

    /// Every procedure of this project, by name.
    ///
    /// # Errors
    /// Database errors.
    pub async fn procedures(&self, project_id: ProjectId) -> Result<Vec<Procedure>> {
        const SQL: &str = concat!(
            "SELECT ",
            procedure_columns!(),
            " FROM procedures WHERE project_id = $1 ORDER BY name, id"
        );
        Ok(fetch_rows!(self.db, Procedure, SQL, fetch_all, project_id))
    }

    /// The procedure of this project with this name, if any.
    ///
    /// # Errors
    /// Database errors.
    pub async fn procedure_by_name(
        &self,
        project_id: ProjectId,
        name: &str,
    ) -> Result<Option<Procedure>> {
        const SQL: &str = concat!(
            "SELECT ",
            procedure_columns!(),
            " FROM procedures WHERE project_id = $1 AND name = $2"
        );
        Ok(fetch_rows!(
            self.db,
            Procedure,
            SQL,
            fetch_optional,
            project_id,
            name
        ))
    }

    /// Creates a pending prospective task.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty content; [`Error::NotFound`] for an unknown project.
    pub async fn create_task(
        &self,
        project_id: ProjectId,
        content: &str,
        priority: TaskPriority,
        due_at: Option<Millis>,
    ) -> Result<ProspectiveTask> {
        check_text("content", content, MAX_CONTENT_CHARS)?;
        self.ensure_project(project_id).await?;
        let now = now_ms();
        let row = NewTask {
            project_id,
            content,
            priority,
            due_at,
            origin: Origin::direct(),
            now,
        };
        Ok(insert_one!(
            self.db,
            insert_tasks,
            row,
            ProspectiveTask,
            "prospective_tasks",
            task_columns,
            |id| NewDoc::direct(project_id, Place::Prospective, id.0, content, None, now)
        ))
    }

    /// Marks a task completed (now); completing it again keeps the first completion time.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the task does not exist in this project.
    pub async fn complete_task(
        &self,
        project_id: ProjectId,
        id: MemoryId,
    ) -> Result<ProspectiveTask> {
        const SQL: &str = concat!(
            "UPDATE prospective_tasks SET status = 'completed', completed_at = COALESCE(completed_at, $1)
             WHERE project_id = $2 AND id = $3 RETURNING ",
            task_columns!()
        );
        let row = fetch_rows!(
            self.db,
            ProspectiveTask,
            SQL,
            fetch_optional,
            now_ms(),
            project_id,
            id
        );
        row.ok_or(Error::NotFound {
            entity: Entity::Memory(Layer::Prospective),
            id: id.0,
            project_id,
        })
    }

    /// Open (not completed) tasks due at or before `time`, earliest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn tasks_due_by(
        &self,
        project_id: ProjectId,
        time: Millis,
    ) -> Result<Vec<ProspectiveTask>> {
        const SQL: &str = concat!(
            "SELECT ", task_columns!(), " FROM prospective_tasks
             WHERE project_id = $1 AND status <> 'completed' AND due_at IS NOT NULL AND due_at <= $2 ORDER BY due_at, id"
        );
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, ProspectiveTask>(
            SQL
        )
        .bind(project_id)
        .bind(time)
        .fetch_all(pool)
        .await?))
    }

    /// Tasks of this project with this status, by due date (undated last), then id.
    ///
    /// # Errors
    /// Database errors.
    pub async fn tasks(
        &self,
        project_id: ProjectId,
        status: TaskStatus,
    ) -> Result<Vec<ProspectiveTask>> {
        const SQL: &str = concat!(
            "SELECT ",
            task_columns!(),
            " FROM prospective_tasks WHERE project_id = $1 AND status = $2
             ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, id"
        );
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, ProspectiveTask>(
            SQL
        )
        .bind(project_id)
        .bind(status.as_str())
        .fetch_all(pool)
        .await?))
    }

    /// Row `id` of `layer` in this project (reading a semantic memory counts as an access).
    ///
    /// # Errors
    /// [`Error::NotFound`] when `id` is not a row of that layer in this project.
    pub async fn memory(
        &self,
        project_id: ProjectId,
        layer: Layer,
        id: MemoryId,
    ) -> Result<Memory> {
        const EVENT: &str = concat!(
            "SELECT ",
            event_columns!(),
            " FROM episodic_events WHERE project_id = $1 AND id = $2"
        );
        const PROCEDURE: &str = concat!(
            "SELECT ",
            procedure_columns!(),
            " FROM procedures WHERE project_id = $1 AND id = $2"
        );
        const TASK: &str = concat!(
            "SELECT ",
            task_columns!(),
            " FROM prospective_tasks WHERE project_id = $1 AND id = $2"
        );
        let found = match layer {
            Layer::Semantic => return Ok(Memory::Semantic(self.semantic(project_id, id).await?)),
            Layer::Episodic => fetch_rows!(
                self.db,
                EpisodicEvent,
                EVENT,
                fetch_optional,
                project_id,
                id
            )
            .map(Memory::Episodic),
            Layer::Procedural => fetch_rows!(
                self.db,
                Procedure,
                PROCEDURE,
                fetch_optional,
                project_id,
                id
            )
            .map(Memory::Procedural),
            Layer::Prospective => fetch_rows!(
                self.db,
                ProspectiveTask,
                TASK,
                fetch_optional,
                project_id,
                id
            )
            .map(Memory::Prospective),
        };
        found.ok_or(Error::NotFound {
            entity: Entity::Memory(layer),
            id: id.0,
            project_id,
        })
    }

    /// Deletes row `id` of `layer` in this project (for a semantic memory, see
    /// [`Layers::forget`]); `false` when there was no such row.
    ///
    /// # Errors
    /// Database errors.
    pub async fn forget_memory(
        &self,
        project_id: ProjectId,
        layer: Layer,
        id: MemoryId,
    ) -> Result<bool> {
        const EVENT: &str = "DELETE FROM episodic_events WHERE project_id = $1 AND id = $2";
        const PROCEDURE: &str = "DELETE FROM procedures WHERE project_id = $1 AND id = $2";
        const TASK: &str = "DELETE FROM prospective_tasks WHERE project_id = $1 AND id = $2";
        let sql = match layer {
            Layer::Semantic => return self.forget(project_id, id).await,
            Layer::Episodic => EVENT,
            Layer::Procedural => PROCEDURE,
            Layer::Prospective => TASK,
        };
        let mut tx = self.db.begin_write().await?;
        let deleted = on_tx!(&mut tx, |conn| sqlx::query(sql)
            .bind(project_id)
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected());
        unindex(&mut tx, project_id, Place::from(layer), &[id.0]).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// How many rows each layer holds for this project.
    ///
    /// # Errors
    /// Database errors.
    pub async fn counts(&self, project_id: ProjectId) -> Result<LayerCounts> {
        const SQL: &str = "SELECT
             (SELECT COUNT(*) FROM semantic_memories WHERE project_id = $1),
             (SELECT COUNT(*) FROM episodic_events WHERE project_id = $1),
             (SELECT COUNT(*) FROM procedures WHERE project_id = $1),
             (SELECT COUNT(*) FROM prospective_tasks WHERE project_id = $1)";
        let (semantic, episodic, procedural, prospective): (i64, i64, i64, i64) =
            on_pool!(self.db, |pool| sqlx::query_as(SQL)
                .bind(project_id)
                .fetch_one(pool)
                .await?);
        Ok(LayerCounts {
            semantic,
            episodic,
            procedural,
            prospective,
        })
    }

    async fn ensure_project(&self, project_id: ProjectId) -> Result<()> {
        crate::db::projects::Projects::new(self.db.clone())
            .ensure_exists(project_id)
            .await
    }
}
