//! Recall, the pure half: the text analyzer, BM25 and the signals a memory system knows (the
//! neighbouring memories of a session, who said it, when it happened, usefulness). No I/O:
//! `db::recall` keeps the posting lists and runs the queries; the engine wires the two.
//!
//! How a query is answered (see [`RecallParams`] for every number):
//! 1. the query is analysed like the memories ([`query_terms`]);
//! 2. each term's posting list (at most [`RecallParams::postings_per_term`] of its most recent
//!    memories) is scored with BM25;
//! 3. the best [`RecallParams::candidates`] memories, with the memories just before and after
//!    each in its session, are read back;
//! 4. each is scored again with its session neighbours' words at a lower weight, gets a share
//!    of their scores and a boost when the query names its speaker, then the usefulness and
//!    recency terms; the `k` best are returned.

mod analyzer;
mod cues;
mod rank;
mod stopwords;

pub use analyzer::{
    analyze, index_terms, query_terms, QueryTerms, Terms, MAX_QUERY_TERMS, MAX_TERM_CHARS,
};
pub use cues::{date_cues, month_number, relative_spans, DateCue, TimeSpan};
pub(crate) use rank::{idf, rank, CandidateDoc, Posting, Query, TermPostings, TextScores};

use crate::enum_str::string_enum;
use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::time::Millis;

string_enum! {
    /// Where a memory lives: still in working memory, or in one of the four long-term layers.
    pub enum Place as "place" {
        /// A working-memory item (active or pending consolidation); its id is the item id.
        WorkingMemory => "working_memory",
        /// A semantic memory; its id is the memory id.
        Semantic => "semantic",
        /// An episodic event.
        Episodic => "episodic",
        /// A procedure.
        Procedural => "procedural",
        /// A prospective task.
        Prospective => "prospective",
    }
}

impl Place {
    /// The long-term layer, or `None` for working memory.
    pub fn layer(self) -> Option<Layer> {
        match self {
            Place::WorkingMemory => None,
            Place::Semantic => Some(Layer::Semantic),
            Place::Episodic => Some(Layer::Episodic),
            Place::Procedural => Some(Layer::Procedural),
            Place::Prospective => Some(Layer::Prospective),
        }
    }
}

impl From<Layer> for Place {
    fn from(layer: Layer) -> Self {
        match layer {
            Layer::Semantic => Place::Semantic,
            Layer::Episodic => Place::Episodic,
            Layer::Procedural => Place::Procedural,
            Layer::Prospective => Place::Prospective,
        }
    }
}

/// One recalled memory.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecallHit {
    /// Where it lives now.
    pub place: Place,
    /// Its id there: the item id in working memory, the memory id in a layer (what
    /// `consolidate`, `forget_memory` or `memory` take).
    pub id: i64,
    /// Its text (for procedures stored directly, name and template).
    pub content: String,
    /// The final score, 0..=1 (higher first).
    pub score: f64,
    /// Text relevance: BM25 with the neighbours' share and the speaker boost, before the
    /// usefulness and recency terms (a raw score; compare within one answer only).
    pub relevance: f64,
    /// Usefulness (semantic memories; 0 elsewhere).
    pub usefulness: f64,
    /// Who said or wrote it, when known.
    pub speaker: Option<String>,
    /// The conversation or task it belongs to, when known.
    pub session: Option<String>,
    /// When it happened (UTC Unix ms): the caller's `occurred_at`, else when it was stored.
    pub occurred_at: Millis,
    /// When it was stored.
    pub created_at: Millis,
}

impl RecallHit {
    /// The long-term layer it lives in, or `None` while it is in working memory.
    pub fn layer(&self) -> Option<Layer> {
        self.place.layer()
    }
}

/// How recall ranks. The defaults were chosen on the development conversations of the LoCoMo
/// benchmark (see docs/recall.md for each signal's measured gain).
#[derive(Debug, Clone, PartialEq)]
pub struct RecallParams {
    /// BM25 term-frequency saturation `k1` (0..=10). Default 0.9.
    pub k1: f64,
    /// BM25 length normalisation `b` (0..=1). Default 0.5.
    pub b: f64,
    /// Weight of the words of the memories just before and after a memory in its session when
    /// it is scored (0..=2): a reply is read with the question it answers. Default 0.5.
    pub neighbour_words: f64,
    /// Share of each session neighbour's own score a memory receives (0..=2). Default 0: with
    /// the neighbours' words counted it gained nothing on the development conversations.
    pub neighbour_share: f64,
    /// A memory whose speaker the query names has its text score multiplied by `1 + boost`
    /// (0..=10). Default 0.5.
    pub speaker_boost: f64,
    /// A memory that happened on a date the query names ("in June", "on 13 October, 2023") has
    /// its text score multiplied by `1 + boost` (0..=10). Default 1.
    pub date_boost: f64,
    /// When the query asks "when", a memory whose text places it in time ("yesterday", "last
    /// Friday", a year) has its text score multiplied by `1 + boost` (0..=10). Default 0.2.
    pub when_boost: f64,
    /// Weight of usefulness in the final score (0..=1). Default 0.1.
    pub usefulness_weight: f64,
    /// Weight of recency (`exp(−age / 30 days)` from when it happened) in the final score
    /// (0..=1). Default 0.1.
    pub recency_weight: f64,
    /// Memories read back for the context and boosts, by BM25 (1..=10,000). Default 100.
    pub candidates: usize,
    /// Most postings read per query term, the most recent first (100..=10,000,000): a term in
    /// more memories than this contributes only to its most recent ones, which bounds a query's
    /// work at a million memories. Default 4,000.
    pub postings_per_term: usize,
}

impl Default for RecallParams {
    fn default() -> Self {
        RecallParams {
            k1: 0.9,
            b: 0.5,
            neighbour_words: 0.5,
            neighbour_share: 0.0,
            speaker_boost: 0.5,
            date_boost: 1.0,
            when_boost: 0.2,
            usefulness_weight: 0.1,
            recency_weight: 0.1,
            candidates: 100,
            postings_per_term: 4_000,
        }
    }
}

impl RecallParams {
    /// Checks every setting against its documented range.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let ranges: [(&'static str, f64, f64, f64); 9] = [
            ("recall.k1", self.k1, 0.0, 10.0),
            ("recall.b", self.b, 0.0, 1.0),
            ("recall.neighbour_words", self.neighbour_words, 0.0, 2.0),
            ("recall.neighbour_share", self.neighbour_share, 0.0, 2.0),
            ("recall.speaker_boost", self.speaker_boost, 0.0, 10.0),
            ("recall.date_boost", self.date_boost, 0.0, 10.0),
            ("recall.when_boost", self.when_boost, 0.0, 10.0),
            ("recall.usefulness_weight", self.usefulness_weight, 0.0, 1.0),
            ("recall.recency_weight", self.recency_weight, 0.0, 1.0),
        ];
        for (field, value, lo, hi) in ranges {
            if !(lo..=hi).contains(&value) {
                return Err(Error::invalid(
                    field,
                    format!("must be within {lo}..={hi}, got {value}"),
                ));
            }
        }
        if !(1..=10_000).contains(&self.candidates) {
            return Err(Error::invalid(
                "recall.candidates",
                format!("must be within 1..=10000, got {}", self.candidates),
            ));
        }
        if !(100..=10_000_000).contains(&self.postings_per_term) {
            return Err(Error::invalid(
                "recall.postings_per_term",
                format!(
                    "must be within 100..=10000000, got {}",
                    self.postings_per_term
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_name_their_layers() {
        for layer in Layer::ALL {
            assert_eq!(Place::from(*layer).layer(), Some(*layer));
            assert_eq!(Place::from(*layer).as_str(), layer.as_str());
        }
        assert_eq!(Place::WorkingMemory.layer(), None);
        assert_eq!(
            "working_memory".parse::<Place>().unwrap(),
            Place::WorkingMemory
        );
    }

    #[test]
    fn params_out_of_range_name_the_setting() {
        assert!(RecallParams::default().validate().is_ok());
        let bad = RecallParams {
            b: 1.5,
            ..RecallParams::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("recall.b"));
        let bad = RecallParams {
            candidates: 0,
            ..RecallParams::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("recall.candidates"));
    }
}
