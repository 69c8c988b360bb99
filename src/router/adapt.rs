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
//!   learner and regularisation. Only the weights of the tokens the labels contain are refitted,
//!   from the base's ([`TextModel::refit_label_tokens`], [`AdaptParams::sparse_refit`]): words
//!   that mean something else in this project move; the rest of the vocabulary, the biases and
//!   the kind classifier stay as the corpus taught them, so an adapted model differs from its
//!   base in about a thousand weights. A kind-aware text model guesses whether
//!   a text of unknown kind is a note or a code comment, with the corpus's share of code
//!   comments as its prior; the refit moves that prior to the share among the project's own
//!   labels of unknown kind, estimated from the base's guesses
//!   ([`AdaptParams::learn_kind_share`]), so that a project of notes is not read as partly code
//!   comments;
//! - a **project correction** is learned over the refitted router's probabilities: a small
//!   logistic regression on the project's labels alone ([`TextModel::fit_correction`]) whose
//!   scores are added to the router's log-probabilities. It learns what the refit cannot: how
//!   often this project writes each layer, and which of its words and shapes (its own
//!   openings, its use of backticks or colons) the corpus-wide router still gets wrong. So that
//!   it learns the router's mistakes on notes it has not seen, rather than on notes it was just
//!   refitted on, each label's offset comes from a refit without that label's fold.
//!
//! Refitting the labels' tokens is one logistic regression over the corpus rows that hold them
//! (tens of milliseconds on the shipped corpus) and the correction fits in microseconds, which
//! is what keeps cross-validated evidence affordable (a second or two per project;
//! `Engine::train` runs it on a blocking thread): [`adapt`] adapts once per fold of the labels and scores every label with a
//! model that did not see it, and compares that with the baseline router on the same labels. See
//! [`Evidence::better`]. A model activated on that evidence is judged again at each later
//! training that does not replace it, on the labels of its own routes ([`InUse::worse`]).
//!
//! The design was chosen on per-project simulations on the training files (a base model trained
//! without `agent_dev_train`, adapted to its projects; and one trained without
//! `agent_more_train`, adapted to its): refit and correction together gained 9.1, 10.5 and 12.0
//! points on average over the two at 10, 20 and 40 labels, the refit alone 4.8, 6.9 and 8.0, the
//! correction alone 7.0, 9.7 and 9.1.

use crate::error::{Error, Result};
use crate::features::text::TextModel;
use crate::layer::Layer;
use crate::router::evidence::{gather_evidence, Evidence};
use crate::router::folds::{deal_folds, per_fold};
use crate::router::train::Example;
use crate::router::tree::TreeModel;
use crate::router::Router;
use crate::TextKind;

/// How a project's labels adapt the base router, and how much evidence activation needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptParams {
    /// How many corpus examples one project label counts as. Default 5: a project's 20 labels
    /// then weigh like 100 of the ~6,000 corpus notes, enough to move the words it uses without
    /// forgetting the rest. Chosen on the per-project simulations of the training files with a
    /// kind-aware base (docs/adaptation.md): weights 5 and 20 gained the same on average (8.4 points over
    /// the four runs), and 5 activated 7 worse routers where 20 activated 12 (the refit of a
    /// kind-aware model moves the project's own word copies more than a plain one did).
    pub label_weight: f64,
    /// Folds of the labels for the cross-validated evidence. Default 10 (fewer when there are
    /// fewer labels): each fold's candidate is then fitted on 90 % of the labels, closer to the
    /// final one fitted on all of them. In the training-file simulations (docs/adaptation.md) 10 folds
    /// gained 1.2 points more on average than 5 at 20 and 40 labels, for 1.8 times the refits
    /// (66 against 36 on 20 labels).
    pub folds: usize,
    /// Folds of the labels for the project correction's out-of-fold inputs ([`adapt_model`]).
    /// Default 5: 10 gained nothing in the simulations and would double the refits again.
    pub correction_folds: usize,
    /// Fewest labels an adapted router is ever activated on. Default 20: with 10 labels the
    /// cross-validated evidence rests on one or two labels' difference, and in the
    /// training-file simulations (docs/adaptation.md) 4 of the 36 routers activated at 10 labels were worse
    /// on their project's other notes.
    pub min_labels: usize,
    /// How many more labels the candidate must route right than the baseline, cross-validated.
    /// Default 2. With 1 (any lead) the training-file simulations gained 0.6 points more on
    /// average at 20 and 40 labels but activated 8 worse routers instead of 5.
    pub min_lead: usize,
    /// Passes of the text model's optimiser. Default 10 (training's default is 5; heavily
    /// weighted labels take AdaGrad longer to settle).
    pub epochs: usize,
    /// Seed of the folds and the optimiser's order. Default 42.
    pub seed: u64,
    /// Largest one-sided sign-test p-value ([`Evidence::p_value`]) at which an adapted router
    /// is activated. Default 1: the lead of [`AdaptParams::min_lead`] is enough.
    pub max_p: f64,
    /// Inverse L2 strength C of the project correction. Default 10.
    pub correction_c: f64,
    /// Passes of the project correction's optimiser. Default 3 (few passes over few labels keep
    /// the correction small; 3 and 5 passes, C of 10 and 30 were within a point in the
    /// simulations).
    pub correction_epochs: usize,
    /// Whether the refit learns the project's share of code comments. Default true. A
    /// kind-aware text model guesses the kind of a text of unknown kind from its words, with the
    /// share of code comments it was trained on as its prior (about a quarter of the shipped
    /// corpus), so some of an agent's notes are read as code comments. With this on, the share
    /// among the project's labels of unknown kind is estimated from the base's kind probabilities
    /// (by Saerens, Latinne and Decaestecker's expectation-maximisation) and the refitted
    /// classifier's prior moved to it. In the training-file simulations with 3 and 5 deals of
    /// each project's notes (docs/adaptation.md) it made the adapted models better in all four runs
    /// (by 0.3 to 1.5 points), gained 0.75 points more on average and activated 22 worse routers
    /// instead of 26.
    pub learn_kind_share: bool,
    /// Refit only the layer weights of the tokens in the project's labels, from the base's
    /// weights ([`TextModel::refit_label_tokens`]), instead of the whole text model. Default
    /// true: the adapted model then differs from its base in about a thousand token weights
    /// instead of all 130,000, in half the time; in the training-file simulations
    /// (docs/adaptation.md) it gained as much (9.5 points on average over the four runs, both
    /// ways) and activated 8 worse routers of 60 where the whole refit activated 6.
    pub sparse_refit: bool,
}

impl Default for AdaptParams {
    fn default() -> Self {
        AdaptParams {
            label_weight: 5.0,
            folds: 10,
            correction_folds: 5,
            min_labels: 20,
            min_lead: 2,
            epochs: 10,
            seed: 42,
            max_p: 1.0,
            correction_c: 10.0,
            correction_epochs: 3,
            learn_kind_share: true,
            sparse_refit: true,
        }
    }
}

impl AdaptParams {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the setting that is out of range.
    pub fn validate(&self) -> Result<()> {
        let at_least = |field: &'static str, v: usize, min: usize| {
            if v >= min {
                Ok(())
            } else {
                Err(Error::invalid(
                    field,
                    format!("must be at least {min}, got {v}"),
                ))
            }
        };
        let positive = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    field,
                    format!("must be a finite number > 0, got {v}"),
                ))
            }
        };
        positive("label_weight", self.label_weight)?;
        at_least("folds", self.folds, 2)?;
        at_least("correction_folds", self.correction_folds, 2)?;
        if self.min_lead == 0 {
            return Err(Error::invalid(
                "min_lead",
                "must be at least 1 (a candidate no better than the baseline is never activated)",
            ));
        }
        at_least("min_labels", self.min_labels, 2)?;
        if !(self.max_p > 0.0 && self.max_p <= 1.0) {
            return Err(Error::invalid(
                "max_p",
                format!("must be within (0, 1], got {}", self.max_p),
            ));
        }
        at_least("epochs", self.epochs, 1)?;
        positive("correction_c", self.correction_c)?;
        at_least("correction_epochs", self.correction_epochs, 1)
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
    let text = base.adaptable_text_model().ok_or_else(|| {
        Error::invalid(
            "model",
            "only a model with a logistic-regression text model can be adapted",
        )
    })?;
    fn row(e: &Example, weight: f64) -> (&str, Layer, f64, TextKind) {
        let kind = e.item.kind.unwrap_or_default();
        (e.item.content.as_str(), e.layer, weight, kind)
    }
    let corpus_rows = corpus.iter().map(|e| row(e, e.weight));
    let label_rows = labels
        .iter()
        .map(|e| row(e, e.weight * params.label_weight));
    let refitted = if params.sparse_refit {
        text.refit_label_tokens(corpus_rows, label_rows, params.epochs, params.seed)?
    } else {
        let rows = corpus_rows.chain(label_rows);
        TextModel::fit_logistic_kinded(rows, text.regularisation(), params.epochs, params.seed)?
    };
    let refitted = if params.learn_kind_share {
        refitted.with_kind_log_odds_shift(kind_share_shift(text, corpus, labels, params))
    } else {
        refitted
    };
    base.with_text(Some(refitted))
}

/// How far the refitted kind classifier's prior log-odds of a code comment move so that, for
/// text of unknown kind, it expects the project's share of code comments rather than the refit
/// rows' ([`AdaptParams::learn_kind_share`]): 0 when the base is not kind-aware or every label
/// says its kind.
fn kind_share_shift(
    base_text: &TextModel,
    corpus: &[Example],
    labels: &[Example],
    params: &AdaptParams,
) -> f64 {
    let unknown: Vec<f64> = labels
        .iter()
        .filter(|e| e.item.kind.is_none())
        .filter_map(|e| base_text.code_comment_probability(&e.item.content))
        .collect();
    let code_weight = |rows: &[Example], weight: f64| {
        let code = rows
            .iter()
            .filter(|e| e.item.kind == Some(TextKind::CodeComment));
        let all: f64 = rows.iter().map(|e| e.weight * weight).sum();
        (code.map(|e| e.weight * weight).sum::<f64>(), all)
    };
    let (corpus_code, corpus_all) = code_weight(corpus, 1.0);
    if unknown.is_empty() || corpus_all <= 0.0 {
        return 0.0;
    }
    let (label_code, label_all) = code_weight(labels, params.label_weight);
    let clamp = |p: f64| p.clamp(0.005, 0.995);
    let project = estimate_share(&unknown, clamp(corpus_code / corpus_all));
    let refit = clamp((corpus_code + label_code) / (corpus_all + label_all));
    let logit = |p: f64| (p / (1.0 - p)).ln();
    logit(clamp(project)) - logit(refit)
}

/// The share of positives among items whose probabilities of being positive, `probabilities`,
/// came from a classifier trained where positives were `trained_share` of the rows: Saerens,
/// Latinne and Decaestecker's expectation-maximisation (2002), which re-weights each
/// probability by the ratio of the new share to the trained one until the mean of the
/// re-weighted probabilities is the share itself.
fn estimate_share(probabilities: &[f64], trained_share: f64) -> f64 {
    let mut share = trained_share;
    for _ in 0..200 {
        let up = share / trained_share;
        let down = (1.0 - share) / (1.0 - trained_share);
        let next = probabilities
            .iter()
            .map(|p| up * p / (up * p + down * (1.0 - p)))
            .sum::<f64>()
            / probabilities.len() as f64;
        let settled = (next - share).abs() < 1e-9;
        share = next;
        if settled {
            break;
        }
    }
    share
}

/// `base` adapted to `labels`: its text model refitted ([`adapt_text`]) and a project
/// correction learned over the refitted router (see the module docs). The correction's offsets
/// are out of fold: each label's comes from a refit on the other folds' labels, fitted on
/// threads of their own (each seeded by `params.seed`, so the result does not depend on which
/// finishes first).
///
/// # Errors
/// As [`adapt_text`]; [`Error::InvalidInput`] for bad `params`.
pub fn adapt_model(
    base: &TreeModel,
    corpus: &[Example],
    labels: &[Example],
    params: &AdaptParams,
) -> Result<TreeModel> {
    params.validate()?;
    let refitted = adapt_text(base, corpus, labels, params)?;
    if labels.len() < 2 {
        return Ok(refitted);
    }
    let (fold_of, folds) = deal_folds(labels.len(), params.correction_folds, params.seed);
    let offsets_of = |fold: usize| -> Result<Vec<(usize, [f64; 4])>> {
        let rest: Vec<Example> = (0..labels.len())
            .filter(|&i| fold_of[i] != fold)
            .map(|i| labels[i].clone())
            .collect();
        let model = adapt_text(base, corpus, &rest, params)?;
        Ok((0..labels.len())
            .filter(|&i| fold_of[i] == fold)
            .map(|i| (i, log_probabilities(&model, &labels[i])))
            .collect())
    };
    let mut offsets = vec![[0.0; 4]; labels.len()];
    for fold in per_fold(folds, offsets_of)? {
        for (i, offset) in fold {
            offsets[i] = offset;
        }
    }
    let correction = TextModel::fit_correction(
        labels
            .iter()
            .zip(&offsets)
            .map(|(e, o)| (e.item.content.as_str(), e.layer, *o)),
        params.correction_c,
        params.correction_epochs,
        params.seed,
    )?;
    refitted.with_correction(Some(correction))
}

/// The log-probabilities `model` gives `example`.
fn log_probabilities(model: &TreeModel, example: &Example) -> [f64; 4] {
    model
        .route(&example.input())
        .probabilities
        .map(|p| p.max(f64::MIN_POSITIVE).ln())
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
        adapt_model(base, corpus, rest, params)
    })?;
    Ok(Adapted {
        model: adapt_model(base, corpus, labels, params)?,
        evidence,
        corpus_rows: corpus.len(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::layer::Layer;
    use crate::router::evidence::sign_test_p;
    use crate::router::metrics::Metrics;
    use crate::router::{train, InUse, ModelLabel, TrainParams};
    use crate::FeatureSchema;

    fn example(content: impl Into<String>, layer: Layer) -> Example {
        Example::note(content, layer)
    }

    /// A small "shipped corpus": openings tell the layers apart.
    fn corpus() -> Vec<Example> {
        (0..40)
            .flat_map(|i| {
                [
                    example(format!("The store {i} keeps items"), Layer::Semantic),
                    example(format!("Fixed bug {i} in the parser"), Layer::Episodic),
                    example(format!("Run make target {i} to build"), Layer::Procedural),
                    example(format!("Next: add cache {i}"), Layer::Prospective),
                ]
            })
            .collect()
    }

    fn base(corpus: &[Example]) -> TreeModel {
        let params = TrainParams {
            evaluation_fraction: 0.0,
            ..TrainParams::default()
        };
        train(corpus, FeatureSchema::V2, &params).unwrap().model
    }

    /// A project whose own word "zork" marks its procedures, which the corpus calls facts.
    fn project_labels(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    example(
                        format!("The zork {i} keeps the deploy steps"),
                        Layer::Procedural,
                    )
                } else {
                    example(format!("The table {i} keeps items"), Layer::Semantic)
                }
            })
            .collect()
    }

    #[test]
    fn the_share_estimate_moves_from_the_trained_share_towards_the_items() {
        // A classifier trained where 40 % were positive, with likelihood ratios of 50 and 1/50.
        let posterior = |ratio: f64| 0.4 * ratio / (0.4 * ratio + 0.6);
        let items = |positives: usize, negatives: usize| -> Vec<f64> {
            let pos = std::iter::repeat_n(posterior(50.0), positives);
            pos.chain(std::iter::repeat_n(posterior(0.02), negatives))
                .collect()
        };
        // 10 % positives: the estimate lands near 0.1, not at the trained 0.4.
        let low = estimate_share(&items(10, 90), 0.4);
        assert!((low - 0.1).abs() < 0.02, "{low}");
        // More positives, a larger share; no positives, a share below the probabilities' mean.
        let high = estimate_share(&items(60, 40), 0.4);
        assert!((high - 0.6).abs() < 0.03, "{high}");
        let none = items(0, 50);
        assert!(estimate_share(&none, 0.4) < none[0] / 2.0);
    }

    /// A corpus of notes and code comments: the same openings mean other layers in the two kinds,
    /// and the kinds have words of their own.
    fn kinded_corpus() -> Vec<Example> {
        let mut rows = corpus();
        rows.extend((0..40).flat_map(|i| {
            let comment =
                |content: String, layer| example(content, layer).of_kind(TextKind::CodeComment);
            [
                comment(format!("Returns the fn {i} result"), Layer::Semantic),
                comment(format!("Add impl {i} for the struct"), Layer::Episodic),
                comment(format!("Handle the unwrap {i} panic"), Layer::Prospective),
            ]
        }));
        rows
    }

    #[test]
    fn a_project_of_notes_teaches_the_refit_that_its_texts_are_notes() {
        let corpus = kinded_corpus();
        let base = base(&corpus);
        let base_text = base.text_model().unwrap();
        assert!(base_text.is_kind_aware());
        // The project's labels say no kind and read like notes.
        let labels = project_labels(20);
        let shift = kind_share_shift(base_text, &corpus, &labels, &AdaptParams::default());
        assert!(shift < -1.0, "{shift}");
        // A note of the project that borrows a code comment's words.
        let text = "Returns the zork fn result";
        let code_probability = |learn_kind_share| {
            let params = AdaptParams {
                learn_kind_share,
                ..AdaptParams::default()
            };
            let adapted = adapt_text(&base, &corpus, &labels, &params).unwrap();
            adapted
                .text_model()
                .unwrap()
                .code_comment_probability(text)
                .unwrap()
        };
        let (learned, kept) = (code_probability(true), code_probability(false));
        assert!(learned < kept, "{learned} against {kept}");
        // Labels that all say their kind leave the prior as the refit learned it.
        let told: Vec<Example> = labels
            .into_iter()
            .map(|e| e.of_kind(TextKind::Note))
            .collect();
        assert_eq!(
            kind_share_shift(base_text, &corpus, &told, &AdaptParams::default()),
            0.0
        );
    }

    #[test]
    fn a_project_style_is_learned_and_the_evidence_says_so() {
        let corpus = corpus();
        let base = base(&corpus);
        let baseline = Router::Model(Arc::new(base.clone().with_label("default")));
        let labels = project_labels(20);
        let adapted = adapt(&base, &corpus, &labels, &baseline, &AdaptParams::default()).unwrap();
        let e = &adapted.evidence;
        assert_eq!(
            (e.labels, e.folds, e.min_labels, e.min_lead),
            (20, 10, 20, 2)
        );
        assert_eq!(adapted.corpus_rows, corpus.len());
        assert!(
            e.cross_validated.correct() > e.baseline.correct(),
            "{}",
            e.describe()
        );
        assert!(e.better());
        assert!(e
            .describe()
            .starts_with("10-fold cross-validation on all 20 labels"));
        // Wins and losses pair each label's two decisions: their difference is the difference
        // in labels right.
        assert_eq!(
            e.wins as i64 - e.losses as i64,
            e.cross_validated.correct() as i64 - e.baseline.correct() as i64
        );
        assert!(e.describe().contains(&format!(
            "the candidate alone right on {}, the baseline alone on {}",
            e.wins, e.losses
        )));
        assert!(e.verdict().starts_with("activated"), "{}", e.verdict());
        let probe = example("The zork 99 keeps the deploy steps", Layer::Procedural);
        assert_ne!(baseline.route(&probe.input()).layer, Layer::Procedural);
        let decision = adapted.model.route(&probe.input());
        assert_eq!(decision.layer, Layer::Procedural);
        let adapted_router = Router::Model(Arc::new(adapted.model.clone()));
        let why = adapted_router.explain(&probe.input(), &decision);
        assert!(why.summary.contains("zork"), "{}", why.summary);
        assert_eq!(adapted.model.trees(), base.trees(), "the trees are kept");
        assert!(adapted.model.correction().is_some(), "a project correction");
    }

    /// Evidence on `10 + wins + losses` labels: 10 both routers get right, `wins` only the
    /// candidate, `losses` only the baseline.
    fn evidence(wins: usize, losses: usize) -> Evidence {
        let right = (Layer::Semantic, Layer::Semantic, 0.9);
        let wrong = (Layer::Semantic, Layer::Episodic, 0.9);
        let candidate = [(right, 10 + wins), (wrong, losses)];
        let baseline = [(right, 10), (wrong, wins), (right, losses)];
        let outcomes = |runs: &[((Layer, Layer, f64), usize)]| {
            Metrics::compute(runs.iter().flat_map(|&(o, n)| std::iter::repeat_n(o, n)))
        };
        Evidence {
            cross_validated: outcomes(&candidate),
            baseline: outcomes(&baseline),
            baseline_model: ModelLabel::Default,
            folds: 10,
            labels: 10 + wins + losses,
            min_labels: 10,
            min_lead: 2,
            wins,
            losses,
            max_p: 1.0,
        }
    }

    #[test]
    fn the_rule_needs_a_lead_and_optionally_a_sign_test() {
        let clear = evidence(3, 1);
        assert_eq!(clear.cross_validated.correct(), 13);
        assert_eq!(clear.baseline.correct(), 11);
        assert!(clear.better(), "{}", clear.describe());
        assert_eq!(
            clear.verdict(),
            "activated: a lead of 2 over the baseline in labels right (needs 2)"
        );
        // A lead of one label is not enough when the rule asks for two, and is with one.
        let narrow = evidence(2, 1);
        assert!(!narrow.better(), "{}", narrow.describe());
        assert_eq!(
            narrow.verdict(),
            "kept inactive: a lead of 1 over the baseline in labels right, activation needs 2"
        );
        assert!(Evidence {
            min_lead: 1,
            ..narrow
        }
        .better());
        let tie = evidence(2, 2);
        assert!(
            !Evidence { min_lead: 1, ..tie }.better(),
            "a tie never activates"
        );
        // Asking for stronger evidence than the labels give keeps the baseline.
        let strict = Evidence {
            max_p: clear.p_value() / 2.0,
            ..clear.clone()
        };
        assert!(!strict.better(), "{}", strict.describe());
        assert!(
            strict.verdict().contains("by too few to trust"),
            "{}",
            strict.verdict()
        );
        let thin = Evidence {
            min_labels: 15,
            ..clear
        };
        assert!(!thin.better());
        assert!(thin
            .verdict()
            .contains("14 labels, activation needs at least 15"));
    }

    /// The first 24 of `corpus`, each labelled with what `baseline` decides (so it is right on
    /// all of them), beside a model in use that decided `wrong` of them otherwise and the rest
    /// as the baseline does.
    fn decided_in_use(
        corpus: &[Example],
        baseline: &Router,
        wrong: usize,
    ) -> Vec<(Example, Layer)> {
        corpus
            .iter()
            .take(24)
            .enumerate()
            .map(|(i, e)| {
                let right = baseline.route(&e.input()).layer;
                let label = Example {
                    layer: right,
                    ..e.clone()
                };
                let other = Layer::ALL[(right.index() + 1) % 4];
                (label, if i < wrong { other } else { right })
            })
            .collect()
    }

    #[test]
    fn a_model_in_use_is_judged_against_the_baseline_with_the_roles_swapped() {
        let corpus = corpus();
        let baseline = Router::Model(Arc::new(base(&corpus)));
        let decided = |wrong: usize| decided_in_use(&corpus, &baseline, wrong);
        let params = AdaptParams::default();
        let p1v1 = ModelLabel::Project {
            project_id: crate::ProjectId(1),
            version: 1,
        };
        let worse = InUse::compare(&p1v1, &decided(5), &baseline, &params);
        assert_eq!(
            (worse.labels, worse.model_alone, worse.baseline_alone),
            (24, 0, 5)
        );
        assert!(worse.worse(), "{}", worse.describe());
        assert_eq!(
            worse.verdict(),
            "p1-v1 deactivated: default would have routed 5 more of its routes right \
             (deactivation needs 2)"
                .replace("default", &baseline.model_label().to_string())
        );
        assert!(worse
            .describe()
            .starts_with("in use, on the 24 labels of its own routes: p1-v1 alone right on 0"));
        // One label's lead is not enough, as for activation; nor are too few labels.
        let narrow = InUse::compare(&p1v1, &decided(1), &baseline, &params);
        assert!(!narrow.worse());
        assert!(
            narrow
                .verdict()
                .ends_with("1 more of them right, deactivation needs 2"),
            "{}",
            narrow.verdict()
        );
        let few = InUse::compare(&p1v1, &decided(5)[..19], &baseline, &params);
        assert!(!few.worse());
        assert!(
            few.verdict()
                .contains("19 of its routes have labels, deactivation needs at least 20"),
            "{}",
            few.verdict()
        );
        let same = InUse::compare(&p1v1, &decided(0), &baseline, &params);
        assert!(!same.worse(), "a tie keeps the model in use");
        assert!(same
            .verdict()
            .ends_with("would not have routed more of them right"));
    }

    #[test]
    fn a_worse_or_thinly_evidenced_candidate_is_not_better() {
        let corpus = corpus();
        let base = base(&corpus);
        let baseline = Router::Model(Arc::new(base.clone()));
        // Labels the baseline already gets right: nothing to gain, a tie at best.
        let easy: Vec<Example> = corpus.iter().step_by(7).take(12).cloned().collect();
        let enough = AdaptParams {
            min_labels: 10,
            ..AdaptParams::default()
        };
        let adapted = adapt(&base, &corpus, &easy, &baseline, &enough).unwrap();
        assert!(
            !adapted.evidence.better(),
            "{}",
            adapted.evidence.describe()
        );
        // A candidate that is always wrong is never better, however many labels.
        let wrong = base_with_words_reversed(&base, &corpus);
        let evidence = gather_evidence(&easy, &baseline, &AdaptParams::default(), |_| {
            Ok(wrong.clone())
        })
        .unwrap();
        assert!(evidence.cross_validated.correct() < evidence.baseline.correct());
        assert!(!evidence.better());
        // Better, but on fewer labels than the minimum: not enough evidence.
        let labels = project_labels(8);
        let params = AdaptParams::default();
        let adapted = adapt(&base, &corpus, &labels, &baseline, &params).unwrap();
        assert_eq!(adapted.evidence.labels, 8);
        assert!(
            !adapted.evidence.better(),
            "{}",
            adapted.evidence.describe()
        );
    }

    /// The base model with its whole text model refitted on the corpus with every label rotated
    /// to the next layer.
    fn base_with_words_reversed(base: &TreeModel, corpus: &[Example]) -> TreeModel {
        let rotated: Vec<Example> = corpus
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.layer = Layer::ALL[(e.layer.index() + 1) % 4];
                e
            })
            .collect();
        let whole = AdaptParams {
            sparse_refit: false,
            ..AdaptParams::default()
        };
        adapt_text(base, &rotated, &[], &whole).unwrap()
    }

    #[test]
    fn the_sign_test_counts_disagreements_only() {
        assert_eq!(sign_test_p(0, 0), 1.0);
        assert_eq!(sign_test_p(3, 0), 0.125);
        // P(X >= 5) for X ~ Binomial(6, 1/2) = (6 + 1) / 64.
        assert!((sign_test_p(5, 1) - 7.0 / 64.0).abs() < 1e-12);
        assert!((sign_test_p(1, 1) - 0.75).abs() < 1e-12);
        // The same lead is stronger evidence over fewer disagreements.
        assert!(sign_test_p(6, 0) < sign_test_p(16, 10));
        assert_eq!(sign_test_p(0, 4), 1.0);
        // Thousands of disagreements: an even split is no evidence, a clear lead is.
        let even = sign_test_p(1000, 1000);
        assert!(even > 0.5 && even < 0.51, "{even}");
        assert!(sign_test_p(1100, 1000) < 0.02);
    }

    #[test]
    fn bad_settings_and_unadaptable_models_are_named() {
        let corpus = corpus();
        let base = base(&corpus);
        let baseline = Router::Heuristic;
        type Spoil = fn(&mut AdaptParams);
        let bad: [(Spoil, &str); 7] = [
            (|p| p.label_weight = 0.0, "label_weight"),
            (|p| p.folds = 1, "folds"),
            (|p| p.correction_folds = 1, "correction_folds"),
            (|p| p.min_lead = 0, "min_lead"),
            (|p| p.min_labels = 1, "min_labels"),
            (|p| p.epochs = 0, "epochs"),
            (|p| p.max_p = 0.0, "max_p"),
        ];
        for (spoil, field) in bad {
            let mut params = AdaptParams::default();
            spoil(&mut params);
            let err = adapt(&base, &corpus, &project_labels(12), &baseline, &params).unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { field: f, .. } if f == field),
                "{err}"
            );
        }
        let v1 = train(&corpus, FeatureSchema::V1, &TrainParams::default())
            .unwrap()
            .model;
        let err = adapt_text(&v1, &corpus, &[], &AdaptParams::default()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field: "model", .. }),
            "{err}"
        );
        let err = adapt(
            &base,
            &corpus,
            &project_labels(1),
            &baseline,
            &AdaptParams::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::TrainingDeclined { .. }), "{err}");
    }
}
