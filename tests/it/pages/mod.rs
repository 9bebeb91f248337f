//! The pages in headless Chromium (Debian's `chromium` and `chromium-driver`, driven over
//! WebDriver by [`browser`]) against `argus serve` on a temp data dir: every page renders
//! with a clean console, charts carry the JSON reports' figures, a batch uploaded through
//! the upload page turns `completed` on its page live, and the empty fleet, an unknown
//! batch, a failed batch and rejected files all render. Screenshots of each page go to
//! `$CARGO_TARGET_TMPDIR/pages-screenshots/`.

mod browser;
mod live;
mod reports;

use serde_json::{Value, json};

use crate::serve::Serve;
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
    let logged = browser.console_errors().await;
    assert!(logged.iter().all(|line| line.contains("404")), "{logged:?}");
    browser.screenshot("batch-not-found").await;

    for path in ["/batches/not-a-uuid", "/no/such/page"] {
        visit(&browser, &serve, path).await;
        assert_eq!(browser.text("h1").await, "Not found", "{path}");
    }
    // The API keeps answering JSON where no route matches.
    let (status, body) = serve.get("/nothing").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("no_route")));
}
