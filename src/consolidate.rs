//! Consolidation: moving working-memory items into long-term layers, transactionally.
//!
//! One transaction per call, whatever the batch size: the items are *claimed* by deleting them
//! from working memory (`DELETE ... RETURNING`, so two workers can never both get an item:
//! PostgreSQL row locks and `FOR UPDATE SKIP LOCKED` for pending items, SQLite's single
//! writer), decided in memory by the router, then the route log rows and the layer rows are
//! written with multi-row `INSERT`s. Either all of it commits or none of it does: a failure at
//! any point (say, a constraint violation in a layer insert) rolls back the claim too, and every
//! item stays in working memory.
//!
//! Layer rows carry `project_id`, `source_item_id`, `route_id` and provenance metadata
//! `{"source": "working_memory", "item_id", "importance", "speaker", "session", "occurred_at",
//! "item_metadata"}`:
//! semantic → `semantic_memories` (type fact); episodic → `episodic_events` (type action,
//! occurred when the item did, session from the item's session, its `session` metadata or
//! `consolidation`); procedural →
//! `procedures` (name `Procedure from working memory #<id>`, category workflow, template = content);
//! prospective → `prospective_tasks` (active form `Working on: ` + first 50 characters, status
//! pending, priority medium). The item's recall-index row moves with it (same id, new place),
//! in the same transaction: the database moves it when the layer row naming the item as its
//! source is inserted (migration 0003).

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::db::items::{self, Claim};
use crate::db::layers::{
    insert_events, insert_procedures, insert_semantic, insert_tasks, MemoryType, NewEvent,
    NewProcedure, NewSemantic, NewTask, Origin, TaskPriority,
};
use crate::db::routes::{insert_routes, NewRoute};
use crate::db::{Database, WriteTx};
use crate::error::Result;
use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::layer::Layer;
use crate::router::{Explanation, RouteDecision, Router};
use crate::time::{now_ms, Millis};
use crate::working_memory::Item;

/// The event type of a consolidated episodic event.
pub const CONSOLIDATED_EVENT_TYPE: &str = "action";
/// The category of a consolidated procedure.
pub const CONSOLIDATED_PROCEDURE_CATEGORY: &str = "workflow";
/// The session of a consolidated event whose item names none in its metadata.
pub const DEFAULT_SESSION: &str = "consolidation";

/// One consolidated item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Consolidated {
    /// The working-memory item (now gone from working memory).
    pub item_id: ItemId,
    /// Where it went.
    pub layer: Layer,
    /// Its id in that layer's table.
    pub memory_id: MemoryId,
    /// Its route-log entry (give feedback on this).
    pub route_id: RouteId,
    /// The decision's confidence (1 for an override).
    pub confidence: f64,
    /// The full decision.
    pub decision: RouteDecision,
    /// Why, in words.
    pub explanation: Explanation,
}

/// What a batch did: every requested id is either consolidated or listed as not found.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct BatchReport {
    /// The items consolidated, by item id.
    pub consolidated: Vec<Consolidated>,
    /// Requested ids that are not in this project's working memory (never existed, belong to
    /// another project, or were already consolidated, e.g. by another worker).
    pub not_found: Vec<ItemId>,
}

fn provenance(item: &Item) -> Value {
    json!({
        "source": "working_memory", "item_id": item.id, "importance": item.importance,
        "speaker": item.speaker, "session": item.session, "occurred_at": item.occurred_at,
        "item_metadata": item.metadata,
    })
}

/// The item's session: its own, else a `session`/`session_id` string in its metadata (how
/// callers said it before items had one), else [`DEFAULT_SESSION`].
fn session_of(item: &Item) -> &str {
    item.session.as_deref().unwrap_or_else(|| {
        ["session", "session_id"]
            .iter()
            .find_map(|k| item.metadata.get(*k).and_then(Value::as_str))
            .unwrap_or(DEFAULT_SESSION)
    })
}

/// An item and what was decided about it.
struct Decided {
    item: Item,
    decision: RouteDecision,
    explanation: Explanation,
}

/// Claims items, routes them (or applies `override_layer`) and writes everything in one
/// transaction: claim → decide (pure) → write. Returns the consolidated items in item-id order.
pub(crate) async fn consolidate(
    db: &Database,
    router: &Router,
    project_id: ProjectId,
    claim: Claim<'_>,
    override_layer: Option<Layer>,
) -> Result<Vec<Consolidated>> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let claimed: Vec<Item> = items::claim(&mut tx, project_id, claim)
        .await?
        .into_iter()
        .map(Item::from)
        .collect();
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let decided = decide(router, claimed, override_layer, now);
    let done = write(&mut tx, project_id, decided, now).await?;
    tx.commit().await?;
    Ok(done)
}

/// Routes each item (or applies `override_layer`) and explains the decision; pure. Each item's
/// route input is built once, for its decision and its explanation.
fn decide(
    router: &Router,
    items: Vec<Item>,
    override_layer: Option<Layer>,
    now: Millis,
) -> Vec<Decided> {
    items
        .into_iter()
        .map(|item| {
            let input = item.route_input(now);
            let decision = match override_layer {
                Some(layer) => RouteDecision::overridden(
                    layer,
                    router.feature_schema(),
                    router.features(&input),
                ),
                None => router.route(&input),
            };
            let explanation = router.explain(&input, &decision);
            Decided {
                item,
                decision,
                explanation,
            }
        })
        .collect()
}

/// Logs the routes, then stores each item in its layer, through the repositories' inserts.
async fn write(
    tx: &mut WriteTx,
    project_id: ProjectId,
    decided: Vec<Decided>,
    now: Millis,
) -> Result<Vec<Consolidated>> {
    let routes: Vec<NewRoute<'_>> = decided
        .iter()
        .map(|d| NewRoute {
            project_id,
            item_id: d.item.id,
            input: d.item.route_input(now),
            decision: &d.decision,
            now,
            label: None,
        })
        .collect();
    let route_ids: HashMap<ItemId, RouteId> = insert_routes(tx, &routes)
        .await?
        .into_iter()
        .map(|(route_id, item_id)| (item_id, route_id))
        .collect();
    let memory_ids = store_in_layers(tx, project_id, &decided, &route_ids, now).await?;
    Ok(decided
        .into_iter()
        .map(|d| Consolidated {
            item_id: d.item.id,
            layer: d.decision.layer,
            memory_id: memory_ids[&d.item.id],
            route_id: route_ids[&d.item.id],
            confidence: d.decision.confidence,
            explanation: d.explanation,
            decision: d.decision,
        })
        .collect())
}

/// What every layer row of a consolidated item shares.
struct RowContext<'a> {
    project_id: ProjectId,
    route_ids: &'a HashMap<ItemId, RouteId>,
    now: Millis,
}

impl RowContext<'_> {
    fn origin(&self, item: &Item) -> Origin {
        Origin {
            source_item_id: Some(item.id),
            route_id: Some(self.route_ids[&item.id]),
            metadata: provenance(item),
        }
    }
}

impl Decided {
    fn semantic(&self, c: &RowContext<'_>) -> NewSemantic<'_> {
        NewSemantic {
            project_id: c.project_id,
            content: &self.item.content,
            memory_type: MemoryType::Fact,
            tags: &[],
            origin: c.origin(&self.item),
            now: c.now,
        }
    }

    fn event(&self, c: &RowContext<'_>) -> NewEvent<'_> {
        NewEvent {
            project_id: c.project_id,
            content: &self.item.content,
            event_type: CONSOLIDATED_EVENT_TYPE,
            session_id: session_of(&self.item),
            occurred_at: self.item.occurred_at,
            origin: c.origin(&self.item),
            now: c.now,
        }
    }

    fn procedure(&self, c: &RowContext<'_>) -> NewProcedure<'_> {
        NewProcedure {
            project_id: c.project_id,
            name: format!("Procedure from working memory #{}", self.item.id),
            category: CONSOLIDATED_PROCEDURE_CATEGORY,
            template: &self.item.content,
            origin: c.origin(&self.item),
            now: c.now,
        }
    }

    fn task(&self, c: &RowContext<'_>) -> NewTask<'_> {
        NewTask {
            project_id: c.project_id,
            content: &self.item.content,
            priority: TaskPriority::Medium,
            due_at: None,
            origin: c.origin(&self.item),
            now: c.now,
        }
    }
}

/// Inserts each item into its decided layer; returns item id → memory id.
async fn store_in_layers(
    tx: &mut WriteTx,
    project_id: ProjectId,
    decided: &[Decided],
    route_ids: &HashMap<ItemId, RouteId>,
    now: Millis,
) -> Result<HashMap<ItemId, MemoryId>> {
    let c = RowContext {
        project_id,
        route_ids,
        now,
    };
    let rows = |layer: Layer| decided.iter().filter(move |d| d.decision.layer == layer);
    let semantic: Vec<_> = rows(Layer::Semantic).map(|d| d.semantic(&c)).collect();
    let events: Vec<_> = rows(Layer::Episodic).map(|d| d.event(&c)).collect();
    let procedures: Vec<_> = rows(Layer::Procedural).map(|d| d.procedure(&c)).collect();
    let tasks: Vec<_> = rows(Layer::Prospective).map(|d| d.task(&c)).collect();
    let mut ids = insert_semantic(tx, &semantic).await?;
    ids.extend(insert_events(tx, &events).await?);
    ids.extend(insert_procedures(tx, &procedures).await?);
    ids.extend(insert_tasks(tx, &tasks).await?);
    Ok(ids
        .into_iter()
        .filter_map(|(id, item_id)| item_id.map(|item_id| (item_id, id)))
        .collect())
}

/// Splits requested ids into those consolidated and those not found. Linear in the ids (a
/// hash set of the consolidated ones), never requested × consolidated.
pub(crate) fn report(requested: &[ItemId], consolidated: Vec<Consolidated>) -> BatchReport {
    let done: std::collections::HashSet<ItemId> = consolidated.iter().map(|c| c.item_id).collect();
    let mut not_found: Vec<ItemId> = requested
        .iter()
        .copied()
        .filter(|id| !done.contains(id))
        .collect();
    not_found.sort_unstable();
    not_found.dedup();
    BatchReport {
        consolidated,
        not_found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{Explanation, RouteDecision};
    use crate::FeatureSchema;

    fn done(id: i64) -> Consolidated {
        let decision = RouteDecision::overridden(Layer::Semantic, FeatureSchema::V2, Vec::new());
        Consolidated {
            item_id: ItemId(id),
            layer: Layer::Semantic,
            memory_id: MemoryId(id),
            route_id: RouteId(id),
            confidence: 1.0,
            explanation: Explanation::plain(&decision, "test"),
            decision,
        }
    }

    #[test]
    fn the_batch_report_lists_each_missing_id_once_and_is_linear() {
        let small = report(&[5, 3, 9, 3, 7, 5].map(ItemId), vec![done(3), done(7)]);
        assert_eq!(small.not_found, [5, 9].map(ItemId));
        assert_eq!(small.consolidated.len(), 2);
        // The allowed maximum: 100,000 requested, half consolidated. Matching must be linear:
        // quadratic matching would make 5 · 10^9 comparisons here.
        let requested: Vec<ItemId> = (0..100_000).map(ItemId).collect();
        let consolidated: Vec<Consolidated> = (0..100_000).step_by(2).map(done).collect();
        let large = report(&requested, consolidated);
        assert_eq!(large.not_found.len(), 50_000);
        assert!(large.not_found.iter().all(|id| id.0 % 2 == 1));
    }
}
