//! The working memory, after Baddeley: a phonological loop and a visuospatial sketchpad of 7
//! items each, an episodic buffer of 4 chunks, and a central executive holding goals and the
//! focus of attention.
//!
//! - [`activation`]: A(t) = A0·exp(−λt), the default decay and its half-lives.
//! - [`CapacityStatus`]: how full a component is ([`Capacities`](crate::Capacities) sets the
//!   limits).
//! - [`Item`], [`NewItem`], [`AddOutcome`]: items, what an add takes and reports.
//! - [`file_info`]: file types, directories and names for the sketchpad.
//! - [`Goals`]: the central executive's goals and attention.
//! - [`MemoryEvent`]: what subscribers hear.
//!
//! **Nothing is lost.** A full component does not delete: its weakest item (lowest current
//! activation in the loop and the executive, least recently accessed in the sketchpad and the
//! buffer) moves to *pending consolidation* in the same transaction as the add. Items whose
//! activation decays below the threshold move there too (or, if forgetting is configured, are
//! deleted with a `tracing` record and a [`MemoryEvent::Forgotten`] carrying their content).
//! Pending items do not count toward capacity; consolidation drains them.

pub mod activation;
mod capacity;
mod events;
mod item;

mod spatial;

use tokio::sync::broadcast;

use crate::component::{Component, ItemState};
use crate::config::WorkingMemoryConfig;
use crate::db::items::{self, Eviction, Items, NewItemRow};
use crate::db::{Database, WriteTx};
use crate::error::{check_text, Entity, Error, Result};
use crate::features::lexical;
use crate::ids::{ItemId, ProjectId};
use crate::time::{now_ms, Millis};

pub use crate::db::goals::{
    Focus, FocusTarget, Goal, GoalNode, GoalStatus, GoalType, Goals, NewGoal,
};
pub use capacity::{CapacityLevel, CapacityStatus};
pub use events::MemoryEvent;
pub use item::{
    AddOutcome, Item, NewItem, MAX_CHUNK_PARTS, MAX_EMBEDDING_DIMS, MAX_ITEM_CHARS,
    MAX_LABEL_CHARS, MAX_OCCURRED_AT,
};
pub use spatial::{file_info, file_type, is_within, FileInfo};

use activation::ln_activation;
use item::encode_embedding;

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
    pub(crate) fn new(
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

    /// The `working_memory` table's reads.
    fn items(&self) -> Items {
        Items::new(self.db.clone())
    }

    /// The central executive's goals and attention.
    pub fn goals(&self) -> Goals {
        Goals::new(self.db.clone())
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
    pub async fn add(&self, project_id: ProjectId, item: NewItem) -> Result<AddOutcome> {
        let decay_rate = item.validate(self.config.decay_rate)?;
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        tx.lock_project(project_id).await?;
        check_sources(&mut tx, project_id, &item.sources).await?;
        let decayed = self.sweep_in(&mut tx, project_id, now).await?;
        let (displaced, count) = self
            .make_room(&mut tx, project_id, item.component, now)
            .await?;
        let id = items::insert(&mut tx, &new_row(project_id, &item, decay_rate, now)).await?;
        tx.commit().await?;
        self.announce_decay(project_id, &decayed);
        self.announce_add(project_id, item.component, displaced, count + 1);
        Ok(AddOutcome {
            id,
            displaced,
            decayed: decayed.into_iter().map(|(id, _)| id).collect(),
        })
    }

    /// Makes room for one more item of `component`: when the component is full, fails in
    /// strict mode, else moves its weakest item (loop, executive: lowest activation) or its
    /// stalest (sketchpad, buffer: least recently accessed) to pending. Returns the displaced
    /// id and how many active items the component then holds.
    async fn make_room(
        &self,
        tx: &mut WriteTx,
        project_id: ProjectId,
        component: Component,
        now: Millis,
    ) -> Result<(Option<ItemId>, usize)> {
        let capacity = self.config.capacities.of(component);
        let eviction = match component {
            Component::Phonological | Component::CentralExecutive => Eviction::Weakest,
            Component::Visuospatial | Component::EpisodicBuffer => Eviction::Stalest,
        };
        loop {
            let count = items::count_active(tx, project_id, component).await?;
            if count < capacity {
                return Ok((None, count));
            }
            if self.config.strict_capacity {
                return Err(Error::CapacityExceeded {
                    component: component.as_str(),
                    capacity,
                });
            }
            // On PostgreSQL a concurrent consolidation may claim the chosen item between this
            // statement's snapshot and its update; then a slot is free, so count again.
            if let Some(victim) = items::displace(tx, project_id, component, eviction, now).await? {
                return Ok((Some(victim), count - 1));
            }
        }
    }

    /// Logs and publishes what an add did to its component: the displaced item, and reaching
    /// the soft limit (one below capacity) with `count` active items.
    fn announce_add(
        &self,
        project_id: ProjectId,
        component: Component,
        displaced: Option<ItemId>,
        count: usize,
    ) {
        let capacity = self.config.capacities.of(component);
        if let Some(item_id) = displaced {
            tracing::info!(%project_id, %item_id, %component, "component full: item moved to pending consolidation");
            let _ = self.events.send(MemoryEvent::Displaced {
                project_id,
                item_id,
                component,
            });
        }
        if count + 1 >= capacity {
            tracing::warn!(%project_id, %component, count, capacity, "working-memory component at its soft limit");
            let _ = self.events.send(MemoryEvent::SoftLimit {
                project_id,
                component,
                count,
                capacity,
            });
        }
    }

    /// Moves (or, with forgetting, deletes) the project's active items whose activation is below
    /// the threshold; returns `(id, content)` of each.
    async fn sweep_in(
        &self,
        tx: &mut WriteTx,
        project_id: ProjectId,
        now: Millis,
    ) -> Result<Vec<(ItemId, String)>> {
        let ln_threshold = ln_activation(self.config.decay_threshold);
        items::sweep(
            tx,
            project_id,
            now,
            ln_threshold,
            self.config.forget_decayed,
        )
        .await
    }

    fn announce_decay(&self, project_id: ProjectId, decayed: &[(ItemId, String)]) {
        for (item_id, content) in decayed {
            let item_id = *item_id;
            if self.config.forget_decayed {
                tracing::info!(%project_id, %item_id, content = %content, "decayed item forgotten (deleted)");
                let _ = self.events.send(MemoryEvent::Forgotten {
                    project_id,
                    item_id,
                    content: content.clone(),
                });
            } else {
                tracing::debug!(
                    %project_id,
                    %item_id,
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
    pub async fn sweep(&self, project_id: ProjectId) -> Result<Vec<ItemId>> {
        let mut tx = self.db.begin_write().await?;
        let decayed = self.sweep_in(&mut tx, project_id, now_ms()).await?;
        tx.commit().await?;
        self.announce_decay(project_id, &decayed);
        Ok(decayed.into_iter().map(|(id, _)| id).collect())
    }

    /// Item `id` of `project_id` (active or pending).
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist in this project.
    pub async fn get(&self, project_id: ProjectId, id: ItemId) -> Result<Item> {
        let row = self.items().get(project_id, id).await?;
        row.map(Item::from).ok_or(Error::NotFound {
            entity: Entity::Item,
            id: id.0,
            project_id,
        })
    }

    /// Rehearses an active item: A0 becomes 1, last access becomes now, the access is counted.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the item does not exist in this project; [`Error::InvalidInput`]
    /// on `id` when it is pending consolidation (it has left the active set).
    #[tracing::instrument(skip(self))]
    pub async fn rehearse(&self, project_id: ProjectId, id: ItemId) -> Result<Item> {
        match self.items().rehearse(project_id, id, now_ms()).await? {
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
        project_id: ProjectId,
        component: Option<Component>,
        state: ItemState,
    ) -> Result<Vec<Item>> {
        let rows = self
            .items()
            .list(project_id, component, state, now_ms())
            .await?;
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// Items waiting for consolidation, oldest first, at most `limit`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn pending(&self, project_id: ProjectId, limit: u32) -> Result<Vec<Item>> {
        let rows = self.items().pending(project_id, limit).await?;
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// Current activations of the project's active items at `now`, computed by the database
    /// (the number eviction and ordering use), strongest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn activations_at(
        &self,
        project_id: ProjectId,
        now: Millis,
    ) -> Result<Vec<(ItemId, f64)>> {
        let rows = self.items().ln_activations_at(project_id, now).await?;
        Ok(rows.into_iter().map(|(id, ln)| (id, ln.exp())).collect())
    }

    /// How full each component of `project_id` is, in [`Component::ALL`] order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn capacity(&self, project_id: ProjectId) -> Result<Vec<CapacityStatus>> {
        let counts = self.items().active_counts(project_id).await?;
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
    pub async fn find_by_directory(
        &self,
        project_id: ProjectId,
        directory: &str,
    ) -> Result<Vec<Item>> {
        check_text("directory", directory, 4096)?;
        let dir = directory.trim_end_matches('/');
        let rows = self.items().under_directory(project_id, dir).await?;
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
    pub async fn spatial_neighbours(&self, project_id: ProjectId, path: &str) -> Result<Vec<Item>> {
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
    /// similarity of [`lexical::lexical`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty query or `k` of 0.
    pub async fn search(
        &self,
        project_id: ProjectId,
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
        let query_words = lexical::words(query);
        let mut hits: Vec<SearchHit> = items
            .into_iter()
            .map(|item| {
                let similarity = match (query_embedding, item.embedding.as_deref()) {
                    (Some(q), Some(e)) => lexical::cosine(q, e),
                    _ => lexical::lexical(&query_words, &lexical::words(&item.content)),
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
    async fn all_items(&self, project_id: ProjectId) -> Result<Vec<Item>> {
        let rows = self.items().all(project_id).await?;
        Ok(rows.into_iter().map(Item::from).collect())
    }

    /// Per-component figures of `project_id`, in [`Component::ALL`] order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn stats(&self, project_id: ProjectId) -> Result<Vec<ComponentStats>> {
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

/// Checks that every chunk source is a phonological or visuospatial item of the project.
async fn check_sources(tx: &mut WriteTx, project_id: ProjectId, sources: &[ItemId]) -> Result<()> {
    for &source in sources {
        if !items::is_chunk_source(tx, project_id, source).await? {
            return Err(Error::NotFound {
                entity: Entity::Item,
                id: source.0,
                project_id,
            });
        }
    }
    Ok(())
}

/// The row a validated `item` becomes, added at `now` with its effective `decay_rate`.
fn new_row(project_id: ProjectId, item: &NewItem, decay_rate: f64, now: Millis) -> NewItemRow<'_> {
    NewItemRow {
        project_id,
        content: &item.content,
        content_type: item
            .content_type
            .unwrap_or(item.component.default_content_type()),
        component: item.component,
        activation: item.activation,
        ln_activation: ln_activation(item.activation),
        decay_rate,
        importance: item.importance,
        file_path: item.file_path.as_deref(),
        sources: &item.sources,
        metadata: &item.metadata,
        embedding: item.embedding.as_deref().map(encode_embedding),
        text_kind: item.kind,
        speaker: item.speaker.as_deref(),
        session: item.session.as_deref(),
        occurred_at: item.occurred_at,
        now,
    }
}
