//! How fast feedback pays off: per project, the router before and after the project's first
//! labels.
//!
//! ```text
//! cargo run --release --example adapt -- --data FILE.jsonl --labels K [--json]
//!     [--database-url URL] [--base-train FILE.jsonl [--kind note|code_comment]]... [--fixed-fields]
//!     [--min-labels N] [--min-lead N] [--max-p P] [--folds N] [--correction-folds N]
//!     [--label-weight W] [--epochs N] [--correction-c C] [--correction-epochs N] [--seed N]
//!     [--deals R] [--no-kind-share] [--whole-refit] [--retrain-from K1]
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
//! designed (docs/adaptation.md). `--min-labels`, `--min-lead`, `--max-p`,
//! `--folds`, `--correction-folds`, `--label-weight`, `--epochs`, `--correction-c`,
//! `--correction-epochs` and `--seed` change the [`AdaptParams`] field of the same name in either
//! mode (another `--seed` deals other folds: how much of a difference between two settings is
//! the folds' luck), and `--no-kind-share` turns [`AdaptParams::learn_kind_share`] off, `--whole-refit` [`AdaptParams::sparse_refit`].
//! `--kind K` after a `--base-train FILE` marks its rows without a `kind` field as notes or code
//! comments, as `examples/train --kind` does (both kinds make the base's text model
//! kind-aware), and `--fixed-fields` trains the base on rows with fresh working-memory fields,
//! as the shipped default is trained (`examples/train --fixed-fields`).
//!
//! A project's first K notes are one sample of its notes (the files are shuffled within each
//! project), and with 10 to 20 notes left to score, one project's figure moves by 5 to 10
//! points with a single note. `--deals R` repeats the measurement on R deals of each project's
//! n notes: deal d labels the K notes that start at note ⌊d·n/R⌋, taken cyclically, and scores
//! the other n − K (deal 0 is the first K notes; with R ≥ n/(n − K) every note is scored).
//! Each deal is a project of its own in the report (`project` names it, `deal` numbers it; in
//! the engine a store project per deal); the means are over every deal, i.e. the mean over
//! deals of the mean over projects, and the activation counts are over every deal.
//!
//! `--retrain-from K1` (design simulation only) trains each deal twice, as an engine with
//! background retraining would: first on its first K1 labels, then on all K. When the second
//! candidate is not activated and the first was, the first model keeps routing unless it did
//! worse in use than the base on labels K1 + 1 to K (which it routed itself; [`InUse`], as
//! `Engine::train` judges it); `retrain` in the report says how often that deactivated it, and
//! the gain and the worse routers at the end with the check and without it.
//!
//! Every report also gives `best_rule_gain_points`: the mean gain of a rule that activated
//! exactly the adapted models that are better on their project's scored notes, which no
//! activation rule can beat.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use athena_memory::router::{adapt, train, AdaptParams, Example, InUse, TrainParams};
use athena_memory::Config;
use athena_memory::{corpus, CorpusItem};
use athena_memory::{Engine, FeatureSchema, Layer, Router, TextKind, TreeModel};
use athena_memory::{ModelLabel, ModelScope};
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
    /// Deals of each project's notes into labels and scored notes (1: the first K notes).
    deals: usize,
    /// A first training on this many of the K labels before the one on all K (simulation only).
    retrain_from: Option<usize>,
    adapt: AdaptParams,
}

fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("{flag}: not a valid number: {v}"))
}

fn parse_args() -> Result<Args, String> {
    let (mut data, mut labels, mut database_url) = (None, None, None);
    let (mut base_train, mut adapt) = (Vec::new(), AdaptParams::default());
    let (mut fixed_fields, mut deals, mut retrain_from) = (false, 1, None);
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
            "--deals" => deals = number(&flag, value()?)?,
            "--no-kind-share" => adapt.learn_kind_share = false,
            "--whole-refit" => adapt.sparse_refit = false,
            "--retrain-from" => retrain_from = Some(number(&flag, value()?)?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    adapt.validate().map_err(|e| e.to_string())?;
    if deals == 0 {
        return Err("--deals: must be at least 1".to_owned());
    }
    let labels = labels.ok_or("--labels K is required")?;
    if retrain_from.is_some_and(|first| !(2..labels).contains(&first)) {
        return Err(format!(
            "--retrain-from: must be at least 2 and below --labels {labels}"
        ));
    }
    if retrain_from.is_some() && base_train.is_empty() {
        return Err("--retrain-from: the design simulation's option (with --base-train)".into());
    }
    Ok(Args {
        data: data.ok_or("--data FILE is required")?,
        labels,
        database_url,
        base_train,
        fixed_fields,
        deals,
        retrain_from,
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

/// One deal of a project's notes: the labelled ones and the ones scored after training.
struct Deal<'a> {
    project: &'a str,
    /// Which deal of the project's notes (0: its first K notes labelled).
    index: usize,
    notes: usize,
    labelled: Vec<&'a CorpusItem>,
    rest: Vec<&'a CorpusItem>,
}

/// `deals` deals of every project's n notes, `labels` of them labelled: deal d labels the
/// `labels` notes from note ⌊d·n/deals⌋ on, cyclically, and scores the others.
fn deals<'a>(
    projects: &BTreeMap<&'a str, Vec<&'a CorpusItem>>,
    labels: usize,
    deals: usize,
) -> Vec<Deal<'a>> {
    let mut out = Vec::new();
    for index in 0..deals {
        for (project, notes) in projects {
            let n = notes.len();
            let cycled = notes.iter().cycle().skip(index * n / deals);
            let in_order: Vec<&CorpusItem> = cycled.take(n).copied().collect();
            let (labelled, rest) = in_order.split_at(labels);
            out.push(Deal {
                project,
                index,
                notes: n,
                labelled: labelled.to_vec(),
                rest: rest.to_vec(),
            });
        }
    }
    out
}

/// What training did for one project, scored on its notes after the labelled ones.
struct Outcome {
    before: f64,
    after: f64,
    /// The trained model's accuracy, activated or not (`None` when training declined).
    adapted: Option<f64>,
    activated: bool,
    /// The adapted model's lead over the baseline in labels right, cross-validated (wins minus
    /// losses; `None` when training declined).
    lead: Option<i64>,
    evidence: String,
    /// How many token weights of its text model the adapted model changed from the base's
    /// (`None` when training declined).
    changed_weights: Option<usize>,
}

impl Outcome {
    fn row(&self, deal: &Deal) -> serde_json::Value {
        json!({
            "project": deal.project,
            "deal": deal.index,
            "notes": deal.notes,
            "labelled": deal.labelled.len(),
            "scored": deal.rest.len(),
            "before": self.before,
            "after": self.after,
            "adapted": self.adapted,
            "activated": self.activated,
            "lead": self.lead,
            "evidence": self.evidence,
            "changed_weights": self.changed_weights,
        })
    }
}

/// Every project through the engine: route and log its first notes, give feedback, train.
async fn through_engine(args: &Args, deals: &[Deal<'_>]) -> Result<Vec<serde_json::Value>, String> {
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
    for deal in deals {
        let outcome = engine_outcome(&engine, deal)
            .await
            .map_err(|e| e.to_string())?;
        rows.push(outcome.row(deal));
    }
    engine.close().await;
    Ok(rows)
}

async fn engine_outcome(engine: &Engine, deal: &Deal<'_>) -> athena_memory::Result<Outcome> {
    let (labelled, rest) = (&deal.labelled, &deal.rest[..]);
    let path = format!(
        "/adapt/{}/{}/{}",
        std::process::id(),
        deal.project,
        deal.index
    );
    let project = engine.projects().get_or_create(&path, None).await?;
    let before = accuracy(&engine.router(project.id).await?, rest);
    let labels: Vec<_> = labelled
        .iter()
        .map(|item| {
            (
                item.as_input(),
                item.layer.expect("only labelled items are kept"),
            )
        })
        .collect();
    engine.import_labels(project.id, &labels).await?;
    let report = engine.train(project.id).await;
    let after = accuracy(&engine.router(project.id).await?, rest);
    let Ok(report) = report else {
        let evidence = report.err().map(|e| e.to_string()).unwrap_or_default();
        return Ok(Outcome {
            before,
            after,
            adapted: None,
            activated: false,
            lead: None,
            evidence,
            changed_weights: None,
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
        .load(&engine.config().router().base)?;
    let base = engine.config().router().base.model()?;
    let changed_weights = changed_weights(&model, &base);
    Ok(Outcome {
        before,
        after,
        adapted: Some(accuracy(&Router::Model(Arc::new(model)), rest)),
        activated: report.activated,
        lead: Some(report.evidence.wins as i64 - report.evidence.losses as i64),
        evidence: report.evidence.describe(),
        changed_weights,
    })
}

/// The design simulation: a base router trained on `args.base_train` stands in for the shipped
/// default and its corpus, and each project adapts it as `Engine::train` would.
fn simulate(args: &Args, deals: &[Deal<'_>]) -> Result<Vec<serde_json::Value>, String> {
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
    for deal in deals {
        let rest = &deal.rest[..];
        let labels: Vec<Example> = deal.labelled.iter().filter_map(|i| i.example()).collect();
        let mut outcome = simulated_outcome(&base, &corpus_rows, &labels, &baseline, args, rest);
        let retrain = args.retrain_from.map(|first| {
            let first = first_training(&base, &corpus_rows, &labels, first, &baseline, args);
            retrain_row(first, &mut outcome, rest)
        });
        let mut row = outcome.row(deal);
        if let Some(retrain) = retrain {
            row["retrain"] = retrain;
        }
        rows.push(row);
    }
    Ok(rows)
}

/// How many token weights of `model`'s text model differ from `base`'s.
fn changed_weights(model: &TreeModel, base: &TreeModel) -> Option<usize> {
    let (text, base_text) = (model.text_model()?, base.text_model()?);
    Some(text.differing_tokens(base_text).len())
}

/// One deal's training on all its labels, as `Engine::train` decides it.
fn simulated_outcome(
    base: &TreeModel,
    corpus_rows: &[Example],
    labels: &[Example],
    baseline: &Router,
    args: &Args,
    rest: &[&CorpusItem],
) -> Outcome {
    let before = accuracy(baseline, rest);
    match adapt(base, corpus_rows, labels, baseline, &args.adapt) {
        Ok(adapted) => {
            let changed_weights = changed_weights(&adapted.model, base);
            let candidate = accuracy(&Router::Model(Arc::new(adapted.model)), rest);
            let activated = adapted.evidence.better();
            Outcome {
                before,
                after: if activated { candidate } else { before },
                adapted: Some(candidate),
                activated,
                lead: Some(adapted.evidence.wins as i64 - adapted.evidence.losses as i64),
                evidence: adapted.evidence.describe(),
                changed_weights,
            }
        }
        Err(err) => Outcome {
            before,
            after: before,
            adapted: None,
            activated: false,
            lead: None,
            evidence: err.to_string(),
            changed_weights: None,
        },
    }
}

/// `--retrain-from K1`: the model a first training on the first `first` labels activated, if it
/// did, and how it then did in use on the others (labels it routed itself, as in the engine).
fn first_training(
    base: &TreeModel,
    corpus_rows: &[Example],
    labels: &[Example],
    first: usize,
    baseline: &Router,
    args: &Args,
) -> Option<(Router, InUse)> {
    let adapted = adapt(base, corpus_rows, &labels[..first], baseline, &args.adapt).ok()?;
    if !adapted.evidence.better() {
        return None;
    }
    let model = Router::Model(Arc::new(adapted.model));
    let decided: Vec<(Example, Layer)> = labels[first..]
        .iter()
        .map(|e| (e.clone(), model.route(&e.input()).layer))
        .collect();
    let in_use = InUse::compare(&ModelLabel::named("first"), &decided, baseline, &args.adapt);
    Some((model, in_use))
}

/// What the first training changes for one deal: when the training on all labels does not
/// activate its candidate, the first model keeps routing unless in use it did worse
/// (`outcome.after` becomes that); `after_without_check` is what routes when it always keeps
/// routing, as before [`InUse`].
fn retrain_row(
    first: Option<(Router, InUse)>,
    outcome: &mut Outcome,
    rest: &[&CorpusItem],
) -> serde_json::Value {
    let first_activated = first.is_some();
    let Some((model, in_use)) = first.filter(|_| !outcome.activated) else {
        return json!({
            "first_activated": first_activated,
            "deactivated": false,
            "after_without_check": outcome.after,
        });
    };
    let kept = accuracy(&model, rest);
    let deactivated = in_use.worse();
    outcome.after = if deactivated { outcome.before } else { kept };
    json!({
        "first_activated": true,
        "deactivated": deactivated,
        "after_without_check": kept,
        "in_use": in_use.describe(),
    })
}

async fn run() -> Result<serde_json::Value, String> {
    let args = parse_args()?;
    let items = corpus::load(&args.data).map_err(|e| e.to_string())?;
    let projects = projects(&items, args.labels);
    let deals = deals(&projects, args.labels, args.deals);
    let rows = if args.base_train.is_empty() {
        through_engine(&args, &deals).await?
    } else {
        simulate(&args, &deals)?
    };
    Ok(summary(&args, projects.len(), rows))
}

/// Means over projects, pooled figures and the activation rule's record.
fn summary(args: &Args, projects: usize, rows: Vec<serde_json::Value>) -> serde_json::Value {
    let mean = |key: &str| mean_of(&rows, |r| r[key].as_f64());
    // Pooled over every scored note, besides the mean over projects.
    let pooled = |key: &str| {
        let (right, n) = rows.iter().fold((0.0, 0.0), |(right, n), r| {
            let scored = r["scored"].as_f64().unwrap_or(0.0);
            (right + r[key].as_f64().unwrap_or(0.0) * scored, n + scored)
        });
        right / f64::max(n, 1.0)
    };
    // A rule that activated exactly the adapted models that help: no rule can do better.
    let best_rule_gain = rows
        .iter()
        .map(|r| match (r["adapted"].as_f64(), r["before"].as_f64()) {
            (Some(adapted), Some(before)) => (adapted - before).max(0.0),
            _ => 0.0,
        })
        .sum::<f64>()
        / rows.len().max(1) as f64;
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
        "learn_kind_share": args.adapt.learn_kind_share,
        "sparse_refit": args.adapt.sparse_refit,
        "deals": args.deals,
        "projects": projects,
        "mean_before": mean("before"),
        "mean_after": mean("after"),
        "mean_gain_points": 100.0 * (mean("after") - mean("before")),
        "mean_adapted": mean("adapted"),
        "mean_changed_weights": mean("changed_weights"),
        "best_rule_gain_points": 100.0 * best_rule_gain,
        "overall_before": pooled("before"),
        "overall_after": pooled("after"),
        "activated": activated,
        "activated_and_worse": activated_worse,
        "inactive_but_better": inactive_better,
        "by_lead": by_lead(&rows),
        "retrain": args.retrain_from.map(|first| retrain_summary(first, &rows)),
        "per_project": rows,
    })
}

/// The mean of `value` over the rows that have it (0 when none has).
fn mean_of(rows: &[serde_json::Value], value: impl Fn(&serde_json::Value) -> Option<f64>) -> f64 {
    let v: Vec<f64> = rows.iter().filter_map(value).collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// `--retrain-from`: what judging the first training's model in use changed, over every deal.
fn retrain_summary(first: usize, rows: &[serde_json::Value]) -> serde_json::Value {
    let count = |keep: &dyn Fn(&serde_json::Value) -> bool| rows.iter().filter(|r| keep(r)).count();
    let without = |r: &serde_json::Value| r["retrain"]["after_without_check"].as_f64();
    let mean_without = mean_of(rows, without);
    let mean_before = mean_of(rows, |r| r["before"].as_f64());
    json!({
        "first_labels": first,
        "first_activated": count(&|r| r["retrain"]["first_activated"] == true),
        "judged_in_use": count(&|r| r["retrain"]["in_use"].is_string()),
        "deactivated": count(&|r| r["retrain"]["deactivated"] == true),
        "mean_after_without_check": mean_without,
        "mean_gain_without_check_points": 100.0 * (mean_without - mean_before),
        "worse_at_end": count(&|r| r["after"].as_f64() < r["before"].as_f64()),
        "worse_at_end_without_check": count(&|r| without(r) < r["before"].as_f64()),
    })
}

/// How the adapted models did on their projects' other notes, activated or not, grouped by
/// their cross-validated lead on the labels: how well the evidence foretells the outcome.
fn by_lead(rows: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let groups: [(&str, i64, i64); 5] = [
        ("<=0", i64::MIN, 0),
        ("1", 1, 1),
        ("2", 2, 2),
        ("3", 3, 3),
        (">=4", 4, i64::MAX),
    ];
    groups
        .iter()
        .map(|&(name, low, high)| {
            let gains: Vec<f64> = rows
                .iter()
                .filter(|r| {
                    r["lead"]
                        .as_i64()
                        .is_some_and(|l| (low..=high).contains(&l))
                })
                .filter_map(|r| Some(r["adapted"].as_f64()? - r["before"].as_f64()?))
                .collect();
            let mean =
                (!gains.is_empty()).then(|| 100.0 * gains.iter().sum::<f64>() / gains.len() as f64);
            json!({
                "lead": name,
                "project_deals": gains.len(),
                "adapted_worse": gains.iter().filter(|g| **g < 0.0).count(),
                "mean_adapted_gain_points": mean,
            })
        })
        .collect()
}

fn print_readable(report: &serde_json::Value) {
    println!(
        "{} projects with at least {} notes, {} labelled, {} deal(s) of each",
        report["projects"],
        report["labels"].as_u64().unwrap_or(0) + 10,
        report["labels"],
        report["deals"]
    );
    println!(
        "{:<12} {:>4} {:>6} {:>8} {:>8} {:>8} {:>10}",
        "project", "deal", "scored", "before", "after", "adapted", "activated"
    );
    for r in report["per_project"].as_array().into_iter().flatten() {
        let pct = |k: &str| {
            r[k].as_f64()
                .map_or("-".to_owned(), |v| format!("{:.1}%", 100.0 * v))
        };
        println!(
            "{:<12} {:>4} {:>6} {:>8} {:>8} {:>8} {:>10}",
            r["project"].as_str().unwrap_or("?"),
            r["deal"],
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
        "mean over projects: before {:.1}%, after {:.1}% ({:+.1} points), adapted {:.1}% (the best rule: {:+.1} points); activated {} (worse after activation: {}, better but kept inactive: {})",
        pct("mean_before"),
        pct("mean_after"),
        report["mean_gain_points"].as_f64().unwrap_or(0.0),
        pct("mean_adapted"),
        report["best_rule_gain_points"].as_f64().unwrap_or(0.0),
        report["activated"],
        report["activated_and_worse"],
        report["inactive_but_better"]
    );
    let retrain = &report["retrain"];
    if !retrain.is_null() {
        println!(
            "first trained on {} labels: {} activated, {} judged in use, {} deactivated; \
             without the check {:+.1} points, {} worse at the end (with it: {})",
            retrain["first_labels"],
            retrain["first_activated"],
            retrain["judged_in_use"],
            retrain["deactivated"],
            retrain["mean_gain_without_check_points"]
                .as_f64()
                .unwrap_or(0.0),
            retrain["worse_at_end_without_check"],
            retrain["worse_at_end"]
        );
    }
    for group in report["by_lead"].as_array().into_iter().flatten() {
        let mean = group["mean_adapted_gain_points"]
            .as_f64()
            .map_or("-".to_owned(), |m| format!("{m:+.1}"));
        println!(
            "lead {:>3} on the labels: {} adapted, {} worse than before, {mean} points on average",
            group["lead"].as_str().unwrap_or("?"),
            group["project_deals"],
            group["adapted_worse"],
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn project(name: &str, n: usize) -> Vec<CorpusItem> {
        let lines: String = (0..n)
            .map(|i| {
                format!(
                    r#"{{"content": "note {i}", "component": "phonological", "activation": 1.0, "importance": 0.5, "age_s": 0, "layer": "semantic", "project": "{name}"}}"#
                ) + "\n"
            })
            .collect();
        corpus::read(lines.as_bytes(), std::path::Path::new("test.jsonl")).unwrap()
    }

    fn contents(items: &[&CorpusItem]) -> Vec<String> {
        items.iter().map(|i| i.item.content.clone()).collect()
    }

    #[test]
    fn deal_zero_labels_the_first_notes_and_later_deals_start_further_on() {
        let items = project("p1", 12);
        let by_project = projects(&items, 2);
        let dealt = deals(&by_project, 2, 2);
        assert_eq!(dealt.len(), 2);
        assert_eq!(dealt[0].index, 0);
        let notes = |range: &[usize]| -> Vec<String> {
            range.iter().map(|i| format!("note {i}")).collect()
        };
        assert_eq!(contents(&dealt[0].labelled), notes(&[0, 1]));
        assert_eq!(
            contents(&dealt[0].rest),
            notes(&[2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        );
        // Deal 1 starts at note 12 / 2 = 6 and wraps round.
        assert_eq!(contents(&dealt[1].labelled), notes(&[6, 7]));
        assert_eq!(
            contents(&dealt[1].rest),
            notes(&[8, 9, 10, 11, 0, 1, 2, 3, 4, 5])
        );
    }

    #[test]
    fn enough_deals_score_every_note_and_small_projects_are_left_out() {
        let mut items = project("big", 30);
        items.extend(project("small", 29));
        let by_project = projects(&items, 20);
        assert_eq!(by_project.keys().copied().collect::<Vec<_>>(), ["big"]);
        // n / (n - K) = 3 deals score every one of the 30 notes once.
        let dealt = deals(&by_project, 20, 3);
        let mut scored: Vec<String> = dealt.iter().flat_map(|d| contents(&d.rest)).collect();
        scored.sort();
        scored.dedup();
        assert_eq!(scored.len(), 30);
        for deal in &dealt {
            assert_eq!((deal.labelled.len(), deal.rest.len()), (20, 10));
            assert!(contents(&deal.labelled)
                .iter()
                .all(|l| !contents(&deal.rest).contains(l)));
        }
    }

    #[test]
    fn the_first_model_keeps_routing_unless_it_did_worse_in_use() {
        let judged = |baseline_alone: usize| InUse {
            model: ModelLabel::named("first"),
            baseline_model: ModelLabel::named("base"),
            labels: 20,
            model_alone: 1,
            baseline_alone,
            min_labels: 20,
            min_lead: 2,
            max_p: 1.0,
        };
        let items = project("p1", 4);
        let rest: Vec<&CorpusItem> = items.iter().collect();
        let kept = accuracy(&Router::Heuristic, &rest);
        let outcome = |activated: bool| Outcome {
            before: 0.25,
            after: if activated { 0.9 } else { 0.25 },
            adapted: Some(0.9),
            activated,
            lead: Some(2),
            evidence: String::new(),
            changed_weights: None,
        };
        // The second candidate activated: the first model is replaced, not judged.
        let mut replaced = outcome(true);
        let row = retrain_row(Some((Router::Heuristic, judged(9))), &mut replaced, &rest);
        assert_eq!(
            (replaced.after, row["deactivated"].clone()),
            (0.9, json!(false))
        );
        // Kept inactive: the first model routes on while it does no worse in use...
        let mut held = outcome(false);
        let row = retrain_row(Some((Router::Heuristic, judged(2))), &mut held, &rest);
        assert_eq!(
            (held.after, row["after_without_check"].as_f64()),
            (kept, Some(kept))
        );
        // ...and stops when the base would have routed 2 more of its routes right.
        let mut worse = outcome(false);
        let row = retrain_row(Some((Router::Heuristic, judged(3))), &mut worse, &rest);
        assert_eq!(
            (worse.after, row["deactivated"].clone()),
            (0.25, json!(true))
        );
        assert_eq!(row["after_without_check"].as_f64(), Some(kept));
        let rows: Vec<serde_json::Value> = [(held.after, kept), (worse.after, kept)]
            .iter()
            .map(|&(after, without)| {
                json!({"before": 0.25, "after": after,
                       "retrain": {"first_activated": true, "in_use": "x",
                                   "deactivated": after == 0.25, "after_without_check": without}})
            })
            .collect();
        let summary = retrain_summary(20, &rows);
        assert_eq!(summary["deactivated"], 1);
        assert_eq!(summary["judged_in_use"], 2);
        let worse_than_before = usize::from(kept < 0.25);
        assert_eq!(summary["worse_at_end_without_check"], 2 * worse_than_before);
        assert_eq!(summary["worse_at_end"], worse_than_before);
    }

    #[test]
    fn the_best_rule_counts_only_the_adapted_models_that_help() {
        let args = Args {
            data: PathBuf::from("x.jsonl"),
            labels: 20,
            database_url: None,
            base_train: Vec::new(),
            fixed_fields: false,
            deals: 1,
            retrain_from: None,
            adapt: AdaptParams::default(),
        };
        let row = |before: f64, adapted: Option<f64>, activated: bool, lead: Option<i64>| {
            json!({"before": before, "after": if activated { adapted.unwrap() } else { before },
                   "adapted": adapted, "activated": activated, "scored": 10, "lead": lead})
        };
        let rows = vec![
            row(0.5, Some(0.8), true, Some(5)),
            row(0.7, Some(0.6), true, Some(2)),
            row(0.6, Some(0.7), false, Some(-1)),
            row(0.9, None, false, None),
        ];
        let report = summary(&args, 4, rows);
        // (0.3 + 0 + 0.1 + 0) / 4 rows.
        assert!((report["best_rule_gain_points"].as_f64().unwrap() - 10.0).abs() < 1e-9);
        // The activated rows gain 0.3 and lose 0.1: (0.3 - 0.1) / 4.
        assert!((report["mean_gain_points"].as_f64().unwrap() - 5.0).abs() < 1e-9);
        assert_eq!(report["activated_and_worse"], 1);
        assert_eq!(report["inactive_but_better"], 1);
        // One adapted model in each of three lead groups; the declined row is in none.
        let groups = report["by_lead"].as_array().unwrap();
        let group = |name: &str| groups.iter().find(|g| g["lead"] == name).unwrap().clone();
        let counts = |name: &str| {
            let g = group(name);
            (
                g["project_deals"].as_u64().unwrap(),
                g["adapted_worse"].as_u64().unwrap(),
            )
        };
        assert_eq!(
            ["<=0", "1", "2", "3", ">=4"].map(counts),
            [(1, 0), (0, 0), (1, 1), (0, 0), (1, 0)]
        );
        assert!((group("2")["mean_adapted_gain_points"].as_f64().unwrap() + 10.0).abs() < 1e-9);
        assert!(group("1")["mean_adapted_gain_points"].is_null());
    }
}
