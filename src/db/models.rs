//! The model registry, `router_models`: every trained model, versioned per project (or global,
//! shared by all projects), with its metrics and feature schema, and at most one active version
//! per scope.

use crate::db::{fetch_rows, on_pool, Database, PoolExt};
use crate::error::{Entity, Error, Result};
use crate::features::FeatureSchema;
use crate::ids::ProjectId;
use crate::router::{Metrics, ModelLabel, TreeModel};
use crate::routing_base::RoutingBase;
use crate::time::{now_ms, Millis};

/// Which models a registry call is about: one project's, or the global ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelScope {
    /// Models trained on one project's feedback.
    Project(ProjectId),
    /// Models shared by every project without one of its own.
    Global,
}

impl ModelScope {
    /// The scope key stored as `COALESCE(project_id, 0)`.
    fn key(self) -> i64 {
        match self {
            ModelScope::Project(id) => id.0,
            ModelScope::Global => 0,
        }
    }

    fn project_id(self) -> Option<ProjectId> {
        match self {
            ModelScope::Project(id) => Some(id),
            ModelScope::Global => None,
        }
    }

    /// The label decisions of version `version` carry: `p<project>-v<version>` or `global-v<version>`.
    pub fn label(self, version: i64) -> ModelLabel {
        match self {
            ModelScope::Project(project_id) => ModelLabel::Project {
                project_id,
                version,
            },
            ModelScope::Global => ModelLabel::Global { version },
        }
    }
}

/// An active model version: its row id and version number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ActiveVersion {
    pub(crate) id: i64,
    pub(crate) version: i64,
}

/// The stored models that route a project: its own active version and the active global one.
/// A router loaded from them is current as long as they stay the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ActiveModels {
    pub(crate) project: Option<ActiveVersion>,
    pub(crate) global: Option<ActiveVersion>,
}

impl ActiveModels {
    /// The model that routes the project (its own, else the global one) and its scope.
    pub(crate) fn routing(self, project_id: ProjectId) -> Option<(ModelScope, ActiveVersion)> {
        match (self.project, self.global) {
            (Some(own), _) => Some((ModelScope::Project(project_id), own)),
            (None, Some(global)) => Some((ModelScope::Global, global)),
            (None, None) => None,
        }
    }
}

/// A stored model version.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredModel {
    /// Row id.
    pub id: i64,
    /// Owning project, `None` for a global model.
    pub project_id: Option<ProjectId>,
    /// Version within its scope, from 1.
    pub version: i64,
    /// The feature schema it reads.
    pub feature_schema: FeatureSchema,
    /// Its metrics when it was stored (cross-validated for trained models).
    #[sqlx(json)]
    pub metrics: Metrics,
    /// The model as stored: a whole model's JSON, or for a model adapted from the routing base,
    /// a delta on it ([`TreeModel::to_delta_json`]: the base's identity, the changed token
    /// weights and the project correction). [`StoredModel::load`] reads either.
    pub model: String,
    /// Whether this version routes its scope now.
    pub active: bool,
    /// When it was stored (UTC Unix ms).
    pub created_at: Millis,
}

impl StoredModel {
    /// The scope it belongs to.
    pub fn scope(&self) -> ModelScope {
        self.project_id
            .map_or(ModelScope::Global, ModelScope::Project)
    }

    /// Whether the model is stored as a delta on a routing base rather than whole.
    pub fn is_delta(&self) -> bool {
        TreeModel::is_delta_json(&self.model)
    }

    /// The identity of the routing base a delta was made on ([`RoutingBase::id`]); `None` for
    /// a model stored whole.
    pub fn base_id(&self) -> Option<String> {
        TreeModel::delta_base_id(&self.model)
    }

    /// Parses and validates the model, labelled with its scope and version. A delta is read on
    /// top of `base` (the engine's, [`crate::RouterConfig::base`]), sharing its trees and token
    /// table; a whole model does not need it. (The engine reads a delta made on another base
    /// on that base, which the database keeps from when the delta was stored.)
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the stored JSON is not a valid model, or is a delta on
    /// another base than `base` (the error names both).
    pub fn load(&self, base: &RoutingBase) -> Result<TreeModel> {
        if self.is_delta() {
            self.load_on(&*base.model()?, base.id())
        } else {
            TreeModel::from_json(&self.model, self.label())
        }
    }

    /// Parses and validates the model as [`StoredModel::load`] does, reading a delta on `base`,
    /// whose identity is `base_id` (a whole model ignores both).
    ///
    /// # Errors
    /// As [`StoredModel::load`].
    pub fn load_on(&self, base: &TreeModel, base_id: &str) -> Result<TreeModel> {
        if self.is_delta() {
            TreeModel::from_delta_json(&self.model, base, base_id, self.label())
        } else {
            TreeModel::from_json(&self.model, self.label())
        }
    }

    /// The label its decisions carry: its scope and version.
    fn label(&self) -> ModelLabel {
        self.scope().label(self.version)
    }
}

impl ModelScope {
    /// The key of the advisory lock that serialises writers of this scope's versions, so
    /// `MAX(version) + 1` is never read by two at once (two trainings, or two processes training
    /// one project, get consecutive versions): "athe" in the high half, the scope key in the low.
    fn lock_key(self) -> i64 {
        (0x6174_6865_i64 << 32) | (self.key() & 0xffff_ffff)
    }
}

/// Repository of router models.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    db: Database,
}

impl ModelRegistry {
    /// The repository over `db`.
    pub(crate) fn new(db: Database) -> Self {
        ModelRegistry { db }
    }

    /// The database it reads and writes.
    pub(super) fn database(&self) -> &Database {
        &self.db
    }

    /// Stores `model` as the next version of `scope`, active or not, in one transaction (an
    /// activation deactivates the previous version). Returns the stored row. A model that is
    /// `base`'s with changed text weights (what adapting makes) is stored as a delta on it,
    /// any other whole; before a delta, its base is stored, once per database
    /// ([`ModelRegistry::stored_base`]), so the delta stays readable after the routing base
    /// changes.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a project scope whose project does not exist;
    /// [`Error::InvalidModel`] if the base's model cannot be read (the shipped one always can).
    pub(crate) async fn store(
        &self,
        scope: ModelScope,
        model: &TreeModel,
        base: Option<&RoutingBase>,
        metrics: &Metrics,
        activate: bool,
    ) -> Result<StoredModel> {
        self.check_scope(scope).await?;
        let delta = match base {
            Some(base) => model.to_delta_json(&*base.model()?, base.id()),
            None => None,
        };
        if let (Some(base), Some(_)) = (base, &delta) {
            self.keep_base(base).await?;
        }
        let json = delta.unwrap_or_else(|| model.to_json());
        let metrics = sqlx::types::Json(metrics);
        const NEXT: &str = "SELECT COALESCE(MAX(version), 0) + 1 FROM router_models WHERE COALESCE(project_id, 0) = $1";
        const DEACTIVATE: &str =
            "UPDATE router_models SET active = FALSE WHERE COALESCE(project_id, 0) = $1";
        const INSERT: &str = "INSERT INTO router_models (project_id, version, feature_schema, metrics, model, active, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, project_id, version, feature_schema, metrics, CAST('' AS TEXT) AS model, active, created_at";
        on_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(pool.advisory_lock_sql())
                .bind(scope.lock_key())
                .execute(&mut *tx)
                .await?;
            let version: i64 = sqlx::query_scalar(NEXT)
                .bind(scope.key())
                .fetch_one(&mut *tx)
                .await?;
            if activate {
                sqlx::query(DEACTIVATE)
                    .bind(scope.key())
                    .execute(&mut *tx)
                    .await?;
            }
            // The model's JSON (megabytes) is not read back: the lock is held for one copy of it.
            let mut row = sqlx::query_as::<_, StoredModel>(INSERT)
                .bind(scope.project_id())
                .bind(version)
                .bind(model.feature_schema().as_str())
                .bind(metrics)
                .bind(&json)
                .bind(activate)
                .bind(now_ms())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            row.model = json;
            Ok(row)
        })
    }

    /// [`Error::NotFound`] unless `scope` is global or an existing project's: a project id that
    /// does not exist (0 included) never reaches the global models.
    async fn check_scope(&self, scope: ModelScope) -> Result<()> {
        match scope {
            ModelScope::Project(id) => {
                crate::db::projects::Projects::new(self.db.clone())
                    .ensure_exists(id)
                    .await
            }
            ModelScope::Global => Ok(()),
        }
    }

    /// The active version of `scope`, if any.
    pub async fn active(&self, scope: ModelScope) -> Result<Option<StoredModel>> {
        const SQL: &str =
            "SELECT id, project_id, version, feature_schema, metrics, model, active, created_at
             FROM router_models WHERE COALESCE(project_id, 0) = $1 AND active";
        Ok(fetch_rows!(
            self.db,
            StoredModel,
            SQL,
            fetch_optional,
            scope.key()
        ))
    }

    /// Which stored models route `project_id` now, without reading the models: one small
    /// query, what a cached router is checked against.
    pub(crate) async fn active_models(&self, project_id: ProjectId) -> Result<ActiveModels> {
        const SQL: &str = "SELECT id, project_id, version FROM router_models
             WHERE active AND COALESCE(project_id, 0) IN (0, $1)";
        let key = ModelScope::Project(project_id).key();
        let rows = fetch_rows!(self.db, (i64, Option<ProjectId>, i64), SQL, fetch_all, key);
        let mut active = ActiveModels::default();
        for (id, owner, version) in rows {
            let slot = match owner {
                Some(_) => &mut active.project,
                None => &mut active.global,
            };
            *slot = Some(ActiveVersion { id, version });
        }
        Ok(active)
    }

    /// The stored model with row id `id`, if there is one.
    pub(crate) async fn by_id(&self, id: i64) -> Result<Option<StoredModel>> {
        const SQL: &str =
            "SELECT id, project_id, version, feature_schema, metrics, model, active, created_at
             FROM router_models WHERE id = $1";
        Ok(fetch_rows!(self.db, StoredModel, SQL, fetch_optional, id))
    }

    /// Every version of `scope`, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a project scope whose project does not exist.
    pub async fn list(&self, scope: ModelScope) -> Result<Vec<StoredModel>> {
        self.check_scope(scope).await?;
        const SQL: &str =
            "SELECT id, project_id, version, feature_schema, metrics, model, active, created_at
             FROM router_models WHERE COALESCE(project_id, 0) = $1 ORDER BY version";
        Ok(fetch_rows!(
            self.db,
            StoredModel,
            SQL,
            fetch_all,
            scope.key()
        ))
    }

    /// Deactivates the active version of `scope`, if there is one, and returns it (now inactive).
    /// Every version stays stored and can be activated again. A project without an active model
    /// is routed by the active global model, else the shipped default; deactivating the global
    /// model leaves projects without their own to the shipped default. Deactivating a scope with
    /// no active version changes nothing and returns `None`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a project scope whose project does not exist.
    pub(crate) async fn deactivate(&self, scope: ModelScope) -> Result<Option<StoredModel>> {
        const SQL: &str =
            "UPDATE router_models SET active = FALSE WHERE COALESCE(project_id, 0) = $1 AND active
             RETURNING id, project_id, version, feature_schema, metrics, model, active, created_at";
        self.check_scope(scope).await?;
        Ok(fetch_rows!(
            self.db,
            StoredModel,
            SQL,
            fetch_optional,
            scope.key()
        ))
    }

    /// Makes `version` the active one of `scope` (a rollback when it is older).
    ///
    /// # Errors
    /// [`Error::NotFound`] (entity `model version`) when `scope` has no such version; nothing changes then.
    pub(crate) async fn activate(&self, scope: ModelScope, version: i64) -> Result<StoredModel> {
        const DEACTIVATE: &str =
            "UPDATE router_models SET active = FALSE WHERE COALESCE(project_id, 0) = $1";
        const ACTIVATE: &str = "UPDATE router_models SET active = TRUE WHERE COALESCE(project_id, 0) = $1 AND version = $2
             RETURNING id, project_id, version, feature_schema, metrics, model, active, created_at";
        self.check_scope(scope).await?;
        let row = on_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(pool.advisory_lock_sql())
                .bind(scope.lock_key())
                .execute(&mut *tx)
                .await?;
            sqlx::query(DEACTIVATE)
                .bind(scope.key())
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query_as::<_, StoredModel>(ACTIVATE)
                .bind(scope.key())
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if row.is_some() {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            row
        });
        row.ok_or(Error::NotFound {
            entity: Entity::ModelVersion,
            id: version,
            project_id: ProjectId(scope.key()),
        })
    }
}
