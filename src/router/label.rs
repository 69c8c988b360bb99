//! [`ModelLabel`]: which model made a decision, with one textual form.

use crate::ids::ProjectId;
use std::fmt;
use std::sync::Arc;

/// Which model made a decision: what decisions, logged routes, training reports and routing
/// statistics carry.
///
/// Its one textual form (`Display`, `FromStr`, JSON and the database) is `heuristic`,
/// `override`, `default`, `p<project>-v<version>` for a project's stored model,
/// `global-v<version>` for a global one, or any other name for a model read from a file (its
/// file's stem). Parsing never fails: a text of none of the first forms is a [`Self::Named`].
///
/// ```
/// use athena_memory::{ModelLabel, ProjectId};
///
/// let label: ModelLabel = "p7-v2".parse().unwrap();
/// assert_eq!(label, ModelLabel::Project { project_id: ProjectId(7), version: 2 });
/// assert_eq!(label.to_string(), "p7-v2");
/// assert_eq!("default".parse::<ModelLabel>().unwrap(), ModelLabel::Default);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelLabel {
    /// The original keyword rules ([`crate::HeuristicRouter`]).
    Heuristic,
    /// A layer the caller chose ([`crate::Engine::consolidate_as`]).
    Override,
    /// The routing base's model (by default the shipped one, [`crate::RoutingBase`]).
    Default,
    /// Version `version` of project `project_id`'s models.
    Project {
        /// The project.
        project_id: ProjectId,
        /// The version, from 1.
        version: i64,
    },
    /// Version `version` of the global models.
    Global {
        /// The version, from 1.
        version: i64,
    },
    /// Any other model, e.g. one read from a file: its name.
    Named(Arc<str>),
}

impl ModelLabel {
    /// A label of any other name (see [`Self::Named`]); a name of one of the other forms is
    /// that form.
    pub fn named(name: &str) -> Self {
        name.parse()
            .unwrap_or_else(|never: std::convert::Infallible| match never {})
    }
}

impl fmt::Display for ModelLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelLabel::Heuristic => f.write_str("heuristic"),
            ModelLabel::Override => f.write_str("override"),
            ModelLabel::Default => f.write_str("default"),
            ModelLabel::Project {
                project_id,
                version,
            } => write!(f, "p{project_id}-v{version}"),
            ModelLabel::Global { version } => write!(f, "global-v{version}"),
            ModelLabel::Named(name) => f.write_str(name),
        }
    }
}

impl std::str::FromStr for ModelLabel {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |digits: &str| {
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<i64>().ok())
                .flatten()
        };
        let project = s
            .strip_prefix('p')
            .and_then(|rest| rest.split_once("-v"))
            .and_then(|(p, v)| Some((number(p)?, number(v)?)));
        let global = s.strip_prefix("global-v").and_then(number);
        Ok(match (s, project, global) {
            ("heuristic", ..) => ModelLabel::Heuristic,
            ("override", ..) => ModelLabel::Override,
            ("default", ..) => ModelLabel::Default,
            (_, Some((project_id, version)), _) => ModelLabel::Project {
                project_id: ProjectId(project_id),
                version,
            },
            (_, _, Some(version)) => ModelLabel::Global { version },
            _ => ModelLabel::Named(Arc::from(s)),
        })
    }
}

impl From<String> for ModelLabel {
    fn from(s: String) -> Self {
        ModelLabel::named(&s)
    }
}

impl From<&str> for ModelLabel {
    fn from(s: &str) -> Self {
        ModelLabel::named(s)
    }
}

/// Compares the textual form.
impl PartialEq<str> for ModelLabel {
    fn eq(&self, other: &str) -> bool {
        match self {
            ModelLabel::Named(name) => &**name == other,
            _ => *self == ModelLabel::named(other),
        }
    }
}

/// Compares the textual form.
impl PartialEq<&str> for ModelLabel {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl serde::Serialize for ModelLabel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ModelLabel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(ModelLabel::named(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_round_trips_through_its_text() {
        let labels = [
            ModelLabel::Heuristic,
            ModelLabel::Override,
            ModelLabel::Default,
            ModelLabel::Project {
                project_id: ProjectId(12),
                version: 3,
            },
            ModelLabel::Global { version: 1 },
            ModelLabel::named("router-default"),
        ];
        for label in labels {
            let text = label.to_string();
            assert_eq!(ModelLabel::named(&text), label, "{text}");
            assert_eq!(label, text.as_str());
            let json = serde_json::to_string(&label).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<ModelLabel>(&json).unwrap(), label);
        }
    }

    #[test]
    fn near_misses_are_names() {
        for text in [
            "p-v1",
            "p7-v",
            "px-v2",
            "global-v",
            "global-vx",
            "p7-v2x",
            "Default",
        ] {
            assert_eq!(
                ModelLabel::named(text),
                ModelLabel::Named(Arc::from(text)),
                "{text}"
            );
        }
    }
}
