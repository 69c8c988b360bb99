//! The working-memory table, `working_memory`: every statement that reads or writes it, and its
//! row shape. The policy (capacity, displacement, decay, what an add does in which order) lives
//! in [`crate::working_memory`]; this module only runs SQL.
//!
//! Decay is computed in the database in log space (`ln_activation_sql!`): see
//! [`crate::working_memory::activation`] for the formula and why.

use serde_json::Value;

use crate::component::{Component, ContentType, ItemState};
use crate::db::recall::NewDoc;
use crate::db::{fetch_rows, on_pool, on_tx, Database, WriteTx};
use crate::features::TextKind;
use crate::ids::{ItemId, ProjectId};
use crate::recall::Place;
use crate::time::Millis;

/// Columns of a working-memory item row, in `SELECT` and `RETURNING` lists.
macro_rules! item_columns {
    () => {
        "id, project_id, content, content_type, component, activation, decay_rate, importance, state, file_path, sources, access_count, created_at, last_accessed_at, metadata, embedding, text_kind, speaker, session, occurred_at"
    };
}

/// ln A(t) in SQL, with `$1` = now (UTC Unix ms); the same arithmetic as
/// [`crate::working_memory::activation::ln_activation_at`], which a test checks on random
/// inputs on both backends.
macro_rules! ln_activation_sql {
    () => {
        "(ln_activation - decay_rate * (1.0 - 0.5 * importance) * (CAST(($1 - last_accessed_at) AS DOUBLE PRECISION) / 1000.0))"
    };
}

/// A `working_memory` row as stored (the embedding still encoded).
#[derive(sqlx::FromRow)]
pub(crate) struct ItemRow {
    pub(crate) id: ItemId,
    pub(crate) project_id: ProjectId,
    pub(crate) content: String,
    pub(crate) content_type: ContentType,
    pub(crate) component: Component,
    pub(crate) activation: f64,
    pub(crate) decay_rate: f64,
    pub(crate) importance: f64,
    pub(crate) state: ItemState,
    pub(crate) file_path: Option<String>,
    #[sqlx(json)]
    pub(crate) sources: Vec<ItemId>,
    pub(crate) access_count: i64,
    pub(crate) created_at: Millis,
    pub(crate) last_accessed_at: Millis,
    #[sqlx(json)]
    pub(crate) metadata: Value,
    pub(crate) embedding: Option<Vec<u8>>,
    pub(crate) text_kind: Option<TextKind>,
    pub(crate) speaker: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) occurred_at: Option<Millis>,
}

/// The values of a new, active row.
pub(crate) struct NewItemRow<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) content: &'a str,
    pub(crate) content_type: ContentType,
    pub(crate) component: Component,
    pub(crate) activation: f64,
    pub(crate) ln_activation: f64,
    pub(crate) decay_rate: f64,
    pub(crate) importance: f64,
    pub(crate) file_path: Option<&'a str>,
    pub(crate) sources: &'a [ItemId],
    pub(crate) metadata: &'a Value,
    pub(crate) embedding: Option<Vec<u8>>,
    pub(crate) text_kind: Option<TextKind>,
    pub(crate) speaker: Option<&'a str>,
    pub(crate) session: Option<&'a str>,
    pub(crate) occurred_at: Option<Millis>,
    pub(crate) now: Millis,
}

/// Which active item displacement moves out of a full component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// The one of lowest current activation (ties: lowest id).
    Weakest,
    /// The one least recently accessed (ties: lowest id).
    Stalest,
}

/// Which items consolidation claims.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Claim<'a> {
    /// These ids (of the project).
    Ids(&'a [ItemId]),
    /// Up to this many pending items, oldest first.
    Pending(u32),
    /// Up to this many items, active or pending, oldest first.
    All(u32),
}

/// Whether `id` is a phonological or visuospatial item of the project (what a chunk may bind).
pub(crate) async fn is_chunk_source(
    tx: &mut WriteTx,
    project_id: ProjectId,
    id: ItemId,
) -> crate::Result<bool> {
    const SQL: &str = "SELECT COUNT(*) FROM working_memory WHERE project_id = $1 AND id = $2 AND component IN ('phonological', 'visuospatial')";
    let n: i64 = on_tx!(tx, |conn| sqlx::query_scalar(SQL)
        .bind(project_id)
        .bind(id)
        .fetch_one(conn)
        .await?);
    Ok(n > 0)
}

/// Moves (with `forget`: deletes, and removes from the recall index) the project's active items
/// whose ln activation at `now` is below `ln_threshold`; returns `(id, content)` of each.
pub(crate) async fn sweep(
    tx: &mut WriteTx,
    project_id: ProjectId,
    now: Millis,
    ln_threshold: f64,
    forget: bool,
) -> crate::Result<Vec<(ItemId, String)>> {
    const TO_PENDING: &str = concat!(
        "UPDATE working_memory SET state = 'pending' WHERE project_id = $2 AND state = 'active' AND ",
        ln_activation_sql!(),
        " < $3 RETURNING id, content"
    );
    const FORGET: &str = concat!(
        "DELETE FROM working_memory WHERE project_id = $2 AND state = 'active' AND ",
        ln_activation_sql!(),
        " < $3 RETURNING id, content"
    );
    let sql = if forget { FORGET } else { TO_PENDING };
    let swept: Vec<(ItemId, String)> = on_tx!(tx, |conn| sqlx::query_as(sql)
        .bind(now)
        .bind(project_id)
        .bind(ln_threshold)
        .fetch_all(conn)
        .await?);
    if forget {
        let ids: Vec<ItemId> = swept.iter().map(|(id, _)| *id).collect();
        crate::db::recall::unindex(
            tx,
            project_id,
            Place::WorkingMemory,
            &ids.iter().map(|id| id.0).collect::<Vec<_>>(),
        )
        .await?;
    }
    Ok(swept)
}

/// Active items of `component` in the project.
pub(crate) async fn count_active(
    tx: &mut WriteTx,
    project_id: ProjectId,
    component: Component,
) -> crate::Result<usize> {
    const SQL: &str = "SELECT COUNT(*) FROM working_memory WHERE project_id = $1 AND component = $2 AND state = 'active'";
    let n: i64 = on_tx!(tx, |conn| sqlx::query_scalar(SQL)
        .bind(project_id)
        .bind(component.as_str())
        .fetch_one(conn)
        .await?);
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Moves the `eviction` choice among the active items of `component` to pending; returns its id,
/// or `None` when the chosen item vanished meanwhile (claimed by a concurrent consolidation).
pub(crate) async fn displace(
    tx: &mut WriteTx,
    project_id: ProjectId,
    component: Component,
    eviction: Eviction,
    now: Millis,
) -> crate::Result<Option<ItemId>> {
    const WEAKEST: &str = concat!(
        "UPDATE working_memory SET state = 'pending' WHERE id = (SELECT id FROM working_memory WHERE project_id = $2 AND component = $3 AND state = 'active' ORDER BY ",
        ln_activation_sql!(),
        ", id LIMIT 1) RETURNING id"
    );
    const STALEST: &str = "UPDATE working_memory SET state = 'pending' WHERE id = (SELECT id FROM working_memory WHERE project_id = $1 AND component = $2 AND state = 'active' ORDER BY last_accessed_at, id LIMIT 1) RETURNING id";
    Ok(match eviction {
        Eviction::Weakest => on_tx!(tx, |conn| sqlx::query_scalar(WEAKEST)
            .bind(now)
            .bind(project_id)
            .bind(component.as_str())
            .fetch_optional(conn)
            .await?),
        Eviction::Stalest => on_tx!(tx, |conn| sqlx::query_scalar(STALEST)
            .bind(project_id)
            .bind(component.as_str())
            .fetch_optional(conn)
            .await?),
    })
}

/// Inserts an active item and indexes it for recall; returns its id.
pub(crate) async fn insert(tx: &mut WriteTx, row: &NewItemRow<'_>) -> crate::Result<ItemId> {
    const SQL: &str = "INSERT INTO working_memory
         (project_id, content, content_type, component, activation, ln_activation, decay_rate, importance, state,
          file_path, sources, access_count, created_at, last_accessed_at, metadata, embedding, text_kind,
          speaker, session, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, 0, $11, $11, $12, $13, $14, $15, $16, $17) RETURNING id";
    let id: ItemId = on_tx!(tx, |conn| sqlx::query_scalar(SQL)
        .bind(row.project_id)
        .bind(row.content)
        .bind(row.content_type.as_str())
        .bind(row.component.as_str())
        .bind(row.activation)
        .bind(row.ln_activation)
        .bind(row.decay_rate)
        .bind(row.importance)
        .bind(row.file_path)
        .bind(sqlx::types::Json(row.sources))
        .bind(row.now)
        .bind(sqlx::types::Json(row.metadata))
        .bind(row.embedding.as_deref())
        .bind(row.text_kind.map(TextKind::as_str))
        .bind(row.speaker)
        .bind(row.session)
        .bind(row.occurred_at)
        .fetch_one(conn)
        .await?);
    let doc = NewDoc {
        project_id: row.project_id,
        place: Place::WorkingMemory,
        ref_id: id.0,
        content: row.content,
        speaker: row.speaker,
        session: row.session,
        occurred_at: row.occurred_at.unwrap_or(row.now),
        now: row.now,
    };
    crate::db::recall::index(tx, &[doc]).await?;
    Ok(id)
}

/// Claims items for consolidation by deleting them (`DELETE ... RETURNING`), so two workers
/// never both get one: PostgreSQL's row locks (and `FOR UPDATE SKIP LOCKED` for pending items),
/// SQLite's single writer. Returns them by id.
pub(crate) async fn claim(
    tx: &mut WriteTx,
    project_id: ProjectId,
    claim: Claim<'_>,
) -> crate::Result<Vec<ItemRow>> {
    const IDS_SQLITE: &str = concat!(
        "DELETE FROM working_memory WHERE project_id = $1 AND id IN (SELECT value FROM json_each($2)) RETURNING ",
        item_columns!()
    );
    const IDS_POSTGRES: &str = concat!(
        "DELETE FROM working_memory WHERE project_id = $1 AND id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)::bigint)) RETURNING ",
        item_columns!()
    );
    // `$3`: every item (`Claim::All`), else only pending ones.
    const OLDEST_SQLITE: &str = concat!(
        "DELETE FROM working_memory WHERE id IN
           (SELECT id FROM working_memory WHERE project_id = $1 AND ($3 OR state = 'pending') ORDER BY id LIMIT $2) RETURNING ",
        item_columns!()
    );
    const OLDEST_POSTGRES: &str = concat!(
        "DELETE FROM working_memory WHERE id IN
           (SELECT id FROM working_memory WHERE project_id = $1 AND ($3 OR state = 'pending') ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING ",
        item_columns!()
    );
    let sqlite = tx.backend() == crate::config::Backend::Sqlite;
    let mut rows: Vec<ItemRow> = match claim {
        Claim::Ids(ids) => {
            let sql = if sqlite { IDS_SQLITE } else { IDS_POSTGRES };
            let ids = serde_json::to_string(ids).expect("ids serialise");
            on_tx!(tx, |conn| sqlx::query_as(sql)
                .bind(project_id)
                .bind(&ids)
                .fetch_all(conn)
                .await?)
        }
        Claim::Pending(limit) | Claim::All(limit) => {
            let sql = if sqlite {
                OLDEST_SQLITE
            } else {
                OLDEST_POSTGRES
            };
            on_tx!(tx, |conn| sqlx::query_as(sql)
                .bind(project_id)
                .bind(i64::from(limit))
                .bind(matches!(claim, Claim::All(_)))
                .fetch_all(conn)
                .await?)
        }
    };
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Reads of `working_memory` that need no transaction.
#[derive(Debug, Clone)]
pub(crate) struct Items {
    db: Database,
}

impl Items {
    pub(crate) fn new(db: Database) -> Self {
        Items { db }
    }

    /// Item `id` of the project (active or pending).
    pub(crate) async fn get(
        &self,
        project_id: ProjectId,
        id: ItemId,
    ) -> crate::Result<Option<ItemRow>> {
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 AND id = $2"
        );
        Ok(fetch_rows!(
            self.db,
            ItemRow,
            SQL,
            fetch_optional,
            project_id,
            id
        ))
    }

    /// Sets an active item's A0 to 1 and its last access to `now`, counting the access; `None`
    /// when no active item `id` exists in the project.
    pub(crate) async fn rehearse(
        &self,
        project_id: ProjectId,
        id: ItemId,
        now: Millis,
    ) -> crate::Result<Option<ItemRow>> {
        const SQL: &str = concat!(
            "UPDATE working_memory SET activation = 1.0, ln_activation = 0.0, last_accessed_at = $1, access_count = access_count + 1
             WHERE project_id = $2 AND id = $3 AND state = 'active' RETURNING ",
            item_columns!()
        );
        Ok(fetch_rows!(
            self.db,
            ItemRow,
            SQL,
            fetch_optional,
            now,
            project_id,
            id
        ))
    }

    /// Items in `state`, optionally of one component, by current activation at `now`
    /// (strongest first), ties by id.
    pub(crate) async fn list(
        &self,
        project_id: ProjectId,
        component: Option<Component>,
        state: ItemState,
        now: Millis,
    ) -> crate::Result<Vec<ItemRow>> {
        const SQL: &str = concat!(
            "SELECT ", item_columns!(), " FROM working_memory WHERE project_id = $2 AND state = $3 AND ($4 IS NULL OR component = $4)
             ORDER BY ", ln_activation_sql!(), " DESC, id"
        );
        Ok(fetch_rows!(
            self.db,
            ItemRow,
            SQL,
            fetch_all,
            now,
            project_id,
            state.as_str(),
            component.map(Component::as_str)
        ))
    }

    /// Pending items, oldest first, at most `limit`.
    pub(crate) async fn pending(
        &self,
        project_id: ProjectId,
        limit: u32,
    ) -> crate::Result<Vec<ItemRow>> {
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 AND state = 'pending' ORDER BY id LIMIT $2"
        );
        Ok(fetch_rows!(
            self.db,
            ItemRow,
            SQL,
            fetch_all,
            project_id,
            i64::from(limit)
        ))
    }

    /// `(id, ln A(now))` of the active items, as the database computes it, strongest first.
    pub(crate) async fn ln_activations_at(
        &self,
        project_id: ProjectId,
        now: Millis,
    ) -> crate::Result<Vec<(ItemId, f64)>> {
        const SQL: &str = concat!(
            "SELECT id, ",
            ln_activation_sql!(),
            " FROM working_memory WHERE project_id = $2 AND state = 'active' ORDER BY 2 DESC, id"
        );
        Ok(on_pool!(self.db, |pool| sqlx::query_as(SQL)
            .bind(now)
            .bind(project_id)
            .fetch_all(pool)
            .await?))
    }

    /// Active items per component name.
    pub(crate) async fn active_counts(
        &self,
        project_id: ProjectId,
    ) -> crate::Result<Vec<(String, i64)>> {
        const SQL: &str = "SELECT component, COUNT(*) FROM working_memory WHERE project_id = $1 AND state = 'active' GROUP BY component";
        Ok(on_pool!(self.db, |pool| sqlx::query_as(SQL)
            .bind(project_id)
            .fetch_all(pool)
            .await?))
    }

    /// Items with a file path starting with `dir/` (a prefix filter; the caller checks whole
    /// path components), by id.
    pub(crate) async fn under_directory(
        &self,
        project_id: ProjectId,
        dir: &str,
    ) -> crate::Result<Vec<ItemRow>> {
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 AND file_path IS NOT NULL
             AND substr(file_path, 1, length($2) + 1) = $2 || '/' ORDER BY id"
        );
        Ok(fetch_rows!(
            self.db, ItemRow, SQL, fetch_all, project_id, dir
        ))
    }

    /// Every item of the project, active and pending, by id.
    pub(crate) async fn all(&self, project_id: ProjectId) -> crate::Result<Vec<ItemRow>> {
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 ORDER BY id"
        );
        Ok(fetch_rows!(self.db, ItemRow, SQL, fetch_all, project_id))
    }
}
