//! `POST /batches`, `GET /batches/{id}`, `POST /batches/{id}/complete`.

use std::time::{Duration, UNIX_EPOCH};

use argus_ingest::kafka::FileReadyEvent;
use argus_sinks::store::{Completion, StoredFile};
use argus_sinks::{BatchState, Upload};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::{ReaderAuth, VehicleAuth};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, BatchId};
use crate::objects::Objects;
use crate::state::AppState;

/// The body of `POST /batches`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatch {
    pub vehicle_id: Option<String>,
    pub vin: Option<String>,
}

/// A batch id and its status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchCreated {
    pub batch_id: String,
    #[schema(value_type = String)]
    pub status: BatchState,
}

/// The answer of `POST /batches/{id}/complete`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchCompleted {
    pub batch_id: String,
    #[schema(value_type = String)]
    pub status: BatchState,
    /// File-ready events published (one per file).
    pub published: usize,
}

/// How far a batch has come.
#[derive(Debug, Serialize, PartialEq, Eq, Clone, utoipa::ToSchema)]
pub struct Progress {
    /// Files the batch declares (known once it is completed).
    pub file_count: Option<u32>,
    pub files_uploaded: usize,
    /// Files the pipeline has parsed.
    pub files_parsed: u32,
}

/// `GET /batches/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    pub batch_id: String,
    #[schema(value_type = String)]
    pub status: BatchState,
    pub vin: Option<String>,
    pub vehicle_id: Option<String>,
    pub failure: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub progress: Progress,
    /// The files uploaded through the API.
    #[schema(value_type = Vec<Object>)]
    pub uploads: Vec<Upload>,
    /// The report's files, once the batch is final.
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<StoredFile>,
}

fn check_field(name: &str, value: Option<&str>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) if v.is_empty() || v.len() > max || v.chars().any(char::is_control) => {
            Err(ApiError::InvalidBody(format!("{name} must be 1-{max} printable characters")))
        }
        _ => Ok(()),
    }
}

/// Opens a batch for uploads.
#[utoipa::path(post, path = "/api/v1/batches", request_body = NewBatch,
    responses((status = 201, body = BatchCreated), (status = 400), (status = 401), (status = 403), (status = 415)))]
pub async fn create(
    _: VehicleAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewBatch>,
) -> ApiResult<(StatusCode, Json<BatchCreated>)> {
    check_field("vehicle_id", body.vehicle_id.as_deref(), 256)?;
    if let Some(vin) = body.vin.as_deref().filter(|vin| !crate::extract::is_vin(vin)) {
        return Err(ApiError::InvalidVin(vin.to_owned()));
    }
    let batch_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let created =
        state.store().create_batch(&batch_id, body.vehicle_id.as_deref(), body.vin.as_deref()).await?;
    if !created {
        return Err(ApiError::Internal(format!("fresh batch id {batch_id} already exists")));
    }
    tracing::info!(%batch_id, vehicle_id = ?body.vehicle_id, "batch opened");
    Ok((StatusCode::CREATED, Json(BatchCreated { batch_id, status: BatchState::Pending })))
}

/// A batch's status, files and progress.
pub async fn view(state: &AppState, batch_id: &str) -> ApiResult<BatchView> {
    let Some(batch) = state.store().get_batch(batch_id).await? else {
        return Err(ApiError::UnknownBatch(batch_id.to_owned()));
    };
    let uploads = state.store().list_uploads(batch_id).await?;
    Ok(BatchView {
        progress: Progress {
            file_count: batch.file_count,
            files_uploaded: uploads.len(),
            files_parsed: batch.files_parsed,
        },
        batch_id: batch.batch_id,
        status: batch.status,
        vin: batch.vin,
        vehicle_id: batch.vehicle_id,
        failure: batch.failure,
        created_at_ms: batch.created_at_ms,
        updated_at_ms: batch.updated_at_ms,
        uploads,
        files: batch.files,
    })
}

/// A batch's status, files and progress.
#[utoipa::path(get, path = "/api/v1/batches/{id}", params(("id" = uuid::Uuid, Path, description = "a batch id")),
    responses((status = 200, body = BatchView), (status = 400), (status = 404)))]
pub async fn get(
    _: ReaderAuth,
    State(state): State<AppState>,
    BatchId(id): BatchId,
) -> ApiResult<Json<BatchView>> {
    Ok(Json(view(&state, &id).await?))
}

/// Closes a batch for uploads and publishes one file-ready event per file. Completing
/// again publishes them again.
#[utoipa::path(post, path = "/api/v1/batches/{id}/complete", params(("id" = uuid::Uuid, Path, description = "a batch id")),
    responses((status = 202, body = BatchCompleted), (status = 400), (status = 404), (status = 503)))]
pub async fn complete(
    _: VehicleAuth,
    State(state): State<AppState>,
    BatchId(id): BatchId,
) -> ApiResult<(StatusCode, Json<BatchCompleted>)> {
    let completion = state.store().complete_batch(&id).await?;
    let events = file_ready_events(&id, &completion);
    match tokio::time::timeout(state.config().publish_timeout, state.publisher().publish(&events)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(batch_id = %id, %error, "publishing file-ready events failed; the client may complete again");
            return Err(ApiError::Unavailable("queue"));
        }
        Err(_) => {
            tracing::warn!(batch_id = %id, "the queue did not accept the file-ready events in time");
            return Err(ApiError::Unavailable("queue"));
        }
    }
    let status = if completion.was == BatchState::Pending { BatchState::Uploaded } else { completion.was };
    tracing::info!(batch_id = %id, files = events.len(), was = %completion.was, "batch completed");
    Ok((StatusCode::ACCEPTED, Json(BatchCompleted { batch_id: id, status, published: events.len() })))
}

/// One file-ready event per uploaded file of a completed batch (what `complete`
/// publishes, and what the embedded service queues again after a restart).
pub fn file_ready_events(batch_id: &str, completion: &Completion) -> Vec<FileReadyEvent> {
    let file_count = u32::try_from(completion.uploads.len()).unwrap_or(u32::MAX);
    completion
        .uploads
        .iter()
        .map(|upload| FileReadyEvent {
            batch_id: batch_id.to_owned(),
            file_id: upload.file_id.clone(),
            uri: Objects::relative_key(batch_id, &upload.file_id),
            size: upload.bytes,
            file_count,
            vin: completion.vin.clone(),
            vehicle_id: completion.vehicle_id.clone(),
            uploaded_at: Some(rfc3339(upload.uploaded_at_ms)),
        })
        .collect()
}

fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}
