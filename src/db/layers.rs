//! The four long-term layers: `semantic_memories`, `episodic_events`, `procedures` and
//! `prospective_tasks`. Every call is scoped by project id; an id of another project is
//! "not found".

use crate::db::{on_pool, Database};
use crate::enum_str::string_enum;
use crate::error::{check_text, Error, Result};
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
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// The fact.
    pub content: String,
    /// Fact, pattern, decision or context.
    #[sqlx(try_from = "String")]
    pub memory_type: MemoryType,
    /// Tags, as a JSON array of strings.
    #[sqlx(json)]
    pub tags: Vec<String>,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<i64>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<i64>,
    /// Creation time (UTC Unix ms).
    pub created_at: Millis,
}

/// A row of `episodic_events`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct EpisodicEvent {
    /// Id.
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// What happened.
    pub content: String,
    /// Kind of event, e.g. `action`.
    pub event_type: String,
    /// Session it belongs to.
    pub session_id: String,
    /// When it happened (UTC Unix ms).
    pub occurred_at: Millis,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<i64>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<i64>,
}

/// A row of `procedures`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct Procedure {
    /// Id.
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// Unique name within the project.
    pub name: String,
    /// Category, e.g. `workflow`.
    pub category: String,
    /// The procedure's text.
    pub template: String,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<i64>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<i64>,
}

/// A row of `prospective_tasks`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct ProspectiveTask {
    /// Id.
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// What is to be done.
    pub content: String,
    /// Progressive form shown while working on it.
    pub active_form: String,
    /// Pending, in progress or completed.
    #[sqlx(try_from = "String")]
    pub status: TaskStatus,
    /// Low, medium or high.
    #[sqlx(try_from = "String")]
    pub priority: TaskPriority,
    /// Due date (UTC Unix ms), if any.
    pub due_at: Option<Millis>,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<i64>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<i64>,
}

/// `Working on: ` followed by the first 50 characters (not bytes) of `content`.
pub fn active_form(content: &str) -> String {
    let head: String = content.chars().take(50).collect();
    format!("Working on: {head}")
}

/// Repository of the four long-term layers.
#[derive(Debug, Clone)]
pub struct Layers {
    db: Database,
}

impl Layers {
    /// The repository over `db`.
    pub fn new(db: Database) -> Self {
        Layers { db }
    }

    /// Stores a semantic memory.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty or over-long content or an empty tag;
    /// [`Error::NotFound`] for an unknown project.
    pub async fn remember(
        &self,
        project_id: i64,
        content: &str,
        memory_type: MemoryType,
        tags: &[&str],
    ) -> Result<SemanticMemory> {
        check_text("content", content, MAX_CONTENT_CHARS)?;
        if tags.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::invalid("tags", "must not contain empty tags"));
        }
        self.ensure_project(project_id).await?;
        let now = now_ms();
        let tags = sqlx::types::Json(tags);
        const SQL: &str = "INSERT INTO semantic_memories
             (project_id, content, memory_type, tags, metadata, created_at, last_accessed_at)
             VALUES ($1, $2, $3, $4, '{}', $5, $5)
             RETURNING id, project_id, content, memory_type, tags, source_item_id, route_id, created_at";
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, SemanticMemory>(SQL)
            .bind(project_id)
            .bind(content)
            .bind(memory_type.as_str())
            .bind(tags)
            .bind(now)
            .fetch_one(pool)
            .await?))
    }

    /// A semantic memory of this project.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `id` does not exist in `project_id`.
    pub async fn semantic(&self, project_id: i64, id: i64) -> Result<SemanticMemory> {
        const SQL: &str = "SELECT id, project_id, content, memory_type, tags, source_item_id, route_id, created_at
             FROM semantic_memories WHERE project_id = $1 AND id = $2";
        let row = on_pool!(self.db, |pool| sqlx::query_as::<_, SemanticMemory>(SQL)
            .bind(project_id)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        row.ok_or(Error::NotFound {
            entity: "semantic memory",
            id,
            project_id,
        })
    }

    /// Records an episodic event that happened at `occurred_at` (UTC Unix ms).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty content, event type or session; [`Error::NotFound`] for
    /// an unknown project.
    pub async fn record_event(
        &self,
        project_id: i64,
        content: &str,
        event_type: &str,
        session_id: &str,
        occurred_at: Millis,
    ) -> Result<EpisodicEvent> {
        check_text("content", content, MAX_CONTENT_CHARS)?;
        check_text("event_type", event_type, 100)?;
        check_text("session_id", session_id, 200)?;
        self.ensure_project(project_id).await?;
        const SQL: &str = "INSERT INTO episodic_events
             (project_id, content, event_type, session_id, occurred_at, metadata, created_at)
             VALUES ($1, $2, $3, $4, $5, '{}', $6)
             RETURNING id, project_id, content, event_type, session_id, occurred_at, source_item_id, route_id";
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, EpisodicEvent>(SQL)
            .bind(project_id)
            .bind(content)
            .bind(event_type)
            .bind(session_id)
            .bind(occurred_at)
            .bind(now_ms())
            .fetch_one(pool)
            .await?))
    }

    /// Events of this project with `from <= occurred_at < to`, oldest first.
    pub async fn events_between(
        &self,
        project_id: i64,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<EpisodicEvent>> {
        const SQL: &str = "SELECT id, project_id, content, event_type, session_id, occurred_at, source_item_id, route_id
             FROM episodic_events WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
             ORDER BY occurred_at, id";
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, EpisodicEvent>(SQL)
            .bind(project_id)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?))
    }

    /// Stores a procedure under a name unique within the project.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty fields or a name the project already uses;
    /// [`Error::NotFound`] for an unknown project.
    pub async fn store_procedure(
        &self,
        project_id: i64,
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
        const SQL: &str = "INSERT INTO procedures
             (project_id, name, category, template, metadata, created_at)
             VALUES ($1, $2, $3, $4, '{}', $5)
             RETURNING id, project_id, name, category, template, source_item_id, route_id";
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, Procedure>(SQL)
            .bind(project_id)
            .bind(name)
            .bind(category)
            .bind(template)
            .bind(now_ms())
            .fetch_one(pool)
            .await?))
    }

    /// The procedure of this project with this name, if any.
    pub async fn procedure_by_name(
        &self,
        project_id: i64,
        name: &str,
    ) -> Result<Option<Procedure>> {
        const SQL: &str =
            "SELECT id, project_id, name, category, template, source_item_id, route_id
             FROM procedures WHERE project_id = $1 AND name = $2";
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, Procedure>(SQL)
            .bind(project_id)
            .bind(name)
            .fetch_optional(pool)
            .await?))
    }

    /// Creates a pending prospective task.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty content; [`Error::NotFound`] for an unknown project.
    pub async fn create_task(
        &self,
        project_id: i64,
        content: &str,
        priority: TaskPriority,
        due_at: Option<Millis>,
    ) -> Result<ProspectiveTask> {
        check_text("content", content, MAX_CONTENT_CHARS)?;
        self.ensure_project(project_id).await?;
        const SQL: &str = "INSERT INTO prospective_tasks
             (project_id, content, active_form, status, priority, due_at, metadata, created_at)
             VALUES ($1, $2, $3, 'pending', $4, $5, '{}', $6)
             RETURNING id, project_id, content, active_form, status, priority, due_at, source_item_id, route_id";
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, ProspectiveTask>(
            SQL
        )
        .bind(project_id)
        .bind(content)
        .bind(active_form(content))
        .bind(priority.as_str())
        .bind(due_at)
        .bind(now_ms())
        .fetch_one(pool)
        .await?))
    }

    /// Tasks of this project with this status, by due date (undated last), then id.
    pub async fn tasks(&self, project_id: i64, status: TaskStatus) -> Result<Vec<ProspectiveTask>> {
        const SQL: &str = "SELECT id, project_id, content, active_form, status, priority, due_at, source_item_id, route_id
             FROM prospective_tasks WHERE project_id = $1 AND status = $2
             ORDER BY CASE WHEN due_at IS NULL THEN 1 ELSE 0 END, due_at, id";
        on_pool!(self.db, |pool| Ok(sqlx::query_as::<_, ProspectiveTask>(
            SQL
        )
        .bind(project_id)
        .bind(status.as_str())
        .fetch_all(pool)
        .await?))
    }

    async fn ensure_project(&self, project_id: i64) -> Result<()> {
        crate::db::projects::Projects::new(self.db.clone())
            .ensure_exists(project_id)
            .await
    }
}
