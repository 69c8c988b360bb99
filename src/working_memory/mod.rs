//! The working memory, after Baddeley: a phonological loop and a visuospatial sketchpad of 7
//! items each, an episodic buffer of 4 chunks, and a central executive holding goals and the
//! focus of attention.
//!
//! - [`activation`]: A(t) = A0·exp(−λt), the default decay and its half-lives.
//! - [`capacity`]: capacities and how full a component is.
//! - [`item`]: items, what an add takes and reports.
//! - [`spatial`]: file types, directories and names for the sketchpad.
//! - [`goals`]: the central executive's goals and attention.
//! - [`search`]: similarity for [`WorkingMemory::search`].
//! - [`events`]: what subscribers hear.
//!
//! **Nothing is lost.** A full component does not delete: its weakest item (lowest current
//! activation in the loop and the executive, least recently accessed in the sketchpad and the
//! buffer) moves to *pending consolidation* in the same transaction as the add. Items whose
//! activation decays below the threshold move there too (or, if forgetting is configured, are
//! deleted with a `tracing` record and a [`MemoryEvent::Forgotten`] carrying their content).
//! Pending items do not count toward capacity; consolidation drains them.

pub mod activation;
pub mod capacity;
pub mod events;
pub mod goals;
pub mod item;

pub mod spatial;

use tokio::sync::broadcast;

use crate::config::WorkingMemoryConfig;
use crate::db::{fetch_rows, item_columns, on_pool, Database, PoolExt};
use crate::error::{check_text, Error, Result};
use crate::item::Component;
use crate::time::{now_ms, Millis};

pub use capacity::{CapacityLevel, CapacityStatus};
pub use events::MemoryEvent;
pub use item::{AddOutcome, Item, ItemState, NewItem};

use activation::ln_activation;
use item::{encode_embedding, ItemRow};

/// ln A(t) in SQL, with `$1` = now (UTC Unix ms). See [`activation`].
macro_rules! ln_activation_sql {
    () => {
        "(ln_activation - decay_rate * (1.0 - 0.5 * importance) * (CAST(($1 - last_accessed_at) AS DOUBLE PRECISION) / 1000.0))"
    };
}

/// A search result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    /// The item.
    pub item: Item,
    /// `0.7 · similarity + 0.3 · activation`.
    pub score: f64,
    /// Cosine of embeddings, or the lexical similarity.
    pub similarity: f64,
    /// Current activation.
    pub activation: f64,
}

/// Activation figures of one component.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComponentStats {
    /// The component.
    pub component: Component,
    /// Active items.
    pub count: usize,
    /// Pending items.
    pub pending: usize,
    /// Mean, min and max current activation of the active items (`None` when empty).
    pub activation: Option<(f64, f64, f64)>,
    /// Mean age in seconds of the active items (`None` when empty).
    pub mean_age_seconds: Option<f64>,
    /// `count / capacity`.
    pub capacity_used: f64,
}

/// The working-memory repository and policy.
#[derive(Debug, Clone)]
pub struct WorkingMemory {
    db: Database,
    config: WorkingMemoryConfig,
    events: broadcast::Sender<MemoryEvent>,
}

impl WorkingMemory {
    /// The working memory over `db` with `config`, publishing on `events`.
    pub fn new(
        db: Database,
        config: WorkingMemoryConfig,
        events: broadcast::Sender<MemoryEvent>,
    ) -> Self {
        WorkingMemory { db, config, events }
    }

    /// Listens to capacity, displacement and decay events (a bounded channel: a subscriber
    /// that falls more than 256 events behind misses the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<MemoryEvent> {
        self.events.subscribe()
    }

    /// The central executive's goals and attention.
    pub fn goals(&self) -> goals::Goals {
        goals::Goals::new(self.db.clone())
    }

    /// Adds an item. In one transaction it moves decayed items out of the active set, makes room
    /// in a full component by moving its weakest item to pending consolidation (or, in strict
    /// mode, fails), and inserts the item.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field for bad input, [`Error::NotFound`] for an unknown
    /// project or a chunk source that is not a phonological or visuospatial item of the project,
    /// [`Error::CapacityExceeded`] in strict mode. On error nothing is written.
    #[tracing::instrument(skip(self, item), fields(component = %item.component))]
    pub async fn add(&self, project_id: i64, item: NewItem) -> Result<AddOutcome> {
        let decay_rate = item.validate(self.config.decay_rate)?;
        let component = item.component;
        let capacity = self.config.capacities.of(component);
        let content_type = item
            .content_type
            .unwrap_or(component.default_content_type());
        let embedding = item.embedding.as_deref().map(encode_embedding);
        let ln_threshold = ln_activation(self.config.decay_threshold);
        let now = now_ms();
        const SOURCES: &str = "SELECT COUNT(*) FROM working_memory WHERE project_id = $1 AND id = $2 AND component IN ('phonological', 'visuospatial')";
        const COUNT: &str = "SELECT COUNT(*) FROM working_memory WHERE project_id = $1 AND component = $2 AND state = 'active'";
        const WEAKEST: &str = concat!("SELECT id FROM working_memory WHERE project_id = $2 AND component = $3 AND state = 'active' ORDER BY ", ln_activation_sql!(), ", id LIMIT 1");
        const STALEST: &str = "SELECT id FROM working_memory WHERE project_id = $1 AND component = $2 AND state = 'active' ORDER BY last_accessed_at, id LIMIT 1";
        const DISPLACE: &str = "UPDATE working_memory SET state = 'pending' WHERE id = $1";
        const INSERT: &str = "INSERT INTO working_memory
             (project_id, content, content_type, component, activation, ln_activation, decay_rate, importance, state,
              file_path, sources, access_count, created_at, last_accessed_at, metadata, embedding)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, 0, $11, $11, $12, $13) RETURNING id";
        let (id, displaced, decayed, count_after) = on_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let exists: Option<i64> = sqlx::query_scalar(pool.lock_project_sql())
                .bind(project_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(Error::NotFound {
                    entity: "project",
                    id: project_id,
                    project_id,
                });
            }
            for &source in &item.sources {
                let n: i64 = sqlx::query_scalar(SOURCES)
                    .bind(project_id)
                    .bind(source)
                    .fetch_one(&mut *tx)
                    .await?;
                if n == 0 {
                    return Err(Error::NotFound {
                        entity: "phonological or visuospatial source item",
                        id: source,
                        project_id,
                    });
                }
            }
            let decayed = self
                .sweep_in(&mut tx, project_id, now, ln_threshold)
                .await?;
            let count: i64 = sqlx::query_scalar(COUNT)
                .bind(project_id)
                .bind(component.as_str())
                .fetch_one(&mut *tx)
                .await?;
            let mut displaced = None;
            if count as usize >= capacity {
                if self.config.strict_capacity {
                    return Err(Error::CapacityExceeded {
                        component: component.as_str(),
                        capacity,
                    });
                }
                let victim: i64 = match component {
                    Component::Phonological | Component::CentralExecutive => {
                        sqlx::query_scalar(WEAKEST)
                            .bind(now)
                            .bind(project_id)
                            .bind(component.as_str())
                            .fetch_one(&mut *tx)
                            .await?
                    }
                    Component::Visuospatial | Component::EpisodicBuffer => {
                        sqlx::query_scalar(STALEST)
                            .bind(project_id)
                            .bind(component.as_str())
                            .fetch_one(&mut *tx)
                            .await?
                    }
                };
                sqlx::query(DISPLACE).bind(victim).execute(&mut *tx).await?;
                displaced = Some(victim);
            }
            let id: i64 = sqlx::query_scalar(INSERT)
                .bind(project_id)
                .bind(&item.content)
                .bind(content_type.as_str())
                .bind(component.as_str())
                .bind(item.activation)
                .bind(ln_activation(item.activation))
                .bind(decay_rate)
                .bind(item.importance)
                .bind(item.file_path.as_deref())
                .bind(sqlx::types::Json(&item.sources))
                .bind(now)
                .bind(sqlx::types::Json(&item.metadata))
                .bind(embedding.as_deref())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            (
                id,
                displaced,
                decayed,
                count as usize + 1 - usize::from(displaced.is_some()),
            )
        });
        self.announce_decay(project_id, &decayed);
        if let Some(item_id) = displaced {
            tracing::info!(project_id, item_id, %component, "component full: item moved to pending consolidation");
            let _ = self.events.send(MemoryEvent::Displaced {
                project_id,
                item_id,
                component,
            });
        }
        if count_after + 1 >= capacity {
            tracing::warn!(project_id, %component, count = count_after, capacity, "working-memory component at its soft limit");
            let _ = self.events.send(MemoryEvent::SoftLimit {
                project_id,
                component,
                count: count_after,
                capacity,
            });
        }
        Ok(AddOutcome {
            id,
            displaced,
            decayed: decayed.into_iter().map(|(id, _)| id).collect(),
        })
    }

    /// Moves (or, with forgetting, deletes) the project's active items whose activation is below
    /// the threshold; returns `(id, content)` of each.
    async fn sweep_in<'c, DB>(
        &self,
        tx: &mut sqlx::Transaction<'c, DB>,
        project_id: i64,
        now: Millis,
        ln_threshold: f64,
    ) -> Result<Vec<(i64, String)>>
    where
        DB: sqlx::Database,
        for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        i64: sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB> + for<'r> sqlx::Decode<'r, DB>,
        f64: sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB>,
        String: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
        usize: sqlx::ColumnIndex<DB::Row>,
    {
        const TO_PENDING: &str = concat!("UPDATE working_memory SET state = 'pending' WHERE project_id = $2 AND state = 'active' AND ", ln_activation_sql!(), " < $3 RETURNING id, content");
        const FORGET: &str = concat!(
            "DELETE FROM working_memory WHERE project_id = $2 AND state = 'active' AND ",
            ln_activation_sql!(),
            " < $3 RETURNING id, content"
        );
        let sql = if self.config.forget_decayed {
            FORGET
        } else {
            TO_PENDING
        };
        let rows: Vec<(i64, String)> = sqlx::query_as(sql)
            .bind(now)
            .bind(project_id)
            .bind(ln_threshold)
            .fetch_all(&mut **tx)
            .await?;
        Ok(rows)
    }

    fn announce_decay(&self, project_id: i64, decayed: &[(i64, String)]) {
        for (item_id, content) in decayed {
            let item_id = *item_id;
            if self.config.forget_decayed {
                tracing::info!(project_id, item_id, content = %content, "decayed item forgotten (deleted)");
                let _ = self.events.send(MemoryEvent::Forgotten {
                    project_id,
                    item_id,
                    content: content.clone(),
                });
            } else {
                tracing::debug!(
                    project_id,
                    item_id,
                    "decayed item moved to pending consolidation"
                );
                let _ = self.events.send(MemoryEvent::Decayed {
                    project_id,
                    item_id,
                });
            }
        }
    }

    /// Applies decay now: active items below the threshold leave the active set. Returns their ids.
    ///
    /// # Errors
    /// Database errors.
    pub async fn sweep(&self, project_id: i64) -> Result<Vec<i64>> {
        let ln_threshold = ln_activation(self.config.decay_threshold);
        let now = now_ms();
        let decayed = on_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let decayed = self
                .sweep_in(&mut tx, project_id, now, ln_threshold)
                .await?;
            tx.commit().await?;
            decayed
        });
        self.announce_decay(project_id, &decayed);
        Ok(decayed.into_iter().map(|(id, _)| id).collect())
    }

    /// Item `id` of `project_id` (active or pending).
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist in this project.
    pub async fn get(&self, project_id: i64, id: i64) -> Result<Item> {
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 AND id = $2"
        );
        let row = fetch_rows!(self.db, ItemRow, SQL, fetch_optional, project_id, id);
        row.map(Item::from).ok_or(Error::NotFound {
            entity: "working memory item",
            id,
            project_id,
        })
    }

    /// Rehearses an active item: A0 becomes 1, last access becomes now, the access is counted.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the item does not exist in this project; [`Error::InvalidInput`]
    /// on `id` when it is pending consolidation (it has left the active set).
    #[tracing::instrument(skip(self))]
    pub async fn rehearse(&self, project_id: i64, id: i64) -> Result<Item> {
        const SQL: &str = concat!(
            "UPDATE working_memory SET activation = 1.0, ln_activation = 0.0, last_accessed_at = $1, access_count = access_count + 1
             WHERE project_id = $2 AND id = $3 AND state = 'active' RETURNING ",
            item_columns!()
        );
        let row = fetch_rows!(
            self.db,
            ItemRow,
            SQL,
            fetch_optional,
            now_ms(),
            project_id,
            id
        );
        match row {
            Some(row) => Ok(row.into()),
            None => {
                let item = self.get(project_id, id).await?;
                Err(Error::invalid(
                    "id",
                    format!("item {} is {} and cannot be rehearsed", item.id, item.state),
                ))
            }
        }
    }

    /// Items of `project_id` in `state`, optionally of one component, strongest first (by
    /// current activation computed in the database; ties by id).
    ///
    /// # Errors
    /// Database errors.
    pub async fn list(
        &self,
        project_id: i64,
        component: Option<Component>,
        state: ItemState,
    ) -> Result<Vec<Item>> {
        const SQL: &str = concat!(
            "SELECT ", item_columns!(), " FROM working_memory WHERE project_id = $2 AND state = $3 AND ($4 IS NULL OR component = $4)
             ORDER BY ", ln_activation_sql!(), " DESC, id"
        );
        let rows = fetch_rows!(
            self.db,
            ItemRow,
            SQL,
            fetch_all,
            now_ms(),
            project_id,
            state.as_str(),
            component.map(Component::as_str)
        );
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// Items waiting for consolidation, oldest first, at most `limit`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn pending(&self, project_id: i64, limit: u32) -> Result<Vec<Item>> {
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 AND state = 'pending' ORDER BY id LIMIT $2"
        );
        let rows = fetch_rows!(
            self.db,
            ItemRow,
            SQL,
            fetch_all,
            project_id,
            i64::from(limit)
        );
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// Current activations of the project's active items at `now`, computed by the database
    /// (the number eviction and ordering use), strongest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn activations_at(&self, project_id: i64, now: Millis) -> Result<Vec<(i64, f64)>> {
        const SQL: &str = concat!(
            "SELECT id, ",
            ln_activation_sql!(),
            " FROM working_memory WHERE project_id = $2 AND state = 'active' ORDER BY 2 DESC, id"
        );
        let rows: Vec<(i64, f64)> = on_pool!(self.db, |pool| sqlx::query_as(SQL)
            .bind(now)
            .bind(project_id)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(|(id, ln)| (id, ln.exp())).collect())
    }

    /// How full each component of `project_id` is, in [`Component::ALL`] order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn capacity(&self, project_id: i64) -> Result<Vec<CapacityStatus>> {
        const SQL: &str = "SELECT component, COUNT(*) FROM working_memory WHERE project_id = $1 AND state = 'active' GROUP BY component";
        let counts: Vec<(String, i64)> = on_pool!(self.db, |pool| sqlx::query_as(SQL)
            .bind(project_id)
            .fetch_all(pool)
            .await?);
        Ok(Component::ALL
            .iter()
            .map(|&c| {
                let n = counts
                    .iter()
                    .find(|(name, _)| name == c.as_str())
                    .map_or(0, |(_, n)| *n as usize);
                CapacityStatus::of(c, n, self.config.capacities.of(c))
            })
            .collect())
    }

    /// Sketchpad items whose file lies in `directory` or below it, matching whole path
    /// components (`/src/auth` does not match `/src/authz/x.rs`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty directory.
    pub async fn find_by_directory(&self, project_id: i64, directory: &str) -> Result<Vec<Item>> {
        check_text("directory", directory, 4096)?;
        let dir = directory.trim_end_matches('/');
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 AND file_path IS NOT NULL
             AND substr(file_path, 1, length($2) + 1) = $2 || '/' ORDER BY id"
        );
        let rows = fetch_rows!(self.db, ItemRow, SQL, fetch_all, project_id, dir);
        Ok(rows
            .into_iter()
            .map(Item::from)
            .filter(|i| {
                i.file_path
                    .as_deref()
                    .is_some_and(|p| spatial::is_within(p, dir))
            })
            .collect())
    }

    /// The other sketchpad items in the same directory as `path` (not below it).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty path.
    pub async fn spatial_neighbours(&self, project_id: i64, path: &str) -> Result<Vec<Item>> {
        check_text("path", path, 4096)?;
        let dir = spatial::file_info(path).directory;
        let under = self.find_by_directory(project_id, &dir).await?;
        Ok(under
            .into_iter()
            .filter(|i| {
                i.file_path.as_deref() != Some(path)
                    && i.file_info().is_some_and(|f| f.directory == dir)
            })
            .collect())
    }

    /// The `k` items of `project_id` (active and pending) that best match `query`, by
    /// `0.7 · similarity + 0.3 · current activation`, best first (ties by id). Similarity is the
    /// cosine of embeddings when `query_embedding` and the item both have one, else the lexical
    /// similarity of [`crate::features::lexical::lexical`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty query or `k` of 0.
    pub async fn search(
        &self,
        project_id: i64,
        query: &str,
        k: usize,
        query_embedding: Option<&[f32]>,
    ) -> Result<Vec<SearchHit>> {
        check_text("query", query, item::MAX_ITEM_CHARS)?;
        if k == 0 {
            return Err(Error::invalid("k", "must be at least 1"));
        }
        if let Some(e) = query_embedding {
            crate::error::check_embedding("query_embedding", e, item::MAX_EMBEDDING_DIMS)?;
        }
        let items = self.all_items(project_id).await?;
        let now = now_ms();
        let query_words = crate::features::lexical::words(query);
        let mut hits: Vec<SearchHit> = items
            .into_iter()
            .map(|item| {
                let similarity = match (query_embedding, item.embedding.as_deref()) {
                    (Some(q), Some(e)) => crate::features::lexical::cosine(q, e),
                    _ => crate::features::lexical::lexical(
                        &query_words,
                        &crate::features::lexical::words(&item.content),
                    ),
                };
                let activation = item.activation_at(now);
                SearchHit {
                    score: 0.7 * similarity + 0.3 * activation,
                    similarity,
                    activation,
                    item,
                }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.id.cmp(&b.item.id)));
        hits.truncate(k);
        Ok(hits)
    }

    /// Every item of `project_id`, active and pending, by id.
    async fn all_items(&self, project_id: i64) -> Result<Vec<Item>> {
        const SQL: &str = concat!(
            "SELECT ",
            item_columns!(),
            " FROM working_memory WHERE project_id = $1 ORDER BY id"
        );
        let rows = fetch_rows!(self.db, ItemRow, SQL, fetch_all, project_id);
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// Per-component figures of `project_id`, in [`Component::ALL`] order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn stats(&self, project_id: i64) -> Result<Vec<ComponentStats>> {
        let items = self.all_items(project_id).await?;
        let now = now_ms();
        Ok(Component::ALL
            .iter()
            .map(|&component| {
                let active: Vec<&Item> = items
                    .iter()
                    .filter(|i| i.component == component && i.state == ItemState::Active)
                    .collect();
                let pending = items
                    .iter()
                    .filter(|i| i.component == component && i.state == ItemState::Pending)
                    .count();
                let acts: Vec<f64> = active.iter().map(|i| i.activation_at(now)).collect();
                let n = active.len();
                ComponentStats {
                    component,
                    count: n,
                    pending,
                    activation: (n > 0).then(|| {
                        let mean = acts.iter().sum::<f64>() / n as f64;
                        (
                            mean,
                            acts.iter().copied().fold(f64::INFINITY, f64::min),
                            acts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        )
                    }),
                    mean_age_seconds: (n > 0)
                        .then(|| active.iter().map(|i| i.age_seconds(now)).sum::<f64>() / n as f64),
                    capacity_used: n as f64 / self.config.capacities.of(component) as f64,
                }
            })
            .collect())
    }
}
