//! The four long-term layers: `semantic_memories`, `episodic_events`, `procedures` and
//! `prospective_tasks`. Every call is scoped by project id; an id of another project is
//! "not found".

use serde_json::Value;

use crate::db::recall::unindex;
use crate::db::{fetch_rows, on_pool, on_tx, Database};
use crate::error::{Entity, Error, Result};
use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::layer::Layer;
use crate::recall::Place;

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

mod episodic;
mod procedural;
mod prospective;
mod semantic;

pub use episodic::EpisodicEvent;
pub(crate) use episodic::{insert_events, NewEvent};
pub use procedural::Procedure;
pub(crate) use procedural::{insert_procedures, NewProcedure};
pub(crate) use prospective::{insert_tasks, NewTask};
pub use prospective::{ProspectiveTask, TaskPriority, TaskStatus};
pub(crate) use semantic::{insert_semantic, NewSemantic};
pub use semantic::{MemoryType, SemanticMemory, SemanticSort};

/// Longest content accepted for a long-term memory, in characters.
pub const MAX_CONTENT_CHARS: usize = 100_000;

/// A row of any of the four layers, as [`Layers::get`] returns it; serialised with its
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

/// `(id, source_item_id)` of an inserted long-term row: just what consolidation needs, so a
/// batch decodes two numbers per row; single-row calls read the full row back by id.
pub(crate) type Inserted = (MemoryId, Option<ItemId>);

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

    /// Row `id` of `layer` in this project (reading a semantic memory counts as an access).
    ///
    /// # Errors
    /// [`Error::NotFound`] when `id` is not a row of that layer in this project.
    pub async fn get(&self, project_id: ProjectId, layer: Layer, id: MemoryId) -> Result<Memory> {
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
            Layer::Semantic => {
                return Ok(Memory::Semantic(self.get_semantic(project_id, id).await?))
            }
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

    /// Deletes row `id` of `layer` in this project and its recall entry. Returns `true` when it
    /// existed in this project, `false` otherwise (forgetting twice is not an error). Forgetting
    /// one version of a semantic memory keeps the others; versions that pointed at it stop
    /// pointing at it.
    ///
    /// # Errors
    /// Database errors.
    pub async fn forget(&self, project_id: ProjectId, layer: Layer, id: MemoryId) -> Result<bool> {
        const EVENT: &str = "DELETE FROM episodic_events WHERE project_id = $1 AND id = $2";
        const PROCEDURE: &str = "DELETE FROM procedures WHERE project_id = $1 AND id = $2";
        const TASK: &str = "DELETE FROM prospective_tasks WHERE project_id = $1 AND id = $2";
        let sql = match layer {
            Layer::Semantic => return self.forget_semantic(project_id, id).await,
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
    pub async fn count(&self, project_id: ProjectId) -> Result<LayerCounts> {
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
