//! Routing: deciding which long-term layer an item belongs in. Pure: no I/O, no database.
//!
//! - [`HeuristicRouter`]: the original's keyword rules, the fallback.
//! - [`adapt()`]: a project's router, adapted from the shipped one with the project's labels.
//! - [`TreeModel`]: the learned model, linfa-trees decision trees flattened into a compact,
//!   validated, serialisable form with calibrated leaf probabilities; a project's adapted
//!   model is stored as a delta on its base ([`TreeModel::to_delta_json`]).
//! - [`TextModel`](crate::TextModel): the text sub-model (logistic regression or naive Bayes)
//!   whose scores feed schema `v2`.
//! - [`Explanation`]: explanations in words.
//! - [`train()`]: seeded stratified splitting, fitting, calibration and evaluation.
//! - [`Metrics`]: accuracy, macro-F1, per-layer figures, confusion matrix.

mod adapt;
mod delta;
mod evidence;
mod explain;
mod fit_tree;
mod folds;
mod heuristic;
mod label;
mod metrics;
mod train;
mod tree;

use std::sync::Arc;

use crate::features::{FeatureSchema, RouteInput};
use crate::layer::Layer;

pub use adapt::{adapt, adapt_model, adapt_text, AdaptParams, Adapted};
pub use delta::{DELTA_FORMAT, DELTA_FORMAT_VERSION};
pub use evidence::{gather_evidence, Evidence, InUse};
pub use explain::{Cue, CueKind, Explanation, Reading};
pub use heuristic::{HeuristicRouter, HEURISTIC_CONFIDENCE};
pub use label::ModelLabel;
pub use metrics::{LayerMetrics, Metrics};
pub use train::{evaluate, train, Example, TrainParams, TrainedModel, ValidTrainParams};
pub use tree::{
    Node, Tree, TreeModel, MAX_DEPTH as MAX_TREE_DEPTH, MAX_TREES, MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
};

/// Which way a decision went at one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// `value <= threshold`.
    Left,
    /// `value > threshold`.
    Right,
}

/// One node on the way from the root to the deciding leaf.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PathStep {
    /// The feature tested.
    pub feature: &'static str,
    /// Its threshold.
    pub threshold: f64,
    /// The item's value of it.
    pub value: f64,
    /// Which way the item went.
    pub direction: Direction,
}

/// Where an item should go, how sure the router is, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RouteDecision {
    /// The chosen layer: the most probable one.
    pub layer: Layer,
    /// The calibrated probability that `layer` is right.
    pub confidence: f64,
    /// The probability of each layer, in [`Layer::ALL`] order; sums to 1.
    pub probabilities: [f64; 4],
    /// The second most probable layer.
    pub runner_up: Layer,
    /// The decision path through the tree (empty for the heuristic).
    pub path: Vec<PathStep>,
    /// The model that decided.
    pub model: ModelLabel,
    /// The feature schema the decision was made on.
    pub feature_schema: FeatureSchema,
    /// The feature vector the decision was made on, in the schema's order (logged with routes).
    pub features: Vec<f64>,
}

impl RouteDecision {
    /// Builds a decision from class probabilities. Ties go to the lower class index, so the
    /// choice never depends on iteration order.
    pub(crate) fn from_probabilities(
        probabilities: [f64; 4],
        path: Vec<PathStep>,
        model: ModelLabel,
        feature_schema: FeatureSchema,
        features: Vec<f64>,
    ) -> Self {
        let (best, runner_up) = top_two(&probabilities);
        RouteDecision {
            layer: Layer::ALL[best],
            confidence: probabilities[best],
            probabilities,
            runner_up: Layer::ALL[runner_up],
            path,
            model,
            feature_schema,
            features,
        }
    }

    /// A decision forced by the caller: confidence 1 for `layer`, logged with `features`.
    pub fn overridden(layer: Layer, feature_schema: FeatureSchema, features: Vec<f64>) -> Self {
        let mut probabilities = [0.0; 4];
        probabilities[layer.index()] = 1.0;
        Self::from_probabilities(
            probabilities,
            Vec::new(),
            ModelLabel::Override,
            feature_schema,
            features,
        )
    }
}

/// Indices of the largest and second-largest values; ties go to the lower index.
fn top_two(p: &[f64; 4]) -> (usize, usize) {
    let (mut best, mut second) = (0, 1);
    if p[1].total_cmp(&p[0]).is_gt() {
        (best, second) = (1, 0);
    }
    for i in 2..4 {
        if p[i].total_cmp(&p[best]).is_gt() {
            (best, second) = (i, best);
        } else if p[i].total_cmp(&p[second]).is_gt() {
            second = i;
        }
    }
    (best, second)
}

/// A router: the heuristic or a trained model.
#[derive(Debug, Clone)]
pub enum Router {
    /// The keyword rules.
    Heuristic,
    /// A trained tree model.
    Model(Arc<TreeModel>),
}

impl Router {
    /// Routes one item.
    pub fn route(&self, input: &RouteInput<'_>) -> RouteDecision {
        match self {
            Router::Heuristic => HeuristicRouter.route(input),
            Router::Model(model) => model.route(input),
        }
    }

    /// The feature vector this router decides on for `input`.
    pub fn features(&self, input: &RouteInput<'_>) -> Vec<f64> {
        match self {
            Router::Heuristic => FeatureSchema::V1.extract(input),
            Router::Model(model) => model.features(input),
        }
    }

    /// The feature schema decisions are made on.
    pub fn feature_schema(&self) -> FeatureSchema {
        match self {
            Router::Heuristic => FeatureSchema::V1,
            Router::Model(model) => model.feature_schema(),
        }
    }

    /// Why `decision` (this router's decision about `input`) went the way it did, in words.
    pub fn explain(&self, input: &RouteInput<'_>, decision: &RouteDecision) -> Explanation {
        if decision.model == ModelLabel::Override {
            return Explanation::plain(decision, "set by the caller");
        }
        match self {
            Router::Heuristic => Explanation::plain(
                decision,
                "the keyword rules chose it (no trained model routes this project)",
            ),
            Router::Model(model) => match model.text_model() {
                Some(text) => {
                    let models: Vec<&crate::TextModel> =
                        std::iter::once(text).chain(model.correction()).collect();
                    Explanation::from_text_models(&models, input, decision)
                }
                None => Explanation::plain(decision, "the decision trees chose it; see the path"),
            },
        }
    }

    /// The label its decisions carry.
    pub fn model_label(&self) -> ModelLabel {
        match self {
            Router::Heuristic => ModelLabel::Heuristic,
            Router::Model(model) => model.label().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::top_two;

    #[test]
    fn ties_go_to_the_lower_index() {
        assert_eq!(top_two(&[0.25; 4]), (0, 1));
        assert_eq!(top_two(&[0.1, 0.4, 0.4, 0.1]), (1, 2));
        assert_eq!(top_two(&[0.1, 0.2, 0.3, 0.4]), (3, 2));
    }
}
