//! The main job on embedded SQLite: open a database file, register a project, and store and read
//! back a memory in each long-term layer.
//!
//! ```text
//! cargo run --release --example quickstart [-- --database-url URL]
//! ```
//! Without `--database-url` it uses a fresh SQLite file in the system's temporary directory.

use athena_memory::{Engine, MemoryType, TaskPriority, TaskStatus};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::args()
        .skip_while(|a| a != "--database-url")
        .nth(1)
    {
        Some(url) => url,
        None => {
            let path =
                std::env::temp_dir().join(format!("athena-quickstart-{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            format!("sqlite://{}", path.display())
        }
    };
    let engine = Engine::open(&url).await?;
    println!("opened {url} ({})", engine.database().backend().as_str());

    let project = engine
        .projects()
        .get_or_create("/home/me/app", None)
        .await?;
    println!(
        "project #{} {:?} at {}",
        project.id, project.name, project.path
    );
    let owner = engine.projects().require("/home/me/app/src/auth").await?;
    println!("/home/me/app/src/auth belongs to project #{}", owner.id);

    let layers = engine.layers();
    let fact = layers
        .remember(
            project.id,
            "JWT tokens provide stateless authentication",
            MemoryType::Fact,
            &["auth"],
        )
        .await?;
    println!(
        "semantic    #{}: {}",
        fact.id,
        layers.semantic(project.id, fact.id).await?.content
    );

    let now = athena_memory::time::now_ms();
    layers
        .record_event(
            project.id,
            "Deployed v2.1 to staging",
            "action",
            "quickstart",
            now,
        )
        .await?;
    for event in layers.events_between(project.id, now, now + 1).await? {
        println!("episodic    #{}: {}", event.id, event.content);
    }

    layers
        .store_procedure(
            project.id,
            "deploy",
            "workflow",
            "build, push, then kubectl apply",
        )
        .await?;
    if let Some(p) = layers.procedure_by_name(project.id, "deploy").await? {
        println!("procedural  #{}: {} = {}", p.id, p.name, p.template);
    }

    layers
        .create_task(
            project.id,
            "Rotate the API keys on Friday",
            TaskPriority::High,
            None,
        )
        .await?;
    for task in layers.tasks(project.id, TaskStatus::Pending).await? {
        println!(
            "prospective #{}: {} ({})",
            task.id, task.content, task.active_form
        );
    }

    let health = engine.health_check().await;
    println!(
        "health: {:?}, pool: {:?}",
        health.status,
        engine.pool_stats()
    );
    engine.close().await;
    Ok(())
}
