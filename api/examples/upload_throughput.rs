//! Upload throughput: a file streamed through `POST /batches/{id}/files` on loopback
//! (sha256 included) against writing the same bytes to the same object store directly
//! with `WriteMultipart`. Run: `cargo run --release -p argus-api --example
//! upload_throughput [MiB]` (default 1024); prints both rates and their ratio.

use std::sync::Arc;
use std::time::Instant;

use argus_api::{ApiConfig, AppState, Objects};
use argus_ingest::kafka::FileReadyEvent;
use argus_ingest::{Publish, PublishError};
use futures::future::BoxFuture;
use object_store::WriteMultipart;

#[derive(Debug)]
struct Discard;

impl Publish for Discard {
    fn publish<'a>(&'a self, _: &'a [FileReadyEvent]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async { Ok(()) })
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async { Ok(()) })
    }
}

const CHUNK: usize = 1 << 20;

fn chunks(mib: usize) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let chunk = bytes::Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    futures::stream::iter((0..mib).map(move |_| Ok(chunk.clone())))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(1024), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let store =
        argus_sinks::Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display())).await?;
    store.migrate().await?;
    let objects = Objects::local(&dir.path().join("objects"))?;

    // Directly: the same bytes through WriteMultipart, parts of the API's size.
    let start = Instant::now();
    let path = objects.root.child("direct.rec");
    let mut writer = WriteMultipart::new_with_chunk_size(objects.store.put_multipart(&path).await?, 8 << 20);
    let mut body = std::pin::pin!(chunks(mib));
    while let Some(chunk) = futures::StreamExt::next(&mut body).await {
        writer.put(chunk?);
        writer.wait_for_capacity(2).await?;
    }
    writer.finish().await?;
    let direct = start.elapsed().as_secs_f64();

    let state = AppState::new(ApiConfig::default(), store, objects, Arc::new(Discard), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(argus_api::serve(listener, argus_api::router(state), std::future::pending()));
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/batches"))
        .json(&serde_json::json!({}))
        .send()
        .await?
        .json()
        .await?;
    let batch = created["batch_id"].as_str().ok_or("no batch id")?;
    let start = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/batches/{batch}/files?name=api.rec"))
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(chunks(mib)))
        .send()
        .await?;
    assert_eq!(response.status(), 201, "{}", response.text().await?);
    let api = start.elapsed().as_secs_f64();

    let rate = |secs: f64| mib as f64 / secs;
    println!(
        "{mib} MiB: direct {:.0} MiB/s, api {:.0} MiB/s, ratio {:.2}",
        rate(direct),
        rate(api),
        direct / api
    );
    Ok(())
}
