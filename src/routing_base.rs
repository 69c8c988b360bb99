//! The routing base: the model that routes a project with no model of its own (nor an active
//! global one) and the labelled corpus a project's router is adapted from.
//!
//! By default it is the shipped one (`models/router-default.json` and
//! `models/router-corpus.jsonl`, compiled in and parsed on first use, once per process). A
//! caller with a model trained offline on its own data gives its own with
//! [`crate::ConfigBuilder::routing_base`] (the `athena` tool: `--base-model` and
//! `--base-corpus`); tests give a small one so that adapting takes a fraction of the time.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::error::Result;
use crate::router::{Example, ModelLabel, TreeModel};

/// The shipped default model, compiled in so routing is good from the first item without any
/// file or download. See `models/router-default.metrics.json` for how it was trained.
const SHIPPED_MODEL_JSON: &str = include_str!("../models/router-default.json");

/// A model and the labelled corpus it was trained on: what routes a project until it has a
/// model of its own, and what the project's labels adapt ([`crate::router::adapt()`]: the
/// model's trees, its text model refitted on the corpus plus the labels).
///
/// Cheap to clone. The default is [`RoutingBase::shipped`].
#[derive(Clone, Default)]
pub struct RoutingBase {
    given: Option<Arc<Given>>,
}

/// A base the caller gave.
struct Given {
    model: Arc<TreeModel>,
    corpus: Vec<Example>,
}

impl RoutingBase {
    /// The shipped base. Nothing is parsed until it first routes or adapts.
    pub fn shipped() -> Self {
        RoutingBase { given: None }
    }

    /// `model` and the labelled `corpus` it was trained on. The model is relabelled
    /// [`ModelLabel::Default`], the label its decisions carry, as the shipped model's do. To
    /// adapt to a project's labels the model needs a logistic-regression text model (schema
    /// `v2`, as [`crate::router::train`] fits by default); without one a project's training
    /// falls back to a model of its labels alone.
    pub fn new(model: TreeModel, corpus: Vec<Example>) -> Self {
        let model = Arc::new(model.with_label(ModelLabel::Default));
        RoutingBase {
            given: Some(Arc::new(Given { model, corpus })),
        }
    }

    /// Reads a model file ([`TreeModel::save`]'s JSON) and a corpus file (JSON Lines, as
    /// [`crate::corpus::load`] reads; rows without a layer are skipped).
    ///
    /// # Errors
    /// [`crate::Error::Io`] when a file cannot be read; [`crate::Error::Parse`] naming the file
    /// (and the line) when one is malformed; [`crate::Error::InvalidInput`] on `corpus` when it
    /// holds no labelled row.
    pub fn from_files(model: &Path, corpus: &Path) -> Result<Self> {
        let model = TreeModel::load(model)?;
        let corpus: Vec<Example> = crate::corpus::load(corpus)?
            .iter()
            .filter_map(crate::CorpusItem::example)
            .collect();
        if corpus.is_empty() {
            return Err(crate::Error::invalid(
                "corpus",
                "must hold at least one labelled row",
            ));
        }
        Ok(Self::new(model, corpus))
    }

    /// Whether this is the shipped base.
    pub fn is_shipped(&self) -> bool {
        self.given.is_none()
    }

    /// The model, parsed on the first call when it is the shipped one (13 MB of JSON).
    ///
    /// # Errors
    /// Only if the compiled-in model were invalid (tested not to be).
    pub fn model(&self) -> Result<Arc<TreeModel>> {
        match &self.given {
            Some(given) => Ok(Arc::clone(&given.model)),
            None => shipped_model(),
        }
    }

    /// The labelled corpus, parsed on the first call when it is the shipped one.
    pub fn corpus(&self) -> &[Example] {
        match &self.given {
            Some(given) => &given.corpus,
            None => crate::corpus::shipped(),
        }
    }
}

/// The shipped model, parsed once per process and shared by every engine.
fn shipped_model() -> Result<Arc<TreeModel>> {
    static PARSED: OnceLock<Arc<TreeModel>> = OnceLock::new();
    if let Some(model) = PARSED.get() {
        return Ok(Arc::clone(model));
    }
    let model = Arc::new(TreeModel::from_json(
        SHIPPED_MODEL_JSON,
        ModelLabel::Default,
    )?);
    Ok(Arc::clone(PARSED.get_or_init(|| model)))
}

impl std::fmt::Debug for RoutingBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.given {
            None => f.write_str("RoutingBase::shipped()"),
            Some(given) => f
                .debug_struct("RoutingBase")
                .field("corpus_rows", &given.corpus.len())
                .finish_non_exhaustive(),
        }
    }
}

/// Two bases are equal when both are the shipped one or both are the same given one (clones).
impl PartialEq for RoutingBase {
    fn eq(&self, other: &Self) -> bool {
        match (&self.given, &other.given) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model trained on every 40th row of the shipped corpus, and those rows.
    fn small() -> (TreeModel, Vec<Example>) {
        let corpus: Vec<Example> = crate::corpus::shipped()
            .iter()
            .step_by(40)
            .cloned()
            .collect();
        let model = crate::router::train(
            &corpus,
            crate::FeatureSchema::LATEST,
            &crate::TrainParams::default(),
        )
        .unwrap()
        .model;
        (model, corpus)
    }

    #[test]
    fn a_given_base_routes_under_the_default_label_and_compares_by_identity() {
        let (model, corpus) = small();
        let base = RoutingBase::new(model.with_label("offline"), corpus.clone());
        assert_eq!(base.model().unwrap().label(), &ModelLabel::Default);
        assert_eq!(base.corpus(), &corpus[..]);
        assert!(!base.is_shipped());
        assert_eq!(base, base.clone());
        assert_ne!(base, RoutingBase::shipped());
        assert_eq!(RoutingBase::default(), RoutingBase::shipped());
    }

    #[test]
    fn a_corpus_file_without_labels_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.json");
        small().0.save(&model).unwrap();
        let corpus = dir.path().join("c.jsonl");
        std::fs::write(
            &corpus,
            r#"{"content":"x","component":"phonological","activation":1,"importance":0.5,"age_s":0}"#,
        )
        .unwrap();
        let err = RoutingBase::from_files(&model, &corpus).unwrap_err();
        assert!(err.to_string().contains("corpus"), "{err}");
    }
}
