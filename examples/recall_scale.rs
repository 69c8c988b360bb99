//! Measures how recall's cost grows with the store.
//!
//! ```text
//! cargo run --release --example recall_scale -- --memories N [--database-url URL] [--json]
//!     [--queries Q] [--seed S] [--postings-per-term N] [--candidates N]
//! ```
//!
//! Builds `N` memories of generated English-like text in one project, and a tenth as many in
//! each of two other projects (tenancy is part of the cost), with [`Layers::add_semantic_all`] in
//! transactions of 10,000; then times `Q` (default 1,000) natural-language questions of 3 to 12
//! words, `recall(p, question, 10)` each, one after another.
//!
//! The text (`benches/data/synthetic_text.rs`): sentences of 6 to 30 words, about 45 % of them
//! stop words, the rest drawn from a Zipf distribution (exponent 1) over a vocabulary that
//! grows with the store: about 400 common words, then generated rarer ones, as word counts grow
//! in real text (Heaps' law). Questions open with a few stop words and go on with content words
//! drawn the same way, so some are common and some rare, as in an agent's questions.
//!
//! Printed: `memories`, `build_s`, `p50_ms`, `p99_ms` (one recall), `mean_hits`. With `--json`
//! exactly one JSON object on stdout. Default database: a temporary SQLite file.
//!
//! [`Layers::add_semantic_all`]: athena_memory::Layers::add_semantic_all

use std::time::Instant;

use athena_memory::ProjectId;
use athena_memory::{Config, Engine, MemoryType, RecallParams};
use serde_json::json;

#[path = "../benches/data/synthetic_text.rs"]
mod synthetic_text;
use synthetic_text::{Rng, Words};

/// Memories per `remember_all` call (one transaction).
const BATCH: usize = 10_000;

struct Args {
    memories: usize,
    url: Option<String>,
    json: bool,
    queries: usize,
    seed: u64,
    params: RecallParams,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        memories: 0,
        url: None,
        json: false,
        queries: 1000,
        seed: 42,
        params: RecallParams::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--memories" => args.memories = number(value()?)? as usize,
            "--database-url" => args.url = Some(value()?),
            "--json" => args.json = true,
            "--queries" => args.queries = number(value()?)? as usize,
            "--seed" => args.seed = number(value()?)?,
            "--postings-per-term" => args.params.postings_per_term = number(value()?)? as usize,
            "--candidates" => args.params.candidates = number(value()?)? as usize,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.memories == 0 {
        return Err("--memories N (at least 1) is required".into());
    }
    Ok(args)
}

async fn build(engine: &Engine, project: ProjectId, n: usize, words: &Words, rng: &mut Rng) {
    let mut left = n;
    while left > 0 {
        let size = left.min(BATCH);
        let texts = words.memories(rng, size);
        engine
            .layers()
            .add_semantic_all(project, &texts, MemoryType::Fact)
            .await
            .expect("store a batch");
        left -= size;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("recall_scale: {e}");
        std::process::exit(2);
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("recall_scale.db").display()));
    let config = Config::builder(&url)
        .recall(args.params.clone())
        .build()
        .unwrap_or_else(|e| {
            eprintln!("recall_scale: {e}");
            std::process::exit(2);
        });
    let engine = Engine::with_config(config)
        .await
        .expect("open the database");
    let projects = engine.projects();
    let stamp = athena_memory::time::now_ms();
    let mut rng = Rng(args.seed);
    let words = Words::new(args.memories);
    let started = Instant::now();
    let mut main_project = ProjectId(0);
    for (i, share) in [(0, 10), (1, 1), (2, 1)] {
        let path = format!("/recall_scale/{stamp}/{i}");
        let id = projects
            .get_or_create(&path, None)
            .await
            .expect("project")
            .id;
        build(&engine, id, args.memories * share / 10, &words, &mut rng).await;
        if i == 0 {
            main_project = id;
        }
    }
    let build_s = started.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(args.queries);
    let mut hits = 0usize;
    for _ in 0..args.queries {
        let q = words.question(&mut rng);
        let t = Instant::now();
        hits += engine
            .recall(main_project, &q, 10)
            .await
            .expect("recall")
            .len();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    engine.close().await;
    latencies.sort_by(f64::total_cmp);
    let report = json!({
        "memories": args.memories,
        "build_s": build_s,
        "p50_ms": percentile(&latencies, 0.5),
        "p99_ms": percentile(&latencies, 0.99),
        "mean_hits": hits as f64 / args.queries.max(1) as f64,
    });
    if args.json {
        println!("{report}");
    } else {
        for (key, value) in report.as_object().into_iter().flatten() {
            println!("{key:>10}  {value}");
        }
    }
}
