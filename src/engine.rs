//! [`Engine`]: the async front door. It owns the database, the routers and the training loop.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use crate::config::Config;
use crate::config::RouterConfig;
use crate::consolidate::{self, BatchReport, Consolidated};
use crate::db::items::Claim;
use crate::db::layers::Layers;
use crate::db::models::{ModelRegistry, ModelScope, StoredModel};
use crate::db::projects::Projects;
use crate::db::recall::RecallIndex;
use crate::db::routes::{RouteLog, RouteRecord, RoutingStats};
use crate::db::{Database, HealthReport, PoolStats};
use crate::error::{Error, Result};
use crate::features::RouteInput;
use crate::layer::Layer;
use crate::recall::{Place, RecallHit};
use crate::router::{
    adapt, gather_evidence, train, AdaptParams, Evidence, Example, InUse, Metrics, RouteDecision,
    Router, TrainParams, TreeModel,
};
use crate::working_memory::{MemoryEvent, WorkingMemory};

/// Most items one batch call takes.
pub const MAX_BATCH: usize = 100_000;

/// The async front door of athena-memory. Cheap to clone: clones share the pool and routers.
///
/// # Example
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use athena_memory::Engine;
///
/// let engine = Engine::open("sqlite::memory:").await?;
/// let project = engine.projects().get_or_create("/home/me/app", None).await?;
/// assert_eq!(project.name, "app");
///
/// // Bad input is an error that names the field, never a panic:
/// let err = engine.projects().get_or_create("relative/path", None).await.unwrap_err();
/// assert!(err.to_string().starts_with("invalid path"));
/// engine.close().await;
/// # Ok::<(), athena_memory::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    config: Config,
    /// The router of each project seen so far. A std lock: it is held only to clone an `Arc`,
    /// never across an `.await`.
    routers: RwLock<HashMap<i64, Router>>,
    /// Background retrainings under way ([`Engine::close`] waits for them).
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Working-memory events, shared by every `WorkingMemory` handle of this engine.
    events: tokio::sync::broadcast::Sender<MemoryEvent>,
}

/// What [`Engine::train`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainingReport {
    /// The stored version.
    pub version: i64,
    /// The label its decisions carry.
    pub model: String,
    /// Whether it now routes the project.
    pub activated: bool,
    /// Why it was or was not activated.
    pub reason: String,
    /// Its figures on the held-out rows.
    pub metrics: Metrics,
    /// The previously routing model's accuracy on the same held-out rows.
    pub previous_accuracy: f64,
    /// The previously routing model's label.
    pub previous_model: String,
    /// Labelled rows used.
    pub train_n: usize,
    /// How the model was made.
    pub method: TrainingMethod,
    /// Corpus examples the model learned from besides the labels (0 when trained from labels
    /// alone).
    pub corpus_rows: usize,
    /// Folds of the cross-validation the activation rests on.
    pub folds: usize,
    /// The evidence for the activation decision, in words.
    pub evidence: String,
    /// Labels the candidate routed right (cross-validated) and the previous model wrong.
    pub wins: usize,
    /// Labels the previous model routed right and the candidate wrong (cross-validated). The
    /// candidate's lead in labels right is `wins - losses`.
    pub losses: usize,
    /// When the candidate was not activated and the project had an active model: how that model
    /// did in use, on the labels of its own routes, beside the baseline ([`InUse::describe`]).
    pub in_use_evidence: Option<String>,
    /// The project model this training deactivated, because it did worse in use than the
    /// baseline by the rule activation asks of a candidate ([`InUse::worse`]); `None` when none
    /// was.
    pub deactivated: Option<String>,
    /// Each feature's share of the impurity decrease (empty for an adapted model, whose trees
    /// are the routing base's).
    pub feature_importance: Vec<(&'static str, f64)>,
}

/// How [`Engine::train`] made a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainingMethod {
    /// The routing base's model ([`crate::RoutingBase`], by default the shipped one) adapted
    /// with the project's labels: its trees, with the text model refitted on the base's corpus
    /// plus the labels weighted up.
    Adapted,
    /// Trained from the labels alone (when the default model is turned off, or the base's
    /// model cannot be adapted).
    FromLabels,
}

/// A trained candidate and the evidence about it.
struct Candidate {
    model: TreeModel,
    evidence: Evidence,
    method: TrainingMethod,
    corpus_rows: usize,
    feature_importance: Vec<(&'static str, f64)>,
}

/// How `project_id`'s model `label` did in use: its own routes among `records` that have
/// labels, beside `baseline`.
fn in_use(
    records: &[RouteRecord],
    project_id: i64,
    label: &str,
    baseline: &Router,
    params: &AdaptParams,
) -> InUse {
    let decided: Vec<(Example, Layer)> = records
        .iter()
        .filter(|r| r.project_id == project_id && r.model_version == label)
        .filter_map(|r| Some((r.example()?, r.layer)))
        .collect();
    InUse::compare(label, &decided, baseline, params)
}

/// Trains a project's candidate model: adapted from `base` when given, else from the labels
/// alone; either way with cross-validated evidence against `baseline`.
fn train_project(
    examples: &[Example],
    base: Option<&TreeModel>,
    baseline: &Router,
    cfg: &RouterConfig,
) -> Result<Candidate> {
    if examples.len() < cfg.train.min_samples {
        return Err(Error::TrainingDeclined {
            reason: format!(
                "{} labelled rows, at least {} are needed",
                examples.len(),
                cfg.train.min_samples
            ),
        });
    }
    if let Some(base) = base {
        let adapted = adapt(base, cfg.base.corpus(), examples, baseline, &cfg.adapt)?;
        return Ok(Candidate {
            model: adapted.model,
            evidence: adapted.evidence,
            method: TrainingMethod::Adapted,
            corpus_rows: adapted.corpus_rows,
            feature_importance: Vec::new(),
        });
    }
    let schema = crate::features::FeatureSchema::LATEST;
    let params = TrainParams {
        evaluation_fraction: 0.0,
        ..cfg.train.clone()
    };
    let fold_params = TrainParams {
        min_samples: 2,
        ..params.clone()
    };
    let evidence = gather_evidence(examples, baseline, &cfg.adapt, |rest| {
        Ok(train(rest, schema, &fold_params)?.model)
    })?;
    let trained = train(examples, schema, &params)?;
    Ok(Candidate {
        model: trained.model,
        evidence,
        method: TrainingMethod::FromLabels,
        corpus_rows: 0,
        feature_importance: trained.feature_importance,
    })
}

impl Engine {
    /// Opens the database at `url` with default settings and migrates it.
    ///
    /// # Errors
    /// As [`Database::open`].
    #[tracing::instrument(skip_all, fields(url = %crate::config::redact_url(url)))]
    pub async fn open(url: &str) -> Result<Self> {
        Self::with_config(Config::builder(url).build()?).await
    }

    /// Opens the database described by a validated [`Config`].
    ///
    /// # Errors
    /// As [`Database::open`].
    pub async fn with_config(config: Config) -> Result<Self> {
        let db = Database::open_with(&config).await?;
        Ok(Engine {
            inner: Arc::new(Inner {
                db,
                config,
                routers: RwLock::new(HashMap::new()),
                background: Mutex::new(Vec::new()),
                events: tokio::sync::broadcast::channel(256).0,
            }),
        })
    }

    /// The underlying database.
    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Projects: register, look up by path.
    pub fn projects(&self) -> Projects {
        Projects::new(self.inner.db.clone())
    }

    /// The working memory of every project.
    pub fn working_memory(&self) -> WorkingMemory {
        WorkingMemory::new(
            self.inner.db.clone(),
            self.inner.config.working_memory.clone(),
            self.inner.events.clone(),
        )
    }

    /// The four long-term layers.
    pub fn layers(&self) -> Layers {
        Layers::new(self.inner.db.clone())
    }

    /// The route log.
    pub fn route_log(&self) -> RouteLog {
        RouteLog::new(self.inner.db.clone())
    }

    /// The model registry.
    pub fn models(&self) -> ModelRegistry {
        ModelRegistry::new(self.inner.db.clone())
    }

    /// The router of `project_id`: its active model, else the active global model, else the
    /// shipped default model (or the heuristic when configured so). Cached after the first call;
    /// training, activation and import in this engine refresh it.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] if the active stored model is corrupt; database errors.
    pub async fn router(&self, project_id: i64) -> Result<Router> {
        if let Some(router) = self
            .inner
            .routers
            .read()
            .expect("router cache lock")
            .get(&project_id)
        {
            return Ok(router.clone());
        }
        self.refresh_router(project_id).await
    }

    /// Reloads `project_id`'s router from the database (e.g. after another process trained).
    ///
    /// # Errors
    /// As [`Engine::router`].
    pub async fn refresh_router(&self, project_id: i64) -> Result<Router> {
        let models = self.models();
        let stored = match models.active(ModelScope::Project(project_id)).await? {
            Some(m) => Some(m),
            None => models.active(ModelScope::Global).await?,
        };
        let router = match stored {
            Some(m) => Router::Model(Arc::new(m.load()?)),
            None => self.fallback()?,
        };
        self.inner
            .routers
            .write()
            .expect("router cache lock")
            .insert(project_id, router.clone());
        Ok(router)
    }

    /// Decides where an item of `project_id` belongs. Pure once the project's router is cached:
    /// no database access, microseconds.
    ///
    /// # Errors
    /// As [`Engine::router`].
    pub async fn route(&self, project_id: i64, input: &RouteInput<'_>) -> Result<RouteDecision> {
        Ok(self.router(project_id).await?.route(input))
    }

    /// Records the correct layer for a logged route. The label stays usable after the item has
    /// left working memory. When the labels given to the project since its last stored model
    /// reach a multiple of [`crate::config::RouterConfig::retrain_after`], the project is
    /// retrained in the background; routing is never blocked by it. The labels are counted in
    /// the database, so labels given by several processes (or one command each) add up;
    /// [`Engine::close`] waits for a retraining under way.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the route does not exist in this project.
    #[tracing::instrument(skip(self))]
    pub async fn feedback(
        &self,
        project_id: i64,
        route_id: i64,
        correct: Layer,
    ) -> Result<RouteRecord> {
        let record = self
            .route_log()
            .feedback(project_id, route_id, correct)
            .await?;
        if let Some(threshold) = self.inner.config.router.retrain_after {
            let since = self.route_log().labels_since_last_model(project_id).await?;
            if since > 0 && since % i64::from(threshold) == 0 {
                self.retrain_in_background(project_id);
            }
        }
        Ok(record)
    }

    /// Trains `project_id` on a task of its own; [`Engine::close`] waits for it.
    fn retrain_in_background(&self, project_id: i64) {
        let engine = self.clone();
        let job = tokio::spawn(async move {
            match engine.train(project_id).await {
                Ok(report) => tracing::info!(
                    project_id,
                    version = report.version,
                    activated = report.activated,
                    "background retraining done"
                ),
                Err(err) => tracing::warn!(project_id, %err, "background retraining failed"),
            }
        });
        let mut jobs = self.inner.background.lock().expect("background jobs lock");
        jobs.retain(|j| !j.is_finished());
        jobs.push(job);
    }

    /// Trains a new model version for `project_id` from its routes with feedback (every
    /// project's when pooled training is configured), stores it, and activates it only when the
    /// evidence says it is better than the project's baseline router.
    ///
    /// The model: with the default model on (the default), the routing base's model adapted to
    /// the labels ([`crate::router::adapt()`]): the same trees, the text model refitted on the
    /// base's corpus plus the labels weighted up, and a project correction of its probabilities learned
    /// from the labels, so even a few labels help and nothing the default knew is forgotten.
    /// With it off, a model trained from the labels alone.
    ///
    /// The evidence: every label routed by a candidate fitted without it (10-fold
    /// cross-validation, fewer folds below 10 labels), against the baseline (the active global
    /// model, else the shipped default or the heuristic) on the same labels. The model is
    /// activated only with at least [`crate::router::AdaptParams::min_labels`] labels (default
    /// 20) and at least [`crate::router::AdaptParams::min_lead`] (default 2) more of them
    /// right. The report says what evidence it used.
    ///
    /// A candidate that is not activated leaves the project's active model in place only while
    /// that model holds up in use: its own routes that have labels since (which it never
    /// trained on) are routed again by the baseline, and when the baseline would have routed
    /// them better by the same rule (at least `min_labels` of them, `min_lead` more right, the
    /// sign test) the active model is deactivated and the project returns to the baseline
    /// ([`InUse`]; the report's `in_use_evidence` and `deactivated`). Its versions stay stored.
    ///
    /// # Errors
    /// [`Error::TrainingDeclined`] with too few labels (default minimum 10) or only one layer
    /// among them; [`Error::NotFound`] for an unknown project.
    #[tracing::instrument(skip(self))]
    pub async fn train(&self, project_id: i64) -> Result<TrainingReport> {
        self.projects().ensure_exists(project_id).await?;
        let cfg = self.inner.config.router.clone();
        let scope_rows = if cfg.pooled_training {
            None
        } else {
            Some(project_id)
        };
        let records = self.route_log().labelled(scope_rows).await?;
        let baseline = self.baseline_router().await?;
        let base = match self.fallback()? {
            Router::Model(m) if m.can_adapt() => Some(m),
            _ => None,
        };
        let scope = ModelScope::Project(project_id);
        let active = self
            .models()
            .active(scope)
            .await?
            .map(|m| scope.label(m.version));
        let (outcome, in_use) = tokio::task::spawn_blocking(move || {
            let examples: Vec<Example> = records.iter().filter_map(RouteRecord::example).collect();
            let outcome = train_project(&examples, base.as_deref(), &baseline, &cfg)?;
            // The active model is judged in use only when the candidate does not replace it.
            let in_use = active
                .filter(|_| !outcome.evidence.better())
                .map(|label| in_use(&records, project_id, &label, &baseline, &cfg.adapt));
            Ok::<_, Error>((outcome, in_use))
        })
        .await
        .map_err(|e| Error::TrainingDeclined {
            reason: format!("training task failed: {e}"),
        })??;
        self.settle(project_id, outcome, in_use).await
    }

    /// Stores a training's candidate (active when its evidence says it is better), deactivates
    /// the project's model when it did worse in use, and reports what was done and why.
    async fn settle(
        &self,
        project_id: i64,
        outcome: Candidate,
        in_use: Option<InUse>,
    ) -> Result<TrainingReport> {
        let scope = ModelScope::Project(project_id);
        let activate = outcome.evidence.better();
        let stored = self
            .models()
            .store(
                scope,
                &outcome.model,
                &outcome.evidence.cross_validated,
                activate,
            )
            .await?;
        let evidence = outcome.evidence.describe();
        let mut reason = format!("{}; {evidence}", outcome.evidence.verdict());
        let mut deactivated = None;
        if let Some(in_use) = &in_use {
            reason = format!("{reason}; {}; {}", in_use.verdict(), in_use.describe());
            if in_use.worse() {
                deactivated = self
                    .deactivate_model(project_id)
                    .await?
                    .map(|m| scope.label(m.version));
            }
        }
        if activate {
            self.refresh_router(project_id).await?;
        }
        Ok(TrainingReport {
            version: stored.version,
            model: scope.label(stored.version),
            activated: activate,
            reason,
            previous_accuracy: outcome.evidence.baseline.accuracy,
            previous_model: outcome.evidence.baseline_model.clone(),
            train_n: outcome.evidence.labels,
            method: outcome.method,
            corpus_rows: outcome.corpus_rows,
            folds: outcome.evidence.folds,
            evidence,
            wins: outcome.evidence.wins,
            losses: outcome.evidence.losses,
            in_use_evidence: in_use.as_ref().map(InUse::describe),
            deactivated,
            metrics: outcome.evidence.cross_validated,
            feature_importance: outcome.feature_importance,
        })
    }

    /// The router a project uses when it has no model of its own: the active global model,
    /// else the shipped default (or the heuristic).
    async fn baseline_router(&self) -> Result<Router> {
        Ok(match self.models().active(ModelScope::Global).await? {
            Some(m) => Router::Model(Arc::new(m.load()?)),
            None => self.fallback()?,
        })
    }

    /// What routes a project without a model of its own or a global one: the routing base's
    /// model (the shipped one is parsed on first use, once per process, so commands that never
    /// route do not pay for it), or the heuristic when configured so.
    fn fallback(&self) -> Result<Router> {
        Ok(if self.inner.config.router.use_default_model {
            Router::Model(self.inner.config.router.base.model()?)
        } else {
            Router::Heuristic
        })
    }

    /// Makes an earlier (or later) stored version of `project_id`'s model the active one.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the project does not exist (0 included: the global models are
    /// changed only by [`Engine::activate_global_model`]) or has no such version; nothing
    /// changes then.
    pub async fn activate_model(&self, project_id: i64, version: i64) -> Result<StoredModel> {
        let stored = self
            .models()
            .activate(ModelScope::Project(project_id), version)
            .await?;
        self.refresh_router(project_id).await?;
        Ok(stored)
    }

    /// Makes `version` of the global models the active one: it routes every project that has no
    /// active model of its own. The only way to change the global scope: a project id, even 0,
    /// never reaches it.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such global version; nothing changes then.
    pub async fn activate_global_model(&self, version: i64) -> Result<StoredModel> {
        let stored = self.models().activate(ModelScope::Global, version).await?;
        self.clear_routers();
        Ok(stored)
    }

    /// Forgets every cached router: the next route of each project reads its router again.
    fn clear_routers(&self) {
        self.inner
            .routers
            .write()
            .expect("router cache lock")
            .clear();
    }

    /// Returns `project_id` to the router it had before any model of its own: the active global
    /// model, else the shipped default (or the heuristic, if so configured). The project's
    /// versions stay stored; [`Engine::activate_model`] brings one back. Returns the version that
    /// was active, `None` when none was (then nothing changes).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the project does not exist.
    pub async fn deactivate_model(&self, project_id: i64) -> Result<Option<StoredModel>> {
        let was = self
            .models()
            .deactivate(ModelScope::Project(project_id))
            .await?;
        self.refresh_router(project_id).await?;
        Ok(was)
    }

    /// Deactivates the active global model, so projects without a model of their own are routed
    /// by the shipped default again. Returns the version that was active, `None` when none was.
    ///
    /// # Errors
    /// [`Error::Database`] when the store cannot be reached.
    pub async fn deactivate_global_model(&self) -> Result<Option<StoredModel>> {
        let was = self.models().deactivate(ModelScope::Global).await?;
        self.clear_routers();
        Ok(was)
    }

    /// Writes the model routing `project_id` to a JSON file (the shipped default or a stored
    /// version; the heuristic has no file and is an error).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `model` when the project is routed by the heuristic;
    /// [`Error::Io`] when the file cannot be written.
    pub async fn export_model(&self, project_id: i64, path: &Path) -> Result<()> {
        match self.router(project_id).await? {
            Router::Model(model) => model.save(path),
            Router::Heuristic => Err(Error::invalid(
                "model",
                "the heuristic router has no model file to export",
            )),
        }
    }

    /// Reads a model file, validates it and stores it as the next version of `project_id`,
    /// activating it when `activate` is true.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::InvalidModel`] for a corrupt or invalid file (nothing is stored).
    pub async fn import_model(
        &self,
        project_id: i64,
        path: &Path,
        activate: bool,
    ) -> Result<StoredModel> {
        let model = TreeModel::load(path)?;
        let stored = self
            .models()
            .store(
                ModelScope::Project(project_id),
                &model,
                &Metrics::compute([]),
                activate,
            )
            .await?;
        if activate {
            self.refresh_router(project_id).await?;
        }
        Ok(stored)
    }

    /// Routing figures of `project_id`, with the label of the model routing it now.
    ///
    /// # Errors
    /// Database errors.
    pub async fn routing_stats(&self, project_id: i64) -> Result<RoutingStats> {
        let mut stats = self.route_log().stats(project_id).await?;
        stats.active_model = self.router(project_id).await?.model_label().to_owned();
        Ok(stats)
    }

    /// Consolidates one working-memory item: routes it and, in one transaction, writes the
    /// layer row, logs the route and removes the item from working memory.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the item is not in this project's working memory (including when
    /// another worker consolidated it first); database errors leave the item where it was.
    #[tracing::instrument(skip(self))]
    pub async fn consolidate(&self, project_id: i64, item_id: i64) -> Result<Consolidated> {
        self.consolidate_one(project_id, item_id, None).await
    }

    /// Like [`Engine::consolidate`], but into `layer` as the caller says (confidence 1, model
    /// `override`); the route is logged all the same.
    ///
    /// # Errors
    /// As [`Engine::consolidate`].
    #[tracing::instrument(skip(self))]
    pub async fn consolidate_as(
        &self,
        project_id: i64,
        item_id: i64,
        layer: Layer,
    ) -> Result<Consolidated> {
        self.consolidate_one(project_id, item_id, Some(layer)).await
    }

    async fn consolidate_one(
        &self,
        project_id: i64,
        item_id: i64,
        layer: Option<Layer>,
    ) -> Result<Consolidated> {
        let router = self.router(project_id).await?;
        let mut done = consolidate::consolidate(
            &self.inner.db,
            &router,
            project_id,
            Claim::Ids(&[item_id]),
            layer,
        )
        .await?;
        done.pop().ok_or(Error::NotFound {
            entity: "working memory item",
            id: item_id,
            project_id,
        })
    }

    /// Consolidates many items in one transaction with batched statements. Ids that are not in
    /// this project's working memory are listed in the report; the rest are consolidated.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `ids` for more than 100,000 ids; database errors (then nothing
    /// is consolidated and every item stays in working memory).
    #[tracing::instrument(skip(self, ids), fields(n = ids.len()))]
    pub async fn consolidate_batch(&self, project_id: i64, ids: &[i64]) -> Result<BatchReport> {
        if ids.len() > MAX_BATCH {
            return Err(Error::invalid(
                "ids",
                format!("at most {MAX_BATCH} per batch, got {}", ids.len()),
            ));
        }
        let router = self.router(project_id).await?;
        let done =
            consolidate::consolidate(&self.inner.db, &router, project_id, Claim::Ids(ids), None)
                .await?;
        Ok(consolidate::report(ids, done))
    }

    /// Consolidates up to `limit` items waiting in pending consolidation (displaced by a full
    /// component or decayed), oldest first. Safe to run from many workers and processes at once:
    /// each item is consolidated exactly once. The report's `not_found` is always empty (no ids
    /// were asked for); `consolidated` is empty when nothing was pending.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `limit` for 0 or more than 100,000; database errors.
    #[tracing::instrument(skip(self))]
    pub async fn consolidate_pending(&self, project_id: i64, limit: u32) -> Result<BatchReport> {
        if limit == 0 || limit as usize > MAX_BATCH {
            return Err(Error::invalid(
                "limit",
                format!("must be within 1..={MAX_BATCH}, got {limit}"),
            ));
        }
        let router = self.router(project_id).await?;
        let done = consolidate::consolidate(
            &self.inner.db,
            &router,
            project_id,
            Claim::Pending(limit),
            None,
        )
        .await?;
        Ok(consolidate::report(&[], done))
    }

    /// Consolidates up to `limit` items of working memory, active or pending, oldest first: what
    /// an agent means at the end of a task ("keep what I noted"). Safe to run from many workers
    /// at once, like [`Engine::consolidate_pending`]; `not_found` is always empty.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `limit` for 0 or more than 100,000; database errors.
    #[tracing::instrument(skip(self))]
    pub async fn consolidate_all(&self, project_id: i64, limit: u32) -> Result<BatchReport> {
        if limit == 0 || limit as usize > MAX_BATCH {
            return Err(Error::invalid(
                "limit",
                format!("must be within 1..={MAX_BATCH}, got {limit}"),
            ));
        }
        let router = self.router(project_id).await?;
        let done =
            consolidate::consolidate(&self.inner.db, &router, project_id, Claim::All(limit), None)
                .await?;
        Ok(consolidate::report(&[], done))
    }

    /// Recall: the `k` memories that best answer `query`, wherever they live (working memory,
    /// active or pending, and the four layers), best first. Each hit says where it lives and
    /// carries the id the next call needs. A memory is recallable as soon as the call that
    /// stored it returns. Ranking: BM25 over the analysed text, a share of the scores of the
    /// memories before and after it in its session, a boost when the query names its speaker,
    /// usefulness and recency (see [`crate::RecallParams`]). A query of stop words only ("what was
    /// it?") is answered with the most recent memories. Reads only.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `query` for an empty query, one over 10,000 characters,
    /// one with a NUL or without any letter or digit, and naming `k` outside 1..=1000.
    #[tracing::instrument(skip(self))]
    pub async fn recall(&self, project_id: i64, query: &str, k: usize) -> Result<Vec<RecallHit>> {
        self.recall_places(project_id, query, k, &[]).await
    }

    /// [`Engine::recall`] restricted to memories in `layers` (working memory is left out; all
    /// four layers and working memory when `layers` is empty).
    ///
    /// # Errors
    /// As [`Engine::recall`].
    pub async fn recall_in(
        &self,
        project_id: i64,
        query: &str,
        k: usize,
        layers: &[Layer],
    ) -> Result<Vec<RecallHit>> {
        let places: Vec<Place> = layers.iter().map(|l| Place::from(*l)).collect();
        self.recall_places(project_id, query, k, &places).await
    }

    /// The terms memory `id` of `place` is indexed under, with their counts, in term order: what
    /// the analyzer made of its text (see [`crate::recall::analyze`]), as the database holds it.
    /// Empty for an unknown memory or one of another project.
    ///
    /// # Errors
    /// Database errors.
    pub async fn indexed_terms(
        &self,
        project_id: i64,
        place: Place,
        id: i64,
    ) -> Result<Vec<(String, i64)>> {
        RecallIndex::new(self.inner.db.clone())
            .stored_terms(project_id, place, id)
            .await
    }

    async fn recall_places(
        &self,
        project_id: i64,
        query: &str,
        k: usize,
        places: &[Place],
    ) -> Result<Vec<RecallHit>> {
        RecallIndex::new(self.inner.db.clone())
            .search(project_id, query, k, places, &self.inner.config.recall)
            .await
    }

    /// Connection-pool statistics.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.db.pool_stats()
    }

    /// Database health; see [`Database::health_check`].
    pub async fn health_check(&self) -> HealthReport {
        self.inner.db.health_check().await
    }

    /// Waits for background retrainings under way, then closes the pool gracefully; later
    /// calls fail with [`Error::Closed`].
    pub async fn close(&self) {
        let jobs =
            std::mem::take(&mut *self.inner.background.lock().expect("background jobs lock"));
        for job in jobs {
            // A retraining that panicked has logged nothing worth more than closing.
            let _ = job.await;
        }
        self.inner.db.close().await
    }
}
