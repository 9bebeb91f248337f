//! `GET /batches/{id}/events`: Server-Sent Events of a batch's status. The current status
//! at once, then one `status` event per change (status or progress), closing after
//! `completed` or `failed`. The stream polls the store, so it follows the batch through a
//! restart of the pipeline; keep-alive comments hold idle connections open.

use std::convert::Infallible;

use argus_sinks::store::BatchProgress as Snapshot;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

use crate::auth::ReaderAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::BatchId;
use crate::metrics::SseClient;
use crate::state::AppState;

async fn snapshot(state: &AppState, batch_id: &str) -> ApiResult<Snapshot> {
    state
        .store()
        .get_batch_progress(batch_id)
        .await?
        .ok_or_else(|| ApiError::UnknownBatch(batch_id.to_owned()))
}

/// One client's stream.
struct Follow {
    state: AppState,
    batch_id: String,
    first: Option<Snapshot>,
    last: Option<Snapshot>,
    ticks: Interval,
    closing: watch::Receiver<bool>,
    done: bool,
    _client: SseClient,
}

impl Follow {
    /// The next changed snapshot; None once the batch is final or the server closes.
    async fn next_change(&mut self) -> Option<Snapshot> {
        if self.done {
            return None;
        }
        loop {
            let snap = match self.first.take() {
                Some(first) => first,
                None => {
                    if *self.closing.borrow() {
                        return None;
                    }
                    tokio::select! {
                        _ = self.ticks.tick() => {}
                        _ = self.closing.changed() => return None,
                    }
                    match snapshot(&self.state, &self.batch_id).await {
                        Ok(snap) => snap,
                        // The store hiccuped (or the batch went): keep polling.
                        Err(_) => continue,
                    }
                }
            };
            if self.last.as_ref() != Some(&snap) {
                self.done = snap.status.is_terminal();
                self.last = Some(snap.clone());
                return Some(snap);
            }
        }
    }
}

/// A batch's status as it moves.
#[utoipa::path(get, path = "/api/v1/batches/{id}/events", params(("id" = uuid::Uuid, Path, description = "a batch id")),
    responses((status = 200, description = "text/event-stream of `status` events"), (status = 400), (status = 404)))]
pub async fn stream(
    _: ReaderAuth,
    State(state): State<AppState>,
    BatchId(batch_id): BatchId,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let first = snapshot(&state, &batch_id).await?;
    let mut ticks = tokio::time::interval(state.config().sse_poll_interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let keep_alive = KeepAlive::new().interval(state.config().sse_keep_alive);
    let follow = Follow {
        closing: state.closing(),
        state,
        batch_id,
        first: Some(first),
        last: None,
        ticks,
        done: false,
        _client: SseClient::open(),
    };
    let events = futures::stream::unfold(follow, |mut follow| async move {
        let snap = follow.next_change().await?;
        let event = Event::default().event("status").json_data(&snap).unwrap_or_else(|_| Event::default());
        Some((Ok(event), follow))
    });
    Ok(Sse::new(events).keep_alive(keep_alive))
}
