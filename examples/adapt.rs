//! How fast feedback pays off: per project, the router before and after the project's first
//! labels.
//!
//! ```text
//! cargo run --release --example adapt -- --data FILE.jsonl --labels K [--json]
//!     [--database-url URL]
//! ```
//! For each project in FILE (the items' `project` field; items without one are skipped) with at
//! least K + 10 notes, in file order: route its first K notes through the engine and log the
//! routes, give each its correct layer as feedback, call `Engine::train`, then route the
//! project's remaining notes. Prints, per project, on average over projects and pooled over every
//! scored note, the accuracy on the remaining notes before (the shipped default) and after
//! (whatever routes the project once training is done: the adapted model if the evidence
//! activated it, else the default), and the adapted model's accuracy there whether or not it was
//! activated, so the activation rule's choices can be checked. The store is a fresh SQLite file unless `--database-url` says
//! otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use athena_memory::Config;
use athena_memory::ModelScope;
use athena_memory::{corpus, CorpusItem};
use athena_memory::{Engine, Router};
use serde_json::json;

struct Args {
    data: PathBuf,
    labels: usize,
    database_url: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let (mut data, mut labels, mut database_url) = (None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => data = Some(PathBuf::from(value()?)),
            "--labels" => {
                let v = value()?;
                labels = Some(
                    v.parse::<usize>()
                        .map_err(|_| format!("--labels: not a count: {v}"))?,
                )
            }
            "--json" => {}
            "--database-url" => database_url = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        data: data.ok_or("--data FILE is required")?,
        labels: labels.ok_or("--labels K is required")?,
        database_url,
    })
}

/// Share of `items` a router puts in their labelled layer.
fn accuracy(router: &Router, items: &[&CorpusItem]) -> f64 {
    let right = items
        .iter()
        .filter(|i| Some(router.route(&i.as_input()).layer) == i.layer)
        .count();
    right as f64 / items.len().max(1) as f64
}

async fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    let items = corpus::load(&args.data).map_err(|e| e.to_string())?;
    let mut projects: BTreeMap<&str, Vec<&CorpusItem>> = BTreeMap::new();
    for item in &items {
        if let (Some(p), Some(_)) = (&item.project, item.layer) {
            projects.entry(p.as_str()).or_default().push(item);
        }
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("adapt.db").display()));
    let config = Config::builder(&url)
        .retrain_after(None)
        .build()
        .map_err(|e| e.to_string())?;
    let engine = Engine::with_config(config)
        .await
        .map_err(|e| e.to_string())?;
    let e = |err: athena_memory::Error| err.to_string();
    let mut rows = Vec::new();
    let run_id = std::process::id();
    for (name, notes) in &projects {
        if notes.len() < args.labels + 10 {
            continue;
        }
        let (labelled, rest) = notes.split_at(args.labels);
        let path = format!("/adapt/{run_id}/{name}");
        let project = engine
            .projects()
            .get_or_create(&path, None)
            .await
            .map_err(e)?;
        let before = accuracy(&engine.router(project.id).await.map_err(e)?, rest);
        for (n, item) in labelled.iter().enumerate() {
            let input = item.as_input();
            let decision = engine.route(project.id, &input).await.map_err(e)?;
            let route_id = engine
                .route_log()
                .record(project.id, n as i64 + 1, &input, &decision)
                .await
                .map_err(e)?;
            let layer = item.layer.expect("only labelled items are kept");
            engine
                .feedback(project.id, route_id, layer)
                .await
                .map_err(e)?;
        }
        let report = engine.train(project.id).await;
        let after = accuracy(&engine.router(project.id).await.map_err(e)?, rest);
        let (activated, candidate, evidence) = match report {
            Ok(report) => {
                let stored = engine
                    .models()
                    .list(ModelScope::Project(project.id))
                    .await
                    .map_err(e)?;
                let model = stored
                    .iter()
                    .find(|m| m.version == report.version)
                    .ok_or("the trained version is stored")?
                    .load()
                    .map_err(e)?;
                let candidate = accuracy(&Router::Model(Arc::new(model)), rest);
                (report.activated, Some(candidate), report.evidence)
            }
            Err(err) => (false, None, err.to_string()),
        };
        rows.push(json!({
            "project": name,
            "notes": notes.len(),
            "labelled": labelled.len(),
            "scored": rest.len(),
            "before": before,
            "after": after,
            "adapted": candidate,
            "activated": activated,
            "evidence": evidence,
        }));
    }
    engine.close().await;
    let mean = |key: &str| {
        let v: Vec<f64> = rows.iter().filter_map(|r| r[key].as_f64()).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    // Pooled over every scored note, besides the mean over projects.
    let pooled = |key: &str| {
        let (right, n) = rows.iter().fold((0.0, 0.0), |(right, n), r| {
            let scored = r["scored"].as_f64().unwrap_or(0.0);
            (right + r[key].as_f64().unwrap_or(0.0) * scored, n + scored)
        });
        right / f64::max(n, 1.0)
    };
    let activated = rows.iter().filter(|r| r["activated"] == true).count();
    let activated_worse = rows
        .iter()
        .filter(|r| r["activated"] == true && r["after"].as_f64() < r["before"].as_f64())
        .count();
    let inactive_better = rows
        .iter()
        .filter(|r| r["activated"] == false && r["adapted"].as_f64() > r["before"].as_f64())
        .count();
    Ok(json!({
        "data": args.data,
        "labels": args.labels,
        "projects": rows.len(),
        "mean_before": mean("before"),
        "mean_after": mean("after"),
        "mean_gain_points": 100.0 * (mean("after") - mean("before")),
        "mean_adapted": mean("adapted"),
        "overall_before": pooled("before"),
        "overall_after": pooled("after"),
        "activated": activated,
        "activated_and_worse": activated_worse,
        "inactive_but_better": inactive_better,
        "per_project": rows,
    }))
}

fn print_readable(report: &serde_json::Value) {
    println!(
        "{} projects with at least {} notes, first {} labelled",
        report["projects"],
        report["labels"].as_u64().unwrap_or(0) + 10,
        report["labels"]
    );
    println!(
        "{:<12} {:>6} {:>8} {:>8} {:>8} {:>10}",
        "project", "scored", "before", "after", "adapted", "activated"
    );
    for r in report["per_project"].as_array().into_iter().flatten() {
        let pct = |k: &str| {
            r[k].as_f64()
                .map_or("-".to_owned(), |v| format!("{:.1}%", 100.0 * v))
        };
        println!(
            "{:<12} {:>6} {:>8} {:>8} {:>8} {:>10}",
            r["project"].as_str().unwrap_or("?"),
            r["scored"],
            pct("before"),
            pct("after"),
            pct("adapted"),
            r["activated"]
        );
    }
    let pct = |k: &str| 100.0 * report[k].as_f64().unwrap_or(0.0);
    println!(
        "overall, every scored note: before {:.1}%, after {:.1}%",
        pct("overall_before"),
        pct("overall_after")
    );
    println!(
        "mean over projects: before {:.1}%, after {:.1}% ({:+.1} points), adapted {:.1}%; activated {} (worse after activation: {}, better but kept inactive: {})",
        pct("mean_before"),
        pct("mean_after"),
        report["mean_gain_points"].as_f64().unwrap_or(0.0),
        pct("mean_adapted"),
        report["activated"],
        report["activated_and_worse"],
        report["inactive_but_better"]
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // `--json` is also accepted (and skipped) by `parse_args`.
    let as_json = std::env::args().any(|a| a == "--json");
    match run().await {
        Ok(report) if as_json => println!("{report}"),
        Ok(report) => print_readable(&report),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    }
}
