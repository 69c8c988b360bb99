//! Schema `v1`: the original Python project's 11 features, reproduced exactly and in its order.
//!
//! Markers are matched the way the original matched them: temporal words as whole words in the
//! lowercased text (Python's `\b`: a word character is alphanumeric or `_`), action and future
//! words as plain substrings of the lowercased text, question words as a prefix, and file
//! references on the original text. One Aho-Corasick automaton finds every keyword in one pass.
//! One deliberate narrowing: the clock-time and ISO-date patterns (`\d{1,2}:\d{2}`,
//! `\d{4}-\d{2}-\d{2}`) accept ASCII digits only, where Python's `\d` also accepts other
//! scripts' decimal digits.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::{flag, is_word_char, RouteInput};
use crate::component::Component;

/// The names of the 11 `v1` features, in order.
pub const V1_NAMES: [&str; 11] = [
    "content_length",
    "is_verbal",
    "is_spatial",
    "activation",
    "importance",
    "age_seconds",
    "has_temporal_marker",
    "has_action_marker",
    "has_future_marker",
    "is_question",
    "has_file_reference",
];

const TEMPORAL: &[&str] = &[
    "when",
    "at",
    "on",
    "yesterday",
    "today",
    "tomorrow",
    "last week",
    "occurred",
    "happened",
    "during",
    "while",
    "before",
    "after",
    "since",
    "until",
];
const ACTION: &[&str] = &[
    "implement",
    "fix",
    "create",
    "update",
    "delete",
    "test",
    "deploy",
    "configure",
    "setup",
    "build",
    "run",
    "execute",
    "install",
    "compile",
    "debug",
    "refactor",
    "optimize",
    "how to",
    "step",
    "procedure",
    "workflow",
    "process",
];
const FUTURE: &[&str] = &[
    "will",
    "todo",
    "task",
    "reminder",
    "scheduled",
    "plan",
    "need to",
    "should",
    "must",
    "going to",
    "next",
    "later",
    "upcoming",
    "deadline",
    "due",
];
const QUESTION_STARTS: &[&str] = &["how", "what", "why", "when", "where", "which", "who"];

/// The five 0/1 markers of `v1`, also what the heuristic router decides on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct V1Markers {
    /// A temporal word (whole word), a clock time or an ISO date.
    pub temporal: bool,
    /// An action word (substring).
    pub action: bool,
    /// A future/intention word (substring).
    pub future: bool,
    /// Starts with a question word or contains `?`.
    pub question: bool,
    /// Contains `/` or `\`, or ends with `.word`.
    pub file: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Temporal,
    Action,
    Future,
}

/// One automaton over all three keyword lists, searched once with overlapping matches (the "at"
/// in "update" must not hide the action word); `.1[pattern id]` says which list a pattern is
/// from. ASCII case-insensitive, so ASCII text (nearly all of it) is searched without first
/// being lowercased into a new string; a DFA because it is small and searched often.
static KEYWORDS: LazyLock<(AhoCorasick, Vec<Kind>)> = LazyLock::new(|| {
    let lists = [
        (TEMPORAL, Kind::Temporal),
        (ACTION, Kind::Action),
        (FUTURE, Kind::Future),
    ];
    let patterns: Vec<&str> = lists
        .iter()
        .flat_map(|(words, _)| words.iter().copied())
        .collect();
    let kinds: Vec<Kind> = lists
        .iter()
        .flat_map(|(words, kind)| words.iter().map(|_| *kind))
        .collect();
    let automaton = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(&patterns)
        .expect("static keyword patterns are valid");
    (automaton, kinds)
});

/// Whether `text[start..end]` is bounded by non-word characters (or the text's ends).
fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start]
        .chars()
        .next_back()
        .is_none_or(|c| !is_word_char(c));
    let after = text[end..].chars().next().is_none_or(|c| !is_word_char(c));
    before && after
}

/// `\d{1,2}:\d{2}` anywhere: a colon with a digit before it and two after it.
fn has_clock_time(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| {
        w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit()
    })
}

/// `\d{4}-\d{2}-\d{2}` anywhere.
fn has_iso_date(bytes: &[u8]) -> bool {
    bytes.windows(10).any(|w| {
        w[..4].iter().all(u8::is_ascii_digit)
            && w[4] == b'-'
            && w[5..7].iter().all(u8::is_ascii_digit)
            && w[7] == b'-'
            && w[8..].iter().all(u8::is_ascii_digit)
    })
}

/// `[/\\]` anywhere, or `\.\w+$` (Python's `$` also matches before one final newline).
fn has_file_reference(text: &str) -> bool {
    if text.bytes().any(|b| b == b'/' || b == b'\\') {
        return true;
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let stem = body.trim_end_matches(is_word_char);
    stem.len() < body.len() && stem.ends_with('.')
}

impl V1Markers {
    /// Finds the markers in `content`.
    pub fn of(content: &str) -> Self {
        // For ASCII text, lowercasing changes no byte offsets, word boundaries or matches of the
        // case-insensitive automaton, so the text is searched as it is.
        let lowered;
        let lower: &str = if content.is_ascii() {
            content
        } else {
            lowered = content.to_lowercase();
            &lowered
        };
        let (automaton, kinds) = &*KEYWORDS;
        let mut m = V1Markers::default();
        for hit in automaton.find_overlapping_iter(lower) {
            match kinds[hit.pattern().as_usize()] {
                Kind::Temporal => m.temporal |= is_whole_word(lower, hit.start(), hit.end()),
                Kind::Action => m.action = true,
                Kind::Future => m.future = true,
            }
            if m.temporal && m.action && m.future {
                break;
            }
        }
        let bytes = lower.as_bytes();
        m.temporal = m.temporal || has_clock_time(bytes) || has_iso_date(bytes);
        let head = &bytes[..bytes.len().min(5)];
        m.question = QUESTION_STARTS
            .iter()
            .any(|q| head.len() >= q.len() && head[..q.len()].eq_ignore_ascii_case(q.as_bytes()))
            || bytes.contains(&b'?');
        m.file = has_file_reference(content);
        m
    }
}

/// The 11 `v1` features of `input`, in [`V1_NAMES`] order.
pub fn extract_v1(input: &RouteInput<'_>) -> [f64; 11] {
    let m = V1Markers::of(input.content);
    [
        input.content.chars().count() as f64,
        flag(input.component == Component::Phonological),
        flag(input.component == Component::Visuospatial),
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

    fn input(content: &str) -> RouteInput<'_> {
        RouteInput::new(content)
    }

    #[test]
    fn the_issue_example() {
        assert_eq!(
            extract_v1(&input("Fix the bug in auth.py")),
            [22.0, 1.0, 0.0, 1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn component_flags() {
        let mut i = input("x");
        i.component = Component::Visuospatial;
        assert_eq!(extract_v1(&i)[1..3], [0.0, 1.0]);
        i.component = Component::EpisodicBuffer;
        assert_eq!(extract_v1(&i)[1..3], [0.0, 0.0]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(extract_v1(&input("héllo 👋"))[0], 7.0);
        assert_eq!(extract_v1(&input(""))[0], 0.0);
    }

    #[test]
    fn temporal_words_must_be_whole_words() {
        assert!(V1Markers::of("Meet me at noon").temporal);
        assert!(V1Markers::of("It happened LAST WEEK").temporal);
        assert!(V1Markers::of("turn it on.").temporal);
        assert!(
            !V1Markers::of("the station is nice").temporal,
            "'at' and 'on' inside words"
        );
        assert!(!V1Markers::of("last weekend").temporal);
        assert!(
            !V1Markers::of("on_call rota").temporal,
            "_ is a word character"
        );
        assert!(V1Markers::of("standup 9:30").temporal);
        assert!(V1Markers::of("released 2024-01-31").temporal);
        assert!(!V1Markers::of("ratio 9:3").temporal);
        assert!(!V1Markers::of("2024-1-31").temporal);
    }

    #[test]
    fn action_and_future_words_are_substrings() {
        assert!(
            V1Markers::of("the latest version").action,
            "'test' inside 'latest' counts"
        );
        assert!(V1Markers::of("HOW TO ship").action);
        assert!(!V1Markers::of("a plain sentence").action);
        assert!(
            V1Markers::of("planet earth").future,
            "'plan' inside 'planet' counts"
        );
        assert!(V1Markers::of("we need to go").future);
        assert!(!V1Markers::of("nothing here").future);
    }

    #[test]
    fn questions_and_file_references() {
        assert!(
            V1Markers::of("However it went").question,
            "prefix match, as the original"
        );
        assert!(V1Markers::of("is it? yes").question);
        assert!(!V1Markers::of("a statement.").question);
        assert!(V1Markers::of("see src/lib.rs for details").file);
        assert!(V1Markers::of("C:\\temp").file);
        assert!(V1Markers::of("open README.md").file);
        assert!(V1Markers::of("open README.md\n").file);
        assert!(!V1Markers::of("the end.").file);
        assert!(!V1Markers::of("version 1.0 is out").file);
    }

    #[test]
    fn never_panics_on_odd_text() {
        let odd = [
            "",
            "👋🏽",
            "e\u{301}\u{301}",
            "\u{0}",
            "at\u{301}",
            "İstanbul at 10:30",
        ];
        for text in odd {
            let _ = extract_v1(&input(text));
        }
        let big = "word at 12:00 ".repeat(80_000);
        assert_eq!(extract_v1(&input(&big))[6], 1.0);
    }
}
