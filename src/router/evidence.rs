//! The evidence for activating an adapted router, and for keeping one in use: each label routed
//! by a candidate fitted without it against the baseline on the same labels, and the rule that
//! reads it (at least `min_labels` labels, a lead of `min_lead`, optionally a sign test).

use crate::error::{Error, Result};
use crate::layer::Layer;
use crate::router::adapt::AdaptParams;
use crate::router::folds::deal_folds;
use crate::router::metrics::Metrics;
use crate::router::train::Example;
use crate::router::tree::TreeModel;
use crate::router::{ModelLabel, Router};

/// What a candidate router did on a project's labels, beside the baseline router.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Figures of the candidate on every label, each label scored by a candidate fitted without
    /// the fold it was in.
    pub cross_validated: Metrics,
    /// Figures of the baseline router on the same labels.
    pub baseline: Metrics,
    /// The baseline router's label.
    pub baseline_model: ModelLabel,
    /// Folds used.
    pub folds: usize,
    /// Labels used as evidence (all of them).
    pub labels: usize,
    /// The rule's fewest labels ([`AdaptParams::min_labels`]).
    pub min_labels: usize,
    /// The rule's smallest lead in labels right ([`AdaptParams::min_lead`]).
    pub min_lead: usize,
    /// Labels the candidate routed right and the baseline wrong.
    pub wins: usize,
    /// Labels the baseline routed right and the candidate wrong.
    pub losses: usize,
    /// The rule's largest sign-test p-value ([`AdaptParams::max_p`]).
    pub max_p: f64,
}

/// The evidence in words ([`Evidence::describe`]).
impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Evidence {
    /// Whether the evidence says the candidate is better than the baseline: at least
    /// [`AdaptParams::min_labels`] labels, at least [`AdaptParams::min_lead`] more of them
    /// routed right when cross-validated than by the baseline (a tie never activates:
    /// switching needs evidence), and a sign-test p-value of at most [`AdaptParams::max_p`].
    pub fn better(&self) -> bool {
        self.refusal().is_none()
    }

    /// What the rule decided and which part of it decided, for training reports.
    pub fn verdict(&self) -> String {
        match self.refusal() {
            None => format!(
                "activated: a lead of {} over the baseline in labels right (needs {})",
                self.lead(),
                self.min_lead
            ),
            Some(why) => format!("kept inactive: {why}"),
        }
    }

    /// How many more labels the candidate routed right than the baseline; 0 when not more.
    fn lead(&self) -> usize {
        self.wins.saturating_sub(self.losses)
    }

    /// The part of the rule the candidate fails, or `None` when it is better.
    fn refusal(&self) -> Option<String> {
        let rule = Rule::of(self.min_labels, self.min_lead, self.max_p);
        Some(match rule.refusal(self.labels, self.wins, self.losses)? {
            Refusal::TooFewLabels => format!(
                "{} labels, activation needs at least {}",
                self.labels, self.min_labels
            ),
            Refusal::NoLead => "not more labels right than the baseline".to_owned(),
            Refusal::ShortLead(lead) => format!(
                "a lead of {lead} over the baseline in labels right, activation needs {}",
                self.min_lead
            ),
            Refusal::Untrusted(p) => format!(
                "more labels right than the baseline, but by too few to trust (sign test p = {p:.3} > {})",
                self.max_p
            ),
        })
    }

    /// The one-sided sign test's p-value on the labels where the two routers disagree about
    /// being right: the chance of at least [`Evidence::wins`] wins in `wins + losses` fair coin
    /// tosses, i.e. of the candidate doing this well were it no better than the baseline.
    pub fn p_value(&self) -> f64 {
        sign_test_p(self.wins, self.losses)
    }

    /// The evidence in one sentence, for training reports.
    pub fn describe(&self) -> String {
        format!(
            "{}-fold cross-validation on all {} labels (activation needs at least {}, and {} more right): candidate {}/{} right ({:.3}), {} {}/{} ({:.3}); the candidate alone right on {}, the baseline alone on {} (sign test p = {:.3}, activation needs p <= {})",
            self.folds,
            self.labels,
            self.min_labels,
            self.min_lead,
            self.cross_validated.correct(),
            self.labels,
            self.cross_validated.accuracy,
            self.baseline_model,
            self.baseline.correct(),
            self.labels,
            self.baseline.accuracy,
            self.wins,
            self.losses,
            self.p_value(),
            self.max_p,
        )
    }
}

/// The evidence rule, asked of one router's lead over another on labels they both routed:
/// activation asks it of a candidate over the baseline ([`Evidence::better`]), deactivation of
/// the baseline over the model in use ([`InUse::worse`]).
pub(super) struct Rule {
    min_labels: usize,
    min_lead: usize,
    max_p: f64,
}

/// The part of the [`Rule`] a lead fails.
pub(super) enum Refusal {
    /// Fewer labels than the rule's minimum.
    TooFewLabels,
    /// No lead at all (a tie included).
    NoLead,
    /// A lead, shorter than the rule's minimum.
    ShortLead(usize),
    /// A long enough lead whose sign-test p-value is above the rule's largest.
    Untrusted(f64),
}

impl Rule {
    fn of(min_labels: usize, min_lead: usize, max_p: f64) -> Self {
        Rule {
            min_labels,
            min_lead,
            max_p,
        }
    }

    /// Why `wins` against `losses` on `labels` labels fail the rule, or `None` when they pass.
    fn refusal(&self, labels: usize, wins: usize, losses: usize) -> Option<Refusal> {
        let lead = wins.saturating_sub(losses);
        if labels < self.min_labels {
            return Some(Refusal::TooFewLabels);
        } else if lead == 0 {
            return Some(Refusal::NoLead);
        } else if lead < self.min_lead {
            return Some(Refusal::ShortLead(lead));
        }
        let p = sign_test_p(wins, losses);
        (p > self.max_p).then_some(Refusal::Untrusted(p))
    }
}

/// How a project's active model did in use, beside the baseline router: on the labels of the
/// routes it decided itself. It never trained on those (it was fitted before it routed them),
/// so they need no cross-validation. [`crate::Engine::train`] asks this of the active model
/// when its new candidate is not activated: the evidence that kept the model active was on
/// fewer labels, and a model that then does worse in use than the baseline is deactivated by
/// the rule that activation asks of a candidate, with the two routers' roles swapped.
#[derive(Debug, Clone, PartialEq)]
pub struct InUse {
    /// The active model's label.
    pub model: ModelLabel,
    /// The baseline router's label.
    pub baseline_model: ModelLabel,
    /// Labels of the active model's own routes.
    pub labels: usize,
    /// Labels the active model routed right and the baseline routes wrong.
    pub model_alone: usize,
    /// Labels the baseline routes right and the active model routed wrong.
    pub baseline_alone: usize,
    /// The rule's fewest labels ([`AdaptParams::min_labels`]).
    pub min_labels: usize,
    /// The baseline's smallest lead in labels right ([`AdaptParams::min_lead`]).
    pub min_lead: usize,
    /// The rule's largest sign-test p-value ([`AdaptParams::max_p`]).
    pub max_p: f64,
}

impl InUse {
    /// Compares the decisions `model` made in use, `(labelled item, layer it decided)`, with
    /// what `baseline` decides for the same items, under `params`' rule.
    pub fn compare(
        model: &ModelLabel,
        decided: &[(Example, Layer)],
        baseline: &Router,
        params: &AdaptParams,
    ) -> Self {
        let (mut model_alone, mut baseline_alone) = (0, 0);
        for (example, layer) in decided {
            let model_right = *layer == example.layer;
            let baseline_right = baseline.route(&example.input()).layer == example.layer;
            model_alone += usize::from(model_right && !baseline_right);
            baseline_alone += usize::from(baseline_right && !model_right);
        }
        InUse {
            model: model.clone(),
            baseline_model: baseline.model_label(),
            labels: decided.len(),
            model_alone,
            baseline_alone,
            min_labels: params.min_labels,
            min_lead: params.min_lead,
            max_p: params.max_p,
        }
    }

    /// Whether the baseline did better than the active model on its routes' labels by the
    /// rule activation asks of a candidate: at least [`AdaptParams::min_labels`] labels, at
    /// least [`AdaptParams::min_lead`] more of them right, and a sign-test p-value of at most
    /// [`AdaptParams::max_p`]. A tie keeps the active model.
    pub fn worse(&self) -> bool {
        self.refusal().is_none()
    }

    /// What the rule decided, for training reports.
    pub fn verdict(&self) -> String {
        match self.refusal() {
            None => format!(
                "{} deactivated: {} would have routed {} more of its routes right (deactivation needs {})",
                self.model,
                self.baseline_model,
                self.baseline_alone - self.model_alone,
                self.min_lead
            ),
            Some(why) => format!("{} kept active: {why}", self.model),
        }
    }

    /// The part of the rule the baseline's lead fails, or `None` when the model is worse.
    fn refusal(&self) -> Option<String> {
        let rule = Rule::of(self.min_labels, self.min_lead, self.max_p);
        let base = &self.baseline_model;
        Some(
            match rule.refusal(self.labels, self.baseline_alone, self.model_alone)? {
                Refusal::TooFewLabels => format!(
                    "{} of its routes have labels, deactivation needs at least {}",
                    self.labels, self.min_labels
                ),
                Refusal::NoLead => format!("{base} would not have routed more of them right"),
                Refusal::ShortLead(lead) => format!(
                    "{base} would have routed {lead} more of them right, deactivation needs {}",
                    self.min_lead
                ),
                Refusal::Untrusted(p) => format!(
                    "{base} would have routed more of them right, but by too few to trust (sign test p = {p:.3} > {})",
                    self.max_p
                ),
            },
        )
    }

    /// The evidence in one sentence, for training reports.
    pub fn describe(&self) -> String {
        format!(
            "in use, on the {} labels of its own routes: {} alone right on {}, {} alone on {} (sign test p = {:.3})",
            self.labels,
            self.model,
            self.model_alone,
            self.baseline_model,
            self.baseline_alone,
            sign_test_p(self.baseline_alone, self.model_alone),
        )
    }
}

/// P(X >= wins) for X ~ Binomial(wins + losses, 1/2); 1 when there are no disagreements.
pub(super) fn sign_test_p(wins: usize, losses: usize) -> f64 {
    let n = wins + losses;
    // Each term C(n, k) / 2^n from the last. 2^-n underflows past ~1,000 disagreements, so
    // there the terms are carried in logarithms (below, exactly as they are).
    let ratio = |k: usize| (n - k) as f64 / (k + 1) as f64;
    let mut tail = 0.0;
    if n <= 1000 {
        let mut term = 0.5f64.powi(n as i32);
        for k in 0..=n {
            if k >= wins {
                tail += term;
            }
            term *= ratio(k);
        }
    } else {
        let mut ln_term = -(n as f64) * std::f64::consts::LN_2;
        for k in 0..=n {
            if k >= wins {
                tail += ln_term.exp();
            }
            ln_term += ratio(k).ln();
        }
    }
    tail.min(1.0)
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
    let (fold_of, folds) = deal_folds(labels.len(), params.folds, params.seed);
    let mut outcomes: Vec<(Layer, Layer, f64)> =
        vec![(Layer::Semantic, Layer::Semantic, 0.0); labels.len()];
    for fold in 0..folds {
        let rest: Vec<Example> = (0..labels.len())
            .filter(|&i| fold_of[i] != fold)
            .map(|i| labels[i].clone())
            .collect();
        let model = fit(&rest)?;
        for i in (0..labels.len()).filter(|&i| fold_of[i] == fold) {
            let d = model.route(&labels[i].input());
            outcomes[i] = (labels[i].layer, d.layer, d.confidence);
        }
    }
    let baseline_outcomes: Vec<(Layer, Layer, f64)> = labels
        .iter()
        .map(|e| {
            let d = baseline.route(&e.input());
            (e.layer, d.layer, d.confidence)
        })
        .collect();
    let right = |o: &(Layer, Layer, f64)| o.0 == o.1;
    let pairs = || outcomes.iter().zip(&baseline_outcomes);
    Ok(Evidence {
        wins: pairs().filter(|(c, b)| right(c) && !right(b)).count(),
        losses: pairs().filter(|(c, b)| !right(c) && right(b)).count(),
        max_p: params.max_p,
        cross_validated: Metrics::compute(outcomes.iter().copied()),
        baseline: Metrics::compute(baseline_outcomes),
        baseline_model: baseline.model_label(),
        folds,
        labels: labels.len(),
        min_labels: params.min_labels,
        min_lead: params.min_lead,
    })
}
