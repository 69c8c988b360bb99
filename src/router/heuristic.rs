//! The original project's keyword router, reproduced exactly: temporal → episodic, else action →
//! procedural, else future → prospective, else semantic. It is the fallback when no model is
//! available.

use crate::features::{FeatureSchema, RouteInput, V1Markers};
use crate::layer::Layer;
use crate::router::{ModelLabel, RouteDecision};

/// The confidence the heuristic reports for every decision: its measured accuracy on real,
/// human-written text (`real_dev_test.jsonl`, 568 items, 4 balanced classes), which is chance
/// level. Measured with `cargo run --release --example train -- --train
/// ../shared/data/real_dev_train.jsonl --test ../shared/data/real_dev_test.jsonl --json`
/// (`heuristic_accuracy`).
pub const HEURISTIC_CONFIDENCE: f64 = 0.29;

/// Stateless keyword router.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeuristicRouter;

impl HeuristicRouter {
    /// The layer the original's rules pick for `content`.
    pub fn layer(content: &str) -> Layer {
        let m = V1Markers::of(content);
        if m.temporal {
            Layer::Episodic
        } else if m.action {
            Layer::Procedural
        } else if m.future {
            Layer::Prospective
        } else {
            Layer::Semantic
        }
    }

    /// A full decision: the chosen layer gets [`HEURISTIC_CONFIDENCE`], the others share the rest.
    pub fn route(&self, input: &RouteInput<'_>) -> RouteDecision {
        let layer = Self::layer(input.content);
        let rest = (1.0 - HEURISTIC_CONFIDENCE) / 3.0;
        let mut probabilities = [rest; 4];
        probabilities[layer.index()] = HEURISTIC_CONFIDENCE;
        let features = FeatureSchema::V1.extract(input);
        RouteDecision::from_probabilities(
            probabilities,
            Vec::new(),
            ModelLabel::Heuristic,
            FeatureSchema::V1,
            features,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let cases = [
            (
                "Yesterday at 3pm we debugged the auth error in /src/auth/jwt.py",
                Layer::Episodic,
            ),
            (
                "To deploy: run npm build, then docker push, then kubectl apply",
                Layer::Procedural,
            ),
            (
                "JWT tokens provide stateless authentication for REST APIs",
                Layer::Semantic,
            ),
            ("Remember to review the PR later", Layer::Prospective),
            ("You should complete this task tomorrow", Layer::Episodic),
            ("We need to refactor the parser", Layer::Procedural),
        ];
        for (text, expected) in cases {
            assert_eq!(HeuristicRouter::layer(text), expected, "{text}");
        }
    }

    #[test]
    fn decision_carries_the_documented_confidence() {
        let input = RouteInput::new("Remember to review the PR later");
        let d = HeuristicRouter.route(&input);
        assert_eq!(d.layer, Layer::Prospective);
        assert_eq!(d.confidence, HEURISTIC_CONFIDENCE);
        assert_eq!(d.model, "heuristic");
        assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
