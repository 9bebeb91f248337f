//! A batch uploaded through the upload page, seen on its page at `uploaded` and then
//! followed live, without a reload, through the pipeline's states to `completed`, its
//! report appearing in place.
//!
//! The deployed shape holds the batch at `uploaded` for as long as the test needs, with
//! no hook in the product: `argus serve --no-pipeline` (PostgreSQL, Kafka, an object-store
//! directory) takes the upload and publishes its events, and nothing reads them until the
//! test starts `argus pipeline`, once the page shows `uploaded`. The pipeline's LLM then
//! answers only when the page has shown `diagnosing` too, so the page surely follows the
//! batch through the states between.

use std::time::Duration;

use argus_sinks::BatchState;
use serde_json::json;

use super::browser::Browser;
use super::{
    DESKTOP, assert_clean_console, bars, choose_files, plain_diagnosis, release_and_wait_for_report,
    shown_status, submit_upload, top_codes, vector_with_codes, visit, wait_for_status,
};
use crate::db::Db;
use crate::serve::{Serve, rec_files};
use crate::streaming::harness::{PipelineArgs, PipelineProcess, broker_with_topics};
use crate::util::ScriptedLlm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_uploaded_through_the_upload_page_moves_from_uploaded_to_completed_live() {
    let broker = tokio::task::spawn_blocking(|| broker_with_topics(1)).await.unwrap();
    let db = Db::postgres().await;
    let data = tempfile::tempdir().unwrap();
    let objects = data.path().join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    let serve_args: Vec<String> = [
        "--no-pipeline",
        "--database-url",
        &db.url(),
        "--object-store",
        objects.to_str().unwrap(),
        "--brokers",
        &broker.bootstrap(),
    ]
    .map(str::to_owned)
    .to_vec();
    let serve = Serve::start_with(data.path(), &serve_args, &[]).await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    visit(&browser, &serve, "/upload").await;
    choose_files(&browser, &rec_files(&vector_with_codes(3))).await;
    browser.screenshot("upload-chosen").await;
    submit_upload(&browser, None).await;
    browser.wait_for("return location.pathname.startsWith('/batches/')", Duration::from_secs(30)).await;
    browser.wait_for("return document.readyState === 'complete'", Duration::from_secs(20)).await;

    // Completed and published, read by no pipeline yet: the page shows `uploaded`.
    assert_eq!(shown_status(&browser).await, "uploaded");
    assert_eq!(browser.text("#batch-status").await, "uploaded");
    let current = browser
        .run("return document.querySelector('#lifecycle [aria-current]').dataset.step", json!([]))
        .await;
    assert_eq!(current, "uploaded");
    assert!(browser.text("main").await.contains("The report appears here when the batch is completed."));
    browser.screenshot("batch-live-uploaded").await;
    // A mark that a reload would wipe.
    browser.run("window.stayed = true;", json!([])).await;

    let llm = ScriptedLlm::start(plain_diagnosis).await;
    let pipeline_args = PipelineArgs {
        brokers: broker.bootstrap(),
        database_url: db.url(),
        object_store: objects.clone(),
        log: data.path().join("pipeline.log"),
        extra: vec!["-w".into(), "1".into()],
    };
    let pipeline = PipelineProcess::start_with_env(&pipeline_args, &llm.env());
    // The pipeline starts, joins the topic and reads the events first: as long as
    // tests/it/serve_stack.rs gives it.
    wait_for_status(&browser, "diagnosing", Duration::from_secs(90)).await;
    browser.screenshot("batch-live-diagnosing").await;
    release_and_wait_for_report(&browser, &llm).await;

    assert_eq!(browser.run("return window.stayed === true", json!([])).await, true, "no reload");
    let trail: Vec<String> =
        serde_json::from_value(browser.run("return window.argusStatusTrail", json!([])).await).unwrap();
    let chain: Vec<&str> = BatchState::CHAIN.iter().map(|s| s.as_str()).collect();
    let steps: Vec<usize> = trail
        .iter()
        .map(|s| chain.iter().position(|c| c == s).unwrap_or_else(|| panic!("{s} in {trail:?}")))
        .collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "forward through the lifecycle: {trail:?}");
    assert_eq!(trail.first().map(String::as_str), Some("uploaded"), "{trail:?}");
    assert!(trail.iter().any(|s| s == "diagnosing"), "{trail:?}");
    assert_eq!(trail.last().map(String::as_str), Some("completed"), "{trail:?}");
    assert_eq!(shown_status(&browser).await, "completed");

    let id = browser.url().await.rsplit('/').next().unwrap().to_owned();
    let (_, report) = serve.get(&format!("/batches/{id}/report")).await;
    assert_eq!(bars(&browser, "top-codes").await, top_codes(&report), "the report loaded in place");
    assert!(browser.text("#diagnosis .risk").await.contains("written by the LLM scripted"));
    assert_clean_console(&browser, "upload and live batch").await;
    browser.screenshot("batch-live-completed").await;

    drop(pipeline);
    serve.terminate();
    db.drop_it().await;
}
