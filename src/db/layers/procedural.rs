//! The procedural layer, `procedures`: how to do something, by name.

use serde_json::Value;

use crate::db::recall::NewDoc;
use crate::db::{fetch_rows, insert_rows, on_pool, on_tx, WriteTx};
use crate::error::{check_text, Error, Result};
use crate::ids::{ItemId, MemoryId, ProjectId, RouteId};
use crate::recall::Place;
use crate::time::{now_ms, Millis};

use super::*;

/// A row of `procedures`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct Procedure {
    /// Id.
    pub id: MemoryId,
    /// Owning project.
    pub project_id: ProjectId,
    /// Unique name within the project.
    pub name: String,
    /// Category, e.g. `workflow`.
    pub category: String,
    /// The procedure's text.
    pub template: String,
    /// Working-memory item it was consolidated from, if any.
    pub source_item_id: Option<ItemId>,
    /// Route-log entry that placed it here, if any.
    pub route_id: Option<RouteId>,
    /// Provenance and other metadata.
    #[sqlx(json)]
    pub metadata: Value,
}

/// A new `procedures` row.
pub(crate) struct NewProcedure<'a> {
    pub(crate) project_id: ProjectId,
    pub(crate) name: String,
    pub(crate) category: &'a str,
    pub(crate) template: &'a str,
    pub(crate) origin: Origin,
    pub(crate) now: Millis,
}

/// Inserts procedures (one or many); returns their ids.
pub(crate) async fn insert_procedures(
    tx: &mut WriteTx,
    rows: &[NewProcedure<'_>],
) -> Result<Vec<Inserted>> {
    Ok(insert_rows!(
        tx,
        Inserted,
        rows,
        "INSERT INTO procedures (project_id, name, category, template, source_item_id, route_id, metadata, created_at) ",
        " RETURNING id, source_item_id",
        |b, r| {
            b.push_bind(r.project_id)
                .push_bind(r.name.as_str())
                .push_bind(r.category)
                .push_bind(r.template)
                .push_bind(r.origin.source_item_id)
                .push_bind(r.origin.route_id)
                .push_bind(sqlx::types::Json(&r.origin.metadata))
                .push_bind(r.now);
        }
    ))
}

impl Layers {
    /// Stores a procedure under a name unique within the project.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty fields or a name the project already uses;
    /// [`Error::NotFound`] for an unknown project.
    pub async fn add_procedure(
        &self,
        project_id: ProjectId,
        name: &str,
        category: &str,
        template: &str,
    ) -> Result<Procedure> {
        check_text("name", name, 500)?;
        check_text("category", category, 100)?;
        check_text("template", template, MAX_CONTENT_CHARS)?;
        self.ensure_project(project_id).await?;
        if self.find_procedure(project_id, name).await?.is_some() {
            return Err(Error::invalid(
                "name",
                format!("{name:?} is already used in this project"),
            ));
        }
        let now = now_ms();
        let row = NewProcedure {
            project_id,
            name: name.to_owned(),
            category,
            template,
            origin: Origin::direct(),
            now,
        };
        let text = format!("{name} {template}");
        Ok(insert_one!(
            self.db,
            insert_procedures,
            row,
            Procedure,
            "procedures",
            procedure_columns,
            |id| NewDoc::direct(project_id, Place::Procedural, id.0, &text, None, now)
        ))
    }

    /// Every procedure of this project, by name.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_procedures(&self, project_id: ProjectId) -> Result<Vec<Procedure>> {
        const SQL: &str = concat!(
            "SELECT ",
            procedure_columns!(),
            " FROM procedures WHERE project_id = $1 ORDER BY name, id"
        );
        Ok(fetch_rows!(self.db, Procedure, SQL, fetch_all, project_id))
    }

    /// The procedure of this project with this name, if any.
    ///
    /// # Errors
    /// Database errors.
    pub async fn find_procedure(
        &self,
        project_id: ProjectId,
        name: &str,
    ) -> Result<Option<Procedure>> {
        const SQL: &str = concat!(
            "SELECT ",
            procedure_columns!(),
            " FROM procedures WHERE project_id = $1 AND name = $2"
        );
        Ok(fetch_rows!(
            self.db,
            Procedure,
            SQL,
            fetch_optional,
            project_id,
            name
        ))
    }
}
