//! Routes corpus-format items read from stdin (the `layer` label is optional and ignored) and
//! prints one decision per line.
//!
//! ```text
//! cargo run --release --example route -- [--model PATH | --heuristic] [--json] < items.jsonl
//! ```
//! Without `--model` or `--heuristic` it uses the shipped default model,
//! `models/router-default.json`. With `--json` each line is a JSON object with `layer`,
//! `confidence`, `probabilities` (by layer name), `runner_up`, `model`, `feature_schema`, `path`
//! and `explanation` (the words, phrases and shape cues that decided, and a one-line summary);
//! without it, the decision and its explanation in words.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use athena_memory::{corpus, Layer, Router, TreeModel};
use serde_json::json;

fn run() -> Result<(), String> {
    let mut model: Option<PathBuf> = None;
    let mut heuristic = false;
    let mut as_json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = Some(args.next().ok_or("--model needs a path")?.into()),
            "--heuristic" => heuristic = true,
            "--json" => as_json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let router = match (model, heuristic) {
        (Some(_), true) => return Err("give --model or --heuristic, not both".into()),
        (Some(path), false) => {
            Router::Model(Arc::new(TreeModel::load(&path).map_err(|e| e.to_string())?))
        }
        (None, true) => Router::Heuristic,
        (None, false) => {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/router-default.json");
            Router::Model(Arc::new(
                TreeModel::load(&path)
                    .map_err(|e| e.to_string())?
                    .with_label("default"),
            ))
        }
    };
    let items =
        corpus::read(std::io::stdin().lock(), Path::new("<stdin>")).map_err(|e| e.to_string())?;
    for item in &items {
        let d = router.route(&item.as_input());
        let why = router.explain(&item.as_input(), &d);
        if as_json {
            let probabilities: serde_json::Map<String, serde_json::Value> = Layer::ALL
                .iter()
                .map(|l| (l.as_str().to_owned(), json!(d.probabilities[l.index()])))
                .collect();
            let line = json!({
                "layer": d.layer,
                "confidence": d.confidence,
                "probabilities": probabilities,
                "runner_up": d.runner_up,
                "model": d.model,
                "feature_schema": d.feature_schema,
                "path": d.path,
                "explanation": why,
            });
            println!("{line}");
        } else {
            println!(
                "{:<11} {:.2}  {}\n            why: {}",
                d.layer.as_str(),
                d.confidence,
                item.item.content,
                why.summary
            );
        }
    }
    Ok(())
}

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
}
