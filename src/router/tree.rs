//! The learned router's model: decision trees flattened into arrays, with calibrated class
//! probabilities in every leaf, serialised as JSON of our own format.
//!
//! Flattening (rather than keeping linfa's `DecisionTree`) gives three things: the traversal rule
//! is ours (`value <= threshold` goes left, exactly how linfa partitioned the rows while fitting,
//! although its own `predict` uses `<`), leaves carry probabilities that linfa does not keep, and
//! a loaded file can be validated completely before it is used.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::features::text::{take, TextLearner, TextModel};
use crate::features::{FeatureSchema, RouteInput};
use crate::layer::Layer;
use crate::router::{Direction, ModelLabel, PathStep, RouteDecision};

/// The `format` field of every model file.
pub const MODEL_FORMAT: &str = "athena-router";
/// The `format_version` this build reads and writes.
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// Deepest tree accepted when loading.
pub const MAX_DEPTH: usize = 64;
/// The first bytes of a model's compact form ([`TreeModel::to_compact`]): the format's name and
/// version.
const COMPACT_MAGIC: &[u8] = b"athena-router-compact-1\n";
/// Capacity reserved for a decision path: deeper than the default trees (8), so one allocation.
const MAX_PATH_HINT: usize = 12;
/// Most trees accepted when loading.
pub const MAX_TREES: usize = 512;

/// One node of a flattened tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Node {
    /// Go to `left` when `value[feature] <= threshold`, else to `right`. Children always have
    /// larger indices than their parent, which makes every tree acyclic by construction.
    Split {
        /// Feature index within the schema.
        feature: usize,
        /// Threshold.
        threshold: f64,
        /// Index of the left child.
        left: usize,
        /// Index of the right child.
        right: usize,
    },
    /// A leaf with calibrated layer probabilities.
    Leaf {
        /// Probability of each layer, in [`Layer::ALL`] order.
        probabilities: [f64; 4],
    },
}

/// The trees' `probabilities` after a project correction's `scores`:
/// `softmax(ln p + scores)`.
fn corrected(probabilities: [f64; 4], scores: [f64; 4]) -> [f64; 4] {
    crate::features::text::softmax(std::array::from_fn(|c| {
        probabilities[c].max(f64::MIN_POSITIVE).ln() + scores[c]
    }))
}

/// One flattened decision tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tree {
    /// The nodes, parents before children.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// Appends the tree's compact form: its node count, then each node as a tag (0 a split, 1
    /// a leaf) and its numbers, little-endian.
    fn write_compact(&self, out: &mut Vec<u8>) {
        out.extend((self.nodes.len() as u32).to_le_bytes());
        for node in &self.nodes {
            match *node {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    out.push(0);
                    out.extend((feature as u32).to_le_bytes());
                    out.extend(threshold.to_le_bytes());
                    out.extend((left as u32).to_le_bytes());
                    out.extend((right as u32).to_le_bytes());
                }
                Node::Leaf { probabilities } => {
                    out.push(1);
                    probabilities
                        .iter()
                        .for_each(|p| out.extend(p.to_le_bytes()));
                }
            }
        }
    }

    /// Reads a tree written by [`Tree::write_compact`] (validated with its model).
    fn read_compact(bytes: &mut &[u8]) -> Result<Self> {
        let count = u32::from_le_bytes(take(bytes)?) as usize;
        if count > bytes.len() {
            return Err(Error::InvalidModel {
                reason: format!("compact tree: {count} nodes announced, fewer stored"),
            });
        }
        let index = |bytes: &mut &[u8]| Ok::<_, Error>(u32::from_le_bytes(take(bytes)?) as usize);
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            nodes.push(match take::<1>(bytes)?[0] {
                0 => Node::Split {
                    feature: index(bytes)?,
                    threshold: f64::from_le_bytes(take(bytes)?),
                    left: index(bytes)?,
                    right: index(bytes)?,
                },
                _ => {
                    let mut probabilities = [0.0; 4];
                    for p in &mut probabilities {
                        *p = f64::from_le_bytes(take(bytes)?);
                    }
                    Node::Leaf { probabilities }
                }
            });
        }
        Ok(Tree { nodes })
    }

    /// Index of the leaf `features` falls into.
    pub(crate) fn leaf_of(&self, features: &[f64]) -> usize {
        let mut i = 0;
        while let Node::Split {
            feature,
            threshold,
            left,
            right,
        } = self.nodes[i]
        {
            i = if features[feature] <= threshold {
                left
            } else {
                right
            };
        }
        i
    }

    fn probabilities_and_path(
        &self,
        features: &[f64],
        schema: FeatureSchema,
        path: Option<&mut Vec<PathStep>>,
    ) -> [f64; 4] {
        let names = schema.names();
        let mut i = 0;
        let mut path = path;
        loop {
            match &self.nodes[i] {
                Node::Leaf { probabilities } => return *probabilities,
                &Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    let value = features[feature];
                    let direction = if value <= threshold {
                        Direction::Left
                    } else {
                        Direction::Right
                    };
                    if let Some(path) = path.as_deref_mut() {
                        path.push(PathStep {
                            feature: names[feature],
                            threshold,
                            value,
                            direction,
                        });
                    }
                    i = if direction == Direction::Left {
                        left
                    } else {
                        right
                    };
                }
            }
        }
    }
}

/// The label of a model parsed from JSON until its loader names it.
fn unlabelled() -> ModelLabel {
    ModelLabel::named("")
}

/// A trained router model: one or more trees over a feature schema, whose leaf probabilities
/// are averaged.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TreeModel {
    format: String,
    format_version: u32,
    feature_schema: FeatureSchema,
    classes: Vec<Layer>,
    /// The text sub-model whose scores fill the schema's text features (schema `v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<TextModel>,
    /// Shared by the models adapted from this one (they differ in their text model alone).
    trees: Arc<[Tree]>,
    /// A project's correction of the trees' probabilities, learned from its labels (see
    /// [`crate::router::adapt()`]): its scores are added to their logarithms before a softmax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correction: Option<TextModel>,
    /// The label decisions carry (`model`); set by whoever loads it (database version, file
    /// name), not stored in the JSON, so identical training yields identical bytes.
    #[serde(skip, default = "unlabelled")]
    label: ModelLabel,
}

impl TreeModel {
    /// Assembles a model from trees; validates it as a loaded file would be.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the trees are not valid for `schema`.
    pub fn new(
        feature_schema: FeatureSchema,
        trees: Vec<Tree>,
        text: Option<TextModel>,
        label: impl Into<ModelLabel>,
    ) -> Result<Self> {
        let model = TreeModel {
            format: MODEL_FORMAT.to_owned(),
            format_version: MODEL_FORMAT_VERSION,
            feature_schema,
            classes: Layer::ALL.to_vec(),
            text,
            trees: trees.into(),
            correction: None,
            label: label.into(),
        };
        model.validate()?;
        Ok(model)
    }

    /// The schema the model was trained on.
    pub fn feature_schema(&self) -> FeatureSchema {
        self.feature_schema
    }

    /// The label decisions carry.
    pub fn label(&self) -> &ModelLabel {
        &self.label
    }

    /// The same model under another label.
    pub fn with_label(mut self, label: impl Into<ModelLabel>) -> Self {
        self.label = label.into();
        self
    }

    /// The same model with a project's correction of its probabilities (or none).
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the correction is not a valid logistic-regression model.
    pub fn with_correction(mut self, correction: Option<TextModel>) -> Result<Self> {
        self.correction = correction;
        self.validate()?;
        Ok(self)
    }

    /// The project correction, if the model has one.
    pub fn correction(&self) -> Option<&TextModel> {
        self.correction.as_ref()
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The same trees with the text model `text`: what adapting a model to a project's words
    /// makes. The trees are shared with this model, not copied.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when `text` is not valid for the schema.
    pub fn with_text(&self, text: Option<TextModel>) -> Result<Self> {
        let model = TreeModel {
            text,
            correction: None,
            label: unlabelled(),
            ..self.clone()
        };
        model.validate()?;
        Ok(model)
    }

    /// Its text model when adapting can refit it ([`crate::router::adapt()`]): a logistic
    /// regression (schema `v2` models trained by default).
    pub fn adaptable_text_model(&self) -> Option<&TextModel> {
        self.text_model()
            .filter(|t| t.learner() == crate::TextLearner::Logistic)
    }

    /// Whether adapting can refit its text model ([`Self::adaptable_text_model`]).
    pub fn can_adapt(&self) -> bool {
        self.adaptable_text_model().is_some()
    }

    /// The text sub-model, if the schema has text scores.
    pub fn text_model(&self) -> Option<&TextModel> {
        self.text.as_ref()
    }

    /// The feature vector of `input` (text scores from this model's text sub-model).
    pub fn features(&self, input: &RouteInput<'_>) -> Vec<f64> {
        self.feature_schema.extract_with(input, self.text.as_ref())
    }

    /// Routes one item: features, every tree, averaged calibrated probabilities, the project
    /// correction if there is one, and the decision path through the first tree.
    pub fn route(&self, input: &RouteInput<'_>) -> RouteDecision {
        let (features, corrections) = match &self.correction {
            None => (self.features(input), None),
            Some(correction) => {
                let (features, scores) = self.feature_schema.extract_with_correction(
                    input,
                    self.text.as_ref(),
                    correction,
                );
                (features, Some(scores))
            }
        };
        self.decide_with(features, corrections)
    }

    /// Decides on an already extracted feature vector of this model's schema: the trees alone,
    /// without the project correction (which reads the text; [`TreeModel::route`] applies it).
    ///
    /// # Panics
    /// If `features` is shorter than the schema; vectors from [`TreeModel::features`] never are.
    pub fn decide(&self, features: Vec<f64>) -> RouteDecision {
        self.decide_with(features, None)
    }

    /// The trees' decision on `features`, after a project correction's scores when given.
    fn decide_with(&self, features: Vec<f64>, corrections: Option<[f64; 4]>) -> RouteDecision {
        let mut path = Vec::with_capacity(MAX_PATH_HINT);
        let probabilities = self.probabilities(&features, Some(&mut path));
        RouteDecision::from_probabilities(
            corrections.map_or(probabilities, |c| corrected(probabilities, c)),
            path,
            self.label.clone(),
            self.feature_schema,
            features,
        )
    }

    /// The averaged layer probabilities for `features`, optionally recording the first tree's path.
    pub(crate) fn probabilities(
        &self,
        features: &[f64],
        mut path: Option<&mut Vec<PathStep>>,
    ) -> [f64; 4] {
        let mut sum = [0.0; 4];
        for (t, tree) in self.trees.iter().enumerate() {
            let p = tree.probabilities_and_path(
                features,
                self.feature_schema,
                if t == 0 { path.as_deref_mut() } else { None },
            );
            for (s, v) in sum.iter_mut().zip(p) {
                *s += v;
            }
        }
        let n = self.trees.len() as f64;
        sum.map(|s| s / n)
    }

    /// The model as JSON. Deterministic: the same model always gives the same bytes.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a model is plain data and always serialises")
    }

    /// Parses and validates a model, labelling it `label`.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] for malformed JSON, another format or version, an unknown schema
    /// or class, a feature index out of range, a child index that does not point forward, a depth
    /// over [`MAX_DEPTH`], or leaf probabilities that are not a distribution.
    pub fn from_json(json: &str, label: impl Into<ModelLabel>) -> Result<Self> {
        if Self::is_delta_json(json) {
            return Err(Error::InvalidModel {
                reason: "this is a project model stored as a delta on a base, not a whole model: \
                         export the project's model for a self-contained file"
                    .into(),
            });
        }
        let mut model: TreeModel = serde_json::from_str(json).map_err(|e| Error::InvalidModel {
            reason: format!("not a model file: {e}"),
        })?;
        model.validate()?;
        model.label = label.into();
        Ok(model)
    }

    /// The model in its compact form: what [`TreeModel::from_compact`] reads, about a third of
    /// the JSON's size and parsed in a few milliseconds where the JSON takes tens (the text
    /// model's token weights are stored as numbers, not text). The shipped default is compiled
    /// in this way; model files stay JSON.
    pub fn to_compact(&self) -> Vec<u8> {
        let header = TreeModel {
            text: None,
            correction: None,
            trees: Arc::new([]),
            ..self.clone()
        };
        let json = serde_json::to_vec(&header).expect("a model serialises");
        let mut out = COMPACT_MAGIC.to_vec();
        out.extend((json.len() as u64).to_le_bytes());
        out.extend(json);
        out.extend((self.trees.len() as u64).to_le_bytes());
        self.trees
            .iter()
            .for_each(|tree| tree.write_compact(&mut out));
        for text in [&self.text, &self.correction] {
            out.push(u8::from(text.is_some()));
            if let Some(text) = text {
                text.write_compact(&mut out);
            }
        }
        out
    }

    /// Reads and validates a model in its compact form ([`TreeModel::to_compact`]), labelling
    /// it `label`.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] for bytes that are not a compact model, end early, or hold an
    /// invalid model (as [`TreeModel::from_json`]).
    pub fn from_compact(bytes: &[u8], label: impl Into<ModelLabel>) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidModel {
            reason: format!("not a compact model: {reason}"),
        };
        let mut rest = bytes
            .strip_prefix(COMPACT_MAGIC)
            .ok_or_else(|| invalid("no compact-model header"))?;
        let len = u64::from_le_bytes(take(&mut rest)?) as usize;
        if rest.len() < len {
            return Err(invalid("the header ends early"));
        }
        let (json, mut rest) = rest.split_at(len);
        let mut model: TreeModel =
            serde_json::from_slice(json).map_err(|e| invalid(&e.to_string()))?;
        let trees = u64::from_le_bytes(take(&mut rest)?) as usize;
        if trees > MAX_TREES {
            return Err(invalid(&format!("{trees} trees, at most {MAX_TREES}")));
        }
        model.trees = (0..trees)
            .map(|_| Tree::read_compact(&mut rest))
            .collect::<Result<Vec<_>>>()?
            .into();
        let mut text_model = || -> Result<Option<TextModel>> {
            match take::<1>(&mut rest)?[0] {
                0 => Ok(None),
                _ => TextModel::read_compact(&mut rest).map(Some),
            }
        };
        model.text = text_model()?;
        model.correction = text_model()?;
        if !rest.is_empty() {
            return Err(invalid("bytes after the model"));
        }
        model.validate()?;
        model.label = label.into();
        Ok(model)
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidModel { reason });
        if self.format != MODEL_FORMAT || self.format_version != MODEL_FORMAT_VERSION {
            return bad(format!(
                "format {:?} version {} is not {MODEL_FORMAT:?} version {MODEL_FORMAT_VERSION}",
                self.format, self.format_version
            ));
        }
        if self.classes != Layer::ALL {
            return bad(format!(
                "classes must be {:?}, got {:?}",
                Layer::ALL,
                self.classes
            ));
        }
        if self.trees.is_empty() || self.trees.len() > MAX_TREES {
            return bad(format!(
                "must have 1..={MAX_TREES} trees, has {}",
                self.trees.len()
            ));
        }
        if let Some(text) = &self.text {
            text.validate()
                .map_err(|reason| Error::InvalidModel { reason })?;
        }
        if let Some(correction) = &self.correction {
            if correction.learner() != TextLearner::Logistic {
                return bad("the project correction must be a logistic-regression model".into());
            }
            correction
                .validate()
                .map_err(|reason| Error::InvalidModel {
                    reason: format!("project correction: {reason}"),
                })?;
        }
        let n_features = self.feature_schema.len();
        for (t, tree) in self.trees.iter().enumerate() {
            tree.validate(n_features)
                .map_err(|reason| Error::InvalidModel {
                    reason: format!(
                        "tree {t} {reason} (schema {}, {n_features} features)",
                        self.feature_schema.as_str()
                    ),
                })?;
        }
        Ok(())
    }
}

impl Tree {
    /// Checks that every split reads a feature below `n_features` at a finite threshold, every
    /// child comes after its parent (so the tree has no cycles) within [`MAX_DEPTH`], and every
    /// leaf holds a probability distribution.
    fn validate(&self, n_features: usize) -> std::result::Result<(), String> {
        if self.nodes.is_empty() {
            return Err("has no nodes".to_owned());
        }
        let mut depth = vec![0usize; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            match *node {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    if feature >= n_features {
                        return Err(format!("node {i}: feature index {feature} is out of range"));
                    }
                    if !threshold.is_finite() {
                        return Err(format!("node {i}: threshold is not finite"));
                    }
                    for child in [left, right] {
                        if child <= i || child >= self.nodes.len() {
                            return Err(format!(
                                "node {i}: child index {child} must be within {}..{}",
                                i + 1,
                                self.nodes.len()
                            ));
                        }
                        depth[child] = depth[i] + 1;
                        if depth[child] > MAX_DEPTH {
                            return Err(format!("is deeper than {MAX_DEPTH}"));
                        }
                    }
                }
                Node::Leaf { probabilities } => {
                    let sum: f64 = probabilities.iter().sum();
                    if probabilities.iter().any(|p| !p.is_finite() || *p < 0.0)
                        || (sum - 1.0).abs() > 1e-6
                    {
                        return Err(format!(
                            "node {i}: leaf probabilities {probabilities:?} are not a distribution"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(p: [f64; 4]) -> Node {
        Node::Leaf { probabilities: p }
    }

    fn stump() -> TreeModel {
        // is_question (index 9) <= 0.5 ? semantic-ish : prospective-ish
        let nodes = vec![
            Node::Split {
                feature: 9,
                threshold: 0.5,
                left: 1,
                right: 2,
            },
            leaf([0.7, 0.1, 0.1, 0.1]),
            leaf([0.1, 0.1, 0.2, 0.6]),
        ];
        TreeModel::new(FeatureSchema::V1, vec![Tree { nodes }], None, "stump").unwrap()
    }

    #[test]
    fn routes_and_explains() {
        let model = stump();
        let mut features = [0.0; 11];
        let d = model.decide(features.to_vec());
        assert_eq!(
            (d.layer, d.confidence, d.runner_up),
            (Layer::Semantic, 0.7, Layer::Episodic)
        );
        assert_eq!(
            d.path,
            vec![PathStep {
                feature: "is_question",
                threshold: 0.5,
                value: 0.0,
                direction: Direction::Left
            }]
        );
        features[9] = 1.0;
        let d = model.decide(features.to_vec());
        assert_eq!(
            (d.layer, d.runner_up, d.model.to_string()),
            (Layer::Prospective, Layer::Procedural, "stump".to_owned())
        );
        // A value equal to the threshold goes left, as linfa partitioned rows while fitting.
        features[9] = 0.5;
        assert_eq!(model.decide(features.to_vec()).layer, Layer::Semantic);
    }

    #[test]
    fn json_round_trip_is_exact() {
        let model = stump();
        let json = model.to_json();
        let back = TreeModel::from_json(&json, "stump").unwrap();
        assert_eq!(back, model);
        assert_eq!(back.to_json(), json);
    }

    #[test]
    fn a_project_correction_moves_decisions_and_round_trips() {
        // The stump calls statements semantic (0.7); the correction says "zork" means procedural.
        let labels: Vec<(String, Layer, [f64; 4])> = (0..20)
            .map(|i| {
                let offset = [0.7f64, 0.1, 0.1, 0.1].map(f64::ln);
                match i % 2 {
                    0 => (format!("zork step {i}"), Layer::Procedural, offset),
                    _ => (format!("plain fact {i}"), Layer::Semantic, offset),
                }
            })
            .collect();
        let correction = TextModel::fit_correction(
            labels.iter().map(|(t, l, o)| (t.as_str(), *l, *o)),
            10.0,
            3,
            7,
        )
        .unwrap();
        let model = stump().with_correction(Some(correction)).unwrap();
        let route = |m: &TreeModel, text: &str| m.route(&RouteInput::new(text));
        assert_eq!(route(&stump(), "zork step 99").layer, Layer::Semantic);
        let d = route(&model, "zork step 99");
        assert_eq!(d.layer, Layer::Procedural);
        assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(route(&model, "plain fact 99").layer, Layer::Semantic);
        let json = model.to_json();
        assert!(json.contains("\"correction\""));
        let back = TreeModel::from_json(&json, "stump").unwrap();
        assert_eq!(back, model);
        assert!(
            !stump().to_json().contains("correction"),
            "absent when none"
        );

        let naive = TextModel::fit([("zork", Layer::Procedural)], 0.5, 1).unwrap();
        let err = stump()
            .with_correction(Some(naive))
            .unwrap_err()
            .to_string();
        assert!(err.contains("logistic-regression"), "{err}");
    }

    #[test]
    fn invalid_models_are_errors() {
        let json = stump().to_json();
        let cases = [
            ("{not json", "not a model file"),
            (
                &json.replace("\"v1\"", "\"v9\"") as &str,
                "invalid feature_schema: unknown value \"v9\"",
            ),
            (
                &json.replace("\"feature\":9", "\"feature\":11"),
                "out of range",
            ),
            (&json.replace("\"left\":1", "\"left\":0"), "child index 0"),
            (&json.replace("\"prospective\"]", "\"someday\"]"), "someday"),
            (&json.replace("0.7,", "0.9,"), "not a distribution"),
            (&json.replace("athena-router", "other"), "format"),
        ];
        for (text, expected) in cases {
            let err = TreeModel::from_json(text, "x").unwrap_err().to_string();
            assert!(
                err.starts_with("invalid router model") && err.contains(expected),
                "{expected}: {err}"
            );
        }
    }

    #[test]
    fn absurd_depth_is_rejected() {
        let mut nodes = Vec::new();
        for i in 0..(MAX_DEPTH + 1) {
            nodes.push(Node::Split {
                feature: 0,
                threshold: i as f64,
                left: 2 * i + 1,
                right: 2 * i + 2,
            });
            nodes.push(leaf([1.0, 0.0, 0.0, 0.0]));
        }
        nodes.push(leaf([1.0, 0.0, 0.0, 0.0]));
        let err = TreeModel::new(FeatureSchema::V1, vec![Tree { nodes }], None, "deep")
            .unwrap_err()
            .to_string();
        assert!(err.contains("deeper than"), "{err}");
    }
}
