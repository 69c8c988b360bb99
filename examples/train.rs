//! Trains a router model from a corpus and evaluates it, or evaluates an existing model file.
//!
//! ```text
//! cargo run --release --example train -- --train FILE.jsonl [--test FILE.jsonl]
//!     [--model-out PATH] [--seed N] [--learning-curve] [--json]
//! cargo run --release --example train -- --model PATH --test FILE.jsonl [--json]
//! ```
//! With `--test`, the training file is split into fit and calibration rows and the figures are
//! measured on the test file; without it, a seeded, stratified 20 % of the training file is held
//! out. `--json` prints exactly one JSON object on stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use athena_memory::corpus::{self, CorpusItem};
use athena_memory::router::train::evaluate;
use athena_memory::router::{train, HeuristicRouter, Metrics, TrainParams, TrainingRow};
use athena_memory::{FeatureSchema, TreeModel};
use serde_json::json;

struct Args {
    train: Option<PathBuf>,
    test: Option<PathBuf>,
    model: Option<PathBuf>,
    model_out: Option<PathBuf>,
    seed: u64,
    learning_curve: bool,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        train: None,
        test: None,
        model: None,
        model_out: None,
        seed: 42,
        learning_curve: false,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => args.train = Some(value()?.into()),
            "--test" => args.test = Some(value()?.into()),
            "--model" => args.model = Some(value()?.into()),
            "--model-out" => args.model_out = Some(value()?.into()),
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--learning-curve" => args.learning_curve = true,
            "--json" => args.json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.train.is_none() && args.model.is_none() {
        return Err(
            "give --train FILE (to train) or --model PATH --test FILE (to evaluate)".into(),
        );
    }
    if args.model.is_some() && args.test.is_none() {
        return Err("--model needs --test FILE".into());
    }
    Ok(args)
}

fn labelled(
    items: &[CorpusItem],
    schema: FeatureSchema,
    path: &Path,
) -> Result<Vec<TrainingRow>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.training_row(schema).ok_or(format!(
                "{}:{}: item has no layer label",
                path.display(),
                i + 1
            ))
        })
        .collect()
}

fn heuristic_accuracy(items: &[CorpusItem]) -> f64 {
    let right = items
        .iter()
        .filter(|i| Some(HeuristicRouter::layer(&i.content)) == i.layer)
        .count();
    right as f64 / items.len().max(1) as f64
}

fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    let load = |p: &Path| corpus::load(p).map_err(|e| e.to_string());
    let schema = FeatureSchema::LATEST;
    let test_items = args.test.as_deref().map(load).transpose()?;

    let (model, train_n, train_seconds, mut report) = if let Some(model_path) = &args.model {
        let model = TreeModel::load(model_path).map_err(|e| e.to_string())?;
        (model, 0, 0.0, json!({ "model": model_path }))
    } else {
        let train_path = args.train.as_deref().expect("checked in parse_args");
        let items = load(train_path)?;
        let rows = labelled(&items, schema, train_path)?;
        let params = TrainParams {
            seed: args.seed,
            evaluation_fraction: if test_items.is_some() { 0.0 } else { 0.2 },
            ..TrainParams::default()
        };
        let started = Instant::now();
        let trained = train(&rows, schema, &params).map_err(|e| e.to_string())?;
        let seconds = started.elapsed().as_secs_f64();
        let mut report = json!({
            "fit_n": trained.fit_n,
            "calibration_n": trained.calibration_n,
            "feature_importance": trained.feature_importance,
        });
        if args.learning_curve {
            let test = test_items.as_ref().ok_or("--learning-curve needs --test")?;
            let test_rows = labelled(test, schema, args.test.as_deref().unwrap())?;
            let mut curve = Vec::new();
            for n in [25, 50, 100, 200, 400, 800, rows.len()] {
                let n = n.min(rows.len());
                let p = TrainParams {
                    min_samples: 1,
                    ..params.clone()
                };
                let accuracy = train(&rows[..n], schema, &p)
                    .map(|t| evaluate(&t.model, &test_rows).accuracy)
                    .ok();
                curve.push(json!({ "labels": n, "accuracy": accuracy }));
            }
            report["learning_curve"] = json!(curve);
        }
        if test_items.is_none() {
            let m = &trained.metrics;
            report["held_out"] = json!(true);
            report["heldout_metrics"] = json!(m);
        }
        (
            trained.model.with_label("trained"),
            rows.len(),
            seconds,
            report,
        )
    };

    let (metrics, test_n, heuristic): (Metrics, usize, Option<f64>) =
        match (&test_items, &args.test) {
            (Some(items), Some(path)) => {
                let rows = labelled(items, model.feature_schema(), path)?;
                (
                    evaluate(&model, &rows),
                    rows.len(),
                    Some(heuristic_accuracy(items)),
                )
            }
            _ => {
                let m: Metrics = serde_json::from_value(report["heldout_metrics"].clone())
                    .map_err(|e| e.to_string())?;
                let n = m.n as usize;
                (m, n, None)
            }
        };
    if let Some(out) = &args.model_out {
        model.save(out).map_err(|e| e.to_string())?;
    }
    let heuristic = match heuristic {
        Some(h) => h,
        None => {
            // Held-out rows are a seeded sample of the training file; score the heuristic on all of it.
            let path = args.train.as_deref().unwrap();
            heuristic_accuracy(&load(path)?)
        }
    };
    let obj = report.as_object_mut().expect("report is an object");
    obj.remove("heldout_metrics");
    for (k, v) in [
        ("train_n", json!(train_n)),
        ("test_n", json!(test_n)),
        ("accuracy", json!(metrics.accuracy)),
        ("macro_f1", json!(metrics.macro_f1)),
        ("ece", json!(metrics.ece)),
        ("heuristic_accuracy", json!(heuristic)),
        ("per_layer", json!(metrics.per_layer)),
        ("confusion", json!(metrics.confusion)),
        ("train_seconds", json!(train_seconds)),
        ("feature_schema", json!(model.feature_schema().name())),
        ("model_out", json!(args.model_out)),
    ] {
        obj.insert(k.to_owned(), v);
    }
    Ok(report)
}

fn main() {
    let json_out = std::env::args().any(|a| a == "--json");
    match run() {
        Ok(report) if json_out => println!("{report}"),
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
