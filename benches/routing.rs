//! Routing benchmarks: feature extraction per schema and content length, routing one item
//! (beside the previously shipped model, `benches/data/router-previous.json`, in the same run,
//! and with the kind of text given)
//! and batches with the shipped default model, routing with a project's adapted model (its
//! refitted text model and project correction), explaining a decision, adapting the default to
//! a project's 20 labels (what `Engine::train` does), and training on 1k/10k/20k synthetic rows.
//!
//! ```text
//! cargo bench --bench routing
//! ```
//! Training reads `../shared/data/synthetic_20k.jsonl` (or `ATHENA_BENCH_CORPUS`); without it
//! those benchmarks are skipped with a message.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use athena_memory::corpus;
use athena_memory::router::{adapt, adapt_model, train, AdaptParams};
use athena_memory::{Example, TextLearner, TrainParams};
use athena_memory::{FeatureSchema, Layer, RouteInput, Router, TextKind, TreeModel};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

const SENTENCE: &str = "Returns the number of pending items in the consolidation queue, or an error when the store was closed. ";

fn text_of(chars: usize) -> String {
    SENTENCE.chars().cycle().take(chars).collect()
}

fn input(content: &str) -> RouteInput<'_> {
    RouteInput::new(content).activation(0.8).age_seconds(42.0)
}

fn default_model() -> Arc<TreeModel> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/router-default.json");
    Arc::new(TreeModel::load(&path).expect("models/router-default.json loads"))
}

fn features(c: &mut Criterion) {
    let model = default_model();
    let mut group = c.benchmark_group("features");
    group.throughput(Throughput::Elements(1));
    for chars in [50, 200, 2000] {
        let text = text_of(chars);
        group.bench_with_input(BenchmarkId::new("v1", chars), &text, |b, t| {
            b.iter(|| FeatureSchema::V1.extract(black_box(&input(t))))
        });
        group.bench_with_input(BenchmarkId::new("v2_without_text", chars), &text, |b, t| {
            b.iter(|| FeatureSchema::V2.extract(black_box(&input(t))))
        });
        group.bench_with_input(BenchmarkId::new("v2", chars), &text, |b, t| {
            b.iter(|| model.features(black_box(&input(t))))
        });
        group.bench_with_input(BenchmarkId::new("text_scores", chars), &text, |b, t| {
            let text_model = model
                .text_model()
                .expect("the default model has a text model");
            b.iter(|| text_model.scores(black_box(t), None))
        });
    }
    group.finish();
}

/// The default model shipped before the agent-notes model (naive Bayes text scores, trained on
/// code comments only), kept so every run measures the two side by side.
fn previous_model() -> Arc<TreeModel> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/data/router-previous.json");
    Arc::new(TreeModel::load(&path).expect("benches/data/router-previous.json loads"))
}

/// 20 labels of a made-up project, one layer in four.
fn project_labels() -> Vec<Example> {
    (0..20)
        .map(|i| {
            let (text, layer) = match i % 4 {
                0 => (
                    format!("The queue {i} holds pending items"),
                    Layer::Semantic,
                ),
                1 => (
                    format!("Shipped queue metrics in build {i}"),
                    Layer::Episodic,
                ),
                2 => (
                    format!("Run `make queue-{i}` to drain it"),
                    Layer::Procedural,
                ),
                _ => (format!("Next: shard queue {i}"), Layer::Prospective),
            };
            Example::new(&input(&text), layer)
        })
        .collect()
}

/// The default adapted to [`project_labels`], as `Engine::train` adapts it.
fn adapted_model() -> Arc<TreeModel> {
    let adapted = adapt_model(
        &default_model(),
        corpus::shipped(),
        &project_labels(),
        &AdaptParams::default(),
    )
    .expect("the default model adapts");
    Arc::new(adapted)
}

fn route(c: &mut Criterion) {
    let router = Router::Model(default_model());
    let previous = Router::Model(previous_model());
    let adapted = Router::Model(adapted_model());
    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(1));
    for chars in [50, 200, 2000] {
        let text = text_of(chars);
        group.bench_with_input(BenchmarkId::new("one_item", chars), &text, |b, t| {
            b.iter(|| router.route(black_box(&input(t))))
        });
        group.bench_with_input(
            BenchmarkId::new("one_item_previous", chars),
            &text,
            |b, t| b.iter(|| previous.route(black_box(&input(t)))),
        );
    }
    let text = text_of(200);
    let told = input(&text).kind(Some(TextKind::Note));
    group.bench_function("one_item_told_kind/200", |b| {
        b.iter(|| router.route(black_box(&told)))
    });
    group.bench_function("one_item_adapted/200", |b| {
        b.iter(|| adapted.route(black_box(&input(&text))))
    });
    group.bench_function("explain_200", |b| {
        let d = router.route(&input(&text));
        b.iter(|| router.explain(black_box(&input(&text)), &d))
    });
    let texts: Vec<String> = (0..1000).map(|i| text_of(50 + (i * 37) % 300)).collect();
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("batch_1000", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(router.route(&input(t)));
            }
        })
    });
    group.finish();
}

/// What `Engine::train` costs a project with 20 labels: the cross-validated evidence (10 folds,
/// each an adapted model with its own 5 inner folds) and the final adapted model.
fn adaptation(c: &mut Criterion) {
    let base = default_model();
    let baseline = Router::Model(base.clone());
    let labels = project_labels();
    let mut group = c.benchmark_group("adapt");
    group.sample_size(10);
    group.bench_function("20_labels", |b| {
        b.iter(|| {
            adapt(
                &base,
                corpus::shipped(),
                black_box(&labels),
                &baseline,
                &AdaptParams::default(),
            )
            .unwrap()
        })
    });
    group.finish();
}

fn training(c: &mut Criterion) {
    let path = std::env::var_os("ATHENA_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/synthetic_20k.jsonl")
        });
    let Ok(items) = corpus::load(&path) else {
        eprintln!(
            "skipping training benchmarks: {} is not readable (set ATHENA_BENCH_CORPUS)",
            path.display()
        );
        return;
    };
    let examples: Vec<Example> = items.iter().filter_map(|i| i.example()).collect();
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    for n in [1_000, 10_000, 20_000] {
        if n > examples.len() {
            continue;
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched(
                || examples[..n].to_vec(),
                |rows| train(&rows, FeatureSchema::LATEST, &TrainParams::default()).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    // The previous design (naive Bayes text scores) beside it, in the same run.
    if let Some(rows) = examples.get(..20_000) {
        let params = TrainParams {
            text_learner: TextLearner::NaiveBayes,
            ..TrainParams::default()
        };
        group.bench_function("naive_bayes_20000", |b| {
            b.iter_batched(
                || rows.to_vec(),
                |rows| train(&rows, FeatureSchema::LATEST, &params).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, features, route, adaptation, training);
criterion_main!(benches);
