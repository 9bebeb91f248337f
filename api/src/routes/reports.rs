//! `GET /batches/{id}/report`: the stored report document, byte for byte, with the
//! batch's `diagnosis` and its `similar` batches appended. Final reports come from the
//! cache (one coalesced store read per cold key) with a strong ETag; `If-None-Match`
//! answers 304.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::auth::ReaderAuth;
use crate::cache::FinalReport;
use crate::error::ApiError;
use crate::extract::BatchId;
use crate::state::AppState;

/// A batch's report with its diagnosis.
#[utoipa::path(get, path = "/api/v1/batches/{id}/report", params(("id" = uuid::Uuid, Path, description = "a batch id")),
    responses((status = 200, description = "the batch report plus `diagnosis` and `similar`"),
              (status = 304), (status = 400), (status = 404), (status = 409)))]
pub async fn get(
    _: ReaderAuth,
    State(state): State<AppState>,
    BatchId(id): BatchId,
    // The whole request rather than a `HeaderMap`, which would be a copy of its headers.
    request: Request,
) -> Response {
    let report = match state.cache().get_or_load(&id, load_final(&state, &id)).await {
        Ok(report) => report,
        Err(error) => return error.to_response(),
    };
    let etag = report.etag.clone();
    let cache_control = HeaderValue::from_static("private, max-age=86400, immutable");
    if matches_etag(request.headers(), &etag) {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag), (CACHE_CONTROL, cache_control)]).into_response();
    }
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (ETAG, etag),
            (CACHE_CONTROL, cache_control),
        ],
        report.body.clone(),
    )
        .into_response()
}

fn matches_etag(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.as_bytes();
    headers.get_all(IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).any(|list| {
        list.split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag)
    })
}

/// Reads a final report from the store; anything not final is an error (never cached).
async fn load_final(state: &AppState, batch_id: &str) -> Result<Arc<FinalReport>, ApiError> {
    state.count_report_load();
    let store = state.store();
    let Some(status) = store.get_status(batch_id).await? else {
        return Err(ApiError::UnknownBatch(batch_id.to_owned()));
    };
    let not_ready = || ApiError::NotReady { batch_id: batch_id.to_owned(), status };
    if !status.is_terminal() {
        return Err(not_ready());
    }
    let Some(document) = store.get_report_json(batch_id).await? else { return Err(not_ready()) };
    let diagnosis = store.get_diagnosis(batch_id).await?;
    let similar = diagnosis.as_ref().map(|d| d.similar_batches.clone()).unwrap_or_default();
    let encoding = |e: serde_json::Error| ApiError::Internal(format!("encoding: {e}"));
    let diagnosis = serde_json::to_string(&diagnosis).map_err(encoding)?;
    let similar = serde_json::to_string(&similar).map_err(encoding)?;
    let body = append_fields(&document, &[("diagnosis", diagnosis), ("similar", similar)])
        .ok_or_else(|| ApiError::Internal(format!("stored report of {batch_id} is not a JSON object")))?;
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
    let etag = HeaderValue::try_from(etag).map_err(|e| ApiError::Internal(format!("etag: {e}")))?;
    Ok(Arc::new(FinalReport { body: Bytes::from(body), etag }))
}

/// The JSON object `document` with `fields` added at its end, its own bytes unchanged.
fn append_fields(document: &str, fields: &[(&str, String)]) -> Option<String> {
    let inner = document.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out =
        String::with_capacity(document.len() + fields.iter().map(|f| f.1.len() + 16).sum::<usize>());
    out.push('{');
    out.push_str(inner);
    let mut first = inner.trim().is_empty();
    for (name, json) in fields {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&format!("\"{name}\":{json}"));
    }
    out.push('}');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{append_fields, matches_etag};
    use axum::http::{HeaderMap, HeaderValue, header::IF_NONE_MATCH};

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(IF_NONE_MATCH, HeaderValue::from_static(value));
            matches_etag(&headers, &HeaderValue::from_static("\"abc\""))
        };
        assert!(with("\"abc\""));
        assert!(with("\"x\", \"abc\""));
        assert!(with("W/\"abc\""));
        assert!(with("*"));
        assert!(!with("\"abcd\""));
        assert!(!matches_etag(&HeaderMap::new(), &HeaderValue::from_static("\"abc\"")));
    }

    #[test]
    fn fields_go_at_the_end_of_the_untouched_document() {
        let doc = r#"{"z":1, "a":[2]}"#;
        let out = append_fields(doc, &[("diagnosis", "null".into()), ("similar", "[]".into())]).unwrap();
        assert_eq!(out, r#"{"z":1, "a":[2],"diagnosis":null,"similar":[]}"#);
        assert_eq!(append_fields("{}", &[("d", "1".into())]).unwrap(), r#"{"d":1}"#);
        assert!(append_fields("[1]", &[]).is_none());
    }
}
