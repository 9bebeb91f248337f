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
mod request_id;
mod routes;
mod state;
mod streaming;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

pub use auth::{ReaderAuth, Role, Tokens, VehicleAuth};
pub use config::{ApiConfig, ConfigError};
pub use error::ApiError;
pub use objects::{Objects, file_id_of};
pub use openapi::ApiDoc;
pub use routes::batches::file_ready_events;
pub use state::AppState;

use request_id::{REQUEST_ID, RequestIdLayer};
use routes::{batches, events, fleet, reports, upload, vehicles};

/// Every route of the API and every page over `state`, with metrics, request ids and
/// request logs.
///
/// The API's routes are written out under `/api/v1` rather than nested: a nested router
/// wraps each of its routes in two more services, which strip the prefix from the URI
/// and record it, on every request, and no API handler reads its URI. The three
/// outer layers are one stack for the same reason: `Router::layer` wraps every route in
/// each layer given to it separately, a boxed service clone and a boxed future per
/// layer per request. The request id is set outside the trace layer, so that the
/// request's span carries it.
pub fn router(state: AppState) -> Router {
    let layers =
        ServiceBuilder::new()
            .layer(RequestIdLayer)
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
        }));
    Router::new()
        .route("/api/v1/batches", post(batches::create))
        .route("/api/v1/batches/{id}", get(batches::get))
        .route("/api/v1/batches/{id}/files", post(upload::upload).layer(DefaultBodyLimit::disable()))
        .route("/api/v1/batches/{id}/complete", post(batches::complete))
        .route("/api/v1/batches/{id}/report", get(reports::get))
        .route("/api/v1/batches/{id}/events", get(events::stream))
        .route("/api/v1/fleet/top-errors", get(fleet::top_errors))
        .route("/api/v1/vehicles/{vin}/batches", get(vehicles::batches))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::document))
        .merge(pages::routes())
        .route_layer(metrics::TrackLayer)
        .fallback(ops::no_route)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(layers)
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
