//! A batch uploaded through the upload page: per-file progress, then the batch page,
//! which follows the batch live over its event stream to `completed` and shows the report
//! without a reload. The pipeline is held at the diagnosis by an "LLM" that never
//! answers (the batch falls back to the rules when the call times out), so that the page
//! surely lands before the batch is final.

use std::time::Duration;

use serde_json::json;

use super::browser::Browser;
use super::{DESKTOP, assert_clean_console, bars, top_codes, visit};
use crate::serve::{Serve, rec_files, vector_batches};

const LLM_TIMEOUT_SECS: u64 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_uploaded_through_the_upload_page_turns_completed_live() {
    let (llm, held) = crate::util::silent_llm().await;
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("ARGUS_LLM_BASE_URL", llm),
        ("ARGUS_LLM_MODEL", "silent".to_owned()),
        ("ARGUS_LLM_TIMEOUT_SECS", LLM_TIMEOUT_SECS.to_string()),
    ];
    let serve = Serve::start_with_env(data.path(), &env).await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    let (_, dir) = vector_batches().into_iter().find(|(_, dir)| rec_files(dir).len() > 2).unwrap();
    let files = rec_files(&dir);
    visit(&browser, &serve, "/upload").await;
    let input = browser.find("#files").await;
    // chromedriver takes canonical paths only (no `..`).
    let paths: Vec<String> = files.iter().map(|f| f.canonicalize().unwrap().display().to_string()).collect();
    browser.type_into(&input, &paths.join("\n")).await;
    let listed = browser.run("return document.querySelectorAll('#file-list li').length", json!([])).await;
    assert_eq!(listed, json!(files.len()), "one progress row per file");
    browser.screenshot("upload-chosen").await;
    browser.click(&browser.find("#upload-button").await).await;

    browser.wait_for("return location.pathname.startsWith('/batches/')", Duration::from_secs(30)).await;
    browser.wait_for("return document.readyState === 'complete'", Duration::from_secs(20)).await;
    let landed =
        browser.run("return document.getElementById('batch-status').dataset.status", json!([])).await;
    assert!(
        !["completed", "failed"].contains(&landed.as_str().unwrap()),
        "landed on a final batch: {landed}"
    );
    browser.screenshot("batch-live-before").await;
    // A mark that a reload would wipe.
    browser.run("window.stayed = true;", json!([])).await;

    let wait = Duration::from_secs(LLM_TIMEOUT_SECS + 60);
    browser.wait_for("return document.documentElement.dataset.reportShown === 'completed'", wait).await;
    assert_eq!(browser.run("return window.stayed === true", json!([])).await, true, "no reload");
    let trail: Vec<String> =
        serde_json::from_value(browser.run("return window.argusStatusTrail", json!([])).await).unwrap();
    // The stream opens at the status of that moment, which may be past the one rendered.
    let first = trail.first().map(String::as_str).unwrap_or_default();
    assert!(!["completed", "failed"].contains(&first), "the page followed a moving batch: {trail:?}");
    assert_eq!(trail.last().map(String::as_str), Some("completed"), "{trail:?}");
    let shown = browser.run("return document.getElementById('batch-status').dataset.status", json!([])).await;
    assert_eq!(shown, "completed");

    let url = browser.url().await;
    let id = url.rsplit('/').next().unwrap();
    let (_, report) = serve.get(&format!("/batches/{id}/report")).await;
    assert_eq!(bars(&browser, "top-codes").await, top_codes(&report), "the report loaded in place");
    assert_clean_console(&browser, "upload and live batch").await;
    browser.screenshot("batch-live-completed").await;
    held.abort();
}
