//! `GET /vehicles/{vin}/batches?limit=&cursor=`: a vehicle's batches, newest first, a page
//! at a time; `next_cursor` fetches the next page (null on the last).

use argus_sinks::BatchCursor;
use argus_sinks::store::BatchSummary;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::auth::ReaderAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Vin};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Batches per page, 1-500.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a vehicle's batches.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VehicleBatches {
    pub vin: String,
    #[schema(value_type = Vec<Object>)]
    pub batches: Vec<BatchSummary>,
    pub next_cursor: Option<String>,
}

const MAX_PAGE: u32 = 500;

/// A vehicle's batches, newest first.
#[utoipa::path(get, path = "/api/v1/vehicles/{vin}/batches", params(("vin" = String, Path), PageParams),
    responses((status = 200, body = VehicleBatches), (status = 400)))]
pub async fn batches(
    _: ReaderAuth,
    State(state): State<AppState>,
    Vin(vin): Vin,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<VehicleBatches>> {
    let limit = params.limit.unwrap_or(state.config().default_page_size);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::InvalidQuery(format!("limit must be 1-{MAX_PAGE}")));
    }
    let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut batches = state.store().list_batches_for_vin_page(&vin, limit + 1, after.as_ref()).await?;
    let more = batches.len() > limit as usize;
    batches.truncate(limit as usize);
    let next_cursor = more.then(|| batches.last().map(encode_cursor)).flatten();
    Ok(Json(VehicleBatches { vin, batches, next_cursor }))
}

pub(crate) fn encode_cursor(last: &BatchSummary) -> String {
    hex::encode(format!("{}:{}", last.created_at_ms, last.batch_id))
}

pub(crate) fn decode_cursor(cursor: &str) -> ApiResult<BatchCursor> {
    let bad = || ApiError::InvalidQuery(format!("cursor {cursor:?} is not one this server gave out"));
    let text = String::from_utf8(hex::decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let (ms, batch_id) = text.split_once(':').ok_or_else(bad)?;
    Ok(BatchCursor { created_at_ms: ms.parse().map_err(|_| bad())?, batch_id: batch_id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let last = BatchSummary {
            batch_id: "b-1".into(),
            status: argus_sinks::BatchState::Completed,
            records: 0,
            error_events: 0,
            first_ts_ns: None,
            last_ts_ns: None,
            created_at_ms: 17,
        };
        let cursor = decode_cursor(&encode_cursor(&last)).unwrap();
        assert_eq!(cursor, BatchCursor { created_at_ms: 17, batch_id: "b-1".into() });
        for bad in ["zz", "", &hex::encode("nocolon"), &hex::encode("x:b")] {
            assert_eq!(decode_cursor(bad).unwrap_err().code(), "invalid_query", "{bad:?}");
        }
    }
}
