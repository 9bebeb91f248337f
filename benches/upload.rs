//! Upload throughput: one file streamed through `POST /batches/{id}/files` on loopback
//! (the API computes its sha256 and size on the way, records it in SQLite) against
//! writing the same bytes to the same local object store directly with `WriteMultipart`
//! (the limit), in the same run, alternating, best of `ARGUS_BENCH_ROUNDS` (3) each.
//!
//! `ARGUS_BENCH_UPLOAD_MIB` (default 1024; 128 with `ARGUS_BENCH_QUICK=1`). Figures:
//! benches/README.md, "Uploads".

mod common;

use std::sync::Arc;
use std::time::Instant;

use argus_api::{ApiConfig, AppState, Objects};
use object_store::WriteMultipart;

const CHUNK: usize = 1 << 20;

fn chunks(mib: usize) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let chunk = bytes::Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    futures::stream::iter((0..mib).map(move |_| Ok(chunk.clone())))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = common::env_or("ARGUS_BENCH_UPLOAD_MIB", if common::quick() { 128 } else { 1024 });
    let rounds: usize = common::env_or("ARGUS_BENCH_ROUNDS", 3);
    let dir = tempfile::tempdir()?;
    let store =
        argus_sinks::Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display())).await?;
    store.migrate().await?;
    let objects = Objects::local(&dir.path().join("objects"))?;
    let (store_handle, root) = (objects.store.clone(), objects.root.clone());

    let state =
        AppState::new(ApiConfig::default(), store, objects, Arc::new(common::accept_all::AcceptAll), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(argus_api::serve(listener, argus_api::router(state), std::future::pending()));
    // The transport alone: the same body to a handler that only counts it.
    let sink = axum::Router::new().route(
        "/discard",
        axum::routing::post(|body: axum::body::Body| async move {
            let mut stream = body.into_data_stream();
            let mut size = 0usize;
            while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
                size += chunk.map_or(0, |c| c.len());
            }
            size.to_string()
        }),
    );
    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}/discard", sink_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(sink_listener, sink).await });
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/batches"))
        .json(&serde_json::json!({}))
        .send()
        .await?
        .json()
        .await?;
    let batch = created["batch_id"].as_str().ok_or("no batch id")?.to_owned();

    println!("## Uploads: {mib} MiB, best of {rounds}; load before: {}", common::loadavg());
    let (mut direct, mut api, mut transport) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for round in 0..rounds {
        // Directly: the same bytes through WriteMultipart, parts of the API's size.
        let path = root.child(format!("direct-{round}.rec"));
        let start = Instant::now();
        let mut writer =
            WriteMultipart::new_with_chunk_size(store_handle.put_multipart(&path).await?, 8 << 20);
        let mut body = std::pin::pin!(chunks(mib));
        while let Some(chunk) = futures::StreamExt::next(&mut body).await {
            writer.put(chunk?);
            writer.wait_for_capacity(2).await?;
        }
        writer.finish().await?;
        direct = direct.min(start.elapsed().as_secs_f64());
        store_handle.delete(&path).await?;

        let name = format!("api-{round}.rec");
        let start = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/batches/{batch}/files?name={name}"))
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(chunks(mib)))
            .send()
            .await?;
        assert_eq!(response.status(), 201, "{}", response.text().await?);
        api = api.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let counted =
            client.post(&sink_url).body(reqwest::Body::wrap_stream(chunks(mib))).send().await?.text().await?;
        assert_eq!(counted, (mib * CHUNK).to_string());
        transport = transport.min(start.elapsed().as_secs_f64());
        store_handle.delete(&root.child("batches").child(batch.as_str()).child(name.as_str())).await?;
    }

    let rate = |secs: f64| mib as f64 / secs;
    common::print_table(
        &["path", "MiB/s"],
        &[
            vec!["object store directly (limit)".to_owned(), format!("{:.0}", rate(direct))],
            vec!["through the API, sha256 included".to_owned(), format!("{:.0}", rate(api))],
            vec![
                "HTTP alone: the same body to a handler that drops it".to_owned(),
                format!("{:.0}", rate(transport)),
            ],
        ],
    );
    println!("api / limit: **{:.2}** (goal ≥ 0.7)", direct / api);
    println!("load after: {}", common::loadavg());
    Ok(())
}
