//! `GET /batches/{id}`: one batch. Its vehicle and status (followed live over the batch's
//! event stream by the script, with the files parsed so far), then, once final, the
//! report: top codes as bars and on a time axis, the files with their damage, the
//! diagnosis and the similar batches.

use argus_parser::FileStatus;
use argus_pipeline::report::{BatchReport, FileEntry};
use argus_sinks::BatchState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::diagnosis;
use super::format;
use super::layout::{PageError, document, respond};
use super::parts::{status_badge, vehicle};
use super::reader::PageReader;
use super::svg::{Bar, Span, bar_chart, timeline};
use crate::error::ApiError;
use crate::extract::BatchId;
use crate::routes::batches::{BatchView, view};
use crate::state::AppState;

pub async fn page(
    PageReader(session): PageReader,
    State(state): State<AppState>,
    id: Result<BatchId, ApiError>,
) -> Result<Response, PageError> {
    let BatchId(id) = id.map_err(|_| PageError::NotFound("That is not a batch id.".into()))?;
    let batch = view(&state, &id).await?;
    let (report, diagnosis) = if batch.status.is_terminal() {
        (state.store().get_report(&id).await?, state.store().get_diagnosis(&id).await?)
    } else {
        (None, None)
    };
    let main = html! {
        (heading(&batch))
        @if let Some(failure) = &batch.failure {
            p.error role="alert" { "The batch failed: " (failure) }
        }
        @match &report {
            Some(report) => {
                (top_codes(report))
                (files(&report.files))
            }
            None if batch.status.is_terminal() => p.empty { "No report was stored for this batch." },
            None => {
                p.waiting { "The report appears here when the batch is completed." }
                (uploads(&batch))
            }
        }
        @if let Some(diagnosis) = &diagnosis {
            (diagnosis::section(diagnosis, report.as_ref()))
        }
    };
    Ok(respond(StatusCode::OK, document(&format!("Batch {}", batch.batch_id), session, main)))
}

/// The batch's identity and status. `#batch-status` and `#files-progress` are what the
/// script updates from the event stream (`data-batch` names the stream).
fn heading(batch: &BatchView) -> Markup {
    let parsed = batch.progress.files_parsed;
    html! {
        h1 { "Batch " code.id { (batch.batch_id) } }
        dl.facts #batch-facts data-batch=(batch.batch_id) data-status=(batch.status.as_str()) {
            dt { "VIN" } dd { (vehicle(batch.vin.as_deref(), None)) }
            dt { "Vehicle" } dd { @match &batch.vehicle_id { Some(id) => (id), None => span.muted { "unknown" } } }
            dt { "Status" } dd #batch-status data-status=(batch.status.as_str()) { (status_badge(batch.status)) }
            dt { "Files parsed" }
            dd {
                @let of = batch.progress.file_count.map_or(batch.progress.files_uploaded as u32, |c| c);
                progress #files-progress max=(of.max(1)) value=(parsed.min(of)) aria-label="files parsed" {}
                " " span #files-parsed-text { (parsed) " of " (of) }
            }
            dt { "Created" } dd { (format::time_ms(batch.created_at_ms)) }
            dt { "Updated" } dd #batch-updated { (format::time_ms(batch.updated_at_ms)) }
        }
        (lifecycle(batch.status))
    }
}

/// The states a batch walks, the current one marked.
fn lifecycle(current: BatchState) -> Markup {
    let steps = BatchState::CHAIN;
    let current_at = steps.iter().position(|s| *s == current);
    html! {
        ol.lifecycle #lifecycle aria-label="Batch lifecycle" {
            @for (i, step) in steps.iter().enumerate() {
                @let done = current_at.is_some_and(|at| i < at) || current == BatchState::Failed && i == 0;
                li data-step=(step.as_str()) class=[done.then_some("done")]
                    aria-current=[(Some(i) == current_at).then_some("step")] { (step.as_str()) }
            }
            @if current == BatchState::Failed { li.failed aria-current="step" data-step="failed" { "failed" } }
        }
    }
}

fn top_codes(report: &BatchReport) -> Markup {
    if report.top_errors.is_empty() {
        return html! { section { h2 { "Top error codes" } p.empty { "No error events in this batch." } } };
    }
    let bars: Vec<Bar> = report
        .top_errors
        .iter()
        .map(|e| Bar { label: e.code.clone(), value: e.count, href: Some(format!("#kb-{}", e.code)) })
        .collect();
    let spans: Vec<Span> = report
        .top_errors
        .iter()
        .map(|e| Span { label: e.code.clone(), first_ns: e.first_ts_ns, last_ns: e.last_ts_ns })
        .collect();
    html! {
        section aria-labelledby="top-heading" {
            h2 #top-heading { "Top error codes" }
            p.summary {
                (format::count(report.records)) " records, " (format::count(report.error_events)) " error events"
                @if let (Some(first), Some(last)) = (report.first_ts_ns, report.last_ts_ns) {
                    ", from " (format::time_ns(first)) " to " (format::time_ns(last))
                }
            }
            div.chart-and-table {
                (bar_chart("top-codes", "Error events per top code", &bars))
                div.table-wrap {
                    table #top-codes-table {
                        caption { "Top error codes" }
                        thead { tr { th scope="col" { "Code" } th.num scope="col" { "Events" } th scope="col" { "ECUs" }
                            th scope="col" { "First" } th scope="col" { "Last" } } }
                        tbody {
                            @for e in &report.top_errors {
                                tr {
                                    th scope="row" { a href=(format!("#kb-{}", e.code)) { code { (e.code) } } }
                                    td.num { (format::count(e.count)) }
                                    td { (e.ecus.join(", ")) }
                                    td { (format::time_ns(e.first_ts_ns)) }
                                    td { (format::time_ns(e.last_ts_ns)) }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "First and last occurrence" }
            (timeline("top-codes-timeline", "First and last occurrence of each top code", &spans))
        }
    }
}

/// The report's files; damage (corrupt chunks, skipped bytes, truncation, rejection)
/// is marked so that it stands out of the table.
fn files(files: &[FileEntry]) -> Markup {
    html! {
        section aria-labelledby="files-heading" {
            h2 #files-heading { "Files" }
            @if files.is_empty() {
                p.empty { "No files were read." }
            } @else {
                div.table-wrap {
                    table #files {
                        thead { tr {
                            th scope="col" { "File" } th.num scope="col" { "Size" } th scope="col" { "Status" }
                            th.num scope="col" { "Records" } th.num scope="col" { "Error events" }
                            th.num scope="col" { "Good chunks" } th.num scope="col" { "Corrupt chunks" }
                            th.num scope="col" { "Skipped bytes" } th scope="col" { "Truncated" } th scope="col" { "Problem" }
                        } }
                        tbody {
                            @for f in files {
                                @let status = file_status(f.stats.status);
                                tr class=(format!("file-{status}")) {
                                    th scope="row" { code { (f.file_id) } }
                                    td.num { (format::bytes(f.stats.bytes)) }
                                    td { span class=(format!("badge file-status-{status}")) { (status) } }
                                    td.num { (format::count(f.stats.records)) }
                                    td.num { (format::count(f.stats.error_events)) }
                                    td.num { (format::count(f.stats.chunks_good)) }
                                    td.num.damage[f.stats.chunks_corrupt > 0] { (format::count(f.stats.chunks_corrupt)) }
                                    td.num.damage[f.stats.bytes_skipped > 0] { (format::count(f.stats.bytes_skipped)) }
                                    td class=[f.stats.truncated.then_some("damage")] { @if f.stats.truncated { "yes" } @else { "no" } }
                                    td { @if let Some(error) = &f.stats.error { (error) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn file_status(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Ok => "ok",
        FileStatus::Partial => "partial",
        FileStatus::Rejected => "rejected",
    }
}

/// Before the report: the files uploaded so far.
fn uploads(batch: &BatchView) -> Markup {
    html! {
        @if !batch.uploads.is_empty() {
            section aria-labelledby="uploads-heading" {
                h2 #uploads-heading { "Uploaded files" }
                div.table-wrap {
                    table #uploads {
                        thead { tr { th scope="col" { "File" } th.num scope="col" { "Size" } th scope="col" { "Uploaded" } } }
                        tbody {
                            @for u in &batch.uploads {
                                tr { th scope="row" { code { (u.name) } } td.num { (format::bytes(u.bytes)) }
                                    td { (format::time_ms(u.uploaded_at_ms)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
