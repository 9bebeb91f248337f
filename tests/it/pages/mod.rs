//! The pages in headless Chromium (Debian's `chromium` and `chromium-driver`, driven over
//! WebDriver by [`browser`]) against `argus serve` on a temp data dir: every page renders
//! with a clean console, charts carry the JSON reports' figures, a batch uploaded through
//! the upload page goes from `uploaded` to `completed` on its page live, pages behind
//! tokens go through the login form, an LLM's markup shows as text, and the empty fleet,
//! an unknown batch, a failed batch and rejected files all render. Screenshots of each
//! page go to `$CARGO_TARGET_TMPDIR/pages-screenshots/`.

mod browser;
mod live;
mod llm_text;
mod login;
mod reports;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::serve::{Serve, rec_files, vector_batches};
use crate::util::{ScriptedLlm, vectors};
use browser::Browser;

pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// Loads `path` of `serve` and waits for the page and its script to have run.
pub async fn visit(browser: &Browser, serve: &Serve, path: &str) {
    browser.goto(&format!("{}{path}", serve.base)).await;
    browser.wait_for("return document.readyState === 'complete'", std::time::Duration::from_secs(20)).await;
}

/// Asserts that the console holds no error or warning since the last look.
pub async fn assert_clean_console(browser: &Browser, page: &str) {
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{page}: console errors {errors:?}");
}

/// Asserts that the console's errors since the last look are only the browser's notes
/// of answers with HTTP `status` (a 404 page, a refused login or upload).
pub async fn assert_console_only_status(browser: &Browser, status: &str) {
    let logged = browser.console_errors().await;
    assert!(logged.iter().all(|line| line.contains(status)), "{logged:?}");
}

/// The status the batch page shows (`data-status` of `#batch-status`).
pub async fn shown_status(browser: &Browser) -> String {
    let shown = browser.run("return document.getElementById('batch-status').dataset.status", json!([])).await;
    shown.as_str().unwrap_or_default().to_owned()
}

/// Waits until the batch page shows `status`.
pub async fn wait_for_status(browser: &Browser, status: &str, timeout: Duration) {
    let script = format!("return document.getElementById('batch-status')?.dataset.status === '{status}'");
    browser.wait_for(&script, timeout).await;
}

/// Lets `llm` answer, and waits until the batch page, following its batch, has loaded
/// the completed report in place.
pub async fn release_and_wait_for_report(browser: &Browser, llm: &ScriptedLlm) {
    llm.release();
    let shown = "return document.documentElement.dataset.reportShown === 'completed'";
    browser.wait_for(shown, Duration::from_secs(60)).await;
}

/// On the upload page: chooses `files` (each gets its progress row).
pub async fn choose_files(browser: &Browser, files: &[PathBuf]) {
    let input = browser.find("#files").await;
    // chromedriver takes canonical paths only (no `..`).
    let paths: Vec<String> = files.iter().map(|f| f.canonicalize().unwrap().display().to_string()).collect();
    browser.type_into(&input, &paths.join("\n")).await;
    let listed = browser.run("return document.querySelectorAll('#file-list li').length", json!([])).await;
    assert_eq!(listed, json!(files.len()), "one progress row per file");
}

/// On the upload page: types `token` into the vehicle token field (when given, after
/// emptying it) and presses Upload.
pub async fn submit_upload(browser: &Browser, token: Option<&str>) {
    if let Some(token) = token {
        let field = browser.find("#upload-token").await;
        browser.clear(&field).await;
        browser.type_into(&field, token).await;
    }
    browser.click(&browser.find("#upload-button").await).await;
}

/// The directory of a vector batch of at least `files` rec files whose report has top
/// codes (so that its diagnosis asks the LLM).
pub fn vector_with_codes(files: usize) -> PathBuf {
    let has_codes = |id: &str| {
        let path = vectors().join(format!("expected/batches/{id}.json"));
        let report: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        !report["top_errors"].as_array().unwrap().is_empty()
    };
    let (_, dir) = vector_batches()
        .into_iter()
        .find(|(id, dir)| rec_files(dir).len() >= files && has_codes(id))
        .expect("a vector batch with codes");
    dir
}

/// An LLM's plain answer citing the batch's first code.
pub fn plain_diagnosis(codes: &[String]) -> Value {
    json!({
        "summary": "Misfires dominate this batch.",
        "hypotheses": [{"cause": "A failing ignition coil", "confidence": 0.6, "codes": [codes[0]]}],
        "recommendations": [{"action": "Swap the coils and recheck", "codes": [codes[0]]}],
    })
}

/// `(label, value)` of every bar of the chart `#id`.
pub async fn bars(browser: &Browser, id: &str) -> Vec<(String, u64)> {
    let script = "return Array.from(document.querySelectorAll('#' + arguments[0] + ' rect.bar'))\
                  .map(r => [r.dataset.label, Number(r.dataset.value)]);";
    let found = browser.run(script, json!([id])).await;
    serde_json::from_value(found).unwrap()
}

/// `(code, count)` of a report's `top_errors`.
pub fn top_codes(report: &Value) -> Vec<(String, u64)> {
    report["top_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_str().unwrap().to_owned(), e["count"].as_u64().unwrap()))
        .collect()
}

/// Whether the page is wider than the window (a phone would scroll sideways).
pub async fn overflows(browser: &Browser) -> bool {
    browser.run("return document.documentElement.scrollWidth > window.innerWidth + 1;", json!([])).await
        == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_fleet_an_unknown_batch_and_an_unknown_vehicle_render() {
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path()).await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    visit(&browser, &serve, "/").await;
    assert!(browser.text("#live").await.contains("No batches yet"));
    assert_clean_console(&browser, "empty fleet").await;
    browser.screenshot("fleet-empty").await;

    visit(&browser, &serve, "/upload").await;
    browser.find("#files").await;
    assert_clean_console(&browser, "upload").await;
    browser.screenshot("upload").await;

    visit(&browser, &serve, "/vehicles/WVWZZZ1KZ8W000001").await;
    assert!(browser.text("main").await.contains("No batches from this vehicle"));
    assert_clean_console(&browser, "unknown vehicle").await;

    let missing = uuid::Uuid::new_v4();
    let response = serve
        .client
        .get(format!("{}/batches/{missing}", serve.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    visit(&browser, &serve, &format!("/batches/{missing}")).await;
    assert_eq!(browser.text("h1").await, "Not found");
    assert!(browser.text("main").await.contains(&format!("There is no batch {missing}")));
    // The document's own 404 is the one message Chromium logs.
    assert_console_only_status(&browser, "404").await;
    browser.screenshot("batch-not-found").await;

    for path in ["/batches/not-a-uuid", "/no/such/page"] {
        visit(&browser, &serve, path).await;
        assert_eq!(browser.text("h1").await, "Not found", "{path}");
    }
    // The API keeps answering JSON where no route matches.
    let (status, body) = serve.get("/nothing").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("no_route")));
}
