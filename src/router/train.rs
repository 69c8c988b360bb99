//! Training: a seeded, stratified split into fit / calibration / evaluation rows, a linfa-trees
//! decision tree fitted on the first, leaf probabilities counted on the second, figures measured
//! on the third.
//!
//! Determinism: the split uses our own seeded SplitMix64 generator, rows keep their input order
//! within each class, and leaf probabilities and tie-breaks are computed here rather than taken
//! from linfa (whose modal class goes through a `HashMap`), so the same rows and seed give a
//! byte-identical model.

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality};
use ndarray::{Array1, Array2};

use crate::error::{Error, Result};
use crate::features::FeatureSchema;
use crate::layer::Layer;
use crate::router::metrics::Metrics;
use crate::router::tree::{Node, Tree, TreeModel};

/// One labelled example: a feature vector of the schema being trained and its correct layer.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRow {
    /// Features, in the schema's order.
    pub features: Vec<f64>,
    /// The correct layer.
    pub layer: Layer,
}

/// Training settings. [`TrainParams::default`] documents each default.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    /// Seed of the split. Default 42.
    pub seed: u64,
    /// Fewest rows training accepts. Default 10: below that no split is meaningful.
    pub min_samples: usize,
    /// Deepest tree. Default 8.
    pub max_depth: usize,
    /// Fewest rows a node needs to be split. Default 4.
    pub min_samples_split: usize,
    /// Fewest rows in a leaf. Default 2.
    pub min_samples_leaf: usize,
    /// Share of each class used for calibration. Default 0.2.
    pub calibration_fraction: f64,
    /// Share of each class held out for evaluation. Default 0.2; 0 when the caller evaluates on
    /// separate rows (then fit and calibration share everything).
    pub evaluation_fraction: f64,
    /// Weight (in rows) of the fit-set leaf distribution when smoothing calibration counts.
    /// Default 4: a leaf with few calibration rows leans on what it saw while fitting.
    pub smoothing: f64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            seed: 42,
            min_samples: 10,
            max_depth: 8,
            min_samples_split: 4,
            min_samples_leaf: 2,
            calibration_fraction: 0.2,
            evaluation_fraction: 0.2,
            smoothing: 4.0,
        }
    }
}

/// A trained model and its figures.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The model (unlabelled until stored or saved).
    pub model: TreeModel,
    /// Figures on the held-out evaluation rows (empty figures when there were none).
    pub metrics: Metrics,
    /// Rows given.
    pub train_n: usize,
    /// Rows the tree was fitted on.
    pub fit_n: usize,
    /// Rows the leaf probabilities were counted on.
    pub calibration_n: usize,
    /// Rows held out for [`TrainedModel::metrics`].
    pub evaluation_n: usize,
    /// Each feature's share of the total impurity decrease, by name, in schema order.
    pub feature_importance: Vec<(&'static str, f64)>,
    /// Indices (into the rows given) of the held-out evaluation rows, so a rival router can be
    /// scored on exactly the same items.
    pub evaluation_indices: Vec<usize>,
}

/// SplitMix64: a tiny, well-mixed, seedable generator, so splits never depend on a crate's RNG.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Indices of `rows` split per class into (fit, calibration, evaluation), each class shuffled
/// with the seed and cut by the fractions; every class present keeps at least one fit row.
fn stratified_split(rows: &[TrainingRow], params: &TrainParams) -> [Vec<usize>; 3] {
    let mut rng = SplitMix64(params.seed);
    let mut parts: [Vec<usize>; 3] = Default::default();
    for layer in Layer::ALL {
        let mut idx: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].layer == *layer)
            .collect();
        rng.shuffle(&mut idx);
        let n = idx.len();
        let n_eval =
            ((n as f64 * params.evaluation_fraction).round() as usize).min(n.saturating_sub(1));
        let n_cal = ((n as f64 * params.calibration_fraction).round() as usize)
            .min(n.saturating_sub(1 + n_eval));
        parts[2].extend_from_slice(&idx[..n_eval]);
        parts[1].extend_from_slice(&idx[n_eval..n_eval + n_cal]);
        parts[0].extend_from_slice(&idx[n_eval + n_cal..]);
    }
    for part in &mut parts {
        part.sort_unstable();
    }
    parts
}

/// Trains a model of `schema` on `rows`.
///
/// # Errors
/// [`Error::TrainingDeclined`] with fewer than `params.min_samples` rows or fewer than two layers
/// among them; [`Error::InvalidInput`] when a row's length does not match the schema or holds a
/// non-finite value.
pub fn train(
    rows: &[TrainingRow],
    schema: FeatureSchema,
    params: &TrainParams,
) -> Result<TrainedModel> {
    if rows.len() < params.min_samples {
        return Err(Error::TrainingDeclined {
            reason: format!(
                "{} labelled rows, at least {} are needed",
                rows.len(),
                params.min_samples
            ),
        });
    }
    let layers_present = Layer::ALL
        .iter()
        .filter(|l| rows.iter().any(|r| r.layer == **l))
        .count();
    if layers_present < 2 {
        return Err(Error::TrainingDeclined {
            reason: "all labelled rows have the same layer; a router needs at least two".to_owned(),
        });
    }
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| {
        r.features.len() != schema.len() || r.features.iter().any(|v| !v.is_finite())
    }) {
        return Err(Error::invalid(
            "features",
            format!(
                "row {i} must hold {} finite values for schema {}, got {:?}",
                schema.len(),
                schema.name(),
                row.features
            ),
        ));
    }
    let [fit, cal, eval] = stratified_split(rows, params);
    let tree = fit_tree(rows, &fit, schema, params)?;
    let importance = tree.feature_importance();
    let mut flat = flatten(tree.root_node());
    set_leaf_probabilities(&mut flat, rows, &fit, &cal, params.smoothing);
    let model = TreeModel::new(schema, vec![flat], "")?;
    let metrics = evaluate(&model, eval.iter().map(|&i| &rows[i]));
    Ok(TrainedModel {
        model,
        metrics,
        train_n: rows.len(),
        fit_n: fit.len(),
        calibration_n: cal.len(),
        evaluation_n: eval.len(),
        feature_importance: schema.names().iter().copied().zip(importance).collect(),
        evaluation_indices: eval,
    })
}

/// Figures of `model` on labelled rows of its schema.
pub fn evaluate<'a>(model: &TreeModel, rows: impl IntoIterator<Item = &'a TrainingRow>) -> Metrics {
    Metrics::compute(rows.into_iter().map(|r| {
        let d = model.decide(&r.features);
        (r.layer, d.layer, d.confidence)
    }))
}

fn fit_tree(
    rows: &[TrainingRow],
    fit: &[usize],
    schema: FeatureSchema,
    params: &TrainParams,
) -> Result<DecisionTree<f64, usize>> {
    let width = schema.len();
    let mut x = Array2::<f64>::zeros((fit.len(), width));
    for (r, &i) in fit.iter().enumerate() {
        for (c, v) in rows[i].features.iter().enumerate() {
            x[[r, c]] = *v;
        }
    }
    let y: Array1<usize> = fit.iter().map(|&i| rows[i].layer.index()).collect();
    let names: Vec<String> = schema.names().iter().map(|s| s.to_string()).collect();
    let dataset = Dataset::new(x, y).with_feature_names(names);
    DecisionTree::params()
        .split_quality(SplitQuality::Gini)
        .max_depth(Some(params.max_depth))
        .min_weight_split(params.min_samples_split as f32)
        .min_weight_leaf(params.min_samples_leaf as f32)
        .fit(&dataset)
        .map_err(|e| Error::TrainingDeclined {
            reason: format!("the decision tree could not be fitted: {e}"),
        })
}

/// Copies linfa's tree into our flat form; leaves get placeholder probabilities.
fn flatten(root: &linfa_trees::TreeNode<f64, usize>) -> Tree {
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
fn set_leaf_probabilities(
    tree: &mut Tree,
    rows: &[TrainingRow],
    fit: &[usize],
    cal: &[usize],
    m: f64,
) {
    let count = |idx: &[usize]| {
        let mut counts = vec![[0.0f64; 4]; tree.nodes.len()];
        for &i in idx {
            counts[tree.leaf_of(&rows[i].features)][rows[i].layer.index()] += 1.0;
        }
        counts
    };
    let (fit_counts, cal_counts) = (count(fit), count(cal));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Separable rows: feature 9 (is_question) decides prospective vs semantic.
    fn rows(n: usize) -> Vec<TrainingRow> {
        (0..n)
            .map(|i| {
                let mut f = vec![0.0; 11];
                f[0] = i as f64;
                f[9] = (i % 2) as f64;
                TrainingRow {
                    features: f,
                    layer: if i % 2 == 1 {
                        Layer::Prospective
                    } else {
                        Layer::Semantic
                    },
                }
            })
            .collect()
    }

    #[test]
    fn learns_a_separable_rule_with_calibrated_confidence() {
        let trained = train(&rows(100), FeatureSchema::V1, &TrainParams::default()).unwrap();
        assert_eq!(trained.metrics.accuracy, 1.0);
        assert_eq!(
            (trained.fit_n, trained.calibration_n, trained.evaluation_n),
            (60, 20, 20)
        );
        let mut q = vec![0.0; 11];
        q[9] = 1.0;
        let d = trained.model.decide(&q);
        assert_eq!(d.layer, Layer::Prospective);
        // 10 calibration rows in the leaf, all prospective, smoothed with m = 4 towards the fit
        // leaf's Laplace distribution (30 rows, all prospective: 31/34).
        let expected = (10.0 + 4.0 * 31.0 / 34.0) / 14.0;
        assert!((d.confidence - expected).abs() < 1e-12, "{}", d.confidence);
        assert_eq!(d.path.len(), 1);
        assert_eq!(d.path[0].feature, "is_question");
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_split() {
        let data = rows(200);
        let a = train(&data, FeatureSchema::V1, &TrainParams::default()).unwrap();
        let b = train(&data, FeatureSchema::V1, &TrainParams::default()).unwrap();
        assert_eq!(a.model.to_json(), b.model.to_json());
        let c = train(
            &data,
            FeatureSchema::V1,
            &TrainParams {
                seed: 7,
                ..TrainParams::default()
            },
        )
        .unwrap();
        assert_ne!(a.evaluation_indices, c.evaluation_indices);
    }

    #[test]
    fn declines_too_little_or_one_sided_data() {
        let err = train(&rows(9), FeatureSchema::V1, &TrainParams::default()).unwrap_err();
        assert!(
            err.to_string().contains("9 labelled rows, at least 10"),
            "{err}"
        );
        let one_sided: Vec<_> = rows(40)
            .into_iter()
            .filter(|r| r.layer == Layer::Semantic)
            .collect();
        let err = train(&one_sided, FeatureSchema::V1, &TrainParams::default()).unwrap_err();
        assert!(matches!(err, Error::TrainingDeclined { .. }), "{err}");
        let mut bad = rows(20);
        bad[3].features.pop();
        let err = train(&bad, FeatureSchema::V1, &TrainParams::default()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "features",
                    ..
                }
            ),
            "{err}"
        );
    }
}
