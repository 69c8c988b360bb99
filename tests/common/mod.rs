//! Test support: a fresh database per test on each backend.
//!
//! SQLite: a new file in a temporary directory. PostgreSQL: a new schema in the database named by
//! `ATHENA_TEST_POSTGRES_URL`, selected through the connection's `search_path`, so tests run in
//! parallel without seeing each other. Without that variable PostgreSQL tests are skipped, unless
//! `CI` is set, in which case they fail: CI must never silently skip PostgreSQL.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use athena_memory::ProjectId;
use sqlx::Connection;

/// A fresh, empty database. Keep it alive for the test's duration.
pub struct TestDb {
    /// URL to hand to `Engine::open`.
    pub url: String,
    /// Which backend.
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// An engine with default settings on `db`, and a project registered at `path`.
pub async fn engine_and_project(db: &TestDb, path: &str) -> (athena_memory::Engine, ProjectId) {
    let engine = athena_memory::Engine::open(&db.url).await.unwrap();
    let project = engine.projects().get_or_create(path, None).await.unwrap();
    (engine, project.id)
}

/// A new SQLite file.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("athena.db").display());
    TestDb {
        url,
        backend: "sqlite",
        _dir: Some(dir),
    }
}

/// A new PostgreSQL schema, or `None` when PostgreSQL is not configured (and `CI` is not set).
pub async fn postgres() -> Option<TestDb> {
    let base = match std::env::var("ATHENA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but ATHENA_TEST_POSTGRES_URL is not: the PostgreSQL tests must run in CI"
            );
            eprintln!("skipping PostgreSQL: ATHENA_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!(
        "athena_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at ATHENA_TEST_POSTGRES_URL: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create schema");
    conn.close().await.ok();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some(TestDb {
        url,
        backend: "postgres",
        _dir: None,
    })
}

/// Generates, for each named `async fn(TestDb)`, a module with a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::common::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::common::postgres().await {
                    super::$name(db).await;
                }
            }
        }
    )+};
}

/// For each named `async fn(TestDb)` whose subject does not depend on the backend (training
/// and its evidence read labels and write one model row, which the tests on both backends
/// cover): a module with one `sqlite` test. Such tests run once, not twice.
#[macro_export]
macro_rules! on_sqlite {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::common::sqlite()).await;
            }
        }
    )+};
}

/// Like [`on_both_backends!`] for plain `fn(TestDb)` tests that must run without a runtime.
#[macro_export]
macro_rules! on_both_backends_sync {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::common::sqlite());
            }

            #[test]
            fn postgres() {
                let db = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(super::common::postgres());
                if let Some(db) = db {
                    super::$name(db);
                }
            }
        }
    )+};
}

/// Runs `check` every 20 ms until it returns `Ok`; after `limit`, panics with the last `Err`
/// (what was seen instead). For effects that land on another task: a background job, a
/// connection on its way back to the pool, a notification.
pub async fn eventually(
    limit: std::time::Duration,
    mut check: impl AsyncFnMut() -> Result<(), String>,
) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match check().await {
            Ok(()) => return,
            Err(seen) => assert!(std::time::Instant::now() < deadline, "{seen}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Rows in `table`, read over a separate raw connection (not through the library).
pub async fn count(db: &TestDb, table: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    if db.backend == "sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

/// Inserts `n` pending phonological items into `project_id`'s working memory over a raw
/// connection: a fixture for draining tests, far faster than `n` adds.
pub async fn insert_pending(db: &TestDb, project_id: ProjectId, n: i64) {
    const SQL: &str = "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $2)
        INSERT INTO working_memory (project_id, content, content_type, component, activation, ln_activation,
            decay_rate, importance, state, file_path, sources, access_count, created_at, last_accessed_at, metadata, embedding)
        SELECT $1, 'pending item ' || i, 'verbal', 'phonological', 1.0, 0.0, 0.0033, 0.5, 'pending', NULL, '[]', 0, 0, 0, '{}', NULL FROM seq";
    if db.backend == "sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(SQL)
            .bind(project_id)
            .bind(n)
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(SQL)
            .bind(project_id)
            .bind(n)
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// The `source_item_id`s of every layer table, sorted (duplicates kept).
pub async fn layer_sources(db: &TestDb) -> Vec<athena_memory::ItemId> {
    const SQL: &str =
        "SELECT source_item_id FROM semantic_memories WHERE source_item_id IS NOT NULL
        UNION ALL SELECT source_item_id FROM episodic_events WHERE source_item_id IS NOT NULL
        UNION ALL SELECT source_item_id FROM procedures WHERE source_item_id IS NOT NULL
        UNION ALL SELECT source_item_id FROM prospective_tasks WHERE source_item_id IS NOT NULL";
    let mut ids: Vec<athena_memory::ItemId> = if db.backend == "sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(SQL).fetch_all(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(SQL).fetch_all(&mut conn).await.unwrap()
    };
    ids.sort_unstable();
    ids
}

/// Runs one raw statement over a separate connection (not through the library).
pub async fn execute(db: &TestDb, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.backend == "sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

/// Every how-many-th row of the shipped corpus the small routing base keeps (about 300 rows).
const SMALL_BASE_STRIDE: usize = 20;

/// A small routing base: a model trained on every 20th row of the shipped corpus, and those
/// rows. Adapting a project's router on it takes a fraction of the time the shipped base takes,
/// and it routes plain notes alike; the shipped base keeps its own end-to-end tests. Trained
/// once per process (deterministic: the training is seeded).
pub fn small_base() -> athena_memory::RoutingBase {
    static BASE: std::sync::OnceLock<athena_memory::RoutingBase> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let corpus: Vec<athena_memory::Example> = athena_memory::corpus::shipped()
            .iter()
            .step_by(SMALL_BASE_STRIDE)
            .cloned()
            .collect();
        let model = athena_memory::router::train(
            &corpus,
            athena_memory::FeatureSchema::LATEST,
            &athena_memory::TrainParams::default(),
        )
        .expect("the small base trains")
        .model;
        athena_memory::RoutingBase::new(model, corpus)
    })
    .clone()
}

/// The small routing base as files (a model and its corpus) for the `athena` tool's
/// `--base-model` and `--base-corpus` (or `ATHENA_BASE_MODEL` and `ATHENA_BASE_CORPUS`), in
/// the build's scratch directory. Every test process writes the same bytes (training is
/// seeded) and renames them into place, so processes running side by side never read half a
/// file.
pub fn small_base_files() -> (std::path::PathBuf, std::path::PathBuf) {
    static FILES: std::sync::OnceLock<(std::path::PathBuf, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    FILES
        .get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("small-base");
            std::fs::create_dir_all(&dir).unwrap();
            let write = |name: &str, bytes: &[u8]| {
                let path = dir.join(name);
                let partial = dir.join(format!("{name}.{}", std::process::id()));
                std::fs::write(&partial, bytes).unwrap();
                std::fs::rename(&partial, &path).unwrap();
                path
            };
            let rows: Vec<&str> = include_str!("../../models/router-corpus.jsonl")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .step_by(SMALL_BASE_STRIDE)
                .collect();
            let corpus = write("corpus.jsonl", rows.join("\n").as_bytes());
            let model = write(
                "model.json",
                small_base().model().unwrap().to_json().as_bytes(),
            );
            (model, corpus)
        })
        .clone()
}

/// A configuration for `db` that routes and adapts with [`small_base`].
pub fn small_base_config(db: &TestDb) -> athena_memory::ConfigBuilder {
    athena_memory::Config::builder(&db.url).routing_base(small_base())
}
