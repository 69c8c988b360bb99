//! Schema `v2`: what makes routing accurate on real, human-written text.
//!
//! Real notes are not told apart by keyword lists (the `v1` markers score at chance on them) but
//! by how they are written: a doc comment starts with a third-person verb ("Returns the…"), a
//! changelog entry with an imperative or past-tense verb and often a version number ("Add…",
//! "Fixed…", "1.2"), a how-to with "To `<verb>`" or a numbered step, a TODO with a lowercase
//! fragment, a question or "we should". `v2` carries three kinds of features:
//!
//! 1. shape of the text, cheap to compute: length, words, capitalised start, final punctuation,
//!    code marks (backticks, brackets, parentheses, `::`), version numbers;
//! 2. the item's component one-hot, activation, importance and age, so feedback in an agent's
//!    own use can lean on them. On the shared corpora they carry no meaning but do mark where a
//!    row came from (every agent note has the same fields, code comments random ones), and the
//!    shipped default's trees learned that: docs/routing.md measures what it
//!    costs when an agent note's fields vary. The `v1` keyword markers are left out: the text
//!    model sees every word they test, they carried no importance in the trained trees, and
//!    their keyword scan cost a quarter of the routing time;
//! 3. four *text scores* of a text model over hashed words, word pairs, opening, head and shape
//!    tokens ([`crate::features::text`]: logistic regression, kind-aware when trained on notes
//!    and code comments, or naive Bayes), normalised so the best layer scores 0. The text model
//!    is learned with the trees and stored in the same model file; without one the scores are
//!    all 0.

use super::{flag, RouteInput};
use crate::component::Component;

/// Features computed from the item alone (everything but the text scores).
pub const V2_BASE_LEN: usize = 18;

/// The names of the 22 `v2` features, in order.
pub const V2_NAMES: [&str; 22] = [
    "content_length",
    "word_count",
    "starts_capitalised",
    "ends_with_period",
    "ends_with_question_mark",
    "ends_with_colon",
    "has_backtick",
    "has_bracket",
    "has_parenthesis",
    "has_version_number",
    "has_path_separator",
    "is_phonological",
    "is_visuospatial",
    "is_episodic_buffer",
    "is_central_executive",
    "activation",
    "importance",
    "age_seconds",
    "text_semantic",
    "text_episodic",
    "text_procedural",
    "text_prospective",
];

/// `\d+\.\d+` anywhere: a digit, a dot, a digit.
pub(crate) fn has_version_number(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
}

/// The [`V2_BASE_LEN`] item features of `v2`, in [`V2_NAMES`] order. One pass over the text.
pub fn extract_v2_base(input: &RouteInput<'_>) -> [f64; V2_BASE_LEN] {
    let text = input.content;
    let (mut chars, mut words) = (0usize, 0usize);
    let (mut first, mut last): (Option<char>, Option<char>) = (None, None);
    let (mut backtick, mut bracket, mut paren, mut path, mut version) =
        (false, false, false, false, false);
    // The two characters before the current one, for `::` and digit-dot-digit.
    let (mut prev, mut prev2) = ('\0', '\0');
    let mut in_word = false;
    for c in text.chars() {
        chars += 1;
        if c.is_whitespace() {
            in_word = false;
        } else {
            if !in_word {
                words += 1;
                in_word = true;
            }
            if first.is_none() {
                first = Some(c);
            }
            last = Some(c);
        }
        match c {
            '`' => backtick = true,
            '[' => bracket = true,
            '(' => paren = true,
            ':' if prev == ':' => path = true,
            _ if c.is_ascii_digit() && prev == '.' && prev2.is_ascii_digit() => version = true,
            _ => {}
        }
        (prev2, prev) = (prev, c);
    }
    [
        chars as f64,
        words as f64,
        flag(first.is_some_and(char::is_uppercase)),
        flag(last == Some('.')),
        flag(last == Some('?')),
        flag(last == Some(':')),
        flag(backtick),
        flag(bracket),
        flag(paren),
        flag(version),
        flag(path),
        flag(input.component == Component::Phonological),
        flag(input.component == Component::Visuospatial),
        flag(input.component == Component::EpisodicBuffer),
        flag(input.component == Component::CentralExecutive),
        input.activation,
        input.importance,
        input.age_seconds,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        let input = RouteInput::new("Fixed `Foo::bar` in 1.2 (see [docs]).")
            .component(Component::EpisodicBuffer)
            .activation(0.5)
            .importance(0.25)
            .age_seconds(3.0);
        let f = extract_v2_base(&input);
        assert_eq!(
            f[..11],
            [37.0, 6.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        );
        assert_eq!(f[11..], [0.0, 0.0, 1.0, 0.0, 0.5, 0.25, 3.0]);
        assert_eq!(V2_NAMES.len(), V2_BASE_LEN + 4);
    }

    #[test]
    fn version_numbers() {
        assert!(has_version_number("bump to 0.9"));
        assert!(!has_version_number("end. 9"));
        assert!(!has_version_number("."));
    }
}
