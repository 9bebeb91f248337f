//! A real S3-compatible server (moto) on 127.0.0.1 for the tests, started per test and
//! stopped on drop. `scripts/tools.sh` installs it (CI runs it first).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::util::free_port;

/// A running moto server.
pub struct S3Server {
    child: Child,
    pub port: u16,
}

fn moto_server() -> PathBuf {
    let tools = std::env::var_os("ARGUS_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/argus-tools"));
    let binary = tools.join("moto/bin/moto_server");
    assert!(binary.exists(), "{} is missing: run scripts/tools.sh first", binary.display());
    binary
}

impl S3Server {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.http("GET", "/").is_err() {
            assert!(Instant::now() < deadline, "moto did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A bare HTTP request (moto accepts unsigned requests): enough to create a bucket.
    pub fn http(&self, method: &str, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    pub fn create_bucket(&self, bucket: &str) {
        let answer = self.http("PUT", &format!("/{bucket}")).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "creating bucket {bucket}: {answer}");
    }

    /// The environment an `argus` process needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    pub fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        let store = AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_region("us-east-1")
            .build()
            .unwrap();
        Arc::new(store)
    }

    /// Uploads every file below `dir` under `prefix`.
    pub fn upload_tree(&self, bucket: &str, dir: &Path, prefix: &str) -> usize {
        let store = self.store(bucket);
        let files = crate::util::read_tree(dir);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            for (name, bytes) in &files {
                let path = ObjectPath::from(format!("{prefix}/{name}"));
                store.put(&path, PutPayload::from(bytes.clone())).await.unwrap();
            }
        });
        files.len()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
