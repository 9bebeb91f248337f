//! `argus upload DIR --server URL [--token T]`: the client side of the two-phase upload.
//! DIR is one batch (its `*.rec` files) or a layout of many (every sub-directory with
//! `*.rec` files a batch, as `argus replay` reads it). Each batch is created, its files
//! streamed from disk, and completed; the batch ids are printed, one line per batch
//! (`DIR-NAME BATCH-ID`). Failed requests are retried with backoff; a 4xx is not.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

/// Arguments of `argus upload`.
#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// A batch directory, or a directory of batch directories.
    pub dir: PathBuf,
    /// The server, e.g. `http://127.0.0.1:8080`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// A bearer token of the vehicle role (default: `ARGUS_TOKEN`).
    #[arg(long, env = "ARGUS_TOKEN")]
    pub token: Option<String>,
    /// The batch's vehicle id and VIN, sent when the batch is created.
    #[arg(long)]
    pub vehicle_id: Option<String>,
    #[arg(long)]
    pub vin: Option<String>,
    /// Attempts per request before giving up.
    #[arg(long, default_value_t = 5)]
    pub attempts: u32,
}

pub fn run(args: UploadArgs) -> anyhow::Result<ExitCode> {
    let batches = batches_in(&args.dir)?;
    if batches.is_empty() {
        bail!("{}: no *.rec files, and no sub-directory with any", args.dir.display());
    }
    let runtime = crate::runtime::start()?;
    let client = Client { http: reqwest::Client::new(), args: &args };
    let total: u64 = batches.iter().flat_map(|(_, files)| files).map(|f| file_len(f)).sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for (name, files) in &batches {
        let id =
            runtime.block_on(client.upload_batch(files, &bar)).with_context(|| format!("batch {name}"))?;
        bar.suspend(|| println!("{name} {id}"));
    }
    bar.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

/// The batches under `dir`: itself when it holds `*.rec` files, else its sub-directories
/// that do, by name.
fn batches_in(dir: &Path) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let name = |p: &Path| p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let own = rec_files(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !own.is_empty() {
        return Ok(vec![(name(dir), own)]);
    }
    let mut batches = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let files = rec_files(&path)?;
            if !files.is_empty() {
                batches.push((name(&path), files));
            }
        }
    }
    batches.sort();
    Ok(batches)
}

fn rec_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "rec") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

struct Client<'a> {
    http: reqwest::Client,
    args: &'a UploadArgs,
}

impl Client<'_> {
    async fn upload_batch(&self, files: &[PathBuf], bar: &ProgressBar) -> anyhow::Result<String> {
        let body = json!({"vehicle_id": self.args.vehicle_id, "vin": self.args.vin});
        let created = self.send(|| self.post("/batches").json(&body)).await?;
        let id = created["batch_id"].as_str().context("the server gave no batch_id")?.to_owned();
        for file in files {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            bar.set_message(name.clone());
            let path = format!("/batches/{id}/files?name={name}");
            self.send_file(&path, file).await.with_context(|| format!("uploading {}", file.display()))?;
            bar.inc(file_len(file));
        }
        self.send(|| self.post(&format!("/batches/{id}/complete"))).await?;
        Ok(id)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.post(format!("{}/api/v1{path}", self.args.server.trim_end_matches('/')));
        match &self.args.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Streams a file from disk (opened again on every attempt, never read whole).
    async fn send_file(&self, path: &str, file: &Path) -> anyhow::Result<Value> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let opened = tokio::fs::File::open(file).await?;
            let body = reqwest::Body::from(opened);
            let request = self.post(path).header("content-type", "application/octet-stream").body(body);
            match answer(request.send().await).await {
                Ok(value) => return Ok(value),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Retry(error)) if attempt >= self.args.attempts => return Err(error),
                Err(Failure::Retry(error)) => retry_after(attempt, &error).await,
            }
        }
    }

    async fn send(&self, request: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match answer(request().send().await).await {
                Ok(value) => return Ok(value),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Retry(error)) if attempt >= self.args.attempts => return Err(error),
                Err(Failure::Retry(error)) => retry_after(attempt, &error).await,
            }
        }
    }
}

enum Failure {
    /// The request was refused for what it is (4xx): trying again cannot help.
    Final(anyhow::Error),
    /// The connection failed or the server had trouble (5xx).
    Retry(anyhow::Error),
}

async fn answer(sent: reqwest::Result<reqwest::Response>) -> Result<Value, Failure> {
    let response = sent.map_err(|e| Failure::Retry(e.into()))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let error = anyhow::anyhow!("{status}: {}", body["error"].as_str().unwrap_or("no reason given"));
    if status.is_client_error() { Err(Failure::Final(error)) } else { Err(Failure::Retry(error)) }
}

async fn retry_after(attempt: u32, error: &anyhow::Error) {
    let delay = Duration::from_millis(200) * 2u32.pow(attempt.min(6));
    tracing::warn!(%error, attempt, ?delay, "request failed, retrying");
    tokio::time::sleep(delay).await;
}
