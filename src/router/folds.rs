//! Folds: dealing examples into cross-validation folds, and fitting one model per fold on
//! threads of its own.

use crate::error::Result;
use crate::layer::Layer;
use crate::rng::SplitMix64;
use crate::router::train::Example;

/// `work(fold)` for every fold in `0..folds`, each on a thread of its own, in fold order; the
/// first error if any. The work must not depend on the order threads run in (seed each fold's
/// fitting from its settings, not from a shared generator), so the result is the same as a
/// sequential loop's.
pub(crate) fn per_fold<T: Send>(
    folds: usize,
    work: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..folds)
            .map(|fold| scope.spawn(move || work(fold)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a fold's work does not panic"))
            .collect()
    })
}

/// The fold of each fit position, stratified by layer.
pub(super) fn assign_folds(
    examples: &[Example],
    fit: &[usize],
    folds: usize,
    rng: &mut SplitMix64,
) -> Vec<usize> {
    let mut fold_of = vec![0usize; fit.len()];
    for layer in Layer::ALL {
        let mut positions: Vec<usize> = (0..fit.len())
            .filter(|&p| examples[fit[p]].layer == *layer)
            .collect();
        rng.shuffle(&mut positions);
        for (k, p) in positions.into_iter().enumerate() {
            fold_of[p] = k % folds;
        }
    }
    fold_of
}

/// Each of `n` labels' fold, and the number of folds: `folds` (at most `n`), the labels shuffled
/// by `seed` and dealt in turn.
pub(super) fn deal_folds(n: usize, folds: usize, seed: u64) -> (Vec<usize>, usize) {
    let folds = folds.min(n);
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64(seed).shuffle(&mut order);
    let mut fold_of = vec![0usize; n];
    for (k, &i) in order.iter().enumerate() {
        fold_of[i] = k % folds;
    }
    (fold_of, folds)
}
