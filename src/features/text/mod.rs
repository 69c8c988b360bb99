//! The text sub-model of schema `v2`: multinomial logistic regression (or naive Bayes) over hashed
//! tokens.
//!
//! Tokens, from one pass over the text without allocating strings: every lowercased word (a run
//! of alphanumeric characters, `_` or `'`), every pair of adjacent words, the first word and the
//! first two words as *position* tokens, the first word's ending (`-s`, `-ed`, `-ing`), the
//! *head* (the first word and two words after a short label such as `"Search page: "`, or the
//! opening words again when there is none, and the ending of that word after a label), and shape
//! tokens (capitalised or lowercase start, final `.`/`?`/`:`/`,`, backticks, brackets,
//! parentheses, `::`, a version number, a head word that is a verb in its base form from a
//! list of common verbs, and the length in words, bucketed by 4 up to 24+).
//! Each token is a 64-bit hash (FNV-1a, then a SplitMix64 finaliser mixed with a salt per token
//! kind), so tokens of different kinds never share a slot by construction.
//!
//! Scores: logistic regression, bias + Σ w(layer, token) / √(known tokens) (fitted
//! by seeded AdaGrad with L2); naive Bayes, log prior + Σ log θ(layer, token) with
//! θ = (count + α) / (total + α·V) (Laplace/Lidstone smoothing). The router gets the scores
//! normalised so the best layer scores 0.
//!
//! A *kind-aware* logistic model ([`TextModel::fit_logistic_kinded`], trained when the examples
//! hold both agent notes and code comments, [`TextKind`]) keeps, in the same token table, a copy
//! of every token per kind (salted apart) and a logistic classifier of the kind; a text's
//! scores add each kind's copies weighted by the classifier's probability of that kind, or by
//! 0 and 1 when the caller knows the kind (`Some(kind)` in [`TextModel::scores`]). A model that
//! is not kind-aware has no such entries and ignores the kind it is told.

use crate::enum_str::string_enum;
use crate::error::{Error, Result};
use crate::layer::Layer;

mod fit;
mod refit;
mod table;
#[cfg(test)]
mod tests;
mod tokens;
mod verbs;

use fit::*;
use table::*;
use tokens::*;

pub(crate) use table::take;
pub use tokens::for_each_token;
pub(crate) use tokens::{spanned_tokens, TokenSpan};

/// Fewest examples of each kind for [`TextModel::fit_logistic_kinded`] to learn per-kind
/// weights: below it a kind's copies would be fitted on too little to mean anything.
pub const MIN_PER_KIND: usize = 20;

string_enum! {
    /// What kind of text an item is. The same sentence can mean different layers in the two:
    /// "Add retry to the client" is a next step (prospective) in an agent's notes and a
    /// changelog entry (episodic) in a crate's comments. Declaration order is each kind's index.
    pub enum TextKind as "kind" {
        /// A note an agent or a person keeps: what they saw, did, know and mean to do.
        Note => "note",
        /// A comment or doc line from source code, a changelog or a README.
        CodeComment => "code_comment",
    }
}

impl Default for TextKind {
    /// A note: what agents write.
    fn default() -> Self {
        TextKind::Note
    }
}

impl TextKind {
    /// The probability of a code comment that a known kind stands for.
    fn code_probability(self) -> f64 {
        match self {
            TextKind::Note => 0.0,
            TextKind::CodeComment => 1.0,
        }
    }
}

/// How a text model's token weights were learned, and so how they combine into scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextLearner {
    /// Multinomial naive Bayes: a score is the log prior plus the log likelihood of every token.
    NaiveBayes,
    /// Multinomial logistic regression on L2-normalised token counts: a score is the bias plus
    /// the token weights' sum divided by √(tokens known). Learns which tokens *tell layers
    /// apart* rather than which are frequent in each, so it is the stronger of the two on short
    /// notes (docs/routing.md compares them).
    Logistic,
}

impl TextLearner {
    fn kind(self) -> &'static str {
        match self {
            TextLearner::NaiveBayes => "multinomial_naive_bayes",
            TextLearner::Logistic => "logistic_regression",
        }
    }
}

/// A trained text model: a table of weights per (token, layer), and how they make scores
/// (its scoring: naive Bayes, logistic regression, or kind-aware logistic regression).
#[derive(Debug, Clone, PartialEq)]
pub struct TextModel {
    scoring: Scoring,
    /// Per known token: naive Bayes log θ, or logistic regression weights; for a kind-aware
    /// model also each kind's copies and the kind classifier's weights (salted apart). An
    /// adapted model shares its base's table and holds the tokens it changed.
    table: Weights,
}

/// The three kinds of text model: what their constants are and how a text's token weights
/// combine into its scores.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scoring {
    /// Multinomial naive Bayes with smoothing `alpha`: log prior + Σ log θ(layer, token).
    NaiveBayes { alpha: f64, log_prior: [f64; 4] },
    /// Logistic regression with inverse regularisation `c`: bias + Σ w(layer, token) / √(known
    /// tokens).
    Logistic { c: f64, bias: [f64; 4] },
    /// Kind-aware logistic regression ([`TextModel::fit_logistic_kinded`]): as `Logistic`, plus
    /// each kind's copies of the token weights, counted by the probability of that kind; the
    /// kind classifier's prior log-odds of a code comment is `kind_bias`. The table keeps it
    /// too, under [`KIND_BIAS_KEY`], which is how files store it.
    KindAware {
        c: f64,
        bias: [f64; 4],
        kind_bias: f64,
    },
}

impl Scoring {
    /// The scoring of a model stored as `learner`, `regularisation` and `constants` with its
    /// token `table` (kind-aware when the table holds a kind classifier's bias).
    fn stored(
        learner: TextLearner,
        regularisation: f64,
        constants: [f64; 4],
        table: &Weights,
    ) -> Self {
        match (learner, table.get(KIND_BIAS_KEY)) {
            (TextLearner::NaiveBayes, _) => Scoring::NaiveBayes {
                alpha: regularisation,
                log_prior: constants,
            },
            (TextLearner::Logistic, None) => Scoring::Logistic {
                c: regularisation,
                bias: constants,
            },
            (TextLearner::Logistic, Some(w)) => Scoring::KindAware {
                c: regularisation,
                bias: constants,
                kind_bias: f64::from(w[0]),
            },
        }
    }

    fn learner(self) -> TextLearner {
        match self {
            Scoring::NaiveBayes { .. } => TextLearner::NaiveBayes,
            Scoring::Logistic { .. } | Scoring::KindAware { .. } => TextLearner::Logistic,
        }
    }

    /// Naive Bayes α or logistic regression C.
    fn regularisation(self) -> f64 {
        match self {
            Scoring::NaiveBayes { alpha, .. } => alpha,
            Scoring::Logistic { c, .. } | Scoring::KindAware { c, .. } => c,
        }
    }

    /// The constant per layer: naive Bayes log priors or logistic regression biases.
    fn constants(self) -> [f64; 4] {
        match self {
            Scoring::NaiveBayes { log_prior, .. } => log_prior,
            Scoring::Logistic { bias, .. } | Scoring::KindAware { bias, .. } => bias,
        }
    }

    /// The kind classifier's prior log-odds of a code comment, for a kind-aware model.
    fn kind_bias(self) -> Option<f64> {
        match self {
            Scoring::KindAware { kind_bias, .. } => Some(kind_bias),
            _ => None,
        }
    }
}

/// The serialised form: tokens sorted by hash, so equal models give equal bytes. The same
/// keys serve every kind of model: `kind` names the learner, `alpha` is its regularisation (α
/// or C), `log_prior` its constants (log priors or biases); a kind-aware model is a logistic
/// one whose tokens include the kind classifier's bias.
#[derive(serde::Serialize, serde::Deserialize)]
struct TextModelJson {
    kind: String,
    alpha: f64,
    log_prior: [f64; 4],
    tokens: Vec<(u64, [f32; 4])>,
}

impl serde::Serialize for TextModel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut tokens: Vec<(u64, [f32; 4])> = self.table.entries().collect();
        tokens.sort_unstable_by_key(|t| t.0);
        TextModelJson {
            kind: self.learner().kind().into(),
            alpha: self.regularisation(),
            log_prior: self.scoring.constants(),
            tokens,
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for TextModel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let j = TextModelJson::deserialize(d)?;
        let learner = TextLearner::of_kind(&j.kind).map_err(serde::de::Error::custom)?;
        Ok(TextModel::assemble(learner, j.alpha, j.log_prior, j.tokens))
    }
}

impl TextLearner {
    /// The learner whose serialised `kind` is `kind`.
    fn of_kind(kind: &str) -> std::result::Result<Self, String> {
        [TextLearner::NaiveBayes, TextLearner::Logistic]
            .into_iter()
            .find(|l| l.kind() == kind)
            .ok_or_else(|| format!("unknown text model kind {kind:?}"))
    }
}

/// The compact form of a text model: its learner, constants and token weights as
/// little-endian numbers, tokens sorted by hash (see [`crate::router::TreeModel::to_compact`]).
impl TextModel {
    fn assemble(
        learner: TextLearner,
        regularisation: f64,
        constants: [f64; 4],
        tokens: Vec<(u64, [f32; 4])>,
    ) -> Self {
        Self::stored(learner, regularisation, constants, TokenTable::new(tokens))
    }

    /// The model stored as `learner`, `regularisation`, `constants` and `table`.
    fn stored(
        learner: TextLearner,
        regularisation: f64,
        constants: [f64; 4],
        table: TokenTable,
    ) -> Self {
        let table = Weights::own(table);
        TextModel {
            scoring: Scoring::stored(learner, regularisation, constants, &table),
            table,
        }
    }

    /// Appends the compact form to `out`.
    pub(crate) fn write_compact(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.learner() == TextLearner::Logistic));
        out.extend(self.regularisation().to_le_bytes());
        self.scoring
            .constants()
            .iter()
            .for_each(|p| out.extend(p.to_le_bytes()));
        self.table.merged().write_compact(out);
    }

    /// Reads a compact form from the front of `bytes`, leaving the rest.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the bytes end early.
    pub(crate) fn read_compact(bytes: &mut &[u8]) -> Result<Self> {
        let learner = match take::<1>(bytes)?[0] {
            0 => TextLearner::NaiveBayes,
            _ => TextLearner::Logistic,
        };
        let regularisation = f64::from_le_bytes(take(bytes)?);
        let mut constants = [0.0; 4];
        for p in &mut constants {
            *p = f64::from_le_bytes(take(bytes)?);
        }
        let table = TokenTable::read_compact(bytes)?;
        Ok(Self::stored(learner, regularisation, constants, table))
    }
}

impl TextModel {
    /// Fits the model on `(text, layer)` pairs with smoothing `alpha` (> 0), keeping tokens seen
    /// at least `min_count` times (rarer ones carry little evidence and cost memory and lookups).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `alpha` when it is not a finite positive number.
    pub fn fit<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer)>,
        alpha: f64,
        min_count: u32,
    ) -> Result<Self> {
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(Error::invalid(
                "alpha",
                format!("must be a finite number > 0, got {alpha}"),
            ));
        }
        let mut counts: TokenMap<[u32; 4]> = TokenMap::default();
        let mut docs = [0u32; 4];
        for (text, layer) in examples {
            let c = layer.index();
            docs[c] += 1;
            for_each_token(text, |t| counts.entry(t).or_insert([0; 4])[c] += 1);
        }
        counts.retain(|_, v| v.iter().sum::<u32>() >= min_count);
        let n_docs: u32 = docs.iter().sum();
        let vocab = counts.len() as f64;
        let mut totals = [0u64; 4];
        for v in counts.values() {
            for c in 0..4 {
                totals[c] += u64::from(v[c]);
            }
        }
        let log_prior =
            std::array::from_fn(|c| ((f64::from(docs[c]) + 1.0) / (f64::from(n_docs) + 4.0)).ln());
        let denominators: [f64; 4] =
            std::array::from_fn(|c| (totals[c] as f64 + alpha * vocab).ln());
        let table = TokenTable::new(counts.into_iter().map(|(t, v)| {
            (
                t,
                std::array::from_fn(|c| ((f64::from(v[c]) + alpha).ln() - denominators[c]) as f32),
            )
        }));
        Ok(TextModel {
            scoring: Scoring::NaiveBayes { alpha, log_prior },
            table: Weights::own(table),
        })
    }

    /// Fits a multinomial logistic regression on weighted `(text, layer, weight)` examples:
    /// L2-regularised cross-entropy with inverse strength `c` (> 0; larger fits the data more
    /// closely), minimised by `epochs` passes of AdaGrad in a seeded order, so the same examples
    /// and seed always give the same model. The regulariser is spread over the examples a token
    /// occurs in, so every pass applies it once in full.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `c` when it is not a finite positive number, on `epochs` when
    /// it is 0, and on `weight` when a weight is not a finite positive number.
    pub fn fit_logistic<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer, f64)>,
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        Self::fit_logistic_on(TokenisedCorpus::of(examples)?, &[], c, epochs, seed)
    }

    /// Fits a logistic *correction* of another model's scores: like
    /// [`TextModel::fit_logistic`], but each example carries the scores (log-probabilities) the
    /// other model gives it, and the fitted weights and biases are what must be added to them to
    /// fit the labels. Examples the other model already gets right move the weights little, so
    /// a few labels teach what is particular about them. Scores of the result are to be added
    /// to the other model's log-probabilities before a softmax.
    ///
    /// # Errors
    /// As [`TextModel::fit_logistic`], and on `offset` when a score is not finite.
    pub fn fit_correction<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer, [f64; 4])>,
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        let mut offsets = Vec::new();
        let corpus = TokenisedCorpus::of(examples.into_iter().map(|(text, layer, offset)| {
            offsets.push(offset);
            (text, layer, 1.0)
        }))?;
        if offsets.iter().flatten().any(|v| !v.is_finite()) {
            return Err(Error::invalid("offset", "every score must be finite"));
        }
        Self::fit_logistic_on(corpus, &offsets, c, epochs, seed)
    }

    fn fit_logistic_on(
        corpus: TokenisedCorpus,
        offsets: &[[f64; 4]],
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        if !(c.is_finite() && c > 0.0) {
            return Err(Error::invalid(
                "text_c",
                format!("must be a finite number > 0, got {c}"),
            ));
        }
        if epochs == 0 {
            return Err(Error::invalid("text_epochs", "must be at least 1"));
        }
        // Each token's share of the regulariser per occurrence, 1 / (C · its weighted count).
        let reg: Vec<f32> = corpus.df.iter().map(|d| (1.0 / (c * d)) as f32).collect();
        let (w, bias) = adagrad(&corpus.docs, offsets, &reg, epochs, seed);
        Ok(TextModel {
            scoring: Scoring::Logistic { c, bias },
            table: Weights::own(TokenTable::new(corpus.keys.into_iter().zip(w))),
        })
    }

    /// Fits a *kind-aware* logistic model on `(text, layer, weight, kind)` examples. The same
    /// words mean different layers in the two kinds of text ("Add retry to the client" is a next
    /// step in an agent's notes and a changelog entry in a crate), so besides one weight per
    /// token and layer shared by both kinds it learns a copy per kind, fitted jointly (each
    /// example sees the shared tokens and its own kind's copies), and a logistic classifier of
    /// the kind over the same tokens. A text is scored with the shared weights plus the two
    /// copies weighted by the classifier's probability that it is a code comment. When either
    /// kind has fewer than [`MIN_PER_KIND`] examples this is [`TextModel::fit_logistic`].
    ///
    /// # Errors
    /// As [`TextModel::fit_logistic`].
    pub fn fit_logistic_kinded<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer, f64, TextKind)>,
        c: f64,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        let examples: Vec<(&str, Layer, f64, TextKind)> = examples.into_iter().collect();
        let code = examples
            .iter()
            .filter(|e| e.3 == TextKind::CodeComment)
            .count();
        if code.min(examples.len() - code) < MIN_PER_KIND {
            let plain = examples
                .iter()
                .map(|&(text, layer, weight, _)| (text, layer, weight));
            return Self::fit_logistic(plain, c, epochs, seed);
        }
        let tokens: Vec<Vec<u64>> = examples
            .iter()
            .map(|e| {
                let mut t = Vec::new();
                for_each_token(e.0, |h| t.push(h));
                t
            })
            .collect();
        // The kind classifier is a two-class logistic regression: class 0 notes, 1 code comments.
        let kind_corpus =
            TokenisedCorpus::of_tokens(examples.iter().zip(&tokens).map(|(e, t)| {
                let ids = t.iter().map(|&h| token(SALT_KIND, h)).collect();
                (ids, e.3 as usize, e.2)
            }))?;
        let kind = Self::fit_logistic_on(kind_corpus, &[], c, epochs, seed)?;
        let layer_corpus =
            TokenisedCorpus::of_tokens(examples.iter().zip(&tokens).map(|(e, t)| {
                let salt = COPY_SALT[e.3 as usize];
                let ids = t.iter().copied().chain(t.iter().map(|&h| token(salt, h)));
                (ids.collect(), e.1.index(), e.2)
            }))?;
        let layers = Self::fit_logistic_on(layer_corpus, &[], c, epochs, seed)?;
        // Stored in the same table: each kind token's log-odds of a code comment, and the bias.
        let kind_constants = kind.scoring.constants();
        let kind_bias = (kind_constants[1] - kind_constants[0]) as f32;
        let kind_entries = kind
            .table
            .entries()
            .map(|(k, w)| (k, [w[1] - w[0], 0.0, 0.0, 0.0]))
            .chain(std::iter::once((KIND_BIAS_KEY, [kind_bias, 0.0, 0.0, 0.0])));
        let table = TokenTable::new(layers.table.entries().chain(kind_entries));
        Ok(Self::stored(
            TextLearner::Logistic,
            c,
            layers.scoring.constants(),
            table,
        ))
    }

    /// Moves a kind-aware model's prior log-odds of a code comment by `delta`; other models are
    /// returned as they are.
    pub fn with_kind_log_odds_shift(self, delta: f64) -> Self {
        match self.table.get(KIND_BIAS_KEY) {
            Some(&[bias, ..]) => {
                self.with_changes([(KIND_BIAS_KEY, [bias + delta as f32, 0.0, 0.0, 0.0])])
            }
            None => self,
        }
    }

    /// This model with the weights of `changes` in place of (or besides) its own: its token
    /// table is shared, not copied, and the changed tokens are held apart and read first.
    pub(crate) fn with_changes(&self, changes: impl IntoIterator<Item = (u64, [f32; 4])>) -> Self {
        let table = self.table.changed(changes);
        let (learner, c, constants) = (
            self.learner(),
            self.regularisation(),
            self.scoring.constants(),
        );
        TextModel {
            scoring: Scoring::stored(learner, c, constants, &table),
            table,
        }
    }

    /// The token weights that make `base` this model ([`TextModel::with_changes`]), sorted by
    /// token; `None` when this model is not `base` with some weights changed or added (another
    /// learner or constants, or a token of `base` it does not know).
    pub(crate) fn changes_from(&self, base: &TextModel) -> Option<Vec<(u64, [f32; 4])>> {
        let same_constants = self.learner() == base.learner()
            && self.regularisation() == base.regularisation()
            && self.scoring.constants() == base.scoring.constants();
        if !same_constants {
            return None;
        }
        // A model made from `base` by changes knows every token `base` knows.
        let made_from_base =
            self.table.shares_table_with(&base.table) && base.table.changes().next().is_none();
        let knows_every_base_token = made_from_base
            || base
                .table
                .entries()
                .all(|(t, _)| self.table.get(t).is_some());
        knows_every_base_token.then(|| self.differing_tokens(base))
    }

    /// Whether the model tells notes from code comments ([`TextModel::fit_logistic_kinded`]).
    pub fn is_kind_aware(&self) -> bool {
        matches!(self.scoring, Scoring::KindAware { .. })
    }

    /// The model's probability that `text` is a code comment rather than a note; `None` when
    /// the model is not kind-aware.
    pub fn code_comment_probability(&self, text: &str) -> Option<f64> {
        let mut sum = ScoreSum::of_kind(None);
        for_each_token(text, |t| sum.add(self, t));
        self.is_kind_aware().then(|| sum.code_probability(self))
    }

    /// The regularisation it was fitted with: naive Bayes α, or logistic regression C.
    pub fn regularisation(&self) -> f64 {
        self.scoring.regularisation()
    }

    /// Which learner made the model.
    pub fn learner(&self) -> TextLearner {
        self.scoring.learner()
    }

    /// How each of `tokens` counts in this model's score of a text of `kind` (when known): what
    /// an explanation weighs each token's pull with, and how a kind-aware model read the text.
    pub(crate) fn token_contributions(
        &self,
        tokens: &[u64],
        kind: Option<TextKind>,
    ) -> Contributions {
        let mut sum = ScoreSum::of_kind(kind);
        tokens.iter().for_each(|&t| sum.add(self, t));
        let shares = sum.copy_shares(self);
        let table = &self.table;
        let weights = tokens
            .iter()
            .map(|&t| {
                let copies = if self.is_kind_aware() {
                    COPY_SALT.map(|salt| table.get(token(salt, t)))
                } else {
                    [None; 2]
                };
                let parts = [
                    (table.get(t), 1.0),
                    (copies[0], shares[0]),
                    (copies[1], shares[1]),
                ];
                parts.iter().any(|(w, _)| w.is_some()).then(|| {
                    std::array::from_fn(|c| {
                        parts
                            .iter()
                            .filter_map(|(w, share)| w.map(|w| share * f64::from(w[c])))
                            .sum()
                    })
                })
            })
            .collect();
        Contributions {
            weights,
            scale: sum.scale(self, shares),
            code_share: self.is_kind_aware().then_some(shares[1]),
        }
    }

    /// The four layers' scores for `text` (log-posteriors for naive Bayes, logits for logistic
    /// regression), shifted so the best is 0. `kind` is the text's kind when the caller knows
    /// it: a kind-aware model then reads the text with that kind's weights alone instead of
    /// weighing both by its own guess. Other models ignore it.
    pub fn scores(&self, text: &str, kind: Option<TextKind>) -> [f64; 4] {
        let mut sum = ScoreSum::of_kind(kind);
        for_each_token(text, |t| sum.add(self, t));
        sum.scores(self)
    }

    /// `(self.scores(text, kind), other.scores(text, kind))` from one pass over the text's
    /// tokens: a project's correction is scored this way beside its router's text model.
    pub(crate) fn scores_with(
        &self,
        other: &TextModel,
        text: &str,
        kind: Option<TextKind>,
    ) -> ([f64; 4], [f64; 4]) {
        let (mut mine, mut theirs) = (ScoreSum::of_kind(kind), ScoreSum::of_kind(kind));
        for_each_token(text, |t| {
            mine.add(self, t);
            theirs.add(other, t);
        });
        (mine.scores(self), theirs.scores(other))
    }

    /// Known tokens.
    pub fn vocabulary_size(&self) -> usize {
        self.table.len()
    }

    /// Checks the parameters are usable numbers. Of a model that shares a table with the model
    /// it was made from ([`TextModel::with_changes`]), only the changed weights are read: the
    /// shared table was checked when its own model was (so reading a delta takes
    /// milliseconds, not the time to check the base's 200,000 tokens again).
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let regularisation = self.regularisation();
        if !(regularisation.is_finite() && regularisation > 0.0)
            || self.scoring.constants().iter().any(|p| !p.is_finite())
        {
            return Err("text model has a non-finite or non-positive parameter".into());
        }
        if self
            .table
            .unchecked()
            .any(|(_, w)| w.iter().any(|v| !v.is_finite()))
        {
            return Err("text model has a non-finite token weight".into());
        }
        Ok(())
    }
}

/// How a text's tokens count in a model's score of it ([`TextModel::token_contributions`]).
pub(crate) struct Contributions {
    /// Each token's layer weights as the score uses them (for a kind-aware model, the shared
    /// weight plus each kind's copy by its share); `None` for a token the model does not know.
    pub(crate) weights: Vec<Option<[f64; 4]>>,
    /// The factor the score multiplies their sum by.
    pub(crate) scale: f64,
    /// For a kind-aware model, the share the code-comment copies counted with: 0 or 1 when the
    /// kind was given, the model's probability of a code comment otherwise.
    pub(crate) code_share: Option<f64>,
}

/// A text model's running sum of token weights over one text: the shared weights and, for a
/// kind-aware model, the kind classifier's and each kind's copies; when the text's kind is
/// given, only that kind's copies (the classifier and the other copies would count 0).
#[derive(Default)]
struct ScoreSum {
    given: Option<TextKind>,
    shared: WeightSum,
    kind: WeightSum,
    copies: [WeightSum; 2],
}

/// A sum of token weights and how many tokens were known.
#[derive(Default, Clone, Copy)]
struct WeightSum {
    sum: [f64; 4],
    known: usize,
}

impl WeightSum {
    fn add(&mut self, weights: Option<&[f32; 4]>) {
        if let Some(w) = weights {
            self.known += 1;
            for (s, w) in self.sum.iter_mut().zip(w) {
                *s += f64::from(*w);
            }
        }
    }
}

impl ScoreSum {
    /// An empty sum over a text of `kind`, when known.
    fn of_kind(given: Option<TextKind>) -> Self {
        ScoreSum {
            given,
            ..ScoreSum::default()
        }
    }

    fn add(&mut self, model: &TextModel, t: u64) {
        let table = &model.table;
        self.shared.add(table.get(t));
        if !model.is_kind_aware() {
            return;
        }
        if let Some(kind) = self.given {
            let k = kind as usize;
            self.copies[k].add(table.get(token(COPY_SALT[k], t)));
        } else {
            self.kind.add(table.get(token(SALT_KIND, t)));
            for (copy, salt) in self.copies.iter_mut().zip(COPY_SALT) {
                copy.add(table.get(token(salt, t)));
            }
        }
    }

    /// A kind-aware model's probability that the text is a code comment.
    fn code_probability(&self, model: &TextModel) -> f64 {
        let bias = model.scoring.kind_bias().unwrap_or(0.0);
        let z = bias + self.kind.sum[0] / (self.kind.known.max(1) as f64).sqrt();
        1.0 / (1.0 + (-z).exp())
    }

    /// How much each kind's copies count: `[1 - p, p]` for a kind-aware model (p the
    /// probability of a code comment: 0 or 1 when the kind is given, the classifier's
    /// otherwise), none for other models.
    fn copy_shares(&self, model: &TextModel) -> [f64; 2] {
        if model.is_kind_aware() {
            let p = self
                .given
                .map_or_else(|| self.code_probability(model), TextKind::code_probability);
            [1.0 - p, p]
        } else {
            [0.0; 2]
        }
    }

    /// What the token-weight sum is multiplied by: 1 for naive Bayes, 1/√(tokens known) for
    /// logistic regression, counting a kind's copies by their share.
    fn scale(&self, model: &TextModel, shares: [f64; 2]) -> f64 {
        let copies: f64 = (0..2)
            .map(|k| shares[k] * self.copies[k].known as f64)
            .sum();
        match model.scoring {
            Scoring::NaiveBayes { .. } => 1.0,
            Scoring::Logistic { .. } | Scoring::KindAware { .. } => {
                1.0 / (self.shared.known as f64 + copies).max(1.0).sqrt()
            }
        }
    }

    /// The model's scores from the sums, shifted so the best is 0.
    fn scores(&self, model: &TextModel) -> [f64; 4] {
        let shares = self.copy_shares(model);
        let scale = self.scale(model, shares);
        let constants = model.scoring.constants();
        let lp: [f64; 4] = std::array::from_fn(|c| {
            let copies: f64 = (0..2).map(|k| shares[k] * self.copies[k].sum[c]).sum();
            constants[c] + scale * (self.shared.sum[c] + copies)
        });
        let best = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lp.map(|v| v - best)
    }
}

/// The softmax of four scores.
pub(crate) fn softmax(z: [f64; 4]) -> [f64; 4] {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = z.map(|v| (v - m).exp());
    let s: f64 = e.iter().sum();
    e.map(|v| v / s)
}
