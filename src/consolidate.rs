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
//! `{"source": "working_memory", "item_id", "importance", "item_metadata"}`:
//! semantic → `semantic_memories` (type fact); episodic → `episodic_events` (type action,
//! occurred now, session from the item's `session` metadata or `consolidation`); procedural →
//! `procedures` (name `Procedure from working memory #<id>`, category workflow, template = content);
//! prospective → `prospective_tasks` (active form `Working on: ` + first 50 characters, status
//! pending, priority medium).

use std::collections::HashMap;

use serde_json::{json, Value};
use sqlx::QueryBuilder;

use crate::config::Backend;
use crate::db::layers::active_form;
use crate::db::{item_columns, on_pool, Database, PoolExt};
use crate::error::Result;
use crate::layer::Layer;
use crate::router::{Explanation, RouteDecision, Router};
use crate::time::now_ms;
use crate::working_memory::item::ItemRow;
use crate::working_memory::Item;

/// Rows per multi-row `INSERT`: 13 binds each keeps well inside SQLite's and PostgreSQL's
/// parameter limits (32,766 and 65,535).
const ROWS_PER_INSERT: usize = 1000;

/// One consolidated item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Consolidated {
    /// The working-memory item (now gone from working memory).
    pub item_id: i64,
    /// Where it went.
    pub layer: Layer,
    /// Its id in that layer's table.
    pub memory_id: i64,
    /// Its route-log entry (give feedback on this).
    pub route_id: i64,
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
    pub not_found: Vec<i64>,
}

/// Which items to claim.
pub(crate) enum Claim<'a> {
    /// These ids (of the project).
    Ids(&'a [i64]),
    /// Up to this many pending items, oldest first.
    Pending(u32),
}

const CLAIM_IDS_SQLITE: &str = concat!(
    "DELETE FROM working_memory WHERE project_id = $1 AND id IN (SELECT value FROM json_each($2)) RETURNING ",
    item_columns!()
);
const CLAIM_IDS_POSTGRES: &str = concat!(
    "DELETE FROM working_memory WHERE project_id = $1 AND id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)::bigint)) RETURNING ",
    item_columns!()
);
const CLAIM_PENDING_SQLITE: &str = concat!(
    "DELETE FROM working_memory WHERE id IN
       (SELECT id FROM working_memory WHERE project_id = $1 AND state = 'pending' ORDER BY id LIMIT $2) RETURNING ",
    item_columns!()
);
const CLAIM_PENDING_POSTGRES: &str = concat!(
    "DELETE FROM working_memory WHERE id IN
       (SELECT id FROM working_memory WHERE project_id = $1 AND state = 'pending' ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING ",
    item_columns!()
);

fn provenance(item: &Item) -> Value {
    json!({ "source": "working_memory", "item_id": item.id, "importance": item.importance, "item_metadata": item.metadata })
}

fn session_of(item: &Item) -> String {
    ["session", "session_id"]
        .iter()
        .find_map(|k| item.metadata.get(*k).and_then(Value::as_str))
        .unwrap_or("consolidation")
        .to_owned()
}

/// Multi-row insert of `rows` in chunks; `RETURNING id, <key>`; returns key → id.
macro_rules! insert_returning {
    ($tx:expr, $rows:expr, $head:expr, $tail:expr, |$b:ident, $row:ident| $push:block) => {{
        let mut ids: HashMap<i64, i64> = HashMap::new();
        for chunk in $rows.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::new($head);
            qb.push_values(chunk.iter(), |mut $b, $row| $push);
            qb.push($tail);
            let returned: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *$tx).await?;
            ids.extend(returned.into_iter().map(|(id, key)| (key, id)));
        }
        ids
    }};
}

/// Claims items, routes them (or applies `override_layer`) and writes everything in one
/// transaction. Returns the consolidated items in item-id order.
pub(crate) async fn consolidate(
    db: &Database,
    router: &Router,
    project_id: i64,
    claim: Claim<'_>,
    override_layer: Option<Layer>,
) -> Result<Vec<Consolidated>> {
    let now = now_ms();
    on_pool!(db, |pool| {
        let backend = pool.backend();
        let mut tx = pool.begin_write().await?;
        let rows: Vec<ItemRow> = match claim {
            Claim::Ids(ids) => {
                let sql = if backend == Backend::Sqlite {
                    CLAIM_IDS_SQLITE
                } else {
                    CLAIM_IDS_POSTGRES
                };
                sqlx::query_as(sql)
                    .bind(project_id)
                    .bind(serde_json::to_string(ids).expect("ids serialise"))
                    .fetch_all(&mut *tx)
                    .await?
            }
            Claim::Pending(limit) => {
                let sql = if backend == Backend::Sqlite {
                    CLAIM_PENDING_SQLITE
                } else {
                    CLAIM_PENDING_POSTGRES
                };
                sqlx::query_as(sql)
                    .bind(project_id)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        let mut items: Vec<Item> = rows.into_iter().map(Item::from).collect();
        if items.is_empty() {
            return Ok(Vec::new());
        }
        items.sort_by_key(|i| i.id);
        // Each item's route input is built once, for its decision and its explanation.
        let mut explanations: Vec<Explanation> = Vec::with_capacity(items.len());
        let decided: Vec<(&Item, RouteDecision)> = items
            .iter()
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
                explanations.push(router.explain(&input, &decision));
                (item, decision)
            })
            .collect();

        let route_ids = insert_returning!(
            tx,
            decided,
            "INSERT INTO consolidation_routes (project_id, item_id, content, component, activation, importance, age_seconds, features, feature_schema, model_version, layer, confidence, created_at) ",
            " RETURNING id, item_id",
            |b, row| {
                let (item, d) = row;
                b.push_bind(project_id)
                    .push_bind(item.id)
                    .push_bind(item.content.clone())
                    .push_bind(item.component.as_str())
                    .push_bind(item.activation)
                    .push_bind(item.importance)
                    .push_bind(item.age_seconds(now))
                    .push_bind(sqlx::types::Json(&d.features))
                    .push_bind(d.feature_schema.as_str())
                    .push_bind(d.model.clone())
                    .push_bind(d.layer.as_str())
                    .push_bind(d.confidence)
                    .push_bind(now);
            }
        );
        let of_layer = |layer: Layer| -> Vec<(&Item, i64)> {
            decided
                .iter()
                .filter(|(_, d)| d.layer == layer)
                .map(|(item, _)| (*item, route_ids[&item.id]))
                .collect()
        };
        let mut memory_ids: HashMap<i64, i64> = HashMap::new();
        let semantic = of_layer(Layer::Semantic);
        if !semantic.is_empty() {
            memory_ids.extend(insert_returning!(
                tx,
                semantic,
                "INSERT INTO semantic_memories (project_id, content, memory_type, tags, source_item_id, route_id, metadata, created_at, last_accessed_at) ",
                " RETURNING id, source_item_id",
                |b, row| {
                    let (item, route_id) = row;
                    b.push_bind(project_id)
                        .push_bind(item.content.clone())
                        .push_bind("fact")
                        .push_bind(sqlx::types::Json(Vec::<String>::new()))
                        .push_bind(item.id)
                        .push_bind(*route_id)
                        .push_bind(sqlx::types::Json(provenance(item)))
                        .push_bind(now)
                        .push_bind(now);
                }
            ));
        }
        let episodic = of_layer(Layer::Episodic);
        if !episodic.is_empty() {
            memory_ids.extend(insert_returning!(
                tx,
                episodic,
                "INSERT INTO episodic_events (project_id, content, event_type, session_id, occurred_at, source_item_id, route_id, metadata, created_at) ",
                " RETURNING id, source_item_id",
                |b, row| {
                    let (item, route_id) = row;
                    b.push_bind(project_id)
                        .push_bind(item.content.clone())
                        .push_bind("action")
                        .push_bind(session_of(item))
                        .push_bind(now)
                        .push_bind(item.id)
                        .push_bind(*route_id)
                        .push_bind(sqlx::types::Json(provenance(item)))
                        .push_bind(now);
                }
            ));
        }
        let procedural = of_layer(Layer::Procedural);
        if !procedural.is_empty() {
            memory_ids.extend(insert_returning!(
                tx,
                procedural,
                "INSERT INTO procedures (project_id, name, category, template, source_item_id, route_id, metadata, created_at) ",
                " RETURNING id, source_item_id",
                |b, row| {
                    let (item, route_id) = row;
                    b.push_bind(project_id)
                        .push_bind(format!("Procedure from working memory #{}", item.id))
                        .push_bind("workflow")
                        .push_bind(item.content.clone())
                        .push_bind(item.id)
                        .push_bind(*route_id)
                        .push_bind(sqlx::types::Json(provenance(item)))
                        .push_bind(now);
                }
            ));
        }
        let prospective = of_layer(Layer::Prospective);
        if !prospective.is_empty() {
            memory_ids.extend(insert_returning!(
                tx,
                prospective,
                "INSERT INTO prospective_tasks (project_id, content, active_form, status, priority, source_item_id, route_id, metadata, created_at) ",
                " RETURNING id, source_item_id",
                |b, row| {
                    let (item, route_id) = row;
                    b.push_bind(project_id)
                        .push_bind(item.content.clone())
                        .push_bind(active_form(&item.content))
                        .push_bind("pending")
                        .push_bind("medium")
                        .push_bind(item.id)
                        .push_bind(*route_id)
                        .push_bind(sqlx::types::Json(provenance(item)))
                        .push_bind(now);
                }
            ));
        }
        let done: Vec<Consolidated> = decided
            .iter()
            .zip(explanations)
            .map(|((item, d), explanation)| Consolidated {
                item_id: item.id,
                layer: d.layer,
                memory_id: memory_ids[&item.id],
                route_id: route_ids[&item.id],
                confidence: d.confidence,
                explanation,
                decision: d.clone(),
            })
            .collect();
        tx.commit().await?;
        Ok(done)
    })
}

/// Splits requested ids into those consolidated and those not found. Linear in the ids (a
/// hash set of the consolidated ones), never requested × consolidated.
pub(crate) fn report(requested: &[i64], consolidated: Vec<Consolidated>) -> BatchReport {
    let done: std::collections::HashSet<i64> = consolidated.iter().map(|c| c.item_id).collect();
    let mut not_found: Vec<i64> = requested
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

    fn done(item_id: i64) -> Consolidated {
        let decision = RouteDecision::overridden(Layer::Semantic, FeatureSchema::V2, Vec::new());
        Consolidated {
            item_id,
            layer: Layer::Semantic,
            memory_id: item_id,
            route_id: item_id,
            confidence: 1.0,
            explanation: Explanation::plain(&decision, "test"),
            decision,
        }
    }

    #[test]
    fn the_batch_report_lists_each_missing_id_once_and_is_linear() {
        let small = report(&[5, 3, 9, 3, 7, 5], vec![done(3), done(7)]);
        assert_eq!(small.not_found, vec![5, 9]);
        assert_eq!(small.consolidated.len(), 2);
        // The allowed maximum: 100,000 requested, half consolidated. Quadratic matching took
        // 5 · 10^9 comparisons here (minutes in a debug build); linear takes milliseconds.
        let requested: Vec<i64> = (0..100_000).collect();
        let consolidated: Vec<Consolidated> = (0..100_000).step_by(2).map(done).collect();
        let large = report(&requested, consolidated);
        assert_eq!(large.not_found.len(), 50_000);
        assert!(large.not_found.iter().all(|id| id % 2 == 1));
    }
}
