//! Fitting one decision tree with linfa-trees, settling equivalent splits by the widest
//! relative gap, and flattening it with calibrated leaf probabilities.

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality};
use ndarray::{Array1, Array2};

use crate::error::{Error, Result};
use crate::features::FeatureSchema;
use crate::layer::Layer;
use crate::rng::SplitMix64;
use crate::router::train::ValidTrainParams;
use crate::router::tree::{Node, Tree};

/// Fits one tree on the rows at `own` (repeats allowed) and calibrates it on the rows at `cal`.
///
/// Every fitted row carries a seeded random weight in 0.75..1.25. linfa sums class weights in
/// `HashMap` order, so two splits of exactly equal quality could be told apart by rounding noise
/// that differs from run to run; distinct weights make exact ties between different partitions
/// practically impossible, and [`canonicalise`] settles the remaining ones (different features
/// that cut the rows the same way) in favour of the widest margin.
#[allow(clippy::too_many_arguments)]
pub(super) fn fit_tree(
    features: &[Vec<f64>],
    layers: &[Layer],
    plan: &TreePlan,
    schema: FeatureSchema,
    params: &ValidTrainParams,
) -> Result<(Tree, Vec<f64>)> {
    let (own, cal) = (&plan.own, &plan.cal);
    let width = schema.len();
    let mut x = Array2::<f64>::zeros((own.len(), width));
    for (r, &p) in own.iter().enumerate() {
        for (c, v) in features[p].iter().enumerate() {
            x[[r, c]] = *v;
        }
    }
    let y: Array1<usize> = own.iter().map(|&p| layers[p].index()).collect();
    let weights: Array1<f32> = plan.weights.iter().copied().collect();
    let names: Vec<String> = schema.names().iter().map(|s| s.to_string()).collect();
    let dataset = Dataset::new(x, y)
        .with_feature_names(names)
        .with_weights(weights);
    let tree = DecisionTree::params()
        .split_quality(SplitQuality::Gini)
        .max_depth(Some(params.max_depth))
        .min_weight_split(params.min_samples_split as f32)
        .min_weight_leaf(params.min_samples_leaf as f32)
        .fit(&dataset)
        .map_err(|e| Error::TrainingDeclined {
            reason: format!("the decision tree could not be fitted: {e}"),
        })?;
    let mut flat = flatten(tree.root_node());
    canonicalise(&mut flat, features, own);
    set_leaf_probabilities(&mut flat, features, layers, own, cal, params.smoothing);
    Ok((flat, tree.feature_importance()))
}

/// Rewrites the tree in a canonical form: each split becomes the feature that cuts the node's
/// fitted rows into the same two groups (in either orientation) with the widest gap relative to
/// its span there ([`canonical_split`]; the group with the lower values goes left, the threshold
/// is the midpoint of the gap, as linfa places it), and
/// nodes are renumbered depth-first, left before right. Equivalent splits that linfa may pick
/// differently from run to run (its sums run in `HashMap` order) so always come out the same.
pub(super) fn canonicalise(tree: &mut Tree, features: &[Vec<f64>], own: &[usize]) {
    fn visit(
        old: &[Node],
        at: usize,
        rows: Vec<usize>,
        features: &[Vec<f64>],
        out: &mut Vec<Node>,
    ) -> usize {
        let index = out.len();
        out.push(old[at].clone());
        let Node::Split {
            feature,
            threshold,
            left,
            right,
        } = old[at]
        else {
            return index;
        };
        let (l, r): (Vec<usize>, Vec<usize>) = rows
            .iter()
            .partition(|&&p| features[p][feature] <= threshold);
        let chosen = canonical_split(features, (feature, threshold), (left, l), (right, r));
        let (g, t, first, first_rows, second, second_rows) = chosen;
        let new_left = visit(old, first, first_rows, features, out);
        let new_right = visit(old, second, second_rows, features, out);
        out[index] = Node::Split {
            feature: g,
            threshold: t,
            left: new_left,
            right: new_right,
        };
        index
    }
    let mut nodes = Vec::with_capacity(tree.nodes.len());
    visit(&tree.nodes, 0, own.to_vec(), features, &mut nodes);
    tree.nodes = nodes;
}

/// A split's rows as `(child, rows)` per side.
pub(super) type Side = (usize, Vec<usize>);

/// Of the features that separate the two sides' rows, the one whose gap between the sides is
/// widest relative to the span of the node's values on it (ties to the lower index), with the
/// midpoint of the gap as threshold and the side with the lower values first. `feature` itself
/// always separates them (the sides are its partition); the given split stays when a side is
/// empty. Returns `(feature, threshold, first child, its rows, second child, its rows)`.
///
/// The relative gap is a margin that does not depend on a feature's units: a text score that
/// parts the rows by half its span is kept over a length that parts them by one character in
/// forty. The lowest separating index was the rule before; on small, cleanly separable label sets
/// it chose the note's length over the text scores, and such trees routed unseen notes worse.
pub(super) fn canonical_split(
    features: &[Vec<f64>],
    (feature, threshold): (usize, f64),
    (left, l): Side,
    (right, r): Side,
) -> (usize, f64, usize, Vec<usize>, usize, Vec<usize>) {
    let range = |side: &[usize], g: usize| {
        side.iter()
            .map(|&p| features[p][g])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    if l.is_empty() || r.is_empty() {
        return (feature, threshold, left, l, right, r);
    }
    // (relative gap, feature, threshold, whether the left side holds the lower values)
    let mut best: Option<(f64, usize, f64, bool)> = None;
    let width = features[l[0]].len();
    for g in 0..width {
        let ((l_lo, l_hi), (r_lo, r_hi)) = (range(&l, g), range(&r, g));
        let found = if l_hi < r_lo {
            ((r_lo - l_hi) / (r_hi - l_lo), (l_hi + r_lo) / 2.0, true)
        } else if r_hi < l_lo {
            ((l_lo - r_hi) / (l_hi - r_lo), (r_hi + l_lo) / 2.0, false)
        } else {
            continue;
        };
        if best.is_none_or(|(gap, ..)| found.0 > gap) {
            best = Some((found.0, g, found.1, found.2));
        }
    }
    match best {
        Some((_, g, t, true)) => (g, t, left, l, right, r),
        Some((_, g, t, false)) => (g, t, right, r, left, l),
        None => (feature, threshold, left, l, right, r),
    }
}

/// Copies linfa's tree into our flat form; leaves get placeholder probabilities.
pub(super) fn flatten(root: &linfa_trees::TreeNode<f64, usize>) -> Tree {
    fn visit(node: &linfa_trees::TreeNode<f64, usize>, nodes: &mut Vec<Node>) -> usize {
        let index = nodes.len();
        let children = node.children();
        match (node.is_leaf(), children[0], children[1]) {
            (false, Some(left), Some(right)) => {
                let (feature, threshold, _) = node.split();
                nodes.push(Node::Leaf {
                    probabilities: [0.25; 4],
                });
                let left = visit(left, nodes);
                let right = visit(right, nodes);
                nodes[index] = Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                };
            }
            _ => nodes.push(Node::Leaf {
                probabilities: [0.25; 4],
            }),
        }
        index
    }
    let mut nodes = Vec::new();
    visit(root, &mut nodes);
    Tree { nodes }
}

/// Calibrated leaf probabilities: calibration counts smoothed towards the leaf's Laplace-smoothed
/// fit distribution, `p = (cal_c + m * fit_p_c) / (cal_n + m)`.
pub(super) fn set_leaf_probabilities(
    tree: &mut Tree,
    features: &[Vec<f64>],
    layers: &[Layer],
    own: &[usize],
    cal: &[usize],
    m: f64,
) {
    let count = |positions: &[usize]| {
        let mut counts = vec![[0.0f64; 4]; tree.nodes.len()];
        for &p in positions {
            counts[tree.leaf_of(&features[p])][layers[p].index()] += 1.0;
        }
        counts
    };
    let (fit_counts, cal_counts) = (count(own), count(cal));
    for (i, node) in tree.nodes.iter_mut().enumerate() {
        if let Node::Leaf { probabilities } = node {
            let fit_n: f64 = fit_counts[i].iter().sum();
            let cal_n: f64 = cal_counts[i].iter().sum();
            for c in 0..4 {
                let prior = (fit_counts[i][c] + 1.0) / (fit_n + 4.0);
                probabilities[c] = (cal_counts[i][c] + m * prior) / (cal_n + m);
            }
        }
    }
}

/// What one tree is fitted on: its rows, its calibration rows, and its rows' jittered weights.
/// Every random draw of a tree is made while planning, in a fixed order, so the trees can then
/// be fitted in parallel and still come out the same as one after another.
pub(super) struct TreePlan {
    pub(super) own: Vec<usize>,
    pub(super) cal: Vec<usize>,
    pub(super) weights: Vec<f32>,
}

impl TreePlan {
    pub(super) fn new(
        own: Vec<usize>,
        cal: Vec<usize>,
        weights: &[f64],
        rng: &mut SplitMix64,
    ) -> Self {
        let weights = own
            .iter()
            .map(|&p| {
                (0.75 + 0.5 * (rng.next() >> 40) as f32 / (1u64 << 24) as f32) * weights[p] as f32
            })
            .collect();
        TreePlan { own, cal, weights }
    }
}
