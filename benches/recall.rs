//! Recall benchmarks on a SQLite file: one natural-language question answered (top 10) in a
//! project of 10,000 and of 100,000 memories, beside two other projects a tenth its size. The
//! text is generated (`benches/data/synthetic_text.rs`), the same for every run.
//!
//! ```text
//! cargo bench --bench recall
//! ```
//! For the curve up to a million memories and on PostgreSQL: `examples/recall_scale.rs`.

use athena_memory::ProjectId;
use athena_memory::{Engine, MemoryType};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tokio::runtime::Runtime;

#[path = "data/synthetic_text.rs"]
mod synthetic_text;
use synthetic_text::{Rng, Words};

/// Builds a store of `n` memories in one project (and a tenth as many in two others) and
/// returns the engine, the project and the text generator it used.
async fn store(url: &str, n: usize) -> (Engine, ProjectId, Words) {
    let engine = Engine::open(url).await.unwrap();
    let words = Words::new(n);
    let mut rng = Rng(7);
    let mut main = ProjectId(0);
    for (i, share) in [(0, 10), (1, 1), (2, 1)] {
        let p = engine
            .projects()
            .get_or_create(&format!("/bench/{i}"), None)
            .await
            .unwrap()
            .id;
        let mut left = n * share / 10;
        while left > 0 {
            let size = left.min(10_000);
            let texts = words.memories(&mut rng, size);
            engine
                .layers()
                .add_semantic_all(p, &texts, MemoryType::Fact)
                .await
                .unwrap();
            left -= size;
        }
        if i == 0 {
            main = p;
        }
    }
    (engine, main, words)
}

fn recall(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut group = c.benchmark_group("recall/question_top10");
    group.sample_size(30);
    for n in [10_000usize, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("recall.db").display());
        let (engine, p, words) = rt.block_on(store(&url, n));
        let mut rng = Rng(11);
        let questions: Vec<String> = (0..200).map(|_| words.question(&mut rng)).collect();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % questions.len();
                rt.block_on(engine.recall(p, &questions[i], 10)).unwrap()
            })
        });
        rt.block_on(engine.close());
    }
    group.finish();
}

criterion_group!(benches, recall);
criterion_main!(benches);
