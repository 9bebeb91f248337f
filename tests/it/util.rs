//! Helpers shared by the end-to-end tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `argus` binary under test.
pub fn argus() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_argus"));
    command.env("RUST_LOG", "warn");
    command
}

/// Runs `argus gen OUT <args>` (arguments split at whitespace).
pub fn generate(out: &Path, args: &str) -> Output {
    run_ok(argus().arg("gen").arg(out).args(args.split_whitespace()))
}

/// Runs a command and insists that it succeeds, showing its output otherwise.
pub fn run_ok(command: &mut Command) -> Output {
    let output = command.output().expect("the command starts");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The shared conformance vectors beside the repository.
pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/vectors")
}

/// Copies a directory tree (files and sub-directories).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file below `dir` by relative path, with its bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// A free TCP port on 127.0.0.1 (free when this returns; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The vectors' replay root in a temp dir, with the empty batch directories recreated:
/// git cannot store an empty directory, so they are missing from the shared copy.
pub fn vector_root(into: &Path) -> PathBuf {
    let root = into.join("vectors");
    copy_tree(&vectors().join("data"), &root);
    for entry in std::fs::read_dir(vectors().join("expected/batches")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let batch = name.trim_end_matches(".json");
        std::fs::create_dir_all(root.join(batch)).unwrap();
    }
    root
}

/// An "LLM" that accepts connections and never answers, so that batches wait at
/// `diagnosing`: its base URL, and the task holding the connections (abort it to let go).
pub async fn silent_llm() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            connections.push(socket);
        }
    });
    (url, held)
}

/// An "LLM" speaking the chat-completions wire format that holds every call until
/// [`ScriptedLlm::release`] (a real model takes seconds; the test chooses how many), then
/// answers with the JSON `answer` writes for the codes the prompt lists (an answer must
/// cite the batch's codes to be used).
pub struct ScriptedLlm {
    pub base_url: String,
    release: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl ScriptedLlm {
    pub async fn start(answer: fn(&[String]) -> serde_json::Value) -> Self {
        use axum::Json;
        use serde_json::{Value, json};

        let (release, released) = tokio::sync::watch::channel(false);
        let complete = move |Json(call): Json<Value>| {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|go| *go).await;
                let prompt: Value =
                    serde_json::from_str(call["messages"][1]["content"].as_str().unwrap_or("{}")).unwrap();
                let codes: Vec<String> = prompt["top_codes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["code"].as_str().map(str::to_owned))
                    .collect();
                Json(json!({
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer(&codes).to_string()}}],
                    "usage": {"total_tokens": 100},
                }))
            }
        };
        let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(complete));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base_url, release, server }
    }

    /// Lets the held calls, and every later one, have their answer.
    pub fn release(&self) {
        self.release.send_replace(true);
    }

    /// The variables that point `argus` at it: one call a batch, waited for long enough.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ARGUS_LLM_BASE_URL", self.base_url.clone()),
            ("ARGUS_LLM_MODEL", "scripted".to_owned()),
            ("ARGUS_LLM_TIMEOUT_SECS", "120".to_owned()),
            ("ARGUS_LLM_RETRIES", "0".to_owned()),
        ]
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}
