//! The Argus HTTP API (spec: reports-events-api.md, "REST API"): two-phase uploads into
//! the object store with file-ready events on the queue, report reads through a
//! coalescing cache, the fleet report, a vehicle's batches, Server-Sent Events of a
//! batch's status, bearer-token roles, the operations endpoints, and the HTML pages
//! (`pages`) over the same reads.
//!
//! ```ignore
//! let state = AppState::new(config, store, Objects::local(dir)?, publisher, None);
//! config.validate(addr)?;
//! let listener = tokio::net::TcpListener::bind(addr).await?;
//! argus_api::serve(listener, argus_api::router(state.clone()), state.shutdown_on(ctrl_c)).await?;
//! ```

mod auth;
mod cache;
mod config;
mod digest;
mod error;
mod extract;
pub mod metrics;
mod objects;
mod openapi;
mod ops;
mod pages;
mod routes;
mod state;
mod streaming;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::{ReaderAuth, Role, Tokens, VehicleAuth};
pub use config::{ApiConfig, ConfigError};
pub use error::ApiError;
pub use objects::{Objects, file_id_of};
pub use openapi::ApiDoc;
pub use routes::batches::file_ready_events;
pub use state::AppState;

use routes::{batches, events, fleet, reports, upload, vehicles};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the API and every page over `state`, with metrics, request ids and
/// request logs.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/batches", post(batches::create))
        .route("/batches/{id}", get(batches::get))
        .route("/batches/{id}/files", post(upload::upload).layer(DefaultBodyLimit::disable()))
        .route("/batches/{id}/complete", post(batches::complete))
        .route("/batches/{id}/report", get(reports::get))
        .route("/batches/{id}/events", get(events::stream))
        .route("/fleet/top-errors", get(fleet::top_errors))
        .route("/vehicles/{vin}/batches", get(vehicles::batches));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::document))
        .merge(pages::routes())
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(ops::no_route)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and
/// waits for the requests in progress (uploads finish; pass
/// [`AppState::shutdown_on`]`(signal)` so that event streams end too).
pub async fn serve<F>(listener: tokio::net::TcpListener, router: Router, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
