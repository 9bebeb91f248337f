//! Batch, fleet and vehicle pages over the conformance vectors, checked against the JSON
//! the API serves for the same batches.

use serde_json::{Value, json};

use super::browser::Browser;
use super::{DESKTOP, PHONE, assert_clean_console, bars, overflows, top_codes, visit};
use crate::serve::{Serve, vector_batches};
use crate::util::vectors;

/// A completed batch with partial and rejected files, and a failed batch whose only file
/// is rejected.
const DAMAGED: &str = "3fba0c8e-8f48-40dc-827b-83bc5f96cdd9";
const FAILED: &str = "48781b16-bf6b-4aa2-840c-2c4f373f2528";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_fleet_and_vehicle_pages_show_what_the_api_serves() {
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path()).await;
    let mut uploaded = Vec::new();
    for (vector_id, dir) in vector_batches() {
        uploaded.push((vector_id, serve.upload_batch(&dir).await));
    }
    for (_, id) in &uploaded {
        serve.wait_final(id).await;
    }
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    for (vector_id, id) in &uploaded {
        let (status, report) = serve.get(&format!("/batches/{id}/report")).await;
        assert_eq!(status, 200, "{vector_id}");
        visit(&browser, &serve, &format!("/batches/{id}")).await;
        assert_clean_console(&browser, vector_id).await;
        assert_eq!(
            bars(&browser, "top-codes").await,
            top_codes(&report),
            "{vector_id}: one bar per top code"
        );
        let shown =
            browser.run("return document.getElementById('batch-status').dataset.status", json!([])).await;
        assert_eq!(shown, report["status"], "{vector_id}");
        let rejected = count_files(&report, "rejected");
        let rows = browser
            .run("return document.querySelectorAll('#files tr.file-rejected').length", json!([]))
            .await;
        assert_eq!(rows, json!(rejected), "{vector_id}: rejected files marked");
        if report["diagnosis"].is_object() {
            let risk = browser.text("#diagnosis .risk .badge").await;
            assert_eq!(risk, report["diagnosis"]["risk"].as_str().unwrap(), "{vector_id}");
            let similar =
                browser.run("return document.querySelectorAll('#similar a').length", json!([])).await;
            assert_eq!(similar, json!(report["similar"].as_array().unwrap().len()), "{vector_id}");
        }
        if vector_id == DAMAGED {
            let damaged =
                browser.run("return document.querySelectorAll('#files td.damage').length", json!([])).await;
            assert!(damaged.as_u64().unwrap() > 0, "partial files show their damage");
            browser.screenshot("batch-completed").await;
        }
        if vector_id == FAILED {
            assert!(browser.text("main").await.contains("The batch failed"));
            assert!(browser.text("#files").await.contains("short header"), "the rejection's reason");
            browser.screenshot("batch-failed-rejected").await;
        }
    }

    // The fleet, whole and filtered, as the JSON fleet report has it (once the fleet
    // report, written a moment after the last batch, counts them all).
    let expected_fleet: Value =
        serde_json::from_slice(&std::fs::read(vectors().join("expected/fleet.json")).unwrap()).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let fleet = loop {
        let (_, fleet) = serve.get("/fleet/top-errors?k=10").await;
        if fleet == expected_fleet {
            break fleet;
        }
        assert!(tokio::time::Instant::now() < deadline, "fleet report: {fleet}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    visit(&browser, &serve, "/").await;
    assert_clean_console(&browser, "fleet").await;
    assert_eq!(bars(&browser, "fleet-top-codes").await, top_codes(&fleet));
    let completed = browser
        .run(
            "return document.querySelector('#status-counts [data-status=completed] strong').textContent",
            json!([]),
        )
        .await;
    let expected_completed = vector_batches().len() - count_failed(&serve, &uploaded).await;
    assert_eq!(completed, json!(expected_completed.to_string()));
    browser.screenshot("fleet").await;

    let (_, some) = serve.get(&format!("/batches/{}/report", uploaded_id(&uploaded, DAMAGED))).await;
    let vin = some["vin"].as_str().unwrap().to_owned();
    let (_, filtered) = serve.get(&format!("/fleet/top-errors?k=10&vin={vin}")).await;
    visit(&browser, &serve, &format!("/?window=all&vin={vin}")).await;
    assert_eq!(bars(&browser, "fleet-top-codes").await, top_codes(&filtered));
    let (_, recent) = serve.get("/fleet/top-errors?k=10&window=1h").await;
    visit(&browser, &serve, "/?window=1h").await;
    assert_eq!(bars(&browser, "fleet-top-codes").await, top_codes(&recent), "the window selector");

    // The vehicle: one bar per batch, linked to it.
    let (_, batches) = serve.get(&format!("/vehicles/{vin}/batches")).await;
    visit(&browser, &serve, &format!("/vehicles/{vin}")).await;
    assert_clean_console(&browser, "vehicle").await;
    let expected: Vec<(u64, String)> = batches["batches"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|b| {
            (b["error_events"].as_u64().unwrap(), format!("/batches/{}", b["batch_id"].as_str().unwrap()))
        })
        .collect();
    let shown: Vec<(u64, String)> = serde_json::from_value(
        browser
            .run(
                "return Array.from(document.querySelectorAll('#vehicle-batches-chart a'))\
                 .map(a => [Number(a.querySelector('rect').dataset.value), a.getAttribute('href')]);",
                json!([]),
            )
            .await,
    )
    .unwrap();
    assert_eq!(shown, expected);
    browser.screenshot("vehicle").await;

    // A phone's width: nothing wider than the screen.
    browser.resize(PHONE.0, PHONE.1).await;
    for (name, path) in [
        ("batch-phone", format!("/batches/{}", uploaded_id(&uploaded, DAMAGED))),
        ("fleet-phone", "/".to_owned()),
    ] {
        visit(&browser, &serve, &path).await;
        assert!(!overflows(&browser).await, "{name} scrolls sideways");
        browser.screenshot(name).await;
    }
}

fn count_files(report: &Value, status: &str) -> usize {
    report["files"].as_array().unwrap().iter().filter(|f| f["status"] == status).count()
}

fn uploaded_id<'a>(uploaded: &'a [(String, String)], vector_id: &str) -> &'a str {
    &uploaded.iter().find(|(v, _)| v == vector_id).unwrap().1
}

async fn count_failed(serve: &Serve, uploaded: &[(String, String)]) -> usize {
    let mut failed = 0;
    for (_, id) in uploaded {
        if serve.get(&format!("/batches/{id}")).await.1["status"] == "failed" {
            failed += 1;
        }
    }
    failed
}
