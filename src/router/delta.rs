//! Project models as deltas. A model adapted to a project ([`crate::router::adapt()`]) is its
//! base's trees and text model with the weights of the tokens the project's labels contain
//! refitted, plus a small correction learned from the labels. Stored whole it would weigh as
//! much as the base (megabytes); stored as a *delta* it is the base's name, the changed token
//! weights and the correction (kilobytes). Read back on top of the base, it shares the base's
//! trees and token table in memory, so a thousand projects cost their deltas, not a thousand
//! copies of the base.
//!
//! A delta is JSON of its own format: `{"format": "athena-router-delta", "format_version": 1,
//! "base": "<the base's identity>", "text_changes": "<base64>", "correction": "<base64>"}`. The
//! text changes are 24 bytes per token (the token's hash as a little-endian `u64`, then its
//! four layer weights as little-endian `f32`s), sorted by token, so equal models give equal
//! bytes; the correction is a text model's compact form. Binary in base64 rather than JSON
//! numbers, because a weight written as a JSON number takes about three times the bytes: a
//! project adapted to 20 labels changes about 900 tokens and its correction knows about 450,
//! some 40 KB this way against 95 KB. Only stored models are deltas: model files
//! ([`TreeModel::save`]) are always whole, self-contained models.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::error::{Error, Result};
use crate::router::{ModelLabel, TreeModel};
use crate::TextModel;

/// The `format` field of a stored delta.
pub const DELTA_FORMAT: &str = "athena-router-delta";
/// The `format_version` of the deltas this build reads and writes.
pub const DELTA_FORMAT_VERSION: u32 = 1;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaJson {
    format: String,
    format_version: u32,
    base: String,
    text_changes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correction: Option<String>,
}

/// Bytes per changed token: its hash and four weights.
const CHANGE_BYTES: usize = 24;

impl TreeModel {
    /// This model as a delta on `base`, whose identity is `base_id`: `None` when it is not
    /// `base` with text-model weights changed (other trees or schema, another text model's
    /// constants, a token of the base's text model missing), or when `base` itself carries a
    /// project correction. Deterministic, as [`TreeModel::to_json`].
    pub fn to_delta_json(&self, base: &TreeModel, base_id: &str) -> Option<String> {
        if base.correction().is_some()
            || self.feature_schema() != base.feature_schema()
            || self.trees() != base.trees()
        {
            return None;
        }
        let text_changes = self.text_model()?.changes_from(base.text_model()?)?;
        let delta = DeltaJson {
            format: DELTA_FORMAT.into(),
            format_version: DELTA_FORMAT_VERSION,
            base: base_id.into(),
            text_changes: BASE64.encode(
                text_changes
                    .iter()
                    .flat_map(|(t, w)| {
                        t.to_le_bytes()
                            .into_iter()
                            .chain(w.iter().flat_map(|w| w.to_le_bytes()))
                    })
                    .collect::<Vec<u8>>(),
            ),
            correction: self.correction().map(|c| {
                let mut bytes = Vec::new();
                c.write_compact(&mut bytes);
                BASE64.encode(bytes)
            }),
        };
        Some(serde_json::to_string(&delta).expect("a delta is plain data and always serialises"))
    }

    /// Whether `json` holds a delta ([`TreeModel::to_delta_json`]) rather than a whole model,
    /// read from its first bytes (a delta's `format` comes first).
    pub fn is_delta_json(json: &str) -> bool {
        let head = &json.as_bytes()[..json.len().min(64)];
        let name = format!("\"{DELTA_FORMAT}\"");
        head.windows(name.len()).any(|w| w == name.as_bytes())
    }

    /// The identity of the base the delta `json` was made on; `None` when `json` is not a
    /// delta (or not valid JSON).
    pub fn delta_base_id(json: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Base {
            base: String,
        }
        if !Self::is_delta_json(json) {
            return None;
        }
        serde_json::from_str::<Base>(json).ok().map(|b| b.base)
    }

    /// Reads the delta `json` on top of `base`, whose identity is `base_id`, labelling the
    /// model `label`. The model shares `base`'s trees and token table.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when `json` is not a delta, when it was made on another base than
    /// `base_id` (naming both), or when the result is not a valid model (a non-finite weight).
    pub fn from_delta_json(
        json: &str,
        base: &TreeModel,
        base_id: &str,
        label: impl Into<ModelLabel>,
    ) -> Result<Self> {
        let label = label.into();
        let delta = parse(json)?;
        if delta.base != base_id {
            return Err(Error::InvalidModel {
                reason: format!(
                    "model {label} is a delta on base {:?}, and the routing base here is \
                     {base_id:?}: train the project again, or activate a model stored whole",
                    delta.base
                ),
            });
        }
        let text = base.text_model().ok_or_else(|| Error::InvalidModel {
            reason: format!("base {base_id:?} has no text model for the delta to change"),
        })?;
        let text = text.with_changes(text_changes(&delta.text_changes)?);
        let correction = delta.correction.as_deref().map(correction).transpose()?;
        let model = base.with_text(Some(text))?.with_correction(correction)?;
        Ok(model.with_label(label))
    }
}

fn invalid(reason: impl std::fmt::Display) -> Error {
    Error::InvalidModel {
        reason: format!("model delta: {reason}"),
    }
}

/// The changed token weights of a delta: whole records, tokens strictly ascending.
fn text_changes(base64: &str) -> Result<Vec<(u64, [f32; 4])>> {
    let bytes = BASE64
        .decode(base64)
        .map_err(|e| invalid(format!("text_changes is not base64: {e}")))?;
    if bytes.len() % CHANGE_BYTES != 0 {
        return Err(invalid(format!(
            "text_changes holds {} bytes, not a whole number of {CHANGE_BYTES}-byte records",
            bytes.len()
        )));
    }
    let changes: Vec<(u64, [f32; 4])> = bytes
        .chunks_exact(CHANGE_BYTES)
        .map(|r| {
            let word = |at: usize| r[at..at + 4].try_into().expect("4 bytes");
            let token = u64::from_le_bytes(r[..8].try_into().expect("8 bytes"));
            (
                token,
                [8, 12, 16, 20].map(|at| f32::from_le_bytes(word(at))),
            )
        })
        .collect();
    if changes.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(invalid("text_changes' tokens are not in ascending order"));
    }
    Ok(changes)
}

/// A delta's correction: a text model's compact form, nothing after it.
fn correction(base64: &str) -> Result<TextModel> {
    let bytes = BASE64
        .decode(base64)
        .map_err(|e| invalid(format!("correction is not base64: {e}")))?;
    let mut rest = bytes.as_slice();
    let model = TextModel::read_compact(&mut rest)?;
    if !rest.is_empty() {
        return Err(invalid("bytes after the correction"));
    }
    Ok(model)
}

/// A delta's JSON, checked to be of this build's format.
fn parse(json: &str) -> Result<DeltaJson> {
    let delta: DeltaJson = serde_json::from_str(json).map_err(|e| Error::InvalidModel {
        reason: format!("not a model delta: {e}"),
    })?;
    if delta.format != DELTA_FORMAT || delta.format_version != DELTA_FORMAT_VERSION {
        return Err(Error::InvalidModel {
            reason: format!(
                "format {:?} version {} is not {DELTA_FORMAT:?} version {DELTA_FORMAT_VERSION}",
                delta.format, delta.format_version
            ),
        });
    }
    Ok(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{adapt_model, train, AdaptParams, Example, TrainParams};
    use crate::FeatureSchema;

    /// A base trained on every 40th row of the shipped corpus, those rows, and the base adapted
    /// to a dozen labels from further on.
    fn base_and_adapted() -> (TreeModel, TreeModel, Vec<Example>) {
        let corpus: Vec<Example> = crate::corpus::shipped()
            .iter()
            .step_by(40)
            .cloned()
            .collect();
        let params = TrainParams::default();
        let base = train(&corpus, FeatureSchema::LATEST, &params)
            .unwrap()
            .model;
        let labels: Vec<Example> = crate::corpus::shipped()
            .iter()
            .skip(7)
            .step_by(301)
            .take(12)
            .cloned()
            .collect();
        let adapted = adapt_model(&base, &corpus, &labels, &AdaptParams::default()).unwrap();
        (base, adapted, corpus)
    }

    #[test]
    fn an_adapted_model_is_stored_as_a_small_delta_and_read_back_sharing_its_base() {
        let (base, adapted, corpus) = base_and_adapted();
        let delta = adapted
            .to_delta_json(&base, "base-1")
            .expect("adapted models are deltas");
        assert!(TreeModel::is_delta_json(&delta) && !TreeModel::is_delta_json(&adapted.to_json()));
        assert!(
            delta.len() * 5 < adapted.to_json().len(),
            "{} bytes",
            delta.len()
        );
        assert_eq!(
            adapted.to_delta_json(&base, "base-1").unwrap(),
            delta,
            "deterministic"
        );
        let back = TreeModel::from_delta_json(&delta, &base, "base-1", "p1-v1").unwrap();
        assert_eq!(back, adapted.clone().with_label("p1-v1"));
        assert_eq!(
            back.to_json(),
            adapted.to_json(),
            "exported whole, byte for byte"
        );
        assert!(
            std::ptr::eq(back.trees(), base.trees()),
            "the trees are shared"
        );
        for e in corpus.iter().take(50) {
            let (a, b) = (adapted.route(&e.input()), back.route(&e.input()));
            assert_eq!((a.layer, a.probabilities), (b.layer, b.probabilities));
        }
    }

    #[test]
    fn a_delta_on_another_base_or_of_another_format_is_refused_naming_why() {
        let (base, adapted, _) = base_and_adapted();
        let delta = adapted.to_delta_json(&base, "base-1").unwrap();
        let err = TreeModel::from_delta_json(&delta, &base, "base-2", "p").unwrap_err();
        assert!(matches!(err, Error::InvalidModel { .. }), "{err}");
        assert!(
            err.to_string().contains("base-1") && err.to_string().contains("base-2"),
            "{err}"
        );
        let err = TreeModel::from_json(&delta, "file").unwrap_err();
        assert!(err.to_string().contains("delta"), "{err}");
        let newer = delta.replace("\"format_version\":1", "\"format_version\":2");
        let err = TreeModel::from_delta_json(&newer, &base, "base-1", "p").unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        let whole = TreeModel::from_delta_json(&adapted.to_json(), &base, "base-1", "p");
        assert!(whole.unwrap_err().to_string().contains("not a model delta"));
    }

    #[test]
    fn only_a_model_made_from_the_base_by_changing_text_weights_is_a_delta() {
        let (base, adapted, corpus) = base_and_adapted();
        assert!(
            base.to_delta_json(&adapted, "b").is_none(),
            "the base carries a correction"
        );
        let params = TrainParams {
            seed: 7,
            ..TrainParams::default()
        };
        let other = train(&corpus, FeatureSchema::LATEST, &params)
            .unwrap()
            .model;
        assert!(other.to_delta_json(&base, "b").is_none(), "other trees");
        let unchanged = base.to_delta_json(&base, "b").unwrap();
        let back = TreeModel::from_delta_json(&unchanged, &base, "b", "x").unwrap();
        assert_eq!(back, base.clone().with_label("x"));
    }
}
