//! Extractors whose rejections are the API's JSON errors, not axum's plain text.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Query<T>` with a JSON 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::InvalidQuery(e.body_text()))
    }
}

/// `Json<T>` with a JSON 400 (or 415 for a body that is not declared JSON).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(request, state).await.map(|j| ApiJson(j.0)).map_err(|e| match e {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("expected application/json".into())
            }
            other => ApiError::InvalidBody(other.body_text()),
        })
    }
}

/// `read` of the path parameter `name` (empty when the route has none); a malformed path
/// is a 400.
///
/// The parameters are read as the router decoded them ([`RawPathParams`], one copy of its
/// list), not deserialized into owned pairs as `Path<Vec<(String, String)>>` would (a
/// vector and two strings per request). A path that `RawPathParams` rejects is extracted
/// with `Path` after all, so that the 400 says what it always said.
async fn with_path_param<S: Send + Sync, T>(
    parts: &mut Parts,
    state: &S,
    name: &str,
    read: impl FnOnce(&str) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Ok(params) = RawPathParams::from_request_parts(parts, state).await {
        return read(params.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v));
    }
    let axum::extract::Path(params) =
        axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    read(params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v))
}

/// A batch id from the path: a UUID, kept in its canonical lowercase hyphenated form.
#[derive(Debug, Clone)]
pub struct BatchId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BatchId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        with_path_param(parts, state, "id", |raw| {
            let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
            uuid::Uuid::try_parse(raw)
                .map(|u| BatchId(u.hyphenated().encode_lower(&mut text).to_owned()))
                .map_err(|_| ApiError::InvalidBatchId(raw.to_owned()))
        })
        .await
    }
}

/// Whether a VIN is one the API takes: the ISO 3779 shape the store holds (a batch with
/// another VIN could not be stored, nor found by it).
pub fn is_vin(vin: &str) -> bool {
    argus_sinks::is_vin(vin)
}

/// A VIN from the path (see [`is_vin`]).
#[derive(Debug, Clone)]
pub struct Vin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Vin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        with_path_param(parts, state, "vin", |raw| {
            if is_vin(raw) { Ok(Vin(raw.to_owned())) } else { Err(ApiError::InvalidVin(raw.to_owned())) }
        })
        .await
    }
}
