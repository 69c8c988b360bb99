//! The whole job on embedded SQLite: register a project, fill working memory past capacity,
//! watch decay and the pending-consolidation hand-off, consolidate everything into long-term
//! memory with the learned router (printing where each item went, how sure it was and why),
//! give feedback, retrain, recall, and show statistics.
//!
//! ```text
//! cargo run --release --example quickstart [-- --database-url URL]
//! ```
//! Without `--database-url` it uses a fresh SQLite file in the system's temporary directory
//! (deleted at the end).

use athena_memory::NewGoal;
use athena_memory::{Component, Engine, Layer};
use athena_memory::{ItemState, NewItem};

/// What the agent saw, heard and decided, with the layer a human would file it under.
const NOTES: &[(&str, Layer)] = &[
    (
        "Remember to rotate the API keys on Friday",
        Layer::Prospective,
    ),
    (
        "JWT tokens provide stateless authentication for REST APIs",
        Layer::Semantic,
    ),
    (
        "Yesterday at 3pm we debugged the auth error in the login flow",
        Layer::Episodic,
    ),
    (
        "To deploy: run cargo build --release, then docker push, then kubectl apply",
        Layer::Procedural,
    ),
    (
        "The cache layer evicts entries after 300 seconds",
        Layer::Semantic,
    ),
    (
        "TODO: write the postmortem for the outage",
        Layer::Prospective,
    ),
    (
        "Fixed the flaky integration test in the payments service",
        Layer::Episodic,
    ),
    (
        "Run the migrations before starting the server",
        Layer::Procedural,
    ),
    (
        "Need to review the pull request from Sam later",
        Layer::Prospective,
    ),
    (
        "Released version 2.3 with the new rate limiter",
        Layer::Episodic,
    ),
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let given = std::env::args()
        .skip_while(|a| a != "--database-url")
        .nth(1);
    let temp = std::env::temp_dir().join(format!("athena-quickstart-{}.db", std::process::id()));
    let url = given
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", temp.display()));
    let engine = Engine::open(&url).await?;
    println!("opened {url} ({})", engine.database().backend().as_str());

    let project = engine
        .projects()
        .get_or_create("/home/me/app", None)
        .await?;
    let p = project.id;
    println!("project #{p} {:?} at {}\n", project.name, project.path);

    // 1. Working memory: ten notes into a phonological loop of seven.
    let wm = engine.working_memory();
    let mut labels = std::collections::HashMap::new();
    for (text, layer) in NOTES {
        let added = wm.add(p, NewItem::new(*text).importance(0.6)).await?;
        labels.insert(added.id, *layer);
        if let Some(displaced) = added.displaced {
            println!(
                "loop full: item #{displaced} moved to pending consolidation (nothing deleted)"
            );
        }
    }
    let file = wm
        .add(
            p,
            NewItem::new("Looked at the JWT middleware").file_path("/home/me/app/src/auth/jwt.rs"),
        )
        .await?;
    labels.insert(file.id, Layer::Episodic);
    let chunk = wm
        .add(
            p,
            NewItem::chunk(&["login fails", "jwt.rs", "since the upgrade"], &[file.id]),
        )
        .await?;
    labels.insert(chunk.id, Layer::Episodic);
    let note = NewItem::new("Focus on the auth fix before the release")
        .component(Component::CentralExecutive);
    let note = wm.add(p, note).await?;
    labels.insert(note.id, Layer::Prospective);
    let goal = wm
        .goals()
        .add(p, NewGoal::new("Ship the auth fix").priority(8))
        .await?;
    wm.goals()
        .add(
            p,
            NewGoal::new("Write a regression test")
                .subgoal_of(goal.id)
                .priority(6),
        )
        .await?;

    println!("\ncapacity:");
    for c in wm.capacity(p).await? {
        println!(
            "  {:<18} {}/{} ({:?})",
            c.component.as_str(),
            c.count,
            c.capacity,
            c.level
        );
    }
    let now = athena_memory::time::now_ms();
    let strongest = &wm
        .list(p, Some(Component::Phonological), ItemState::Active)
        .await?[0];
    println!(
        "decay: #{} has activation {:.3} now and will have {:.3} in 5 minutes unless rehearsed",
        strongest.id,
        strongest.activation_at(now),
        strongest.activation_at(now + 300_000)
    );
    wm.rehearse(p, strongest.id).await?;
    let goals: Vec<String> = wm
        .goals()
        .active(p)
        .await?
        .into_iter()
        .map(|g| format!("{} (priority {})", g.text, g.priority))
        .collect();
    println!("goals: {}", goals.join("; "));

    // 2. Consolidation: the pending items first, then everything still active.
    let mut done = engine.consolidate_pending(p, 100).await?.consolidated;
    let active: Vec<athena_memory::ItemId> = wm
        .list(p, None, ItemState::Active)
        .await?
        .iter()
        .map(|i| i.id)
        .collect();
    done.extend(engine.consolidate_batch(p, &active).await?.consolidated);
    println!(
        "\nconsolidated {} items (model {}):",
        done.len(),
        done[0].decision.model
    );
    for c in &done {
        println!(
            "  #{:<3} -> {:<11} {:.2}  {}",
            c.item_id,
            c.layer.as_str(),
            c.confidence,
            c.explanation.summary
        );
    }

    // 3. Feedback, then retraining on it.
    for c in &done {
        engine.feedback(p, c.route_id, labels[&c.item_id]).await?;
    }
    let stats = engine.routing_stats(p).await?;
    println!(
        "\nfeedback: {} labels, default model right on {:.0}%",
        stats.feedback_count,
        100.0 * stats.accuracy.unwrap_or(0.0)
    );
    match engine.train(p).await {
        Ok(report) => println!(
            "retrained: {} ({}; {})",
            report.model,
            if report.activated {
                "active"
            } else {
                "inactive"
            },
            report.reason()
        ),
        Err(err) => println!("retraining declined: {err}"),
    }

    // 4. Recall across the layers.
    println!("\nrecall \"API keys deploy\":");
    for hit in engine.recall(p, "API keys deploy", 5).await? {
        println!(
            "  [{:<14}] {:.2} {}",
            hit.place.as_str(),
            hit.score,
            hit.content
        );
    }

    let stats = engine.routing_stats(p).await?;
    println!(
        "\nrouting statistics ({} routes, model now {}):",
        stats.total_routes, stats.active_model
    );
    for l in &stats.per_layer {
        println!(
            "  {:<11} {:>2} routes, mean confidence {:.2}",
            l.layer.as_str(),
            l.count,
            l.mean_confidence.unwrap_or(0.0)
        );
    }
    let health = engine.health_check().await;
    println!(
        "health: {:?}; pool: {:?}",
        health.status,
        engine.pool_stats()
    );
    engine.close().await;
    if given.is_none() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", temp.display()));
        }
    }
    Ok(())
}
