//! Corpus files: JSON Lines of working-memory items, optionally labelled with their correct
//! layer (the format of `../shared/data/README.md`). Used by the examples and by offline training.

use std::io::BufRead;
use std::path::Path;

use crate::component::Component;
use crate::error::{Error, Result};
use crate::features::{OwnedRouteInput, RouteInput, TextKind};
use crate::layer::Layer;
use crate::router::Example;

/// One corpus line: an item, and its correct layer when labelled.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(from = "CorpusLine", into = "CorpusLine")]
pub struct CorpusItem {
    /// The item as the router sees it. A line's `kind` (`"note"` or `"code_comment"`), when
    /// given, is read with that kind's weights, and guessed otherwise; training counts an
    /// unmarked row as a note. Training on both kinds makes the text model kind-aware (see
    /// [`crate::TextModel::fit_logistic_kinded`]).
    pub item: OwnedRouteInput,
    /// The correct layer, when labelled.
    pub layer: Option<Layer>,
    /// The project the item came from, when known: an opaque id. Items of one project share a
    /// style, so it groups cross-validation folds and the per-project adaptation benchmark.
    pub project: Option<String>,
}

/// A corpus line as the file spells it (`age_s` for the age; no other field allowed).
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct CorpusLine {
    content: String,
    component: Component,
    activation: f64,
    importance: f64,
    age_s: f64,
    #[serde(default)]
    layer: Option<Layer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<TextKind>,
}

impl From<CorpusLine> for CorpusItem {
    fn from(line: CorpusLine) -> Self {
        CorpusItem {
            item: OwnedRouteInput {
                content: line.content,
                component: line.component,
                activation: line.activation,
                importance: line.importance,
                age_seconds: line.age_s,
                kind: line.kind,
            },
            layer: line.layer,
            project: line.project,
        }
    }
}

impl From<CorpusItem> for CorpusLine {
    fn from(c: CorpusItem) -> Self {
        CorpusLine {
            content: c.item.content,
            component: c.item.component,
            activation: c.item.activation,
            importance: c.item.importance,
            age_s: c.item.age_seconds,
            layer: c.layer,
            project: c.project,
            kind: c.item.kind,
        }
    }
}

impl CorpusItem {
    /// The item as the router sees it.
    pub fn as_input(&self) -> RouteInput<'_> {
        self.item.as_input()
    }

    /// The item as a training example, when it is labelled.
    pub fn example(&self) -> Option<Example> {
        self.layer
            .map(|layer| Example::new(&self.as_input(), layer))
    }
}

/// The corpus the shipped default model was trained on (`models/router-corpus.jsonl`: the
/// `agent_dev_train`, `agent_more_train`, `agent_extra_train` and `real_dev_train` files of the
/// shared data, with their project ids), compiled in. A project's router is adapted from it (see
/// [`crate::router::adapt()`]), so feedback never has to start from nothing.
pub fn shipped() -> &'static [Example] {
    static SHIPPED: std::sync::OnceLock<Vec<Example>> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(|| {
        read(
            include_str!("../models/router-corpus.jsonl").as_bytes(),
            Path::new("models/router-corpus.jsonl"),
        )
        .expect("the shipped corpus is valid (tested)")
        .iter()
        .filter_map(CorpusItem::example)
        .collect()
    })
}

/// Reads a corpus file. Blank lines are skipped.
///
/// # Errors
/// [`Error::Io`] when unreadable; [`Error::Parse`] naming the file and 1-based line number for a
/// malformed line or an out-of-range activation or importance.
pub fn load(path: &Path) -> Result<Vec<CorpusItem>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    read(std::io::BufReader::new(file), path)
}

/// Reads corpus lines from any reader; `origin` names it in errors (e.g. `<stdin>`).
///
/// # Errors
/// As [`load`].
pub fn read(reader: impl BufRead, origin: &Path) -> Result<Vec<CorpusItem>> {
    let mut items = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let parse_error = |message: String| Error::Parse {
            path: origin.to_owned(),
            line: n + 1,
            message,
        };
        let line = line.map_err(|e| parse_error(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: CorpusItem =
            serde_json::from_str(&line).map_err(|e| parse_error(e.to_string()))?;
        let fields = &parsed.item;
        for (field, value) in [
            ("activation", fields.activation),
            ("importance", fields.importance),
        ] {
            crate::error::check_unit(field, value).map_err(|e| parse_error(e.to_string()))?;
        }
        if !(fields.age_seconds.is_finite() && fields.age_seconds >= 0.0) {
            return Err(parse_error(format!(
                "invalid age_s: must be a finite number >= 0, got {}",
                fields.age_seconds
            )));
        }
        items.push(parsed);
    }
    Ok(items)
}

/// Gives every item of `items` that does not say its kind of text the kind `kind`, as a caller
/// who knows a whole file holds notes (or code comments) would; items that say their kind keep
/// it, and `None` changes nothing. The examples' `--kind` flags do this.
pub fn mark_kind(items: &mut [CorpusItem], kind: Option<TextKind>) {
    for item in items {
        item.item.kind = item.item.kind.or(kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_corpus_is_labelled_and_carries_projects() {
        let items = read(
            include_str!("../models/router-corpus.jsonl").as_bytes(),
            Path::new("shipped"),
        )
        .unwrap();
        assert_eq!(shipped().len(), items.len());
        assert!(items.iter().all(|i| i.layer.is_some()));
        let with_project = items.iter().filter(|i| i.project.is_some()).count();
        assert!(
            with_project > 4000 && with_project < items.len(),
            "{with_project}"
        );
    }

    #[test]
    fn a_line_writes_back_as_the_file_spells_it() {
        let line = r#"{"content": "Add retry", "component": "visuospatial", "activation": 0.25, "importance": 0.75, "age_s": 12.5, "layer": "episodic", "project": "p1"}"#;
        let item = read(line.as_bytes(), Path::new("w")).unwrap().remove(0);
        assert_eq!(item.item.age_seconds, 12.5);
        assert_eq!(item.item.component, Component::Visuospatial);
        let written = serde_json::to_value(&item).unwrap();
        let original: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(written, original);
        let example = serde_json::to_value(item.example().unwrap()).unwrap();
        assert_eq!(example["age_seconds"], 12.5);
        assert_eq!(example["content"], "Add retry");
    }

    #[test]
    fn the_kind_field_is_optional_and_carried_into_examples() {
        let line = r#"{"content": "Add retry", "component": "phonological", "activation": 1.0, "importance": 0.5, "age_s": 0, "layer": "episodic", "kind": "code_comment"}"#;
        let items = read(line.as_bytes(), Path::new("k")).unwrap();
        assert_eq!(items[0].item.kind, Some(TextKind::CodeComment));
        assert_eq!(
            items[0].example().unwrap().item.kind,
            Some(TextKind::CodeComment)
        );
        let without = line.replace(r#", "kind": "code_comment""#, "");
        let items = read(without.as_bytes(), Path::new("k")).unwrap();
        assert_eq!(items[0].item.kind, None);
        assert_eq!(items[0].example().unwrap().item.kind, None);
        let mut both = read(format!("{line}\n{without}").as_bytes(), Path::new("k")).unwrap();
        mark_kind(&mut both, None);
        assert_eq!(both[1].item.kind, None);
        mark_kind(&mut both, Some(TextKind::Note));
        let kinds: Vec<_> = both.iter().map(|i| i.item.kind).collect();
        assert_eq!(kinds, [Some(TextKind::CodeComment), Some(TextKind::Note)]);
        let err = read(
            line.replace("code_comment", "poem").as_bytes(),
            Path::new("bad.jsonl"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bad.jsonl:1") && err.contains("poem"), "{err}");
    }

    #[test]
    fn the_project_field_is_optional_and_read() {
        let line = r#"{"content": "Next: add caching", "component": "phonological", "activation": 1.0, "importance": 0.5, "age_s": 0, "layer": "prospective", "project": "p007"}"#;
        let items = read(line.as_bytes(), Path::new("p")).unwrap();
        assert_eq!(items[0].project.as_deref(), Some("p007"));
        let without = line.replace(r#", "project": "p007""#, "");
        assert_eq!(
            read(without.as_bytes(), Path::new("p")).unwrap()[0].project,
            None
        );
        let err = read(
            line.replace(r#""p007""#, "7").as_bytes(),
            Path::new("bad.jsonl"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("bad.jsonl:1:"), "{err}");
        let round = serde_json::to_string(&items[0]).unwrap();
        assert_eq!(read(round.as_bytes(), Path::new("r")).unwrap(), items);
    }

    #[test]
    fn reads_items_and_names_the_bad_line() {
        let good = r#"{"content": "x", "component": "phonological", "activation": 0.5, "importance": 0.1, "age_s": 3.0, "layer": "episodic"}"#;
        let items = read(
            format!("{good}\n\n{good}\n").as_bytes(),
            Path::new("c.jsonl"),
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].layer, Some(Layer::Episodic));

        let unlabelled = good.replace(r#", "layer": "episodic""#, "");
        assert_eq!(
            read(unlabelled.as_bytes(), Path::new("u")).unwrap()[0].layer,
            None
        );

        let bad = format!("{good}\n{}\n", good.replace("0.5", "1.5"));
        let err = read(bad.as_bytes(), Path::new("c.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("c.jsonl:2:") && err.contains("activation"),
            "{err}"
        );
        let err = read("{oops".as_bytes(), Path::new("d.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("d.jsonl:1:"), "{err}");
        let err = read(
            good.replace("episodic\"", "nowhere\"").as_bytes(),
            Path::new("e"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("nowhere"), "{err}");
    }
}
