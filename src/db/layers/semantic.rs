//! The semantic layer, `semantic_memories`: facts, patterns, decisions and context, versioned
//! (an update supersedes the memory it replaces).

use serde_json::Value;

use crate::db::recall::{index, unindex, NewDoc};
use crate::db::{fetch_rows, insert_rows, on_pool, on_tx, WriteTx};
use crate::enum_str::string_enum;
use crate::error::{check_text, Entity, Error, Result};
use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::layer::Layer;
use crate::recall::Place;
use crate::time::{now_ms, Millis};

use super::*;

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
    /// How often it was read with [`Layers::get_semantic`].
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

/// A new `semantic_memories` row.
pub(crate) struct NewSemantic<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) content: &'a str,
    pub(crate) memory_type: MemoryType,
    pub(crate) tags: &'a [&'a str],
    pub(crate) origin: Origin,
    pub(crate) now: Millis,
}

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

impl Layers {
    /// Stores a semantic memory.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty or over-long content or an empty tag;
    /// [`Error::NotFound`] for an unknown project.
    pub async fn add_semantic(
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
    /// corpus): each indexed for recall as [`Layers::add_semantic`] does. Returns their ids, in
    /// the order given.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `contents[i]` for the first empty or over-long text (then
    /// nothing is stored); [`Error::NotFound`] for an unknown project.
    pub async fn add_semantic_all<S: AsRef<str>>(
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
    pub async fn get_semantic(
        &self,
        project_id: ProjectId,
        id: MemoryId,
    ) -> Result<SemanticMemory> {
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

    /// [`Layers::forget`] for a semantic memory: unlinks the versions that point at it, then
    /// deletes it.
    pub(super) async fn forget_semantic(
        &self,
        project_id: ProjectId,
        id: MemoryId,
    ) -> Result<bool> {
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
}
