//! `argus serve`, the embedded default, end to end through HTTP: the conformance vectors'
//! batches uploaded (`argus upload`), completed, followed over Server-Sent Events and read back equal the
//! expected reports and fleet report; a `kill -9` between completing and reporting loses
//! nothing (the store queues unfinished batches again at start).

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::util::{argus, free_port, run_ok, vectors};

/// A running `argus serve` over a data directory.
pub(crate) struct Serve {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl Serve {
    pub(crate) async fn start(data_dir: &Path) -> Self {
        Self::start_with_env(data_dir, &[]).await
    }

    pub async fn start_with_env(data_dir: &Path, env: &[(&str, String)]) -> Self {
        Self::start_with(data_dir, &[], env).await
    }

    /// `argus serve` with more arguments (`--database-url`, `--brokers`, …) and variables.
    pub async fn start_with(data_dir: &Path, args: &[String], env: &[(&str, String)]) -> Self {
        let port = free_port();
        let child = argus()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--addr", &format!("127.0.0.1:{port}"), "-w", "2"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("argus serve starts");
        let serve = Self { child, base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while serve.client.get(format!("{}/healthz", serve.base)).send().await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "argus serve did not answer within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        serve
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Opens a batch of the vehicle `car-17`; returns its id.
    pub async fn create_batch(&self) -> String {
        let created: Value = self
            .client
            .post(self.url("/batches"))
            .json(&json!({"vehicle_id": "car-17"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["batch_id"].as_str().unwrap().to_owned()
    }

    /// Creates a batch, uploads the `*.rec` files of `dir`, completes it; returns its id.
    pub async fn upload_batch(&self, dir: &Path) -> String {
        let id = self.create_batch().await;
        for file in rec_files(dir) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let response = self
                .client
                .post(self.url(&format!("/batches/{id}/files?name={name}")))
                .header("content-type", "application/octet-stream")
                .body(std::fs::read(&file).unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201, "upload of {name}");
        }
        let response = self.client.post(self.url(&format!("/batches/{id}/complete"))).send().await.unwrap();
        assert_eq!(response.status(), 202);
        id
    }

    pub async fn wait_final(&self, id: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (_, batch) = self.get(&format!("/batches/{id}")).await;
            let status = batch["status"].as_str().unwrap_or_default().to_owned();
            if status == "completed" || status == "failed" {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "{id} still {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }

    pub fn terminate(mut self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "argus serve exits 0 on SIGTERM: {status}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn rec_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "rec"))
        .collect();
    files.sort();
    files
}

/// The vector batches that have files (an empty batch cannot be completed: 4xx), by id.
pub(crate) fn vector_batches() -> Vec<(String, PathBuf)> {
    let mut batches: Vec<(String, PathBuf)> = std::fs::read_dir(vectors().join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !rec_files(p).is_empty())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    batches.sort();
    batches
}

/// A report as the API serves it, compared with the expected one: the batch id is the
/// API's, and the diagnosis and similar batches are the service's additions.
fn comparable(mut report: Value) -> Value {
    let object = report.as_object_mut().unwrap();
    for key in ["batch_id", "diagnosis", "similar"] {
        object.remove(key);
    }
    report
}

fn expected_report(vector_id: &str) -> Value {
    let path = vectors().join(format!("expected/batches/{vector_id}.json"));
    comparable(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
}

/// Reads the Server-Sent Events of a batch until the server closes the stream (at most
/// 60 s).
pub(crate) async fn status_events(serve: &Serve, id: &str) -> Vec<String> {
    let url = serve.url(&format!("/batches/{id}/events"));
    tokio::time::timeout(Duration::from_secs(60), statuses_until_closed(url))
        .await
        .expect("the stream closes once the batch is final")
}

/// The statuses the Server-Sent Events at `url` carry, collected until the stream closes.
pub(crate) async fn statuses_until_closed(url: String) -> Vec<String> {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .filter_map(|v| v["status"].as_str().map(str::to_owned))
        .collect()
}

pub(crate) async fn assert_reports_and_fleet(serve: &Serve, uploaded: &[(String, String)]) {
    for (vector_id, id) in uploaded {
        let (status, report) = serve.get(&format!("/batches/{id}/report")).await;
        assert_eq!(status, 200, "{vector_id}: {report}");
        assert_eq!(comparable(report.clone()), expected_report(vector_id), "{vector_id}");
        assert!(report["diagnosis"].is_object(), "{vector_id}: a diagnosis");
    }
    let expected: Value =
        serde_json::from_slice(&std::fs::read(vectors().join("expected/fleet.json")).unwrap()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        // The fleet row is written a moment after the last batch.
        let (status, fleet) = serve.get("/fleet/top-errors").await;
        if status == 200 && fleet == expected {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "fleet report: {status} {fleet}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vectors_uploaded_to_argus_serve_give_the_expected_reports() {
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path()).await;
    // `argus upload` of the whole layout: one line `DIR-NAME BATCH-ID` per batch with files.
    let mut upload = argus();
    upload.arg("upload").arg(vectors().join("data")).args([
        "--server",
        &serve.base,
        "--vehicle-id",
        "car-17",
    ]);
    let output = tokio::task::spawn_blocking(move || run_ok(&mut upload)).await.unwrap();
    let uploaded: Vec<(String, String)> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (name, id) = line.split_once(' ').unwrap();
            (name.to_owned(), id.to_owned())
        })
        .collect();
    let names: Vec<String> = vector_batches().into_iter().map(|(name, _)| name).collect();
    assert_eq!(uploaded.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>(), names);
    // One batch followed over SSE: at once its current status, then every change, and
    // the stream closes at the final one.
    let (_, followed) = &uploaded[0];
    let statuses = status_events(&serve, followed).await;
    assert!(matches!(statuses.last().map(String::as_str), Some("completed" | "failed")), "{statuses:?}");
    for (_, id) in &uploaded {
        serve.wait_final(id).await;
    }
    assert_reports_and_fleet(&serve, &uploaded).await;
    let (_, progress) = serve.get(&format!("/batches/{followed}")).await;
    assert_eq!(progress["progress"]["files_parsed"], progress["progress"]["file_count"], "{progress}");
    serve.terminate();
}

/// The service is killed while every batch waits on an LLM that never answers (all of
/// them completed, none reported); started again without it, it reports them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_complete_and_report_loses_no_batch() {
    let (llm, held) = crate::util::silent_llm().await;
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("ARGUS_LLM_BASE_URL", llm),
        ("ARGUS_LLM_MODEL", "silent".to_owned()),
        ("ARGUS_LLM_TIMEOUT_SECS", "600".to_owned()),
    ];
    let serve = Serve::start_with_env(data.path(), &env).await;
    let mut uploaded = Vec::new();
    for (vector_id, dir) in vector_batches() {
        uploaded.push((vector_id, serve.upload_batch(&dir).await));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut statuses = Vec::new();
        for (_, id) in &uploaded {
            statuses
                .push(serve.get(&format!("/batches/{id}")).await.1["status"].as_str().unwrap().to_owned());
        }
        let waiting = statuses.iter().filter(|s| *s == "diagnosing").count();
        if waiting > 0 && statuses.iter().all(|s| ["diagnosing", "completed", "failed"].contains(&s.as_str()))
        {
            assert!(!statuses.iter().any(|s| s == "completed"), "nothing completes past the silent LLM");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "batches not all at the LLM: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serve.kill();
    held.abort();

    let serve = Serve::start(data.path()).await;
    for (_, id) in &uploaded {
        serve.wait_final(id).await;
    }
    assert_reports_and_fleet(&serve, &uploaded).await;
    serve.terminate();
}
