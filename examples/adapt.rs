//! How fast feedback pays off: per project, the router before and after the project's first
//! labels.
//!
//! ```text
//! cargo run --release --example adapt -- --data FILE.jsonl --labels K [--json]
//!     [--database-url URL] [--base-train FILE.jsonl [--kind note|code_comment]]... [--fixed-fields]
//!     [--min-labels N] [--min-lead N] [--max-p P] [--folds N] [--correction-folds N]
//!     [--label-weight W] [--epochs N] [--correction-c C] [--correction-epochs N] [--seed N]
//! ```
//! For each project in FILE (the items' `project` field; items without one are skipped) with at
//! least K + 10 notes, in file order: route its first K notes through the engine and log the
//! routes, give each its correct layer as feedback, call `Engine::train`, then route the
//! project's remaining notes. Prints, per project, on average over projects and pooled over every
//! scored note, the accuracy on the remaining notes before (the shipped default) and after
//! (whatever routes the project once training is done: the adapted model if the evidence
//! activated it, else the default), and the adapted model's accuracy there whether or not it was
//! activated, so the activation rule's choices can be checked. The store is a fresh SQLite file
//! unless `--database-url` says otherwise.
//!
//! `--base-train` (repeatable) is the *design simulation*, which never needs the test file: a
//! base router is trained on those files (as `examples/train` trains the default) and stands in
//! for the shipped default and its corpus; each project's first K notes adapt it with
//! `athena_memory::router::adapt` (what `Engine::train` runs) and the evidence rule decides
//! activation, as in the engine. Adapting `agent_dev_train`'s projects from a base trained on
//! `agent_more_train` + `real_dev_train`, and the other way round, is how the adaptation was
//! designed (README, "Feedback that pays off"). `--min-labels`, `--min-lead`, `--max-p`,
//! `--folds`, `--correction-folds`, `--label-weight`, `--epochs`, `--correction-c`,
//! `--correction-epochs` and `--seed` change the [`AdaptParams`] field of the same name in either
//! mode (another `--seed` deals other folds: how much of a difference between two settings is
//! the folds' luck).
//! `--kind K` after a `--base-train FILE` marks its rows without a `kind` field as notes or code
//! comments, as `examples/train --kind` does (both kinds make the base's text model
//! kind-aware), and `--fixed-fields` trains the base on rows with fresh working-memory fields,
//! as the shipped default is trained (`examples/train --fixed-fields`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use athena_memory::router::{adapt, train, AdaptParams, Example, TrainParams};
use athena_memory::Config;
use athena_memory::ModelScope;
use athena_memory::{corpus, CorpusItem};
use athena_memory::{Engine, FeatureSchema, Router, TextKind};
use serde_json::json;

struct Args {
    data: PathBuf,
    labels: usize,
    database_url: Option<String>,
    /// Files to train the simulation's base router on, each with the kind of text of its rows
    /// without one; empty: the engine and its default.
    base_train: Vec<(PathBuf, Option<TextKind>)>,
    /// Train the simulation's base on fresh fields ([`Example::with_fresh_fields`]).
    fixed_fields: bool,
    adapt: AdaptParams,
}

fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("{flag}: not a valid number: {v}"))
}

fn parse_args() -> Result<Args, String> {
    let (mut data, mut labels, mut database_url) = (None, None, None);
    let (mut base_train, mut adapt) = (Vec::new(), AdaptParams::default());
    let mut fixed_fields = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => data = Some(PathBuf::from(value()?)),
            "--labels" => labels = Some(number::<usize>(&flag, value()?)?),
            "--json" => {}
            "--database-url" => database_url = Some(value()?),
            "--base-train" => base_train.push((PathBuf::from(value()?), None)),
            "--kind" => {
                let kind = value()?.parse().map_err(|e| format!("--kind: {e}"))?;
                base_train
                    .last_mut()
                    .ok_or("--kind follows a --base-train FILE")?
                    .1 = Some(kind);
            }
            "--fixed-fields" => fixed_fields = true,
            "--min-labels" => adapt.min_labels = number(&flag, value()?)?,
            "--folds" => adapt.folds = number(&flag, value()?)?,
            "--correction-folds" => adapt.correction_folds = number(&flag, value()?)?,
            "--min-lead" => adapt.min_lead = number(&flag, value()?)?,
            "--max-p" => adapt.max_p = number(&flag, value()?)?,
            "--label-weight" => adapt.label_weight = number(&flag, value()?)?,
            "--epochs" => adapt.epochs = number(&flag, value()?)?,
            "--correction-c" => adapt.correction_c = number(&flag, value()?)?,
            "--correction-epochs" => adapt.correction_epochs = number(&flag, value()?)?,
            "--seed" => adapt.seed = number(&flag, value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    adapt.validate().map_err(|e| e.to_string())?;
    Ok(Args {
        data: data.ok_or("--data FILE is required")?,
        labels: labels.ok_or("--labels K is required")?,
        database_url,
        base_train,
        fixed_fields,
        adapt,
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

/// The labelled notes of each project with at least `labels + 10` of them, in file order.
fn projects(items: &[CorpusItem], labels: usize) -> BTreeMap<&str, Vec<&CorpusItem>> {
    let mut projects: BTreeMap<&str, Vec<&CorpusItem>> = BTreeMap::new();
    for item in items {
        if let (Some(p), Some(_)) = (&item.project, item.layer) {
            projects.entry(p.as_str()).or_default().push(item);
        }
    }
    projects.retain(|_, notes| notes.len() >= labels + 10);
    projects
}

/// What training did for one project, scored on its notes after the labelled ones.
struct Outcome {
    before: f64,
    after: f64,
    /// The trained model's accuracy, activated or not (`None` when training declined).
    adapted: Option<f64>,
    activated: bool,
    evidence: String,
}

impl Outcome {
    fn row(&self, project: &str, notes: usize, labelled: usize) -> serde_json::Value {
        json!({
            "project": project,
            "notes": notes,
            "labelled": labelled,
            "scored": notes - labelled,
            "before": self.before,
            "after": self.after,
            "adapted": self.adapted,
            "activated": self.activated,
            "evidence": self.evidence,
        })
    }
}

/// Every project through the engine: route and log its first notes, give feedback, train.
async fn through_engine(
    args: &Args,
    projects: &BTreeMap<&str, Vec<&CorpusItem>>,
) -> Result<Vec<serde_json::Value>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("adapt.db").display()));
    let config = Config::builder(&url)
        .retrain_after(None)
        .adaptation(args.adapt.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let engine = Engine::with_config(config)
        .await
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for (name, notes) in projects {
        let outcome = engine_outcome(&engine, name, notes, args.labels)
            .await
            .map_err(|e| e.to_string())?;
        rows.push(outcome.row(name, notes.len(), args.labels));
    }
    engine.close().await;
    Ok(rows)
}

async fn engine_outcome(
    engine: &Engine,
    name: &str,
    notes: &[&CorpusItem],
    labels: usize,
) -> athena_memory::Result<Outcome> {
    let (labelled, rest) = notes.split_at(labels);
    let path = format!("/adapt/{}/{name}", std::process::id());
    let project = engine.projects().get_or_create(&path, None).await?;
    let before = accuracy(&engine.router(project.id).await?, rest);
    for (n, item) in labelled.iter().enumerate() {
        let input = item.as_input();
        let decision = engine.route(project.id, &input).await?;
        let route_id = engine
            .route_log()
            .record(project.id, n as i64 + 1, &input, &decision)
            .await?;
        let layer = item.layer.expect("only labelled items are kept");
        engine.feedback(project.id, route_id, layer).await?;
    }
    let report = engine.train(project.id).await;
    let after = accuracy(&engine.router(project.id).await?, rest);
    let Ok(report) = report else {
        let evidence = report.err().map(|e| e.to_string()).unwrap_or_default();
        return Ok(Outcome {
            before,
            after,
            adapted: None,
            activated: false,
            evidence,
        });
    };
    let stored = engine
        .models()
        .list(ModelScope::Project(project.id))
        .await?;
    let model = stored
        .iter()
        .find(|m| m.version == report.version)
        .expect("the trained version is stored")
        .load()?;
    Ok(Outcome {
        before,
        after,
        adapted: Some(accuracy(&Router::Model(Arc::new(model)), rest)),
        activated: report.activated,
        evidence: report.evidence,
    })
}

/// The design simulation: a base router trained on `args.base_train` stands in for the shipped
/// default and its corpus, and each project adapts it as `Engine::train` would.
fn simulate(
    args: &Args,
    projects: &BTreeMap<&str, Vec<&CorpusItem>>,
) -> Result<Vec<serde_json::Value>, String> {
    let mut corpus_rows = Vec::new();
    for (path, kind) in &args.base_train {
        let mut items = corpus::load(path).map_err(|e| e.to_string())?;
        corpus::mark_kind(&mut items, *kind);
        corpus_rows.extend(items.iter().filter_map(CorpusItem::example));
    }
    let params = TrainParams {
        evaluation_fraction: 0.0,
        ..TrainParams::default()
    };
    let fresh: Vec<Example>;
    let fit_rows = if args.fixed_fields {
        fresh = corpus_rows
            .iter()
            .cloned()
            .map(Example::with_fresh_fields)
            .collect();
        &fresh
    } else {
        &corpus_rows
    };
    let base = train(fit_rows, FeatureSchema::LATEST, &params)
        .map_err(|e| e.to_string())?
        .model
        .with_label("base");
    let baseline = Router::Model(Arc::new(base.clone()));
    let mut rows = Vec::new();
    for (name, notes) in projects {
        let (labelled, rest) = notes.split_at(args.labels);
        let labels: Vec<Example> = labelled.iter().filter_map(|i| i.example()).collect();
        let before = accuracy(&baseline, rest);
        let outcome = match adapt(&base, &corpus_rows, &labels, &baseline, &args.adapt) {
            Ok(adapted) => {
                let candidate = accuracy(&Router::Model(Arc::new(adapted.model)), rest);
                let activated = adapted.evidence.better();
                Outcome {
                    before,
                    after: if activated { candidate } else { before },
                    adapted: Some(candidate),
                    activated,
                    evidence: adapted.evidence.describe(),
                }
            }
            Err(err) => Outcome {
                before,
                after: before,
                adapted: None,
                activated: false,
                evidence: err.to_string(),
            },
        };
        rows.push(outcome.row(name, notes.len(), args.labels));
    }
    Ok(rows)
}

async fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    let items = corpus::load(&args.data).map_err(|e| e.to_string())?;
    let projects = projects(&items, args.labels);
    let rows = if args.base_train.is_empty() {
        through_engine(&args, &projects).await?
    } else {
        simulate(&args, &projects)?
    };
    Ok(summary(&args, rows))
}

/// Means over projects, pooled figures and the activation rule's record.
fn summary(args: &Args, rows: Vec<serde_json::Value>) -> serde_json::Value {
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
    json!({
        "data": args.data,
        "labels": args.labels,
        "base_train": args.base_train.iter().map(|(path, _)| path).collect::<Vec<_>>(),
        "fixed_fields": args.fixed_fields,
        "min_labels": args.adapt.min_labels,
        "min_lead": args.adapt.min_lead,
        "max_p": args.adapt.max_p,
        "folds": args.adapt.folds,
        "correction_folds": args.adapt.correction_folds,
        "label_weight": args.adapt.label_weight,
        "correction_c": args.adapt.correction_c,
        "epochs": args.adapt.epochs,
        "correction_epochs": args.adapt.correction_epochs,
        "seed": args.adapt.seed,
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
    })
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
