//! `GET /fleet/top-errors?k=&window=&vin=&firmware=`: unfiltered, the fleet report the
//! dataflow's fleet sink stored (no recomputation); filtered, the indexed fleet query.

use std::time::{SystemTime, UNIX_EPOCH};

use argus_pipeline::FleetReport;
use argus_sinks::store::FleetView;
use argus_sinks::{FleetQuery, TimeWindow};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::ReaderAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FleetParams {
    /// Codes to list, 1-1000 (default: the stored report's, else 10).
    pub k: Option<usize>,
    /// Only batches whose last record lies within this long before now (`24h`, `7d`).
    pub window: Option<String>,
    pub vin: Option<String>,
    pub firmware: Option<String>,
}

const MAX_K: usize = 1000;

/// The fleet's top errors.
#[utoipa::path(get, path = "/api/v1/fleet/top-errors", params(FleetParams),
    responses((status = 200, description = "the fleet report"), (status = 400)))]
pub async fn top_errors(
    _: ReaderAuth,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<FleetParams>,
) -> ApiResult<Response> {
    match answer(&state, params).await? {
        Answer::Stored(document) => Ok(json(document)),
        Answer::Computed(report) => Ok(json(encode(&report)?)),
    }
}

/// The fleet report `params` ask for, parsed (what the fleet page shows).
pub async fn report(state: &AppState, params: FleetParams) -> ApiResult<FleetReport> {
    match answer(state, params).await? {
        Answer::Stored(document) => parse(&document),
        Answer::Computed(report) => Ok(report),
    }
}

/// A fleet report as the store gave it: the stored document is served byte for byte.
enum Answer {
    Stored(String),
    Computed(FleetReport),
}

async fn answer(state: &AppState, params: FleetParams) -> ApiResult<Answer> {
    if params.k.is_some_and(|k| k == 0 || k > MAX_K) {
        return Err(ApiError::InvalidQuery(format!("k must be 1-{MAX_K}")));
    }
    let window = params.window.as_deref().map(parse_window).transpose()?;
    let filtered = window.is_some() || params.vin.is_some() || params.firmware.is_some();
    if !filtered {
        if let Some(document) = state.store().get_fleet_report_json(FleetView::AllTime).await? {
            match params.k {
                None => return Ok(Answer::Stored(document)),
                Some(k) => {
                    let mut report = parse(&document)?;
                    if k <= report.k {
                        report.top_errors.truncate(k);
                        report.k = k;
                        return Ok(Answer::Computed(report));
                    }
                }
            }
        }
    }
    let query = FleetQuery { k: params.k.unwrap_or(10), window, vin: params.vin, firmware: params.firmware };
    Ok(Answer::Computed(state.store().fleet_top_errors(&query).await?))
}

fn parse(document: &str) -> ApiResult<FleetReport> {
    serde_json::from_str(document).map_err(|e| ApiError::Internal(format!("stored fleet report: {e}")))
}

fn parse_window(text: &str) -> ApiResult<TimeWindow> {
    let span = humantime::parse_duration(text)
        .map_err(|e| ApiError::InvalidQuery(format!("window {text:?}: {e} (e.g. 24h, 7d)")))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let to_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
    let span_ns = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
    if span_ns == 0 {
        return Err(ApiError::InvalidQuery("window must be longer than zero".into()));
    }
    Ok(TimeWindow { from_ns: to_ns.saturating_sub(span_ns), to_ns })
}

fn encode(report: &FleetReport) -> ApiResult<String> {
    serde_json::to_string(report).map_err(|e| ApiError::Internal(format!("encoding: {e}")))
}

fn json(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}
