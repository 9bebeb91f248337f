//! Prometheus metrics of the API: requests by route, method and status with their
//! latency, report cache hits and misses, upload bytes, open event streams. Rendered at
//! `/metrics` from the [`PrometheusHandle`] of the process's recorder.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower::{Layer, Service};

use crate::state::AppState;

/// The handle of a recorder this crate installed, or of a fresh uninstalled one when the
/// process already has a recorder (then pass that recorder's handle to
/// [`crate::AppState::new`] instead, so `/metrics` shows it).
///
/// The installed recorder's upkeep runs on a thread of its own every
/// [`UPKEEP_INTERVAL`]: a histogram keeps every recorded value in a growing list of
/// blocks until upkeep (or a scrape) folds them into its buckets, so without it a server
/// nobody scrapes grows by every request's latency, and each request's allocation of
/// those blocks grows and trims the heap.
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = || {
                PrometheusBuilder::new()
                    .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
                    .unwrap_or_else(|_| PrometheusBuilder::new())
            };
            match builder().install_recorder() {
                Ok(handle) => {
                    let upkept = handle.clone();
                    let upkeep = move || loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkept.run_upkeep();
                    };
                    if let Err(error) =
                        std::thread::Builder::new().name("metrics-upkeep".into()).spawn(upkeep)
                    {
                        tracing::warn!(%error, "cannot start the metrics upkeep thread");
                    }
                    handle
                }
                Err(_) => builder().build_recorder().handle(),
            }
        })
        .clone()
}

/// How often the recorder's histograms are folded into their buckets (the interval
/// `PrometheusBuilder::install` uses for the same upkeep).
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Counts and times every request by its matched route (a route layer, so the route is
/// known).
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

/// The service of [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let start = Instant::now();
        TrackFuture { response: self.inner.call(request), route, method, start }
    }
}

/// The future of [`Track`]: the inner service's, counted and timed when it resolves. A
/// named future rather than a boxed one: the route's own future is `Unpin`, so this one
/// needs no allocation of its own.
pub struct TrackFuture<F> {
    response: F,
    route: Option<MatchedPath>,
    method: Method,
    start: Instant,
}

impl<F, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let response = ready!(Pin::new(&mut this.response).poll(cx))?;
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let series = RequestSeries::of(route, &this.method, response.status());
        series.total.increment(1);
        series.duration.record(this.start.elapsed().as_secs_f64());
        Poll::Ready(Ok(response))
    }
}

/// The request counter and latency histogram of one (route, method, status), registered
/// with the process's recorder on its first request and kept: building a metrics key per
/// request allocates its three labels and hashes them into the registry twice, while the
/// set of series is small and fixed by the routes. (The recorder is installed before the
/// router serves: [`crate::AppState::new`] installs it when not handed one.)
#[derive(Clone)]
struct RequestSeries {
    total: Counter,
    duration: Histogram,
}

/// The series registered so far, by route, then by method and status.
type SeriesByRoute = HashMap<String, Vec<(Method, StatusCode, RequestSeries)>>;

impl RequestSeries {
    fn of(route: &str, method: &Method, status: StatusCode) -> RequestSeries {
        static SERIES: OnceLock<RwLock<SeriesByRoute>> = OnceLock::new();
        let series = SERIES.get_or_init(RwLock::default);
        let find = |by_route: &SeriesByRoute| {
            by_route.get(route)?.iter().find(|(m, s, _)| m == method && *s == status).map(|(.., r)| r.clone())
        };
        if let Some(found) = find(&series.read().unwrap_or_else(PoisonError::into_inner)) {
            return found;
        }
        let mut by_route = series.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = find(&by_route) {
            return found;
        }
        let labels = [
            ("route", route.to_owned()),
            ("method", method.as_str().to_owned()),
            ("status", status.as_u16().to_string()),
        ];
        let new = RequestSeries {
            total: metrics::counter!("argus_api_requests_total", &labels),
            duration: metrics::histogram!("argus_api_request_duration_seconds", &labels),
        };
        by_route.entry(route.to_owned()).or_default().push((method.clone(), status, new.clone()));
        new
    }
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
