//! Trains a router model from a corpus and evaluates it, or evaluates an existing model file.
//!
//! ```text
//! cargo run --release --example train -- --train FILE.jsonl [--test FILE.jsonl]
//!     [--model-out PATH] [--seed N] [--json] [--learning-curve] [--cv K]
//!     [--schema v1|v2] [--trees N] [--max-depth N] [--min-leaf N] [--alpha A] [--min-count N]
//! cargo run --release --example train -- --model PATH --test FILE.jsonl [--json]
//! ```
//! With `--test`, every training example is used for fitting and the figures are measured on
//! the test file; without it, a seeded, stratified 20 % of the training file is held out.
//! `--cv K` adds K-fold cross-validation figures on the training file alone (how the design was
//! chosen); `--learning-curve` adds test accuracy after the first 25, 50, 100, 200, 400, 800 and
//! all training labels. `--json` prints exactly one JSON object on stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use athena_memory::corpus::{self, CorpusItem};
use athena_memory::router::{evaluate, train, Example, HeuristicRouter, Metrics, TrainParams};
use athena_memory::{FeatureSchema, Layer, TreeModel};
use serde_json::json;

struct Args {
    train: Option<PathBuf>,
    test: Option<PathBuf>,
    model: Option<PathBuf>,
    model_out: Option<PathBuf>,
    learning_curve: bool,
    cv: Option<usize>,
    json: bool,
    schema: FeatureSchema,
    params: TrainParams,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        train: None,
        test: None,
        model: None,
        model_out: None,
        learning_curve: false,
        cv: None,
        json: false,
        schema: FeatureSchema::LATEST,
        params: TrainParams::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: not a valid number: {v}"))
        }
        match flag.as_str() {
            "--train" => a.train = Some(value()?.into()),
            "--test" => a.test = Some(value()?.into()),
            "--model" => a.model = Some(value()?.into()),
            "--model-out" => a.model_out = Some(value()?.into()),
            "--seed" => a.params.seed = num(&flag, value()?)?,
            "--learning-curve" => a.learning_curve = true,
            "--cv" => a.cv = Some(num(&flag, value()?)?),
            "--json" => a.json = true,
            "--schema" => {
                a.schema = FeatureSchema::from_name(&value()?).map_err(|e| e.to_string())?
            }
            "--trees" => a.params.trees = num(&flag, value()?)?,
            "--max-depth" => a.params.max_depth = num(&flag, value()?)?,
            "--min-leaf" => a.params.min_samples_leaf = num(&flag, value()?)?,
            "--alpha" => a.params.text_alpha = num(&flag, value()?)?,
            "--min-count" => a.params.text_min_count = num(&flag, value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.train.is_none() && a.model.is_none() {
        return Err(
            "give --train FILE (to train) or --model PATH --test FILE (to evaluate)".into(),
        );
    }
    if a.model.is_some() && a.test.is_none() {
        return Err("--model needs --test FILE".into());
    }
    Ok(a)
}

fn examples(items: &[CorpusItem], path: &Path) -> Result<Vec<Example>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.example().ok_or(format!(
                "{}:{}: item has no layer label",
                path.display(),
                i + 1
            ))
        })
        .collect()
}

fn heuristic_accuracy(examples: &[Example]) -> f64 {
    let right = examples
        .iter()
        .filter(|e| HeuristicRouter::layer(&e.content) == e.layer)
        .count();
    right as f64 / examples.len().max(1) as f64
}

/// Mean accuracy and macro-F1 over `k` stratified folds of `data`.
fn cross_validate(
    data: &[Example],
    k: usize,
    schema: FeatureSchema,
    params: &TrainParams,
) -> Result<(f64, f64), String> {
    if k < 2 {
        return Err("--cv needs at least 2 folds".into());
    }
    let mut fold_of = vec![0usize; data.len()];
    for layer in Layer::ALL {
        for (n, i) in (0..data.len())
            .filter(|&i| data[i].layer == *layer)
            .enumerate()
        {
            fold_of[i] = n % k;
        }
    }
    let (mut acc, mut f1) = (0.0, 0.0);
    for fold in 0..k {
        let fit: Vec<Example> = (0..data.len())
            .filter(|&i| fold_of[i] != fold)
            .map(|i| data[i].clone())
            .collect();
        let held: Vec<&Example> = (0..data.len())
            .filter(|&i| fold_of[i] == fold)
            .map(|i| &data[i])
            .collect();
        let p = TrainParams {
            evaluation_fraction: 0.0,
            ..params.clone()
        };
        let model = train(&fit, schema, &p).map_err(|e| e.to_string())?.model;
        let m = evaluate(&model, held);
        acc += m.accuracy / k as f64;
        f1 += m.macro_f1 / k as f64;
    }
    Ok((acc, f1))
}

fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    let load = |p: &Path| corpus::load(p).map_err(|e| e.to_string());
    let test = match &args.test {
        Some(path) => Some(examples(&load(path)?, path)?),
        None => None,
    };
    let mut report = json!({});
    let (model, train_n, train_seconds, held_out) = if let Some(model_path) = &args.model {
        let model = TreeModel::load(model_path).map_err(|e| e.to_string())?;
        report["model"] = json!(model_path);
        (model, 0, 0.0, None)
    } else {
        let train_path = args.train.as_deref().expect("checked in parse_args");
        let data = examples(&load(train_path)?, train_path)?;
        let params = TrainParams {
            evaluation_fraction: if test.is_some() { 0.0 } else { 0.2 },
            ..args.params.clone()
        };
        let started = Instant::now();
        let trained = train(&data, args.schema, &params).map_err(|e| e.to_string())?;
        let seconds = started.elapsed().as_secs_f64();
        report["fit_n"] = json!(trained.fit_n);
        report["trees"] = json!(params.trees);
        report["feature_importance"] = json!(trained.feature_importance);
        report["heuristic_accuracy_train"] = json!(heuristic_accuracy(&data));
        if let Some(k) = args.cv {
            let (acc, f1) = cross_validate(&data, k, args.schema, &params)?;
            report["cv_folds"] = json!(k);
            report["cv_accuracy"] = json!(acc);
            report["cv_macro_f1"] = json!(f1);
        }
        if args.learning_curve {
            let test = test.as_ref().ok_or("--learning-curve needs --test")?;
            let mut curve = Vec::new();
            for n in [25, 50, 100, 200, 400, 800, data.len()] {
                let n = n.min(data.len());
                let p = TrainParams {
                    min_samples: 1,
                    ..params.clone()
                };
                let accuracy = train(&data[..n], args.schema, &p)
                    .map(|t| evaluate(&t.model, test).accuracy)
                    .ok();
                curve.push(json!({ "labels": n, "accuracy": accuracy }));
            }
            report["learning_curve"] = json!(curve);
        }
        let held: Vec<Example> = trained
            .evaluation_indices
            .iter()
            .map(|&i| data[i].clone())
            .collect();
        (
            trained.model.with_label("trained"),
            data.len(),
            seconds,
            Some(held),
        )
    };
    let scored: Vec<Example> = match (test, held_out) {
        (Some(test), _) => test,
        (None, Some(held)) => held,
        (None, None) => unreachable!("--model requires --test"),
    };
    let metrics: Metrics = evaluate(&model, &scored);
    if let Some(out) = &args.model_out {
        model.save(out).map_err(|e| e.to_string())?;
    }
    let obj = report.as_object_mut().expect("report is an object");
    for (k, v) in [
        ("train_n", json!(train_n)),
        ("test_n", json!(scored.len())),
        ("held_out", json!(args.test.is_none())),
        ("accuracy", json!(metrics.accuracy)),
        ("macro_f1", json!(metrics.macro_f1)),
        ("ece", json!(metrics.ece)),
        ("heuristic_accuracy", json!(heuristic_accuracy(&scored))),
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
