//! Explanations a person reads: which words, phrases and shape cues of an item pushed the
//! decision towards its layer rather than the runner-up.
//!
//! The cues come from the model's text model: every token of the item (a word, two adjacent
//! words, the opening words, the first word's ending, the shape of the text) has a weight per
//! layer, and a token's pull towards the chosen layer is its weight there minus its weight in the
//! runner-up layer, scaled as the model scales it. The strongest pulls are the explanation; the
//! tree path ([`crate::router::RouteDecision::path`]) stays beside it for the numbers.

use crate::features::text::{spanned_tokens, TextModel, TokenSpan};
use crate::features::{RouteInput, TextKind};
use crate::layer::Layer;
use crate::router::RouteDecision;

/// Most word and phrase cues an explanation names.
const MAX_WORD_CUES: usize = 3;
/// Most shape cues an explanation names.
const MAX_SHAPE_CUES: usize = 2;
/// Words too common to explain anything to a reader. They still count in the model; an
/// explanation just names the next cue instead.
const STOP_WORDS: [&str; 24] = [
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of", "on",
    "or", "s", "that", "the", "this", "to", "was", "were", "with",
];

/// What kind of thing a cue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CueKind {
    /// One word.
    Word,
    /// Two adjacent words.
    Phrase,
    /// How the item opens: its first word or two, or the first word's ending; or the same
    /// after a short label (`"Auth: Updated …"`).
    Opening,
    /// The shape of the text: capitalisation, final punctuation, code marks, length.
    Shape,
}

/// One reason for a decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cue {
    /// What in the item, in words: `"remember to"`, `starts with "next"`,
    /// `ends with a question mark`.
    pub text: String,
    /// What kind of cue it is.
    pub kind: CueKind,
    /// How strongly it pulled towards the chosen layer rather than the runner-up (> 0).
    pub weight: f64,
}

/// How a kind-aware text model read an item's text ([`TextKind`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Reading {
    /// The kind the text was read as: the one given, else the likelier by the model's guess.
    pub kind: TextKind,
    /// Whether the caller gave the kind; else the model guessed it from the words.
    pub given: bool,
    /// How much the text was read as a code comment: 0 or 1 when given, the model's
    /// probability otherwise.
    pub code_probability: f64,
}

impl Reading {
    /// The reading of a text whose kind was `given` (or not), scored with `code_share` of the
    /// code-comment copies.
    fn new(given: Option<TextKind>, code_share: f64) -> Self {
        let guessed = if code_share >= 0.5 {
            TextKind::CodeComment
        } else {
            TextKind::Note
        };
        Reading {
            kind: given.unwrap_or(guessed),
            given: given.is_some(),
            code_probability: code_share,
        }
    }
}

/// `read as a note (given)`, `read as a code comment (guessed: 81 % code comment)`.
impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            TextKind::Note => "a note",
            TextKind::CodeComment => "a code comment",
        };
        if self.given {
            write!(f, "read as {kind} (given)")
        } else {
            let share = (self.code_probability * 100.0).round();
            write!(f, "read as {kind} (guessed: {share} % code comment)")
        }
    }
}

/// Why an item was routed where it was, in words.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// The chosen layer.
    pub layer: Layer,
    /// The layer it was chosen over.
    pub runner_up: Layer,
    /// Words, phrases and openings that pulled towards `layer`, strongest first.
    pub words: Vec<Cue>,
    /// Shape cues that pulled towards `layer`, strongest first.
    pub shape: Vec<Cue>,
    /// All of it in one line, e.g.
    /// `prospective rather than procedural: "remember to", "friday"; ends with a period`.
    pub summary: String,
    /// How a kind-aware text model read the text (told its kind, or guessing it); `None` for
    /// other models, the heuristic and overrides.
    pub read_as: Option<Reading>,
}

impl Explanation {
    /// An explanation with no cues, and `reason` as the summary (the heuristic, overrides).
    pub(crate) fn plain(decision: &RouteDecision, reason: &str) -> Self {
        Explanation {
            layer: decision.layer,
            runner_up: decision.runner_up,
            words: Vec::new(),
            shape: Vec::new(),
            summary: format!("{}: {reason}", decision.layer),
            read_as: None,
        }
    }

    /// Explains `decision` about `input` with the cues of `models` (a text model, and a
    /// project correction when there is one): the tokens that pulled towards the chosen layer
    /// rather than the runner-up, strongest first.
    pub(crate) fn from_text_models(
        models: &[&TextModel],
        input: &RouteInput<'_>,
        decision: &RouteDecision,
    ) -> Self {
        let content = input.content;
        let (pulls, code_share) = pulls_towards(models, input, decision);
        let (words, shape) = pick_cues(content, pulls);
        let words: Vec<Cue> = words
            .into_iter()
            .map(|(span, pull)| cue(content, span, pull))
            .collect();
        let mut summary = format!("{} rather than {}", decision.layer, decision.runner_up);
        let said: Vec<&str> = words
            .iter()
            .chain(&shape)
            .map(|c| c.text.as_str())
            .collect();
        if said.is_empty() {
            summary.push_str(": no single word stood out; the shape features and trees decided");
        } else {
            summary.push_str(": ");
            summary.push_str(&said.join(", "));
        }
        Explanation {
            layer: decision.layer,
            runner_up: decision.runner_up,
            words,
            shape,
            summary,
            read_as: code_share.map(|share| Reading::new(input.kind, share)),
        }
    }
}

fn range(span: TokenSpan) -> Option<(usize, usize)> {
    match span {
        TokenSpan::Word(a, b)
        | TokenSpan::Pair(a, b)
        | TokenSpan::First(a, b)
        | TokenSpan::FirstTwo(a, b)
        | TokenSpan::AfterLabel(a, b) => Some((a, b)),
        TokenSpan::Ending(_) | TokenSpan::Shape(_) => None,
    }
}

fn start(span: TokenSpan) -> usize {
    range(span).map_or(usize::MAX, |r| r.0)
}

/// Whether two word cues cover some of the same text (a word inside a chosen phrase says nothing
/// new).
fn overlaps(a: TokenSpan, b: TokenSpan) -> bool {
    match (range(a), range(b)) {
        (Some((a0, a1)), Some((b0, b1))) => a0 < b1 && b0 < a1,
        _ => false,
    }
}

/// Whether two word cues are the same words in different places.
fn same_text(content: &str, a: TokenSpan, b: TokenSpan) -> bool {
    match (a, b, range(a), range(b)) {
        (TokenSpan::Word(..), TokenSpan::Word(..), Some((a0, a1)), Some((b0, b1)))
        | (TokenSpan::Pair(..), TokenSpan::Pair(..), Some((a0, a1)), Some((b0, b1))) => {
            content[a0..a1].eq_ignore_ascii_case(&content[b0..b1])
        }
        _ => false,
    }
}

fn cue(content: &str, span: TokenSpan, weight: f64) -> Cue {
    let quoted = |a: usize, b: usize| format!("\"{}\"", content[a..b].to_lowercase());
    let (text, kind) = match span {
        TokenSpan::Word(a, b) => (quoted(a, b), CueKind::Word),
        TokenSpan::Pair(a, b) => (quoted(a, b), CueKind::Phrase),
        TokenSpan::First(a, b) | TokenSpan::FirstTwo(a, b) => {
            (format!("starts with {}", quoted(a, b)), CueKind::Opening)
        }
        TokenSpan::AfterLabel(a, b) => (
            format!("{} after its label", quoted(a, b)),
            CueKind::Opening,
        ),
        TokenSpan::Ending(id) => (
            match id {
                0 => "starts with an -ing word",
                1 => "starts with a past-tense verb (-ed)",
                2 => "starts with a word ending in -s",
                3 => "an -ing word after its label",
                4 => "a past-tense verb (-ed) after its label",
                _ => "a word ending in -s after its label",
            }
            .to_owned(),
            CueKind::Opening,
        ),
        TokenSpan::Shape(id) => (shape_words(id), CueKind::Shape),
    };
    Cue { text, kind, weight }
}

fn shape_words(id: u64) -> String {
    match id {
        1 => "starts with a capital letter".into(),
        2 => "starts in lowercase".into(),
        3 => "ends with a period".into(),
        4 => "ends with a question mark".into(),
        5 => "ends with a colon".into(),
        6 => "ends with a comma".into(),
        7 => "has `code`".into(),
        8 => "has [brackets]".into(),
        9 => "has (parentheses)".into(),
        10 => "has a :: path".into(),
        11 => "has a version number".into(),
        12 => "opens with a verb (an instruction or a task)".into(),
        n if n >= 106 => "is 24 words or longer".into(),
        n => {
            let low = (n - 100) * 4;
            format!("is {}-{} words long", low, low + 3)
        }
    }
}

/// Each known token of `input`'s text (read as its kind, when known) that pulls towards the decided layer rather than the
/// runner-up, with the strength of its pull summed over `models` (the text model and a project
/// correction, when there is one); strongest first, ties by position, so explanations never
/// depend on hashing. Also the code-comment share the first model (the text model) read the
/// text with, when it is kind-aware.
fn pulls_towards(
    models: &[&TextModel],
    input: &RouteInput<'_>,
    decision: &RouteDecision,
) -> (Vec<(TokenSpan, f64)>, Option<f64>) {
    let (c, r) = (decision.layer.index(), decision.runner_up.index());
    let tokens = spanned_tokens(input.content);
    let hashes: Vec<u64> = tokens.iter().map(|(t, _)| *t).collect();
    let mut pull = vec![0.0f64; tokens.len()];
    let mut code_share = None;
    for (i, model) in models.iter().enumerate() {
        let counted = model.token_contributions(&hashes, input.kind);
        if i == 0 {
            code_share = counted.code_share;
        }
        for (p, w) in pull.iter_mut().zip(&counted.weights) {
            if let Some(w) = w {
                *p += counted.scale * (w[c] - w[r]);
            }
        }
    }
    let mut pulls: Vec<(TokenSpan, f64)> = tokens
        .iter()
        .zip(pull)
        .map(|((_, span), pull)| (*span, pull))
        .filter(|(_, pull)| *pull > 0.0)
        .collect();
    pulls.sort_by(|a, b| b.1.total_cmp(&a.1).then(start(a.0).cmp(&start(b.0))));
    (pulls, code_share)
}

/// The word cues (no stop words, no overlapping or repeated text, at most
/// `MAX_WORD_CUES`) and the shape cues (at most `MAX_SHAPE_CUES`) among `pulls`.
fn pick_cues(content: &str, pulls: Vec<(TokenSpan, f64)>) -> (Vec<(TokenSpan, f64)>, Vec<Cue>) {
    let mut words: Vec<(TokenSpan, f64)> = Vec::new();
    let mut shape = Vec::new();
    for (span, pull) in pulls {
        match span {
            TokenSpan::Ending(_) | TokenSpan::Shape(_) if shape.len() < MAX_SHAPE_CUES => {
                shape.push(cue(content, span, pull));
            }
            TokenSpan::Ending(_) | TokenSpan::Shape(_) => {}
            TokenSpan::Word(a, b)
                if STOP_WORDS
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(&content[a..b])) => {}
            _ if words.len() < MAX_WORD_CUES
                && !words.iter().any(|(w, _)| overlaps(*w, span))
                && !words.iter().any(|(w, _)| same_text(content, *w, span)) =>
            {
                words.push((span, pull));
            }
            _ => {}
        }
    }
    (words, shape)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::router::{train, Example, Router, TrainParams};
    use crate::FeatureSchema;

    fn example(content: impl Into<String>, layer: Layer) -> Example {
        Example::note(content, layer)
    }

    fn input(content: &str) -> RouteInput<'_> {
        RouteInput::new(content)
    }

    /// A router where "remember to" means prospective and a leading past-tense verb episodic.
    fn router() -> Router {
        let mut rows = Vec::new();
        let fillers = ["", "old ", "big old red ", "new and shiny second "];
        for i in 0..40 {
            let f = fillers[i % 4];
            let mut push = |text: String, layer| rows.push(example(&text, layer));
            push(format!("remember to check {f}item {i}"), Layer::Prospective);
            push(format!("Fixed the crash in {f}module {i}"), Layer::Episodic);
            push(format!("Updated the {f}parser {i}"), Layer::Episodic);
            push(
                format!("The {f}module {i} holds the cache"),
                Layer::Semantic,
            );
        }
        Router::Model(Arc::new(
            train(&rows, FeatureSchema::V2, &TrainParams::default())
                .unwrap()
                .model,
        ))
    }

    #[test]
    fn names_the_words_and_shape_that_decided() {
        let router = router();
        let text = "remember to check the backups";
        let d = router.route(&input(text));
        assert_eq!(d.layer, Layer::Prospective, "{d:?}");
        let why = router.explain(&input(text), &d);
        assert_eq!((why.layer, why.runner_up), (d.layer, d.runner_up));
        assert!(
            why.words.iter().any(|c| c.text.contains("remember")),
            "{why:?}"
        );
        assert!(
            why.summary.starts_with("prospective rather than "),
            "{}",
            why.summary
        );
        assert!(why.summary.contains("remember"), "{}", why.summary);
        let all: Vec<&Cue> = why.words.iter().chain(&why.shape).collect();
        assert!(all.iter().all(|c| c.weight > 0.0));
        assert!(why.words.windows(2).all(|w| w[0].weight >= w[1].weight));
        assert!(why.words.len() <= MAX_WORD_CUES && why.shape.len() <= MAX_SHAPE_CUES);
        assert!(
            !why.words.iter().any(|c| c.text == "\"the\""),
            "stop words are not named"
        );

        let text = "Fixed the login page";
        let d = router.route(&input(text));
        assert_eq!(d.layer, Layer::Episodic);
        let why = router.explain(&input(text), &d);
        assert!(
            why.words
                .iter()
                .chain(&why.shape)
                .any(|c| c.text.contains("fixed") || c.text.contains("past-tense")),
            "{why:?}"
        );
    }

    #[test]
    fn names_what_follows_a_label() {
        // Every note opens with a label; only the verb after it tells done from to do.
        let mut rows = Vec::new();
        for i in 0..40 {
            let verb = ["fix", "update", "move", "rename"][i % 4];
            let thing = ["parser", "cache", "index", "client"][i / 10];
            rows.push(example(
                format!("Area {i}: {verb}ed the {thing}"),
                Layer::Episodic,
            ));
            rows.push(example(
                format!("Area {i}: {verb} the {thing}"),
                Layer::Prospective,
            ));
        }
        let trained = train(&rows, FeatureSchema::V2, &TrainParams::default()).unwrap();
        let router = Router::Model(Arc::new(trained.model));
        // A verb no note used: the ending after the label is what is left to go by.
        let text = "Search page: cleaned the results";
        let d = router.route(&input(text));
        assert_eq!(d.layer, Layer::Episodic, "{d:?}");
        let why = router.explain(&input(text), &d);
        assert!(
            why.shape
                .iter()
                .any(|c| c.text == "a past-tense verb (-ed) after its label"),
            "{why:?}"
        );
        let text = "Search page: update the results";
        let d = router.route(&input(text));
        assert_eq!(d.layer, Layer::Prospective, "{d:?}");
        let why = router.explain(&input(text), &d);
        assert!(
            why.words.iter().any(|c| c.text.contains("update")),
            "{why:?}"
        );
    }

    #[test]
    fn overrides_and_the_heuristic_say_so() {
        let d =
            crate::router::RouteDecision::overridden(Layer::Episodic, FeatureSchema::V2, vec![]);
        let why = router().explain(&input("anything"), &d);
        assert_eq!(why.summary, "episodic: set by the caller");
        let heuristic = Router::Heuristic;
        let d = heuristic.route(&input("we should cache this"));
        let why = heuristic.explain(&input("we should cache this"), &d);
        assert!(why.summary.contains("keyword rules"), "{}", why.summary);
        assert!(why.words.is_empty());
    }

    #[test]
    fn shape_words_cover_every_shape_token() {
        for id in (1..=11).chain(100..=106) {
            let words = shape_words(id);
            assert!(!words.is_empty());
        }
        assert_eq!(shape_words(100), "is 0-3 words long");
        assert_eq!(shape_words(106), "is 24 words or longer");
    }

    #[test]
    fn a_reading_says_the_kind_and_whether_it_was_given() {
        let given = Reading::new(Some(TextKind::Note), 0.0);
        assert_eq!(given.to_string(), "read as a note (given)");
        let guessed = Reading::new(None, 0.814);
        assert_eq!(guessed.kind, TextKind::CodeComment);
        assert_eq!(
            guessed.to_string(),
            "read as a code comment (guessed: 81 % code comment)"
        );
        assert_eq!(Reading::new(None, 0.2).kind, TextKind::Note);
    }
}
