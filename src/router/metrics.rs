//! Evaluation figures: accuracy, macro-F1, per-layer precision/recall/F1/support, the confusion
//! matrix and the expected calibration error.

use crate::layer::Layer;

/// Precision, recall, F1 and support of one layer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerMetrics {
    /// The layer.
    pub layer: Layer,
    /// Of the items routed here, the share that belonged here (0 when none were routed here).
    pub precision: f64,
    /// Of the items that belonged here, the share routed here (0 when none belonged here).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// How many evaluated items belonged here.
    pub support: u32,
}

/// Figures of a router on a set of labelled items.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    /// Items evaluated.
    pub n: u32,
    /// Share routed to the right layer (0 for an empty set).
    pub accuracy: f64,
    /// Unweighted mean of the layers' F1 over the layers that have support or predictions.
    pub macro_f1: f64,
    /// Per-layer figures, in [`Layer::ALL`] order.
    pub per_layer: Vec<LayerMetrics>,
    /// `confusion[true][predicted]`, rows and columns in [`Layer::ALL`] order.
    pub confusion: [[u32; 4]; 4],
    /// Expected calibration error over 10 equal-width confidence bins: the support-weighted mean
    /// gap between confidence and accuracy.
    pub ece: f64,
}

/// Number of confidence bins for [`Metrics::ece`].
const ECE_BINS: usize = 10;

impl Metrics {
    /// How many items were routed to the right layer.
    pub fn correct(&self) -> u32 {
        (0..4).map(|i| self.confusion[i][i]).sum()
    }

    /// Computes the figures from `(true layer, predicted layer, confidence)` triples.
    pub fn compute(outcomes: impl IntoIterator<Item = (Layer, Layer, f64)>) -> Self {
        let mut confusion = [[0u32; 4]; 4];
        let mut bins = [(0u32, 0u32, 0.0f64); ECE_BINS]; // (count, correct, confidence sum)
        let mut n = 0u32;
        for (truth, predicted, confidence) in outcomes {
            n += 1;
            confusion[truth.index()][predicted.index()] += 1;
            let bin = ((confidence.clamp(0.0, 1.0) * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
            bins[bin].0 += 1;
            bins[bin].1 += u32::from(truth == predicted);
            bins[bin].2 += confidence;
        }
        let correct: u32 = (0..4).map(|i| confusion[i][i]).sum();
        let per_layer: Vec<LayerMetrics> = Layer::ALL
            .iter()
            .map(|&layer| LayerMetrics::of(layer, &confusion))
            .collect();
        let present: Vec<&LayerMetrics> = per_layer
            .iter()
            .filter(|m| m.support > 0 || (0..4).any(|t| confusion[t][m.layer.index()] > 0))
            .collect();
        let macro_f1 = if present.is_empty() {
            0.0
        } else {
            present.iter().map(|m| m.f1).sum::<f64>() / present.len() as f64
        };
        let ece = if n == 0 {
            0.0
        } else {
            bins.iter()
                .filter(|b| b.0 > 0)
                .map(|&(count, right, conf)| {
                    let gap = (conf / f64::from(count) - f64::from(right) / f64::from(count)).abs();
                    gap * f64::from(count) / f64::from(n)
                })
                .sum()
        };
        Metrics {
            n,
            accuracy: ratio(correct, n),
            macro_f1,
            per_layer,
            confusion,
            ece,
        }
    }
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

impl LayerMetrics {
    /// Precision, recall, F1 and support of `layer` from a confusion matrix (rows: truth).
    fn of(layer: Layer, confusion: &[[u32; 4]; 4]) -> Self {
        let i = layer.index();
        let tp = confusion[i][i];
        let support: u32 = confusion[i].iter().sum();
        let predicted: u32 = (0..4).map(|t| confusion[t][i]).sum();
        let precision = ratio(tp, predicted);
        let recall = ratio(tp, support);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        LayerMetrics {
            layer,
            precision,
            recall,
            f1,
            support,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Layer::*;

    #[test]
    fn known_answer() {
        // 3 semantic (2 right, 1 -> episodic), 1 episodic (right), 2 procedural (1 right, 1 -> semantic).
        let outcomes = [
            (Semantic, Semantic, 0.9),
            (Semantic, Semantic, 0.9),
            (Semantic, Episodic, 0.6),
            (Episodic, Episodic, 0.6),
            (Procedural, Procedural, 0.95),
            (Procedural, Semantic, 0.95),
        ];
        let m = Metrics::compute(outcomes);
        assert_eq!(m.n, 6);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(m.confusion[0], [2, 1, 0, 0]);
        assert_eq!(m.confusion[2], [1, 0, 1, 0]);
        let s = m.per_layer[0];
        assert!((s.precision - 2.0 / 3.0).abs() < 1e-12 && (s.recall - 2.0 / 3.0).abs() < 1e-12);
        let e = m.per_layer[1];
        assert!((e.precision - 0.5).abs() < 1e-12 && (e.recall - 1.0).abs() < 1e-12);
        // Prospective has neither support nor predictions: left out of the macro average.
        let f1s = [2.0 / 3.0, 2.0 * 0.5 / 1.5, 2.0 * 1.0 * 0.5 / 1.5];
        assert!((m.macro_f1 - f1s.iter().sum::<f64>() / 3.0).abs() < 1e-12);
        // Bin 0.9..1.0 holds 0.9, 0.9, 0.95, 0.95 (3 of 4 right, mean confidence 0.925);
        // bin 0.6..0.7 holds 0.6, 0.6 (1 of 2 right).
        let ece = (4.0 / 6.0) * (0.925 - 0.75) + (2.0 / 6.0) * (0.6 - 0.5);
        assert!((m.ece - ece).abs() < 1e-12, "{}", m.ece);
    }

    #[test]
    fn empty_set_is_all_zero() {
        let m = Metrics::compute([]);
        assert_eq!((m.n, m.accuracy, m.macro_f1, m.ece), (0, 0.0, 0.0, 0.0));
    }
}
