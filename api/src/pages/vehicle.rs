//! `GET /vehicles/{vin}?cursor=`: a vehicle's batches over time, its error events per
//! batch as bars, each linked to its batch; older batches a page at a time.

use argus_sinks::store::BatchSummary;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::format;
use super::layout::{PageError, document, respond};
use super::parts::{short_id, status_badge};
use super::reader::{PageReader, percent_encode};
use super::svg::{Bar, bar_chart};
use crate::error::ApiError;
use crate::extract::Vin;
use crate::routes::vehicles::{decode_cursor, encode_cursor};
use crate::state::AppState;

const PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct Older {
    cursor: Option<String>,
}

pub async fn page(
    PageReader(session): PageReader,
    State(state): State<AppState>,
    vin: Result<Vin, ApiError>,
    Query(older): Query<Older>,
) -> Result<Response, PageError> {
    let Vin(vin) = vin.map_err(|_| PageError::NotFound("That is not a VIN.".into()))?;
    let after = older.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut batches = state.store().list_batches_for_vin_page(&vin, PAGE + 1, after.as_ref()).await?;
    let more = batches.len() > PAGE as usize;
    batches.truncate(PAGE as usize);
    let next = more.then(|| batches.last().map(encode_cursor)).flatten();
    // The chart reads left to right, oldest first; the table lists newest first.
    let bars: Vec<Bar> = batches
        .iter()
        .rev()
        .map(|b| Bar {
            label: format!("{} {}", &format::time_ms(b.created_at_ms)[..10], short_id(&b.batch_id)),
            value: b.error_events,
            href: Some(format!("/batches/{}", b.batch_id)),
        })
        .collect();
    let main = html! {
        h1 { "Vehicle " code { (vin) } }
        @if batches.is_empty() {
            p.empty { @if after.is_some() { "No older batches." } @else { "No batches from this vehicle." } }
        } @else {
            section aria-labelledby="events-heading" {
                h2 #events-heading { "Error events per batch" }
                (bar_chart("vehicle-batches-chart", "Error events per batch, oldest first", &bars))
            }
            section aria-labelledby="batches-heading" {
                h2 #batches-heading { "Batches, newest first" }
                div.table-wrap { (table(&batches)) }
            }
        }
        @if let Some(cursor) = next {
            p { a rel="next" href=(format!("/vehicles/{}?cursor={cursor}", percent_encode(&vin))) { "Older batches" } }
        }
    };
    Ok(respond(StatusCode::OK, document(&format!("Vehicle {vin}"), session, main)))
}

fn table(batches: &[BatchSummary]) -> maud::Markup {
    html! {
        table #vehicle-batches {
            thead { tr { th scope="col" { "Created" } th scope="col" { "Batch" } th scope="col" { "Status" }
                th.num scope="col" { "Records" } th.num scope="col" { "Error events" } th scope="col" { "Recorded" } } }
            tbody {
                @for b in batches {
                    tr {
                        td { (format::time_ms(b.created_at_ms)) }
                        td { a href=(format!("/batches/{}", b.batch_id)) { code { (b.batch_id) } } }
                        td { (status_badge(b.status)) }
                        td.num { (format::count(b.records)) }
                        td.num { (format::count(b.error_events)) }
                        td {
                            @if let (Some(first), Some(last)) = (b.first_ts_ns, b.last_ts_ns) {
                                (format::time_ns(first)) " – " (format::time_ns(last))
                            } @else { span.muted { "no records" } }
                        }
                    }
                }
            }
        }
    }
}
