//! Fitting: a corpus as token ids, and multinomial logistic regression by seeded AdaGrad.

use super::softmax;
use super::tokens::for_each_token;
use super::TokenMap;
use crate::error::{Error, Result};
use crate::layer::Layer;

/// Examples as token ids: each distinct token's hash (`keys`), each document's token ids with
/// its class index and weight, and each token's weighted document frequency.
pub(super) struct TokenisedCorpus {
    pub(super) keys: Vec<u64>,
    pub(super) docs: Vec<(Vec<u32>, usize, f64)>,
    pub(super) df: Vec<f64>,
}

impl TokenisedCorpus {
    pub(super) fn of<'a>(
        examples: impl IntoIterator<Item = (&'a str, Layer, f64)>,
    ) -> Result<Self> {
        Self::of_tokens(examples.into_iter().map(|(text, layer, weight)| {
            let mut tokens = Vec::new();
            for_each_token(text, |t| tokens.push(t));
            (tokens, layer.index(), weight)
        }))
    }

    /// Examples given as token lists with a class index (0–3) and a weight.
    pub(super) fn of_tokens(
        examples: impl IntoIterator<Item = (Vec<u64>, usize, f64)>,
    ) -> Result<Self> {
        let mut index: TokenMap<u32> = TokenMap::default();
        let mut corpus = TokenisedCorpus {
            keys: Vec::new(),
            docs: Vec::new(),
            df: Vec::new(),
        };
        for (tokens, class, weight) in examples {
            if !(weight.is_finite() && weight > 0.0) {
                return Err(Error::invalid(
                    "weight",
                    format!("must be a finite number > 0, got {weight}"),
                ));
            }
            let mut ids = Vec::with_capacity(tokens.len());
            for t in tokens {
                let id = *index.entry(t).or_insert_with(|| {
                    corpus.keys.push(t);
                    corpus.df.push(0.0);
                    (corpus.keys.len() - 1) as u32
                });
                ids.push(id);
            }
            ids.sort_unstable();
            let mut last = None;
            for &id in &ids {
                if last != Some(id) {
                    corpus.df[id as usize] += weight;
                    last = Some(id);
                }
            }
            corpus.docs.push((ids, class, weight));
        }
        Ok(corpus)
    }
}

/// Multinomial logistic regression by AdaGrad over `docs` in a seeded order: token weights
/// (features scaled by 1/√length) and class biases. Token weights and their AdaGrad sums are
/// f32: half the memory traffic of f64, and the stored weights are f32 anyway; biases and
/// scores stay f64. `reg` is each token's L2 share per occurrence. `offsets`, when not empty,
/// holds one fixed score per document and layer added before the softmax: the model then learns
/// a correction of those scores rather than scores of its own.
pub(super) fn adagrad(
    docs: &[(Vec<u32>, usize, f64)],
    offsets: &[[f64; 4]],
    reg: &[f32],
    epochs: usize,
    seed: u64,
) -> (Vec<[f32; 4]>, [f64; 4]) {
    // Each token's weights beside its AdaGrad sums, so that the update of a token reads one
    // cache line instead of two far apart: a vocabulary of a shipped model's size (about 200,000
    // tokens) does not fit in cache and a document's tokens are scattered over it, so the loop
    // waits on memory (BENCHMARKS.md has the adaptation times).
    let mut slots = vec![TokenSlot::default(); reg.len()];
    let (mut bias, mut bias_g2) = ([0.0f64; 4], [0.0f64; 4]);
    let mut order: Vec<usize> = (0..docs.len()).collect();
    let mut rng = crate::rng::SplitMix64(seed);
    for _ in 0..epochs {
        rng.shuffle(&mut order);
        for &d in &order {
            let (ids, class, weight) = &docs[d];
            let x = 1.0 / (ids.len().max(1) as f32).sqrt();
            let mut sum = [0.0f32; 4];
            for &id in ids {
                let wi = &slots[id as usize].w;
                for k in 0..4 {
                    sum[k] += wi[k];
                }
            }
            let offset = offsets.get(d).copied().unwrap_or([0.0; 4]);
            let z: [f64; 4] = std::array::from_fn(|k| offset[k] + bias[k] + f64::from(x * sum[k]));
            let p = softmax(z);
            let g: [f64; 4] =
                std::array::from_fn(|k| weight * (p[k] - f64::from(u8::from(k == *class))));
            for k in 0..4 {
                bias_g2[k] += g[k] * g[k];
                bias[k] -= f64::from(RATE) * g[k] / (bias_g2[k].sqrt() + 1e-8);
            }
            let gx: [f32; 4] = std::array::from_fn(|k| g[k] as f32 * x);
            let weight = *weight as f32;
            for &id in ids {
                let id = id as usize;
                slots[id].step(gx, weight * reg[id]);
            }
        }
    }
    (slots.into_iter().map(|slot| slot.w).collect(), bias)
}

/// AdaGrad's learning rate.
const RATE: f32 = 0.5;

/// One token's class weights and their AdaGrad sums of squared gradients, side by side.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TokenSlot {
    pub(super) w: [f32; 4],
    pub(super) g2: [f32; 4],
}

impl TokenSlot {
    /// One AdaGrad step: `gx` the loss gradient for each class times the token's feature value,
    /// `r` its L2 share for this occurrence.
    #[inline]
    pub(super) fn step(&mut self, gx: [f32; 4], r: f32) {
        for ((w, g2), gx) in self.w.iter_mut().zip(&mut self.g2).zip(gx) {
            let grad = gx + r * *w;
            *g2 += grad * grad;
            *w -= RATE * grad / (g2.sqrt() + 1e-8);
        }
    }
}
