//! Operations: liveness, readiness, and the answers for unknown routes and methods.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the store answers a query and the queue is reachable.
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    match tokio::time::timeout(PROBE_TIMEOUT, state.store().ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: store");
            return Err(ApiError::Unavailable("store"));
        }
        Err(_) => return Err(ApiError::Unavailable("store")),
    }
    match tokio::time::timeout(PROBE_TIMEOUT, state.publisher().ready()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: queue");
            return Err(ApiError::Unavailable("queue"));
        }
        Err(_) => return Err(ApiError::Unavailable("queue")),
    }
    Ok(Json(json!({"status": "ready", "store": "ok", "queue": "ok"})))
}

/// Any path no route matches: the 404 page for a browser outside `/api`, else JSON.
pub async fn no_route(uri: Uri, headers: HeaderMap) -> Response {
    let wants_html =
        headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html && !uri.path().starts_with("/api/") {
        return crate::pages::not_found(&uri);
    }
    ApiError::NoRoute(uri.path().to_owned()).into_response()
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
