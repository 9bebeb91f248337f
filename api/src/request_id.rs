//! Request ids: the `x-request-id` a request came with, or a new random (v4) UUID, set on
//! the request (where the request's log span reads it) and copied onto its response.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Sets and propagates request ids: what tower-http's `SetRequestIdLayer` and
/// `PropagateRequestIdLayer` do together, in one layer, so that the id is looked up once
/// and cloned once per request. (Unlike those, it does not put the id in the request's
/// extensions as well: nothing reads it there.)
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIds<S>;

    fn layer(&self, inner: S) -> RequestIds<S> {
        RequestIds { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIds<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RequestIds<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Unpin,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = match request.headers().get(&REQUEST_ID) {
            Some(id) => Some(id.clone()),
            None => {
                let id = new_request_id();
                if let Some(id) = &id {
                    request.headers_mut().insert(REQUEST_ID, id.clone());
                }
                id
            }
        };
        RequestIdFuture { response: self.inner.call(request), id }
    }
}

/// A random (v4) UUID, as tower-http's `MakeRequestUuid` makes it, but written into a
/// stack buffer and copied once, instead of formatted into a `String` and then parsed
/// and copied into a header value.
fn new_request_id() -> Option<HeaderValue> {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).ok()
}

/// The future of [`RequestIds`]: the inner service's response, with the request's id
/// unless the response set one of its own.
pub struct RequestIdFuture<F> {
    response: F,
    id: Option<HeaderValue>,
}

impl<F, R, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<R>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let mut response = ready!(Pin::new(&mut this.response).poll(cx))?;
        if let Some(id) = this.id.take() {
            if !response.headers().contains_key(&REQUEST_ID) {
                response.headers_mut().insert(REQUEST_ID, id);
            }
        }
        Poll::Ready(Ok(response))
    }
}
