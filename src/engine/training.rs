//! Feedback and training: labels in, a candidate model out, activated only on evidence.

use super::{Engine, MAX_BATCH};
use crate::config::RouterConfig;
use crate::db::models::ModelScope;
use crate::db::routes::{NewRoute, RouteRecord};
use crate::error::{check_text, check_unit, Error, Result};
use crate::features::RouteInput;
use crate::ids::{ItemId, ProjectId, RouteId};
use crate::layer::Layer;
use crate::router::{
    adapt, gather_evidence, train, AdaptParams, Evidence, Example, InUse, Metrics, ModelLabel,
    Router, TrainParams, TreeModel,
};
use crate::time::now_ms;

/// What [`Engine::train`] did, and the evidence it acted on.
#[derive(Debug, Clone)]
pub struct TrainingReport {
    /// The stored version.
    pub version: i64,
    /// The label its decisions carry.
    pub model: ModelLabel,
    /// Whether it now routes the project.
    pub activated: bool,
    /// How the model was made.
    pub method: TrainingMethod,
    /// Corpus examples the model learned from besides the labels (0 when trained from labels
    /// alone).
    pub corpus_rows: usize,
    /// The evidence for the activation decision: the candidate cross-validated on every label
    /// beside the router it would replace, and the rule ([`Evidence::better`]).
    pub evidence: Evidence,
    /// When the candidate was not activated and the project had an active model: how that
    /// model did in use, on the labels of its own routes, beside the baseline.
    pub in_use: Option<InUse>,
    /// The project model this training deactivated, because it did worse in use than the
    /// baseline by the rule activation asks of a candidate ([`InUse::worse`]); `None` when none
    /// was.
    pub deactivated: Option<ModelLabel>,
    /// Each feature's share of the impurity decrease (empty for an adapted model, whose trees
    /// are the routing base's).
    pub feature_importance: Vec<(&'static str, f64)>,
}

impl TrainingReport {
    /// Why the candidate was or was not activated, and what became of the model in use, in
    /// words: the verdicts and the evidence behind them.
    pub fn reason(&self) -> String {
        let mut reason = format!("{}; {}", self.evidence.verdict(), self.evidence.describe());
        if let Some(in_use) = &self.in_use {
            reason = format!("{reason}; {}; {}", in_use.verdict(), in_use.describe());
        }
        reason
    }

    /// The candidate's figures, cross-validated on the project's labels.
    pub fn metrics(&self) -> &Metrics {
        &self.evidence.cross_validated
    }
}

/// The report as JSON: the evidence flattened into figures and sentences (`reason`,
/// `evidence`, `in_use_evidence`), the keys the `athena` tool and MCP server print.
impl serde::Serialize for TrainingReport {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Flat<'a> {
            version: i64,
            model: &'a ModelLabel,
            activated: bool,
            reason: String,
            metrics: &'a Metrics,
            previous_accuracy: f64,
            previous_model: &'a ModelLabel,
            train_n: usize,
            method: TrainingMethod,
            corpus_rows: usize,
            folds: usize,
            evidence: String,
            wins: usize,
            losses: usize,
            in_use_evidence: Option<String>,
            deactivated: &'a Option<ModelLabel>,
            feature_importance: &'a [(&'static str, f64)],
        }
        let e = &self.evidence;
        Flat {
            version: self.version,
            model: &self.model,
            activated: self.activated,
            reason: self.reason(),
            metrics: &e.cross_validated,
            previous_accuracy: e.baseline.accuracy,
            previous_model: &e.baseline_model,
            train_n: e.labels,
            method: self.method,
            corpus_rows: self.corpus_rows,
            folds: e.folds,
            evidence: e.describe(),
            wins: e.wins,
            losses: e.losses,
            in_use_evidence: self.in_use.as_ref().map(InUse::describe),
            deactivated: &self.deactivated,
            feature_importance: &self.feature_importance,
        }
        .serialize(serializer)
    }
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
    project_id: ProjectId,
    label: &ModelLabel,
    baseline: &Router,
    params: &AdaptParams,
) -> InUse {
    let decided: Vec<(Example, Layer)> = records
        .iter()
        .filter(|r| r.project_id == project_id && &r.model_version == label)
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
        project_id: ProjectId,
        route_id: RouteId,
        correct: Layer,
    ) -> Result<RouteRecord> {
        let record = self
            .route_log()
            .feedback(project_id, route_id, correct)
            .await?;
        self.retrain_if_due(project_id, 1).await?;
        Ok(record)
    }

    /// Stores labelled notes as `project_id`'s feedback, as though each had been consolidated
    /// and then labelled: each is routed by the project's router now and logged with that
    /// decision and its label, all in one transaction (on an error nothing is stored). Training
    /// learns from them and measures the router on them like any other label, and they count
    /// towards automatic retraining as [`Engine::feedback`]'s do; [`Engine::train`] trains at
    /// once. Their routes have no working-memory item ([`RouteRecord::item_id`] 0). Returns the
    /// route ids, in order.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown project; [`Error::InvalidInput`] on `labels` for more
    /// than [`MAX_BATCH`], on `content` for empty or oversized text
    /// ([`crate::MAX_CONTENT_CHARS`]), on `activation`, `importance` or `age_seconds` out of
    /// range.
    #[tracing::instrument(skip(self, labels), fields(n = labels.len()))]
    pub async fn import_labels(
        &self,
        project_id: ProjectId,
        labels: &[(RouteInput<'_>, Layer)],
    ) -> Result<Vec<RouteId>> {
        if labels.len() > MAX_BATCH {
            return Err(Error::invalid(
                "labels",
                format!("at most {MAX_BATCH} in one call, got {}", labels.len()),
            ));
        }
        labels
            .iter()
            .try_for_each(|(input, _)| check_input(input))?;
        self.projects().ensure_exists(project_id).await?;
        let router = self.router(project_id).await?;
        let decisions: Vec<_> = labels
            .iter()
            .map(|(input, _)| router.route(input))
            .collect();
        let now = now_ms();
        let rows: Vec<NewRoute<'_>> = labels
            .iter()
            .zip(&decisions)
            .map(|((input, layer), decision)| NewRoute {
                project_id,
                item_id: ItemId(0),
                input: *input,
                decision,
                now,
                label: Some(*layer),
            })
            .collect();
        let ids = self.route_log().insert(&rows).await?;
        self.retrain_if_due(project_id, ids.len()).await?;
        Ok(ids)
    }

    /// Retrains `project_id` in the background when the `new` labels just stored took the count
    /// since its last stored model to (or past) a multiple of
    /// [`RouterConfig::retrain_after`].
    async fn retrain_if_due(&self, project_id: ProjectId, new: usize) -> Result<()> {
        let Some(threshold) = self.inner.config.router.retrain_after else {
            return Ok(());
        };
        let threshold = i64::from(threshold.max(1));
        let since = self.route_log().labels_since_last_model(project_id).await?;
        let before = (since - new as i64).max(0);
        if since / threshold > before / threshold {
            self.retrain_in_background(project_id);
        }
        Ok(())
    }

    /// Trains `project_id` on a task of its own; [`Engine::close`] waits for it.
    fn retrain_in_background(&self, project_id: ProjectId) {
        let engine = self.clone();
        let job = tokio::spawn(async move {
            match engine.train(project_id).await {
                Ok(report) => tracing::info!(
                    %project_id,
                    version = report.version,
                    activated = report.activated,
                    "background retraining done"
                ),
                Err(err) => tracing::warn!(%project_id, %err, "background retraining failed"),
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
    pub async fn train(&self, project_id: ProjectId) -> Result<TrainingReport> {
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
        project_id: ProjectId,
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
                self.delta_base(),
                &outcome.evidence.cross_validated,
                activate,
            )
            .await?;
        let mut deactivated = None;
        if in_use.as_ref().is_some_and(InUse::worse) {
            deactivated = self
                .deactivate_model(project_id)
                .await?
                .map(|m| scope.label(m.version));
        }
        if activate {
            self.refresh_router(project_id).await?;
        }
        Ok(TrainingReport {
            version: stored.version,
            model: scope.label(stored.version),
            activated: activate,
            method: outcome.method,
            corpus_rows: outcome.corpus_rows,
            evidence: outcome.evidence,
            in_use,
            deactivated,
            feature_importance: outcome.feature_importance,
        })
    }
}

/// Checks what an imported label says of its note, as adding the note would.
fn check_input(input: &RouteInput<'_>) -> Result<()> {
    check_text("content", input.content, crate::MAX_CONTENT_CHARS)?;
    check_unit("activation", input.activation)?;
    check_unit("importance", input.importance)?;
    if !(input.age_seconds.is_finite() && input.age_seconds >= 0.0) {
        return Err(Error::invalid(
            "age_seconds",
            format!("must be a finite number >= 0, got {}", input.age_seconds),
        ));
    }
    Ok(())
}
