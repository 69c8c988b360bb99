//! Configuration, validated once.
//!
//! [`ConfigBuilder`] collects settings; [`ConfigBuilder::build`] checks every value and returns
//! the [`Config`] the engine takes, so an invalid setting can never reach the engine.

use std::time::Duration;

use crate::component::Component;
use crate::error::{Error, Result};
use crate::recall::RecallParams;
use crate::router::{AdaptParams, TrainParams};
use crate::routing_base::RoutingBase;

/// Default decay rate, per second.
pub const DEFAULT_DECAY_RATE: f64 = 1.0 / 300.0;
/// Default activation below which an item leaves the active set (to pending consolidation).
pub const DEFAULT_DECAY_THRESHOLD: f64 = 0.1;
/// Capacities of the four components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacities {
    /// Phonological loop. Default 7 (Miller's 7 ± 2).
    pub phonological: usize,
    /// Visuospatial sketchpad. Default 7.
    pub visuospatial: usize,
    /// Episodic buffer. Default 4 (Baddeley's ~4 chunks).
    pub episodic_buffer: usize,
    /// Central executive's own notes. Default 4 (Cowan's focus of attention); goals live in
    /// their own table and are not limited.
    pub central_executive: usize,
}

impl Default for Capacities {
    fn default() -> Self {
        Capacities {
            phonological: 7,
            visuospatial: 7,
            episodic_buffer: 4,
            central_executive: 4,
        }
    }
}

impl Capacities {
    /// The capacity of `component`.
    pub fn of(&self, component: Component) -> usize {
        match component {
            Component::Phonological => self.phonological,
            Component::Visuospatial => self.visuospatial,
            Component::EpisodicBuffer => self.episodic_buffer,
            Component::CentralExecutive => self.central_executive,
        }
    }
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite, a file or `sqlite::memory:`.
    Sqlite,
    /// PostgreSQL, for many agent processes sharing one store.
    Postgres,
}

/// `url` with its password (the part between `user:` and `@`) and any `password=` query value
/// replaced by `***`, for logs, errors and `Debug` output.
///
/// ```
/// use athena_memory::redact_url;
/// assert_eq!(
///     redact_url("postgres://app:s3cret@db:5432/athena?sslmode=require&password=x"),
///     "postgres://app:***@db:5432/athena?sslmode=require&password=***"
/// );
/// assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = authority_start..authority_start + at;
            if let Some(colon) = out[userinfo.clone()].find(':') {
                out.replace_range(authority_start + colon + 1..userinfo.end, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

impl Backend {
    /// Detects the backend from a URL's scheme.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for anything but `sqlite:` and `postgres:`/`postgresql:` URLs.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedUrl {
                url: redact_url(url),
            })
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Connection-pool settings, validated. Defaults depend on the backend; see [`PoolConfig::defaults`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Connections kept open even when idle.
    pub min_connections: u32,
    /// How long a caller waits for a connection before [`Error::Database`] (pool timed out).
    /// `health_check` never waits longer than this either.
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Connections are recycled after this long (`None`: never).
    pub max_lifetime: Option<Duration>,
    /// SQLite only: how long a writer waits for the file lock before failing with "busy".
    pub busy_timeout: Duration,
}

impl PoolConfig {
    /// The documented defaults for a backend.
    ///
    /// - PostgreSQL: at most 10 connections, none kept open, 30 s acquire timeout, 300 s idle
    ///   timeout, 3600 s lifetime: what a shared server expects from a well-behaved client.
    /// - SQLite file: at most 4 connections, 1 kept open, 30 s acquire timeout, no idle timeout or
    ///   lifetime, 5 s busy timeout. SQLite has a single writer; WAL lets readers run beside it, and
    ///   write transactions start with `BEGIN IMMEDIATE` so they queue on the busy timeout instead of
    ///   failing on a lock upgrade. More connections would only queue on the same lock.
    /// - `sqlite::memory:`: exactly 1 connection that is never closed, because an in-memory
    ///   database lives only as long as its connection and is private to it.
    pub fn defaults(backend: Backend, in_memory: bool) -> Self {
        match (backend, in_memory) {
            (Backend::Postgres, _) => PoolConfig {
                max_connections: 10,
                min_connections: 0,
                acquire_timeout: Duration::from_secs(30),
                idle_timeout: Some(Duration::from_secs(300)),
                max_lifetime: Some(Duration::from_secs(3600)),
                busy_timeout: Duration::from_secs(5),
            },
            (Backend::Sqlite, false) => PoolConfig {
                max_connections: 4,
                min_connections: 1,
                acquire_timeout: Duration::from_secs(30),
                idle_timeout: None,
                max_lifetime: None,
                busy_timeout: Duration::from_secs(5),
            },
            (Backend::Sqlite, true) => PoolConfig {
                max_connections: 1,
                min_connections: 1,
                acquire_timeout: Duration::from_secs(30),
                idle_timeout: None,
                max_lifetime: None,
                busy_timeout: Duration::from_secs(5),
            },
        }
    }
}

/// How the engine routes, learns and retrains.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// Retrain a project's model in the background each time the labels given since its last
    /// stored model reach a multiple of this (`None`: only when `train` is called). Counted in
    /// the database, across processes. Default 50: enough new evidence to move a tree, rare
    /// enough that training (seconds with the shipped model) seldom runs.
    pub retrain_after: Option<u32>,
    /// Train on the feedback of every project, not just the one being trained. Default false.
    pub pooled_training: bool,
    /// Route projects without a trained model with the routing base's model ([`Self::base`]);
    /// when false, with the heuristic, and a project's training fits a model of its labels
    /// alone. Default true.
    pub use_default_model: bool,
    /// The model that routes projects without one of their own and the corpus their labels
    /// adapt it on. Default: the shipped one ([`RoutingBase::shipped`]).
    pub base: RoutingBase,
    /// Training settings, including the minimum sample count (default 10).
    pub train: TrainParams,
    /// How a project's labels adapt the shipped default model, and the evidence activation needs
    /// (cross-validated over all labels, at least 10 of them).
    pub adapt: AdaptParams,
    /// How long a cached router is used before it is checked against the model registry, so
    /// that an activation or deactivation by another engine or process (several agents sharing
    /// one PostgreSQL) is seen within this time. A check is one small query, and the model is
    /// reloaded only when the active models changed. Default 1 s; zero checks before every
    /// routing; at most one hour.
    pub check_interval: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            retrain_after: Some(50),
            pooled_training: false,
            use_default_model: true,
            base: RoutingBase::shipped(),
            train: TrainParams::default(),
            adapt: AdaptParams::default(),
            check_interval: Duration::from_secs(1),
        }
    }
}

/// Working-memory policy.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkingMemoryConfig {
    /// Capacity of each component (defaults 7, 7, 4, 4).
    pub capacities: Capacities,
    /// Decay rate per second of items that do not set their own. Default 1/300 (half-lives of
    /// 3.5 to 7 minutes; see [`crate::working_memory::activation`]).
    pub decay_rate: f64,
    /// Items whose current activation falls below this leave the active set. Default 0.1.
    pub decay_threshold: f64,
    /// Delete decayed items (with a `tracing` record and an event) instead of moving them to
    /// pending consolidation. Default false: nothing is lost.
    pub forget_decayed: bool,
    /// Reject adds to a full component with [`Error::CapacityExceeded`] instead of displacing
    /// the weakest item. Default false.
    pub strict_capacity: bool,
}

impl Default for WorkingMemoryConfig {
    fn default() -> Self {
        WorkingMemoryConfig {
            capacities: Capacities::default(),
            decay_rate: DEFAULT_DECAY_RATE,
            decay_threshold: DEFAULT_DECAY_THRESHOLD,
            forget_decayed: false,
            strict_capacity: false,
        }
    }
}

/// Everything the engine needs, validated by [`ConfigBuilder::build`]. Its `Debug` output shows
/// the database URL with the password redacted.
#[derive(Clone)]
pub struct Config {
    pub(crate) database_url: String,
    pub(crate) backend: Backend,
    pub(crate) in_memory: bool,
    pub(crate) pool: PoolConfig,
    pub(crate) router: RouterConfig,
    pub(crate) working_memory: WorkingMemoryConfig,
    pub(crate) recall: RecallParams,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("backend", &self.backend)
            .field("in_memory", &self.in_memory)
            .field("pool", &self.pool)
            .field("router", &self.router)
            .field("working_memory", &self.working_memory)
            .field("recall", &self.recall)
            .finish()
    }
}

impl std::fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("url", &redact_url(&self.url))
            .field("router", &self.router)
            .field("working_memory", &self.working_memory)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Starts a configuration for the database at `url` with every default.
    pub fn builder(url: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder {
            url: url.into(),
            max_connections: None,
            min_connections: None,
            acquire_timeout: None,
            idle_timeout: None,
            max_lifetime: None,
            busy_timeout: None,
            router: RouterConfig::default(),
            working_memory: WorkingMemoryConfig::default(),
            recall: RecallParams::default(),
        }
    }

    /// How recall ranks.
    pub fn recall(&self) -> &RecallParams {
        &self.recall
    }

    /// The database URL.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The backend the URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool settings in force (defaults filled in).
    pub fn pool(&self) -> &PoolConfig {
        &self.pool
    }

    /// The routing settings.
    pub fn router(&self) -> &RouterConfig {
        &self.router
    }

    /// The working-memory policy.
    pub fn working_memory(&self) -> &WorkingMemoryConfig {
        &self.working_memory
    }
}

/// Collects settings for a [`Config`]; unset values take the backend's defaults. Its `Debug`
/// output shows the database URL with the password redacted.
#[derive(Clone)]
#[must_use]
pub struct ConfigBuilder {
    url: String,
    max_connections: Option<u32>,
    min_connections: Option<u32>,
    acquire_timeout: Option<Duration>,
    idle_timeout: Option<Option<Duration>>,
    max_lifetime: Option<Option<Duration>>,
    busy_timeout: Option<Duration>,
    router: RouterConfig,
    working_memory: WorkingMemoryConfig,
    recall: RecallParams,
}

impl ConfigBuilder {
    /// Most connections in the pool (1..=1000). Ignored for `sqlite::memory:`, which needs exactly one.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// Connections kept open while idle (at most `max_connections`).
    pub fn min_connections(mut self, n: u32) -> Self {
        self.min_connections = Some(n);
        self
    }

    /// How long to wait for a connection (> 0).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = Some(timeout);
        self
    }

    /// Close idle connections after this long; `None` keeps them.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Recycle connections after this long; `None` keeps them forever.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = Some(lifetime);
        self
    }

    /// SQLite's busy timeout (how long a writer waits for the lock).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = Some(timeout);
        self
    }

    /// Background retraining after this many new labels; `None` turns it off.
    pub fn retrain_after(mut self, labels: Option<u32>) -> Self {
        self.router.retrain_after = labels;
        self
    }

    /// Fewest labelled routes training accepts (at least 2).
    pub fn min_training_samples(mut self, n: usize) -> Self {
        self.router.train.min_samples = n;
        self
    }

    /// Train on every project's feedback instead of one project's.
    pub fn pooled_training(mut self, pooled: bool) -> Self {
        self.router.pooled_training = pooled;
        self
    }

    /// How long a cached router is used before it is checked for another process's
    /// activations ([`RouterConfig::check_interval`]; default 1 s, zero checks every time, at
    /// most one hour).
    pub fn router_check_interval(mut self, interval: Duration) -> Self {
        self.router.check_interval = interval;
        self
    }

    /// Whether projects without a model use the shipped default model (else the heuristic).
    pub fn use_default_model(mut self, yes: bool) -> Self {
        self.router.use_default_model = yes;
        self
    }

    /// The routing base: the model that routes projects without one of their own and the
    /// corpus their labels adapt it on (default: the shipped one).
    pub fn routing_base(mut self, base: RoutingBase) -> Self {
        self.router.base = base;
        self
    }

    /// How a project's labels adapt the routing base and the evidence activation needs.
    pub fn adaptation(mut self, params: AdaptParams) -> Self {
        self.router.adapt = params;
        self
    }

    /// Seed of the training split.
    pub fn training_seed(mut self, seed: u64) -> Self {
        self.router.train.seed = seed;
        self
    }

    /// Component capacities (each at least 1).
    pub fn capacities(mut self, capacities: Capacities) -> Self {
        self.working_memory.capacities = capacities;
        self
    }

    /// Default decay rate per second (> 0).
    pub fn decay_rate(mut self, rate: f64) -> Self {
        self.working_memory.decay_rate = rate;
        self
    }

    /// Activation below which items leave the active set (0..1).
    pub fn decay_threshold(mut self, threshold: f64) -> Self {
        self.working_memory.decay_threshold = threshold;
        self
    }

    /// Delete decayed items instead of moving them to pending consolidation.
    pub fn forget_decayed(mut self, forget: bool) -> Self {
        self.working_memory.forget_decayed = forget;
        self
    }

    /// Reject adds to full components instead of displacing an item.
    pub fn strict_capacity(mut self, strict: bool) -> Self {
        self.working_memory.strict_capacity = strict;
        self
    }

    /// How recall ranks (default: [`RecallParams::default`], measured on LoCoMo's development
    /// conversations). Checked by [`ConfigBuilder::build`].
    pub fn recall(mut self, params: RecallParams) -> Self {
        self.recall = params;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for an unknown scheme; [`Error::InvalidInput`] naming the setting
    /// for a zero acquire timeout, `max_connections` outside 1..=1000 or `min_connections` above it.
    pub fn build(self) -> Result<Config> {
        let backend = Backend::from_url(&self.url)?;
        let in_memory = backend == Backend::Sqlite && self.url.contains(":memory:");
        let pool = self.pool(backend, in_memory)?;
        check_router(&self.router)?;
        check_working_memory(&self.working_memory)?;
        self.recall.validate()?;
        Ok(Config {
            database_url: self.url,
            backend,
            in_memory,
            pool,
            router: self.router,
            working_memory: self.working_memory,
            recall: self.recall,
        })
    }

    /// The pool settings: the backend's defaults with the checked overrides. An in-memory
    /// SQLite database keeps its single connection, whatever was asked.
    fn pool(&self, backend: Backend, in_memory: bool) -> Result<PoolConfig> {
        let mut pool = PoolConfig::defaults(backend, in_memory);
        if !in_memory {
            if let Some(n) = self.max_connections {
                if !(1..=1000).contains(&n) {
                    return Err(Error::invalid(
                        "max_connections",
                        format!("must be within 1..=1000, got {n}"),
                    ));
                }
                pool.max_connections = n;
            }
            if let Some(n) = self.min_connections {
                pool.min_connections = n;
            }
            if pool.min_connections > pool.max_connections {
                return Err(Error::invalid(
                    "min_connections",
                    format!(
                        "must be at most max_connections ({}), got {}",
                        pool.max_connections, pool.min_connections
                    ),
                ));
            }
            if let Some(t) = self.idle_timeout {
                pool.idle_timeout = t;
            }
            if let Some(t) = self.max_lifetime {
                pool.max_lifetime = t;
            }
        }
        if let Some(t) = self.acquire_timeout {
            if t.is_zero() {
                return Err(Error::invalid(
                    "acquire_timeout",
                    "must be greater than zero",
                ));
            }
            pool.acquire_timeout = t;
        }
        if let Some(t) = self.busy_timeout {
            pool.busy_timeout = t;
        }
        Ok(pool)
    }
}

/// Checks the routing settings.
fn check_router(router: &RouterConfig) -> Result<()> {
    if router.train.min_samples < 2 {
        return Err(Error::invalid(
            "min_training_samples",
            format!("must be at least 2, got {}", router.train.min_samples),
        ));
    }
    router.train.check()?;
    router.adapt.validate()?;
    if router.retrain_after == Some(0) {
        return Err(Error::invalid(
            "retrain_after",
            "must be at least 1 label (or None to turn it off)",
        ));
    }
    if router.check_interval > MAX_CHECK_INTERVAL {
        return Err(Error::invalid(
            "router_check_interval",
            format!(
                "must be at most one hour, got {} s",
                router.check_interval.as_secs()
            ),
        ));
    }
    Ok(())
}

/// Longest [`RouterConfig::check_interval`].
const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(3600);

/// Checks the working-memory settings.
fn check_working_memory(wm: &WorkingMemoryConfig) -> Result<()> {
    crate::error::check_decay_rate("decay_rate", wm.decay_rate)?;
    if !(wm.decay_threshold.is_finite() && (0.0..1.0).contains(&wm.decay_threshold)) {
        return Err(Error::invalid(
            "decay_threshold",
            format!("must be within 0..1, got {}", wm.decay_threshold),
        ));
    }
    let caps = wm.capacities;
    if Component::ALL.iter().any(|&c| caps.of(c) == 0) {
        return Err(Error::invalid(
            "capacities",
            "every component needs a capacity of at least 1",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_defaults_are_the_documented_ones() {
        let cfg = Config::builder("postgres://localhost/x").build().unwrap();
        assert_eq!(cfg.pool().max_connections, 10);
        assert_eq!(cfg.pool().acquire_timeout, Duration::from_secs(30));
        assert_eq!(cfg.pool().idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(cfg.pool().max_lifetime, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn memory_sqlite_keeps_one_connection_whatever_is_asked() {
        let cfg = Config::builder("sqlite::memory:")
            .max_connections(8)
            .build()
            .unwrap();
        assert_eq!(cfg.pool().max_connections, 1);
        assert_eq!(cfg.pool().min_connections, 1);
    }

    #[test]
    fn bad_settings_name_the_field() {
        let err = Config::builder("sqlite://x.db")
            .max_connections(0)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "max_connections",
                    ..
                }
            ),
            "{err}"
        );
        let err = Config::builder("sqlite://x.db")
            .max_connections(2)
            .min_connections(3)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "min_connections",
                    ..
                }
            ),
            "{err}"
        );
        let err = Config::builder("mysql://x").build().unwrap_err();
        assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err}");
        let too_long = Config::builder("sqlite://x.db")
            .router_check_interval(Duration::from_secs(3601))
            .build()
            .unwrap_err();
        assert!(
            matches!(
                too_long,
                Error::InvalidInput {
                    field: "router_check_interval",
                    ..
                }
            ),
            "{too_long}"
        );
        let hour =
            Config::builder("sqlite://x.db").router_check_interval(Duration::from_secs(3600));
        assert_eq!(
            hour.build().unwrap().router().check_interval,
            Duration::from_secs(3600)
        );
    }
}
