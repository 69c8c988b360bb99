//! Recall: full-text search across the four long-term layers (SQLite FTS5, PostgreSQL
//! `tsvector`), ranked by text relevance with usefulness and recency.
//!
//! Each backend returns its best candidates by its own relevance (FTS5 `bm25`, PostgreSQL
//! `ts_rank`); the final score is computed here the same way for both:
//! `0.8 · relevance / best relevance + 0.1 · usefulness / (1 + usefulness) + 0.1 · exp(−age / 30 days)`.
//! Query words are the query's alphanumeric words, any of which may match (an OR query), so
//! punctuation in a query can never be a syntax error. Recall only reads.

use crate::config::Backend;
use crate::db::{on_pool, Database, PoolExt};
use crate::error::{check_text, Error, Result};
use crate::layer::Layer;
use crate::time::{now_ms, Millis};

/// Most query words used.
const MAX_QUERY_WORDS: usize = 32;
/// Weight of text relevance, usefulness and recency in the final score.
const WEIGHTS: (f64, f64, f64) = (0.8, 0.1, 0.1);
/// Recency decays with this time constant.
const RECENCY_DAYS: f64 = 30.0;

/// One recalled memory.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecallHit {
    /// The layer it lives in.
    pub layer: Layer,
    /// Its id in that layer's table.
    pub id: i64,
    /// Its text (for procedures, name and template).
    pub content: String,
    /// The final score, 0..=1.
    pub score: f64,
    /// The backend's text relevance (higher is better; scales differ by backend).
    pub relevance: f64,
    /// Usefulness (semantic memories; 0 elsewhere).
    pub usefulness: f64,
    /// Creation time.
    pub created_at: Millis,
}

const SQLITE: &str = "SELECT f.layer, CAST(f.memory_id AS INTEGER), f.content, -bm25(memory_fts),
        COALESCE(s.usefulness, 0.0), COALESCE(s.created_at, e.created_at, pr.created_at, t.created_at, 0)
     FROM memory_fts f
     LEFT JOIN semantic_memories s ON f.layer = 'semantic' AND s.id = f.memory_id
     LEFT JOIN episodic_events e ON f.layer = 'episodic' AND e.id = f.memory_id
     LEFT JOIN procedures pr ON f.layer = 'procedural' AND pr.id = f.memory_id
     LEFT JOIN prospective_tasks t ON f.layer = 'prospective' AND t.id = f.memory_id
     WHERE memory_fts MATCH $1 AND f.project_id = $2 AND (f.layer <> 'semantic' OR s.superseded_by IS NULL)
       AND ((f.layer = 'semantic' AND $3) OR (f.layer = 'episodic' AND $4)
         OR (f.layer = 'procedural' AND $5) OR (f.layer = 'prospective' AND $6))
     ORDER BY 4 DESC LIMIT $7";

const POSTGRES: &str = "WITH q AS (SELECT to_tsquery('english', $1) AS q)
     SELECT 'semantic', s.id, s.content, ts_rank(s.search, q.q)::float8, s.usefulness, s.created_at
       FROM semantic_memories s, q WHERE $3 AND s.project_id = $2 AND s.superseded_by IS NULL AND s.search @@ q.q
     UNION ALL SELECT 'episodic', e.id, e.content, ts_rank(e.search, q.q)::float8, 0.0::float8, e.created_at
       FROM episodic_events e, q WHERE $4 AND e.project_id = $2 AND e.search @@ q.q
     UNION ALL SELECT 'procedural', p.id, p.name || ' ' || p.template, ts_rank(p.search, q.q)::float8, 0.0::float8, p.created_at
       FROM procedures p, q WHERE $5 AND p.project_id = $2 AND p.search @@ q.q
     UNION ALL SELECT 'prospective', t.id, t.content, ts_rank(t.search, q.q)::float8, 0.0::float8, t.created_at
       FROM prospective_tasks t, q WHERE $6 AND t.project_id = $2 AND t.search @@ q.q
     ORDER BY 4 DESC LIMIT $7";

type Candidate = (String, i64, String, f64, f64, i64);

/// The `k` best memories of `project_id` for `query` in `layers` (all four when empty).
///
/// # Errors
/// [`Error::InvalidInput`] for a query without words or `k` of 0 or over 1000.
pub async fn recall(
    db: &Database,
    project_id: i64,
    query: &str,
    k: usize,
    layers: &[Layer],
) -> Result<Vec<RecallHit>> {
    check_text("query", query, 10_000)?;
    if !(1..=1000).contains(&k) {
        return Err(Error::invalid(
            "k",
            format!("must be within 1..=1000, got {k}"),
        ));
    }
    let words: Vec<String> = crate::features::lexical::words(query)
        .into_iter()
        .take(MAX_QUERY_WORDS)
        .collect();
    if words.is_empty() {
        return Err(Error::invalid("query", "must contain at least one word"));
    }
    let wanted = |l: Layer| layers.is_empty() || layers.contains(&l);
    let limit = (k * 5).max(50) as i64;
    let rows: Vec<Candidate> = on_pool!(db, |pool| {
        let (sql, fts_query) = match pool.backend() {
            Backend::Sqlite => (
                SQLITE,
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" OR "),
            ),
            Backend::Postgres => (POSTGRES, words.join(" | ")),
        };
        sqlx::query_as(sql)
            .bind(fts_query)
            .bind(project_id)
            .bind(wanted(Layer::Semantic))
            .bind(wanted(Layer::Episodic))
            .bind(wanted(Layer::Procedural))
            .bind(wanted(Layer::Prospective))
            .bind(limit)
            .fetch_all(pool)
            .await?
    });
    Ok(rank(rows, now_ms(), k))
}

fn rank(rows: Vec<Candidate>, now: Millis, k: usize) -> Vec<RecallHit> {
    let best = rows.iter().map(|r| r.3).fold(0.0f64, f64::max);
    let (w_rel, w_use, w_new) = WEIGHTS;
    let mut hits: Vec<RecallHit> = rows
        .into_iter()
        .filter_map(|(layer, id, content, relevance, usefulness, created_at)| {
            let layer: Layer = layer.parse().ok()?;
            let age_days = crate::time::seconds_between(created_at, now) / 86_400.0;
            let rel = if best > 0.0 { relevance / best } else { 0.0 };
            let score = w_rel * rel
                + w_use * usefulness / (1.0 + usefulness)
                + w_new * (-age_days / RECENCY_DAYS).exp();
            Some(RecallHit {
                layer,
                id,
                content,
                score,
                relevance,
                usefulness,
                created_at,
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.layer.cmp(&b.layer))
            .then(a.id.cmp(&b.id))
    });
    hits.truncate(k);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_relevance_then_usefulness_and_recency() {
        let now = 100 * 86_400_000;
        let rows = vec![
            ("semantic".to_owned(), 1, "a".to_owned(), 2.0, 0.0, now),
            ("episodic".to_owned(), 2, "b".to_owned(), 4.0, 0.0, 0),
            ("semantic".to_owned(), 3, "c".to_owned(), 2.0, 3.0, now),
        ];
        let hits = rank(rows, now, 3);
        // b: 0.8 * 1 + 0 + 0.1 * e^(-100/30); c: 0.8 * 0.5 + 0.1 * 0.75 + 0.1; a: 0.4 + 0 + 0.1.
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2, 3, 1]);
        assert!((hits[1].score - (0.4 + 0.075 + 0.1)).abs() < 1e-12);
        assert!((hits[0].score - (0.8 + 0.1 * (-100.0f64 / 30.0).exp())).abs() < 1e-12);
    }
}
