//! Prometheus metrics of the API: requests by route, method and status with their
//! latency, report cache hits and misses, upload bytes, open event streams. Rendered at
//! `/metrics` from the [`PrometheusHandle`] of the process's recorder.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// The handle of a recorder this crate installed, or of a fresh uninstalled one when the
/// process already has a recorder (then pass that recorder's handle to
/// [`crate::AppState::new`] instead, so `/metrics` shows it).
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = || {
                PrometheusBuilder::new()
                    .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
                    .unwrap_or_else(|_| PrometheusBuilder::new())
            };
            builder().install_recorder().unwrap_or_else(|_| builder().build_recorder().handle())
        })
        .clone()
}

/// Counts and times every request by its matched route.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let labels = [("route", route), ("method", method), ("status", response.status().as_u16().to_string())];
    metrics::counter!("argus_api_requests_total", &labels).increment(1);
    metrics::histogram!("argus_api_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.prometheus().render())
}

/// Counts an open event stream while it lives.
pub struct SseClient(());

impl SseClient {
    pub fn open() -> Self {
        metrics::gauge!("argus_api_sse_clients").increment(1.0);
        SseClient(())
    }
}

impl Drop for SseClient {
    fn drop(&mut self) {
        metrics::gauge!("argus_api_sse_clients").decrement(1.0);
    }
}
