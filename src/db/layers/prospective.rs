//! The prospective layer, `prospective_tasks`: intentions and tasks, with their status,
//! priority and due time.

use serde_json::Value;

use crate::db::recall::NewDoc;
use crate::db::{fetch_rows, insert_rows, on_pool, on_tx, WriteTx};
use crate::enum_str::string_enum;
use crate::error::{check_text, Entity, Error, Result};
use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::layer::Layer;
use crate::recall::Place;
use crate::time::{now_ms, Millis};

use super::*;

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

/// `Working on: ` followed by the first 50 characters (not bytes) of `content`.
fn active_form(content: &str) -> String {
    let head: String = content.chars().take(50).collect();
    format!("Working on: {head}")
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

impl Layers {
    /// Creates a pending prospective task.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty content; [`Error::NotFound`] for an unknown project.
    pub async fn add_task(
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
    pub async fn list_tasks_due(
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
    pub async fn list_tasks(
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
}
