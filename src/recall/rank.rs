//! Ranking: BM25 over posting lists, then the signals only a memory system has. Pure.

use std::collections::HashMap;

use crate::recall::analyzer::analyze;
use crate::recall::{Place, RecallHit, RecallParams};
use crate::time::{seconds_between, Millis};

/// Recency decays with this time constant, in days.
const RECENCY_DAYS: f64 = 30.0;

/// One memory in a term's posting list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Posting {
    /// The memory's index id (`recall_docs.id`).
    pub(crate) doc: i64,
    /// How often the term occurs in it.
    pub(crate) tf: f64,
    /// Its length in terms.
    pub(crate) length: i64,
}

/// A query term's inverse document frequency and (part of) its posting list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TermPostings {
    pub(crate) idf: f64,
    pub(crate) postings: Vec<Posting>,
}

/// BM25's inverse document frequency, `ln(1 + (N − df + ½) / (df + ½))`: never negative.
pub(crate) fn idf(docs: i64, df: i64) -> f64 {
    let (n, df) = (docs.max(df) as f64, df as f64);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// BM25 score of every memory in the posting lists.
pub(crate) fn bm25_scores(
    terms: &[TermPostings],
    avg_length: f64,
    params: &RecallParams,
) -> HashMap<i64, f64> {
    let avg = avg_length.max(1.0);
    let mut scores: HashMap<i64, f64> = HashMap::new();
    for term in terms {
        for p in &term.postings {
            let norm = params.k1 * (1.0 - params.b + params.b * p.length as f64 / avg);
            let part = term.idf * p.tf * (params.k1 + 1.0) / (p.tf + norm);
            *scores.entry(p.doc).or_default() += part;
        }
    }
    scores
}

/// The `n` best-scored memories, best first (ties: the newer first, so the order is the same
/// on every run).
pub(crate) fn best_candidates(scores: &HashMap<i64, f64>, n: usize) -> Vec<i64> {
    let mut all: Vec<(f64, i64)> = scores.iter().map(|(d, s)| (*s, *d)).collect();
    let order = |a: &(f64, i64), b: &(f64, i64)| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1));
    if all.len() > n && n > 0 {
        all.select_nth_unstable_by(n - 1, order);
        all.truncate(n);
    }
    all.sort_unstable_by(order);
    all.into_iter().map(|(_, d)| d).collect()
}

/// A memory read back for ranking.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct CandidateDoc {
    pub(crate) id: i64,
    pub(crate) prev_id: Option<i64>,
    pub(crate) place: Place,
    pub(crate) ref_id: i64,
    pub(crate) content: String,
    pub(crate) speaker: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) occurred_at: Millis,
    pub(crate) created_at: Millis,
    pub(crate) usefulness: f64,
}

/// Ranks the candidates: each memory's BM25 score (`base`, 0 when absent) plus
/// `neighbour_share` × the scores of the memories before and after it in its session, times
/// `1 + speaker_boost` when a query term names its speaker; that text score, relative to the
/// best, is mixed with usefulness and recency. Keeps the memories in `places` (all when empty)
/// with a text score above zero, or every one when `base` is empty (a query of stop words only,
/// answered by recency). Returns the `k` best.
pub(crate) fn rank(
    docs: Vec<CandidateDoc>,
    base: &HashMap<i64, f64>,
    query_terms: &[String],
    places: &[Place],
    now: Millis,
    k: usize,
    params: &RecallParams,
) -> Vec<RecallHit> {
    let score_of = |id: Option<i64>| id.and_then(|id| base.get(&id)).copied().unwrap_or(0.0);
    let next: HashMap<i64, i64> = docs
        .iter()
        .filter_map(|d| d.prev_id.map(|p| (p, d.id)))
        .collect();
    let mut scored: Vec<(f64, CandidateDoc)> = docs
        .into_iter()
        .filter(|d| places.is_empty() || places.contains(&d.place))
        .map(|d| {
            let neighbours = score_of(d.prev_id) + score_of(next.get(&d.id).copied());
            let mut text = score_of(Some(d.id)) + params.neighbour_share * neighbours;
            if speaker_named(d.speaker.as_deref(), query_terms) {
                text *= 1.0 + params.speaker_boost;
            }
            (text, d)
        })
        .filter(|(text, _)| base.is_empty() || *text > 0.0)
        .collect();
    let best = scored.iter().map(|(t, _)| *t).fold(0.0f64, f64::max);
    let text_weight = 1.0 - params.usefulness_weight - params.recency_weight;
    let mut hits: Vec<(i64, RecallHit)> = scored
        .drain(..)
        .map(|(text, d)| {
            let relative = if best > 0.0 { text / best } else { 0.0 };
            let age_days = seconds_between(d.occurred_at, now) / 86_400.0;
            let score = text_weight * relative
                + params.usefulness_weight * d.usefulness / (1.0 + d.usefulness)
                + params.recency_weight * (-age_days / RECENCY_DAYS).exp();
            let hit = RecallHit {
                place: d.place,
                id: d.ref_id,
                content: d.content,
                score,
                relevance: text,
                usefulness: d.usefulness,
                speaker: d.speaker,
                session: d.session,
                occurred_at: d.occurred_at,
                created_at: d.created_at,
            };
            (d.id, hit)
        })
        .collect();
    hits.sort_by(|(a_id, a), (b_id, b)| b.score.total_cmp(&a.score).then(b_id.cmp(a_id)));
    hits.truncate(k);
    hits.into_iter().map(|(_, h)| h).collect()
}

/// Whether one of the query's terms is a term of the speaker's name.
fn speaker_named(speaker: Option<&str>, query_terms: &[String]) -> bool {
    speaker.is_some_and(|s| analyze(s).iter().any(|t| query_terms.contains(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: i64, prev_id: Option<i64>, speaker: &str) -> CandidateDoc {
        CandidateDoc {
            id,
            prev_id,
            place: Place::Semantic,
            ref_id: id * 10,
            content: format!("doc {id}"),
            speaker: Some(speaker.to_owned()),
            session: Some("s".to_owned()),
            occurred_at: 0,
            created_at: 0,
            usefulness: 0.0,
        }
    }

    fn no_extras() -> RecallParams {
        RecallParams {
            usefulness_weight: 0.0,
            recency_weight: 0.0,
            ..RecallParams::default()
        }
    }

    #[test]
    fn bm25_matches_a_hand_computed_score() {
        // N = 10, df = 1: idf = ln(1 + 9.5 / 1.5); tf 2, length 4, avg 4, k1 0.9, b 0.5.
        let idf = idf(10, 1);
        assert!((idf - (1.0f64 + 9.5 / 1.5).ln()).abs() < 1e-12);
        let terms = [TermPostings {
            idf,
            postings: vec![Posting {
                doc: 7,
                tf: 2.0,
                length: 4,
            }],
        }];
        let scores = bm25_scores(&terms, 4.0, &RecallParams::default());
        let expected = idf * 2.0 * 1.9 / (2.0 + 0.9);
        assert!((scores[&7] - expected).abs() < 1e-12);
        assert!(idf_never_negative());
    }

    fn idf_never_negative() -> bool {
        idf(5, 5) > 0.0 && idf(3, 7) > 0.0
    }

    #[test]
    fn best_candidates_are_ordered_and_ties_go_to_the_newer() {
        let scores: HashMap<i64, f64> = [(1, 1.0), (2, 3.0), (3, 1.0), (4, 0.5)].into();
        assert_eq!(best_candidates(&scores, 3), vec![2, 3, 1]);
        assert_eq!(best_candidates(&scores, 10), vec![2, 3, 1, 4]);
    }

    #[test]
    fn neighbours_share_their_scores_and_a_named_speaker_is_boosted() {
        // 2 follows 1 and precedes 3 in one session; only 1 and 3 match the query.
        let docs = vec![
            doc(1, None, "Ann"),
            doc(2, Some(1), "Bob"),
            doc(3, Some(2), "Ann"),
        ];
        let base: HashMap<i64, f64> = [(1, 1.0), (3, 1.0)].into();
        let p = no_extras();
        let hits = rank(docs.clone(), &base, &[], &[], 0, 3, &p);
        let by_id: HashMap<i64, f64> = hits.iter().map(|h| (h.id, h.relevance)).collect();
        assert!((by_id[&20] - 0.3 * 2.0).abs() < 1e-12, "{hits:?}");
        assert!((by_id[&10] - 1.0).abs() < 1e-12);
        // Naming Bob lifts his turn above the others: 0.6 * 1.5 = 0.9 < 1; with boost 1: 1.2.
        let p = RecallParams {
            speaker_boost: 1.0,
            ..no_extras()
        };
        let hits = rank(docs, &base, &["bob".to_owned()], &[], 0, 3, &p);
        assert_eq!(hits[0].id, 20, "{hits:?}");
        assert_eq!(hits[0].score, 1.0);
    }

    #[test]
    fn places_filter_and_zero_scores_are_dropped_unless_answering_by_recency() {
        let mut wm = doc(5, None, "x");
        wm.place = Place::WorkingMemory;
        let docs = vec![doc(1, None, "x"), wm, doc(9, None, "x")];
        let base: HashMap<i64, f64> = [(1, 2.0), (5, 1.0)].into();
        let hits = rank(
            docs.clone(),
            &base,
            &[],
            &[Place::WorkingMemory],
            0,
            5,
            &no_extras(),
        );
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![50]);
        let hits = rank(docs.clone(), &base, &[], &[], 0, 5, &no_extras());
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![10, 50]);
        let recent = rank(
            docs,
            &HashMap::new(),
            &[],
            &[],
            0,
            5,
            &RecallParams::default(),
        );
        assert_eq!(recent.len(), 3);
    }
}
