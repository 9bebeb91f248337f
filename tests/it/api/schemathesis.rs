//! Schemathesis (`scripts/tools.sh` installs it) generates requests from `/openapi.json`
//! against a live server: none may get a 5xx.

use std::path::PathBuf;

use super::{Backend, Server};

fn st() -> PathBuf {
    let tools = std::env::var_os("ARGUS_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/argus-tools"));
    let binary = tools.join("schemathesis/bin/st");
    assert!(binary.exists(), "{} is missing: run scripts/tools.sh first", binary.display());
    binary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_no_server_error() {
    let server = Server::start(Backend::Sqlite).await;
    // A few batches in every state, so generated ids sometimes hit one.
    let _ = super::uploaded_batch(&server, "WAUZZZ8V1KA000001").await;
    let schema = server.url("/openapi.json");
    let st = st();
    // Schemathesis keeps a cache in its working directory: a temporary one, not the repository.
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(st)
            .current_dir(cwd)
            .args(["run", &schema, "--checks", "not_a_server_error", "--max-examples", "40"])
            .args(["--phases", "examples,coverage,fuzzing", "--request-timeout", "5", "--seed", "1"])
            .env("SCHEMATHESIS_TELEMETRY", "false")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await;
}
