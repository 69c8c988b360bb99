//! Foundation: opening, migrating, projects, the long-term layers' basic storage, pool statistics,
//! health and close, on both backends.

use crate::common;

use athena_memory::Entity;
use athena_memory::ProjectId;
use athena_memory::{Engine, Error, HealthStatus, MemoryType, TaskPriority, TaskStatus};
use common::TestDb;

on_both_backends!(
    migrations_create_the_contract_tables,
    get_or_create_is_idempotent_and_names_from_the_path,
    concurrent_get_or_create_yields_one_project,
    find_by_path_matches_whole_components_and_literal_wildcards,
    bad_paths_are_errors_that_write_nothing,
    each_layer_stores_and_reads_back_within_its_project,
    pool_stats_health_and_close,
    an_exhausted_pool_times_out_and_recovers_when_a_connection_is_released,
);

async fn migrations_create_the_contract_tables(db: TestDb) {
    let engine = Engine::open(&db.url).await.unwrap();
    for table in [
        "projects",
        "working_memory",
        "semantic_memories",
        "episodic_events",
        "procedures",
        "prospective_tasks",
        "consolidation_routes",
        "router_models",
    ] {
        let n = common::count(&db, table).await;
        assert_eq!(n, 0, "{table} should exist and be empty on {}", db.backend);
    }
    // Opening again re-runs migrations as a no-op and keeps the data.
    engine
        .projects()
        .get_or_create("/tmp/p", None)
        .await
        .unwrap();
    engine.close().await;
    let again = Engine::open(&db.url).await.unwrap();
    assert_eq!(again.projects().list().await.unwrap().len(), 1);
    assert_eq!(common::count(&db, "projects").await, 1);
}

async fn get_or_create_is_idempotent_and_names_from_the_path(db: TestDb) {
    let engine = Engine::open(&db.url).await.unwrap();
    let projects = engine.projects();
    let a = projects.get_or_create("/home/me/app/", None).await.unwrap();
    assert_eq!(a.name, "app");
    assert_eq!(a.path, "/home/me/app");
    let b = projects
        .get_or_create("/home/me/./app", Some("other name"))
        .await
        .unwrap();
    assert_eq!(b.id, a.id);
    assert_eq!(b.name, "app", "an existing project keeps its name");
    assert!(b.last_accessed_at >= a.last_accessed_at);
    let named = projects
        .get_or_create("/srv/x", Some("Service X"))
        .await
        .unwrap();
    assert_eq!(named.name, "Service X");
    assert_ne!(named.id, a.id);
    assert_eq!(projects.list().await.unwrap().len(), 2);
}

async fn concurrent_get_or_create_yields_one_project(db: TestDb) {
    let engine = Engine::open(&db.url).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            engine
                .projects()
                .get_or_create("/work/shared/repo", None)
                .await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap().id);
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "all calls must return the same project: {ids:?}"
    );
    assert_eq!(engine.projects().list().await.unwrap().len(), 1);
}

async fn find_by_path_matches_whole_components_and_literal_wildcards(db: TestDb) {
    let engine = Engine::open(&db.url).await.unwrap();
    let projects = engine.projects();
    let ab = projects.get_or_create("/a/b", None).await.unwrap();
    let abc = projects.get_or_create("/a/b/c", None).await.unwrap();
    let under = projects.get_or_create("/srv/a_b", None).await.unwrap();
    let percent = projects.get_or_create("/srv/100%", None).await.unwrap();

    let found = |p: &'static str| {
        let projects = projects.clone();
        async move { projects.find_by_path(p).await.unwrap().map(|p| p.id) }
    };
    assert_eq!(found("/a/b").await, Some(ab.id));
    assert_eq!(found("/a/b/x/y").await, Some(ab.id));
    assert_eq!(
        found("/a/b/c/d").await,
        Some(abc.id),
        "longest ancestor wins"
    );
    assert_eq!(found("/a/bc").await, None, "/a/b must not own /a/bc");
    assert_eq!(found("/a").await, None);
    assert_eq!(found("/srv/a_b/src").await, Some(under.id));
    assert_eq!(
        found("/srv/axb/src").await,
        None,
        "_ is a literal character"
    );
    assert_eq!(found("/srv/100%/x").await, Some(percent.id));
    assert_eq!(found("/srv/1000/x").await, None, "% is a literal character");

    let err = projects.require("/nowhere/at/all").await.unwrap_err();
    assert!(
        matches!(&err, Error::ProjectNotFound { path } if path == "/nowhere/at/all"),
        "{err}"
    );
    assert_eq!(projects.require("/a/b/c/d/e").await.unwrap().id, abc.id);
}

async fn bad_paths_are_errors_that_write_nothing(db: TestDb) {
    let engine = Engine::open(&db.url).await.unwrap();
    let projects = engine.projects();
    for bad in ["", "relative/dir", "./x", "../up", "..", "/ok/\0nul"] {
        let err = projects.get_or_create(bad, None).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field: "path", .. }),
            "{bad:?}: {err}"
        );
    }
    let err = projects.get_or_create("/ok", Some(" ")).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "name", .. }),
        "{err}"
    );
    assert_eq!(projects.list().await.unwrap().len(), 0);
}

async fn each_layer_stores_and_reads_back_within_its_project(db: TestDb) {
    let engine = Engine::open(&db.url).await.unwrap();
    let p = engine
        .projects()
        .get_or_create("/p/one", None)
        .await
        .unwrap();
    let q = engine
        .projects()
        .get_or_create("/p/two", None)
        .await
        .unwrap();
    let layers = engine.layers();

    let fact = layers
        .add_semantic(
            p.id,
            "Rust's borrow checker rejects data races",
            MemoryType::Fact,
            &["rust"],
        )
        .await
        .unwrap();
    let read = layers.get_semantic(p.id, fact.id).await.unwrap();
    assert_eq!(
        (read.id, &read.content, read.memory_type),
        (fact.id, &fact.content, fact.memory_type)
    );
    assert_eq!(
        (fact.access_count, read.access_count),
        (0, 1),
        "a read is a documented access"
    );
    assert_eq!(read.tags, vec!["rust".to_owned()]);
    let err = layers.get_semantic(q.id, fact.id).await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound { .. }),
        "another project's id is not found: {err}"
    );

    let event = layers
        .add_event(p.id, "deployed v2", "action", "s1", 1_000)
        .await
        .unwrap();
    assert_eq!(
        layers.list_events(p.id, 0, 2_000, None).await.unwrap(),
        vec![event.clone()]
    );
    assert!(layers
        .list_events(p.id, 1_001, 2_000, None)
        .await
        .unwrap()
        .is_empty());
    assert!(layers
        .list_events(q.id, 0, 2_000, None)
        .await
        .unwrap()
        .is_empty());

    let proc_ = layers
        .add_procedure(p.id, "deploy", "workflow", "build, push, apply")
        .await
        .unwrap();
    assert_eq!(
        layers.find_procedure(p.id, "deploy").await.unwrap(),
        Some(proc_)
    );
    assert_eq!(layers.find_procedure(q.id, "deploy").await.unwrap(), None);
    let err = layers
        .add_procedure(p.id, "deploy", "workflow", "again")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "name", .. }),
        "{err}"
    );

    let long = "é".repeat(80);
    let task = layers
        .add_task(p.id, &long, TaskPriority::High, Some(5))
        .await
        .unwrap();
    assert_eq!(task.active_form, format!("Working on: {}", "é".repeat(50)));
    assert_eq!(task.status, TaskStatus::Pending);
    assert_eq!(
        layers.list_tasks(p.id, TaskStatus::Pending).await.unwrap(),
        vec![task]
    );
    assert!(layers
        .list_tasks(q.id, TaskStatus::Pending)
        .await
        .unwrap()
        .is_empty());

    let err = layers
        .add_semantic(p.id, "  ", MemoryType::Fact, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "content",
                ..
            }
        ),
        "{err}"
    );
    let err = layers
        .add_semantic(ProjectId(999_999), "x", MemoryType::Fact, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: Entity::Project,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        common::count(&db, "semantic_memories").await,
        1,
        "rejected writes stored nothing"
    );
}

async fn pool_stats_health_and_close(db: TestDb) {
    let engine = Engine::open(&db.url).await.unwrap();
    let stats = engine.pool_stats();
    assert!(stats.max >= 1 && stats.size <= stats.max, "{stats:?}");
    assert_eq!(stats.in_use, stats.size - stats.idle);
    assert!((0.0..=1.0).contains(&stats.utilisation));

    let health = engine.health_check().await;
    assert!(health.connected, "{health:?}");
    assert_ne!(health.status, HealthStatus::Unhealthy);
    assert!(health.latency.is_some());

    engine.close().await;
    let err = engine
        .projects()
        .get_or_create("/after/close", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err}");
    let health = engine.health_check().await;
    assert_eq!(health.status, HealthStatus::Unhealthy);
    assert!(!health.connected);
    engine.close().await; // closing twice is harmless
}

/// PostgreSQL behind a TCP proxy that the test can cut: the server "vanishes" under an open pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_reports_a_vanished_server_within_the_acquire_timeout_and_recovers() {
    use std::time::{Duration, Instant};

    use sqlx::postgres::PgConnectOptions;
    use std::str::FromStr;

    let Some(db) = common::postgres().await else {
        return;
    };
    let options = PgConnectOptions::from_str(&db.url).unwrap();
    let upstream = format!("{}:{}", options.get_host(), options.get_port());
    assert!(
        db.url.contains(&upstream),
        "the test URL must name host:port explicitly: {}",
        db.url
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let proxy = spawn_proxy(listener, upstream.clone());

    let url = db.url.replacen(&upstream, &proxy_addr.to_string(), 1);
    let acquire_timeout = Duration::from_secs(2);
    let config = athena_memory::Config::builder(url)
        .acquire_timeout(acquire_timeout)
        .build()
        .unwrap();
    let engine = Engine::with_config(config).await.unwrap();
    assert_eq!(engine.health_check().await.status, HealthStatus::Healthy);

    // Cut every connection and stop accepting new ones: the server is gone for this pool.
    proxy.abort();
    let _ = proxy.await;
    let started = Instant::now();
    let health = engine.health_check().await;
    let waited = started.elapsed();
    assert_eq!(health.status, HealthStatus::Unhealthy, "{health:?}");
    assert!(!health.connected && health.error.is_some(), "{health:?}");
    assert!(
        waited <= acquire_timeout + Duration::from_secs(2),
        "health_check took {waited:?}"
    );
    let err = engine.projects().list().await.unwrap_err();
    assert!(
        matches!(err, Error::Database(_)),
        "a call fails with an error, not a panic: {err}"
    );

    // Recovery: the server comes back at the same address; the same engine works again without
    // a restart (the pool drops the dead connections and opens new ones).
    let listener = tokio::net::TcpListener::bind(proxy_addr).await.unwrap();
    let proxy = spawn_proxy(listener, upstream);
    let health = engine.health_check().await;
    // Connected again; `Degraded` is allowed only for a slow first query on a busy machine
    // (opening a new connection through the proxy), never for an error.
    assert!(health.connected && health.error.is_none(), "{health:?}");
    assert_ne!(health.status, HealthStatus::Unhealthy, "{health:?}");
    let p = engine
        .projects()
        .get_or_create("/outage/recovered", None)
        .await
        .unwrap();
    assert!(engine
        .projects()
        .list()
        .await
        .unwrap()
        .iter()
        .any(|q| q.id == p.id));
    proxy.abort();
}

/// A TCP proxy from `listener` to `target`, until the task is aborted (which cuts every link).
fn spawn_proxy(listener: tokio::net::TcpListener, target: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut links = tokio::task::JoinSet::new();
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            links.spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    })
}

/// Waits up to 10 s for `engine`'s pool statistics to satisfy `reached`.
async fn pool_reaches(engine: &Engine, reached: impl Fn(&athena_memory::PoolStats) -> bool) {
    common::eventually(std::time::Duration::from_secs(10), async || {
        let stats = engine.pool_stats();
        reached(&stats).then_some(()).ok_or(format!("{stats:?}"))
    })
    .await;
}

/// A pool of 2 with both connections held: the next operation fails with the pool's timeout
/// after the configured acquire timeout, and everything succeeds once they are released. The
/// connections are held by two adds waiting for a write lock another connection (outside the
/// pool) holds: PostgreSQL's project row lock, SQLite's `BEGIN IMMEDIATE`.
async fn an_exhausted_pool_times_out_and_recovers_when_a_connection_is_released(db: TestDb) {
    use std::time::{Duration, Instant};

    use athena_memory::NewItem;
    use sqlx::{Connection, Executor};

    let acquire_timeout = Duration::from_secs(1);
    let config = athena_memory::Config::builder(&db.url)
        .max_connections(2)
        // Both connections are open before the test starts, so the adds below take idle
        // connections at once: counted in use, they hold a connection, not a slot still
        // connecting (a connect slower than the 1 s acquire timeout on a loaded machine would
        // fail an add and free its slot for the probe).
        .min_connections(2)
        .acquire_timeout(acquire_timeout)
        .busy_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let engine = Engine::with_config(config).await.unwrap();
    let p = engine
        .projects()
        .get_or_create("/pool/exhausted", None)
        .await
        .unwrap()
        .id;
    assert_eq!(engine.pool_stats().size, 2, "{:?}", engine.pool_stats());
    // sqlx returns a released connection to the idle queue from a spawned task (after a ping),
    // and until then it holds its pool slot without counting as idle. Wait for both connections
    // to be idle, so that the two in use counted below are the adds' and no add is still queued
    // for the slot that get_or_create's connection frees (the probe could take it first).
    pool_reaches(&engine, |s| s.idle == 2).await;
    // The outside holder of the write lock.
    enum Holder {
        Sqlite(sqlx::SqliteConnection),
        Postgres(sqlx::PgConnection),
    }
    let mut holder = if db.backend == "sqlite" {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        c.execute("BEGIN IMMEDIATE").await.unwrap();
        Holder::Sqlite(c)
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        c.execute("BEGIN").await.unwrap();
        c.execute(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM projects WHERE id = {p} FOR UPDATE"
        )))
        .await
        .unwrap();
        Holder::Postgres(c)
    };
    let mut adds: Vec<_> = (0..2)
        .map(|i| {
            let wm = engine.working_memory();
            tokio::spawn(async move { wm.add(p, NewItem::new(format!("blocked {i}"))).await })
        })
        .collect();
    // Wait until both adds hold their connection.
    pool_reaches(&engine, |s| s.in_use == 2).await;
    let started = Instant::now();
    let probe = engine.projects().list().await;
    let waited = started.elapsed();
    // An add that ended while the lock was held would have freed its connection: name it.
    if let Some(i) = adds.iter().position(|add| add.is_finished()) {
        let ended = adds.swap_remove(i).await.unwrap();
        panic!("add {i} ended before the lock was released: {ended:?}");
    }
    let err = probe.expect_err("both connections are held by the waiting adds");
    assert!(
        matches!(err, Error::Database(sqlx::Error::PoolTimedOut)),
        "{err}"
    );
    assert!(
        waited >= acquire_timeout && waited < acquire_timeout + Duration::from_secs(2),
        "{waited:?}"
    );
    match &mut holder {
        Holder::Sqlite(c) => c.execute("COMMIT").await.map(|_| ()).unwrap(),
        Holder::Postgres(c) => c.execute("COMMIT").await.map(|_| ()).unwrap(),
    }
    for add in adds {
        add.await.unwrap().expect("the waiting adds complete");
    }
    assert_eq!(engine.projects().list().await.unwrap().len(), 1);
    assert_eq!(
        engine
            .working_memory()
            .list(p, None, athena_memory::ItemState::Active)
            .await
            .unwrap()
            .len(),
        2
    );
}
