//! Adapting a trained router to one project's own labels, and deciding on evidence whether the
//! adapted router is better.
//!
//! A project's first labels are too few to train a router from (20 labels of four layers say
//! little about how the layers read), but they say a lot about *this project's style*: its
//! headings, its verbs, its recurring words. So a project's router starts from what the base
//! router knows and only moves where the project's labels say so:
//!
//! - the base model's **trees are kept** (they learned on thousands of notes how to weigh the
//!   shape features against the text scores);
//! - its **text model is refitted** on the corpus the base was trained on plus the project's
//!   labels, each counting [`AdaptParams::label_weight`] times, with the base text model's
//!   learner and regularisation. Words that mean something else in this project move; the rest
//!   of the vocabulary stays as the corpus taught it.
//!
//! Refitting the text model is one logistic regression (tens of milliseconds on the shipped
//! corpus), which is what makes cross-validated evidence affordable: [`adapt`] refits once per
//! fold of the labels and scores every label with a model that did not see it, and compares
//! that with the baseline router on the same labels. See [`Adapted::better`].

use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::router::metrics::Metrics;
use crate::router::text::{TextLearner, TextModel};
use crate::router::train::{Example, SplitMix64};
use crate::router::tree::TreeModel;
use crate::router::Router;

/// How a project's labels adapt the base router, and how much evidence activation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptParams {
    /// How many corpus examples one project label counts as. Default 20: a project's 20 labels
    /// then weigh like 400 of the ~6,000 corpus notes, enough to move the words it uses without
    /// forgetting the rest (chosen on per-project simulations of `agent_dev_train`; weights of
    /// 5 to 150 were within a point of each other there).
    pub label_weight: f64,
    /// Folds of the labels for the cross-validated evidence. Default 5 (fewer when there are
    /// fewer labels).
    pub folds: usize,
    /// Fewest labels an adapted router is ever activated on. Default 10.
    pub min_labels: usize,
    /// Passes of the text model's optimiser. Default 10, as for training.
    pub epochs: usize,
    /// Seed of the folds and the optimiser's order. Default 42.
    pub seed: u64,
}

impl Default for AdaptParams {
    fn default() -> Self {
        AdaptParams {
            label_weight: 20.0,
            folds: 5,
            min_labels: 10,
            epochs: 10,
            seed: 42,
        }
    }
}

impl AdaptParams {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the setting that is out of range.
    pub fn validate(&self) -> Result<()> {
        if !(self.label_weight.is_finite() && self.label_weight > 0.0) {
            return Err(Error::invalid(
                "label_weight",
                format!("must be a finite number > 0, got {}", self.label_weight),
            ));
        }
        if self.folds < 2 {
            return Err(Error::invalid(
                "folds",
                format!("must be at least 2, got {}", self.folds),
            ));
        }
        if self.min_labels < 2 {
            return Err(Error::invalid(
                "min_labels",
                format!("must be at least 2, got {}", self.min_labels),
            ));
        }
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", "must be at least 1"));
        }
        Ok(())
    }
}

/// What a candidate router did on a project's labels, beside the baseline router.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Figures of the candidate on every label, each label scored by a candidate fitted without
    /// the fold it was in.
    pub cross_validated: Metrics,
    /// Figures of the baseline router on the same labels.
    pub baseline: Metrics,
    /// The baseline router's label.
    pub baseline_model: String,
    /// Folds used.
    pub folds: usize,
    /// Labels used as evidence (all of them).
    pub labels: usize,
    /// The rule's fewest labels ([`AdaptParams::min_labels`]).
    pub min_labels: usize,
}

impl Evidence {
    /// Whether the evidence says the candidate is better than the baseline: at least
    /// [`AdaptParams::min_labels`] labels, and strictly more of them routed right when
    /// cross-validated than by the baseline. A tie keeps the baseline: switching needs evidence.
    pub fn better(&self) -> bool {
        self.labels >= self.min_labels && self.cross_validated.correct() > self.baseline.correct()
    }

    /// The evidence in one sentence, for training reports.
    pub fn describe(&self) -> String {
        format!(
            "{}-fold cross-validation on all {} labels (activation needs at least {}): candidate {}/{} right ({:.3}), {} {}/{} ({:.3})",
            self.folds,
            self.labels,
            self.min_labels,
            self.cross_validated.correct(),
            self.labels,
            self.cross_validated.accuracy,
            self.baseline_model,
            self.baseline.correct(),
            self.labels,
            self.baseline.accuracy,
        )
    }
}

/// An adapted router and the evidence about it.
#[derive(Debug, Clone)]
pub struct Adapted {
    /// The adapted model, fitted on the corpus and every label (unlabelled until stored).
    pub model: TreeModel,
    /// How adapted models did on the labels, cross-validated, against the baseline.
    pub evidence: Evidence,
    /// Corpus examples the text model was refitted on besides the labels.
    pub corpus_rows: usize,
}

/// Refits `base`'s text model on `corpus` plus `labels` (each counting `params.label_weight`)
/// and returns `base` with it: the same trees, the project's words.
///
/// # Errors
/// [`Error::InvalidInput`] on `model` when `base` has no logistic text model to adapt (models of
/// schema `v1`, or with a naive Bayes text model, are retrained from labels instead).
pub fn adapt_text(
    base: &TreeModel,
    corpus: &[Example],
    labels: &[Example],
    params: &AdaptParams,
) -> Result<TreeModel> {
    let text = base
        .text_model()
        .filter(|t| t.learner() == TextLearner::Logistic)
        .ok_or_else(|| {
            Error::invalid(
                "model",
                "only a model with a logistic-regression text model can be adapted",
            )
        })?;
    let rows = corpus
        .iter()
        .map(|e| (e.content.as_str(), e.layer, e.weight))
        .chain(
            labels
                .iter()
                .map(|e| (e.content.as_str(), e.layer, e.weight * params.label_weight)),
        );
    let refitted =
        TextModel::fit_logistic(rows, text.regularisation(), params.epochs, params.seed)?;
    TreeModel::new(
        base.feature_schema(),
        base.trees().to_vec(),
        Some(refitted),
        "",
    )
}

/// Scores a fitting procedure on `labels` by cross-validation: the labels are dealt into seeded
/// folds, `fit` is called once per fold with the other folds' labels, and each label is routed
/// by the model that did not see it. The baseline routes every label as it is.
///
/// # Errors
/// [`Error::TrainingDeclined`] with fewer than two labels; [`Error::InvalidInput`] for bad
/// `params`; whatever `fit` returns.
pub fn gather_evidence(
    labels: &[Example],
    baseline: &Router,
    params: &AdaptParams,
    mut fit: impl FnMut(&[Example]) -> Result<TreeModel>,
) -> Result<Evidence> {
    params.validate()?;
    if labels.len() < 2 {
        return Err(Error::TrainingDeclined {
            reason: format!(
                "{} labelled rows; cross-validation needs at least 2 (and activation {})",
                labels.len(),
                params.min_labels
            ),
        });
    }
    let folds = params.folds.min(labels.len());
    let mut order: Vec<usize> = (0..labels.len()).collect();
    SplitMix64(params.seed).shuffle(&mut order);
    let mut fold_of = vec![0usize; labels.len()];
    for (k, &i) in order.iter().enumerate() {
        fold_of[i] = k % folds;
    }
    let mut outcomes: Vec<(Layer, Layer, f64)> = Vec::with_capacity(labels.len());
    for fold in 0..folds {
        let rest: Vec<Example> = (0..labels.len())
            .filter(|&i| fold_of[i] != fold)
            .map(|i| labels[i].clone())
            .collect();
        let model = fit(&rest)?;
        for i in (0..labels.len()).filter(|&i| fold_of[i] == fold) {
            let d = model.route(&labels[i].input());
            outcomes.push((labels[i].layer, d.layer, d.confidence));
        }
    }
    let baseline_metrics = Metrics::compute(labels.iter().map(|e| {
        let d = baseline.route(&e.input());
        (e.layer, d.layer, d.confidence)
    }));
    Ok(Evidence {
        cross_validated: Metrics::compute(outcomes),
        baseline: baseline_metrics,
        baseline_model: baseline.model_label().to_owned(),
        folds,
        labels: labels.len(),
        min_labels: params.min_labels,
    })
}

/// Adapts `base` to `labels` (see the module docs) and gathers the evidence against `baseline`
/// (the router the project uses without a model of its own).
///
/// # Errors
/// As [`gather_evidence`] and [`adapt_text`].
pub fn adapt(
    base: &TreeModel,
    corpus: &[Example],
    labels: &[Example],
    baseline: &Router,
    params: &AdaptParams,
) -> Result<Adapted> {
    let evidence = gather_evidence(labels, baseline, params, |rest| {
        adapt_text(base, corpus, rest, params)
    })?;
    Ok(Adapted {
        model: adapt_text(base, corpus, labels, params)?,
        evidence,
        corpus_rows: corpus.len(),
    })
}
