//! Measures routing, training and consolidation speed on a corpus and prints the figures.
//!
//! ```text
//! cargo run --release --example throughput -- --data FILE.jsonl [--database-url URL]
//!     [--limit N] [--json]
//! ```
//! - `features_ns_per_item`: schema `v2` features with the default model's text scores.
//! - `route_ns_per_item`: one item at a time through `Engine::route` with the default model.
//! - `route_batch_items_per_s`: `Router::route` over every item in a loop, one core.
//! - `train_seconds`: training the default design on the loaded (labelled) rows.
//! - `wm_add_items_per_s`: `WorkingMemory::add` of every item; past the loop's capacity each add
//!   also moves the weakest item to pending consolidation, in the same transaction.
//! - `consolidate_items_per_s`: those items consolidated through the public API, end to end:
//!   `consolidate_pending` in batches of 1,000, then `consolidate_batch` for the few still
//!   active, on the database (a temporary SQLite file unless `--database-url` is given).
//! - `consolidate_single_p50_us` / `_p99_us`: `consolidate` of one item at a time.
//!
//! With `--json`, exactly one JSON object is printed on stdout.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use athena_memory::corpus;
use athena_memory::router::train;
use athena_memory::Config;
use athena_memory::NewItem;
use athena_memory::{Engine, FeatureSchema, Router};
use athena_memory::{Example, TrainParams};
use serde_json::json;

struct Args {
    data: PathBuf,
    url: Option<String>,
    limit: Option<usize>,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let (mut data, mut url, mut limit, mut json) = (None, None, None, false);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => data = Some(PathBuf::from(value()?)),
            "--database-url" => url = Some(value()?),
            "--limit" => limit = Some(value()?.parse().map_err(|e| format!("--limit: {e}"))?),
            "--json" => json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        data: data.ok_or("--data FILE.jsonl is required")?,
        url,
        limit,
        json,
    })
}

/// Items per consolidation call.
const BATCH: u32 = 5000;

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

async fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    let mut items = corpus::load(&args.data).map_err(|e| e.to_string())?;
    if let Some(limit) = args.limit {
        items.truncate(limit);
    }
    if items.is_empty() {
        return Err(format!("{}: no items", args.data.display()));
    }
    let n = items.len();
    let temp = std::env::temp_dir().join(format!("athena-throughput-{}.db", std::process::id()));
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", temp.display()));
    let config = Config::builder(&url)
        .retrain_after(None)
        .build()
        .map_err(|e| e.to_string())?;
    let engine = Engine::with_config(config)
        .await
        .map_err(|e| e.to_string())?;
    let project = engine
        .projects()
        .get_or_create(&format!("/bench/throughput/{}", std::process::id()), None)
        .await
        .map_err(|e| e.to_string())?
        .id;
    let router = engine.router(project).await.map_err(|e| e.to_string())?;
    let Router::Model(model) = &router else {
        return Err("the default model is not in use".into());
    };

    // Features.
    let started = Instant::now();
    for item in &items {
        black_box(model.features(&item.as_input()));
    }
    let features_ns = started.elapsed().as_nanos() as f64 / n as f64;
    let started = Instant::now();
    for item in &items {
        black_box(FeatureSchema::V1.extract(&item.as_input()));
    }
    let features_v1_ns = started.elapsed().as_nanos() as f64 / n as f64;

    // Routing, one item at a time through the engine, then a batch loop on the router.
    let started = Instant::now();
    for item in &items {
        black_box(
            engine
                .route(project, &item.as_input())
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let route_ns = started.elapsed().as_nanos() as f64 / n as f64;
    let started = Instant::now();
    for item in &items {
        black_box(router.route(&item.as_input()));
    }
    let batch_per_s = n as f64 / started.elapsed().as_secs_f64();

    // Training on the loaded rows.
    let examples: Vec<Example> = items.iter().filter_map(|i| i.example()).collect();
    let train_seconds = if examples.len() >= 10 {
        let started = Instant::now();
        train(&examples, FeatureSchema::LATEST, &TrainParams::default())
            .map_err(|e| e.to_string())?;
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };

    // Consolidation in batches, end to end.
    let wm = engine.working_memory();
    let mut ids = Vec::with_capacity(n);
    let started = Instant::now();
    for item in &items {
        let new = NewItem::new(item.item.content.as_str())
            .component(item.item.component)
            .activation(item.item.activation)
            .importance(item.item.importance);
        ids.push(wm.add(project, new).await.map_err(|e| e.to_string())?.id);
    }
    let add_per_s = n as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut consolidated = 0;
    loop {
        let done = engine
            .consolidate_pending(project, BATCH)
            .await
            .map_err(|e| e.to_string())?
            .consolidated
            .len();
        if done == 0 {
            break;
        }
        consolidated += done;
    }
    let still_active = engine
        .consolidate_batch(project, &ids)
        .await
        .map_err(|e| e.to_string())?;
    consolidated += still_active.consolidated.len();
    let consolidate_per_s = consolidated as f64 / started.elapsed().as_secs_f64();
    if consolidated != n {
        return Err(format!("{consolidated} of {n} items were consolidated"));
    }

    // Single-item consolidation latency.
    let singles = n.min(500);
    let mut single_ids = Vec::with_capacity(singles);
    for item in items.iter().take(singles) {
        single_ids.push(
            wm.add(project, NewItem::new(item.item.content.as_str()))
                .await
                .map_err(|e| e.to_string())?
                .id,
        );
    }
    let mut micros = Vec::with_capacity(singles);
    for id in single_ids {
        let started = Instant::now();
        engine
            .consolidate(project, id)
            .await
            .map_err(|e| e.to_string())?;
        micros.push(started.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);

    let backend = engine.database().backend().as_str();
    engine.close().await;
    if args.url.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", temp.display()));
        }
    }
    Ok(json!({
        "n": n,
        "feature_schema": model.feature_schema().as_str(),
        "features_ns_per_item": features_ns,
        "features_v1_ns_per_item": features_v1_ns,
        "route_ns_per_item": route_ns,
        "route_batch_items_per_s": batch_per_s,
        "train_seconds": train_seconds,
        "train_n": examples.len(),
        "wm_add_items_per_s": add_per_s,
        "consolidate_items_per_s": consolidate_per_s,
        "consolidate_single_p50_us": percentile(&micros, 50.0),
        "consolidate_single_p99_us": percentile(&micros, 99.0),
        "database": backend,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let as_json = parse_args().map(|a| a.json).unwrap_or(false);
    match run().await {
        Ok(report) if as_json => println!("{report}"),
        Ok(report) => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain JSON")
        ),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    }
}
