//! The one text analyzer of recall: what a memory is indexed under and what a query asks for.
//!
//! Text is split on every character that is not a letter or a digit, lowercased, stripped of
//! English stop words and of one-letter words (digits stay), and each word is reduced to its
//! Snowball (Porter 2) English stem: "researched", "researching" and "research" all become
//! `research`. Indexing and querying call the same functions, in Rust, on both backends, so
//! SQLite and PostgreSQL store and look up the same terms and rank alike; the database only
//! keeps the posting lists.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::recall::stopwords::is_stop_word;

/// Longest word indexed, in characters; longer runs (hashes, base64, URLs glued together) are
/// skipped rather than stored as terms nobody will type.
pub const MAX_TERM_CHARS: usize = 48;
/// Most distinct terms a query uses (its first ones); a query stays bounded in work.
pub const MAX_QUERY_TERMS: usize = 32;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// The lowercased words of `text`, in order, before stop words and stemming.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().count() <= MAX_TERM_CHARS)
        .map(str::to_lowercase)
}

/// Whether a lowercased word carries meaning on its own: not a stop word, and not a lone letter.
fn is_content_word(word: &str) -> bool {
    let mut chars = word.chars();
    let lone_letter = matches!((chars.next(), chars.next()), (Some(c), None) if !c.is_numeric());
    !lone_letter && !is_stop_word(word)
}

/// The stem of a lowercased word.
fn stem(word: &str) -> String {
    stemmer().stem(word).into_owned()
}

/// The terms of `text`, in order, repeats kept: what it is indexed under.
///
/// ```
/// use athena_memory::recall::analyze;
/// assert_eq!(analyze("Caroline researched adoption agencies!"), ["carolin", "research", "adopt", "agenc"]);
/// assert!(analyze("what is it?").is_empty());
/// ```
pub fn analyze(text: &str) -> Vec<String> {
    words(text)
        .filter(|w| is_content_word(w))
        .map(|w| stem(&w))
        .collect()
}

/// What one memory's text adds to the index: each distinct term with its count, and the
/// number of terms (the length BM25 normalises by).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    /// Distinct terms and how often each occurs, in term order (deterministic).
    pub counts: BTreeMap<String, u32>,
    /// Terms in the text, repeats counted.
    pub length: u32,
}

/// The index terms of `text`.
pub fn index_terms(text: &str) -> Terms {
    let mut terms = Terms::default();
    for term in analyze(text) {
        *terms.counts.entry(term).or_default() += 1;
        terms.length += 1;
    }
    terms
}

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryTerms {
    /// Distinct terms in the order they first appear, at most [`MAX_QUERY_TERMS`].
    Terms(Vec<String>),
    /// Words, but every one a stop word ("what was it?"): nothing to match, so recall answers
    /// with the most recent memories.
    OnlyStopWords,
    /// No word at all (empty, punctuation, symbols).
    NoWords,
}

/// Analyses a query the way memories are indexed.
pub fn query_terms(query: &str) -> QueryTerms {
    let mut any_word = false;
    let mut terms: Vec<String> = Vec::new();
    for word in words(query) {
        any_word = true;
        if !is_content_word(&word) {
            continue;
        }
        let term = stem(&word);
        if !terms.contains(&term) {
            terms.push(term);
            if terms.len() == MAX_QUERY_TERMS {
                break;
            }
        }
    }
    match (terms.is_empty(), any_word) {
        (false, _) => QueryTerms::Terms(terms),
        (true, true) => QueryTerms::OnlyStopWords,
        (true, false) => QueryTerms::NoWords,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drops_stop_words_and_lone_letters_and_keeps_digits() {
        assert_eq!(
            analyze("I'm running the 3 tests, and they RAN quickly in 2023"),
            ["run", "3", "test", "ran", "quick", "2023"]
        );
    }

    #[test]
    fn counts_repeats_and_length() {
        let t = index_terms("deploy, deployed, deploying: the deploys");
        assert_eq!(t.counts.get("deploy"), Some(&4));
        assert_eq!(t.length, 4);
    }

    #[test]
    fn queries_are_deduplicated_bounded_and_classified() {
        assert_eq!(
            query_terms("Rotate keys? rotate KEYS!"),
            QueryTerms::Terms(vec!["rotat".into(), "key".into()])
        );
        assert_eq!(query_terms("what was it?"), QueryTerms::OnlyStopWords);
        assert_eq!(query_terms("?! -- ()"), QueryTerms::NoWords);
        let long: String = (0..100).map(|i| format!("word{i} ")).collect();
        match query_terms(&long) {
            QueryTerms::Terms(t) => assert_eq!(t.len(), MAX_QUERY_TERMS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_scripts_and_overlong_runs() {
        assert_eq!(analyze("東京 Müller"), ["東京", "müller"]);
        assert!(analyze(&"x".repeat(MAX_TERM_CHARS + 1)).is_empty());
    }
}
