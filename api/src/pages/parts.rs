//! Small pieces several pages show: status and risk badges, batch ids, vehicle links.

use argus_sinks::BatchState;
use argus_sinks::diagnosis::RiskLevel;
use maud::{Markup, html};

use super::reader::percent_encode;

/// A batch status as a badge (its word, coloured; the colour is never the only cue).
pub fn status_badge(status: BatchState) -> Markup {
    html! { span class=(format!("badge status-{}", status.as_str())) { (status.as_str()) } }
}

pub fn risk_badge(risk: RiskLevel) -> Markup {
    html! { span class=(format!("badge risk-{}", risk.as_str())) { (risk.as_str()) } }
}

/// The first group of a batch id: enough to tell batches apart in a list.
pub fn short_id(batch_id: &str) -> &str {
    batch_id.split('-').next().unwrap_or(batch_id)
}

/// A batch's vehicle: its VIN linked to the vehicle page, else its vehicle id.
pub fn vehicle(vin: Option<&str>, vehicle_id: Option<&str>) -> Markup {
    html! {
        @match (vin, vehicle_id) {
            (Some(vin), _) => a href=(format!("/vehicles/{}", percent_encode(vin))) { code { (vin) } },
            (None, Some(id)) => (id),
            (None, None) => span.muted { "unknown" },
        }
    }
}
