//! Storage: one [`Database`] over the two native sqlx pools, and one repository module per
//! table group.
//!
//! Every repository writes its SQL once, with `$1` placeholders that both SQLite and PostgreSQL
//! accept, and runs it through `on_pool!`, which expands the same code for each backend's native
//! pool. Rows are `#[derive(FromRow)]` structs whose column types (`i64`, `f64`, `String`,
//! `bool`, `Vec<u8>`) decode identically on both. We use neither `sqlx::Any` (it mangles
//! `BOOLEAN` and cannot share `sqlite::memory:`) nor the `query!` macros (they check one backend).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::{Connection, Postgres, Sqlite, Transaction};

use crate::config::{Backend, Config, PoolConfig};
use crate::error::{Entity, Error, Result};
use crate::ids::ProjectId;

pub(crate) mod bases;
pub(crate) mod goals;
pub(crate) mod items;
pub(crate) mod layers;
pub(crate) mod models;
pub(crate) mod projects;
pub(crate) mod recall;
pub(crate) mod routes;

/// Runs `$body` with `$pool` bound to the native pool of whichever backend `$db` holds.
///
/// The body is compiled once per backend, so it must be written against sqlx's generic API.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pool()? {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs one `query_as` of `$row` rows with the given binds on whichever backend `$db` holds and
/// fetches them with `$fetch` (`fetch_all`, `fetch_optional` or `fetch_one`); `?` propagates the
/// error. The shape every repository read and `RETURNING` write shares.
macro_rules! fetch_rows {
    ($db:expr, $row:ty, $sql:expr, $fetch:ident $(, $bind:expr)* $(,)?) => {
        on_pool!($db, |pool| sqlx::query_as::<_, $row>($sql)$(.bind($bind))*.$fetch(pool).await?)
    };
}
pub(crate) use fetch_rows;

/// Runs `$body` with `$conn` bound to the connection of whichever backend the [`WriteTx`] `$tx`
/// (a `&mut WriteTx`) holds. Like [`on_pool!`], the body is compiled once per backend.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::db::WriteTx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::db::WriteTx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// Rows per multi-row `INSERT`: at 13 binds a row this stays well inside SQLite's and
/// PostgreSQL's parameter limits (32,766 and 65,535).
pub(crate) const ROWS_PER_INSERT: usize = 1000;

/// Multi-row `INSERT` of `$rows` inside the [`WriteTx`] `$tx`, in chunks of
/// [`ROWS_PER_INSERT`]: `$head` names the table and columns, `|$b, $row| $push` binds one row's
/// values, `$tail` is the `RETURNING` clause whose columns decode as `$out`. Returns every
/// returned row. The one way rows are inserted, one or thousands.
macro_rules! insert_rows {
    ($tx:expr, $out:ty, $rows:expr, $head:expr, $tail:expr, |$b:ident, $row:ident| $push:block) => {{
        let mut out: Vec<$out> = Vec::new();
        for chunk in $rows.chunks($crate::db::ROWS_PER_INSERT) {
            let returned: Vec<$out> = $crate::db::on_tx!($tx, |conn| {
                let mut qb = sqlx::QueryBuilder::new($head);
                qb.push_values(chunk.iter(), |mut $b, $row| $push);
                qb.push($tail);
                qb.build_query_as::<$out>().fetch_all(conn).await?
            });
            out.extend(returned);
        }
        out
    }};
}
pub(crate) use insert_rows;

/// A write transaction on either backend (PostgreSQL's default isolation; SQLite's
/// `BEGIN IMMEDIATE`). Dropping it without [`WriteTx::commit`] rolls it back.
pub(crate) enum WriteTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl WriteTx {
    /// Which backend it runs on, for the few statements whose SQL differs.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            WriteTx::Sqlite(_) => Backend::Sqlite,
            WriteTx::Postgres(_) => Backend::Postgres,
        }
    }

    /// Commits it.
    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            WriteTx::Sqlite(tx) => tx.commit().await?,
            WriteTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Locks project `project_id`'s row (see [`Backend::lock_project_sql`]) so writers of its
    /// working memory take turns.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the project does not exist.
    pub(crate) async fn lock_project(&mut self, project_id: ProjectId) -> Result<()> {
        let sql = self.backend().lock_project_sql();
        let found: Option<i64> = on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(project_id)
            .fetch_optional(conn)
            .await?);
        found.map(|_| ()).ok_or(Error::NotFound {
            entity: Entity::Project,
            id: project_id.0,
            project_id,
        })
    }
}

/// The two native pools.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What the generic code inside [`on_pool!`] needs to know of each backend's pool.
pub(crate) trait PoolExt {
    /// The backend's database type.
    type Db: sqlx::Database;

    /// Which backend this is, for the few statements whose SQL differs.
    fn backend(&self) -> Backend;

    /// Begins a transaction that will write.
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>>;

    /// See [`Backend::advisory_lock_sql`].
    fn advisory_lock_sql(&self) -> &'static str {
        self.backend().advisory_lock_sql()
    }
}

/// The statements whose SQL differs between the backends.
impl Backend {
    /// Appended to a `SELECT` inside a write transaction to lock the rows it reads where the
    /// backend needs it (PostgreSQL: ` FOR UPDATE`; SQLite: `BEGIN IMMEDIATE` already serialises
    /// writers, so nothing).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// A statement taking the transaction-scoped lock `$1` (an `i64`) where the backend needs it
    /// (PostgreSQL: `pg_advisory_xact_lock`; SQLite: `BEGIN IMMEDIATE` already serialises
    /// writers, so a statement that does nothing).
    pub(crate) fn advisory_lock_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => "SELECT $1",
            Backend::Postgres => "SELECT pg_advisory_xact_lock($1)",
        }
    }

    /// `SELECT id FROM projects WHERE id = $1`, locking the row where the backend needs it so
    /// that writers of one project's working memory take turns (PostgreSQL: `FOR NO KEY UPDATE`;
    /// SQLite: `BEGIN IMMEDIATE` already serialises writers).
    pub(crate) fn lock_project_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => "SELECT id FROM projects WHERE id = $1",
            // NO KEY UPDATE: it serialises these writers all the same, but does not block the
            // KEY SHARE locks that foreign-key checks take on the project row. With FOR UPDATE a
            // consolidation (holding item rows, inserting rows that reference the project) and an
            // add (holding the project row, displacing items) could deadlock.
            Backend::Postgres => "SELECT id FROM projects WHERE id = $1 FOR NO KEY UPDATE",
        }
    }
}

impl PoolExt for SqlitePool {
    type Db = Sqlite;

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    /// `BEGIN IMMEDIATE` takes SQLite's write lock up front, so a writer waits on the busy
    /// timeout instead of failing when a deferred read lock cannot be upgraded.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl PoolExt for PgPool {
    type Db = Postgres;

    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.begin().await?)
    }
}

/// The pool settings of `pc` for either backend.
fn pool_options<DB: sqlx::Database>(pc: &PoolConfig) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(pc.max_connections)
        .min_connections(pc.min_connections)
        .acquire_timeout(pc.acquire_timeout)
        .idle_timeout(pc.idle_timeout)
        .max_lifetime(pc.max_lifetime)
}

/// Opens and migrates the SQLite pool of `config`.
async fn open_sqlite(config: &Config) -> Result<SqlitePool> {
    let pc = &config.pool;
    // sqlx runs each SQLite connection on a worker thread and hands rows back over a channel; a
    // deep channel lets a batch's `RETURNING` rows flow without a thread switch per row (the
    // default of 50 halved batch consolidation speed).
    let options = SqliteConnectOptions::from_str(&config.database_url)?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(pc.busy_timeout)
        .row_buffer_size(SQLITE_ROW_BUFFER);
    let options = if config.in_memory {
        options
    } else {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // Switch a new file to WAL on one connection before the pool opens several: connections
        // racing to change the journal mode of a fresh file can get SQLITE_BUSY without the busy
        // handler being consulted. Once the file is in WAL mode (persistent), every later
        // connection's switch is a no-op.
        use sqlx::Connection as _;
        sqlx::SqliteConnection::connect_with(&options)
            .await?
            .close()
            .await?;
        options
    };
    let pool = pool_options(pc).connect_with(options).await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// A connection pool to SQLite or PostgreSQL with the schema migrated. Cheap to clone; clones
/// share the pool, and closing one closes them all.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
    backend: Backend,
    pool_config: PoolConfig,
    closed: Arc<AtomicBool>,
}

/// A snapshot of the pool's connections.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PoolStats {
    /// Connections currently open (idle + in use).
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// Connections checked out right now.
    pub in_use: u32,
    /// The most the pool will open.
    pub max: u32,
    /// `in_use / max`, within 0..=1.
    pub utilisation: f64,
}

/// Overall verdict of a [`HealthReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Connected, fast, with room in the pool.
    Healthy,
    /// Connected, but slow (`SELECT 1` over 100 ms) or the pool is over 80 % used.
    Degraded,
    /// Not connected: the server is gone, the pool timed out, or the database was closed.
    Unhealthy,
}

/// What [`Database::health_check`] found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HealthReport {
    /// The verdict.
    pub status: HealthStatus,
    /// Whether `SELECT 1` succeeded.
    pub connected: bool,
    /// How long `SELECT 1` took, when it succeeded.
    pub latency: Option<Duration>,
    /// Pool utilisation at the time of the check.
    pub utilisation: f64,
    /// Human-readable warnings (slow, busy pool).
    pub warnings: Vec<String>,
    /// The error, when not connected.
    pub error: Option<String>,
}

/// Rows a SQLite connection's worker thread may buffer ahead of the reader.
const SQLITE_ROW_BUFFER: usize = 2048;

/// Utilisation above which the pool is reported as degraded.
const UTILISATION_WARNING: f64 = 0.8;
/// `SELECT 1` latency above which the database is reported as degraded.
const LATENCY_WARNING: Duration = Duration::from_millis(100);

impl Database {
    /// Opens the database described by `config` and runs its backend's migrations (see
    /// [`crate::Engine::open`] for the URLs it accepts).
    ///
    /// # Errors
    /// As [`crate::Engine::open`].
    pub(crate) async fn open_with(config: &Config) -> Result<Self> {
        let pc = config.pool.clone();
        let pool = match config.backend {
            Backend::Sqlite => Pool::Sqlite(open_sqlite(config).await?),
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(&config.database_url)?;
                // One connection first, without the pool's retries: a server that refuses or
                // a login that fails is reported at once, not after the acquire timeout. It
                // migrates the schema before the pool opens.
                let mut first =
                    tokio::time::timeout(pc.acquire_timeout, PgConnection::connect_with(&options))
                        .await
                        .map_err(|_| sqlx::Error::PoolTimedOut)??;
                sqlx::migrate!("./migrations/postgres")
                    .run(&mut first)
                    .await?;
                first.close().await?;
                Pool::Postgres(pool_options(&pc).connect_with(options).await?)
            }
        };
        tracing::debug!(backend = config.backend.as_str(), "database opened");
        let db = Database {
            pool,
            backend: config.backend,
            pool_config: pc,
            closed: Arc::new(AtomicBool::new(false)),
        };
        recall::backfill(&db).await?;
        Ok(db)
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, or [`Error::Closed`] after [`Database::close`].
    pub(crate) fn pool(&self) -> Result<&Pool> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(&self.pool)
        }
    }

    /// The newest schema migration applied (`migrations/<backend>/NNNN_*.sql`).
    ///
    /// # Errors
    /// Database errors.
    pub async fn schema_version(&self) -> Result<i64> {
        const SQL: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .fetch_one(pool)
            .await?))
    }

    /// Begins a write transaction on whichever backend this is.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        Ok(match self.pool()? {
            Pool::Sqlite(pool) => WriteTx::Sqlite(pool.begin_write().await?),
            Pool::Postgres(pool) => WriteTx::Postgres(pool.begin_write().await?),
        })
    }

    /// The pool's current size, idle and in-use connections and utilisation.
    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match &self.pool {
            Pool::Sqlite(p) => (p.size(), p.num_idle() as u32),
            Pool::Postgres(p) => (p.size(), p.num_idle() as u32),
        };
        let max = self.pool_config.max_connections;
        let in_use = size.saturating_sub(idle);
        PoolStats {
            size,
            idle,
            in_use,
            max,
            utilisation: f64::from(in_use) / f64::from(max.max(1)),
        }
    }

    /// Runs `SELECT 1` and reports connectivity, latency and pool utilisation.
    ///
    /// Never panics and never waits longer than the pool's acquire timeout (plus a second of
    /// grace for the query itself): a dead server yields [`HealthStatus::Unhealthy`] with the error.
    pub async fn health_check(&self) -> HealthReport {
        let deadline = self.pool_config.acquire_timeout + Duration::from_secs(1);
        let started = Instant::now();
        let probe = async {
            on_pool!(self, |pool| sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(Error::from))
        };
        // A timeout is not the caller's bad input: report it as the unhealthy reason it is.
        let outcome: std::result::Result<(), String> =
            match tokio::time::timeout(deadline, probe).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err(format!("SELECT 1 did not answer within {deadline:?}")),
            };
        let latency = started.elapsed();
        let utilisation = self.pool_stats().utilisation;
        let mut warnings = Vec::new();
        if utilisation > UTILISATION_WARNING {
            warnings.push(format!(
                "pool utilisation {:.0}% is above 80%",
                utilisation * 100.0
            ));
        }
        match outcome {
            Ok(()) => {
                if latency > LATENCY_WARNING {
                    warnings.push(format!("SELECT 1 took {latency:?}, above 100 ms"));
                }
                HealthReport {
                    status: if warnings.is_empty() {
                        HealthStatus::Healthy
                    } else {
                        HealthStatus::Degraded
                    },
                    connected: true,
                    latency: Some(latency),
                    utilisation,
                    warnings,
                    error: None,
                }
            }
            Err(err) => HealthReport {
                status: HealthStatus::Unhealthy,
                connected: false,
                latency: None,
                utilisation,
                warnings,
                error: Some(err),
            },
        }
    }

    /// Closes every connection gracefully, waiting for checked-out ones to come back. Any later
    /// call on this database (or a clone) fails with [`Error::Closed`]. Closing twice is harmless.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Whether [`Database::close`] has been called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
