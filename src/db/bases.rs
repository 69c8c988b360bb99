//! The routing bases stored project models are deltas on, `router_bases`: each base once per
//! database, in its compact form ([`TreeModel::to_compact`]), under its identity
//! ([`RoutingBase::id`]). A delta stays readable when the engine's routing base changes (a new
//! release ships a retrained default, or a caller gives another base): the engine reads it on
//! the base it was made on, from here.

use crate::db::models::ModelRegistry;
use crate::db::{fetch_rows, on_pool};
use crate::error::Result;
use crate::routing_base::RoutingBase;
use crate::time::now_ms;

impl ModelRegistry {
    /// Stores `base` unless the database already holds it: one lookup by identity when it
    /// does, the compact model (megabytes, once per base) when it does not. Two writers at once
    /// store it once.
    ///
    /// # Errors
    /// Database errors.
    pub(crate) async fn keep_base(&self, base: &RoutingBase) -> Result<()> {
        const HAS: &str = "SELECT COUNT(*) FROM router_bases WHERE id = $1";
        const INSERT: &str = "INSERT INTO router_bases (id, model, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING";
        let db = self.database();
        let held: i64 = fetch_rows!(db, (i64,), HAS, fetch_one, base.id()).0;
        if held > 0 {
            return Ok(());
        }
        let compact = base.compact();
        on_pool!(db, |pool| {
            sqlx::query(INSERT)
                .bind(base.id())
                .bind(&*compact)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The compact model of the base stored under identity `id`, if the database holds it.
    ///
    /// # Errors
    /// Database errors.
    pub(crate) async fn stored_base(&self, id: &str) -> Result<Option<Vec<u8>>> {
        const SQL: &str = "SELECT model FROM router_bases WHERE id = $1";
        let row = fetch_rows!(self.database(), (Vec<u8>,), SQL, fetch_optional, id);
        Ok(row.map(|(model,)| model))
    }
}
