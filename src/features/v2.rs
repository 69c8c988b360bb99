//! Schema `v2`: what makes routing accurate on real, human-written text.
//!
//! Real notes are not told apart by keyword lists (the `v1` markers score at chance on them) but
//! by how they are written: a doc comment starts with a third-person verb ("Returns the…"), a
//! changelog entry with an imperative or past-tense verb and often a version number ("Add…",
//! "Fixed…", "1.2"), a how-to with "To <verb>" or a numbered step, a TODO with a lowercase
//! fragment, a question or "we should". `v2` carries three kinds of features:
//!
//! 1. shape of the text, cheap to compute: length, words, capitalised start, final punctuation,
//!    code marks (backticks, brackets, parentheses, `::`), version numbers;
//! 2. the item's component one-hot, activation, importance and age, and the five `v1` markers,
//!    so feedback in an agent's own use can still lean on them;
//! 3. four *text scores*, the log-posteriors of a multinomial naive Bayes text model over hashed
//!    words, word pairs, first-word and shape tokens ([`crate::router::text`]), normalised so the
//!    best layer scores 0. The text model is learned with the trees and stored in the same model
//!    file; without one the scores are all 0.

use super::RouteInput;
use crate::features::v1::V1Markers;
use crate::item::Component;

/// Features computed from the item alone (everything but the text scores).
pub const V2_BASE_LEN: usize = 23;

/// The names of the 27 `v2` features, in order.
pub const V2_NAMES: [&str; 27] = [
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
    "has_temporal_marker",
    "has_action_marker",
    "has_future_marker",
    "is_question",
    "has_file_reference",
    "text_semantic",
    "text_episodic",
    "text_procedural",
    "text_prospective",
];

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `\d+\.\d+` anywhere: a digit, a dot, a digit.
pub(crate) fn has_version_number(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
}

/// The [`V2_BASE_LEN`] item features of `v2`, in [`V2_NAMES`] order.
pub fn extract_v2_base(input: &RouteInput<'_>) -> [f64; V2_BASE_LEN] {
    let text = input.content;
    let trimmed = text.trim_end();
    let first = text.trim_start().chars().next();
    let m = V1Markers::of(text);
    [
        text.chars().count() as f64,
        text.split_whitespace().count() as f64,
        flag(first.is_some_and(char::is_uppercase)),
        flag(trimmed.ends_with('.')),
        flag(trimmed.ends_with('?')),
        flag(trimmed.ends_with(':')),
        flag(text.contains('`')),
        flag(text.contains('[')),
        flag(text.contains('(')),
        flag(has_version_number(text)),
        flag(text.contains("::")),
        flag(input.component == Component::Phonological),
        flag(input.component == Component::Visuospatial),
        flag(input.component == Component::EpisodicBuffer),
        flag(input.component == Component::CentralExecutive),
        input.activation,
        input.importance,
        input.age_seconds,
        flag(m.temporal),
        flag(m.action),
        flag(m.future),
        flag(m.question),
        flag(m.file),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        let input = RouteInput {
            content: "Fixed `Foo::bar` in 1.2 (see [docs]).",
            component: Component::EpisodicBuffer,
            activation: 0.5,
            importance: 0.25,
            age_seconds: 3.0,
        };
        let f = extract_v2_base(&input);
        assert_eq!(
            f[..11],
            [37.0, 6.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        );
        assert_eq!(f[11..18], [0.0, 0.0, 1.0, 0.0, 0.5, 0.25, 3.0]);
        // v1 markers: "in" is not temporal; "fix" is an action; "see [docs])." ends with ".": no file.
        assert_eq!(f[18..], [0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(V2_NAMES.len(), V2_BASE_LEN + 4);
    }

    #[test]
    fn version_numbers() {
        assert!(has_version_number("bump to 0.9"));
        assert!(!has_version_number("end. 9"));
        assert!(!has_version_number("."));
    }
}
