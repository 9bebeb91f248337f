//! One error type for every handler: each variant is a status code and a JSON body
//! `{"error": "...", "code": "..."}`. Internal causes are logged, never shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use argus_sinks::{BatchState, StoreError, UploadError};

/// What a request can end in, other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("malformed batch id {0:?}: expected a UUID")]
    InvalidBatchId(String),
    #[error("invalid file name {0:?}: use 1-200 of A-Z a-z 0-9 . _ -, not starting with a dot")]
    InvalidFileName(String),
    #[error("malformed VIN {0:?}: expected 17 of 0-9 and A-Z except I, O and Q (ISO 3779)")]
    InvalidVin(String),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("invalid body: {0}")]
    InvalidBody(String),
    #[error("unsupported content type {0:?}")]
    UnsupportedMediaType(String),
    #[error("the file exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error("no batch {0}")]
    UnknownBatch(String),
    #[error("batch {batch_id} is {status}: it takes no more files")]
    NotPending { batch_id: String, status: BatchState },
    #[error("batch {batch_id} already has a file {file_id}")]
    FileExists { batch_id: String, file_id: String },
    #[error("batch {0} has no files: upload at least one before completing it")]
    EmptyBatch(String),
    /// A write the store's schema refuses (a final batch changed, a pruned id, …).
    #[error("the store refused the write: {0}")]
    Refused(String),
    #[error("the report of batch {batch_id} is not ready: the batch is {status}")]
    NotReady { batch_id: String, status: BatchState },
    #[error("missing or unknown bearer token")]
    Unauthorized,
    #[error("this token's role may not do that")]
    Forbidden,
    #[error("no route {0}")]
    NoRoute(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: String,
    code: &'a str,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            BadRequest(_) | InvalidBatchId(_) | InvalidVin(_) | InvalidFileName(_) | InvalidQuery(_)
            | InvalidBody(_) | EmptyBatch(_) => StatusCode::BAD_REQUEST,
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownBatch(_) | NoRoute(_) => StatusCode::NOT_FOUND,
            NotPending { .. } | FileExists { .. } | NotReady { .. } | Refused(_) => StatusCode::CONFLICT,
            Unauthorized => StatusCode::UNAUTHORIZED,
            Forbidden => StatusCode::FORBIDDEN,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code of the body.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            BadRequest(_) => "bad_request",
            InvalidBatchId(_) => "invalid_batch_id",
            InvalidVin(_) => "invalid_vin",
            InvalidFileName(_) => "invalid_file_name",
            InvalidQuery(_) => "invalid_query",
            InvalidBody(_) => "invalid_body",
            UnsupportedMediaType(_) => "unsupported_media_type",
            PayloadTooLarge { .. } => "payload_too_large",
            UnknownBatch(_) => "unknown_batch",
            NotPending { .. } => "batch_not_pending",
            FileExists { .. } => "file_exists",
            EmptyBatch(_) => "empty_batch",
            NotReady { .. } => "report_not_ready",
            Refused(_) => "refused",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            NoRoute(_) => "no_route",
            MethodNotAllowed => "method_not_allowed",
            Unavailable(_) => "unavailable",
            Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

impl ApiError {
    /// The response, from a shared error (a coalesced cache load hands one to many).
    pub fn to_response(&self) -> Response {
        let status = self.status();
        match self {
            ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
            ApiError::Unavailable(what) => tracing::warn!(what, "dependency unavailable"),
            _ => {}
        }
        let mut response =
            (status, Json(Body { error: self.to_string(), code: self.code() })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "store unavailable");
            ApiError::Unavailable("store")
        } else if e.is_constraint_violation() {
            // The schema's own refusal (migration 0006, the status trigger, a CHECK): the
            // request asked for something the store never holds, not a server fault.
            tracing::info!(error = %e, "store refused a write");
            ApiError::Refused(e.refusal())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::UnknownBatch(id) => ApiError::UnknownBatch(id),
            UploadError::NotPending { batch_id, status } => ApiError::NotPending { batch_id, status },
            UploadError::FileExists { batch_id, file_id } => ApiError::FileExists { batch_id, file_id },
            UploadError::EmptyBatch(id) => ApiError::EmptyBatch(id),
            UploadError::Store(e) => e.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_the_schema_refuses_is_a_conflict_not_a_server_error() {
        let store = argus_sinks::Store::open("sqlite::memory:").await.expect("open");
        store.migrate().await.expect("migrate");
        let refused = store.create_batch("b", None, Some("abc")).await.unwrap_err();
        let error = ApiError::from(refused);
        assert_eq!((error.status(), error.code()), (StatusCode::CONFLICT, "refused"), "{error}");
        assert!(error.to_string().contains("VIN"), "the database's reason is shown: {error}");
        let corrupt = ApiError::from(StoreError::Corrupt("bad row".into()));
        assert_eq!(corrupt.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
