//! Reading stored models on the base they were made on: the engine's routing base, or for a
//! delta made on another (an earlier release's shipped default, a base given then) that base
//! as the database keeps it (`router_bases`), parsed once per engine and shared by every
//! project on it.

use std::sync::Arc;

use super::Engine;
use crate::db::models::StoredModel;
use crate::error::{Error, Result};
use crate::router::{ModelLabel, TreeModel};

impl Engine {
    /// Parses a stored model: a whole one as it is, a delta on its base.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when the model is invalid, or is a delta on a base that is
    /// neither the routing base nor stored in the database (the error names both); database
    /// errors.
    pub(super) async fn load_stored(&self, stored: &StoredModel) -> Result<TreeModel> {
        let base = &self.inner.config.router.base;
        match stored.base_id() {
            Some(id) if id != base.id() => {
                let model = self.stored_base(&id, stored).await?;
                stored.load_on(&model, &id)
            }
            _ => stored.load(base),
        }
    }

    /// The base stored under identity `id`, which `stored` (a delta) was made on.
    async fn stored_base(&self, id: &str, stored: &StoredModel) -> Result<Arc<TreeModel>> {
        if let Some(model) = self.stored_bases().get(id) {
            return Ok(Arc::clone(model));
        }
        let Some(bytes) = self.models().stored_base(id).await? else {
            return Err(Error::InvalidModel {
                reason: format!(
                    "model {} is a delta on base {id:?}, which is neither the routing base here \
                     ({:?}) nor stored in this database: train the project again, or activate a \
                     model stored whole",
                    stored.scope().label(stored.version),
                    self.inner.config.router.base.id()
                ),
            });
        };
        let model = Arc::new(TreeModel::from_compact(&bytes, ModelLabel::Default)?);
        let mut bases = self.stored_bases();
        Ok(Arc::clone(bases.entry(id.to_owned()).or_insert(model)))
    }

    fn stored_bases(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<TreeModel>>> {
        self.inner.stored_bases.lock().expect("stored bases lock")
    }
}
