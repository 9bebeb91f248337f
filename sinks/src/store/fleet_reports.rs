//! The fleet reports the dataflow maintains, stored as its fleet sink writes them.

use argus_pipeline::FleetReport;
pub use argus_pipeline::write::FleetView;

use super::{Store, dialect, to_json, with_pool};
use crate::error::StoreError;

/// The row key of a view.
fn key(view: FleetView) -> &'static str {
    match view {
        FleetView::AllTime => "all",
        FleetView::Window => "window",
    }
}

impl Store {
    /// Replaces the stored fleet report of a view.
    pub async fn put_fleet_report(&self, view: FleetView, report: &FleetReport) -> Result<(), StoreError> {
        let document = to_json(report)?;
        let sql = dialect(
            self.backend(),
            "INSERT INTO fleet_reports (view, document) VALUES ($1, $2::json) ON CONFLICT (view) DO UPDATE \
             SET document = excluded.document, updated_at_ms = excluded.updated_at_ms",
            "INSERT INTO fleet_reports (view, document) VALUES ($1, $2) ON CONFLICT (view) DO UPDATE \
             SET document = excluded.document, updated_at_ms = excluded.updated_at_ms",
        );
        with_pool!(self, pool => {
            sqlx::query(sql).bind(key(view)).bind(&document).execute(pool).await?;
        });
        Ok(())
    }

    /// The stored fleet report of a view, as its JSON document.
    pub async fn get_fleet_report_json(&self, view: FleetView) -> Result<Option<String>, StoreError> {
        let sql = dialect(
            self.backend(),
            "SELECT document::text FROM fleet_reports WHERE view = $1",
            "SELECT document FROM fleet_reports WHERE view = $1",
        );
        let document = with_pool!(self, pool => {
            sqlx::query_scalar(sql).bind(key(view)).fetch_optional(pool).await?
        });
        Ok(document)
    }
}
