//! Storage benchmarks on a SQLite file and, when `ATHENA_BENCH_POSTGRES_URL` (or
//! `ATHENA_TEST_POSTGRES_URL`) names a database, on PostgreSQL: consolidating one item and batches
//! of 100 and 1,000; a working-memory add at capacity (add + displacement); and reading the
//! active items in current-activation order.
//!
//! ```text
//! cargo bench --bench storage
//! ATHENA_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench --bench storage
//! ```

use std::time::{Duration, Instant};

use athena_memory::ProjectId;
use athena_memory::{Component, Engine};
use athena_memory::{ItemState, NewItem};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;

/// The databases to measure: a fresh SQLite file, and PostgreSQL when configured.
fn databases(dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    let mut dbs = vec![(
        "sqlite",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
    )];
    match std::env::var("ATHENA_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("ATHENA_TEST_POSTGRES_URL"))
    {
        Ok(url) if !url.is_empty() => dbs.push(("postgres", url)),
        _ => eprintln!("PostgreSQL benchmarks skipped: set ATHENA_BENCH_POSTGRES_URL to run them"),
    }
    dbs
}

const NOTE: &str = "The layer index 7 of the text is where the release notes for the parser live.";

/// Adds `n` items that end up pending consolidation (a loop of 7 displaces all but 7).
async fn fill(engine: &Engine, project: ProjectId, n: usize) -> Vec<athena_memory::ItemId> {
    let wm = engine.working_memory();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(
            wm.add(project, NewItem::new(format!("{NOTE} #{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    ids
}

fn consolidation(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("consolidate");
    group.sample_size(10);
    for (backend, url) in databases(&dir) {
        let engine = rt.block_on(Engine::open(&url)).unwrap();
        let project = rt
            .block_on(
                engine
                    .projects()
                    .get_or_create(&format!("/bench/consolidate/{}", std::process::id()), None),
            )
            .unwrap()
            .id;
        for batch in [1usize, 100, 1000] {
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(backend, batch), &batch, |b, &batch| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut spent = Duration::ZERO;
                        for _ in 0..iters {
                            let ids = fill(&engine, project, batch).await;
                            let started = Instant::now();
                            let report = engine.consolidate_batch(project, &ids).await.unwrap();
                            spent += started.elapsed();
                            assert_eq!(report.consolidated.len(), batch);
                        }
                        spent
                    })
                })
            });
        }
        rt.block_on(engine.close());
    }
    group.finish();
}

fn working_memory(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("working_memory");
    group.throughput(Throughput::Elements(1));
    for (backend, url) in databases(&dir) {
        let engine = rt.block_on(Engine::open(&url)).unwrap();
        let project = rt
            .block_on(
                engine
                    .projects()
                    .get_or_create(&format!("/bench/wm/{}", std::process::id()), None),
            )
            .unwrap()
            .id;
        let wm = engine.working_memory();
        rt.block_on(fill(&engine, project, 7));
        group.bench_function(BenchmarkId::new("add_at_capacity", backend), |b| {
            b.iter(|| {
                let out = rt
                    .block_on(wm.add(
                        project,
                        NewItem::new(NOTE).component(Component::Phonological),
                    ))
                    .unwrap();
                assert!(out.displaced.is_some());
            })
        });
        group.bench_function(BenchmarkId::new("list_by_activation", backend), |b| {
            b.iter(|| {
                rt.block_on(wm.list(project, Some(Component::Phonological), ItemState::Active))
                    .unwrap()
            })
        });
        rt.block_on(engine.close());
    }
    group.finish();
}

criterion_group!(benches, consolidation, working_memory);
criterion_main!(benches);
