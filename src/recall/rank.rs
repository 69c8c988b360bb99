//! Ranking: BM25 over posting lists, then the signals only a memory system has. Pure.

use std::collections::HashMap;

use crate::recall::analyzer::analyze;
use crate::recall::cues::{asks_when, date_cues, mentions_time, relative_spans, DateCue, TimeSpan};
use crate::recall::{Place, RecallHit, RecallParams};
use crate::time::{seconds_between, Millis};

/// Recency decays with this time constant, in days.
const RECENCY_DAYS: f64 = 30.0;

/// What ranking reads from a query: its terms and its time cues.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Query {
    pub(crate) terms: Vec<String>,
    pub(crate) dates: Vec<DateCue>,
    pub(crate) spans: Vec<TimeSpan>,
    pub(crate) asks_when: bool,
}

impl Query {
    /// The query `text` analysed into `terms`, with the dates it names, the spans it names
    /// relative to `now`, and whether it asks when.
    pub(crate) fn new(text: &str, terms: Vec<String>, now: Millis) -> Self {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        Query {
            terms,
            dates: date_cues(text),
            spans: relative_spans(text, now),
            asks_when: asks_when(&words),
        }
    }
}

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

/// BM25's term weight for a count `tf` in a memory of `length` terms.
fn term_weight(tf: f64, length: f64, avg_length: f64, params: &RecallParams) -> f64 {
    let norm = params.k1 * (1.0 - params.b + params.b * length / avg_length.max(1.0));
    tf * (params.k1 + 1.0) / (tf + norm)
}

/// The text scores of one query: each term's posting list (newest first, as read) and every
/// listed memory's BM25 score.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextScores {
    terms: Vec<TermPostings>,
    avg_length: f64,
    base: HashMap<i64, f64>,
}

impl TextScores {
    /// BM25 over `terms`; `avg_length` is the project's average memory length.
    pub(crate) fn new(terms: Vec<TermPostings>, avg_length: f64, params: &RecallParams) -> Self {
        let mut base: HashMap<i64, f64> = HashMap::new();
        for term in &terms {
            for p in &term.postings {
                let w = term_weight(p.tf, p.length as f64, avg_length, params);
                *base.entry(p.doc).or_default() += term.idf * w;
            }
        }
        TextScores {
            terms,
            avg_length,
            base,
        }
    }

    /// No term matched anything (or there were none).
    pub(crate) fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// A memory's own BM25 score (0 when no term lists it).
    pub(crate) fn base(&self, doc: i64) -> f64 {
        self.base.get(&doc).copied().unwrap_or(0.0)
    }

    /// The `n` best-scored memories, best first (ties: the newer first, so the order is the
    /// same on every run).
    pub(crate) fn best(&self, n: usize) -> Vec<i64> {
        let mut all: Vec<(f64, i64)> = self.base.iter().map(|(d, s)| (*s, *d)).collect();
        let order = |a: &(f64, i64), b: &(f64, i64)| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1));
        if all.len() > n && n > 0 {
            all.select_nth_unstable_by(n - 1, order);
            all.truncate(n);
        }
        all.sort_unstable_by(order);
        all.into_iter().map(|(_, d)| d).collect()
    }

    /// How often term `t` occurs in memory `doc` (0 when it is not in the list read).
    fn tf(&self, t: usize, doc: i64) -> f64 {
        let list = &self.terms[t].postings;
        list.binary_search_by(|p| doc.cmp(&p.doc))
            .map_or(0.0, |i| list[i].tf)
    }

    /// BM25 of a memory read with its session neighbours' words at `neighbour_words` weight:
    /// counts and length are `own + weight × (before + after)`, against an average length
    /// grown the same way.
    fn in_context(
        &self,
        doc: &CandidateDoc,
        around: &[&CandidateDoc],
        params: &RecallParams,
    ) -> f64 {
        let w = params.neighbour_words;
        if w == 0.0 || around.is_empty() {
            return self.base(doc.id);
        }
        let length = doc.length as f64 + w * around.iter().map(|d| d.length as f64).sum::<f64>();
        let avg = self.avg_length * (1.0 + w * around.len() as f64);
        (0..self.terms.len())
            .map(|t| {
                let tf =
                    self.tf(t, doc.id) + w * around.iter().map(|d| self.tf(t, d.id)).sum::<f64>();
                if tf == 0.0 {
                    0.0
                } else {
                    self.terms[t].idf * term_weight(tf, length, avg, params)
                }
            })
            .sum()
    }
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
    pub(crate) length: i64,
}

/// Ranks the candidates. A memory's text score is its BM25 read with its session neighbours'
/// words (`neighbour_words`), plus `neighbour_share` × its neighbours' own scores, times
/// `1 + speaker_boost` when a query term names its speaker, `1 + date_boost` when it happened
/// on a date the query names or within a span it names ("yesterday", "last week"), `1 + when_boost` when the query asks "when" and its text places
/// it in time; that score, relative to the best,
/// is mixed with usefulness and recency. Keeps the memories in `places` (all when empty) with a
/// text score above zero, or every one when `scores` is empty (a query of stop words only,
/// answered by recency). Returns the `k` best.
pub(crate) fn rank(
    docs: Vec<CandidateDoc>,
    scores: &TextScores,
    query: &Query,
    places: &[Place],
    now: Millis,
    k: usize,
    params: &RecallParams,
) -> Vec<RecallHit> {
    let by_id: HashMap<i64, &CandidateDoc> = docs.iter().map(|d| (d.id, d)).collect();
    let next: HashMap<i64, &CandidateDoc> = docs
        .iter()
        .filter_map(|d| d.prev_id.map(|p| (p, d)))
        .collect();
    let text_of = |d: &CandidateDoc| {
        let before = d.prev_id.and_then(|p| by_id.get(&p).copied());
        let after = next.get(&d.id).copied();
        let around: Vec<&CandidateDoc> = before.into_iter().chain(after).collect();
        let shared: f64 = around.iter().map(|n| scores.base(n.id)).sum();
        let mut text = scores.in_context(d, &around, params) + params.neighbour_share * shared;
        if speaker_named(d.speaker.as_deref(), &query.terms) {
            text *= 1.0 + params.speaker_boost;
        }
        let at = d.occurred_at;
        if query.dates.iter().any(|c| c.matches(at)) || query.spans.iter().any(|s| s.contains(at)) {
            text *= 1.0 + params.date_boost;
        }
        if query.asks_when && mentions_time(&d.content) {
            text *= 1.0 + params.when_boost;
        }
        text
    };
    let scored: Vec<(f64, &CandidateDoc)> = docs
        .iter()
        .filter(|d| places.is_empty() || places.contains(&d.place))
        .map(|d| (text_of(d), d))
        .filter(|(text, _)| scores.is_empty() || *text > 0.0)
        .collect();
    let best = scored.iter().map(|(t, _)| *t).fold(0.0f64, f64::max);
    let text_weight = 1.0 - params.usefulness_weight - params.recency_weight;
    let mut hits: Vec<(i64, RecallHit)> = scored
        .into_iter()
        .map(|(text, d)| {
            let relative = if best > 0.0 { text / best } else { 0.0 };
            let age_days = seconds_between(d.occurred_at, now) / 86_400.0;
            let score = text_weight * relative
                + params.usefulness_weight * d.usefulness / (1.0 + d.usefulness)
                + params.recency_weight * (-age_days / RECENCY_DAYS).exp();
            (d.id, d.hit(score, text))
        })
        .collect();
    hits.sort_by(|(a_id, a), (b_id, b)| b.score.total_cmp(&a.score).then(b_id.cmp(a_id)));
    hits.truncate(k);
    hits.into_iter().map(|(_, h)| h).collect()
}

impl CandidateDoc {
    fn hit(&self, score: f64, relevance: f64) -> RecallHit {
        RecallHit {
            place: self.place,
            id: self.ref_id,
            content: self.content.clone(),
            score,
            relevance,
            usefulness: self.usefulness,
            speaker: self.speaker.clone(),
            session: self.session.clone(),
            occurred_at: self.occurred_at,
            created_at: self.created_at,
        }
    }
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
            length: 4,
        }
    }

    fn posting(doc: i64, tf: f64) -> Posting {
        Posting { doc, tf, length: 4 }
    }

    /// Only BM25 and the score share: no neighbour words, time cues, usefulness or recency.
    fn plain() -> RecallParams {
        RecallParams {
            date_boost: 0.0,
            when_boost: 0.0,
            neighbour_words: 0.0,
            neighbour_share: 0.3,
            usefulness_weight: 0.0,
            recency_weight: 0.0,
            ..RecallParams::default()
        }
    }

    #[test]
    fn bm25_matches_a_hand_computed_score() {
        // N = 10, df = 1: idf = ln(1 + 9.5 / 1.5); tf 2, length 4 = average, k1 0.9.
        let idf = idf(10, 1);
        assert!((idf - (1.0f64 + 9.5 / 1.5).ln()).abs() < 1e-12);
        assert!(
            super::idf(5, 5) > 0.0 && super::idf(3, 7) > 0.0,
            "never negative"
        );
        let terms = vec![TermPostings {
            idf,
            postings: vec![posting(7, 2.0)],
        }];
        let scores = TextScores::new(terms, 4.0, &RecallParams::default());
        assert!((scores.base(7) - idf * 2.0 * 1.9 / (2.0 + 0.9)).abs() < 1e-12);
        assert_eq!(scores.base(8), 0.0);
    }

    #[test]
    fn the_best_are_ordered_and_ties_go_to_the_newer() {
        let terms = vec![TermPostings {
            idf: 1.0,
            postings: vec![
                posting(4, 0.5),
                posting(3, 1.0),
                posting(2, 3.0),
                posting(1, 1.0),
            ],
        }];
        let scores = TextScores::new(terms, 4.0, &RecallParams::default());
        assert_eq!(scores.best(3), vec![2, 3, 1]);
        assert_eq!(scores.best(10), vec![2, 3, 1, 4]);
    }

    #[test]
    fn neighbours_share_their_scores_and_a_named_speaker_is_boosted() {
        // 2 follows 1 and precedes 3 in one session; only 1 and 3 match the query.
        let docs = vec![
            doc(1, None, "Ann"),
            doc(2, Some(1), "Bob"),
            doc(3, Some(2), "Ann"),
        ];
        let terms = vec![TermPostings {
            idf: 1.0,
            postings: vec![posting(3, 1.0), posting(1, 1.0)],
        }];
        let scores = TextScores::new(terms, 4.0, &plain());
        let own = scores.base(1);
        let hits = rank(
            docs.clone(),
            &scores,
            &Query::default(),
            &[],
            0,
            3,
            &plain(),
        );
        let by_id: HashMap<i64, f64> = hits.iter().map(|h| (h.id, h.relevance)).collect();
        assert!((by_id[&20] - 0.3 * 2.0 * own).abs() < 1e-12, "{hits:?}");
        assert!((by_id[&10] - own).abs() < 1e-12);
        // Naming Bob lifts his turn (0.6 own) above the others with a boost of 1: 1.2 own.
        let p = RecallParams {
            speaker_boost: 1.0,
            ..plain()
        };
        let bob = Query {
            terms: vec!["bob".to_owned()],
            ..Query::default()
        };
        let hits = rank(docs, &scores, &bob, &[], 0, 3, &p);
        assert_eq!(hits[0].id, 20, "{hits:?}");
        assert_eq!(hits[0].score, 1.0);
    }

    #[test]
    fn a_memory_is_read_with_its_neighbours_words() {
        // Doc 2 holds no query term; its neighbour 1 holds it twice. With weight 0.5 doc 2 is
        // scored as a memory of length 4 + 0.5 * 4 = 6 holding the term 0.5 * 2 = 1 time,
        // against an average of 4 * 1.5 = 6.
        let docs = vec![doc(1, None, "a"), doc(2, Some(1), "b")];
        let terms = vec![TermPostings {
            idf: 2.0,
            postings: vec![posting(1, 2.0)],
        }];
        let p = RecallParams {
            neighbour_words: 0.5,
            neighbour_share: 0.0,
            ..plain()
        };
        let scores = TextScores::new(terms, 4.0, &p);
        let hits = rank(docs, &scores, &Query::default(), &[], 0, 2, &p);
        let second = hits.iter().find(|h| h.id == 20).unwrap();
        let expected = 2.0 * term_weight(1.0, 6.0, 6.0, &p);
        assert!((second.relevance - expected).abs() < 1e-12, "{hits:?}");
    }

    #[test]
    fn places_filter_and_zero_scores_are_dropped_unless_answering_by_recency() {
        let mut wm = doc(5, None, "x");
        wm.place = Place::WorkingMemory;
        let docs = vec![doc(1, None, "x"), wm, doc(9, None, "x")];
        let terms = vec![TermPostings {
            idf: 1.0,
            postings: vec![posting(5, 1.0), posting(1, 2.0)],
        }];
        let scores = TextScores::new(terms, 4.0, &plain());
        let q = Query::default();
        let hits = rank(
            docs.clone(),
            &scores,
            &q,
            &[Place::WorkingMemory],
            0,
            5,
            &plain(),
        );
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![50]);
        let hits = rank(docs.clone(), &scores, &q, &[], 0, 5, &plain());
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![10, 50]);
        let none = TextScores::new(Vec::new(), 1.0, &plain());
        assert_eq!(rank(docs, &none, &q, &[], 0, 5, &plain()).len(), 3);
    }
}
