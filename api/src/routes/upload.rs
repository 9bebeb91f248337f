//! `POST /batches/{id}/files?name=`: one file of a pending batch, as the raw body or the
//! multipart field `file`.

use axum::Json;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::{Deserialize, Serialize};

use argus_sinks::{BatchState, NewUpload, UploadError};

use crate::auth::VehicleAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, BatchId};
use crate::objects::{Objects, file_id_of};
use crate::state::{AppState, UploadClaim};
use crate::streaming::{StoredObject, stream_to_store};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name: its file id is the name, with `.rec` appended when missing.
    pub name: Option<String>,
}

/// A stored file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    pub file_id: String,
    pub size: u64,
    pub sha256: String,
}

/// Multipart framing allowed beyond the file itself before the length alone says 413.
const MULTIPART_SLACK: u64 = 64 << 10;

enum Body {
    Raw,
    Multipart,
}

/// Stores one file of a pending batch.
#[utoipa::path(post, path = "/api/v1/batches/{id}/files", params(("id" = uuid::Uuid, Path, description = "a batch id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Uploaded), (status = 400), (status = 404), (status = 409),
              (status = 413), (status = 415)))]
pub async fn upload(
    _: VehicleAuth,
    State(state): State<AppState>,
    BatchId(batch_id): BatchId,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    let kind = body_kind(request.headers(), state.config().max_file_size)?;
    if let Some(name) = &query.name {
        file_id_of(name).ok_or_else(|| ApiError::InvalidFileName(name.clone()))?;
    }
    match state.store().get_status(&batch_id).await? {
        None => return Err(ApiError::UnknownBatch(batch_id)),
        Some(BatchState::Pending) => {}
        Some(status) => return Err(ApiError::NotPending { batch_id, status }),
    }

    let (file_id, name, (stored, claim)) = match kind {
        Body::Raw => {
            let name = query.name.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
            let file_id = file_id_of(&name).ok_or_else(|| ApiError::InvalidFileName(name.clone()))?;
            let stored =
                store_file(&state, &batch_id, &file_id, request.into_body().into_data_stream()).await?;
            (file_id, name, stored)
        }
        Body::Multipart => {
            let mut form = Multipart::from_request(request, &state)
                .await
                .map_err(|e| ApiError::InvalidBody(e.body_text()))?;
            loop {
                let field = form.next_field().await.map_err(|e| ApiError::InvalidBody(e.body_text()))?;
                let Some(field) = field else {
                    return Err(ApiError::InvalidBody("no multipart field named `file`".into()));
                };
                if field.name() != Some("file") {
                    continue;
                }
                let name = query
                    .name
                    .clone()
                    .or_else(|| field.file_name().map(str::to_owned))
                    .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
                let file_id = file_id_of(&name).ok_or_else(|| ApiError::InvalidFileName(name.clone()))?;
                let stored = store_file(&state, &batch_id, &file_id, field).await?;
                break (file_id, name, stored);
            }
        }
    };

    let uri = Objects::relative_key(&batch_id, &file_id);
    let recorded = state
        .store()
        .record_upload(&NewUpload {
            batch_id: &batch_id,
            file_id: &file_id,
            name: &name,
            bytes: stored.size,
            sha256: &stored.sha256,
            uri: &uri,
        })
        .await;
    drop(claim);
    match recorded {
        Ok(_) => {}
        // Another server recorded this file meanwhile: the object is that row's now.
        Err(error @ UploadError::FileExists { .. }) => return Err(error.into()),
        Err(error) => {
            // Completed while the body streamed: the object must not stay.
            let path = state.objects().path(&batch_id, &file_id);
            if let Err(e) = state.objects().store.delete(&path).await {
                tracing::warn!(%path, error = %e, "removing an unrecorded upload failed");
            }
            return Err(error.into());
        }
    }
    tracing::info!(%batch_id, %file_id, size = stored.size, "file uploaded");
    Ok((StatusCode::CREATED, Json(Uploaded { file_id, size: stored.size, sha256: stored.sha256 })))
}

/// How the file comes (raw or multipart), refusing other content types and a declared
/// length over the limit before any of the body is read.
fn body_kind(headers: &axum::http::HeaderMap, limit: u64) -> ApiResult<Body> {
    let content_type = headers.get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?").to_owned());
    let essence =
        content_type.as_deref().map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let kind = match essence.as_deref() {
        None | Some("application/octet-stream") => Body::Raw,
        Some("multipart/form-data") => Body::Multipart,
        Some(_) => return Err(ApiError::UnsupportedMediaType(content_type.unwrap_or_default())),
    };
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let slack = if matches!(kind, Body::Multipart) { MULTIPART_SLACK } else { 0 };
    if declared.is_some_and(|len| len > limit.saturating_add(slack)) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(kind)
}

/// Checks the file is new, claims it for this upload, and streams it to its key. The
/// claim is held until the upload is recorded, so that no second upload of the same file
/// writes its key meanwhile.
async fn store_file<S, E>(
    state: &AppState,
    batch_id: &str,
    file_id: &str,
    body: S,
) -> ApiResult<(StoredObject, UploadClaim)>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if state.store().has_upload(batch_id, file_id).await? {
        return Err(ApiError::FileExists { batch_id: batch_id.to_owned(), file_id: file_id.to_owned() });
    }
    let claim = state.claim_upload(batch_id, file_id)?;
    let stored = stream_to_store(state, &state.objects().path(batch_id, file_id), body).await?;
    Ok((stored, claim))
}
