//! Similarity for working-memory search: cosine between embeddings when the query and the item
//! both have one, otherwise a lexical similarity.
//!
//! The lexical similarity is the cosine between the sets of lowercased alphanumeric words of the
//! query and the item (|Q ∩ D| / √(|Q|·|D|)): 1 for the same words, 0 for none shared, cheap,
//! and insensitive to word order and repetition.

use std::collections::BTreeSet;

/// Cosine similarity of two vectors (0 when either is zero or their lengths differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// The lowercased words of `text`.
pub fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Set cosine of two word sets.
pub fn lexical(query: &BTreeSet<String>, doc: &BTreeSet<String>) -> f64 {
    if query.is_empty() || doc.is_empty() {
        return 0.0;
    }
    let shared = query.intersection(doc).count() as f64;
    shared / ((query.len() * doc.len()) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
        let q = words("API keys");
        assert!(
            (lexical(&q, &words("rotate the api KEYS")) - 2.0 / (2.0f64 * 4.0).sqrt()).abs()
                < 1e-12
        );
        assert_eq!(lexical(&q, &words("nothing shared")), 0.0);
    }
}
