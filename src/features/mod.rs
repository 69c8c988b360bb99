//! Feature extraction: turning an item into the numbers a router decides on. Pure and fast: no
//! I/O, one pass over the text, no panics on any `&str`.
//!
//! Every schema has a name, a fixed length and feature names. Models record the schema they were
//! trained on, and using a model with another schema is an error.

pub mod lexical;
pub mod text;
mod v1;
pub(crate) mod v2;

pub use text::{for_each_token, TextKind, TextLearner, TextModel, MIN_PER_KIND};
pub use v1::{extract_v1, V1Markers, V1_NAMES};
pub use v2::{extract_v2_base, V2_BASE_LEN, V2_NAMES};

use crate::component::Component;
use crate::enum_str::string_enum;

/// 1 for true, 0 for false: how every boolean feature is encoded.
pub(crate) fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// A word character for keyword matching: alphanumeric or `_`.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// What the router sees of an item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteInput<'a> {
    /// The item's text.
    pub content: &'a str,
    /// Its working-memory component.
    pub component: Component,
    /// Stored activation A0, 0..=1.
    pub activation: f64,
    /// Importance, 0..=1.
    pub importance: f64,
    /// Seconds since the item was created.
    pub age_seconds: f64,
    /// What kind of text it is, when the caller knows; `None` lets a kind-aware text model
    /// guess from the words (see [`TextModel::scores`]).
    pub kind: Option<TextKind>,
}

impl<'a> RouteInput<'a> {
    /// `content` as a note routed the moment it was added: phonological, activation 1,
    /// importance 0.5, age 0, kind unknown. The other fields have builder methods.
    ///
    /// ```
    /// use athena_memory::{Component, RouteInput, TextKind};
    ///
    /// let input = RouteInput::new("Run `make seed` after a reset")
    ///     .component(Component::CentralExecutive)
    ///     .kind(Some(TextKind::Note));
    /// assert_eq!((input.activation, input.importance), (1.0, 0.5));
    /// ```
    pub fn new(content: &'a str) -> Self {
        RouteInput {
            content,
            component: Component::Phonological,
            activation: 1.0,
            importance: 0.5,
            age_seconds: 0.0,
            kind: None,
        }
    }

    /// With the working-memory component `component`.
    pub fn component(self, component: Component) -> Self {
        RouteInput { component, ..self }
    }

    /// With stored activation `activation` (0..=1).
    pub fn activation(self, activation: f64) -> Self {
        RouteInput { activation, ..self }
    }

    /// With importance `importance` (0..=1).
    pub fn importance(self, importance: f64) -> Self {
        RouteInput { importance, ..self }
    }

    /// `age_seconds` after the item was created.
    pub fn age_seconds(self, age_seconds: f64) -> Self {
        RouteInput {
            age_seconds,
            ..self
        }
    }

    /// Of kind `kind` (`None`: unknown, the text model guesses).
    pub fn kind(self, kind: Option<TextKind>) -> Self {
        RouteInput { kind, ..self }
    }

    /// The same input owning a copy of its text.
    pub fn into_owned(self) -> OwnedRouteInput {
        OwnedRouteInput {
            content: self.content.to_owned(),
            component: self.component,
            activation: self.activation,
            importance: self.importance,
            age_seconds: self.age_seconds,
            kind: self.kind,
        }
    }
}

/// A [`RouteInput`] that owns its text: what a training [`Example`](crate::Example), a corpus
/// line ([`crate::CorpusItem`]) and the route log ([`crate::RouteRecord`]) keep of an item,
/// and what the blocking engine carries to its runtime thread. [`OwnedRouteInput::as_input`]
/// lends it back; [`RouteInput::into_owned`] makes one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OwnedRouteInput {
    /// The item's text.
    pub content: String,
    /// Its working-memory component.
    pub component: Component,
    /// Stored activation A0, 0..=1.
    pub activation: f64,
    /// Importance, 0..=1.
    pub importance: f64,
    /// Seconds since the item was created.
    pub age_seconds: f64,
    /// What kind of text it is, when known.
    pub kind: Option<TextKind>,
}

impl OwnedRouteInput {
    /// `content` as a fresh note, as [`RouteInput::new`] makes it.
    pub fn new(content: impl Into<String>) -> Self {
        OwnedRouteInput {
            content: content.into(),
            ..RouteInput::new("").into_owned()
        }
    }

    /// The input, borrowed.
    pub fn as_input(&self) -> RouteInput<'_> {
        RouteInput {
            content: &self.content,
            component: self.component,
            activation: self.activation,
            importance: self.importance,
            age_seconds: self.age_seconds,
            kind: self.kind,
        }
    }
}

impl From<RouteInput<'_>> for OwnedRouteInput {
    fn from(input: RouteInput<'_>) -> Self {
        input.into_owned()
    }
}

string_enum! {
    /// A named, fixed-length feature layout, stored with models and routes by its name.
    pub enum FeatureSchema as "feature_schema" {
        /// The original project's 11 features, in its order.
        V1 => "v1",
        /// Text shape, component, numbers and four text-model scores (22 features);
        /// see the `v2` module's documentation.
        V2 => "v2",
    }
}

impl FeatureSchema {
    /// The newest schema, used for new models.
    pub const LATEST: FeatureSchema = FeatureSchema::V2;

    /// How many features it has.
    pub fn len(self) -> usize {
        self.names().len()
    }

    /// Whether it has no features (never true; here for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The features' names, in order.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            FeatureSchema::V1 => &V1_NAMES,
            FeatureSchema::V2 => &V2_NAMES,
        }
    }

    /// Whether some of its features come from a learned text model carried by the router model.
    pub fn has_text_scores(self) -> bool {
        self == FeatureSchema::V2
    }

    /// Extracts this schema's features of `input` into `out` (cleared first). Text scores come
    /// from `text` (a model's text sub-model); without one they are all 0.
    pub fn extract_into(
        self,
        input: &RouteInput<'_>,
        text: Option<&TextModel>,
        out: &mut Vec<f64>,
    ) {
        out.clear();
        match self {
            FeatureSchema::V1 => out.extend_from_slice(&extract_v1(input)),
            FeatureSchema::V2 => {
                out.extend_from_slice(&extract_v2_base(input));
                out.extend_from_slice(
                    &text.map_or([0.0; 4], |t| t.scores(input.content, input.kind)),
                );
            }
        }
    }

    /// The features of `input` (text scores from `text`) and the scores of a project
    /// `correction`, from one pass over the text's tokens when the schema has text scores.
    pub(crate) fn extract_with_correction(
        self,
        input: &RouteInput<'_>,
        text: Option<&TextModel>,
        correction: &TextModel,
    ) -> (Vec<f64>, [f64; 4]) {
        match (self, text) {
            (FeatureSchema::V2, Some(text)) => {
                let (scores, corrections) = text.scores_with(correction, input.content, input.kind);
                let mut out = Vec::with_capacity(self.len());
                out.extend_from_slice(&extract_v2_base(input));
                out.extend_from_slice(&scores);
                (out, corrections)
            }
            _ => (
                self.extract_with(input, text),
                correction.scores(input.content, input.kind),
            ),
        }
    }

    /// Extracts this schema's features of `input` into a new vector, without text scores.
    pub fn extract(self, input: &RouteInput<'_>) -> Vec<f64> {
        self.extract_with(input, None)
    }

    /// Extracts this schema's features of `input` into a new vector, text scores from `text`.
    pub fn extract_with(self, input: &RouteInput<'_>, text: Option<&TextModel>) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.len());
        self.extract_into(input, text, &mut out);
        out
    }
}
