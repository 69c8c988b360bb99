//! The routing base: the model that routes a project with no model of its own (nor an active
//! global one) and the labelled corpus a project's router is adapted from.
//!
//! By default it is the shipped one (`models/router-default.json`, compiled in in its compact
//! form, and `models/router-corpus.jsonl`; each parsed on first use, once per process). A
//! caller with a model trained offline on its own data gives its own with
//! [`crate::ConfigBuilder::routing_base`] (the `athena` tool: `--base-model` and
//! `--base-corpus`); tests give a small one so that adapting takes a fraction of the time.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::error::Result;
use crate::router::{Example, ModelLabel, TreeModel};

/// The shipped default model (`models/router-default.json`) in its compact form, compiled in so
/// routing is good from the first item without any file or download, and parsed in
/// milliseconds. See `models/router-default.metrics.json` for how it was trained; a test keeps
/// the two files the same model.
const SHIPPED_MODEL: &[u8] = include_bytes!("../models/router-default.compact");

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
    /// The identity, computed on first use.
    id: OnceLock<String>,
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
            given: Some(Arc::new(Given {
                model,
                corpus,
                id: OnceLock::new(),
            })),
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

    /// The model, parsed on the first call when it is the shipped one.
    ///
    /// # Errors
    /// Only if the compiled-in model were invalid (tested not to be).
    pub fn model(&self) -> Result<Arc<TreeModel>> {
        match &self.given {
            Some(given) => Ok(Arc::clone(&given.model)),
            None => shipped_model(),
        }
    }

    /// The base's identity, which a project model stored as a delta on it names (see
    /// [`TreeModel::to_delta_json`]): `shipped-` or `base-` (a given one) and 16 hex digits of
    /// a hash (64-bit FNV-1a) of the model's compact form. The same model has the same
    /// identity in every process; a retrained or another model has another one, so a delta is
    /// never read on top of a base it was not made on.
    pub fn id(&self) -> &str {
        static SHIPPED: OnceLock<String> = OnceLock::new();
        match &self.given {
            None => SHIPPED.get_or_init(|| format!("shipped-{:016x}", fnv1a(SHIPPED_MODEL))),
            Some(given) => given
                .id
                .get_or_init(|| format!("base-{:016x}", fnv1a(&given.model.to_compact()))),
        }
    }

    /// The model in its compact form ([`TreeModel::to_compact`]), as the database keeps a
    /// base that project models are deltas on: the compiled-in bytes for the shipped one.
    pub(crate) fn compact(&self) -> Cow<'static, [u8]> {
        match &self.given {
            None => Cow::Borrowed(SHIPPED_MODEL),
            Some(given) => Cow::Owned(given.model.to_compact()),
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

/// 64-bit FNV-1a of `bytes`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The shipped model, parsed once per process and shared by every engine.
fn shipped_model() -> Result<Arc<TreeModel>> {
    static PARSED: OnceLock<Arc<TreeModel>> = OnceLock::new();
    if let Some(model) = PARSED.get() {
        return Ok(Arc::clone(model));
    }
    let model = Arc::new(TreeModel::from_compact(SHIPPED_MODEL, ModelLabel::Default)?);
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

    /// Whether `models/router-default.compact` holds the model of `models/router-default.json`.
    /// After retraining the default, write it again with
    /// `ATHENA_WRITE_COMPACT=1 cargo test --lib compiled_in_compact`.
    #[test]
    fn the_compiled_in_compact_model_is_the_shipped_json() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let json = std::fs::read_to_string(dir.join("router-default.json")).unwrap();
        let model = TreeModel::from_json(&json, ModelLabel::Default).unwrap();
        let compact = model.to_compact();
        if std::env::var_os("ATHENA_WRITE_COMPACT").is_some() {
            std::fs::write(dir.join("router-default.compact"), &compact).unwrap();
        }
        assert!(
            SHIPPED_MODEL == compact.as_slice(),
            "models/router-default.compact is not router-default.json's model: \
             ATHENA_WRITE_COMPACT=1 cargo test --lib compiled_in_compact"
        );
        assert_eq!(*shipped_model().unwrap(), model);
    }

    #[test]
    fn compact_models_round_trip_and_bad_bytes_are_errors() {
        let (model, corpus) = small();
        let labels: Vec<Example> = corpus.iter().take(12).cloned().collect();
        let params = crate::AdaptParams::default();
        let adapted = crate::router::adapt_model(&model, &corpus, &labels, &params).unwrap();
        assert!(adapted.correction().is_some());
        for m in [model, adapted] {
            let bytes = m.to_compact();
            assert!(bytes.len() < m.to_json().len() / 2, "{}", bytes.len());
            let back = TreeModel::from_compact(&bytes, "back").unwrap();
            assert_eq!(back, m.clone().with_label("back"));
            for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
                let err = TreeModel::from_compact(&bytes[..cut], "cut").unwrap_err();
                assert!(matches!(err, crate::Error::InvalidModel { .. }), "{err}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(TreeModel::from_compact(&longer, "longer").is_err());
        }
        assert!(TreeModel::from_compact(b"{}", "json").is_err());
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
