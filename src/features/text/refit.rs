//! Refitting the weights of a few tokens: a trained logistic text model adapted to a project's
//! labels by moving only the layer weights of the tokens those labels contain, so that what a
//! project changes is a small set of weights.

use super::fit::TokenSlot;
use super::tokens::{for_each_token, token, COPY_SALT};
use super::{softmax, TextKind, TextLearner, TextModel, TokenMap};
use crate::error::{Error, Result};
use crate::layer::Layer;

/// One training row as the refit reads it: the free tokens' slots, the sum of the fixed
/// tokens' weights, how many tokens it has, its class and its weight.
struct Row {
    free: Vec<u32>,
    fixed: [f32; 4],
    len: usize,
    class: usize,
    weight: f64,
}

impl TextModel {
    /// Refits the layer weights of the tokens `labels` contain (each token's shared weight and,
    /// in a kind-aware model, its copy for the label's kind), starting from this model's
    /// weights, on `corpus` plus `labels`: the objective a refit of the whole model on them
    /// minimises ([`TextModel::fit_logistic_kinded`], same regularisation), optimised over
    /// those weights alone, by `epochs` passes of AdaGrad in a seeded order. Every other
    /// weight, the biases and the kind classifier stay as they are, so the result differs from
    /// this model only in the returned tokens: [`TextModel::differing_tokens`] lists them.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `model` when this is not a logistic-regression model, on
    /// `text_epochs` when `epochs` is 0, on `weight` for a weight that is not a finite positive
    /// number.
    pub fn refit_label_tokens<'a>(
        &self,
        corpus: impl IntoIterator<Item = (&'a str, Layer, f64, TextKind)>,
        labels: impl IntoIterator<Item = (&'a str, Layer, f64, TextKind)>,
        epochs: usize,
        seed: u64,
    ) -> Result<TextModel> {
        if self.learner() != TextLearner::Logistic {
            return Err(Error::invalid(
                "model",
                "only a logistic-regression text model can be refitted",
            ));
        }
        if epochs == 0 {
            return Err(Error::invalid("text_epochs", "must be at least 1"));
        }
        let labels: Vec<(Vec<u64>, Layer, f64)> = labels
            .into_iter()
            .map(|(text, layer, weight, kind)| (self.row_tokens(text, kind), layer, weight))
            .collect();
        let (free, keys) = free_tokens(&labels);
        let corpus = corpus
            .into_iter()
            .map(|(text, layer, weight, kind)| (self.row_tokens(text, kind), layer, weight));
        let mut rows = Vec::new();
        let mut df = vec![0.0f64; keys.len()];
        for (tokens, layer, weight) in labels.into_iter().chain(corpus) {
            if let Some(row) = self.refit_row(&tokens, &free, layer, weight)? {
                let mut seen = row.free.clone();
                seen.sort_unstable();
                seen.dedup();
                seen.iter().for_each(|&s| df[s as usize] += weight);
                rows.push(row);
            }
        }
        let c = self.regularisation();
        let reg: Vec<f32> = df.iter().map(|d| (1.0 / (c * d)) as f32).collect();
        let start: Vec<[f32; 4]> = keys
            .iter()
            .map(|&t| self.table.get(t).copied().unwrap_or_default())
            .collect();
        let weights = adagrad_from(&rows, &start, self.scoring.constants(), &reg, epochs, seed);
        Ok(self.with_changes(keys.into_iter().zip(weights)))
    }

    /// The tokens of a text of `kind` whose layer weights score it: its tokens and, for a
    /// kind-aware model, their copies for its kind.
    fn row_tokens(&self, text: &str, kind: TextKind) -> Vec<u64> {
        let mut tokens = Vec::new();
        for_each_token(text, |t| tokens.push(t));
        if self.is_kind_aware() {
            let salt = COPY_SALT[kind as usize];
            let copies: Vec<u64> = tokens.iter().map(|&t| token(salt, t)).collect();
            tokens.extend(copies);
        }
        tokens
    }

    /// The refit's view of one row, `None` when it holds none of the free tokens (nothing in
    /// it moves).
    fn refit_row(
        &self,
        tokens: &[u64],
        free: &TokenMap<u32>,
        layer: Layer,
        weight: f64,
    ) -> Result<Option<Row>> {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(Error::invalid(
                "weight",
                format!("must be a finite number > 0, got {weight}"),
            ));
        }
        let mut row = Row {
            free: Vec::new(),
            fixed: [0.0; 4],
            len: tokens.len(),
            class: layer.index(),
            weight,
        };
        for t in tokens {
            match free.get(t) {
                Some(&slot) => row.free.push(slot),
                None => {
                    if let Some(w) = self.table.get(*t) {
                        row.fixed.iter_mut().zip(w).for_each(|(f, w)| *f += w);
                    }
                }
            }
        }
        Ok((!row.free.is_empty()).then_some(row))
    }

    /// The tokens whose weights differ between this model and `base`, with this model's
    /// weights: what a refit of a few tokens changed.
    pub fn differing_tokens(&self, base: &TextModel) -> Vec<(u64, [f32; 4])> {
        let differs = |(t, w): &(u64, [f32; 4])| base.table.get(*t) != Some(w);
        let mut changed: Vec<(u64, [f32; 4])> = if self.table.shares_table_with(&base.table) {
            // Only the changes of either can differ.
            let mine = self.table.changes().map(|(t, _)| t);
            let keys: TokenMap<()> = mine
                .chain(base.table.changes().map(|(t, _)| t))
                .map(|t| (t, ()))
                .collect();
            keys.into_keys()
                .filter_map(|t| Some((t, *self.table.get(t)?)))
                .filter(differs)
                .collect()
        } else {
            self.table.entries().filter(differs).collect()
        };
        changed.sort_unstable_by_key(|e| e.0);
        changed
    }
}

/// The tokens of `labels`, each with its slot among the free weights, and the slots' tokens.
fn free_tokens(labels: &[(Vec<u64>, Layer, f64)]) -> (TokenMap<u32>, Vec<u64>) {
    let mut free: TokenMap<u32> = TokenMap::default();
    let mut keys = Vec::new();
    for &t in labels.iter().flat_map(|(tokens, ..)| tokens) {
        free.entry(t).or_insert_with(|| {
            keys.push(t);
            (keys.len() - 1) as u32
        });
    }
    (free, keys)
}

/// AdaGrad over `rows` in a seeded order from the weights `start`, the biases held at `bias`:
/// the free tokens' weights after `epochs` passes. `reg` is each free token's L2 share per
/// occurrence, as in [`super::fit::adagrad`].
fn adagrad_from(
    rows: &[Row],
    start: &[[f32; 4]],
    bias: [f64; 4],
    reg: &[f32],
    epochs: usize,
    seed: u64,
) -> Vec<[f32; 4]> {
    let mut slots: Vec<TokenSlot> = start
        .iter()
        .map(|&w| TokenSlot { w, g2: [0.0; 4] })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = crate::rng::SplitMix64(seed);
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        for &r in &order {
            let row = &rows[r];
            let x = 1.0 / (row.len.max(1) as f32).sqrt();
            let mut sum = row.fixed;
            for &id in &row.free {
                let w = &slots[id as usize].w;
                sum.iter_mut().zip(w).for_each(|(s, w)| *s += w);
            }
            let z: [f64; 4] = std::array::from_fn(|k| bias[k] + f64::from(x * sum[k]));
            let p = softmax(z);
            let g: [f64; 4] =
                std::array::from_fn(|k| row.weight * (p[k] - f64::from(u8::from(k == row.class))));
            let gx: [f32; 4] = std::array::from_fn(|k| g[k] as f32 * x);
            let weight = row.weight as f32;
            for &id in &row.free {
                let id = id as usize;
                slots[id].step(gx, weight * reg[id]);
            }
        }
    }
    slots.into_iter().map(|s| s.w).collect()
}
