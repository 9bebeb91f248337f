//! Pages behind tokens: a page that reads data sends the browser to the login form; an
//! unknown token and a vehicle's are refused there with a message and no cookie; a
//! reader's lands back on the page asked for, which renders the batch and follows it
//! live over its event stream with the cookie. The upload page then uploads in that
//! session with a vehicle token (the reader's is refused: the cookie never uploads), and
//! "Log out" ends the session.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::browser::Browser;
use super::{
    DESKTOP, assert_clean_console, assert_console_only_status, bars, choose_files, plain_diagnosis,
    release_and_wait_for_report, shown_status, submit_upload, top_codes, vector_with_codes, visit,
    wait_for_status,
};
use crate::serve::{Serve, rec_files};
use crate::util::ScriptedLlm;

const VEHICLE: &str = "vehicle-token-7Qx";
const READER: &str = "reader-token-3Kd";
const ADMIN: &str = "admin-token-9Wp";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_behind_tokens_go_through_the_login_form() {
    let llm = ScriptedLlm::start(plain_diagnosis).await;
    let data = tempfile::tempdir().unwrap();
    let mut env = llm.env();
    env.push(("ARGUS_API_TOKENS", format!("vehicle:{VEHICLE},reader:{READER},admin:{ADMIN}")));
    let mut serve = Serve::start_with_env(data.path(), &env).await;
    let anonymous = std::mem::replace(&mut serve.client, bearer_client(ADMIN));

    // A batch held at the LLM, so that the page opens on a batch still moving.
    let seeded = serve.upload_batch(&vector_with_codes(1)).await;
    wait_for_api_status(&serve, &seeded, "diagnosing").await;
    let batch_url = serve.url(&format!("/batches/{seeded}"));
    assert_eq!(anonymous.get(&batch_url).send().await.unwrap().status(), 401, "the API wants a token");

    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    let wanted = format!("/batches/{seeded}");
    visit(&browser, &serve, &wanted).await;
    assert_eq!(browser.run("return location.pathname", json!([])).await, "/login");
    let next = browser.run("return new URLSearchParams(location.search).get('next')", json!([])).await;
    assert_eq!(next, json!(wanted), "the login form knows where to go back");
    assert_clean_console(&browser, "login form").await;
    browser.screenshot("login").await;

    for (token, why) in [("not-a-token", "unknown"), (VEHICLE, "a vehicle's")] {
        log_in(&browser, token).await;
        assert_eq!(browser.text("p.error").await, "That token is unknown or may not read.", "{why}");
        assert_eq!(browser.run("return location.pathname", json!([])).await, "/login", "{why}");
        assert!(login_cookie(&browser).await.is_none(), "{why} token: no cookie");
        // The refusal is a 401, which Chromium notes in the console.
        assert_console_only_status(&browser, "401").await;
    }
    browser.screenshot("login-refused").await;

    log_in(&browser, READER).await;
    assert_eq!(
        browser.run("return location.pathname", json!([])).await,
        json!(wanted),
        "back where it was going"
    );
    let cookie = login_cookie(&browser).await.expect("the login cookie");
    assert_eq!((cookie["httpOnly"].as_bool(), cookie["sameSite"].as_str()), (Some(true), Some("Strict")));
    assert_eq!(shown_status(&browser).await, "diagnosing");
    assert!(browser.text("#batch-facts").await.contains("car-17"), "the page renders the batch");
    browser.find("#uploads").await;
    browser.find("#logout").await;
    // The page's event stream reads with the cookie: released, the batch turns completed.
    release_and_wait_for_report(&browser, &llm).await;
    let (_, report) = serve.get(&format!("/batches/{seeded}/report")).await;
    assert_eq!(bars(&browser, "top-codes").await, top_codes(&report));
    assert_clean_console(&browser, "batch page, logged in").await;
    browser.screenshot("batch-logged-in").await;

    // The upload page in that session: the reader's token may not upload, a vehicle's may.
    visit(&browser, &serve, "/upload").await;
    browser.find("#logout").await;
    let files = rec_files(&vector_with_codes(2));
    choose_files(&browser, &files).await;
    submit_upload(&browser, Some(READER)).await;
    browser.wait_for("return !document.getElementById('upload-error').hidden", Duration::from_secs(20)).await;
    assert_eq!(browser.text("#upload-error").await, "this token's role may not do that");
    assert_console_only_status(&browser, "403").await;
    submit_upload(&browser, Some(VEHICLE)).await;
    browser.wait_for("return location.pathname.startsWith('/batches/')", Duration::from_secs(30)).await;
    wait_for_status(&browser, "completed", Duration::from_secs(60)).await;
    let uploaded = browser.url().await.rsplit('/').next().unwrap().to_owned();
    assert_ne!(uploaded, seeded);
    let (_, report) = serve.get(&format!("/batches/{uploaded}/report")).await;
    assert_eq!(report["files"].as_array().unwrap().len(), files.len());
    assert_eq!(bars(&browser, "top-codes").await, top_codes(&report));
    assert_clean_console(&browser, "uploaded batch, logged in").await;

    click_to_load(&browser, "#logout").await;
    assert_eq!(browser.run("return location.pathname", json!([])).await, "/login");
    assert!(login_cookie(&browser).await.is_none(), "logged out: no cookie");
    visit(&browser, &serve, &wanted).await;
    assert_eq!(browser.run("return location.pathname", json!([])).await, "/login", "logged out");
    assert_clean_console(&browser, "logged out").await;
}

/// Types `token` into the login form and submits it.
async fn log_in(browser: &Browser, token: &str) {
    let field = browser.find("#token").await;
    browser.clear(&field).await;
    browser.type_into(&field, token).await;
    click_to_load(browser, "form.stacked button[type=submit]").await;
}

/// Clicks `css` and waits until the page it leads to has loaded.
async fn click_to_load(browser: &Browser, css: &str) {
    browser.run("window.leaving = true;", json!([])).await;
    browser.click(&browser.find(css).await).await;
    let loaded = "return window.leaving === undefined && document.readyState === 'complete'";
    browser.wait_for(loaded, Duration::from_secs(20)).await;
}

/// The `argus_token` cookie, when the browser has one.
async fn login_cookie(browser: &Browser) -> Option<Value> {
    browser.cookies().await.into_iter().find(|c| c["name"] == "argus_token")
}

fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

async fn wait_for_api_status(serve: &Serve, id: &str, status: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, batch) = serve.get(&format!("/batches/{id}")).await;
        if batch["status"] == status {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id}: {batch}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
