//! Training: seeded, stratified splits; for schemas with text scores, a naive Bayes text model
//! whose scores for the training rows come from models that did not see them (out-of-fold
//! stacking); linfa-trees decision trees on the features; leaf probabilities counted on rows the
//! tree did not see; figures measured on held-out rows through the real routing path.
//!
//! One tree (`trees = 1`): fitted on the fit rows, calibrated on a separate calibration share.
//! An ensemble (`trees > 1`): each tree is fitted on a seeded bootstrap sample of the fit rows
//! and calibrated on the rows its sample left out ("out of bag"), so every row both trains and
//! calibrates, never for the same tree. Leaf probabilities are
//! `p = (cal_c + m · fit_p_c) / (cal_n + m)`, the calibration counts smoothed towards the leaf's
//! Laplace-smoothed fitting distribution; decisions average the trees' probabilities.
//!
//! Determinism: splits and samples come from our own seeded SplitMix64 generator, and leaf
//! probabilities and tie-breaks are computed here rather than taken from linfa (whose modal
//! class goes through a `HashMap`), so the same examples and seed give a byte-identical model.

use crate::error::{Error, Result};
use crate::features::text::{TextKind, TextLearner, TextModel};
use crate::features::{FeatureSchema, OwnedRouteInput, RouteInput};
use crate::layer::Layer;
use crate::rng::SplitMix64;
use crate::router::fit_tree::{fit_tree, TreePlan};
use crate::router::folds::{assign_folds, per_fold};
use crate::router::metrics::Metrics;
use crate::router::tree::{Tree, TreeModel};

/// One labelled item: what the router sees of it and its correct layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Example {
    /// What the router sees of the item. Its `kind`, when known, is read as such: training
    /// counts an example of unknown kind as a note, and when the training examples hold at
    /// least [`crate::MIN_PER_KIND`] of each kind the text model is kind-aware
    /// ([`TextModel::fit_logistic_kinded`]) and an example of known kind is routed (in
    /// evaluation, calibration) knowing it.
    #[serde(flatten)]
    pub item: OwnedRouteInput,
    /// The correct layer.
    pub layer: Layer,
    /// How much the example counts in training, relative to others (1 unless it was weighted
    /// up, as a project's own labels are when its model adapts the shipped corpus).
    pub weight: f64,
}

impl Example {
    /// An example of what the router sees of an item, labelled `layer`.
    pub fn new(input: &RouteInput<'_>, layer: Layer) -> Self {
        Example {
            item: input.into_owned(),
            layer,
            weight: 1.0,
        }
    }

    /// The same example counting `weight` times as much in training.
    pub fn weighted(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// The same example marked as text of `kind`.
    pub fn of_kind(mut self, kind: TextKind) -> Self {
        self.item.kind = Some(kind);
        self
    }

    /// The same example with the working-memory fields of a note consolidated as soon as it was
    /// added (phonological, activation 1, importance 0.5, age 0), as the agent corpora hold
    /// them. A model trained on such rows only cannot split on the fields, so it routes an item
    /// the same whatever its fields are (`examples/train --fixed-fields`).
    pub fn with_fresh_fields(self) -> Self {
        let kind = self.item.kind;
        Example {
            item: OwnedRouteInput {
                kind,
                ..OwnedRouteInput::new(self.item.content)
            },
            ..self
        }
    }

    /// A note with fresh fields ([`Example::with_fresh_fields`]), as the agent corpora hold
    /// them; for tests.
    #[cfg(test)]
    pub(crate) fn note(content: impl Into<String>, layer: Layer) -> Self {
        Example {
            item: OwnedRouteInput::new(content),
            layer,
            weight: 1.0,
        }
    }

    /// The item as the router sees it.
    pub fn input(&self) -> RouteInput<'_> {
        self.item.as_input()
    }
}

/// Training settings. [`TrainParams::default`] documents each default; the defaults were chosen
/// by 5-fold cross-validation on `real_dev_train.jsonl` (see docs/routing.md).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    /// Seed of every split and sample. Default 42.
    pub seed: u64,
    /// Fewest examples training accepts. Default 10: below that no split is meaningful.
    pub min_samples: usize,
    /// Trees in the ensemble. Default 15; 1 fits a single tree with a calibration split.
    pub trees: usize,
    /// Deepest tree. Default 8.
    pub max_depth: usize,
    /// Fewest rows a node needs to be split. Default 4.
    pub min_samples_split: usize,
    /// Fewest rows in a leaf. Default 3.
    pub min_samples_leaf: usize,
    /// Share of each class used for calibration when `trees` is 1. Default 0.2.
    pub calibration_fraction: f64,
    /// Share of each class held out for evaluation. Default 0.2; 0 when the caller evaluates on
    /// separate examples.
    pub evaluation_fraction: f64,
    /// Weight (in rows) of the fitting distribution when smoothing calibration counts. Default 4.
    pub smoothing: f64,
    /// The text model's learner. Default [`TextLearner::Logistic`].
    pub text_learner: TextLearner,
    /// Smoothing α of the naive Bayes text model. Default 0.5.
    pub text_alpha: f64,
    /// Inverse L2 strength C of the logistic text model. Default 10.
    pub text_c: f64,
    /// Passes over the examples when fitting the logistic text model. Default 5 (grouped
    /// cross-validation: 5 passes scored as well as 10 and 20, in half the time).
    pub text_epochs: usize,
    /// Folds for the out-of-fold text scores of the training rows. Default 5.
    pub text_folds: usize,
    /// Fewest occurrences of a token for the text model to keep it. Default 1 (all): pruning
    /// singletons halves the model but cost 1.4 points of cross-validated accuracy.
    pub text_min_count: u32,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            seed: 42,
            min_samples: 10,
            trees: 15,
            max_depth: 8,
            min_samples_split: 4,
            min_samples_leaf: 3,
            calibration_fraction: 0.2,
            evaluation_fraction: 0.2,
            smoothing: 4.0,
            text_learner: TextLearner::Logistic,
            text_alpha: 0.5,
            text_c: 10.0,
            text_epochs: 5,
            text_folds: 5,
            text_min_count: 1,
        }
    }
}

/// Training settings that passed [`TrainParams::check`]: the only form the fitting code reads
/// (linfa's params → validated params pattern), so no fitting step re-checks a field.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainParams(TrainParams);

impl std::ops::Deref for ValidTrainParams {
    type Target = TrainParams;

    fn deref(&self) -> &TrainParams {
        &self.0
    }
}

/// The deepest tree training accepts.
pub const MAX_DEPTH: usize = 64;

impl TrainParams {
    /// Checks every field against its rule; training calls this first, and
    /// [`ConfigBuilder::build`](crate::ConfigBuilder::build) calls it on the engine's settings.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first field out of range and its rule.
    pub fn check(&self) -> Result<ValidTrainParams> {
        let p = self;
        let whole = |field: &'static str, v: usize, lo: usize, hi: usize| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid(
                    field,
                    format!("must be within {lo}..={hi}, got {v}"),
                ))
            }
        };
        let real = |field: &'static str, v: f64, ok: bool, rule: &str| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(Error::invalid(
                    field,
                    format!("must be a finite number {rule}, got {v}"),
                ))
            }
        };
        whole("min_samples", p.min_samples, 2, usize::MAX)?;
        whole("trees", p.trees, 1, crate::router::tree::MAX_TREES)?;
        whole("max_depth", p.max_depth, 1, MAX_DEPTH)?;
        whole("min_samples_split", p.min_samples_split, 2, usize::MAX)?;
        whole("min_samples_leaf", p.min_samples_leaf, 1, usize::MAX)?;
        whole("text_epochs", p.text_epochs, 1, 1000)?;
        whole("text_folds", p.text_folds, 1, 100)?;
        let fraction = |v: f64| (0.0..1.0).contains(&v);
        real(
            "calibration_fraction",
            p.calibration_fraction,
            fraction(p.calibration_fraction),
            "in [0, 1)",
        )?;
        real(
            "evaluation_fraction",
            p.evaluation_fraction,
            fraction(p.evaluation_fraction),
            "in [0, 1)",
        )?;
        real("smoothing", p.smoothing, p.smoothing >= 0.0, ">= 0")?;
        real("text_alpha", p.text_alpha, p.text_alpha > 0.0, "> 0")?;
        real("text_c", p.text_c, p.text_c > 0.0, "> 0")?;
        Ok(ValidTrainParams(p.clone()))
    }
}

/// A trained model and its figures.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The model (unlabelled until stored or saved).
    pub model: TreeModel,
    /// Figures on the held-out evaluation examples (all zero when there were none).
    pub metrics: Metrics,
    /// Examples given.
    pub train_n: usize,
    /// Examples the trees and text model learned from (all but the evaluation share).
    pub fit_n: usize,
    /// Examples held out for [`TrainedModel::metrics`].
    pub evaluation_n: usize,
    /// Each feature's mean share of the trees' impurity decrease, by name, in schema order.
    pub feature_importance: Vec<(&'static str, f64)>,
    /// Indices (into the examples given) of the held-out evaluation examples, so a rival router
    /// can be scored on exactly the same items.
    pub evaluation_indices: Vec<usize>,
}

/// Splits `indices` per class: a `fraction` share (rounded, leaving every class at least one
/// row in the rest) and the rest, both sorted.
fn stratified_cut(
    indices: &[usize],
    layer_of: impl Fn(usize) -> Layer,
    fraction: f64,
    rng: &mut SplitMix64,
) -> (Vec<usize>, Vec<usize>) {
    let (mut cut, mut rest) = (Vec::new(), Vec::new());
    for layer in Layer::ALL {
        let mut idx: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| layer_of(i) == *layer)
            .collect();
        rng.shuffle(&mut idx);
        let n = ((idx.len() as f64 * fraction).round() as usize).min(idx.len().saturating_sub(1));
        cut.extend_from_slice(&idx[..n]);
        rest.extend_from_slice(&idx[n..]);
    }
    cut.sort_unstable();
    rest.sort_unstable();
    (cut, rest)
}

/// Trains a model of `schema` on `examples`.
///
/// # Errors
/// [`Error::TrainingDeclined`] with fewer than `params.min_samples` examples or fewer than two
/// layers among them; [`Error::InvalidInput`] for an example with a non-finite number, or for a
/// parameter that fails [`TrainParams::check`].
pub fn train(
    examples: &[Example],
    schema: FeatureSchema,
    params: &TrainParams,
) -> Result<TrainedModel> {
    let params = params.check()?;
    check_examples(examples, &params)?;
    fit_ensemble(examples, schema, &params)
}

/// Refuses example sets no model can be fitted on.
fn check_examples(examples: &[Example], params: &ValidTrainParams) -> Result<()> {
    if examples.len() < params.min_samples {
        return Err(Error::TrainingDeclined {
            reason: format!(
                "{} labelled rows, at least {} are needed",
                examples.len(),
                params.min_samples
            ),
        });
    }
    if Layer::ALL
        .iter()
        .filter(|l| examples.iter().any(|e| e.layer == **l))
        .count()
        < 2
    {
        return Err(Error::TrainingDeclined {
            reason: "all labelled rows have the same layer; a router needs at least two".to_owned(),
        });
    }
    if let Some(i) = examples.iter().position(|e| {
        ![
            e.item.activation,
            e.item.importance,
            e.item.age_seconds,
            e.weight,
        ]
        .iter()
        .all(|v| v.is_finite())
            || e.weight <= 0.0
    }) {
        return Err(Error::invalid(
            "examples",
            format!("example {i} holds a non-finite number or a weight <= 0"),
        ));
    }
    Ok(())
}

/// Fits the text model, the trees and their calibration on checked examples and parameters.
fn fit_ensemble(
    examples: &[Example],
    schema: FeatureSchema,
    params: &ValidTrainParams,
) -> Result<TrainedModel> {
    let mut rng = SplitMix64(params.seed);
    let all: Vec<usize> = (0..examples.len()).collect();
    let (eval, fit) = stratified_cut(
        &all,
        |i| examples[i].layer,
        params.evaluation_fraction,
        &mut rng,
    );

    let text = if schema.has_text_scores() {
        Some(fit_text(examples, fit.iter().copied(), params)?)
    } else {
        None
    };
    let features = fit_features(examples, &fit, schema, params, text.as_ref(), &mut rng)?;
    let layers: Vec<Layer> = fit.iter().map(|&i| examples[i].layer).collect();
    let weights: Vec<f64> = fit.iter().map(|&i| examples[i].weight).collect();

    let (trees, importance) = fit_trees(&features, &layers, &weights, schema, params, &mut rng)?;
    let model = TreeModel::new(schema, trees, text, "")?;
    let metrics = evaluate(&model, eval.iter().map(|&i| &examples[i]));
    Ok(TrainedModel {
        model,
        metrics,
        train_n: examples.len(),
        fit_n: fit.len(),
        evaluation_n: eval.len(),
        feature_importance: schema.names().iter().copied().zip(importance).collect(),
        evaluation_indices: eval,
    })
}

/// The ensemble's trees and their mean feature importance: one tree with a calibration split
/// when `params.trees` is 1, else bagged trees calibrated on their out-of-bag rows, fitted on
/// as many threads as the machine has cores.
fn fit_trees(
    features: &[Vec<f64>],
    layers: &[Layer],
    weights: &[f64],
    schema: FeatureSchema,
    params: &ValidTrainParams,
    rng: &mut SplitMix64,
) -> Result<(Vec<Tree>, Vec<f64>)> {
    let n = features.len();
    let plans: Vec<TreePlan> = if params.trees == 1 {
        let positions: Vec<usize> = (0..n).collect();
        let (cal, own) =
            stratified_cut(&positions, |p| layers[p], params.calibration_fraction, rng);
        vec![TreePlan::new(own, cal, weights, rng)]
    } else {
        (0..params.trees)
            .map(|_| {
                let mut in_bag = vec![false; n];
                let sample: Vec<usize> = (0..n)
                    .map(|_| {
                        let p = rng.below(n);
                        in_bag[p] = true;
                        p
                    })
                    .collect();
                let out_of_bag: Vec<usize> = (0..n).filter(|&p| !in_bag[p]).collect();
                TreePlan::new(sample, out_of_bag, weights, rng)
            })
            .collect()
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let fitted: Vec<Result<(Tree, Vec<f64>)>> = std::thread::scope(|scope| {
        let chunks: Vec<_> = plans
            .chunks(plans.len().div_ceil(workers))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|plan| fit_tree(features, layers, plan, schema, params))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks
            .into_iter()
            .flat_map(|c| c.join().expect("fitting a tree does not panic"))
            .collect()
    });
    let mut trees = Vec::with_capacity(plans.len());
    let mut importance = vec![0.0; schema.len()];
    for result in fitted {
        let (tree, imp) = result?;
        trees.push(tree);
        for (total, v) in importance.iter_mut().zip(imp) {
            *total += v / plans.len() as f64;
        }
    }
    Ok((trees, importance))
}

/// Feature vectors of the fit examples. Text scores come from text models fitted on the other
/// folds, so the trees learn how far to trust scores of text the text model has not seen.
fn fit_features(
    examples: &[Example],
    fit: &[usize],
    schema: FeatureSchema,
    params: &ValidTrainParams,
    text: Option<&TextModel>,
    rng: &mut SplitMix64,
) -> Result<Vec<Vec<f64>>> {
    let mut features: Vec<Vec<f64>> = fit
        .iter()
        .map(|&i| schema.extract_with(&examples[i].input(), text))
        .collect();
    let smallest_class = Layer::ALL
        .iter()
        .map(|l| fit.iter().filter(|&&i| examples[i].layer == *l).count())
        .filter(|&n| n > 0)
        .min()
        .unwrap_or(0);
    let folds = params.text_folds.min(smallest_class);
    if text.is_none() || folds < 2 {
        return Ok(features);
    }
    let fold_of = assign_folds(examples, fit, folds, rng);
    // The folds' text models are independent (each is seeded by `params.seed`, not by the
    // order they run in), so they are fitted on threads of their own: the same scores, sooner.
    // Held-out scores read the text without its kind: trees that learn on the kind-aware
    // model's own guesses route well whether or not a caller gives the kind (a known kind only
    // sharpens the scores; measured in docs/routing.md, "A kind-aware text model").
    let held_out = |fold: usize| -> Result<Vec<HeldOut>> {
        let rest = (0..fit.len())
            .filter(|&p| fold_of[p] != fold)
            .map(|p| fit[p]);
        let model = fit_text(examples, rest, params)?;
        Ok((0..fit.len())
            .filter(|&p| fold_of[p] == fold)
            .map(|p| (p, model.scores(&examples[fit[p]].item.content, None)))
            .collect())
    };
    let scored = per_fold(folds, held_out)?;
    let base = schema.len() - 4;
    for fold in scored {
        for (p, scores) in fold {
            features[p][base..].copy_from_slice(&scores);
        }
    }
    Ok(features)
}

/// A fit position and the text scores a model fitted without its fold gave it.
type HeldOut = (usize, [f64; 4]);

/// Fits the text model of `params` on the examples at `rows`.
fn fit_text(
    examples: &[Example],
    rows: impl Iterator<Item = usize>,
    params: &ValidTrainParams,
) -> Result<TextModel> {
    let rows = rows.map(|i| &examples[i]);
    match params.text_learner {
        TextLearner::NaiveBayes => TextModel::fit(
            rows.map(|e| (e.item.content.as_str(), e.layer)),
            params.text_alpha,
            params.text_min_count,
        ),
        TextLearner::Logistic => TextModel::fit_logistic_kinded(
            rows.map(|e| {
                (
                    e.item.content.as_str(),
                    e.layer,
                    e.weight,
                    e.item.kind.unwrap_or_default(),
                )
            }),
            params.text_c,
            params.text_epochs,
            params.seed,
        ),
    }
}

/// Figures of `model` on labelled examples, through the full routing path.
pub fn evaluate<'a>(model: &TreeModel, examples: impl IntoIterator<Item = &'a Example>) -> Metrics {
    Metrics::compute(examples.into_iter().map(|e| {
        let d = model.route(&e.input());
        (e.layer, d.layer, d.confidence)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Component;
    use crate::features::V2_BASE_LEN;
    use crate::router::fit_tree::canonical_split;

    /// Separable examples: questions are prospective, statements semantic.
    fn examples(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| {
                let note = if i % 2 == 1 {
                    Example::note(format!("should we cache item {i}?"), Layer::Prospective)
                } else {
                    Example::note(format!("The cache holds item {i}"), Layer::Semantic)
                };
                let mut note = note;
                note.item.age_seconds = i as f64;
                note
            })
            .collect()
    }

    fn single_tree() -> TrainParams {
        TrainParams {
            trees: 1,
            ..TrainParams::default()
        }
    }

    #[test]
    fn one_v1_tree_learns_a_separable_rule_with_calibrated_confidence() {
        let trained = train(&examples(100), FeatureSchema::V1, &single_tree()).unwrap();
        assert_eq!(trained.metrics.accuracy, 1.0);
        assert_eq!((trained.fit_n, trained.evaluation_n), (80, 20));
        let d = trained.model.route(&examples(2)[1].input());
        assert_eq!(d.layer, Layer::Prospective);
        // 16 calibration rows in the leaf, all prospective, smoothed with m = 4 towards the fit
        // leaf's Laplace distribution (32 rows, all prospective: 33/36).
        let expected = (8.0 + 4.0 * 33.0 / 36.0) / 12.0;
        assert!(
            (d.confidence - expected).abs() < 1e-12,
            "{} vs {expected}",
            d.confidence
        );
        // "should" (a future marker) and "?" split these rows identically: the canonical split
        // is the lower-index feature.
        assert_eq!(d.path[0].feature, "has_future_marker");
    }

    #[test]
    fn a_v2_ensemble_uses_its_text_model() {
        let trained = train(&examples(200), FeatureSchema::V2, &TrainParams::default()).unwrap();
        assert_eq!(trained.metrics.accuracy, 1.0);
        assert_eq!(trained.model.trees().len(), 15);
        assert!(trained.model.text_model().is_some());
        let f = trained.model.features(&examples(2)[1].input());
        assert_eq!(f.len(), 22);
        assert_eq!(
            f[V2_BASE_LEN + Layer::Prospective.index()],
            0.0,
            "the text model ranks prospective first"
        );
        assert!(f[V2_BASE_LEN + Layer::Semantic.index()] < 0.0);
        assert!(!trained.model.text_model().unwrap().is_kind_aware());

        // Examples of both kinds make the text model kind-aware.
        let mixed: Vec<Example> = examples(200)
            .into_iter()
            .enumerate()
            .map(|(i, e)| match i % 4 < 2 {
                true => e.of_kind(TextKind::CodeComment),
                false => e,
            })
            .collect();
        let trained = train(&mixed, FeatureSchema::V2, &TrainParams::default()).unwrap();
        assert!(trained.model.text_model().unwrap().is_kind_aware());
    }

    /// What `examples/train --fixed-fields` rests on: a model trained with the same fields on
    /// every row cannot split on them, so an item routes the same whatever its fields are; one
    /// trained where the fields carry the label routes by them.
    #[test]
    fn fields_constant_in_training_do_not_move_a_decision() {
        // The text says nothing (same words for both layers); old items were prospective.
        let note = |i: usize, age_seconds: f64| {
            let layer = if i % 2 == 1 {
                Layer::Prospective
            } else {
                Layer::Semantic
            };
            let mut note = Example::note(format!("note {} about the cache", i % 7), layer);
            note.item.age_seconds = age_seconds;
            note
        };
        // Old items were prospective; `with_fresh_fields` wipes that out of the training rows.
        let data = |informative: bool| -> Vec<Example> {
            (0..200)
                .map(|i| note(i, if i % 2 == 1 { 900.0 } else { 0.0 }))
                .map(|e| {
                    if informative {
                        e
                    } else {
                        e.with_fresh_fields()
                    }
                })
                .collect()
        };
        let probe = |model: &TreeModel, age: f64, component: Component| {
            let e = note(0, age);
            let input = e.input().component(component).activation(0.3);
            model.route(&input).probabilities
        };
        let blind = train(&data(false), FeatureSchema::V2, &TrainParams::default()).unwrap();
        let fresh = probe(&blind.model, 0.0, Component::Phonological);
        assert_eq!(fresh, probe(&blind.model, 900.0, Component::Visuospatial));
        let taught = train(&data(true), FeatureSchema::V2, &TrainParams::default()).unwrap();
        let (young, old) = (
            probe(&taught.model, 0.0, Component::Phonological),
            probe(&taught.model, 900.0, Component::Phonological),
        );
        let p = Layer::Prospective.index();
        assert!(old[p] > 0.9 && young[p] < 0.1, "{young:?} {old:?}");
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_split() {
        let data = examples(200);
        for schema in [FeatureSchema::V1, FeatureSchema::V2] {
            let a = train(&data, schema, &TrainParams::default()).unwrap();
            let b = train(&data, schema, &TrainParams::default()).unwrap();
            assert_eq!(a.model.to_json(), b.model.to_json());
            let c = train(
                &data,
                schema,
                &TrainParams {
                    seed: 7,
                    ..TrainParams::default()
                },
            )
            .unwrap();
            assert_ne!(a.evaluation_indices, c.evaluation_indices);
        }
    }

    /// Noisy text where many splits tie: words drawn from a small shared vocabulary, labels
    /// only loosely tied to them, many duplicate rows in every bootstrap sample.
    fn noisy_examples(n: usize) -> Vec<Example> {
        const WORDS: [&str; 12] = [
            "add", "fix", "returns", "the", "to", "run", "we", "should", "value", "cache", "todo",
            "build",
        ];
        let mut rng = SplitMix64(99);
        (0..n)
            .map(|i| {
                let len = 2 + rng.below(5);
                let content = (0..len)
                    .map(|_| WORDS[rng.below(WORDS.len())])
                    .collect::<Vec<_>>()
                    .join(" ");
                let layer = Layer::ALL[(content.len() + rng.below(2)) % 4];
                let input = RouteInput::new(&content)
                    .component(Component::ALL[i % 4])
                    .activation(0.5)
                    .importance((i % 3) as f64 / 2.0)
                    .age_seconds(1.0);
                Example::new(&input, layer)
            })
            .collect()
    }

    #[test]
    fn equivalent_splits_never_make_training_nondeterministic() {
        // linfa sums class weights in HashMap order, different for every map, so without
        // canonicalisation equivalent splits come out differently from one fit to the next.
        let data = noisy_examples(400);
        let reference = train(&data, FeatureSchema::V2, &TrainParams::default())
            .unwrap()
            .model
            .to_json();
        for _ in 0..10 {
            assert_eq!(
                train(&data, FeatureSchema::V2, &TrainParams::default())
                    .unwrap()
                    .model
                    .to_json(),
                reference
            );
        }
    }

    /// The canonical split is the separating feature with the widest gap relative to its span,
    /// not the lowest-index one: a length that parts the rows by one character in five loses to
    /// a score that parts them by 3.5 in 5.
    #[test]
    fn the_canonical_split_keeps_the_widest_relative_gap() {
        // Columns: length, a flag that does not separate, a score.
        let features = vec![
            vec![40.0, 1.0, -5.0],
            vec![41.0, 0.0, -4.0],
            vec![42.0, 1.0, 0.0],
            vec![45.0, 0.0, -0.5],
        ];
        let (low, high) = (vec![0, 1], vec![2, 3]);
        let pick = |feature, (left, l): (usize, &Vec<usize>), (right, r): (usize, &Vec<usize>)| {
            let (g, t, first, first_rows, second, _) = canonical_split(
                &features,
                (feature, 41.5),
                (left, l.clone()),
                (right, r.clone()),
            );
            (g, t, first, first_rows, second)
        };
        // linfa chose the length; the score separates the same rows with a wider margin.
        assert_eq!(
            pick(0, (1, &low), (2, &high)),
            (2, -2.25, 1, low.clone(), 2)
        );
        // The side with the lower values goes first whichever side linfa put them on.
        assert_eq!(
            pick(0, (2, &high), (1, &low)),
            (2, -2.25, 1, low.clone(), 2)
        );
        // Equal relative gaps: the lower index.
        let twins = vec![vec![0.0, 10.0], vec![1.0, 20.0]];
        let (g, t, ..) = canonical_split(&twins, (1, 15.0), (1, vec![0]), (2, vec![1]));
        assert_eq!((g, t), (0, 0.5));
        // A side with no rows leaves linfa's split as it is.
        let kept = canonical_split(&features, (0, 41.5), (1, low.clone()), (2, Vec::new()));
        assert_eq!((kept.0, kept.1, kept.2), (0, 41.5, 1));
    }

    #[test]
    fn declines_too_little_or_one_sided_data() {
        let err = train(&examples(9), FeatureSchema::V2, &TrainParams::default()).unwrap_err();
        assert!(
            err.to_string().contains("9 labelled rows, at least 10"),
            "{err}"
        );
        let one_sided: Vec<_> = examples(40)
            .into_iter()
            .filter(|r| r.layer == Layer::Semantic)
            .collect();
        let err = train(&one_sided, FeatureSchema::V2, &TrainParams::default()).unwrap_err();
        assert!(matches!(err, Error::TrainingDeclined { .. }), "{err}");
        let mut bad = examples(20);
        bad[3].item.importance = f64::NAN;
        let err = train(&bad, FeatureSchema::V2, &TrainParams::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "examples",
                    ..
                }
            ),
            "{err}"
        );
        let err = train(
            &examples(20),
            FeatureSchema::V2,
            &TrainParams {
                trees: 0,
                ..TrainParams::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field: "trees", .. }),
            "{err}"
        );
    }

    #[test]
    fn every_parameter_is_checked_before_training_and_named_when_wrong() {
        let with = |change: fn(&mut TrainParams)| {
            let mut p = TrainParams::default();
            change(&mut p);
            p
        };
        let cases: [(TrainParams, &str); 12] = [
            (with(|p| p.min_samples = 1), "min_samples"),
            (with(|p| p.trees = 0), "trees"),
            (with(|p| p.max_depth = 0), "max_depth"),
            (with(|p| p.min_samples_split = 1), "min_samples_split"),
            (with(|p| p.min_samples_leaf = 0), "min_samples_leaf"),
            (with(|p| p.text_epochs = 0), "text_epochs"),
            (with(|p| p.text_folds = 0), "text_folds"),
            (
                with(|p| p.calibration_fraction = 1.0),
                "calibration_fraction",
            ),
            (
                with(|p| p.evaluation_fraction = -0.1),
                "evaluation_fraction",
            ),
            (with(|p| p.smoothing = f64::NAN), "smoothing"),
            (with(|p| p.text_alpha = 0.0), "text_alpha"),
            (with(|p| p.text_c = f64::INFINITY), "text_c"),
        ];
        for (params, field) in cases {
            let err = params.check().unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field: f, .. } if *f == field),
                "{field}: {err}"
            );
            // Training refuses them too, before any fitting.
            let err = train(&examples(40), FeatureSchema::V2, &params).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        assert_eq!(
            *TrainParams::default().check().unwrap(),
            TrainParams::default()
        );
    }
}
