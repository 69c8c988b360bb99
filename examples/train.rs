//! Trains a router model from a corpus and evaluates it, or evaluates an existing model file.
//!
//! ```text
//! cargo run --release --example train -- --train FILE.jsonl [--weight W] [--kind K] [--train FILE.jsonl]...
//!     [--test FILE.jsonl [--kind K]] [--model-out PATH] [--seed N] [--json] [--learning-curve] [--cv K]
//!     [--schema v1|v2] [--trees N] [--max-depth N] [--min-leaf N]
//!     [--learner logistic|naive_bayes] [--c C] [--epochs N] [--alpha A] [--min-count N]
//!     [--smoothing S] [--fixed-fields]
//! cargo run --release --example train -- --model PATH --test FILE.jsonl [--kind K] [--json]
//! ```
//! With `--test`, every training example is used for fitting and the figures are measured on
//! the test file; without it, a seeded, stratified 20 % of the training file is held out.
//! Several `--train` files are read as one corpus; `--weight W` after a `--train FILE` makes
//! that file's examples count W times, and `--kind K` after it marks its rows without a `kind`
//! field as notes or code comments (training on both kinds makes the text model kind-aware,
//! `TextModel::fit_logistic_kinded`); after `--test FILE` it routes that file's rows without a
//! `kind` field knowing they are of kind K, as a caller who says so would. `--cv K` adds K-fold cross-validation figures
//! on the training files alone (how the design was chosen): items with a `project` field are
//! folded by project (a project's notes are never on both sides, as in real use), the others
//! stratified by layer, and the figures are given overall and for each kind (`with_project`,
//! `without_project`); `--learning-curve` adds test accuracy after the first 25, 50, 100, 200, 400, 800 and
//! all training labels. `--fixed-fields` gives every training row the working-memory fields of a
//! note consolidated as soon as it was added (phonological, activation 1, importance 0.5, age 0),
//! so the model cannot learn which file a row came from by them and routes the same whatever an
//! item's fields are. `--smoothing S` sets the calibration smoothing (default 4). `--json` prints
//! exactly one JSON object on stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use athena_memory::router::{evaluate, train};
use athena_memory::{corpus, CorpusItem};
use athena_memory::{Example, HeuristicRouter, Metrics, TextLearner, TrainParams};
use athena_memory::{FeatureSchema, Layer, TextKind, TreeModel};
use serde_json::json;

struct Args {
    /// Each training file, its weight and the kind of text of its rows without one.
    train: Vec<(PathBuf, f64, Option<TextKind>)>,
    /// The test file and the kind of text of its rows without one.
    test: Option<(PathBuf, Option<TextKind>)>,
    model: Option<PathBuf>,
    model_out: Option<PathBuf>,
    learning_curve: bool,
    cv: Option<usize>,
    json: bool,
    schema: FeatureSchema,
    params: TrainParams,
    fixed_fields: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        train: Vec::new(),
        test: None,
        model: None,
        model_out: None,
        learning_curve: false,
        cv: None,
        json: false,
        schema: FeatureSchema::LATEST,
        params: TrainParams::default(),
        fixed_fields: false,
    };
    let mut it = std::env::args().skip(1);
    // Which file `--kind` marks: the last `--train` or `--test` before it.
    let mut kind_of_test = false;
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: not a valid number: {v}"))
        }
        match flag.as_str() {
            "--train" => {
                a.train.push((value()?.into(), 1.0, None));
                kind_of_test = false;
            }
            "--kind" => {
                let kind = Some(value()?.parse().map_err(|e| format!("--kind: {e}"))?);
                match (kind_of_test, a.test.as_mut(), a.train.last_mut()) {
                    (true, Some(test), _) => test.1 = kind,
                    (false, _, Some(train)) => train.2 = kind,
                    _ => return Err("--kind follows a --train or --test FILE".into()),
                }
            }
            "--weight" => {
                let w = num(&flag, value()?)?;
                a.train
                    .last_mut()
                    .ok_or("--weight follows a --train FILE")?
                    .1 = w;
            }
            "--test" => {
                a.test = Some((value()?.into(), None));
                kind_of_test = true;
            }
            "--model" => a.model = Some(value()?.into()),
            "--model-out" => a.model_out = Some(value()?.into()),
            "--seed" => a.params.seed = num(&flag, value()?)?,
            "--learning-curve" => a.learning_curve = true,
            "--cv" => a.cv = Some(num(&flag, value()?)?),
            "--json" => a.json = true,
            "--schema" => {
                a.schema = value()?
                    .parse::<FeatureSchema>()
                    .map_err(|e| e.to_string())?
            }
            "--trees" => a.params.trees = num(&flag, value()?)?,
            "--text-folds" => a.params.text_folds = num(&flag, value()?)?,
            "--max-depth" => a.params.max_depth = num(&flag, value()?)?,
            "--min-leaf" => a.params.min_samples_leaf = num(&flag, value()?)?,
            "--alpha" => a.params.text_alpha = num(&flag, value()?)?,
            "--c" => a.params.text_c = num(&flag, value()?)?,
            "--epochs" => a.params.text_epochs = num(&flag, value()?)?,
            "--learner" => {
                a.params.text_learner = match value()?.as_str() {
                    "logistic" => TextLearner::Logistic,
                    "naive_bayes" => TextLearner::NaiveBayes,
                    other => return Err(format!("--learner: unknown learner {other}")),
                }
            }
            "--min-count" => a.params.text_min_count = num(&flag, value()?)?,
            "--smoothing" => a.params.smoothing = num(&flag, value()?)?,
            "--fixed-fields" => a.fixed_fields = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.train.is_empty() && a.model.is_none() {
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

/// The example with the working-memory fields of a note consolidated as soon as it was added
/// (phonological, activation 1, importance 0.5, age 0): what every agent-notes row already has.
fn heuristic_accuracy(examples: &[Example]) -> f64 {
    let right = examples
        .iter()
        .filter(|e| HeuristicRouter::layer(&e.item.content) == e.layer)
        .count();
    right as f64 / examples.len().max(1) as f64
}

/// Assigns every example to one of `k` folds: examples of a project all to one fold (projects
/// largest first, each to the fold with the fewest examples so far), the rest stratified by layer.
fn folds(data: &[Example], projects: &[Option<String>], k: usize) -> Vec<usize> {
    let mut fold_of = vec![0usize; data.len()];
    let mut size = vec![0usize; k];
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, p) in projects.iter().enumerate() {
        if let Some(p) = p {
            groups.entry(p).or_default().push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    for g in groups {
        let f = (0..k).min_by_key(|&f| size[f]).expect("k >= 2");
        size[f] += g.len();
        for i in g {
            fold_of[i] = f;
        }
    }
    for layer in Layer::ALL {
        for (n, i) in (0..data.len())
            .filter(|&i| projects[i].is_none() && data[i].layer == *layer)
            .enumerate()
        {
            fold_of[i] = n % k;
        }
    }
    fold_of
}

/// Accuracy and macro-F1 over `k` folds of `data` (see [`folds`]): overall, on the examples with
/// a project, and on those without.
fn cross_validate(
    data: &[Example],
    projects: &[Option<String>],
    k: usize,
    schema: FeatureSchema,
    params: &TrainParams,
) -> Result<serde_json::Value, String> {
    if k < 2 {
        return Err("--cv needs at least 2 folds".into());
    }
    let fold_of = folds(data, projects, k);
    let mut outcomes = vec![None; data.len()];
    for fold in 0..k {
        let fit: Vec<Example> = (0..data.len())
            .filter(|&i| fold_of[i] != fold)
            .map(|i| data[i].clone())
            .collect();
        let p = TrainParams {
            evaluation_fraction: 0.0,
            ..params.clone()
        };
        let model = train(&fit, schema, &p).map_err(|e| e.to_string())?.model;
        for i in (0..data.len()).filter(|&i| fold_of[i] == fold) {
            let d = model.route(&data[i].input());
            outcomes[i] = Some((data[i].layer, d.layer, d.confidence));
        }
    }
    let figures = |keep: &dyn Fn(usize) -> bool| {
        let m = Metrics::compute(
            (0..data.len())
                .filter(|&i| keep(i))
                .filter_map(|i| outcomes[i]),
        );
        json!({ "n": m.n, "accuracy": m.accuracy, "macro_f1": m.macro_f1, "ece": m.ece })
    };
    Ok(json!({
        "folds": k,
        "all": figures(&|_| true),
        "with_project": figures(&|i| projects[i].is_some()),
        "without_project": figures(&|i| projects[i].is_none()),
    }))
}

fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    // A file's items, those without a kind marked as `--kind` said.
    let load = |p: &Path, kind: Option<TextKind>| {
        let mut items = corpus::load(p).map_err(|e| e.to_string())?;
        corpus::mark_kind(&mut items, kind);
        Ok::<_, String>(items)
    };
    let test = match &args.test {
        Some((path, kind)) => Some(examples(&load(path, *kind)?, path)?),
        None => None,
    };
    let mut report = json!({});
    let (model, train_n, train_seconds, held_out) = if let Some(model_path) = &args.model {
        let model = TreeModel::load(model_path).map_err(|e| e.to_string())?;
        report["model"] = json!(model_path);
        (model, 0, 0.0, None)
    } else {
        let (mut data, mut projects) = (Vec::new(), Vec::new());
        for (path, weight, kind) in &args.train {
            let items = load(path, *kind)?;
            data.extend(
                examples(&items, path)?
                    .into_iter()
                    .map(|e| {
                        if args.fixed_fields {
                            e.with_fresh_fields()
                        } else {
                            e
                        }
                    })
                    .map(|e| e.weighted(*weight)),
            );
            projects.extend(items.into_iter().map(|i| i.project));
        }
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
            report["cv"] = cross_validate(&data, &projects, k, args.schema, &params)?;
        }
        if args.learning_curve {
            let test = test.as_ref().ok_or("--learning-curve needs --test")?;
            let mut curve = Vec::new();
            for n in [25, 50, 100, 200, 400, 800, data.len()] {
                let n = n.min(data.len());
                let p = TrainParams {
                    min_samples: 2,
                    ..params.clone()
                };
                let accuracy = train(&data[..n], args.schema, &p)
                    .map(|t| evaluate(&t.model, test).accuracy)
                    .map_err(|e| format!("learning curve at {n} labels: {e}"))?;
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
        ("feature_schema", json!(model.feature_schema().as_str())),
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
