//! The route log, `consolidation_routes`: every routing decision that placed an item, with a
//! snapshot of the item (content, component, activation, importance, age), its features and
//! schema, and after feedback the correct layer. It has no foreign key to `working_memory`, so
//! the training data outlives the items.

use crate::component::Component;
use crate::db::{fetch_rows, insert_rows, on_pool, Database, WriteTx};
use crate::error::{Entity, Error, Result};
use crate::features::{FeatureSchema, OwnedRouteInput, RouteInput, TextKind};
use crate::ids::{ItemId, ProjectId, RouteId};
use crate::layer::Layer;
use crate::router::{ModelLabel, RouteDecision};
use crate::time::{now_ms, Millis};

/// Columns of a route row, in `SELECT` and `RETURNING` lists, in `RouteRow` order.
macro_rules! route_columns {
    () => {
        "id, project_id, item_id, content, component, activation, importance, age_seconds, feature_schema, model_version, layer, confidence, correct_layer, was_correct, created_at, feedback_at, text_kind"
    };
}

/// A logged route.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RouteRecord {
    /// Route id.
    pub id: RouteId,
    /// Owning project.
    pub project_id: ProjectId,
    /// The working-memory item that was routed; 0 for a label imported with
    /// [`crate::Engine::import_labels`] (no item; item ids start at 1).
    pub item_id: ItemId,
    /// The item as the router saw it (its age: when it was routed; its kind: when its caller
    /// said), kept so that labelled routes can train a model of any feature schema.
    #[serde(flatten)]
    pub item: OwnedRouteInput,
    /// The schema of the features the decision read.
    pub feature_schema: FeatureSchema,
    /// The model that decided.
    pub model_version: ModelLabel,
    /// The decided layer.
    pub layer: Layer,
    /// The decision's confidence.
    pub confidence: f64,
    /// The correct layer, once feedback was given.
    pub correct_layer: Option<Layer>,
    /// Whether the decision was right, once feedback was given.
    pub was_correct: Option<bool>,
    /// When it was routed (UTC Unix ms).
    pub created_at: Millis,
    /// When feedback was given.
    pub feedback_at: Option<Millis>,
}

impl RouteRecord {
    /// The item snapshot as the router sees it, for retraining on any schema.
    pub fn as_input(&self) -> RouteInput<'_> {
        self.item.as_input()
    }

    /// The snapshot as a training example, when feedback was given.
    pub fn example(&self) -> Option<crate::router::Example> {
        self.correct_layer
            .map(|layer| crate::router::Example::new(&self.as_input(), layer))
    }
}

/// A `consolidation_routes` row as the database returns it, in [`route_columns!`] order.
#[derive(sqlx::FromRow)]
struct RouteRow {
    id: RouteId,
    project_id: ProjectId,
    item_id: ItemId,
    content: String,
    component: Component,
    activation: f64,
    importance: f64,
    age_seconds: f64,
    feature_schema: FeatureSchema,
    #[sqlx(try_from = "String")]
    model_version: ModelLabel,
    layer: Layer,
    confidence: f64,
    correct_layer: Option<Layer>,
    was_correct: Option<bool>,
    created_at: Millis,
    feedback_at: Option<Millis>,
    text_kind: Option<TextKind>,
}

impl From<RouteRow> for RouteRecord {
    fn from(r: RouteRow) -> Self {
        RouteRecord {
            id: r.id,
            project_id: r.project_id,
            item_id: r.item_id,
            item: OwnedRouteInput {
                content: r.content,
                component: r.component,
                activation: r.activation,
                importance: r.importance,
                age_seconds: r.age_seconds,
                kind: r.text_kind,
            },
            feature_schema: r.feature_schema,
            model_version: r.model_version,
            layer: r.layer,
            confidence: r.confidence,
            correct_layer: r.correct_layer,
            was_correct: r.was_correct,
            created_at: r.created_at,
            feedback_at: r.feedback_at,
        }
    }
}

/// Routing figures of one project.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RoutingStats {
    /// Routes logged.
    pub total_routes: i64,
    /// Per layer: routes decided for it and their mean confidence, in [`Layer::ALL`] order.
    pub per_layer: Vec<LayerRouteStats>,
    /// Routes that received feedback.
    pub feedback_count: i64,
    /// Share of fed-back routes that were right; `None` without feedback.
    pub accuracy: Option<f64>,
    /// The model routing this project now.
    pub active_model: ModelLabel,
    /// Per model that decided routes, oldest first (by its first route): how many it decided
    /// and how its fed-back routes did. The figures of the model routing now are what tells
    /// whether an activated model does better than the one before it (and when to
    /// deactivate it).
    pub per_model: Vec<ModelRouteStats>,
}

/// Routes decided by one model, and how those that received feedback did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelRouteStats {
    /// The model, as logged with its routes.
    pub model: ModelLabel,
    /// Routes it decided.
    pub routes: i64,
    /// Of those, how many received feedback.
    pub feedback_count: i64,
    /// Of those, how many it had right.
    pub correct: i64,
    /// `correct / feedback_count`; `None` without feedback.
    pub accuracy: Option<f64>,
}

/// Routes decided for one layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerRouteStats {
    /// The layer.
    pub layer: Layer,
    /// How many routes chose it.
    pub count: i64,
    /// Their mean confidence (`None` when there were none).
    pub mean_confidence: Option<f64>,
}

/// A new `consolidation_routes` row: an item snapshot and the decision about it.
pub(crate) struct NewRoute<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) item_id: ItemId,
    pub(crate) input: RouteInput<'a>,
    pub(crate) decision: &'a RouteDecision,
    pub(crate) now: Millis,
    /// The correct layer when it is known as the route is logged (imported labels).
    pub(crate) label: Option<Layer>,
}

/// Logs routes (one or many); returns `(route id, item id)` of each.
pub(crate) async fn insert_routes(
    tx: &mut WriteTx,
    rows: &[NewRoute<'_>],
) -> Result<Vec<(RouteId, ItemId)>> {
    Ok(insert_rows!(
        tx,
        (RouteId, ItemId),
        rows,
        "INSERT INTO consolidation_routes (project_id, item_id, content, component, activation, importance, age_seconds, features, feature_schema, model_version, layer, confidence, created_at, text_kind, correct_layer, was_correct, feedback_at) ",
        " RETURNING id, item_id",
        |b, r| {
            b.push_bind(r.project_id)
                .push_bind(r.item_id)
                .push_bind(r.input.content)
                .push_bind(r.input.component.as_str())
                .push_bind(r.input.activation)
                .push_bind(r.input.importance)
                .push_bind(r.input.age_seconds)
                .push_bind(sqlx::types::Json(&r.decision.features))
                .push_bind(r.decision.feature_schema.as_str())
                .push_bind(r.decision.model.to_string())
                .push_bind(r.decision.layer.as_str())
                .push_bind(r.decision.confidence)
                .push_bind(r.now)
                .push_bind(r.input.kind.map(TextKind::as_str))
                .push_bind(r.label.map(Layer::as_str))
                .push_bind(r.label.map(|l| l == r.decision.layer))
                .push_bind(r.label.map(|_| r.now));
        }
    ))
}

/// Repository of the route log.
#[derive(Debug, Clone)]
pub struct RouteLog {
    db: Database,
}

impl RouteLog {
    /// The repository over `db`.
    pub(crate) fn new(db: Database) -> Self {
        RouteLog { db }
    }

    /// Logs `rows` in one transaction and returns their route ids, in order. Consolidation logs
    /// its routes itself, inside its own transaction; this is for imported labels.
    pub(crate) async fn insert(&self, rows: &[NewRoute<'_>]) -> Result<Vec<RouteId>> {
        let mut tx = self.db.begin_write().await?;
        let ids = insert_routes(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(|(route, _)| route).collect())
    }

    /// Records the correct layer for route `route_id` of `project_id`; returns the updated route.
    /// Giving feedback again replaces the earlier label.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the route does not exist in this project.
    pub(crate) async fn feedback(
        &self,
        project_id: ProjectId,
        route_id: RouteId,
        correct: Layer,
    ) -> Result<RouteRecord> {
        const SQL: &str = concat!(
            "UPDATE consolidation_routes
             SET correct_layer = $1, was_correct = (layer = $1), feedback_at = $2
             WHERE project_id = $3 AND id = $4
             RETURNING ",
            route_columns!()
        );
        let row = fetch_rows!(
            self.db,
            RouteRow,
            SQL,
            fetch_optional,
            correct.as_str(),
            now_ms(),
            project_id,
            route_id
        );
        row.map(RouteRecord::from).ok_or(Error::NotFound {
            entity: Entity::Route,
            id: route_id.0,
            project_id,
        })
    }

    /// Route `route_id` of `project_id`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist in this project.
    pub async fn get(&self, project_id: ProjectId, route_id: RouteId) -> Result<RouteRecord> {
        const SQL: &str = concat!(
            "SELECT ",
            route_columns!(),
            "
             FROM consolidation_routes WHERE project_id = $1 AND id = $2"
        );
        let row = fetch_rows!(self.db, RouteRow, SQL, fetch_optional, project_id, route_id);
        row.map(RouteRecord::from).ok_or(Error::NotFound {
            entity: Entity::Route,
            id: route_id.0,
            project_id,
        })
    }

    /// Routes with feedback, oldest first: of `project_id`, or of every project when `None`.
    pub async fn labelled(&self, project_id: Option<ProjectId>) -> Result<Vec<RouteRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            route_columns!(),
            "
             FROM consolidation_routes
             WHERE correct_layer IS NOT NULL AND ($1 IS NULL OR project_id = $1)
             ORDER BY id"
        );
        let rows = fetch_rows!(self.db, RouteRow, SQL, fetch_all, project_id);
        Ok(rows.into_iter().map(RouteRecord::from).collect())
    }

    /// Labels given to `project_id`'s routes since its last model was stored (trained or
    /// imported), or ever when it has none. Read from the database, so every process that
    /// labels the project counts the same labels.
    pub(crate) async fn labels_since_last_model(&self, project_id: ProjectId) -> Result<i64> {
        // `COALESCE(project_id, 0)` is the registry's index (project ids start at 1).
        const SQL: &str = "SELECT COUNT(*) FROM consolidation_routes
             WHERE project_id = $1 AND feedback_at > COALESCE(
                 (SELECT MAX(created_at) FROM router_models WHERE COALESCE(project_id, 0) = $1), -1)";
        Ok(fetch_rows!(self.db, (i64,), SQL, fetch_one, project_id).0)
    }

    /// Counts, mean confidences and feedback accuracy of `project_id`'s routes, overall and per
    /// model, with `active_model`, the label of the model routing it now (the engine knows it).
    pub(crate) async fn stats(
        &self,
        project_id: ProjectId,
        active_model: ModelLabel,
    ) -> Result<RoutingStats> {
        const PER_LAYER: &str = "SELECT layer, COUNT(*), AVG(confidence) FROM consolidation_routes
             WHERE project_id = $1 GROUP BY layer";
        const FEEDBACK: &str = "SELECT COUNT(*), SUM(CASE WHEN was_correct THEN 1 ELSE 0 END)
             FROM consolidation_routes WHERE project_id = $1 AND correct_layer IS NOT NULL";
        let (rows, (feedback_count, right)) = on_pool!(self.db, |pool| {
            let rows: Vec<(String, i64, Option<f64>)> = sqlx::query_as(PER_LAYER)
                .bind(project_id)
                .fetch_all(pool)
                .await?;
            let feedback: (i64, Option<i64>) = sqlx::query_as(FEEDBACK)
                .bind(project_id)
                .fetch_one(pool)
                .await?;
            (rows, feedback)
        });
        let per_layer: Vec<LayerRouteStats> = Layer::ALL
            .iter()
            .map(|&layer| {
                let row = rows.iter().find(|r| r.0 == layer.as_str());
                LayerRouteStats {
                    layer,
                    count: row.map_or(0, |r| r.1),
                    mean_confidence: row.and_then(|r| r.2),
                }
            })
            .collect();
        Ok(RoutingStats {
            total_routes: per_layer.iter().map(|l| l.count).sum(),
            per_layer,
            feedback_count,
            accuracy: (feedback_count > 0)
                .then(|| right.unwrap_or(0) as f64 / feedback_count as f64),
            active_model,
            per_model: self.per_model(project_id).await?,
        })
    }

    /// [`RoutingStats::per_model`] of `project_id`.
    async fn per_model(&self, project_id: ProjectId) -> Result<Vec<ModelRouteStats>> {
        const SQL: &str = "SELECT model_version AS model, COUNT(*) AS routes,
                 COALESCE(SUM(CASE WHEN correct_layer IS NOT NULL THEN 1 ELSE 0 END), 0) AS feedback_count,
                 COALESCE(SUM(CASE WHEN was_correct THEN 1 ELSE 0 END), 0) AS correct
             FROM consolidation_routes WHERE project_id = $1
             GROUP BY model_version ORDER BY MIN(id)";
        let rows = fetch_rows!(self.db, (String, i64, i64, i64), SQL, fetch_all, project_id);
        Ok(rows
            .into_iter()
            .map(|(model, routes, feedback_count, correct)| ModelRouteStats {
                model: ModelLabel::from(model),
                routes,
                feedback_count,
                correct,
                accuracy: (feedback_count > 0).then(|| correct as f64 / feedback_count as f64),
            })
            .collect())
    }
}
