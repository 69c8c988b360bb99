//! Corpus files: JSON Lines of working-memory items, optionally labelled with their correct
//! layer (the format of `../shared/data/README.md`). Used by the examples and by offline training.

use std::io::BufRead;
use std::path::Path;

use crate::error::{Error, Result};
use crate::features::RouteInput;
use crate::item::Component;
use crate::layer::Layer;
use crate::router::Example;

/// One corpus line.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusItem {
    /// The item's text.
    pub content: String,
    /// Its component.
    pub component: Component,
    /// Stored activation A0, 0..=1.
    pub activation: f64,
    /// Importance, 0..=1.
    pub importance: f64,
    /// Seconds spent in working memory.
    pub age_s: f64,
    /// The correct layer, when labelled.
    #[serde(default)]
    pub layer: Option<Layer>,
}

impl CorpusItem {
    /// The item as the router sees it.
    pub fn as_input(&self) -> RouteInput<'_> {
        RouteInput {
            content: &self.content,
            component: self.component,
            activation: self.activation,
            importance: self.importance,
            age_seconds: self.age_s,
        }
    }

    /// The item as a training example, when it is labelled.
    pub fn example(&self) -> Option<Example> {
        self.layer
            .map(|layer| Example::new(&self.as_input(), layer))
    }
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
        let item: CorpusItem =
            serde_json::from_str(&line).map_err(|e| parse_error(e.to_string()))?;
        for (field, value) in [
            ("activation", item.activation),
            ("importance", item.importance),
        ] {
            crate::error::check_unit(field, value).map_err(|e| parse_error(e.to_string()))?;
        }
        if !(item.age_s.is_finite() && item.age_s >= 0.0) {
            return Err(parse_error(format!(
                "invalid age_s: must be a finite number >= 0, got {}",
                item.age_s
            )));
        }
        items.push(item);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

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
