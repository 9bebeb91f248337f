//! Two-phase upload: files streamed into the object store at the replay layout, recorded,
//! published on complete (again on a second complete); concurrent batches; a client that
//! drops mid-body and a body over the limit leave nothing behind; S3.

use std::time::Duration;

use argus_api::{ApiConfig, Objects};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Backend, Server, both_backends};
use crate::util::{argus, run_ok, vectors};

async fn upload_complete_and_publish(backend: Backend) {
    let server = Server::start(backend).await;
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    let one = vec![1u8; 300_000];
    let (status, body) = server.upload(&batch, "seg-00.rec", one.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["file_id"], "seg-00.rec");
    assert_eq!(body["size"], 300_000);
    assert_eq!(body["sha256"], hex::encode(Sha256::digest(&one)));

    // The multipart form, field `file`; its name without `.rec` gets one, as replay needs.
    let two = b"second file".to_vec();
    let mut form = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"seg-01\"\r\n\
        Content-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    form.extend_from_slice(&two);
    form.extend_from_slice(b"\r\n--XyZ--\r\n");
    let response = server
        .client
        .post(server.url(&format!("/api/v1/batches/{batch}/files")))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["file_id"], "seg-01.rec");
    assert_eq!(body["size"], two.len());

    let (_, view) = server.get(&format!("/api/v1/batches/{batch}")).await;
    assert_eq!(view["status"], "pending");
    assert_eq!(view["progress"]["files_uploaded"], 2);

    let (status, done) = server.post(&format!("/api/v1/batches/{batch}/complete")).await;
    assert_eq!(status, 202, "{done}");
    assert_eq!(done["status"], "uploaded");
    let events = server.recorder.events.lock().unwrap().clone();
    assert_eq!(events.len(), 2);
    for (event, (file, size)) in events.iter().zip([("seg-00.rec", one.len()), ("seg-01.rec", two.len())]) {
        assert_eq!(event.batch_id, batch);
        assert_eq!(event.file_id, file);
        assert_eq!(event.uri, format!("batches/{batch}/{file}"));
        assert_eq!(event.size, size as u64);
        assert_eq!(event.file_count, 2);
        assert_eq!(event.vin.as_deref(), Some("WAUZZZ8V1KA000001"));
        assert_eq!(event.vehicle_id.as_deref(), Some("car-17"));
        let at = event.uploaded_at.as_deref().unwrap();
        assert!(humantime::parse_rfc3339(at).is_ok(), "{at}");
    }
    assert_eq!(
        std::fs::read(server.objects_dir.path().join(format!("batches/{batch}/seg-00.rec"))).unwrap(),
        one
    );
    assert_eq!(
        server.objects(),
        [format!("batches/{batch}/seg-00.rec"), format!("batches/{batch}/seg-01.rec")]
    );
    let (_, view) = server.get(&format!("/api/v1/batches/{batch}")).await;
    assert_eq!(view["status"], "uploaded");
    assert_eq!(view["progress"]["file_count"], 2);

    // Completing again re-publishes the same events (at-least-once), changing nothing else.
    assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);
    let again = server.recorder.events.lock().unwrap().clone();
    assert_eq!(again[2..], events[..]);
    // A batch that is no longer pending takes no more files.
    let (status, body) = server.upload(&batch, "seg-02.rec", vec![0; 10]).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("batch_not_pending")));
    server.stop().await;
}
both_backends!(upload_complete_and_publish_, upload_complete_and_publish);

/// The vectors' batch uploaded through the API and replayed from the object store gives
/// the expected report (file ids equal replay's), with each file's sha256 and the
/// vehicle id kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_uploaded_files_gives_the_expected_report() {
    let server = Server::start(Backend::Sqlite).await;
    let source = "04fe6e32-905c-493b-8980-3cae45dae42c";
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    let mut digests = Vec::new();
    for name in ["seg-00.rec", "seg-01.rec", "seg-02.rec"] {
        let bytes = std::fs::read(vectors().join("data").join(source).join(name)).unwrap();
        let (status, body) = server.upload(&batch, name, bytes).await;
        assert_eq!(status, 201);
        digests.push(body["sha256"].as_str().unwrap().to_owned());
    }
    assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);

    let db_url = server.db_url();
    let root = server.objects_dir.path().join("batches");
    run_ok(argus().arg("replay").arg(&root).args(["-w", "1", "--database-url", &db_url]));

    let (status, report) = server.get(&format!("/api/v1/batches/{batch}/report")).await;
    assert_eq!(status, 200, "{report}");
    let expected: Value = serde_json::from_slice(
        &std::fs::read(vectors().join(format!("expected/batches/{source}.json"))).unwrap(),
    )
    .unwrap();
    let strip = |mut v: Value| {
        let o = v.as_object_mut().unwrap();
        for key in ["batch_id", "diagnosis", "similar"] {
            o.remove(key);
        }
        for file in v["files"].as_array_mut().unwrap() {
            file["error"] = Value::Bool(!file["error"].is_null());
        }
        v
    };
    assert_eq!(strip(report.clone()), strip(expected));
    assert_eq!(report["batch_id"], batch);
    assert!(report["diagnosis"].is_object());

    let stored = server.store.get_batch(&batch).await.unwrap().unwrap();
    assert_eq!(stored.vehicle_id.as_deref(), Some("car-17"));
    let sha: Vec<_> = stored.files.iter().map(|f| f.sha256.clone().unwrap_or_default()).collect();
    assert_eq!(sha, digests, "files.sha256 comes from the uploads");
    server.stop().await;
}

async fn fifty_concurrent_uploads(backend: Backend) {
    let server = std::sync::Arc::new(Server::start(backend).await);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let batch = server.create_batch(&format!("WVW{i:014}")).await;
                let bytes = vec![i as u8; 200_000 + i * 1000];
                let (status, body) = server.upload(&batch, "seg-00.rec", bytes.clone()).await;
                assert_eq!(status, 201, "{body}");
                assert_eq!(body["sha256"], hex::encode(Sha256::digest(&bytes)));
                assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);
                (batch, bytes)
            })
        })
        .collect();
    let mut batches = Vec::new();
    for task in tasks {
        batches.push(task.await.unwrap());
    }
    assert_eq!(server.recorder.events.lock().unwrap().len(), 50);
    for (batch, bytes) in &batches {
        let path = server.objects_dir.path().join(format!("batches/{batch}/seg-00.rec"));
        assert_eq!(&std::fs::read(path).unwrap(), bytes);
        assert_eq!(server.store.list_uploads(batch).await.unwrap().len(), 1);
    }
    assert_eq!(server.objects().len(), 50);
    std::sync::Arc::into_inner(server).unwrap().stop().await;
}
both_backends!(fifty_concurrent_uploads_, fifty_concurrent_uploads);

/// Sends a request head and part of its body over raw TCP.
async fn partial_request(server: &Server, head: &str, body: &[u8]) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// Waits until `check` holds (or fails after 10 s).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_drops_mid_upload_leaves_no_file() {
    let server = Server::start(Backend::Sqlite).await;
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    let head = format!(
        "POST /api/v1/batches/{batch}/files?name=seg-00.rec HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        32 << 20
    );
    // More than a part, so the store has written some of it before the drop.
    let stream = partial_request(&server, &head, &vec![5u8; 12 << 20]).await;
    let dir = server.objects_dir.path().to_owned();
    eventually("the partial upload reaches the store", async || !crate::util::read_tree(&dir).is_empty())
        .await;
    drop(stream);
    eventually("the partial upload is removed", async || crate::util::read_tree(&dir).is_empty()).await;
    assert!(server.store.list_uploads(&batch).await.unwrap().is_empty());
    // The name is free again: the same file uploads, whole, and completes.
    assert_eq!(server.upload(&batch, "seg-00.rec", vec![5u8; 1000]).await.0, 201);
    assert_eq!(server.objects(), [format!("batches/{batch}/seg-00.rec")]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_lets_uploads_in_progress_finish() {
    let mut server = Server::start(Backend::Sqlite).await;
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    let body: Vec<u8> = (0..12u32 << 20).map(|i| (i % 253) as u8).collect();
    let head = format!(
        "POST /api/v1/batches/{batch}/files?name=seg-00.rec HTTP/1.1\r\nHost: x\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = partial_request(&server, &head, &body[..10 << 20]).await;
    let dir = server.objects_dir.path().to_owned();
    eventually("the upload is under way", async || !crate::util::read_tree(&dir).is_empty()).await;
    let addr = server.addr;
    let body_sent = std::sync::atomic::AtomicBool::new(false);
    let finish = async {
        // The shutdown has begun (new connections are refused) before the body ends.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting");
        stream.write_all(&body[10 << 20..]).await.unwrap();
        body_sent.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let stopped = async {
        server.shut_down().await;
        // Only once the upload in progress has ended.
        assert!(body_sent.load(std::sync::atomic::Ordering::SeqCst), "shut down before the upload ended");
    };
    let ((), answer) = tokio::join!(stopped, finish);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert_eq!(std::fs::read(dir.join(format!("batches/{batch}/seg-00.rec"))).unwrap(), body);
    assert_eq!(server.store.list_uploads(&batch).await.unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_while_it_streams() {
    let config = ApiConfig { max_file_size: 1 << 20, ..ApiConfig::default() };
    let server = Server::start_with(Backend::Sqlite, config, None).await;
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;

    // A declared length over the limit: refused before a byte of the body is read.
    let head = format!(
        "POST /api/v1/batches/{batch}/files?name=a.rec HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    );
    let mut stream = partial_request(&server, &head, b"").await;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"code\":\"payload_too_large\""), "{answer}");

    // A chunked body of no declared length: the answer comes once the limit is passed,
    // while the client is still sending (it would send 64 MiB).
    let head = format!(
        "POST /api/v1/batches/{batch}/files?name=b.rec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let stream = partial_request(&server, &head, b"").await;
    let (mut reader, mut writer) = stream.into_split();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let sender = tokio::spawn(async move {
        let chunk = vec![9u8; 64 << 10];
        for _ in 0..1024 {
            let framed =
                [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk.clone(), b"\r\n".to_vec()].concat();
            if writer.write_all(&framed).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), reader.read(&mut answer)).await.unwrap().unwrap();
    let at_answer = sent.load(std::sync::atomic::Ordering::SeqCst);
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(at_answer < 16 << 20, "answered after {at_answer} bytes of 64 MiB");
    sender.abort();
    let dir = server.objects_dir.path().to_owned();
    eventually("no partial object", async || crate::util::read_tree(&dir).is_empty()).await;
    assert!(server.store.list_uploads(&batch).await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_to_s3() {
    let s3 = crate::s3::S3Server::start();
    s3.create_bucket("uploads");
    let objects = Objects::new(s3.store("uploads"), "fleet".into());
    let server = Server::start_with(Backend::Postgres, ApiConfig::default(), Some(objects.clone())).await;
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    // Three parts' worth (the part size is 8 MiB), so the multipart path is taken.
    let bytes: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    let (status, body) = server.upload(&batch, "seg-00.rec", bytes.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["sha256"], hex::encode(Sha256::digest(&bytes)));
    // An empty file is a file too (the pipeline reports it rejected).
    let (status, body) = server.upload(&batch, "empty.rec", Vec::new()).await;
    assert_eq!((status, body["size"].as_u64()), (201, Some(0)), "{body}");
    assert_eq!(server.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);
    let path = object_store::path::Path::from(format!("fleet/batches/{batch}/empty.rec"));
    assert!(objects.store.get(&path).await.unwrap().bytes().await.unwrap().is_empty());
    let path = object_store::path::Path::from(format!("fleet/batches/{batch}/seg-00.rec"));
    let stored = objects.store.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored.as_ref(), bytes.as_slice());
    assert_eq!(server.recorder.events.lock().unwrap()[1].uri, format!("batches/{batch}/seg-00.rec"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_drops_mid_upload_to_s3_leaves_no_object_and_no_multipart_upload() {
    let s3 = crate::s3::S3Server::start();
    s3.create_bucket("drops");
    let objects = Objects::new(s3.store("drops"), "fleet".into());
    let server = Server::start_with(Backend::Sqlite, ApiConfig::default(), Some(objects.clone())).await;
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    let head = format!(
        "POST /api/v1/batches/{batch}/files?name=seg-00.rec HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        64 << 20
    );
    let stream = partial_request(&server, &head, &vec![5u8; 20 << 20]).await;
    let in_progress = || s3.http("GET", "/drops?uploads").unwrap().matches("<Upload>").count();
    eventually("a multipart upload is in progress", async || in_progress() == 1).await;
    drop(stream);
    eventually("the multipart upload is aborted", async || in_progress() == 0).await;
    let listed: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(objects.store.list(None)).await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    assert!(server.store.list_uploads(&batch).await.unwrap().is_empty());
    server.stop().await;
}

/// While a file uploads, a second upload of the same name is refused at once; the first
/// completes and its bytes are the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_upload_of_a_file_in_flight_is_refused() {
    let server = Server::start(Backend::Sqlite).await;
    let batch = server.create_batch("WAUZZZ8V1KA000001").await;
    let first = vec![1u8; 4 << 20];
    let head = format!(
        "POST /api/v1/batches/{batch}/files?name=seg-00.rec HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        first.len()
    );
    let mut stream = partial_request(&server, &head, &first[..1 << 20]).await;
    let dir = server.objects_dir.path().to_owned();
    eventually("the first upload is under way", async || !crate::util::read_tree(&dir).is_empty()).await;
    let (status, body) = server.upload(&batch, "seg-00.rec", vec![2u8; 100]).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("file_exists")));
    stream.write_all(&first[1 << 20..]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 201"), "{}", String::from_utf8_lossy(&answer[..n]));
    assert_eq!(std::fs::read(dir.join(format!("batches/{batch}/seg-00.rec"))).unwrap(), first);
    let (status, _) = server.upload(&batch, "seg-00.rec", vec![2u8; 100]).await;
    assert_eq!(status, 409, "once recorded, the name stays taken");
    server.stop().await;
}
