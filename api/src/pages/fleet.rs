//! `GET /`: the fleet dashboard. The fleet's top codes over a window (1 h, 24 h, 7 d or
//! all time), filtered by VIN or firmware; how many batches are in each status; the
//! latest batches with their risk. The script refreshes the `#live` section while the
//! page is visible.

use argus_pipeline::FleetReport;
use argus_sinks::BatchState;
use argus_sinks::store::RecentBatch;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{PageError, document, respond};
use super::reader::PageReader;
use super::svg::{Bar, bar_chart};
use super::{format, parts};
use crate::routes::fleet::{FleetParams, report};
use crate::state::AppState;

/// The windows the selector offers, as the API spells them (`all`: no window).
const WINDOWS: [(&str, &str); 4] =
    [("1h", "last hour"), ("24h", "last 24 hours"), ("7d", "last 7 days"), ("all", "all time")];
const TOP_K: usize = 10;
const LATEST: u32 = 20;
/// Seconds between refreshes of the live section.
const REFRESH_SECS: u32 = 10;

/// The filter form's fields; empty fields are no filter.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    window: Option<String>,
    vin: Option<String>,
    firmware: Option<String>,
}

impl Filter {
    fn window(&self) -> &str {
        let chosen = self.window.as_deref().unwrap_or("all");
        WINDOWS.iter().map(|(w, _)| *w).find(|w| *w == chosen).unwrap_or("all")
    }

    fn field(value: &Option<String>) -> Option<String> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn params(&self) -> FleetParams {
        FleetParams {
            k: Some(TOP_K),
            window: Some(self.window()).filter(|w| *w != "all").map(str::to_owned),
            vin: Self::field(&self.vin),
            firmware: Self::field(&self.firmware),
        }
    }
}

pub async fn page(
    PageReader(session): PageReader,
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    let fleet = report(&state, filter.params()).await?;
    let counts = state.store().count_batches_by_status().await?;
    let latest = state.store().latest_batches(LATEST).await?;
    let main = html! {
        h1 { "Fleet" }
        (filter_form(&filter))
        section #live data-refresh=(REFRESH_SECS) aria-live="polite" {
            @if counts.is_empty() {
                p.empty { "No batches yet. " a href="/upload" { "Upload rec files" } " or send them with "
                    code { "argus upload" } "." }
            } @else {
                (status_counts(&counts))
                (top_codes(&fleet, &filter))
                (latest_batches(&latest))
            }
        }
    };
    Ok(respond(StatusCode::OK, document("Fleet", session, main)))
}

fn filter_form(filter: &Filter) -> Markup {
    html! {
        form.filters method="get" action="/" {
            div {
                label for="window" { "Window" }
                select #window name="window" {
                    @for (value, label) in WINDOWS {
                        option value=(value) selected[value == filter.window()] { (label) }
                    }
                }
            }
            div {
                label for="vin" { "VIN" }
                input #vin name="vin" value=[Filter::field(&filter.vin)] maxlength="64" autocomplete="off";
            }
            div {
                label for="firmware" { "Firmware" }
                input #firmware name="firmware" value=[Filter::field(&filter.firmware)] maxlength="128" autocomplete="off";
            }
            div.actions {
                button type="submit" { "Apply" }
                a href="/" { "Clear" }
            }
        }
    }
}

fn status_counts(counts: &[(BatchState, u64)]) -> Markup {
    html! {
        section aria-labelledby="counts-heading" {
            h2 #counts-heading { "Batches by status" }
            ul.counts #status-counts {
                @for (status, count) in counts {
                    li data-status=(status.as_str()) {
                        (parts::status_badge(*status)) " " strong { (format::count(*count)) }
                    }
                }
            }
        }
    }
}

fn top_codes(fleet: &FleetReport, filter: &Filter) -> Markup {
    let bars: Vec<Bar> =
        fleet.top_errors.iter().map(|e| Bar { label: e.code.clone(), value: e.count, href: None }).collect();
    let window = WINDOWS.iter().find(|(w, _)| *w == filter.window()).map_or("all time", |(_, label)| label);
    html! {
        section aria-labelledby="fleet-top-heading" {
            h2 #fleet-top-heading { "Top error codes, " (window) }
            p.summary {
                (format::count(fleet.batches)) " batches, " (format::count(fleet.records)) " records, "
                (format::count(fleet.error_events)) " error events"
            }
            @if bars.is_empty() {
                p.empty { "No error codes in the batches these filters select." }
            } @else {
                div.chart-and-table {
                    (bar_chart("fleet-top-codes", "Error events per code across the fleet", &bars))
                    div.table-wrap {
                        table {
                            caption { "Top error codes" }
                            thead { tr { th scope="col" { "Code" } th.num scope="col" { "Events" }
                                th.num scope="col" { "Batches" } th.num scope="col" { "Vehicles" } } }
                            tbody {
                                @for entry in &fleet.top_errors {
                                    tr { th scope="row" { code { (entry.code) } } td.num { (format::count(entry.count)) }
                                        td.num { (format::count(entry.batches)) } td.num { (format::count(entry.vins)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn latest_batches(latest: &[RecentBatch]) -> Markup {
    html! {
        section aria-labelledby="latest-heading" {
            h2 #latest-heading { "Latest batches" }
            div.table-wrap {
                table #latest-batches {
                    thead { tr { th scope="col" { "Created" } th scope="col" { "Batch" } th scope="col" { "Vehicle" }
                        th scope="col" { "Status" } th.num scope="col" { "Error events" } th scope="col" { "Risk" } } }
                    tbody {
                        @for b in latest {
                            tr {
                                td { (format::time_ms(b.created_at_ms)) }
                                td { a href=(format!("/batches/{}", b.batch_id)) { code { (parts::short_id(&b.batch_id)) } } }
                                td { (parts::vehicle(b.vin.as_deref(), b.vehicle_id.as_deref())) }
                                td { (parts::status_badge(b.status)) }
                                td.num { (format::count(b.error_events)) }
                                td { @match b.risk { Some(risk) => (parts::risk_badge(risk)), None => span.muted { "—" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}
