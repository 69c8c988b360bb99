//! The episodic layer, `episodic_events`: what happened, when, in which session.

use serde_json::Value;

use crate::db::recall::NewDoc;
use crate::db::{fetch_rows, insert_rows, on_pool, on_tx, WriteTx};
use crate::error::{check_text, Result};
use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::recall::Place;
use crate::time::{now_ms, Millis};

use super::*;

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

impl Layers {
    /// Records an episodic event that happened at `occurred_at` (UTC Unix ms).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty content, event type or session; [`Error::NotFound`] for
    /// an unknown project.
    pub async fn add_event(
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

    /// Events of this project with `from <= occurred_at < to`, of `event_type` when given,
    /// oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_events(
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
}
