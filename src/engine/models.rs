//! A project's models: activation, deactivation, rollback, export and import, statistics.

use std::path::Path;

use super::Engine;
use crate::db::models::{ModelScope, StoredModel};
use crate::db::routes::RoutingStats;
use crate::error::{Error, Result};
use crate::ids::ProjectId;
use crate::router::{Metrics, ModelLabel, Router, TreeModel};
use crate::routing_base::RoutingBase;

impl Engine {
    /// Makes an earlier (or later) stored version of `project_id`'s model the active one.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the project does not exist (0 included: the global models are
    /// changed only by [`Engine::activate_global_model`]) or has no such version; nothing
    /// changes then.
    pub async fn activate_model(&self, project_id: ProjectId, version: i64) -> Result<StoredModel> {
        let stored = self
            .models()
            .activate(ModelScope::Project(project_id), version)
            .await?;
        self.refresh_router(project_id).await?;
        Ok(stored)
    }

    /// Goes back one version: activates the newest of `project_id`'s stored models older than
    /// the active one, and returns it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `version` when no project model is active or the active one
    /// is the oldest (nothing changes then); [`Error::NotFound`] for an unknown project.
    pub async fn rollback_model(&self, project_id: ProjectId) -> Result<StoredModel> {
        self.projects().ensure_exists(project_id).await?;
        let models = self.models().list(ModelScope::Project(project_id)).await?;
        let active = models.iter().find(|m| m.active).ok_or_else(|| {
            Error::invalid(
                "version",
                "no project model is active; nothing to roll back",
            )
        })?;
        let previous = models
            .iter()
            .filter(|m| m.version < active.version)
            .max_by_key(|m| m.version)
            .ok_or_else(|| {
                Error::invalid(
                    "version",
                    format!(
                        "version {} is the oldest; nothing to roll back to",
                        active.version
                    ),
                )
            })?;
        self.activate_model(project_id, previous.version).await
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
        self.write_routers().clear();
    }

    /// Returns `project_id` to the router it had before any model of its own: the active global
    /// model, else the shipped default (or the heuristic, if so configured). The project's
    /// versions stay stored; [`Engine::activate_model`] brings one back. Returns the version that
    /// was active, `None` when none was (then nothing changes).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the project does not exist.
    pub async fn deactivate_model(&self, project_id: ProjectId) -> Result<Option<StoredModel>> {
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
    pub async fn export_model(&self, project_id: ProjectId, path: &Path) -> Result<()> {
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
    /// [`Error::Io`], [`Error::InvalidModel`] for a corrupt or invalid file (nothing is stored);
    /// [`Error::NotFound`] for an unknown project.
    pub async fn import_model(
        &self,
        project_id: ProjectId,
        path: &Path,
        activate: bool,
    ) -> Result<StoredModel> {
        let model = TreeModel::load(path)?;
        self.store_model(ModelScope::Project(project_id), &model, activate)
            .await
    }

    /// Stores `model` as the next version of `scope` (a project's models or the global ones),
    /// active when `activate` is true; the routers that use it see it at once. A model trained
    /// offline (`examples/train`) becomes the global model this way.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown project (0 included: the global scope is
    /// [`ModelScope::Global`]).
    pub async fn store_model(
        &self,
        scope: ModelScope,
        model: &TreeModel,
        activate: bool,
    ) -> Result<StoredModel> {
        let stored = self
            .models()
            .store(
                scope,
                model,
                self.delta_base(),
                &Metrics::compute([]),
                activate,
            )
            .await?;
        if activate {
            match scope {
                ModelScope::Project(project_id) => {
                    self.refresh_router(project_id).await?;
                }
                ModelScope::Global => self.clear_routers(),
            }
        }
        Ok(stored)
    }

    /// The base models adapted here are stored as deltas on: the routing base when it routes
    /// (adapting starts from it), none when the heuristic does (models are then trained from
    /// labels alone and stored whole).
    pub(super) fn delta_base(&self) -> Option<&RoutingBase> {
        let router = &self.config().router;
        router.use_default_model.then_some(&router.base)
    }

    /// Routing figures of `project_id`: routes per layer and per model, feedback and accuracy,
    /// and the label of the model routing it now.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown project; database errors.
    pub async fn routing_stats(&self, project_id: ProjectId) -> Result<RoutingStats> {
        self.projects().ensure_exists(project_id).await?;
        let active = self.active_label(project_id).await?;
        self.route_log().stats(project_id, active).await
    }

    /// The label of the model that routes `project_id` now: its cached router's, or else read
    /// from the registry without loading the model (so a command that only reports figures
    /// does not parse one).
    async fn active_label(&self, project_id: ProjectId) -> Result<ModelLabel> {
        let active = self.models().active_models(project_id).await?;
        if let Some((scope, active)) = active.routing(project_id) {
            return Ok(scope.label(active.version));
        }
        Ok(if self.config().router.use_default_model {
            ModelLabel::Default
        } else {
            ModelLabel::Heuristic
        })
    }
}
