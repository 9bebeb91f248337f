//! Operations: liveness, readiness (store and queue), Prometheus metrics, the OpenAPI
//! document, request ids.

use serde_json::Value;
use std::sync::atomic::Ordering;

use super::{Backend, Server, uploaded_batch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_openapi_and_request_ids() {
    let server = Server::start(Backend::Sqlite).await;
    assert_eq!(server.get("/healthz").await.0, 200);
    let (status, ready) = server.get("/readyz").await;
    assert_eq!((status, ready["store"].as_str()), (200, Some("ok")));
    server.recorder.fail.store(true, Ordering::SeqCst);
    let (status, body) = server.get("/readyz").await;
    assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")));

    // A queue that refuses: complete answers 503 and may be called again.
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    assert_eq!(server.upload(&batch, "a.rec", vec![1; 10]).await.0, 201);
    assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 503);
    server.recorder.fail.store(false, Ordering::SeqCst);
    assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);
    assert_eq!(server.recorder.events.lock().unwrap().len(), 1);

    let other = uploaded_batch(&server, "WAUZZZ8V1KA000002").await;
    let _ = server.get(&format!("/api/v1/batches/{other}/report")).await;
    let metrics = server.client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        "argus_api_requests_total{route=\"/api/v1/batches/{id}/files\",method=\"POST\",status=\"201\"}",
        "argus_api_request_duration_seconds_bucket{route=\"/api/v1/batches\"",
        "argus_api_report_cache_misses_total",
        "argus_api_upload_bytes_total",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from\n{metrics}");
    }

    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/batches",
        "/api/v1/batches/{id}/files",
        "/api/v1/batches/{id}/report",
        "/api/v1/fleet/top-errors",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    let response = server.client.get(server.url("/healthz")).send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let response =
        server.client.get(server.url("/healthz")).header("x-request-id", "mine-1").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "mine-1");
    let _: Value = response.json().await.unwrap();
    server.stop().await;
}

/// `argus serve --no-pipeline` serves on SQLite and a local directory; with no broker reachable it
/// is alive but not ready; SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::util::free_port();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("argus.db").display());
    let mut child = crate::util::argus()
        .args(["serve", "--no-pipeline", "--addr", &format!("127.0.0.1:{port}"), "--database-url", &db])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--object-store")
        .arg(dir.path().join("objects"))
        .args(["--brokers", "127.0.0.1:1"])
        .env("ARGUS_API_TOKENS", "reader:r,vehicle:v")
        .env("RUST_LOG", "off")
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "argus serve did not come up");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "no broker, not ready");
    let created = client
        .post(format!("{base}/api/v1/batches"))
        .bearer_auth("v")
        .json(&serde_json::json!({"vin": "WAUZZZ8V1KA000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
}
