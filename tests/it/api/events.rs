//! Server-Sent Events: the current status at once, one event per change (status or
//! progress), and the end of the stream once the batch is final.

use std::time::Duration;

use argus_sinks::BatchState;
use futures::StreamExt;
use serde_json::Value;

use super::{Backend, Server, both_backends, finished_batch, uploaded_batch, write_report};

/// Reads SSE frames off a response body.
struct Events {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Events {
    /// The next `status` event's data, or None when the stream ended.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let data: String =
                    frame.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                if frame.lines().any(|l| l == "event: status") {
                    return Some(serde_json::from_str(&data).unwrap());
                }
                continue; // a keep-alive comment
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("an event in time")?;
            self.buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    }
}

async fn status_events_then_close(backend: Backend) {
    let server = Server::start(backend).await;
    let batch = uploaded_batch(&server, "WAUZZZ8V1KA000001").await;
    let response =
        server.client.get(server.url(&format!("/api/v1/batches/{batch}/events"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = Events { body: response.bytes_stream().boxed(), buffer: String::new() };

    let first = events.next().await.unwrap();
    assert_eq!((first["status"].as_str(), first["file_count"].as_u64()), (Some("uploaded"), Some(1)));
    server.store.advance_status(&batch, BatchState::Scattering).await.unwrap();
    assert_eq!(events.next().await.unwrap()["status"], "scattering");
    server.store.advance_status(&batch, BatchState::Gathering).await.unwrap();
    assert_eq!(events.next().await.unwrap()["status"], "gathering");
    server.store.record_progress(&batch, 1, 1).await.unwrap();
    let progress = events.next().await.unwrap();
    assert_eq!(
        (progress["status"].as_str(), progress["files_parsed"].as_u64()),
        (Some("gathering"), Some(1))
    );
    write_report(&server.store, &finished_batch(&batch, "WAUZZZ8V1KA000001", &[("P0301-00", 2)])).await;
    // The write passes `diagnosing` on its way; the stream may catch it.
    let mut next = events.next().await.unwrap();
    if next["status"] == "diagnosing" {
        next = events.next().await.unwrap();
    }
    assert_eq!(next["status"], "completed");
    assert!(events.next().await.is_none(), "the stream closes after the final status");

    // A final batch: its status, then the end.
    let response =
        server.client.get(server.url(&format!("/api/v1/batches/{batch}/events"))).send().await.unwrap();
    let mut events = Events { body: response.bytes_stream().boxed(), buffer: String::new() };
    assert_eq!(events.next().await.unwrap()["status"], "completed");
    assert!(events.next().await.is_none());
    server.stop().await;
}
both_backends!(status_events_then_close_, status_events_then_close);

/// A graceful shutdown ends open event streams (they would otherwise hold it forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_event_streams() {
    let server = Server::start(Backend::Sqlite).await;
    let batch = uploaded_batch(&server, "WAUZZZ8V1KA000001").await;
    let response =
        server.client.get(server.url(&format!("/api/v1/batches/{batch}/events"))).send().await.unwrap();
    let mut events = Events { body: response.bytes_stream().boxed(), buffer: String::new() };
    assert_eq!(events.next().await.unwrap()["status"], "uploaded");
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("shutdown does not wait on the stream");
    assert!(events.next().await.is_none());
}

/// An idle stream gets keep-alive comments between status events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_streams_get_keep_alives() {
    let config = argus_api::ApiConfig { sse_keep_alive: Duration::from_millis(100), ..Default::default() };
    let server = Server::start_with(Backend::Sqlite, config, None).await;
    let batch = uploaded_batch(&server, "WAUZZZ8V1KA000001").await;
    let response =
        server.client.get(server.url(&format!("/api/v1/batches/{batch}/events"))).send().await.unwrap();
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, body.next()).await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert_eq!(text.matches("event: status").count(), 1, "{text}");
    assert!(text.lines().filter(|l| l.starts_with(':')).count() >= 3, "keep-alives in {text:?}");
    server.stop().await;
}
