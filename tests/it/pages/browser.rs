//! Headless Chromium through chromedriver's W3C WebDriver endpoints, with `reqwest`: the
//! few commands the page tests need. chromedriver listens on 127.0.0.1 on a free port and
//! is killed with the browser when the [`Browser`] drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::free_port;

/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    client: reqwest::Client,
}

/// A located element.
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width` × `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Self {
        let chromedriver = which("chromedriver")
            .expect("chromedriver is not installed (apt-get install chromium chromium-driver; .ci/run does)");
        let chromium = which("chromium").expect("chromium is not installed (apt-get install chromium)");
        let port = free_port();
        let driver = Command::new(chromedriver)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_owned()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser =
            Self { driver, base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ready = browser.client.get(format!("{}/status", browser.base)).send().await;
            if let Ok(response) = ready {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "chromedriver did not answer within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // Root in CI containers: Chromium's sandbox needs user namespaces it lacks.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-extensions", format!("--window-size={width},{height}")],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let session = browser.post("/session", capabilities).await;
        let id = session["sessionId"].as_str().expect("a session id").to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let body: Value = response.json().await.expect("chromedriver answers JSON");
        assert!(status.is_success(), "webdriver: {status} {body}");
        body["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    pub async fn find(&self, css: &str) -> Element {
        let found = self.post("/element", json!({ "using": "css selector", "value": css })).await;
        Element(found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_owned())
    }

    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.get(&format!("/element/{}/text", element.0)).await.as_str().unwrap_or_default().to_owned()
    }

    /// Types `text` into an element (for a file input: the paths, one per line).
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.post(&format!("/element/{}/value", element.0), json!({ "text": text })).await;
    }

    /// Empties an input.
    pub async fn clear(&self, element: &Element) {
        self.post(&format!("/element/{}/clear", element.0), json!({})).await;
    }

    pub async fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.0), json!({})).await;
    }

    /// The cookies of the current page's site, HttpOnly ones included (as WebDriver
    /// serialises them: `name`, `value`, `httpOnly`, `sameSite`, `path`, …).
    pub async fn cookies(&self) -> Vec<Value> {
        self.get("/cookie").await.as_array().cloned().unwrap_or_default()
    }

    /// Waits until `script` returns true, for at most `timeout`.
    pub async fn wait_for(&self, script: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.run(script, json!([])).await != true {
            assert!(tokio::time::Instant::now() < deadline, "still false after {timeout:?}: {script}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The browser's console messages since the last call, as `LEVEL message`.
    pub async fn console(&self) -> Vec<String> {
        let logs = self.post("/se/log", json!({ "type": "browser" })).await;
        logs.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The console's errors (and warnings) since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        self.console()
            .await
            .into_iter()
            .filter(|line| line.starts_with("SEVERE") || line.starts_with("WARNING"))
            .collect()
    }

    /// Writes a PNG of the viewport to `<screenshot dir>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let png = self.get("/screenshot").await;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).unwrap();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height })).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes Chromium; killing chromedriver alone would leave it
        // running. Drop cannot await: one plain HTTP request over a std socket.
        if let Some((host, path)) = self.base.strip_prefix("http://").and_then(|rest| rest.split_once('/')) {
            if let Ok(mut socket) = std::net::TcpStream::connect(host) {
                use std::io::{Read, Write};
                let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
                if socket.write_all(request.as_bytes()).is_ok() {
                    let _ = socket.read_to_end(&mut Vec::new());
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where the screenshots go: `<target>/tmp/pages-screenshots/` (Cargo's test temp dir).
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pages-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}
