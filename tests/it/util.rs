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
