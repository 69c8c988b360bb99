//! Each command: run it on the store, then report it as JSON and as text.

use std::fmt::Write as _;
use std::process::ExitCode;

use athena_memory::{Config, Engine, HealthStatus, Layer, Result, RoutingBase};
use athena_memory::{ItemId, RouteId};
use serde_json::{json, Value};

use crate::output::{fixed2, to_json, Progress, Report};
use crate::store::{ConsolidationView, Store};
use crate::{context, mcp, Cli, Command, GoalsAction, ModelsAction, TasksAction};

/// Runs the command line's command; the exit code for a report, or the error.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let url = context::database_url(cli.database_url.as_deref())?;
    let mut config = Config::builder(&url);
    if let (Some(model), Some(corpus)) = (&cli.base_model, &cli.base_corpus) {
        config = config.routing_base(RoutingBase::from_files(model, corpus)?);
    }
    let engine = Engine::with_config(config.build()?).await?;
    let project = context::project(&engine, cli.project.as_deref()).await?;
    let store = Store { engine, project };
    if let Command::Mcp { http } = cli.command {
        mcp::serve(store, http).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = dispatch(&store, cli.command).await;
    store.engine.close().await;
    let report = report?;
    report.print(cli.json);
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn dispatch(store: &Store, command: Command) -> Result<Report> {
    match command {
        Command::Add {
            text,
            importance,
            component,
            file,
            kind,
            about,
        } => {
            let item = store
                .add(&text, importance, component, file.as_deref(), kind, about)
                .await?;
            let text = format!("added item {} to the {}", item.id, item.component);
            Ok(Report::ok(to_json(&item), text))
        }
        Command::List => list(store).await,
        Command::Rehearse { id } => {
            let item = store.rehearse(id).await?;
            let text = format!(
                "item {} rehearsed: activation {}",
                item.id,
                fixed2(item.activation)
            );
            Ok(Report::ok(to_json(&item), text))
        }
        Command::Consolidate {
            ids,
            pending: _,
            all,
            limit,
        } => consolidate(store, &ids, all, limit).await,
        Command::Recall { query, k, layers } => recall(store, &query, k, &layers).await,
        Command::Show { layer, id } => {
            let memory = to_json(store.show(layer, id).await?);
            let text = serde_json::to_string_pretty(&memory).unwrap_or_default();
            Ok(Report::ok(memory, text))
        }
        Command::Forget { layer, id } => {
            store.forget(layer, id).await?;
            let text = format!("forgot {layer} {id}");
            Ok(Report::ok(
                json!({ "forgotten": { "layer": layer, "id": id } }),
                text,
            ))
        }
        Command::Feedback { route_id, layer } => feedback(store, route_id, layer).await,
        Command::Train { from } => train(store, from.as_deref()).await,
        Command::Models { action } => models(store, action).await,
        Command::Stats => stats(store).await,
        Command::Goals { action } => goals(store, action).await,
        Command::Tasks { action } => tasks(store, action).await,
        Command::Doctor => doctor(store).await,
        Command::Mcp { .. } => unreachable!("served before dispatch"),
    }
}

async fn recall(store: &Store, query: &str, k: usize, layers: &[Layer]) -> Result<Report> {
    let hits = store.recall(query, k, layers).await?;
    let mut text = String::new();
    for h in &hits {
        let said = h
            .speaker
            .as_deref()
            .map(|s| format!(" {s}:"))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "{} {} ({}):{said} {}",
            h.place,
            h.id,
            fixed2(h.score),
            h.content
        );
    }
    if hits.is_empty() {
        text.push_str("nothing found");
    }
    Ok(Report::ok(json!({ "hits": hits }), text))
}

async fn feedback(store: &Store, route_id: RouteId, layer: Layer) -> Result<Report> {
    let route = store.feedback(route_id, layer).await?;
    let verdict = if route.was_correct == Some(true) {
        "right"
    } else {
        "wrong"
    };
    let text = format!("route {route_id}: {layer} noted; the router was {verdict}");
    Ok(Report::ok(to_json(&route), text))
}

async fn list(store: &Store) -> Result<Report> {
    let view = store.working_memory(crate::store::MAX_LIST).await?;
    let mut text = String::new();
    for c in &view.capacity {
        let level = to_json(c.level);
        let level = level.as_str().unwrap_or("?");
        let _ = writeln!(
            text,
            "{}: {}/{} ({level})",
            c.component, c.count, c.capacity
        );
    }
    for i in &view.items {
        let _ = writeln!(
            text,
            "  {:>5} {:<17} {:<7} {}  {}",
            i.id,
            i.component.as_str(),
            i.state.as_str(),
            fixed2(i.activation),
            i.content
        );
    }
    if view.total > view.items.len() {
        let _ = writeln!(text, "  ... {} more", view.total - view.items.len());
    }
    Ok(Report::ok(to_json(&view), text))
}

/// Consolidates `ids`, or with none the pending items, or with `all` everything in working
/// memory.
async fn consolidate(
    store: &Store,
    ids: &[ItemId],
    all: bool,
    limit: Option<u32>,
) -> Result<Report> {
    let view: ConsolidationView = if ids.is_empty() {
        let limit = limit.unwrap_or(1000);
        let progress = Progress::new("consolidated");
        let update = |done, total| progress.update(done, total);
        let view = if all {
            store.consolidate_all(limit, update).await?
        } else {
            store.consolidate_pending(limit, update).await?
        };
        progress.finish();
        view
    } else {
        store.consolidate(ids).await?
    };
    let mut text = String::new();
    for c in &view.consolidated {
        let _ = writeln!(
            text,
            "item {} → {} {} (confidence {}, route {}): {}{}",
            c.item_id,
            c.layer,
            c.memory_id,
            fixed2(c.confidence),
            c.route_id,
            c.why,
            c.read_as.map(|r| format!("; {r}")).unwrap_or_default()
        );
    }
    if !view.not_found.is_empty() {
        let _ = writeln!(text, "not in working memory: {:?}", view.not_found);
    }
    if view.consolidated.is_empty() && view.not_found.is_empty() {
        text.push_str("nothing to consolidate");
    }
    Ok(Report::ok(to_json(&view), text))
}

async fn train(store: &Store, from: Option<&std::path::Path>) -> Result<Report> {
    let view = store.train(from).await?;
    let r = &view.report;
    let text = format!(
        "imported {} labels; model {} {} (cross-validated accuracy {} vs {} for {}): {}",
        view.imported,
        r.model,
        if r.activated {
            "activated"
        } else {
            "stored, not activated"
        },
        fixed2(r.metrics().accuracy),
        fixed2(r.evidence.baseline.accuracy),
        r.evidence.baseline_model,
        r.reason()
    );
    Ok(Report::ok(to_json(&view), text))
}

async fn models(store: &Store, action: ModelsAction) -> Result<Report> {
    let p = store.project.id;
    let changed = match action {
        ModelsAction::List => {
            let models = store.models().await?;
            let mut text = String::new();
            for m in &models {
                let mark = if m.active { "*" } else { " " };
                let _ = writeln!(
                    text,
                    "{mark} v{} accuracy {}",
                    m.version,
                    fixed2(m.accuracy)
                );
            }
            if models.is_empty() {
                text.push_str("no project models yet: the shipped default routes this project");
            }
            return Ok(Report::ok(json!({ "models": models }), text));
        }
        ModelsAction::Activate { version } => store.engine.activate_model(p, version).await?,
        ModelsAction::Rollback => store.rollback().await?,
        ModelsAction::Deactivate => {
            let done = store.deactivate().await?;
            let by = &done.routed_by;
            let text = match done.deactivated_version {
                Some(v) => format!("version {v} deactivated; {by} routes now"),
                None => format!("no project model was active; {by} routes"),
            };
            return Ok(Report::ok(to_json(&done), text));
        }
        ModelsAction::Export { path } => {
            store.engine.export_model(p, &path).await?;
            let text = format!("wrote the active model to {}", path.display());
            return Ok(Report::ok(json!({ "exported": path }), text));
        }
        ModelsAction::Import { path } => store.engine.import_model(p, &path, true).await?,
    };
    let text = format!("version {} is active", changed.version);
    Ok(Report::ok(
        json!({ "active_version": changed.version }),
        text,
    ))
}

async fn stats(store: &Store) -> Result<Report> {
    let s = store.stats().await?;
    let r = &s.routing;
    let accuracy = r.accuracy.map_or("no feedback yet".to_owned(), fixed2);
    let mut text = format!(
        "project {} ({})\nrouting: {} routes, {} with feedback, accuracy {accuracy}, model {}\n",
        s.project.name, s.project.path, r.total_routes, r.feedback_count, r.active_model
    );
    for c in &s.working_memory {
        let _ = writeln!(
            text,
            "{}: {} active, {} pending",
            c.component, c.count, c.pending
        );
    }
    let l = &s.layers;
    let _ = write!(
        text,
        "long-term: {} semantic, {} episodic, {} procedural, {} prospective",
        l.semantic, l.episodic, l.procedural, l.prospective
    );
    Ok(Report::ok(to_json(&s), text))
}

async fn goals(store: &Store, action: GoalsAction) -> Result<Report> {
    match action {
        GoalsAction::List => {
            let goals = store.goals().await?;
            let mut text = String::new();
            for g in &goals {
                let _ = writeln!(text, "{:>5} [{}] {}", g.id, g.priority, g.text);
            }
            if goals.is_empty() {
                text.push_str("no active goals");
            }
            Ok(Report::ok(json!({ "goals": goals }), text))
        }
        GoalsAction::Add { text, priority } => {
            let goal = store.set_goal(&text, priority).await?;
            let line = format!("goal {} set", goal.id);
            Ok(Report::ok(to_json(&goal), line))
        }
        GoalsAction::Done { id } => {
            let done = store.complete_goal(id).await?;
            let text = format!("completed goals {done:?}");
            Ok(Report::ok(json!({ "completed": done }), text))
        }
    }
}

async fn tasks(store: &Store, action: TasksAction) -> Result<Report> {
    match action {
        TasksAction::List => {
            let tasks = store.tasks(crate::store::MAX_LIST).await?;
            let mut text = String::new();
            for t in &tasks {
                let _ = writeln!(text, "{:>5} [{}] {}", t.id, t.priority, t.content);
            }
            if tasks.is_empty() {
                text.push_str("no open tasks");
            }
            Ok(Report::ok(json!({ "tasks": tasks }), text))
        }
        TasksAction::Done { id } => {
            let task = store.complete_task(id).await?;
            let text = format!("task {} completed", task.id);
            Ok(Report::ok(to_json(&task), text))
        }
    }
}

/// The health of the store; a report that fails when the database is unhealthy.
async fn doctor(store: &Store) -> Result<Report> {
    let engine = &store.engine;
    let health = engine.health_check().await;
    let healthy = health.status != HealthStatus::Unhealthy;
    let mut json = json!({
        "healthy": healthy,
        "health": health,
        "pool": engine.pool_stats(),
        "backend": engine.config().backend(),
        "project": store.project,
    });
    if healthy {
        json["schema_version"] = json!(engine.database().schema_version().await?);
        json["model"] = json!(engine.router(store.project.id).await?.model_label());
        json["layers"] = to_json(engine.layers().count(store.project.id).await?);
        json["working_memory"] = to_json(engine.working_memory().stats(store.project.id).await?);
    }
    let text = doctor_text(&json);
    Ok(Report {
        json,
        text,
        ok: healthy,
    })
}

fn doctor_text(j: &Value) -> String {
    let mut text = format!(
        "database: {} ({})\n",
        if j["healthy"] == true {
            "reachable"
        } else {
            "UNHEALTHY"
        },
        j["health"]["status"].as_str().unwrap_or("?")
    );
    if let Some(e) = j["health"]["error"].as_str() {
        let _ = writeln!(text, "error: {e}");
    }
    let _ = writeln!(text, "backend: {}, pool: {}", j["backend"], j["pool"]);
    if j["healthy"] == true {
        let _ = writeln!(text, "schema version: {}", j["schema_version"]);
        let _ = writeln!(text, "model in use: {}", j["model"]);
        let _ = write!(text, "long-term rows: {}", j["layers"]);
    }
    text
}
